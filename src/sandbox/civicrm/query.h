// The gets of the CiviCRM part: a query (where, orderBy, limit, offset) planned over the site's
// indexes, its matches sorted as MySQL sorts them, and cached until the site changes.
//
// Thread-safety: run_query() may be called by many readers of one site at once (QueryCache has
// its own mutex); the caller holds the site's lock.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sandbox/civicrm/entities.h"
#include "sandbox/civicrm/paths.h"
#include "sandbox/civicrm/where.h"

namespace concord::sandbox {

struct OrderKey {
  PathRef path;
  bool desc = false;
};

struct Query {
  Ent ent = kContact;
  Node where;  // kAnd of the top-level clauses
  std::vector<OrderKey> order;
  std::int64_t limit = 0;
  std::int64_t offset = 0;
  std::string cache_key;  // entity + where + orderBy, as given
};

// The matches of a query in result order, cached until the site changes.
struct QueryCache {
  struct Entry {
    std::string key;
    std::uint64_t version = 0;
    std::shared_ptr<const std::vector<std::uint32_t>> slots;
  };
  std::mutex mu;
  std::deque<Entry> entries;  // most recent first
  static constexpr std::size_t kMax = 8;

  std::shared_ptr<const std::vector<std::uint32_t>> find(const std::string& key,
                                                         std::uint64_t version) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->key == key && it->version == version) {
        Entry e = *it;
        entries.erase(it);
        entries.push_front(e);
        return e.slots;
      }
    }
    return nullptr;
  }
  void put(std::string key, std::uint64_t version,
           std::shared_ptr<const std::vector<std::uint32_t>> slots) {
    std::lock_guard<std::mutex> lock(mu);
    std::erase_if(entries, [&](const Entry& e) { return e.version != version || e.key == key; });
    entries.push_front(Entry{std::move(key), version, std::move(slots)});
    if (entries.size() > kMax) entries.pop_back();
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu);
    entries.clear();
  }
};

struct Matches {
  std::vector<std::uint32_t> page;  // the rows of this page, in order
  std::int64_t total = -1;          // all matches, when computed
};

// Runs a query: the page's slots, and the total when `need_total` (or when it came for free).
// `version` identifies the site's data for the cache (which may be null).
Matches run_query(const CiviSite& site, const Query& q, bool need_total, QueryCache* cache,
                  std::uint64_t version);

}  // namespace concord::sandbox
