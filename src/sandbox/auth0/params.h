// A Management API request's query parameters, checked as the API's schema validator checks them:
// unknown parameters, integers with their bounds, booleans and enums, each problem answered as
// 400 invalid_query_string "Query validation error: '…' on property <name> (<description>)."
// (errors.h). The first problem is kept; later checks do nothing once there is one.
//
// Thread-safety: a QueryParams is used by one thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "sandbox/http_helpers.h"

namespace concord::sandbox::auth0 {

// A parameter the endpoint takes, with the description the API's messages quote.
struct ParamSpec {
  std::string_view name;
  std::string_view description;
};

class QueryParams {
 public:
  // `query`: the target's query string, without '?'. `specs`: the endpoint's parameters.
  QueryParams(std::string_view query, std::initializer_list<ParamSpec> specs);

  // The first problem, as the API answers it; nullopt while there is none.
  const std::optional<http::Reply>& error() const { return error_; }

  bool has(std::string_view name) const;
  // The last value given (as node's query parser keeps it for a scalar), "" when absent.
  std::string_view get(std::string_view name) const;
  // Every value given, in order (repeatable parameters such as `strategy`).
  std::vector<std::string> all(std::string_view name) const;

  // An integer in [min, max]: nullopt when absent or wrong (then error() says why).
  std::optional<std::int64_t> integer(std::string_view name, std::int64_t min, std::int64_t max);
  // "true" or "false": nullopt when absent or wrong.
  std::optional<bool> boolean(std::string_view name);
  // One of `values`: nullopt when absent or wrong.
  std::optional<std::string> one_of(std::string_view name,
                                    std::initializer_list<std::string_view> values);
  // Sets the error for `name` with this detail (for the endpoint's own checks).
  void fail(std::string_view name, std::string_view detail);

 private:
  std::string_view description(std::string_view name) const;

  Pairs pairs_;
  std::vector<ParamSpec> specs_;
  std::optional<http::Reply> error_;
};

}  // namespace concord::sandbox::auth0
