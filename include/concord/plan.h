// A Plan: what a run will do on each side, and what a person should look at.
//
// The diff produces it; `concord plan` shows it; the applier executes its operations. Operations
// are emitted through a PlanSink so that a caller may stream them (to the journal) instead of
// holding them; Plan is the sink that keeps everything in memory.
//
// Thread-safety: a Plan or PlanSink is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/decide.h"
#include "concord/email.h"
#include "concord/record.h"

namespace concord {

enum class OpKind : std::uint8_t {
  kMailchimpSubscribe = 0,
  kMailchimpPending = 1,
  kMailchimpUnsubscribe = 2,
  kMailchimpArchive = 3,
  kCrmAdd = 4,
  kCrmCreateContact = 5,  // create the contact with its email, then add it to the group
  kCrmRemove = 6,
  kCrmHoldEmail = 7,
  kMailchimpUpdateFields = 8,  // mapped fields only (Operation::fields); the status stays
  kCrmUpdateFields = 9,        // the contact's mapped fields only
  // The person's address changed on the other side (moves.h): this side's member or contact gets
  // the new address (Operation::email), keeping its history; Operation::from_email is the old one.
  kMailchimpChangeEmail = 10,
  kCrmChangeEmail = 11,
  // A tag or interest target (TargetKind): the member's tag put on or taken off, its interest set
  // or cleared. The member's status stays (someone not in the audience is subscribed instead, by
  // kMailchimpSubscribe or kMailchimpPending carrying the tag or interest).
  kMailchimpAddTag = 12,
  kMailchimpRemoveTag = 13,
  kMailchimpAddInterest = 14,
  kMailchimpRemoveInterest = 15,
  // `concord undo` (undo.h) of a hold concord set: the address's on_hold back to 0.
  kCrmReleaseHold = 16,
};
inline constexpr std::size_t kOpKindCount = 17;

// What an operation means, in one place: every reader (the diff, the engine, the adapters, the
// renderers) asks this table instead of switching over OpKind.
struct OpKindInfo {
  OpKind kind;
  Side side;                  // where it is written
  bool membership;            // it changes the member's membership on its side (not a hold, not
                              // a field update)
  Membership target;          // the membership it leaves on its side (membership ops)
  MailchimpStatus mc_status;  // Mailchimp ops: the status it leaves (kAbsent for CRM ops)
  CrmStatus crm_status;       // CRM membership ops: the history status it leaves
  std::string_view name;      // the plan's name, as `concord plan --json` counts it
};
inline constexpr OpKindInfo kOpKinds[kOpKindCount] = {
    {OpKind::kMailchimpSubscribe, Side::kMailchimp, true, Membership::kIn,
     MailchimpStatus::kSubscribed, CrmStatus::kNone, "add_to_mailchimp"},
    {OpKind::kMailchimpPending, Side::kMailchimp, true, Membership::kIn, MailchimpStatus::kPending,
     CrmStatus::kNone, "pending_in_mailchimp"},
    {OpKind::kMailchimpUnsubscribe, Side::kMailchimp, true, Membership::kOut,
     MailchimpStatus::kUnsubscribed, CrmStatus::kNone, "unsubscribe_in_mailchimp"},
    {OpKind::kMailchimpArchive, Side::kMailchimp, true, Membership::kOut,
     MailchimpStatus::kArchived, CrmStatus::kNone, "archive_in_mailchimp"},
    {OpKind::kCrmAdd, Side::kCrm, true, Membership::kIn, MailchimpStatus::kAbsent,
     CrmStatus::kAdded, "add_to_crm"},
    {OpKind::kCrmCreateContact, Side::kCrm, true, Membership::kIn, MailchimpStatus::kAbsent,
     CrmStatus::kAdded, "create_crm_contact"},
    {OpKind::kCrmRemove, Side::kCrm, true, Membership::kOut, MailchimpStatus::kAbsent,
     CrmStatus::kRemoved, "remove_from_crm"},
    {OpKind::kCrmHoldEmail, Side::kCrm, false, Membership::kOut, MailchimpStatus::kAbsent,
     CrmStatus::kNone, "hold_crm_email"},
    {OpKind::kMailchimpUpdateFields, Side::kMailchimp, false, Membership::kIn,
     MailchimpStatus::kAbsent, CrmStatus::kNone, "update_mailchimp_fields"},
    {OpKind::kCrmUpdateFields, Side::kCrm, false, Membership::kIn, MailchimpStatus::kAbsent,
     CrmStatus::kNone, "update_crm_fields"},
    {OpKind::kMailchimpChangeEmail, Side::kMailchimp, false, Membership::kIn,
     MailchimpStatus::kAbsent, CrmStatus::kNone, "change_email_in_mailchimp"},
    {OpKind::kCrmChangeEmail, Side::kCrm, false, Membership::kIn, MailchimpStatus::kAbsent,
     CrmStatus::kNone, "change_email_in_crm"},
    {OpKind::kMailchimpAddTag, Side::kMailchimp, true, Membership::kIn, MailchimpStatus::kAbsent,
     CrmStatus::kNone, "add_tag_in_mailchimp"},
    {OpKind::kMailchimpRemoveTag, Side::kMailchimp, true, Membership::kOut,
     MailchimpStatus::kAbsent, CrmStatus::kNone, "remove_tag_in_mailchimp"},
    {OpKind::kMailchimpAddInterest, Side::kMailchimp, true, Membership::kIn,
     MailchimpStatus::kAbsent, CrmStatus::kNone, "add_interest_in_mailchimp"},
    {OpKind::kMailchimpRemoveInterest, Side::kMailchimp, true, Membership::kOut,
     MailchimpStatus::kAbsent, CrmStatus::kNone, "remove_interest_in_mailchimp"},
    {OpKind::kCrmReleaseHold, Side::kCrm, false, Membership::kIn, MailchimpStatus::kAbsent,
     CrmStatus::kNone, "release_crm_hold"},
};
// REQUIRES: k is a declared OpKind (values read from the store are checked when decoded).
constexpr const OpKindInfo& op_info(OpKind k) {
  return kOpKinds[static_cast<std::size_t>(k)];
}
constexpr Side side_of(OpKind k) {
  return op_info(k).side;
}
// add_to_mailchimp, pending_in_mailchimp, unsubscribe_in_mailchimp, archive_in_mailchimp,
// add_to_crm, create_crm_contact, remove_from_crm, hold_crm_email, update_mailchimp_fields,
// update_crm_fields, change_email_in_mailchimp, change_email_in_crm, add_tag_in_mailchimp,
// remove_tag_in_mailchimp, add_interest_in_mailchimp, remove_interest_in_mailchimp,
// release_crm_hold.
constexpr std::string_view op_kind_name(OpKind k) {
  return op_info(k).name;
}

// A mapped field an operation writes: the merge tag and the value (canonical, field_value.h) the
// written side gets.
struct OpField {
  std::string tag;
  std::string value;

  bool operator==(const OpField&) const = default;
};

// What the written side held before an operation, kept in the journal so that `concord undo`
// (undo.h) can put it back.
struct OpBefore {
  // The written side's status: a MailchimpStatus (Mailchimp operations) or a CrmStatus (CRM ones).
  std::uint8_t status = 0;
  // The written fields' values before the write (canonical; "" when blank), in the operation's
  // field order.
  std::vector<OpField> fields{};
  // The member's base before the run (nullopt: it had none).
  std::optional<BaseRecord> base{};

  bool operator==(const OpBefore&) const = default;
};

struct Operation {
  MemberKey key;
  std::string email;  // normalised
  OpKind kind;
  Reason reason;
  Note note = Note::kNone;
  // Mapped fields written along (subscribe, pending, create contact) or alone (update fields).
  std::vector<OpField> fields;
  // Change-email operations: the address the member or contact has now (normalised).
  std::string from_email;
  // The base to store once the member's membership operation succeeded. The written side's
  // change time is kNoTime here: the applier sets it to the time of the write. Its field bases
  // are those this operation settles (the fields it writes, and those already equal); the applier
  // merges them into the stored base.
  BaseRecord base_after;
  // What the written side held before (nullopt in journals written before it was kept).
  std::optional<OpBefore> before{};
  // An undo's write (undo.h): once it took effect the member's base is `before->base` again
  // (none: the base is erased), with the written side's time of the write; base_after is unused.
  bool restores_base = false;
};

// One member a person should look at.
struct ReportRow {
  MemberKey key;
  std::string email;  // normalised; for invalid-email rows, the address as the side gave it
  Conflict conflict = Conflict::kNone;
  std::optional<MailchimpState> mailchimp;  // nullopt: not in the Mailchimp snapshot
  std::optional<CrmState> crm;              // nullopt: not in the CRM snapshot
  std::optional<BaseState> base;
  Decision decision;
  std::string reason;  // one sentence (explain(), or the reject's message)
  std::string side;    // invalid-email rows: the side that returned the row
};

struct PlanCounts {
  std::uint64_t add_to_mailchimp = 0;
  std::uint64_t pending_in_mailchimp = 0;
  std::uint64_t unsubscribe_in_mailchimp = 0;
  std::uint64_t archive_in_mailchimp = 0;
  std::uint64_t add_to_crm = 0;
  std::uint64_t create_crm_contact = 0;
  std::uint64_t remove_from_crm = 0;
  std::uint64_t hold_crm_email = 0;
  std::uint64_t update_mailchimp_fields = 0;
  std::uint64_t update_crm_fields = 0;
  std::uint64_t change_email_in_mailchimp = 0;
  std::uint64_t change_email_in_crm = 0;
  std::uint64_t add_tag_in_mailchimp = 0;
  std::uint64_t remove_tag_in_mailchimp = 0;
  std::uint64_t add_interest_in_mailchimp = 0;
  std::uint64_t remove_interest_in_mailchimp = 0;
  std::uint64_t release_crm_hold = 0;
  std::uint64_t unchanged = 0;     // members with no membership operation
  std::uint64_t unchanged_in = 0;  // … of which both sides have IN ("stays subscribed")
  std::uint64_t report_rows = 0;

  // Sizes the guards compare against.
  std::uint64_t mailchimp_members = 0;  // entries in the Mailchimp snapshot
  std::uint64_t crm_members = 0;
  std::uint64_t mailchimp_in = 0;  // IN members per side
  std::uint64_t crm_in = 0;
  std::uint64_t base_members = 0;
  std::uint64_t base_in = 0;

  // The counter of an operation kind, in OpKind order.
  std::uint64_t& of(OpKind k);
  std::uint64_t of(OpKind k) const;
  // Membership taken away in Mailchimp: unsubscribes and archives, or (a tag or interest target)
  // tags taken off and interests cleared.
  std::uint64_t removals_in_mailchimp() const {
    return unsubscribe_in_mailchimp + archive_in_mailchimp + remove_tag_in_mailchimp +
           remove_interest_in_mailchimp;
  }
  std::uint64_t operations() const;
};

class PlanSink {
 public:
  virtual ~PlanSink() = default;
  virtual void operation(Operation&& op) = 0;
  virtual void report(ReportRow&& row) = 0;
  // The sides agree: store this base for the member (nullopt: erase the member's base, because
  // neither side has the member any more).
  virtual void base_update(const MemberKey& key, const std::optional<BaseRecord>& base) = 0;
};

// What the guards say about a plan (docs/decision-rules.md, "Guards").
struct GuardVerdict {
  bool stop = false;
  std::vector<std::string> reasons;  // one sentence per tripped guard
};
// `first_run`: no run of the pair has completed before (a first migration, also when it is
// resumed after a kill): it adds everyone by design, so the addition guard does not apply.
GuardVerdict check_guards(const PlanCounts& counts, const SyncOptions& options, bool first_run);
// Whether check_guards() could stop some plan of a pair with these options, before the plan is
// made: false only when removals are allowed, additions are (or it is the first run), and the
// base is empty (the empty-side guards compare a side with the base). A run no guard can stop
// may send while it plans (engine.cpp).
bool guards_may_stop(const SyncOptions& options, bool first_run, bool base_empty);

// The in-memory sink.
class Plan final : public PlanSink {
 public:
  void operation(Operation&& op) override { operations.push_back(std::move(op)); }
  void report(ReportRow&& row) override { reports.push_back(std::move(row)); }
  void base_update(const MemberKey& key, const std::optional<BaseRecord>& base) override {
    base_updates.emplace_back(key, base);
  }

  bool first_run = false;
  PlanCounts counts;
  std::vector<Operation> operations;
  std::vector<ReportRow> reports;
  std::vector<std::pair<MemberKey, std::optional<BaseRecord>>> base_updates;
};

}  // namespace concord
