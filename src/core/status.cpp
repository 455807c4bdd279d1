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
    case Status::Code::kPermissionDenied:
      return "permission denied";
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

std::string_view origin_name(Origin origin) {
  switch (origin) {
    case Origin::kMailchimp:
      return "mailchimp";
    case Origin::kCivicrm:
      return "civicrm";
    case Origin::kStore:
      return "store";
    case Origin::kConfig:
      return "config";
    case Origin::kAuth0:
      return "auth0";
    case Origin::kMixpanel:
      return "mixpanel";
    case Origin::kAmplitude:
      return "amplitude";
    case Origin::kMautic:
      return "mautic";
    case Origin::kNone:
      break;
  }
  return "";
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  Status s(code_, std::move(msg));
  s.origin_ = origin_;
  return s;
}

Status Status::with_origin(Origin origin) const {
  if (is_ok() || origin_ != Origin::kNone) return *this;
  Status s = *this;
  s.origin_ = origin;
  return s;
}

}  // namespace concord
