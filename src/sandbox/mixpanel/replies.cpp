#include "sandbox/mixpanel/replies.h"

#include "sandbox/http_helpers.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mixpanel {
namespace {

constexpr std::string_view kRateLimitHelp =
    "For more information, please consult our documentation at "
    "https://help.mixpanel.com/hc/en-us/articles/115004602563-Rate-Limits-for-Export-API-Endpoints";

// The reason phrases an injected status is answered with.
struct Reason {
  int status;
  std::string_view text;
};
constexpr Reason kReasons[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {408, "Request Timeout"},
    {500, "Internal Server Error"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

std::string_view reason(int status) {
  for (const Reason& r : kReasons) {
    if (r.status == status) return r.text;
  }
  return status < 500 ? "Client Error" : "Server Error";
}

}  // namespace

http::Reply json_reply(int status, std::string body) {
  return plain_reply(status, std::move(body), "application/json");
}

http::Reply api_error(int status, const http::Request& request, std::string_view error) {
  std::string body = "{\"request\":";
  append_json_string(&body, request.target);
  body += ",\"error\":";
  append_json_string(&body, error);
  body += "}";
  return json_reply(status, std::move(body));
}

http::Reply rate_limited(const http::Request& request, std::int64_t project_id,
                         const RateLimiter::Refusal& refusal, const Limits& limits) {
  std::string text = "Query rate limit exceeded for project_id: " + std::to_string(project_id) +
                     ". " + std::to_string(refusal.running) + "/" +
                     std::to_string(limits.concurrent_queries) +
                     " queries running concurrently and " + std::to_string(refusal.last_hour) +
                     "/" + std::to_string(limits.queries_per_hour) +
                     " queries running in the last hour. " + std::string(kRateLimitHelp);
  http::Reply r = api_error(429, request, text);
  if (limits.retry_after) {
    r.response.headers.push_back({"Retry-After", std::to_string(refusal.retry_after_seconds)});
  }
  return r;
}

http::Reply injected_status(int status, const http::Request& request, std::int64_t project_id,
                            const RateLimiter::Refusal& counts, const Limits& limits) {
  if (status == 429) return rate_limited(request, project_id, counts, limits);
  if (status == 502 || status == 503 || status == 504) {
    const std::string t = std::to_string(status) + " " + std::string(reason(status));
    return plain_reply(status,
                       "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" +
                           t + "</h1></center>\r\n</body>\r\n</html>\r\n",
                       "text/html");
  }
  return api_error(status, request, reason(status));
}

}  // namespace concord::sandbox::mixpanel
