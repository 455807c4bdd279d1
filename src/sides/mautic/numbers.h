// Numbers in Mautic's answers and deliveries: ids and counts are integers, or (PHP's way with big
// numbers, and some serialisers') their digits. Internal to src/sides/mautic/.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "concord/parse.h"

namespace concord::mautic {

// The integer `v` holds, as a number or as digits; nullopt for anything else (null too), or one
// out of range.
inline std::optional<std::int64_t> integer_of(const nlohmann::json* v) {
  if (v == nullptr) return std::nullopt;
  // nlohmann keeps large positive integers unsigned: one past INT64_MAX must not wrap.
  if (v->is_number_unsigned()) {
    const std::uint64_t u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<std::int64_t>();
  if (v->is_string()) {
    if (Result<std::int64_t> n = parse_int64(v->get<std::string>()); n) return *n;
  }
  return std::nullopt;
}

}  // namespace concord::mautic
