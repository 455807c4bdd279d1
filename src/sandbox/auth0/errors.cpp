#include "sandbox/auth0/errors.h"

#include "sandbox/http_helpers.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

http::Reply json_reply(int status, std::string body) {
  return plain_reply(status, std::move(body), kJsonType);
}

std::string_view reason_phrase(int status) {
  struct Phrase {
    int status;
    std::string_view text;
  };
  static constexpr Phrase kPhrases[] = {
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {409, "Conflict"},
      {413, "Request Entity Too Large"},
      {414, "Request-URI Too Large"},
      {429, "Too Many Requests"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (const Phrase& p : kPhrases) {
    if (p.status == status) return p.text;
  }
  return status >= 500 ? "Internal Server Error" : "Bad Request";
}

http::Reply api_error(int status, std::string_view message, std::string_view error_code) {
  JsonOut o;
  o.begin_object();
  o.key("statusCode");
  o.integer(status);
  o.key("error");
  o.str(reason_phrase(status));
  o.key("message");
  o.str(message);
  if (!error_code.empty()) {
    o.key("errorCode");
    o.str(error_code);
  }
  o.end_object();
  return json_reply(status, std::move(o.buf));
}

http::Reply missing_authentication() {
  return api_error(401, "Missing authentication");
}

http::Reply invalid_token(std::string_view message) {
  JsonOut o;
  o.begin_object();
  o.key("statusCode");
  o.integer(401);
  o.key("error");
  o.str("Unauthorized");
  o.key("message");
  o.str(message);
  o.key("attributes");
  o.begin_object();
  o.key("error");
  o.str(message);
  o.end_object();
  o.end_object();
  http::Reply r = json_reply(401, std::move(o.buf));
  r.response.headers.push_back(
      {"WWW-Authenticate", "Token error=\"" + std::string(message) + "\""});
  return r;
}

http::Reply oauth_error(int status, std::string_view error, std::string_view description,
                        std::string_view uri) {
  JsonOut o;
  o.begin_object();
  o.key("error");
  o.str(error);
  o.key("error_description");
  o.str(description);
  if (!uri.empty()) {
    o.key("error_uri");
    o.str(uri);
  }
  o.end_object();
  http::Reply r = json_reply(status, std::move(o.buf));
  r.response.headers.push_back({"Cache-Control", "no-store"});
  r.response.headers.push_back({"Pragma", "no-cache"});
  return r;
}

std::string validation_message(std::string_view kind, std::string_view detail,
                               std::string_view property, std::string_view description) {
  std::string m(kind);
  m += " validation error: '";
  m += detail;
  m += "' on property ";
  m += property;
  m += " (";
  m += description;
  m += ").";
  return m;
}

http::Reply query_error(std::string_view detail, std::string_view property,
                        std::string_view description) {
  return api_error(400, validation_message("Query", detail, property, description),
                   "invalid_query_string");
}

http::Reply payload_error(std::string_view detail, std::string_view property,
                          std::string_view description) {
  return api_error(400, validation_message("Payload", detail, property, description),
                   "invalid_body");
}

http::Reply path_error(std::string_view detail, std::string_view property,
                       std::string_view description) {
  return api_error(400, validation_message("Path", detail, property, description), "invalid_uri");
}

http::Reply route_not_found() {
  return api_error(404, "Not Found");
}

}  // namespace concord::sandbox::auth0
