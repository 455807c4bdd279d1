// Small text readers and writers shared by the sandbox's parts: the one checked integer parser
// the request parameters, fault settings and seeds use, trimming, and hex.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace concord::sandbox {

// "42", "-7", "+3" as a number; nullopt for anything else (spaces, fractions, more than 19
// characters).
std::optional<std::int64_t> parse_int64(std::string_view v);

// `s` without leading and trailing white space (std::isspace).
std::string_view trim_view(std::string_view s);
inline std::string trim(std::string_view s) {
  return std::string(trim_view(s));
}

// Appends the lower-case hex of n bytes.
void append_hex(std::string* out, const std::uint8_t* bytes, std::size_t n);
// Parses 32 hex digits (either case) into 16 bytes. Returns false (and leaves *out undefined)
// otherwise.
bool parse_hex16(std::string_view hex, std::array<std::uint8_t, 16>* out);

}  // namespace concord::sandbox
