// A side of a sync pair: an adapter that speaks one system's protocol and nothing else
// (docs/architecture.md, "Modules and their boundaries").
//
// A side reads members — all of them, those changed since a watermark it is handed, or those with
// given addresses — and emits typed records to a sink, returning the watermark it reached; it
// applies a batch of typed writes and returns one outcome per write. It never sees the store or
// another side. What every side needs (snapshots, watermarks, change-time rules, duplicates,
// rejected rows) is the snapshot stage's (snapshot.h), which drives a side through the reader
// interfaces below. The Mailchimp and CiviCRM clients implement them; tests substitute fakes.
//
// SyncSide, at the end, is the engine's view of a side: the snapshot stage over the side's reader,
// plus its writes (src/apply/side.cpp).
//
// Thread-safety: a reader calls its sink from the thread that called the reader, one call at a
// time. One run uses a SyncSide at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/decide.h"
#include "concord/field_value.h"
#include "concord/member.h"
#include "concord/plan.h"
#include "concord/record.h"  // RejectedRow
#include "concord/status.h"
#include "concord/time.h"

namespace concord {

class Store;
class PairHandle;

// What a read returns besides its records.
struct SideRead {
  std::uint64_t pages = 0;     // answers read (pages, or members asked for one by one)
  Micros watermark = kNoTime;  // read_all / read_since: where the next read_since may start;
                               // kNoTime when the read saw nothing to set it by
};

// ---- Mailchimp ----------------------------------------------------------------------------------

// One audience member as the Marketing API returned it (the fields of kMemberFields).
struct MailchimpRecord {
  std::string email;  // email_address as sent; the snapshot stage normalises and checks it
  MailchimpStatus status = MailchimpStatus::kAbsent;  // never kAbsent or kForgotten
  UnsubscribeOrigin unsubscribe_origin = UnsubscribeOrigin::kUnknown;  // unsubscribed members only
  Micros last_changed = kNoTime;   // kNoTime when Mailchimp sent none
  Micros timestamp_opt = kNoTime;  // the opt-in time; kNoTime when none
  // As Mailchimp sent them, for the stored body: the merge_fields object minified ("{}" when
  // absent), the two times (ISO 8601, or empty), and the unsubscribe reason (or empty).
  std::string merge_fields = "{}";
  std::string last_changed_text;
  std::string timestamp_opt_text;
  std::string unsubscribe_reason;
  // The member's contact_id (32 hex digits; empty when not sent): it survives an address change.
  std::string contact_id;
  // The names of the member's tags as sent (a member object shows at most 50), and the ids of the
  // interests it has (those whose value is true): what tag and interest targets read.
  std::vector<std::string> tags{};
  std::vector<std::string> interests{};
};

// Where a Mailchimp read puts what it reads. The sink is called from the reader's calling thread,
// one call at a time.
class MailchimpSink {
 public:
  virtual ~MailchimpSink() = default;
  // A page of members, in the order read. The sink may move the records out. A non-OK status
  // stops the read, which returns it.
  virtual Status records(std::vector<MailchimpRecord>& page) = 0;
  // A row that cannot be a member (no address, an unknown status, an unreadable time), naming the
  // field. A page's rejected rows are handed over before its records.
  virtual void reject(RejectedRow row) = 0;
  // read_members: the audience has no member with this (normalised) address: Mailchimp answered
  // 404 (never in the audience, or deleted permanently; archived members are still there).
  virtual void gone(const std::string& email) = 0;
};

// How many members of each of these statuses an audience has, as Mailchimp counts them (its list
// stats). Permanent deletions leave no trace in an incremental read; they show here.
struct AudienceCounts {
  std::int64_t subscribed = 0;
  std::int64_t unsubscribed = 0;
  std::int64_t cleaned = 0;

  bool operator==(const AudienceCounts&) const = default;
};

// What the snapshot stage asks of the Mailchimp side. On failure a read returns the error; what it
// handed the sink before that stays handed.
class MailchimpReader {
 public:
  virtual ~MailchimpReader() = default;
  // Every member of the list. The watermark is the server's time when the read began (its Date
  // header), else the latest last_changed seen, else the local time it began.
  virtual Result<SideRead> read_all(std::string_view list_id, MailchimpSink& sink) = 0;
  // The members changed since `watermark` (less a small overlap, to catch changes recorded
  // late). The watermark is the server's time when the read began, never before `watermark`;
  // without one, the latest last_changed seen (at least `watermark`).
  virtual Result<SideRead> read_since(std::string_view list_id, Micros watermark,
                                      MailchimpSink& sink) = 0;
  // These addresses' members, each asked for by itself (normalised, each once; blank ones
  // skipped: no address at all asks nothing). A 404 is sink.gone(); any other failure fails the
  // read. The watermark is kNoTime: targeted reads never move it.
  virtual Result<SideRead> read_members(std::string_view list_id,
                                        const std::vector<std::string>& emails,
                                        MailchimpSink& sink) = 0;
  // The audience's counts of subscribed, unsubscribed and cleaned members.
  virtual Result<AudienceCounts> audience_counts(std::string_view list_id) = 0;
};

// ---- CRM (CiviCRM) ------------------------------------------------------------------------------

// One address of a contact, as CiviCRM has it.
struct CrmAddress {
  std::string email;  // as stored in the CRM (not normalised; may be blank or not an address)
  bool is_primary = false;
  bool is_bulkmail = false;
  int on_hold = 0;  // 0 no, 1 bounces, 2 opted out
};

// One contact with history in the group: its latest SubscriptionHistory row, its flags, its names
// and every address it has.
struct CrmContact {
  std::int64_t contact_id = 0;
  CrmStatus status = CrmStatus::kNone;  // the latest row's status
  Micros changed_at = kNoTime;          // the latest row's date, in UTC (kNoTime: unreadable)
  bool trashed = false;                 // is_deleted
  bool do_not_email = false;
  bool is_opt_out = false;
  bool deceased = false;         // is_deceased
  Micros modified_at = kNoTime;  // the contact's modified_date, in UTC (kNoTime: none, unreadable)
  std::string first_name, last_name;
  // The mapped contact fields the reader was asked for (CiviCrmClient::with_fields), as text, by
  // field name, each asked-for field once (a blank or null value is "").
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<CrmAddress> addresses;  // in the CRM's order (by id)
};

// Where a CRM read puts the contacts it reads. Called from the reader's calling thread, one call at
// a time; each contact is handed over once, whole (its rows may have straddled pages).
class CrmSink {
 public:
  virtual ~CrmSink() = default;
  // A page of contacts. The sink may move them out. A non-OK status stops the read.
  virtual Status records(std::vector<CrmContact>& page) = 0;
};

// What the snapshot stage asks of the CRM side. On failure a read returns the error; what it
// handed the sink before that stays handed.
class CrmReader {
 public:
  virtual ~CrmReader() = default;
  // Every contact with a history row for the group (trashed ones included). The watermark is the
  // server's time when the read began, else the latest row date seen (kNoTime: none).
  virtual Result<SideRead> read_all(std::int64_t group_id, CrmSink& sink) = 0;
  // The contacts with history rows dated at or after `watermark` less a small overlap, and those
  // whose contact (flags, trash, addresses, names) was modified since then. The
  // watermark is the server's time when the read began (never before `watermark`), else the
  // latest row date seen (at least `watermark`).
  virtual Result<SideRead> read_since(std::int64_t group_id, Micros watermark, CrmSink& sink) = 0;
  // The contacts with history in the group that have one of these addresses (compared without
  // regard to case; trashed contacts included) or whose id is listed. The watermark is kNoTime.
  virtual Result<SideRead> read_contacts(std::int64_t group_id,
                                         const std::vector<std::string>& emails,
                                         const std::vector<std::int64_t>& contact_ids,
                                         CrmSink& sink) = 0;
  // The contacts that have one of these addresses (compared without regard to case; trashed ones
  // too, flagged), whatever groups they are in: each with that address as its only one, its flags,
  // names and modified_date, and status kNone (no history is read). For Mailchimp members the group
  // does not have yet: they are added to the group as these contacts, not created anew. A few
  // hundred addresses per call. The watermark is kNoTime.
  virtual Result<SideRead> read_by_address(const std::vector<std::string>& emails,
                                           CrmSink& sink) = 0;
};

// ---- one-way sources (Auth0, Mixpanel and Amplitude cohorts, Mautic segments) -----------------

// One person as a one-way source has them: an Auth0 user of the connection, a cohort member.
struct SourcePerson {
  // The source's own id for the person (Auth0 user_id, Mixpanel $distinct_id, Amplitude
  // amplitude_id or user_id): it survives an address change, as a CRM contact id does.
  std::string id;
  std::string email;  // as the source has it (not normalised; may be blank or not an address)
  bool email_verified = true;   // Auth0's email_verified; sources without one: true
  Micros updated_at = kNoTime;  // the source's last change of the person, when it says (Auth0)
  // The person asked not to be emailed (a Mautic email Do-Not-Contact entry): consent, as a CRM
  // contact's do_not_email is. Such a person is never subscribed.
  bool do_not_contact = false;
  // The attributes the reader was asked for (the pair's mapped fields), as text, by name, each
  // asked-for attribute once ("" when the person has none or it is null). Numbers and booleans
  // as JSON writes them; strings unquoted.
  std::vector<std::pair<std::string, std::string>> fields;
};

// Where a source read puts the people it reads. Called from the reader's calling thread, one call
// at a time.
class SourceSink {
 public:
  virtual ~SourceSink() = default;
  // A page of people, in the order read. The sink may move them out. A non-OK status stops the
  // read, which returns it.
  virtual Status records(std::vector<SourcePerson>& page) = 0;
  // A row that cannot be a person (no id, a malformed record), naming the field. A person with no
  // address or an invalid one is not rejected here: the snapshot stage decides and reports it.
  virtual void reject(RejectedRow row) = 0;
};

// What the snapshot stage asks of a one-way source: the set of people it mirrors (the users of
// one Auth0 connection; the members of one cohort), read whole or, where the source can say
// what changed, since a watermark.
class SourceReader {
 public:
  virtual ~SourceReader() = default;
  // Resolves what the configuration names (the connection, the cohort; by name or id), once;
  // later calls are free. kNotFound / kInvalid saying what is missing and what exists.
  virtual Status resolve() = 0;
  // The resolved set's display name (the cohort's name: the default tag), after resolve().
  virtual std::string set_name() const = 0;
  // Every person in the set. The watermark is the server's time when the read began, else the
  // local time it began.
  virtual Result<SideRead> read_all(SourceSink& sink) = 0;
  // Whether read_since() reads only what changed (Auth0's updated_at); a cohort is read whole.
  virtual bool incremental() const = 0;
  // The people changed since `watermark` (less a small overlap). REQUIRES: incremental().
  virtual Result<SideRead> read_since(Micros watermark, SourceSink& sink) = 0;
  // Whether the set's members can be listed by id (list_ids) and read by id (read_ids). A source
  // whose membership changes move no modification time (a Mautic segment: joining or leaving it,
  // and on recent Mautic a Do-Not-Contact change, leave dateModified as it was) completes each
  // incremental read with them: who joined is read, who left is OUT. Webhook deliveries that name
  // people are read with read_ids too.
  virtual bool lists_ids() const { return false; }
  // The ids of everyone in the set now. REQUIRES: lists_ids().
  virtual Result<std::vector<std::string>> list_ids() {
    return Status::failed_precondition("this source cannot list its members by id");
  }
  // Of `ids`, the people in the set, handed to `sink`; the ids of the others (no longer in the
  // set, or gone from the source) appended to *absent. The watermark is kNoTime. REQUIRES:
  // lists_ids().
  virtual Result<SideRead> read_ids(const std::vector<std::string>& ids, SourceSink& sink,
                                    std::vector<std::string>* absent) {
    (void)ids, (void)sink, (void)absent;
    return Status::failed_precondition("this source cannot read people by id");
  }
  // HTTP requests sent so far.
  virtual std::uint64_t requests() const = 0;
};

// ---- the engine's view --------------------------------------------------------------------------

// What one fetch of a side did to its snapshot.
struct FetchStats {
  std::uint64_t pages = 0;
  std::uint64_t members = 0;  // records received (written or rejected)
  std::uint64_t written = 0;
  std::uint64_t rejected = 0;
  std::uint64_t removed = 0;    // members no longer on the side, deleted from the snapshot
  std::uint64_t rechecked = 0;  // full fetch: members missing from the pages but still there
  Micros watermark = kNoTime;   // the watermark stored at the end (kNoTime: none was stored)
  bool full = false;            // every member was read (asked for, or for want of a watermark)
  // An incremental fetch found the side's counts differing from the snapshot's (members deleted
  // permanently) and read everything: the fetch was a full one after all.
  bool counts_differed = false;
};

// One write, as the engine hands it to a side.
struct SideWrite {
  OpKind kind;
  std::string email;            // normalised
  std::int64_t contact_id = 0;  // CRM writes on an existing contact
  // Fields to set along with the write (subscribe, pending, create contact) or by it (update
  // fields): Mailchimp merge tags or CRM contact fields → canonical value (field_value.h). Never
  // blank values.
  std::vector<std::pair<std::string, std::string>> fields;
  // Mailchimp update-fields: the member's status, which the write keeps.
  MailchimpStatus status = MailchimpStatus::kSubscribed;
  // Change-email writes: the address the member or contact has now (`email` is the new one).
  std::string from_email{};
};

struct SideOutcome {
  enum class Code : std::uint8_t {
    kDone,     // done (for Mailchimp subscribes: possibly as `pending`, see status)
    kRefused,  // refused for good; `conflict` says why; the member is reported, not retried
    kFailed,   // not done now; retry in a later run
  };
  Code code = Code::kFailed;
  Conflict conflict = Conflict::kNone;  // kRefused: compliance, cleaned, forgotten, invalid-email
  std::string message;                  // the side's words
  Micros changed_at = kNoTime;          // the side's time of the change, when it says
  // Mailchimp: the member's status after the write as far as the answer shows (kAbsent: unknown).
  MailchimpStatus status = MailchimpStatus::kAbsent;
  // CRM: the contact written (created or added), as its identity (moves.h), so that an address
  // changed before the next read is still recognised. (Mailchimp's batch answers carry no
  // contact_id: the engine reads added members back instead.)
  std::string identity{};
};

class SyncSide {
 public:
  virtual ~SyncSide() = default;
  virtual Side side() const = 0;
  // Resolves the audience/group named in the config (once; later calls are free). A name that
  // does not resolve is kInvalid/kNotFound saying so.
  virtual Status resolve() = 0;
  // Fetches into the pair's snapshot of this side: every member (full) or the changes since
  // the stored watermark.
  virtual Result<FetchStats> fetch(bool full, Store& store, const PairHandle& pair) = 0;
  // Reads these members (normalised emails) again into the pair's snapshot of this side: each
  // one's current record, or its removal when the side no longer has it. Watermarks stay.
  virtual Result<FetchStats> refresh(const std::vector<std::string>& emails, Store& store,
                                     const PairHandle& pair) = 0;
  // Reads these people again by the people side's own ids (a source's webhook named them: Mautic
  // contact ids), as refresh() does by address; `emails` gets the addresses involved, old and
  // new, for the other side to read again. Sides that cannot: kFailedPrecondition.
  virtual Result<FetchStats> refresh_people(const std::vector<std::string>& ids, Store& store,
                                            const PairHandle& pair,
                                            std::vector<std::string>* emails) {
    (void)ids, (void)store, (void)pair, (void)emails;
    return Status::failed_precondition("this side's people cannot be read again by id");
  }
  // Once both sides are read: the people this side knows outside the synced set whom the other
  // side has (a CRM contact outside the group with the address of a Mailchimp subscriber), into
  // the snapshot as members with no history, so that the plan adds them rather than creating
  // them. Sides without such people do nothing.
  virtual Result<FetchStats> look_up_outside(Store&, const PairHandle&) { return FetchStats{}; }
  // The merge fields of the audience (read once; later calls are free), for the sync's field
  // mapping. Sides without merge fields have none.
  virtual Result<std::vector<MergeFieldSpec>> merge_fields() {
    return std::vector<MergeFieldSpec>{};
  }
  // Applies writes (the engine hands at most batch_size() at a time); outcomes[i] belongs to
  // writes[i].
  virtual std::vector<SideOutcome> apply(const std::vector<SideWrite>& writes) = 0;
  virtual std::size_t batch_size() const = 0;
  // How many batches the engine may have apply() send at once (from several threads): the
  // side's connection budget when each batch's calls go one after another. A side that spreads
  // a batch over its connections itself, or is not safe to call from several threads, keeps 1.
  virtual std::size_t concurrent_batches() const { return 1; }
  // HTTP requests sent so far.
  virtual std::uint64_t requests() const = 0;
};

class MailchimpClient;
class CiviCrmClient;

// The snapshot stage over the real clients. The clients are shared (one per account) and must
// outlive the adapters. `audience`/`group` are what the config names (id or name). Errors leaving
// them say which system they came from (Status::origin()).
//
// A pair's Mailchimp target: the audience's membership, or a tag or an interest of it. The tag
// is named, or (a cohort's default) given by `tag_name` once the people side is resolved; one
// the audience does not have yet is created by the first write that puts it on someone. The
// interest is "Category: Interest" and must exist.
struct MailchimpTarget {
  TargetKind kind = TargetKind::kAudience;
  std::string tag;
  std::function<Result<std::string>()> tag_name{};  // when `tag` is empty
  std::string interest;
  const Clock* clock = nullptr;  // dates the tag and interest flips a fetch sees; default system
};
std::unique_ptr<SyncSide> mailchimp_side(MailchimpClient& client, std::string audience,
                                         Resubscribe resubscribe, MailchimpTarget target = {});
// `fields`: the contact fields the sync maps (read with every contact).
std::unique_ptr<SyncSide> civicrm_side(CiviCrmClient& client, std::string group,
                                       std::vector<std::string> fields = {});

// A one-way source as a pair's people side: the snapshot stage over its reader (fetch_source);
// nothing is ever written to it (apply() refuses every write). `origin` names the system in
// errors (Origin::kAuth0, …); `set` is what the configuration names (the connection, the
// cohort), which keys the watermark; `verified_only`: only verified addresses are IN. People
// first seen in the set are dated by `clock`. Webhook refreshes read nothing from a source (it
// sends no webhooks): the stored set stands until the next fetch.
struct SourceSideOptions {
  Origin origin = Origin::kNone;
  std::string set;
  bool verified_only = false;
};
std::unique_ptr<SyncSide> source_side(std::unique_ptr<SourceReader> reader,
                                      SourceSideOptions options, const Clock& clock);

}  // namespace concord
