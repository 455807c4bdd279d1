// Reading pages of Mailchimp audience members into the Mailchimp snapshot.
//
// The client (src/sides/mailchimp) fetches GET /lists/{list_id}/members with `fields=` set to
// kMemberFields and `count=1000`; each page's body goes through ingest_members_page(), which keys,
// validates and stores the members without holding the audience in memory.
//
// Thread-safety: ingest_members_page() may run for different writers on different threads.
#pragma once

#include <cstdint>
#include <string_view>

#include "concord/snapshot.h"
#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

// Exactly what concord stores of a member, and nothing else (pages are trimmed to this):
//   email_address       identity
//   status              membership
//   unsubscribe_reason  self- vs admin-unsubscribed (whether a resubscribe is accepted)
//   timestamp_opt       the opt-in time, used for status_changed_at on first sight
//   last_changed        status_changed_at and the incremental watermark
//   merge_fields        names and mapped fields (Mailchimp returns every field of the list)
//   total_items         paging
inline constexpr std::string_view kMemberFields =
    "members.email_address,members.status,members.unsubscribe_reason,members.timestamp_opt,"
    "members.last_changed,members.merge_fields,total_items";

struct MembersPageResult {
  std::uint64_t members = 0;          // members in the page (written or rejected)
  std::uint64_t written = 0;          // written to the snapshot
  std::uint64_t rejected = 0;         // kept as rejected rows (invalid email, unknown status, …)
  std::int64_t total_items = -1;      // the page's total_items, -1 when absent
  Micros max_last_changed = kNoTime;  // for the incremental watermark
};

// Parses one page body and writes its members through `writer` (which must write the Mailchimp
// family of `pair`). A member's status_changed_at follows DESIGN §2 against the stored record.
// A member with a bad email, status or time becomes a RejectedRow naming the field; the page
// goes on. A body that is not a members page (malformed or truncated JSON, no "members" array)
// returns kInvalid naming what is wrong, and nothing of the page is written.
Result<MembersPageResult> ingest_members_page(std::string_view body, Store& store,
                                              const PairHandle& pair, SnapshotWriter& writer);

}  // namespace concord
