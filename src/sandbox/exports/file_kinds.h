// Which export a file is (docs/sandbox.md "Starting from exports"), from its name and its header:
//
// 1. Mailchimp's status files by name: "<status>_members_export[_<id>]….csv" (older) or
//    "<status>_email_audience_export[_<id>]….csv" (newer), status one of nonsubscribed,
//    unsubscribed, subscribed, cleaned (longer prefixes tried first). There is no status column,
//    so the name is what says it. "sms_only_audience_export…" is an SMS audience: not emulated.
// 2. A SubscriptionHistory download by its header (status, date, group and contact columns).
// 3. A contact export by its header (Group(s), or Contact ID with an email column).
// 4. A Mailchimp status file renamed by someone: its header has MEMBER_RATING, LEID and EUID,
//    and the status block's column gives the status (LAST_CHANGED subscribed, UNSUB_TIME
//    unsubscribed, CLEAN_TIME cleaned).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sandbox/exports/csv.h"

namespace concord::sandbox::exports {

enum class FileKind : std::uint8_t {
  kNone,
  kMailchimpMembers,
  kCivicrmContacts,
  kCivicrmHistory,
};

struct Recognised {
  FileKind kind = FileKind::kNone;
  std::string status;     // kMailchimpMembers: subscribed, unsubscribed, cleaned or transactional
  std::string export_id;  // kMailchimpMembers: the 10 hex of the name, "" when it has none
  std::string reason;     // kNone: why the file is not used
};

Recognised recognise(std::string_view base_name, const CsvTable& table);

}  // namespace concord::sandbox::exports
