// The Query API's rate limits of the project: queries accepted in the last hour (a sliding window
// of the sandbox clock) and queries being answered at once (real requests in flight, counted from
// when they are admitted until their answer is made).
//
// A refused query is not counted in either, and what the 429 reports counts the refused query
// itself, as the recorded answer does ("1/5 queries running concurrently and 61/60 queries running
// in the last hour": the 61st was refused).
//
// The counters are not part of the persisted state.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "concord/time.h"
#include "sandbox/mixpanel/project.h"

namespace concord::sandbox::mixpanel {

class RateLimiter {
 public:
  // A query admitted: released (no longer running) when destroyed.
  class Slot {
   public:
    Slot() = default;
    ~Slot() { release(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    void release();

   private:
    friend class RateLimiter;
    RateLimiter* owner_ = nullptr;
  };

  // What a 429 says.
  struct Refusal {
    int running = 0;    // queries running, this one included
    int last_hour = 0;  // queries in the last hour, this one included
    int retry_after_seconds = 1;
  };

  // Admits a query at `now` under `limits` into *slot (REQUIRES: *slot is empty), or returns the
  // refusal.
  std::optional<Refusal> admit(Micros now, const Limits& limits, Slot* slot);

  // The queries running and those of the last hour, now (retry_after_seconds is 1).
  Refusal counts(Micros now);
  // Forgets the queries of the last hour (the running ones keep running).
  void reset_hour();

 private:
  void purge(Micros now);  // REQUIRES: mu_ held

  std::mutex mu_;
  int running_ = 0;
  std::deque<Micros> hour_;  // when each query of the window was admitted, oldest first
};

}  // namespace concord::sandbox::mixpanel
