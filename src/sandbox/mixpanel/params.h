// The parameters of one Query API request. The spec sends them as a form body; real clients also
// put them in the query string (mixpanel-utils, on GET) or in a JSON body (grouparoo, Airbyte), so
// the three are merged: the query string first, then the body's fields over it.
//
// A value from the query string or a form is a string; one from a JSON body may be any JSON value
// (Airbyte sends filter_by_cohort as a JSON string, grouparoo distinct_ids as an array), so the
// typed readers below accept both spellings.
//
// Thread-safety: a Params is a value; the functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/status.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mixpanel {

class Params {
 public:
  // Merges the query string and the body. A body is read as a form when its Content-Type says so,
  // as JSON when it says application/json, and otherwise by its first character ('{': JSON).
  // Returns kInvalid (the API's error text) for a JSON body that is not an object.
  static Result<Params> read(const http::Request& request, std::string_view query);

  // The value of `name`, or null when absent.
  const ojson* find(std::string_view name) const;

  // An integer: digits in a string, or a JSON integer. nullopt when absent; kInvalid naming the
  // parameter otherwise.
  Result<std::optional<std::int64_t>> integer(std::string_view name) const;
  // A boolean: true/false (any case), 1/0, or a JSON boolean.
  Result<std::optional<bool>> boolean(std::string_view name) const;
  // A JSON value given as JSON text in a string (the spec's form), or as the value itself in a
  // JSON body.
  Result<std::optional<ojson>> json_value(std::string_view name) const;
  // A string (a JSON body's string, or a form's text).
  Result<std::optional<std::string>> text(std::string_view name) const;

 private:
  std::map<std::string, ojson, std::less<>> values_;
};

}  // namespace concord::sandbox::mixpanel
