// The Management API's rate limits (docs/sandbox.md "The Auth0 API", "Rate limits"): token
// buckets, one per configured RateBucket, each `limit` deep and refilled at
// limit / window_seconds a second by the sandbox clock. A request takes a token from every
// bucket it matches; when one of them is empty it is refused (429) and takes nothing. The
// answer carries x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (UTC epoch
// seconds at which that bucket is full again) of the matching bucket with the fewest tokens left.
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/auth0/tenant.h"

namespace concord::sandbox::auth0 {

class RateLimiter {
 public:
  // What the buckets say of one request.
  struct Verdict {
    bool allowed = true;
    // The headers' values; nullopt when no bucket matched (no headers then).
    struct Headers {
      std::int64_t limit = 0;
      std::int64_t remaining = 0;
      std::int64_t reset = 0;  // epoch seconds
    };
    std::optional<Headers> headers;
  };

  // Replaces the buckets; each starts full.
  void configure(const std::vector<RateBucket>& buckets, Micros now);

  // Takes a token for this request from every bucket it matches (or none, when one is empty).
  Verdict take(std::string_view method, std::string_view path, Micros now);

  // Adds the x-ratelimit-* headers of `v` (if any) to *reply.
  static void add_headers(const Verdict& v, http::Reply* reply);

 private:
  struct Bucket {
    RateBucket config;
    double tokens = 0;
    Micros refilled_at = 0;

    void refill(Micros now);
    // When the bucket is full again, in epoch seconds (rounded up).
    std::int64_t full_at(Micros now) const;
  };
  std::vector<Bucket> buckets_;
};

}  // namespace concord::sandbox::auth0
