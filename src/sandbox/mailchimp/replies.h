// How the Mailchimp part reads a request and writes its answers (docs/sandbox.md "Conventions"):
// the request context, problem documents (application/problem+json, with the live API's titles
// and details), success answers with their Link headers, and the `fields` selection.
//
// Thread-safety: plain data and pure functions (new_request_id() is thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "sandbox/http_helpers.h"
#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/fields.h"

namespace concord::sandbox {

using Headers = std::vector<http::Header>;

inline constexpr std::string_view kSchemaInvalidDetail =
    "The resource submitted could not be validated. For field-specific details, see the 'errors' "
    "array.";

// A random UUID for X-Request-Id (and a problem's `instance`).
std::string new_request_id();

// "true", "1" and "yes" (any case) are true; anything else is false.
bool parse_bool_param(std::string_view v);

// One request, as the handlers see it.
struct Ctx {
  const http::Request* req = nullptr;
  std::string request_id;
  std::string method;             // after X-HTTP-Method-Override
  std::string path;               // raw, without the query
  std::vector<std::string> segs;  // decoded path segments
  Pairs query;
  std::string dc;  // of the account key, for links

  // The first query parameter of this name ("" when none).
  std::string_view q(std::string_view name) const;
  bool has(std::string_view name) const;
  std::string base() const { return "https://" + dc + ".api.mailchimp.com/3.0"; }
  std::string schema() const { return "https://" + dc + ".api.mailchimp.com/schema/3.0"; }
  // The body as JSON: {} when empty; a discarded value when it is not JSON.
  json body() const;
  // `count` (default `def`, at most 1000) and `offset` (default 0).
  std::int64_t count(std::int64_t def = 10) const;
  std::int64_t offset() const;
};

// An error answer.
struct Problem {
  int status = 400;
  std::string title;
  std::string detail;
  bool with_type = true;  // the live API leaves `type` out of a few problems
  ojson errors;           // null or an array of {field, message}
  Headers headers;
};

Problem not_found();
Problem invalid_resource(std::string detail, ojson errors = nullptr);
Problem schema_problem(ojson errors);
Problem member_exists(std::string_view email);
Problem compliance_state(std::string_view email);
Problem forgotten_email(std::string_view email);
Problem method_not_allowed(std::string allow);
Problem json_parse_problem();
Problem too_many_requests(int limit);
// {field, message} for Problem::errors.
ojson field_error(std::string_view field, std::string_view message);
// "Schema describes <expected>, <type of v> found instead" for `field`.
ojson type_error(std::string_view field, std::string_view expected, const json& v);
// "This value should not be blank." for `field`: a name or title of only white space (the
// sandbox's wording; the reference records none).
ojson blank_error(std::string_view field);
// "Required fields were not provided: a, b" (field "").
ojson missing_fields_error(const std::vector<std::string>& names);

// A link of a resource's _links.
ojson link(std::string rel, std::string href, std::string method, std::string target = {},
           std::string schema = {});

// An answer with the conventions' headers (Content-Type, X-Request-Id, Vary).
http::Reply reply(const Ctx& c, int status, std::string body, std::string_view content_type,
                  const Headers& extra = {});
// 200 with a JSON body, and a Link to its schema when `schema_path` is given.
http::Reply ok_json(const Ctx& c, std::string body, std::string_view schema_path = {});
// 200 with `v` after the request's `fields` and `exclude_fields`.
http::Reply ojson_reply(const Ctx& c, ojson v, std::string_view schema_path = {});
// 204 with an empty body.
http::Reply no_content(const Ctx& c);
http::Reply problem_reply(const Ctx& c, const Problem& p);

// The request's `fields` and `exclude_fields` as a selection over the two trees (which must
// outlive it).
Sel root_sel(const Ctx& c, FieldTree* inc, FieldTree* exc);

}  // namespace concord::sandbox
