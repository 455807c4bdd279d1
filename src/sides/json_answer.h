// Reading an API's JSON answer without exceptions and without deep recursion, for every side's
// client (src/sides/*/).
//
// The APIs' answers are a few levels deep. One nested deeper is not an answer, and is refused as
// it is parsed: copying or printing a value recurses once a level, so a value nested some ten
// thousand levels deep (20 KB of brackets) would overflow the stack.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace concord::sides {

inline constexpr int kMaxAnswerDepth = 64;

// Parses an answer. Discarded when it is not JSON, or (with *too_deep set, when given) when it
// is nested deeper than kMaxAnswerDepth: nothing that deep is built.
inline nlohmann::json parse_answer(std::string_view body, bool* too_deep = nullptr) {
  bool deep = false;
  nlohmann::json j = nlohmann::json::parse(
      body,
      [&deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxAnswerDepth) deep = true;
        return !deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep != nullptr) *too_deep = deep;
  return deep ? nlohmann::json(nlohmann::json::value_t::discarded) : j;
}

}  // namespace concord::sides
