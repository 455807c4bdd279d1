#include "concord/status.h"

namespace concord {

std::string_view code_name(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalid:
      return "invalid";
    case Status::Code::kNotFound:
      return "not found";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kFailedPrecondition:
      return "failed precondition";
    case Status::Code::kIoError:
      return "I/O error";
    case Status::Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string out(code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

}  // namespace concord
