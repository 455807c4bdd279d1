// Checked parsers for numbers read from outside (stored meta values, query strings, API fields).
//
// One parser per kind of input, used everywhere, so that a number is never read three ways (an
// unchecked strtoll turns "abc" into 0; std::stoll throws). Each returns an error value naming
// what it could not read; none throws.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "concord/status.h"

namespace concord {

// A decimal integer: optional '-', then digits only (no spaces, no '+', no trailing text).
// kInvalid for anything else or a value out of range.
Result<std::int64_t> parse_int64(std::string_view text);
// A decimal integer of digits only. kInvalid for anything else or a value out of range.
Result<std::uint64_t> parse_uint64(std::string_view text);

}  // namespace concord
