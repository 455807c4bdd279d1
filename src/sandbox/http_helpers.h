// Request parsing and plain answers shared by the sandbox's parts and its router: how a target
// splits into path, segments and query, and the answers of the admin routes that are not a
// part's own (in the Mailchimp part's problem style, which the admin routes of both parts use).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/http.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox {

// Name-value pairs, as http::parse_query gives them.
using Pairs = std::vector<std::pair<std::string, std::string>>;

// A request target split at the first '?'.
struct Target {
  std::string_view path;
  std::string_view query;  // without the '?'
};
Target split_target(std::string_view target);

// The non-empty segments of a path, URL-decoded (a segment that does not decode is kept as
// written): "/3.0/lists/a%20b" gives {"3.0", "lists", "a b"}.
std::vector<std::string> path_segments(std::string_view path);

// Whether a path is an admin route: "/_sandbox" or below it.
bool is_admin_path(std::string_view path);

// The value of the last pair named `name` ("" when none), as PHP's $_GET and $_POST keep the last
// one. *found (when given) says whether there was one.
std::string_view pair_value(const Pairs& pairs, std::string_view name, bool* found = nullptr);

// Whether a body is empty or white space only (a reset to the empty state).
bool is_blank(std::string_view body);

// An answer with this status, body and Content-Type.
http::Reply plain_reply(int status, std::string body, std::string_view content_type);
// An admin route's JSON answer.
http::Reply admin_json(int status, const ojson& body);
// An admin route's problem answer: {"title","status","detail"} as application/problem+json.
http::Reply admin_problem(int status, const std::string& title, const std::string& detail);
// The answer of an admin route asked from another machine.
http::Reply admin_forbidden();

}  // namespace concord::sandbox
