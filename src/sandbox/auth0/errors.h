// The answers the Auth0 part gives when something is wrong, in Auth0's own shapes
// (docs/sandbox.md "The Auth0 API"):
//   * the Management API's {"statusCode","error","message","errorCode"} on /api/v2/* (and on the
//     routes the part does not know), with Content-Type application/json; charset=utf-8;
//   * the Authentication API's OAuth {"error","error_description"} on /oauth/token;
//   * the validation messages of the API's schema checks ("Query validation error: '…' on
//     property per_page (…).").
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "concord/http.h"

namespace concord::sandbox::auth0 {

inline constexpr std::string_view kJsonType = "application/json; charset=utf-8";

// A JSON answer with Auth0's Content-Type.
http::Reply json_reply(int status, std::string body);

// The reason phrase the API writes in `error` ("Bad Request", "Too Many Requests", …).
std::string_view reason_phrase(int status);

// {"statusCode":…,"error":…,"message":…[,"errorCode":…]}; no errorCode when it is empty.
http::Reply api_error(int status, std::string_view message, std::string_view error_code = "");

// 401 for a request without a bearer token (hapi's answer).
http::Reply missing_authentication();
// 401 for a bearer token that is not valid, or has expired: the message is repeated in
// `attributes.error` and in the WWW-Authenticate header.
http::Reply invalid_token(std::string_view message);

// The OAuth error body of /oauth/token: {"error","error_description"[,"error_uri"]}.
http::Reply oauth_error(int status, std::string_view error, std::string_view description,
                        std::string_view uri = "");

// "<kind> validation error: '<detail>' on property <property> (<description>)." as the API's
// schema checks write it; `kind` is Query, Payload or Path.
std::string validation_message(std::string_view kind, std::string_view detail,
                               std::string_view property, std::string_view description);

// 400 invalid_query_string / invalid_body / invalid_uri with such a message.
http::Reply query_error(std::string_view detail, std::string_view property,
                        std::string_view description);
http::Reply payload_error(std::string_view detail, std::string_view property,
                          std::string_view description);
http::Reply path_error(std::string_view detail, std::string_view property,
                       std::string_view description);

// 404 for a route the API does not have.
http::Reply route_not_found();

}  // namespace concord::sandbox::auth0
