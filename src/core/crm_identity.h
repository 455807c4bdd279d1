// Who is who on the CRM side: which of a contact's addresses represents it, and which of the
// contacts sharing an address represents that address. Both are pure rules over what the CiviCRM
// side read; the snapshot stage (src/snapshot) applies them. docs/architecture.md ("The CiviCRM
// side") states them for users.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "concord/member.h"
#include "concord/record.h"

namespace concord {

// What the representative-address rule needs to know of one address.
struct AddressFacts {
  bool usable = true;  // the contact's row has an address at all (an empty one never represents)
  bool is_primary = false;
  bool is_bulkmail = false;
  bool on_hold = false;    // on hold, for bounces or as an opt-out
  bool preferred = false;  // Mailchimp already has it: the member it already is there
};

inline constexpr std::size_t kNoAddress = static_cast<std::size_t>(-1);

// The index of the address that represents a contact, or kNoAddress when it has no usable one:
//   1. among the preferred addresses, when there are any: the bulk-mail one, else the primary,
//      else the first;
//   2. otherwise the bulk-mail one, else the primary, else the first, skipping addresses on hold
//      when the contact has another.
// A contact matched to the Mailchimp member it already is stays that member, rather than appearing
// under another of its addresses (which would read as leaving the group on one key and joining on
// another). An address on hold is kept among the preferred: it is the member Mailchimp has.
std::size_t representative_address(const std::vector<AddressFacts>& addresses);

// One contact as a member of the CRM snapshot: its state in the group and what the body keeps.
struct CrmMember {
  std::int64_t contact_id = 0;
  CrmState state;
  std::string first_name, last_name;
  std::vector<std::int64_t> duplicates;   // other contacts with the member's address, ascending
  std::vector<CrmBodyAddress> addresses;  // every address of the contact when it has several
  // The mapped contact fields as text, by CRM field name (CrmBody::fields).
  std::vector<std::pair<std::string, std::string>> fields;
  // The contact's modified_date as this read saw it (kNoTime: not read, or none): the time a
  // consent change seen now gets (crm_consent_changed_at), and the mapped fields' change time.
  Micros modified_at = kNoTime;
  std::string source_id;  // a one-way source's id for the person (CrmBody::source_id)

  bool in_group() const { return !state.trashed && state.status == CrmStatus::kAdded; }
};

// True when `a` rather than `b` represents an address both have: the contact not trashed and
// already in the group, else the one not trashed, else the lowest id.
bool represents_before(const CrmMember& a, const CrmMember& b);

// Two contacts that share an address as one member: the representative (represents_before), with
// the other's id and the other's duplicates among its duplicates (ascending, each once), flagged as
// a duplicate. The loser's addresses and state are dropped.
CrmMember merge_duplicates(CrmMember a, CrmMember b);

}  // namespace concord
