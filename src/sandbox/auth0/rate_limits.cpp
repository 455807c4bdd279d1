#include "sandbox/auth0/rate_limits.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace concord::sandbox::auth0 {

void RateLimiter::Bucket::refill(Micros now) {
  // A clock set back (a test fixing an earlier time) refills nothing.
  if (now > refilled_at) {
    const double seconds = static_cast<double>(now - refilled_at) / kMicrosPerSecond;
    const double rate =
        static_cast<double>(config.limit) / static_cast<double>(config.window_seconds);
    tokens = std::min(static_cast<double>(config.limit), tokens + seconds * rate);
  }
  refilled_at = now;
}

std::int64_t RateLimiter::Bucket::full_at(Micros now) const {
  const double rate =
      static_cast<double>(config.limit) / static_cast<double>(config.window_seconds);
  const double missing = static_cast<double>(config.limit) - tokens;
  // In whole microseconds, so that the epoch's size costs no precision.
  const auto to_full = static_cast<Micros>(std::llround(std::max(0.0, missing) / rate * 1e6));
  const Micros at = now + to_full;
  return at / kMicrosPerSecond + (at % kMicrosPerSecond > 0 ? 1 : 0);
}

void RateLimiter::configure(const std::vector<RateBucket>& buckets, Micros now) {
  buckets_.clear();
  for (const RateBucket& b : buckets) {
    Bucket bucket;
    bucket.config = b;
    bucket.tokens = static_cast<double>(b.limit);
    bucket.refilled_at = now;
    buckets_.push_back(std::move(bucket));
  }
}

RateLimiter::Verdict RateLimiter::take(std::string_view method, std::string_view path, Micros now) {
  Verdict v;
  std::vector<Bucket*> matched;
  for (Bucket& b : buckets_) {
    if (!b.config.matches(method, path)) continue;
    b.refill(now);
    matched.push_back(&b);
    // Refills add up in floating point: a bucket a hair under one token has one.
    if (b.tokens < 1 - 1e-9) v.allowed = false;
  }
  if (matched.empty()) return v;
  if (v.allowed) {
    for (Bucket* b : matched)
      b->tokens = std::max(0.0, b->tokens - 1);
  }
  const Bucket* tightest = matched.front();
  for (const Bucket* b : matched) {
    if (b->tokens < tightest->tokens) tightest = b;
  }
  Verdict::Headers h;
  h.limit = tightest->config.limit;
  h.remaining = static_cast<std::int64_t>(std::floor(tightest->tokens + 1e-9));
  h.reset = tightest->full_at(now);
  v.headers = h;
  return v;
}

void RateLimiter::add_headers(const Verdict& v, http::Reply* reply) {
  if (!v.headers) return;
  auto& h = reply->response.headers;
  h.push_back({"x-ratelimit-limit", std::to_string(v.headers->limit)});
  h.push_back({"x-ratelimit-remaining", std::to_string(v.headers->remaining)});
  h.push_back({"x-ratelimit-reset", std::to_string(v.headers->reset)});
}

}  // namespace concord::sandbox::auth0
