// The CiviCRM side: the APIv4 REST client.
//
// Reads a group's members into the CRM snapshot (full or incremental) and writes membership
// changes (GroupContact save, Contact/Email creation, email holds). Every call is
// POST {url}/civicrm/ajax/api4/{Entity}/{action} with a form-encoded `params` JSON, authenticated
// with X-Civi-Auth (the API key) and X-Civi-Key (the site key, when configured). Neither key ever
// appears in a Status message.
//
// CiviCRM reports times in its site's zone without saying so: each connection names its IANA
// zone, and times are converted in both directions.
//
// Thread-safety: as MailchimpClient.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/mailchimp_client.h"  // FetchStats
#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

struct CiviCrmOptions {
  std::string url;               // the site root, e.g. "https://crm.example.org"
  std::string api_key;           // secret
  std::string site_key;          // secret; empty when the API user may authenticate without it
  std::string timezone = "UTC";  // the site's IANA zone
  http::ClientOptions http;
  Micros incremental_overlap = 300 * kMicrosPerSecond;
  // The `method` recorded on the SubscriptionHistory rows concord's writes make.
  std::string method = "API";
  // concord's contact `source` when it creates a contact.
  std::string contact_source = "concord (Mailchimp)";
  int page_size = 1000;   // rows per get
  int write_batch = 200;  // records per save
};

struct CrmGroup {
  std::int64_t id = 0;
  std::string name;
  std::string title;
};

// One CRM write.
struct CrmWrite {
  enum class Kind : std::uint8_t { kAdd, kRemove, kCreateContact, kHoldEmail };
  Kind kind = Kind::kAdd;
  std::int64_t contact_id = 0;  // kAdd, kRemove, kHoldEmail
  std::string email;            // normalised; kCreateContact, kHoldEmail
  std::string first_name;       // kCreateContact
  std::string last_name;
};

struct CrmWriteOutcome {
  enum class Code : std::uint8_t { kDone, kInvalid, kFailed };
  Code code = Code::kFailed;
  std::string message;
  std::int64_t contact_id = 0;  // kCreateContact: the contact added (new, or found by email)
  // Membership writes done: the server's time of the answer (its Date header; kNoTime without
  // one). The history row the write made is dated no later, so the next fetch does not take
  // concord's own write for a change made in the CRM.
  Micros written_at = kNoTime;
};

// The body concord stores for a CRM member (JSON): {"contact_id":…, "first_name":…,
// "last_name":…, "duplicates":[other contact ids]}.
struct CrmRecord {
  std::int64_t contact_id = 0;
  std::string first_name;
  std::string last_name;
  std::vector<std::int64_t> duplicates;
};
Result<CrmRecord> parse_crm_record(std::string_view body);

class CiviCrmClient {
 public:
  static Result<std::unique_ptr<CiviCrmClient>> create(
      CiviCrmOptions options, std::unique_ptr<http::Client> transport = nullptr);
  ~CiviCrmClient();

  // A group by id, or by name or title; several matches is kInvalid naming their ids.
  Result<CrmGroup> resolve_group(std::string_view id_or_name);

  // Every contact with a history row for the group into `pair`'s CRM snapshot: the latest row
  // decides status and date; the contact's flags and the email that represents it: one the
  // pair's Mailchimp snapshot already has (so fetch Mailchimp first), else bulk-mail, else
  // primary, else any, an address on hold only when there is no other. Contacts sharing an
  // email become one member (not trashed and in the group first, else the lowest id), flagged as
  // a duplicate. Stores the watermark (meta "civicrm.watermark/<group>").
  Result<FetchStats> fetch_full(std::int64_t group_id, Store& store, const PairHandle& pair);
  // Contacts with history rows dated at or after the watermark less the overlap. Falls back to a
  // full fetch without a watermark.
  Result<FetchStats> fetch_incremental(std::int64_t group_id, Store& store, const PairHandle& pair);

  // Reads again, into `pair`'s CRM snapshot, the members that are these addresses (a daemon's
  // answer to webhooks that name them), built as the group reads build them (representative email,
  // duplicates, flags, names, the latest history row's status and site-local date in UTC). The
  // contacts read are those with one of the addresses (Email.get where email IN …, which CiviCRM
  // compares without regard to case; trashed contacts included, as the group read includes
  // them) and those the stored members of these addresses name (so that an address a contact
  // gave up, or one stored with surrounding spaces, is still accounted for); their history rows
  // in the group (contact_id IN …, group_id =) decide, as in a full read. The members of these
  // addresses are replaced; a member another address of these contacts represents is written as
  // an incremental read writes it (merged with a stored duplicate). An address no contact with
  // history in the group is represented by leaves the snapshot. The watermark is neither read
  // nor moved; stats.watermark is kNoTime. Meant for small batches; like the fetches, not
  // concurrently with another fetch of the same pair.
  Result<FetchStats> fetch_members(std::int64_t group_id, const std::vector<std::string>& emails,
                                   Store& store, const PairHandle& pair);

  // Changes a contact's address (a Mailchimp `upemail`): the contact's email row that has
  // old_email (compared as concord compares addresses: without regard to case or surrounding
  // spaces) gets new_email (trimmed, its case kept) by an Email.update
  // where contact_id = … AND email = …; its other fields (primary, bulk mail, hold) stay. When
  // the contact already has new_email, nothing is changed (not even a row with old_email dropped:
  // a contact may keep both) and the call succeeds, so a repeated webhook is harmless. kNotFound
  // when the contact has neither address; kInvalid when new_email is not a usable address.
  Status change_email(std::int64_t contact_id, std::string_view old_email,
                      std::string_view new_email);

  // Applies writes; outcomes[i] belongs to writes[i]. Adds and removes go in GroupContact.save
  // batches; a contact to create is first looked up by email (an existing, untrashed contact is
  // added instead of a new one); holds are Email.update calls.
  std::vector<CrmWriteOutcome> apply(std::int64_t group_id, const std::vector<CrmWrite>& writes);

  std::uint64_t requests() const;

 private:
  struct Impl;
  explicit CiviCrmClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

std::string civicrm_watermark_key(std::int64_t group_id);

}  // namespace concord
