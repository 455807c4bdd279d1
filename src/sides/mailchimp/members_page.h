// Reading pages of Mailchimp audience members into typed records.
//
// The client (src/sides/mailchimp) fetches GET /lists/{list_id}/members with `fields=` set to
// kMemberFields and `count=1000`; each page's body goes through parse_members_page(), which hands
// its members to a sink (side.h) as MailchimpRecords without holding the audience in memory. This
// is the ingest hot path: simdjson, one pass, no copy of a member beyond its record.
//
// Thread-safety: parse_members_page() may run for different sinks on different threads.
#pragma once

#include <cstdint>
#include <string_view>

#include "concord/side.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord {

// Exactly what concord stores of a member, and nothing else (pages are trimmed to this):
//   email_address       identity
//   status              membership
//   unsubscribe_reason  self- vs admin-unsubscribed (whether a resubscribe is accepted)
//   timestamp_opt       the opt-in time, used for status_changed_at on first sight
//   last_changed        status_changed_at and the incremental watermark
//   merge_fields        names and mapped fields (Mailchimp returns every field of the list)
//   contact_id          the member's identity across address changes
//   tags                the names of its tags (up to 50 shown), for tag targets
//   interests           which interests (groups) it has, for interest targets
//   total_items         paging
inline constexpr std::string_view kMemberFields =
    "members.email_address,members.status,members.unsubscribe_reason,members.timestamp_opt,"
    "members.last_changed,members.merge_fields,members.contact_id,members.tags,members.interests,"
    "total_items";

struct MembersPageResult {
  std::uint64_t members = 0;          // members in the page (handed over or rejected)
  std::uint64_t rejected = 0;         // handed to sink.reject() (unknown status, bad time, …)
  std::int64_t total_items = -1;      // the page's total_items, -1 when absent
  Micros max_last_changed = kNoTime;  // the latest last_changed in the page, for paging
};

// Parses one page body and hands its members to `sink`: first the rows that cannot be members
// (not an object, no email_address, a missing or unknown status, an unreadable time), each as a
// RejectedRow naming the field (source id: the address as sent, or "member #<n>", its 1-based place
// in the page); then the others as one records() call. Malformed `tags` or `interests` do not
// reject a member: the malformed part is left out of its record. A body that is not a members page
// (malformed or truncated JSON, no "members" array) returns kInvalid naming what is wrong, and
// nothing is handed over. A failure of sink.records() is returned as it is.
Result<MembersPageResult> parse_members_page(std::string_view body, MailchimpSink& sink);

}  // namespace concord
