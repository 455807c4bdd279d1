#include "concord/parse.h"

#include <charconv>
#include <string>

namespace concord {
namespace {

template <typename T>
Result<T> parse_integer(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    std::string shown(text.substr(0, 32));
    if (text.size() > 32) shown += "…";
    return Status::invalid(ec == std::errc::result_out_of_range
                               ? "\"" + shown + "\" is out of range"
                               : "\"" + shown + "\" is not a whole number");
  }
  return value;
}

}  // namespace

Result<std::int64_t> parse_int64(std::string_view text) {
  return parse_integer<std::int64_t>(text);
}

Result<std::uint64_t> parse_uint64(std::string_view text) {
  return parse_integer<std::uint64_t>(text);
}

}  // namespace concord
