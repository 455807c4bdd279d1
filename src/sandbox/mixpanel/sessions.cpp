#include "sandbox/mixpanel/sessions.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <utility>

#include "sandbox/text.h"

namespace concord::sandbox::mixpanel {

std::string SessionStore::create(Micros now, std::string filter,
                                 std::shared_ptr<const std::vector<std::string>> ids) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<std::uint8_t, 16> bytes;
  for (std::uint8_t& b : bytes)
    b = static_cast<std::uint8_t>(rng());
  std::string id = std::to_string(now / 1000) + "-";
  append_hex(&id, bytes.data(), bytes.size());

  std::lock_guard<std::mutex> lock(mu_);
  if (sessions_.size() >= kMaxSessions) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[id] = EngageSession{std::move(filter), std::move(ids), now, now};
  return id;
}

std::optional<EngageSession> SessionStore::find(const std::string& id, Micros now, Micros ttl) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (now - it->second.last_used >= ttl) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = std::max(it->second.last_used, now);
  return it->second;
}

std::size_t SessionStore::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = sessions_.size();
  sessions_.clear();
  return n;
}

}  // namespace concord::sandbox::mixpanel
