// decide(): the decision rules (docs/decision-rules.md) for one member, as a pure function.
//
// Given what each side says now and what they last agreed on (the base), decide() says which side
// wins, what to do on each side, and whether a person should see it in the conflict report.
//
// Thread-safety: pure; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/member.h"
#include "concord/time.h"

namespace concord {

enum class TieRule : std::uint8_t {
  kCrm = 0,        // equal times: the CRM wins (as the established CiviCRM extension does)
  kMailchimp = 1,  // equal times: Mailchimp wins
  kOut = 2,        // equal times: the side saying OUT wins
};
enum class Resubscribe : std::uint8_t {
  kPending = 0,  // a self-unsubscribed member the CRM wants IN is sent `pending` (a confirmation)
  kNever = 1,    // … is left alone and reported
};
enum class RemovalMode : std::uint8_t {
  kUnsubscribe = 0,  // CRM wins OUT → Mailchimp `unsubscribed`
  kArchive = 1,      // CRM wins OUT → Mailchimp archive (DELETE); never a permanent delete
  kNone = 2,         // a one-way pair that only adds and updates (Auth0's extension): OUT is
                     // never written to Mailchimp
};
// Which way a pair's decisions may go. Two-way pairs follow the rules below; a one-way pair
// mirrors its people side into Mailchimp: that side wins every disagreement and nothing is ever
// written back to it (the one-way sources of the next integrations).
enum class Direction : std::uint8_t {
  kTwoWay = 0,       // CiviCRM ↔ Mailchimp
  kToMailchimp = 1,  // people side → Mailchimp only
};

// What a pair keeps in agreement on the Mailchimp side: the audience's membership, a tag, or an
// interest (a group, in the web app). For a tag or an interest, IN is "carries it"
// (MailchimpState::mark): the status is left alone, except that someone not in the audience is
// added (subscribed, or pending with double opt-in) to carry it.
enum class TargetKind : std::uint8_t { kAudience = 0, kTag = 1, kInterest = 2 };

enum class Trust : std::uint8_t {
  kNone = 0,  // the rules decide
  kCrm = 1,   // the CRM wins every disagreement (this run only)
  kMailchimp = 2,
};

// The options of one sync pair, plus the per-run overrides. Defaults are the documented ones
// (docs/configuration.md).
struct SyncOptions {
  Direction direction = Direction::kTwoWay;
  TieRule tie = TieRule::kCrm;
  Micros skew_margin = 0;  // times within this many µs of each other are equal
  Resubscribe resubscribe = Resubscribe::kPending;
  bool double_opt_in = false;  // subscribe new members as `pending`
  RemovalMode removal = RemovalMode::kUnsubscribe;
  bool hold_cleaned = true;         // a cleaned member also puts the CRM email on hold
  bool respect_crm_opt_out = true;  // never subscribe do-not-email / opted-out / on-hold contacts
  double max_removal_fraction = 0.10;  // guard: planned removals per side / that side's IN members
  // Guard, once a run of the pair has completed: planned subscribes / the audience's IN members,
  // and planned new CRM contacts / the group's IN members.
  double max_addition_fraction = 0.25;
  // A one-way pair that mirrors its set exactly (a cohort): every Mailchimp member outside the set
  // is taken out (the removal mode permitting). Otherwise (Auth0) only members concord mirrored
  // IN (their base is IN) leave when they leave the set; others were never the source's.
  bool exact_mirror = false;
  TargetKind target = TargetKind::kAudience;

  // Per run:
  Trust trust = Trust::kNone;
  bool allow_mass_removal = false;   // lifts the removal-fraction guard for this run
  bool allow_mass_addition = false;  // lifts the addition-fraction guard for this run
};

enum class Winner : std::uint8_t { kNone = 0, kMailchimp = 1, kCrm = 2 };

enum class MailchimpAction : std::uint8_t {
  kNone = 0,
  kSubscribe = 1,    // add or set `subscribed`
  kPending = 2,      // add or set `pending`: Mailchimp mails a confirmation
  kUnsubscribe = 3,  // set `unsubscribed`
  kArchive = 4,      // DELETE (archive)
  kMark = 5,         // a tag or interest target: put the tag on (set the interest); status stays
  kUnmark = 6,       // … take the tag off (clear the interest); never an unsubscribe
};
enum class CrmAction : std::uint8_t {
  kNone = 0,
  kAdd = 1,            // add the existing contact to the group (status Added)
  kCreateContact = 2,  // no usable contact has the email: create one, then add it
  kRemove = 3,         // status Removed
};

// The class of a report row: why a person should look at this member.
enum class Conflict : std::uint8_t {
  kNone = 0,
  kBothChanged = 1,  // both sides changed since they last agreed; the rules settled it
  kCompliance = 2,   // Mailchimp will not subscribe a self-unsubscribed member
  kCleaned = 3,      // the address bounced in Mailchimp
  kForgotten = 4,    // the address was permanently deleted from Mailchimp
  kInvalidEmail = 5,
  kDuplicate = 6,  // several CRM contacts share the email
  kOptOut = 7,     // the CRM contact must not be mailed
  kFailedWrite = 8,
  kGuard = 9,
  // A mapped field's value the other side would refuse (not a number, not a date, …): not sent;
  // the row says which field and why. It informs: the member's membership is in agreement.
  kInvalidField = 10,
  // A person's address changed on one side and the other cannot follow: the new address belongs
  // to another member or contact there, or the change was refused. Nothing is merged; both
  // addresses stay until a person settles it.
  kAddressChange = 11,
  // `concord undo`: the member changed after the undone run (a person, on either side, or a
  // later run); the undo leaves it as it is.
  kChangedSinceRun = 12,
};
inline constexpr std::uint8_t kConflictMax = 12;

// Why the winner won.
enum class Reason : std::uint8_t {
  kAgree = 0,                 // both sides say the same: no membership action
  kOnlyMailchimpChanged = 1,  // since the base (or first sight)
  kOnlyCrmChanged = 2,
  kMailchimpLater = 3,  // both changed; Mailchimp's change is later
  kCrmLater = 4,
  kTieCrm = 5,  // both changed at equal times (within skew_margin); tie rule
  kTieMailchimp = 6,
  kTieOut = 7,
  kTrustCrm = 8,  // --trust
  kTrustMailchimp = 9,
  kOneWay = 10,  // a one-way pair: the people side is the source
  kUndo = 11,    // `concord undo`: the inverse of a write of the undone run
};

// What happened to the winner's wish, where it was not a plain write.
enum class Note : std::uint8_t {
  kNone = 0,
  kResubscribePending = 1,         // self-unsubscribed: `pending` sent (resubscribe = "pending")
  kSelfUnsubscribedNotResent = 2,  // self-unsubscribed: left alone (resubscribe = "never")
  kCleanedNotResubscribed = 3,     // cleaned addresses are never resubscribed
  kForgottenNotResubscribed = 4,   // permanently deleted addresses cannot be re-added
  kCrmOptOut = 5,                  // the contact is do-not-email / opted out / on hold
  kPendingNotArchived = 6,         // Mailchimp cannot archive a pending member: unsubscribed
  kTrashedContactReplaced = 7,     // the only contact with the email is in the trash
  kCleanedRemoved = 8,             // a cleaned member removed from the group (and held)
  kRefusedAsInvalid = 9,           // Mailchimp refused the address as invalid before
  kConsentWithdrawn = 10,          // in the group, but the contact must not be mailed: unsubscribed
  kConsentFlagKept = 11,  // subscribed in Mailchimp after the CRM flag was set: a person decides
  // A one-way pair that is not an exact mirror: a Mailchimp member the source never had (or
  // concord never mirrored) is left as it is.
  kNotFromSource = 12,
};
inline constexpr std::uint8_t kNoteMax = 12;  // decoders refuse a stored note above it

struct Decision {
  Winner winner = Winner::kNone;
  Membership target = Membership::kOut;  // the membership the winner holds (or both agree on)
  Reason reason = Reason::kAgree;
  MailchimpAction mailchimp = MailchimpAction::kNone;
  CrmAction crm = CrmAction::kNone;
  bool hold_email = false;              // put the CRM email on hold (cleaned member)
  Conflict conflict = Conflict::kNone;  // the main class when a person should look at it
  Note note = Note::kNone;
  bool duplicate =
      false;  // several CRM contacts share the email (reported even with another class)

  bool has_action() const {
    return mailchimp != MailchimpAction::kNone || crm != CrmAction::kNone || hold_email;
  }
  bool needs_report() const { return conflict != Conflict::kNone || duplicate; }
};

// Decides one member. `options.direction` says which way it may go.
//   base: what the sides last agreed on; nullptr when they never have (first run, or a new
//         member). With no base, a side where the member is present has changed and a side where
//         it is absent has not (so one-sided members are copied across).
Decision decide(const MailchimpState& mailchimp, const CrmState& crm, const BaseState* base,
                const SyncOptions& options);

// Whether a side has changed since the base (docs/decision-rules.md). Exposed for the diff and for
// tests.
// Compares two change times: <0, 0 (equal, or within `margin`), >0. kNoTime is older than any.
int compare_change_times(Micros a, Micros b, Micros margin);

// The CRM side is seen as CrmState::mailchimp_membership / mailchimp_changed_at say, with
// `respect_consent` (SyncOptions::respect_crm_opt_out).
bool mailchimp_changed(const MailchimpState& mailchimp, const BaseState* base);
bool crm_changed(const CrmState& crm, const BaseState* base, bool respect_consent);

std::string_view winner_name(Winner w);           // "none" | "mailchimp" | "crm"
std::string_view trust_name(Trust t);             // "" (the rules decide) | "crm" | "mailchimp"
std::string_view action_name(MailchimpAction a);  // "subscribe", "pending", …
std::string_view action_name(CrmAction a);        // "add", "create_contact", "remove"
std::string_view conflict_name(Conflict c);       // "both-changed", "compliance", …
std::string_view reason_name(Reason r);           // "only-mailchimp-changed", …
std::string_view note_name(Note n);

// One sentence a person can read: why this member gets this outcome.
std::string explain(const Decision& d);

}  // namespace concord
