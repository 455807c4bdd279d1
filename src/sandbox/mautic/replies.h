// The Mautic API's answers other than entities: its error shape
// {"errors":[{"code","message","details","type"}]} with the reference's messages (§3.3), the
// shape the authentication layer rewrites OAuth errors into (§3.2), the rate limit's 429 (§3.7),
// the token endpoint's OAuth2 errors, and what an injected fault's status looks like.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mautic {

inline constexpr std::string_view kNotFound = "Item was not found.";
inline constexpr std::string_view kContactNotFound = "Contact not found.";
inline constexpr std::string_view kBadRequest = "This is a bad request.";
inline constexpr std::string_view kAccessDenied =
    "You do not have access to the requested area/action.";

// A JSON answer, written as PHP writes it (entity_json.h php_text).
http::Reply json_reply(int status, const ojson& body);

// {"errors":[{"code":status,"message":…,"details":…,"type":…}]}.
http::Reply api_error(int status, std::string_view message, const ojson& details = ojson::array(),
                      const ojson& type = nullptr);
// 404 "Item was not found." (or another message).
http::Reply not_found(std::string_view message = kNotFound);
// GET of one entity: 200 {"<key>": to_json(entity)}, or 404 when `all` has no such id.
template <typename Map, typename ToJson>
http::Reply entity_answer(const Map& all, std::int64_t id, std::string_view key, ToJson to_json) {
  auto it = all.find(id);
  if (it == all.end()) return not_found();
  ojson body = ojson::object();
  body[std::string(key)] = to_json(it->second);
  return json_reply(200, body);
}

// 400 "This is a bad request.", with `detail` in details when given.
http::Reply bad_request(std::string_view detail = "");
// A form error: 400 with message "<field>: <message>" and details {"<field>":["<message>"]}.
http::Reply form_error(std::string_view field, std::string_view message);
// The authentication layer's errors: {"errors":[{"message","code","type"}]}.
http::Reply auth_error(int status, std::string_view message, std::string_view type);
// The token endpoint's OAuth2 errors: 400 {"error":…,"error_description":…}.
http::Reply oauth_error(std::string_view error, std::string_view description);
// 429: "You exceeded the rate limit of N API calls per hour."
http::Reply rate_limited(int limit);

// The answer of a status injected by a fault: 502/503/504 an HTML page from the web server in
// front, 429 as the rate limit of `rate_limit` calls answers, others the API's error shape with
// the status's reason.
http::Reply injected_status(int status, int rate_limit);

}  // namespace concord::sandbox::mautic
