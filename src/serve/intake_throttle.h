// The per-user and per-device rate limit of a stream's intake, as Amplitude's (the reference's
// Amplitude §4.3–4.4): each user_id and each device_id may send `eps` events per second on
// average, with bursts of up to `burst_seconds` seconds' worth. A request that would take an id
// over its allowance is refused whole with 429 (throttled_reply), naming the ids, their current
// rate and the indexes of their events; nothing of it is taken, and the SDKs send the throttled
// events again after 30 s. Only accepted requests use up allowance.
//
// Each id has a token bucket: `eps * burst_seconds` tokens when full, refilled at `eps` per
// second. Idle ids (full buckets) are forgotten, so memory follows the ids active in the last
// `burst_seconds`.
//
// Thread-safety: take() may be called from several threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "concord/time.h"
#include "sides/amplitude/intake.h"

namespace concord::serve {

class IntakeThrottle {
 public:
  IntakeThrottle(double eps, double burst_seconds) : eps_(eps), burst_(eps * burst_seconds) {}

  // Takes the events' allowance, or returns what throttled them (nothing taken).
  std::optional<amplitude::Throttled> take(const std::vector<amplitude::IntakeEvent>& events,
                                           Micros now);

 private:
  struct Bucket {
    double tokens = 0;
    Micros at = kNoTime;
  };
  // The bucket of an id, refilled to `now`. REQUIRES: mu_ held.
  Bucket& bucket(const std::string& key, Micros now);
  void forget_idle(Micros now);

  const double eps_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // "u:" + user_id, "d:" + device_id
  Micros swept_ = kNoTime;
};

}  // namespace concord::serve
