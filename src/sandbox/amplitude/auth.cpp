#include "sandbox/amplitude/auth.h"

#include "net/ascii.h"
#include "sandbox/text.h"

namespace concord::sandbox::amplitude {

bool base64_decode(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  int buf = 0, bits = 0;
  std::size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    int v = val(in[i]);
    if (v < 0) return false;
    buf = ((buf << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return false;
  }
  return true;
}

std::optional<ApiError> check_basic_auth(std::string_view authorization, std::string_view api_key,
                                         std::string_view secret_key) {
  std::string_view a = trim_view(authorization);
  const auto sp = a.find(' ');
  std::string decoded;
  if (sp == std::string_view::npos || !http::ascii::iequals(a.substr(0, sp), "basic") ||
      !base64_decode(trim_view(a.substr(sp + 1)), &decoded) ||
      decoded.find(':') == std::string::npos) {
    return ApiError{401, "Missing or malformed Basic authorization (api_key:secret_key)"};
  }
  const auto colon = decoded.find(':');
  if (std::string_view(decoded).substr(0, colon) != api_key ||
      std::string_view(decoded).substr(colon + 1) != secret_key) {
    return ApiError{403, "Invalid API/Secret Key combination"};
  }
  return std::nullopt;
}

}  // namespace concord::sandbox::amplitude
