// Mautic's optional API rate limit (the reference's §3.7, the noxlogic bundle): N calls an hour,
// counted in a window that starts with the first call and lasts an hour by the sandbox clock.
// Every call to /api counts, refused ones too; beyond N a call is refused with 429. Each answer
// carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (the window's end, in
// Unix seconds). The counter is not part of the persisted state.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <mutex>

#include "concord/http.h"
#include "concord/time.h"

namespace concord::sandbox::mautic {

class RateLimiter {
 public:
  struct Count {
    bool allowed = true;
    int limit = 0;
    int remaining = 0;
    std::int64_t reset = 0;  // Unix seconds

    // Adds the X-RateLimit-* headers to `reply`.
    void stamp(http::Reply* reply) const;
  };

  // Counts a call at `now` under a limit of `limit` (REQUIRES: limit > 0).
  Count count(Micros now, int limit);
  // A new window at the next call.
  void reset();

 private:
  std::mutex mu_;
  Micros window_end_ = kNoTime;
  int calls_ = 0;
};

}  // namespace concord::sandbox::mautic
