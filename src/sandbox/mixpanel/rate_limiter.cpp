#include "sandbox/mixpanel/rate_limiter.h"

#include <algorithm>
#include <cassert>

namespace concord::sandbox::mixpanel {
namespace {

constexpr Micros kHour = 3600 * kMicrosPerSecond;

}  // namespace

void RateLimiter::Slot::release() {
  if (!owner_) return;
  std::lock_guard<std::mutex> lock(owner_->mu_);
  --owner_->running_;
  owner_ = nullptr;
}

void RateLimiter::purge(Micros now) {
  // A clock set back (a test) leaves later entries in the window until the clock passes them.
  while (!hour_.empty() && hour_.front() <= now - kHour)
    hour_.pop_front();
}

std::optional<RateLimiter::Refusal> RateLimiter::admit(Micros now, const Limits& limits,
                                                       Slot* slot) {
  assert(slot->owner_ == nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  purge(now);
  Refusal r;
  r.running = running_ + 1;
  r.last_hour = static_cast<int>(hour_.size()) + 1;
  const bool too_many_at_once =
      limits.concurrent_queries > 0 && r.running > limits.concurrent_queries;
  const bool too_many_this_hour =
      limits.queries_per_hour > 0 && r.last_hour > limits.queries_per_hour;
  if (too_many_at_once || too_many_this_hour) {
    if (too_many_this_hour && !hour_.empty()) {
      // When the oldest query of the window leaves it, in whole seconds, rounded up.
      Micros wait = hour_.front() + kHour - now;
      r.retry_after_seconds =
          static_cast<int>(std::max<Micros>(1, (wait + kMicrosPerSecond - 1) / kMicrosPerSecond));
    }
    return r;
  }
  ++running_;
  hour_.push_back(now);
  slot->owner_ = this;
  return std::nullopt;
}

RateLimiter::Refusal RateLimiter::counts(Micros now) {
  std::lock_guard<std::mutex> lock(mu_);
  purge(now);
  Refusal r;
  r.running = running_;
  r.last_hour = static_cast<int>(hour_.size());
  return r;
}

void RateLimiter::reset_hour() {
  std::lock_guard<std::mutex> lock(mu_);
  hour_.clear();
}

}  // namespace concord::sandbox::mixpanel
