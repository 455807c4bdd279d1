// The member queries of GET /lists/{id}/members (and of a segment's members): the filters and the
// order of a page, and their matches, cached on the list until it changes.
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

// interest_match: members in any of the groups, in all of them, or in none.
enum class InterestMatch { kAny, kAll, kNone };

// Every status, as bits of MemberQuery::statuses.
inline constexpr std::uint8_t kAllStatuses = (1u << kStatusCount) - 1;

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
  // interest_category_id + interest_ids + interest_match: the groups' bits, and how to match.
  std::optional<InterestMatch> interest_match;
  std::uint64_t interest_mask = 0;
  // A static segment's members: only members with this tag (0: any), and only these statuses
  // (bit MemberStatus).
  std::uint32_t tag_id = 0;
  std::uint8_t statuses = kAllStatuses;

  // Identifies the query in the list's cache.
  std::string key() const;
  // Whether a member is in the answer.
  bool matches(const Member& m) const;
};

// The slots of the members that match, in the query's order.
std::shared_ptr<const std::vector<std::uint32_t>> run_query(const List& l, const MemberQuery& q);

}  // namespace concord::sandbox
