#include "concord/refusal.h"

#include "concord/parse.h"
#include "concord/record.h"

namespace concord {

std::string encode_refusal(const StoredRefusal& r) {
  std::string out;
  out.reserve(10 + r.message.size());
  out += static_cast<char>(kFormatVersion);
  out += static_cast<char>(r.kind);
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>((r.run_id >> shift) & 0xff);
  out += r.message;
  return out;
}

namespace {

// "<class>: run <N>: <message>", as stores before the binary form hold it.
Result<StoredRefusal> decode_legacy(std::string_view v) {
  StoredRefusal r;
  const std::size_t colon = v.find(": ");
  const std::string_view cls = v.substr(0, colon);
  if (cls == "invalid-email") {
    r.kind = Refusal::kInvalidAddress;
  } else if (cls == "forgotten") {
    r.kind = Refusal::kForgotten;
  } else {
    return Status::corruption("a stored refusal has an unknown class");
  }
  if (colon == std::string_view::npos) return r;
  std::string_view rest = v.substr(colon + 2);
  if (rest.starts_with("run ")) {
    const std::size_t end = rest.find(": ");
    if (Result<std::int64_t> id = parse_int64(rest.substr(4, end - 4)); id && *id > 0) {
      r.run_id = static_cast<std::uint64_t>(*id);
    }
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
  }
  r.message.assign(rest);
  return r;
}

}  // namespace

Result<StoredRefusal> decode_refusal(std::string_view v) {
  if (v.empty()) return Status::corruption("a stored refusal is empty");
  if (static_cast<std::uint8_t>(v[0]) != kFormatVersion) return decode_legacy(v);
  if (v.size() < 10) return Status::corruption("a stored refusal is cut short");
  const auto kind = static_cast<std::uint8_t>(v[1]);
  if (kind == 0 || kind > kRefusalMax) {
    return Status::corruption("a stored refusal has an unknown kind");
  }
  StoredRefusal r;
  r.kind = static_cast<Refusal>(kind);
  for (int i = 0; i < 8; ++i)
    r.run_id = (r.run_id << 8) | static_cast<std::uint8_t>(v[2 + i]);
  r.message.assign(v.substr(10));
  return r;
}

}  // namespace concord
