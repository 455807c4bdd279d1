#include "sandbox/auth0/params.h"

#include "sandbox/auth0/errors.h"
#include "sandbox/text.h"

namespace concord::sandbox::auth0 {

QueryParams::QueryParams(std::string_view query, std::initializer_list<ParamSpec> specs)
    : pairs_(http::parse_query(query)), specs_(specs) {
  // The schema does not allow other properties: a client sending a parameter the endpoint does
  // not take (a typo, a parameter of another endpoint) is told so rather than silently ignored.
  for (const auto& [name, value] : pairs_) {
    bool known = false;
    for (const ParamSpec& s : specs_)
      known = known || s.name == name;
    if (!known) {
      error_ = api_error(
          400, "Query validation error: 'Additional properties not allowed: " + name + "'.",
          "invalid_query_string");
      return;
    }
  }
}

std::string_view QueryParams::description(std::string_view name) const {
  for (const ParamSpec& s : specs_) {
    if (s.name == name) return s.description;
  }
  return "";
}

bool QueryParams::has(std::string_view name) const {
  bool found = false;
  pair_value(pairs_, name, &found);
  return found;
}

std::string_view QueryParams::get(std::string_view name) const {
  return pair_value(pairs_, name);
}

std::vector<std::string> QueryParams::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : pairs_) {
    if (k == name) out.push_back(v);
  }
  return out;
}

void QueryParams::fail(std::string_view name, std::string_view detail) {
  if (!error_) error_ = query_error(detail, name, description(name));
}

std::optional<std::int64_t> QueryParams::integer(std::string_view name, std::int64_t min,
                                                 std::int64_t max) {
  if (error_ || !has(name)) return std::nullopt;
  auto n = parse_int64(get(name));
  if (!n) {
    fail(name, "Expected type integer but found type string");
    return std::nullopt;
  }
  if (*n < min) {
    fail(name, "Value " + std::to_string(*n) + " is less than minimum " + std::to_string(min));
    return std::nullopt;
  }
  if (*n > max) {
    fail(name, "Value " + std::to_string(*n) + " is greater than maximum " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> QueryParams::boolean(std::string_view name) {
  if (error_ || !has(name)) return std::nullopt;
  std::string_view v = get(name);
  if (v == "true") return true;
  if (v == "false") return false;
  fail(name, "Expected type boolean but found type string");
  return std::nullopt;
}

std::optional<std::string> QueryParams::one_of(std::string_view name,
                                               std::initializer_list<std::string_view> values) {
  if (error_ || !has(name)) return std::nullopt;
  std::string_view v = get(name);
  for (std::string_view allowed : values) {
    if (v == allowed) return std::string(v);
  }
  fail(name, "No enum match for: " + std::string(v));
  return std::nullopt;
}

}  // namespace concord::sandbox::auth0
