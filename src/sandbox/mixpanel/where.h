// The `where` of /engage: a Mixpanel segmentation expression over a profile's properties, e.g.
// `properties["$last_seen"] >= "2024-05-01T00:00:00"`. The sandbox evaluates a subset:
//
//   expr    := and ("or" and)*
//   and     := unary ("and" unary)*
//   unary   := "not" unary | compare
//   compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
//   operand := "(" expr ")" | "defined" "(" property ")" | property
//            | string | number | "true" | "false" | "null"
//   property := "properties" "[" string "]"
//
// Anything else (other functions, `in`, arithmetic) is refused with the position, never guessed.
// A property the profile lacks is undefined: it equals nothing, so `!=` holds for it and every
// other comparison fails. Numbers compare as numbers, strings as byte strings; values of different
// types are never ordered.
//
// Thread-safety: a parsed Where is immutable and may be shared.
#pragma once

#include <memory>
#include <string_view>

#include "concord/status.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mixpanel {

class Where {
 public:
  // Parses `text`. Returns kInvalid saying what is wrong and where ("… at offset 12").
  static Result<Where> parse(std::string_view text);

  // Whether a profile with these $properties (an object) is selected.
  bool matches(const ojson& properties) const;

  struct Node;

 private:
  explicit Where(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;
};

}  // namespace concord::sandbox::mixpanel
