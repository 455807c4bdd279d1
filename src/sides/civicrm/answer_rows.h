// An APIv4 answer's rows read with simdjson's DOM API, for the group read's hot path: the history
// pages and their contacts' emails. nlohmann::json's parse, and its lookups in each row, were most
// of concord's own CPU in a full read of a large group.
//
// The accessors read a row of any shape without failing: a missing key or a value of another type
// reads as empty, 0 or false, as the nlohmann readers beside them in client.cpp do.
//
// Thread-safety: an AnswerRows is used by one thread at a time.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/status.h"

namespace concord::civicrm {

// One row of an answer's `values`: the views point into the AnswerRows that made it.
class Row {
 public:
  explicit Row(simdjson::dom::object o) : o_(o) {}
  // A string value ("" when absent or not a string).
  std::string_view str(std::string_view key) const;
  // An id: an integer, or a string of one (0 otherwise).
  std::int64_t id(std::string_view key) const;
  // CiviCRM's booleans: true, a non-zero number, a string other than "" and "0".
  bool truthy(std::string_view key) const;
  // on_hold: 0, 1 or 2, as a number, a string or a boolean.
  int hold(std::string_view key) const;
  // How many objects an array value holds (a chained call's rows); 0 when it is not an array.
  std::size_t rows(std::string_view key) const;
  // A contact field's value as text: strings as they are, numbers in JSON's notation, booleans as
  // "1" / "0", null or absent as "", anything else as its JSON.
  std::string text(std::string_view key) const;

 private:
  bool find(std::string_view key, simdjson::dom::element* out) const;
  simdjson::dom::object o_;
};

class AnswerRows {
 public:
  // Parses an answer that must be an APIv4 result: an object with a `values` array, nested no
  // deeper than `max_depth`. Otherwise kUnavailable naming `what`.
  Status parse(std::string_view body, const std::string& what, std::size_t max_depth);

  // countMatched, else `count`; -1 when neither is a count.
  std::int64_t count_matched() const;
  std::size_t size() const { return values_.size(); }

  // Calls fn(Row) for each row that is an object, in order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (simdjson::dom::element e : values_) {
      simdjson::dom::object o;
      if (e.get_object().get(o) == simdjson::SUCCESS) fn(Row(o));
    }
  }

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::object answer_;
  simdjson::dom::array values_;
};

}  // namespace concord::civicrm
