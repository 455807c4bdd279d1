#include "serve/intake_throttle.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace concord::serve {
namespace {

// Buckets are looked over for idle ones at most this often.
constexpr Micros kSweepEvery = 10 * kMicrosPerSecond;

}  // namespace

IntakeThrottle::Bucket& IntakeThrottle::bucket(const std::string& key, Micros now) {
  auto [it, fresh] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (fresh || b.at == kNoTime) {
    b.tokens = burst_;
  } else if (now > b.at) {
    b.tokens = std::min(burst_, b.tokens + eps_ * static_cast<double>(now - b.at) / 1e6);
  }
  b.at = std::max(now, b.at);
  return b;
}

void IntakeThrottle::forget_idle(Micros now) {
  if (swept_ != kNoTime && now - swept_ < kSweepEvery) return;
  swept_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const Bucket& b = it->second;
    const double refilled = b.tokens + eps_ * static_cast<double>(now - b.at) / 1e6;
    it = refilled >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

std::optional<amplitude::Throttled> IntakeThrottle::take(
    const std::vector<amplitude::IntakeEvent>& events, Micros now) {
  // Events per id in this request, and which events each id carries.
  std::map<std::string, std::vector<std::size_t>> of;
  for (const amplitude::IntakeEvent& e : events) {
    if (!e.user_id.empty()) of["u:" + e.user_id].push_back(e.index);
    if (!e.device_id.empty()) of["d:" + e.device_id].push_back(e.index);
  }
  std::lock_guard<std::mutex> lock(mu_);
  forget_idle(now);
  amplitude::Throttled t;
  t.eps_threshold = static_cast<int>(std::lround(eps_));
  std::vector<std::size_t> throttled;
  for (const auto& [key, indexes] : of) {
    Bucket& b = bucket(key, now);
    if (b.tokens >= static_cast<double>(indexes.size())) continue;
    // The id's rate: what it used of its burst, over the burst's seconds, and this request.
    const double used = burst_ - b.tokens + static_cast<double>(indexes.size());
    const auto rate = static_cast<std::int64_t>(std::ceil(used / (burst_ / eps_)));
    (key[0] == 'u' ? t.users : t.devices)[key.substr(2)] = std::max<std::int64_t>(rate, 1);
    throttled.insert(throttled.end(), indexes.begin(), indexes.end());
  }
  if (!throttled.empty()) {
    std::sort(throttled.begin(), throttled.end());
    throttled.erase(std::unique(throttled.begin(), throttled.end()), throttled.end());
    t.events = std::move(throttled);
    return t;
  }
  for (const auto& [key, indexes] : of)
    buckets_[key].tokens -= static_cast<double>(indexes.size());
  return std::nullopt;
}

}  // namespace concord::serve
