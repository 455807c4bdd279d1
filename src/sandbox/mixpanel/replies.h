// The Query API's answers other than results: its error shape, {"request":"<path?query>",
// "error":"<text>"} (the recorded 429's), the rate-limit answer with the recorded wording, and
// what an injected fault's status looks like.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "sandbox/mixpanel/rate_limiter.h"

namespace concord::sandbox::mixpanel {

// A JSON answer with this status.
http::Reply json_reply(int status, std::string body);

// {"request":…,"error":…}: `request` is the request's target (path and query) as sent.
http::Reply api_error(int status, const http::Request& request, std::string_view error);

// 429: "Query rate limit exceeded for project_id: N. R/C queries running concurrently and H/L
// queries running in the last hour. …", with Retry-After when the limits ask for it.
http::Reply rate_limited(const http::Request& request, std::int64_t project_id,
                         const RateLimiter::Refusal& refusal, const Limits& limits);

// The answer of a status injected by a fault: 429 as the rate limit answers, 502/503/504 an HTML
// page from the load balancer, others the API's error shape with the status's reason.
http::Reply injected_status(int status, const http::Request& request, std::int64_t project_id,
                            const RateLimiter::Refusal& counts, const Limits& limits);

}  // namespace concord::sandbox::mixpanel
