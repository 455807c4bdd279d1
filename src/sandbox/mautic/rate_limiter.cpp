#include "sandbox/mautic/rate_limiter.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace concord::sandbox::mautic {

void RateLimiter::Count::stamp(http::Reply* reply) const {
  auto& h = reply->response.headers;
  h.push_back({"X-RateLimit-Limit", std::to_string(limit)});
  h.push_back({"X-RateLimit-Remaining", std::to_string(remaining)});
  h.push_back({"X-RateLimit-Reset", std::to_string(reset)});
}

RateLimiter::Count RateLimiter::count(Micros now, int limit) {
  assert(limit > 0);
  std::lock_guard<std::mutex> lock(mu_);
  if (window_end_ == kNoTime || now >= window_end_) {
    window_end_ = now + 3600 * kMicrosPerSecond;
    calls_ = 0;
  }
  ++calls_;
  Count c;
  c.allowed = calls_ <= limit;
  c.limit = limit;
  c.remaining = std::max(0, limit - calls_);
  c.reset = window_end_ / kMicrosPerSecond;
  return c;
}

void RateLimiter::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  window_end_ = kNoTime;
  calls_ = 0;
}

}  // namespace concord::sandbox::mautic
