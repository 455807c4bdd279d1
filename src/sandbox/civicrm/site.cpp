#include "sandbox/civicrm/site.h"

#include "net/ascii.h"

namespace concord::sandbox {

std::string_view rtrim_spaces(std::string_view s) {
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

std::int64_t email_key(std::string_view email) {
  std::string_view s = rtrim_spaces(email);
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(http::ascii::lower(c));
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(h);
}

}  // namespace concord::sandbox
