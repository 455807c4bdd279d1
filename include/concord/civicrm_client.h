// The CiviCRM side: the APIv4 REST client.
//
// Reads a group's contacts as typed records (all, changed since a watermark, or those with named
// addresses or ids: the CrmReader of side.h) and writes membership changes (GroupContact save,
// Contact/Email creation, email holds). It never sees the store: the snapshot stage (snapshot.h)
// drives its reads and decides which address represents a contact. Every call is
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
#include "concord/record.h"
#include "concord/side.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord {

struct CiviCrmOptions {
  std::string url;               // the site root, e.g. "https://crm.example.org"
  std::string api_key;           // secret
  std::string site_key;          // secret; empty when the API user may authenticate without it
  std::string timezone = "UTC";  // the site's IANA zone
  http::ClientOptions http;
  // An incremental read asks for rows dated this long before the watermark it is handed, to catch
  // rows recorded late. Default: 5 minutes.
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
  // kChangeEmail: the contact's address `from_email` becomes `email` (change_email()).
  enum class Kind : std::uint8_t {
    kAdd,
    kRemove,
    kCreateContact,
    kHoldEmail,
    kUpdateFields,
    kChangeEmail,
    kReleaseHold,  // the address's on_hold back to 0 (`concord undo` of a kHoldEmail)
  };
  Kind kind = Kind::kAdd;
  std::int64_t contact_id = 0;  // kAdd, kRemove, kHoldEmail, kReleaseHold, kUpdateFields
  std::string email;            // normalised; kCreateContact, kHoldEmail, kReleaseHold
  // Contact fields to set (field name → value): kCreateContact (on the new contact) and
  // kUpdateFields (Contact.save of the contact's id).
  std::vector<std::pair<std::string, std::string>> fields;
  std::string from_email{};  // kChangeEmail
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

class CiviCrmClient final : public CrmReader {
 public:
  static Result<std::unique_ptr<CiviCrmClient>> create(
      CiviCrmOptions options, std::unique_ptr<http::Client> transport = nullptr);
  ~CiviCrmClient();

  // A group by id, or by name or title; several matches is kInvalid naming their ids.
  Result<CrmGroup> resolve_group(std::string_view id_or_name);

  // Reads (side.h). SubscriptionHistory rows of the group, ordered by contact then id, with the
  // contact's flags and names through implicit joins, `page_size` rows a call (a contact's rows
  // may straddle pages: the last one counts); the emails of each page's contacts in one Email.get.
  // History dates are site-local: the connection's zone converts them to UTC (and the watermark
  // back to local time for read_since's `date >=`). read_contacts first asks Email.get for the
  // contacts having one of the addresses (CiviCRM compares them without regard to case), then
  // reads their history rows and those of `contact_ids` (contact_id IN …, group_id =).
  Result<SideRead> read_all(std::int64_t group_id, CrmSink& sink) override;
  Result<SideRead> read_since(std::int64_t group_id, Micros watermark, CrmSink& sink) override;
  Result<SideRead> read_contacts(std::int64_t group_id, const std::vector<std::string>& emails,
                                 const std::vector<std::int64_t>& contact_ids,
                                 CrmSink& sink) override;
  // One Email.get per chunk of addresses, with the contact's fields joined (contact_id.*).
  Result<SideRead> read_by_address(const std::vector<std::string>& emails, CrmSink& sink) override;

  // The same reads, also reading these contact fields (a sync's mapped fields: core fields, or
  // custom ones as Group.Field) into CrmContact::fields, joined like the names. The reader uses
  // this client and must not outlive it.
  std::unique_ptr<CrmReader> with_fields(std::vector<std::string> fields);

  // The contact fields CiviCRM has (Contact.getFields): name → data_type ("String", "Integer",
  // "Date", …), with whether each is read-only.
  struct ContactField {
    std::string name;
    std::string data_type;
    bool readonly = false;
  };
  Result<std::vector<ContactField>> contact_fields();

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
  // added instead of a new one), then made and added to the group in one Contact.save batch;
  // holds are Email.update calls. Any number of writes: each kind goes in batches of
  // options.write_batch records.
  std::vector<CrmWriteOutcome> apply(std::int64_t group_id, const std::vector<CrmWrite>& writes);

  std::uint64_t requests() const;
  // The requests it sends at once, at most (options.http.max_connections).
  int max_connections() const;
  // Records per save (options.write_batch, at least 1).
  int write_batch() const;

 private:
  struct Impl;
  class FieldReader;
  explicit CiviCrmClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord
