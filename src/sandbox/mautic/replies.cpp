#include "sandbox/mautic/replies.h"

#include <string>

#include "sandbox/http_helpers.h"
#include "sandbox/mautic/entity_json.h"

namespace concord::sandbox::mautic {
namespace {

// The reason an injected status is answered with.
struct Reason {
  int status;
  std::string_view text;
};
constexpr Reason kReasons[] = {
    {400, kBadRequest},
    {401, "Authorization denied, invalid credentials."},
    {403, kAccessDenied},
    {404, kNotFound},
    {500,
     "Looks like I encountered an error (error #500). If I do it again, please report me to "
     "the system administrator!"},
};

}  // namespace

http::Reply json_reply(int status, const ojson& body) {
  return plain_reply(status, php_text(body), "application/json");
}

http::Reply api_error(int status, std::string_view message, const ojson& details,
                      const ojson& type) {
  ojson e = ojson::object();
  e["code"] = status;
  e["message"] = message;
  e["details"] = details;
  e["type"] = type;
  return json_reply(status, {{"errors", ojson::array({e})}});
}

http::Reply not_found(std::string_view message) {
  return api_error(404, message);
}

http::Reply bad_request(std::string_view detail) {
  ojson details = ojson::array();
  if (!detail.empty()) details.push_back(detail);
  return api_error(400, kBadRequest, details);
}

http::Reply form_error(std::string_view field, std::string_view message) {
  ojson details = ojson::object();
  details[std::string(field)] = ojson::array({message});
  return api_error(400, std::string(field) + ": " + std::string(message), details);
}

http::Reply auth_error(int status, std::string_view message, std::string_view type) {
  ojson e = ojson::object();
  e["message"] = message;
  e["code"] = status;
  e["type"] = type;
  return json_reply(status, {{"errors", ojson::array({e})}});
}

http::Reply oauth_error(std::string_view error, std::string_view description) {
  ojson j = ojson::object();
  j["error"] = error;
  j["error_description"] = description;
  return json_reply(400, j);
}

http::Reply rate_limited(int limit) {
  ojson e = ojson::object();
  e["code"] = 429;
  e["message"] = "You exceeded the rate limit of " + std::to_string(limit) + " API calls per hour.";
  e["details"] = ojson::array();
  return json_reply(429, {{"errors", ojson::array({e})}});
}

http::Reply injected_status(int status, int rate_limit) {
  if (status == 502 || status == 503 || status == 504) {
    const std::string t = std::to_string(status) + (status == 502   ? " Bad Gateway"
                                                    : status == 503 ? " Service Unavailable"
                                                                    : " Gateway Timeout");
    return plain_reply(status,
                       "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" +
                           t + "</h1></center>\r\n</body>\r\n</html>\r\n",
                       "text/html");
  }
  if (status == 429) return rate_limited(rate_limit);
  std::string_view text = status < 500 ? kBadRequest : kReasons[4].text;
  for (const Reason& r : kReasons) {
    if (r.status == status) text = r.text;
  }
  return api_error(status, text);
}

}  // namespace concord::sandbox::mautic
