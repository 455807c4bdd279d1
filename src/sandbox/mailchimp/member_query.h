// The member queries of GET /lists/{id}/members: the filters and the order of a page, and their
// matches, cached on the list until it changes.
//
// Thread-safety: run_query() may be called by many readers of one list at once (the cache has
// its own mutex); the caller holds the account's lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "concord/time.h"
#include "sandbox/mailchimp/account.h"

namespace concord::sandbox {

enum class SortField { kNone, kTimestampOpt, kTimestampSignup, kLastChanged };

// The filters and order of a member query (the query parameters, validated).
struct MemberQuery {
  std::optional<MemberStatus> status;
  Micros since_last_changed = kNoTime, before_last_changed = kNoTime;
  Micros since_opt = kNoTime, before_opt = kNoTime;
  Micros unsubscribed_since = kNoTime;
  std::string email_type;
  bool vip_only = false;
  std::string unique_email_id;
  SortField sort = SortField::kNone;
  bool desc = false;
  bool archived_in_listing = true;

  // Identifies the query in the list's cache.
  std::string key() const;
  // Whether a member is in the answer.
  bool matches(const Member& m) const;
};

// The slots of the members that match, in the query's order.
std::shared_ptr<const std::vector<std::uint32_t>> run_query(const List& l, const MemberQuery& q);

}  // namespace concord::sandbox
