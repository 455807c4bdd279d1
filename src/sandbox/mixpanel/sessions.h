// The /engage sessions: the result of a query, kept under the session_id its first page answered,
// so that later pages (fetched in any order, several at once, as mixpanel-utils does) all page
// through the same result even while cohorts change.
//
// A session lives `ttl` after its last use (the reference leaves the lifetime open; the limits'
// session_ttl_seconds sets it), and at most kMaxSessions are kept (the least recently used goes
// first). Sessions are not part of the persisted state: a restart forgets them, as a real query
// cache would.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "concord/time.h"

namespace concord::sandbox::mixpanel {

struct EngageSession {
  std::string filter;  // the filter parameters the result was computed for (Filter::key())
  std::shared_ptr<const std::vector<std::string>> ids;  // the selected distinct ids, in order
  Micros computed_at = kNoTime;
  Micros last_used = kNoTime;
};

class SessionStore {
 public:
  static constexpr std::size_t kMaxSessions = 1000;

  // Keeps a new session and returns its id: "<epoch-ms>-<32 hex>", as Mixpanel writes them.
  std::string create(Micros now, std::string filter,
                     std::shared_ptr<const std::vector<std::string>> ids);
  // The session, its use noted; nullopt when it is unknown or has expired.
  std::optional<EngageSession> find(const std::string& id, Micros now, Micros ttl);
  // Forgets every session. Returns how many there were.
  std::size_t clear();

 private:
  std::mutex mu_;
  std::unordered_map<std::string, EngageSession> sessions_;
};

}  // namespace concord::sandbox::mixpanel
