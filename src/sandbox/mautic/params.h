// The parameters of one Mautic API request, as PHP reads them: the query string and the body (a
// form, or JSON: FOSRest's body listener is on), merged, the body's over the query's. Names with
// brackets nest as in PHP: "where[0][col]=id" is {"where":{"0":{"col":"id"}}} and
// "ids[]=1&ids[]=2" is {"ids":["1","2"]}; so a PHP array reaches the readers below as a JSON
// object (from a query or form) or a JSON array (from a JSON body), and they accept both.
//
// Thread-safety: a Params is a value; the functions are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/status.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mautic {

// "a=1&b[x]=2&c[]=3" as PHP's parse_str() reads it.
ojson php_query(std::string_view query);

// The elements of a PHP array (a JSON array, or an object's values in order); a scalar is one
// element, null none.
std::vector<ojson> php_elements(const ojson& v);

// The text of a scalar (a string as is, a number or boolean as JSON writes it); "" for null, an
// array or an object.
std::string scalar_text(const ojson& v);
// scalar_text() of obj[key]; "" when obj is not an object or has no such key.
std::string member_text(const ojson& obj, std::string_view key);

// Whether a PHP value is truthy: not null, false, 0, "", "0", or an empty array.
bool php_truthy(const ojson& v);

class Params {
 public:
  // Returns kInvalid for a body that is neither a form nor a JSON object.
  static Result<Params> read(const http::Request& request, std::string_view query);

  // Every parameter, as an object.
  const ojson& all() const { return values_; }
  // The value of `name`, or null when absent.
  const ojson* find(std::string_view name) const;
  // A scalar as text ("" for an absent one); kInvalid naming it when it is an array.
  Result<std::string> text(std::string_view name) const;
  // An integer: a JSON integer or a string of digits. nullopt when absent or ""; kInvalid naming
  // the parameter otherwise.
  Result<std::optional<std::int64_t>> integer(std::string_view name) const;
  // Whether the parameter is given and truthy.
  bool flag(std::string_view name) const;

 private:
  ojson values_ = ojson::object();
};

}  // namespace concord::sandbox::mautic
