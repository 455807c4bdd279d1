// decide(): the decision rules (docs/decision-rules.md), as a table. One row per person or rule;
// each row runs in its own DYNAMIC_SECTION named after it, so a failure names the rule that broke.
#include "concord/decide.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "concord/member.h"
#include "concord/time.h"

// Print the enums by name when a check fails.
namespace Catch {
template <>
struct StringMaker<concord::Winner> {
  static std::string convert(concord::Winner v) { return std::string(concord::winner_name(v)); }
};
template <>
struct StringMaker<concord::MailchimpAction> {
  static std::string convert(concord::MailchimpAction v) {
    return std::string(concord::action_name(v));
  }
};
template <>
struct StringMaker<concord::CrmAction> {
  static std::string convert(concord::CrmAction v) { return std::string(concord::action_name(v)); }
};
template <>
struct StringMaker<concord::Conflict> {
  static std::string convert(concord::Conflict v) { return std::string(concord::conflict_name(v)); }
};
template <>
struct StringMaker<concord::Note> {
  static std::string convert(concord::Note v) { return std::string(concord::note_name(v)); }
};
template <>
struct StringMaker<concord::Reason> {
  static std::string convert(concord::Reason v) { return std::string(concord::reason_name(v)); }
};
template <>
struct StringMaker<concord::Membership> {
  static std::string convert(concord::Membership v) {
    return v == concord::Membership::kIn ? "IN" : "OUT";
  }
};
}  // namespace Catch

namespace concord {
namespace {

// Short names for the enums whose members clash (kPending, kNone, …).
using MS = MailchimpStatus;
using CS = CrmStatus;
using MA = MailchimpAction;
using CA = CrmAction;
using Origin = UnsubscribeOrigin;

// UTC midnight (plus h:m:s) of a civil date, as Micros.
Micros utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  using namespace std::chrono;
  const sys_seconds t =
      sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss};
  return duration_cast<microseconds>(t.time_since_epoch()).count();
}
// The documented table is in one year.
Micros jan(unsigned d) {
  return utc(2026, 1, d);
}
constexpr Micros kSecond = kMicrosPerSecond;

// What the sides last agreed on.
BaseState agreed(Membership m, Micros mailchimp_at, Micros crm_at) {
  return BaseState{.membership = m, .mailchimp_changed_at = mailchimp_at, .crm_changed_at = crm_at};
}
constexpr Membership kIn = Membership::kIn;
constexpr Membership kOut = Membership::kOut;

// A Mailchimp member.
MailchimpState mc(MS status, Micros at, Origin origin = Origin::kUnknown) {
  return MailchimpState{.status = status, .unsubscribe_origin = origin, .changed_at = at};
}
// A member of a tag or interest pair: its status, and whether it carries the tag.
MailchimpState tagged(MS status, Membership carries, Micros at, Origin origin = Origin::kUnknown) {
  MailchimpState m = mc(status, at, origin);
  m.mark = carries;
  return m;
}
MailchimpState mc_absent() {
  return MailchimpState{};
}

// A CRM contact that exists, with its latest history row for the group.
CrmState crm(CS status, Micros at) {
  return CrmState{.status = status, .changed_at = at, .contact_known = true};
}
// No contact has the email at all.
CrmState crm_no_contact() {
  return CrmState{};
}

// The status_changed_at the store computes for a subscribed member whose name was edited on 1 Mar
// (last_changed moved) after it was stored as subscribed on 1 Jan.
Micros field_edit_changed_at() {
  return mailchimp_status_changed_at(StoredMailchimpStatus{MS::kSubscribed, jan(1)},
                                     MS::kSubscribed, /*last_changed=*/utc(2026, 3, 1),
                                     /*timestamp_opt=*/jan(1));
}

struct Row {
  std::string name;
  MailchimpState mailchimp = {};
  CrmState crm = {};
  std::optional<BaseState> base = std::nullopt;  // nullopt: first run / new member
  SyncOptions options = {};  // the documented defaults unless the row says otherwise

  // Expected; fields left out expect Decision's defaults (nothing to do, nothing to report).
  Winner winner = Winner::kNone;
  Reason reason = Reason::kAgree;
  MailchimpAction mc_action = MA::kNone;
  CrmAction crm_action = CA::kNone;
  bool hold_email = false;
  Conflict conflict = Conflict::kNone;
  Note note = Note::kNone;
  bool duplicate = false;
  std::string explain_has = {};  // when set, explain() must mention it
};

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      // ---- rule 4 (docs/decision-rules.md): the five people of the first run (no base)
      {.name = "Wilma: subscribed 1 Jan, added 5 Jan -> stays subscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kAdded, jan(5)),
       .explain_has = "both sides have the member IN"},
      {.name = "Barney: unsubscribed 2 Jan, added 1 Jan -> removed from the CRM group",
       .mailchimp = mc(MS::kUnsubscribed, jan(2)),
       .crm = crm(CS::kAdded, jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kMailchimpLater,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kBothChanged,
       .explain_has = "Mailchimp's change is later"},
      {.name = "Fred: subscribed 3 Jan, removed 4 Jan -> unsubscribed in Mailchimp",
       .mailchimp = mc(MS::kSubscribed, jan(3)),
       .crm = crm(CS::kRemoved, jan(4)),
       .winner = Winner::kCrm,
       .reason = Reason::kCrmLater,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged,
       .explain_has = "the CRM's change is later"},
      {.name = "Betty: absent, added 4 Jan -> added to Mailchimp",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(4)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},
      {.name = "Pebbles: subscribed 1 Jan, never in group, no contact -> contact created and added",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm_no_contact(),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kCreateContact},
      {.name = "Pebbles variant: contact exists but never in group -> added to the CRM group",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kNone, kNoTime),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kAdd},

      // ---- rule 2: exactly one side changed since the base
      {.name = "only Mailchimp changed (unsubscribed after the base) -> CRM remove",
       .mailchimp = mc(MS::kUnsubscribed, jan(10), Origin::kSelf),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove,
       .explain_has = "only Mailchimp changed"},
      {.name = "only Mailchimp changed wins even when the CRM's (unchanged) time is later",
       .mailchimp = mc(MS::kUnsubscribed, jan(10)),
       .crm = crm(CS::kAdded, jan(20)),
       .base = agreed(kIn, jan(1), jan(20)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove},
      {.name = "only the CRM changed (removed after the base) -> Mailchimp unsubscribe",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe,
       .explain_has = "only the CRM changed"},
      {.name = "only the CRM changed (added), Mailchimp unsubscribed by an admin -> subscribe",
       .mailchimp = mc(MS::kUnsubscribed, jan(1), Origin::kAdmin),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},
      {.name = "only the CRM changed (added), unsubscribe origin unknown -> subscribe",
       .mailchimp = mc(MS::kUnsubscribed, jan(1), Origin::kUnknown),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},

      // ---- rule 3: both changed -> the later change wins
      {.name = "both changed, Mailchimp later -> Mailchimp wins OUT",
       .mailchimp = mc(MS::kUnsubscribed, jan(10)),
       .crm = crm(CS::kAdded, jan(5)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kMailchimpLater,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kBothChanged},
      {.name = "both changed, CRM later -> CRM wins OUT",
       .mailchimp = mc(MS::kSubscribed, jan(5)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kCrmLater,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged},

      // ---- rule 3: equal times -> the tie rule
      {.name = "equal times, tie = crm (default) -> CRM wins",
       .mailchimp = mc(MS::kSubscribed, jan(5)),
       .crm = crm(CS::kRemoved, jan(5)),
       .winner = Winner::kCrm,
       .reason = Reason::kTieCrm,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged,
       .explain_has = "tie rule favours the CRM"},
      {.name = "equal times, tie = mailchimp -> Mailchimp wins",
       .mailchimp = mc(MS::kSubscribed, jan(5)),
       .crm = crm(CS::kRemoved, jan(5)),
       .options = {.tie = TieRule::kMailchimp},
       .winner = Winner::kMailchimp,
       .reason = Reason::kTieMailchimp,
       .crm_action = CA::kAdd,
       .conflict = Conflict::kBothChanged},
      {.name = "equal times, tie = out, Mailchimp says OUT -> Mailchimp wins",
       .mailchimp = mc(MS::kUnsubscribed, jan(5)),
       .crm = crm(CS::kAdded, jan(5)),
       .options = {.tie = TieRule::kOut},
       .winner = Winner::kMailchimp,
       .reason = Reason::kTieOut,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kBothChanged},
      {.name = "equal times, tie = out, CRM says OUT -> CRM wins",
       .mailchimp = mc(MS::kSubscribed, jan(5)),
       .crm = crm(CS::kRemoved, jan(5)),
       .options = {.tie = TieRule::kOut},
       .winner = Winner::kCrm,
       .reason = Reason::kTieOut,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged},
      {.name = "skew_margin 2 s: Mailchimp 2 s later counts as a tie -> tie = crm",
       .mailchimp = mc(MS::kSubscribed, jan(5) + 2 * kSecond),
       .crm = crm(CS::kRemoved, jan(5)),
       .options = {.skew_margin = 2 * kSecond},
       .winner = Winner::kCrm,
       .reason = Reason::kTieCrm,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged},
      {.name = "skew_margin 2 s: CRM 2 s later counts as a tie -> tie = mailchimp",
       .mailchimp = mc(MS::kSubscribed, jan(5)),
       .crm = crm(CS::kRemoved, jan(5) + 2 * kSecond),
       .options = {.tie = TieRule::kMailchimp, .skew_margin = 2 * kSecond},
       .winner = Winner::kMailchimp,
       .reason = Reason::kTieMailchimp,
       .crm_action = CA::kAdd,
       .conflict = Conflict::kBothChanged},
      {.name = "skew_margin 1 s: Mailchimp 2 s later is not a tie -> Mailchimp wins",
       .mailchimp = mc(MS::kSubscribed, jan(5) + 2 * kSecond),
       .crm = crm(CS::kRemoved, jan(5)),
       .options = {.skew_margin = 1 * kSecond},
       .winner = Winner::kMailchimp,
       .reason = Reason::kMailchimpLater,
       .crm_action = CA::kAdd,
       .conflict = Conflict::kBothChanged},
      {.name = "no skew_margin (default): 1 s later is later",
       .mailchimp = mc(MS::kSubscribed, jan(5) + 1 * kSecond),
       .crm = crm(CS::kRemoved, jan(5)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kMailchimpLater,
       .crm_action = CA::kAdd,
       .conflict = Conflict::kBothChanged},

      // ---- missing times: older than any time
      {.name = "both changed, Mailchimp time missing -> the CRM's real time is later",
       .mailchimp = mc(MS::kSubscribed, kNoTime),
       .crm = crm(CS::kRemoved, jan(4)),
       .winner = Winner::kCrm,
       .reason = Reason::kCrmLater,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged},
      {.name = "both changed, CRM time missing -> Mailchimp's real time is later",
       .mailchimp = mc(MS::kUnsubscribed, jan(2)),
       .crm = crm(CS::kAdded, kNoTime),
       .winner = Winner::kMailchimp,
       .reason = Reason::kMailchimpLater,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kBothChanged},
      {.name = "a missing time is older than the epoch even within a wide skew_margin",
       .mailchimp = mc(MS::kSubscribed, kNoTime),
       .crm = crm(CS::kRemoved, utc(1970, 1, 1)),
       .options = {.tie = TieRule::kMailchimp, .skew_margin = 86400 * kSecond},
       .winner = Winner::kCrm,
       .reason = Reason::kCrmLater,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged},
      {.name = "both times missing -> tie rule (crm)",
       .mailchimp = mc(MS::kSubscribed, kNoTime),
       .crm = crm(CS::kRemoved, kNoTime),
       .winner = Winner::kCrm,
       .reason = Reason::kTieCrm,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kBothChanged},
      {.name = "both times missing -> tie rule (mailchimp)",
       .mailchimp = mc(MS::kSubscribed, kNoTime),
       .crm = crm(CS::kRemoved, kNoTime),
       .options = {.tie = TieRule::kMailchimp},
       .winner = Winner::kMailchimp,
       .reason = Reason::kTieMailchimp,
       .crm_action = CA::kAdd,
       .conflict = Conflict::kBothChanged},

      // ---- membership mapping
      {.name = "Mailchimp pending counts IN: agrees with an Added contact",
       .mailchimp = mc(MS::kPending, jan(1)),
       .crm = crm(CS::kAdded, jan(2))},
      {.name = "Mailchimp pending counts IN: the CRM's removal unsubscribes it",
       .mailchimp = mc(MS::kPending, jan(1)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe},
      {.name = "Mailchimp archived counts OUT -> CRM remove",
       .mailchimp = mc(MS::kArchived, jan(10)),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove},
      {.name = "Mailchimp transactional counts OUT -> CRM remove",
       .mailchimp = mc(MS::kTransactional, jan(10)),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove},
      {.name = "Mailchimp absent counts OUT (with a base it has changed) -> CRM remove",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove},
      {.name = "Mailchimp absent agrees with a Removed contact",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kRemoved, jan(3))},
      {.name = "CRM trashed contact with status Added counts OUT -> Mailchimp unsubscribe",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm =
           CrmState{
               .status = CS::kAdded, .changed_at = jan(1), .contact_known = true, .trashed = true},
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe},
      {.name = "CRM Pending counts OUT -> Mailchimp unsubscribe",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kPending, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe},
      {.name = "CRM Deleted counts OUT -> Mailchimp unsubscribe",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kDeleted, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe},

      // ---- rule 1: equal state is never a conflict
      {.name = "both changed to the same state (OUT) -> no action, no conflict",
       .mailchimp = mc(MS::kUnsubscribed, jan(10)),
       .crm = crm(CS::kRemoved, jan(12)),
       .base = agreed(kIn, jan(1), jan(1)),
       .explain_has = "both sides have the member OUT"},
      {.name = "Mailchimp field edit moved last_changed, not the status -> no action",
       .mailchimp = mc(MS::kSubscribed, field_edit_changed_at()),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1))},
      {.name = "Mailchimp field edit after a CRM removal does not outrank it -> unsubscribe",
       .mailchimp = mc(MS::kSubscribed, field_edit_changed_at()),
       .crm = crm(CS::kRemoved, utc(2026, 2, 1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe},

      // ---- rule 5: --trust
      {.name = "--trust crm overrides a later Mailchimp unsubscribe -> subscribe",
       .mailchimp = mc(MS::kUnsubscribed, jan(10), Origin::kAdmin),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.trust = Trust::kCrm},
       .winner = Winner::kCrm,
       .reason = Reason::kTrustCrm,
       .mc_action = MA::kSubscribe,
       .explain_has = "trusts the CRM"},
      {.name = "--trust mailchimp overrides a later CRM removal -> CRM add",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.trust = Trust::kMailchimp},
       .winner = Winner::kMailchimp,
       .reason = Reason::kTrustMailchimp,
       .crm_action = CA::kAdd,
       .explain_has = "trusts Mailchimp"},
      {.name = "--trust mailchimp on the first run: Fred stays subscribed and is added back",
       .mailchimp = mc(MS::kSubscribed, jan(3)),
       .crm = crm(CS::kRemoved, jan(4)),
       .options = {.trust = Trust::kMailchimp},
       .winner = Winner::kMailchimp,
       .reason = Reason::kTrustMailchimp,
       .crm_action = CA::kAdd},
      {.name = "--trust crm on the first run: Betty is added to Mailchimp",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(4)),
       .options = {.trust = Trust::kCrm},
       .winner = Winner::kCrm,
       .reason = Reason::kTrustCrm,
       .mc_action = MA::kSubscribe},
      {.name = "--trust crm changes nothing where the sides agree (Wilma)",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kAdded, jan(5)),
       .options = {.trust = Trust::kCrm}},

      // ---- applying: CRM wins IN -> Mailchimp
      {.name = "self-unsubscribed, CRM wants IN, resubscribe = pending -> pending + compliance",
       .mailchimp = mc(MS::kUnsubscribed, jan(2), Origin::kSelf),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(2), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kPending,
       .conflict = Conflict::kCompliance,
       .note = Note::kResubscribePending,
       .explain_has = "confirmation"},
      {.name = "self-unsubscribed, CRM wants IN, resubscribe = never -> nothing + compliance",
       .mailchimp = mc(MS::kUnsubscribed, jan(2), Origin::kSelf),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(2), jan(1)),
       .options = {.resubscribe = Resubscribe::kNever},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kCompliance,
       .note = Note::kSelfUnsubscribedNotResent,
       .explain_has = "never"},
      {.name = "double_opt_in: a new member is subscribed as pending",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(4)),
       .options = {.double_opt_in = true},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kPending},
      {.name = "Mailchimp archived, CRM wants IN -> subscribe",
       .mailchimp = mc(MS::kArchived, jan(1)),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},
      {.name = "cleaned, CRM wants IN -> never resubscribed, reported",
       .mailchimp = mc(MS::kCleaned, jan(1)),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kCleaned,
       .note = Note::kCleanedNotResubscribed,
       .explain_has = "never resubscribed"},
      {.name = "cleaned, --trust crm -> still never resubscribed",
       .mailchimp = mc(MS::kCleaned, jan(10)),
       .crm = crm(CS::kAdded, jan(1)),
       .options = {.double_opt_in = true, .trust = Trust::kCrm},
       .winner = Winner::kCrm,
       .reason = Reason::kTrustCrm,
       .conflict = Conflict::kCleaned,
       .note = Note::kCleanedNotResubscribed},
      {.name = "forgotten, CRM wants IN -> no action, reported",
       .mailchimp = mc(MS::kForgotten, jan(1)),
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kForgotten,
       .note = Note::kForgottenNotResubscribed,
       .explain_has = "permanently deleted"},
      // ---- a one-way pair (direction = to Mailchimp): the people side is the source
      {.name = "one-way: mirrored IN, then the source says OUT -> unsubscribed in Mailchimp",
       .mailchimp = mc(MS::kSubscribed, jan(10)),
       .crm = crm(CS::kRemoved, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.direction = Direction::kToMailchimp},
       .winner = Winner::kCrm,
       .reason = Reason::kOneWay,
       .mc_action = MA::kUnsubscribe,
       .explain_has = "one-way"},
      {.name = "one-way: subscribed in Mailchimp, never mirrored, source OUT -> left alone",
       .mailchimp = mc(MS::kSubscribed, jan(10)),
       .crm = crm(CS::kRemoved, jan(1)),
       .base = agreed(kOut, jan(1), jan(1)),
       .options = {.direction = Direction::kToMailchimp},
       .reason = Reason::kOneWay,
       .note = Note::kNotFromSource,
       .explain_has = "never mirrored"},
      {.name = "one-way: Mailchimp-only member -> left alone, never added to the source",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm_no_contact(),
       .options = {.direction = Direction::kToMailchimp},
       .reason = Reason::kOneWay,
       .note = Note::kNotFromSource},
      {.name = "one-way exact mirror (a cohort): Mailchimp-only member -> unsubscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm_no_contact(),
       .options = {.direction = Direction::kToMailchimp, .exact_mirror = true},
       .winner = Winner::kCrm,
       .reason = Reason::kOneWay,
       .mc_action = MA::kUnsubscribe},
      {.name = "one-way: source IN, self-unsubscribed in Mailchimp -> pending, never forced",
       .mailchimp = mc(MS::kUnsubscribed, jan(10), Origin::kSelf),
       .crm = crm(CS::kAdded, jan(1)),
       .options = {.direction = Direction::kToMailchimp},
       .winner = Winner::kCrm,
       .reason = Reason::kOneWay,
       .mc_action = MA::kPending,
       .conflict = Conflict::kCompliance,
       .note = Note::kResubscribePending},
      {.name = "one-way: both IN -> nothing to do",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kAdded, jan(2)),
       .options = {.direction = Direction::kToMailchimp}},
      // ---- a tag or interest target: IN is "carries it", the status is left alone
      {.name = "tag: CRM IN, member subscribed without the tag -> the tag is put on",
       .mailchimp = tagged(MS::kSubscribed, kOut, jan(1)),
       .crm = crm(CS::kAdded, jan(5)),
       .base = agreed(kOut, jan(1), jan(1)),
       .options = {.target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kMark},
      {.name = "tag: CRM IN, self-unsubscribed member -> tagged, not resubscribed",
       .mailchimp = tagged(MS::kUnsubscribed, kOut, jan(1), Origin::kSelf),
       .crm = crm(CS::kAdded, jan(5)),
       .base = agreed(kOut, jan(1), jan(1)),
       .options = {.target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kMark},
      {.name = "tag: CRM IN, not in the audience -> added (status_if_new) carrying the tag",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(5)),
       .options = {.target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},
      {.name = "tag: CRM IN, not in the audience, double opt-in -> pending carrying the tag",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(5)),
       .options = {.double_opt_in = true, .target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kPending},
      {.name = "tag: CRM OUT, member carries the tag -> the tag comes off, never an unsubscribe",
       .mailchimp = tagged(MS::kSubscribed, kIn, jan(1)),
       .crm = crm(CS::kRemoved, jan(5)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnmark},
      {.name = "tag: tag taken off in Mailchimp later -> removed from the CRM group",
       .mailchimp = tagged(MS::kSubscribed, kOut, jan(6)),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.target = TargetKind::kTag},
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove},
      {.name = "tag: unsubscribed but still tagged -> agree, stays in the group",
       .mailchimp = tagged(MS::kUnsubscribed, kIn, jan(1), Origin::kSelf),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.target = TargetKind::kTag}},
      {.name = "tag: cleaned member, CRM IN -> not tagged, reported",
       .mailchimp = tagged(MS::kCleaned, kOut, jan(1)),
       .crm = crm(CS::kAdded, jan(5)),
       .base = agreed(kOut, jan(1), jan(1)),
       .options = {.target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kCleaned,
       .note = Note::kCleanedNotResubscribed},
      {.name = "interest: opted-out contact in the group -> interest cleared",
       .mailchimp = tagged(MS::kSubscribed, kIn, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = jan(5)},
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.target = TargetKind::kInterest},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnmark,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn},
      {.name = "cohort tag (one-way, exact): member outside the cohort carrying the tag -> off",
       .mailchimp = tagged(MS::kSubscribed, kIn, jan(1)),
       .crm = crm_no_contact(),
       .options = {.direction = Direction::kToMailchimp,
                   .exact_mirror = true,
                   .target = TargetKind::kTag},
       .winner = Winner::kCrm,
       .reason = Reason::kOneWay,
       .mc_action = MA::kUnmark},
      // ---- refusals Mailchimp gave before (kept apart from the snapshot, read by decide())
      {.name = "refused as invalid before, CRM wants IN -> not sent again, reported",
       .mailchimp = MailchimpState{.refusal = Refusal::kInvalidAddress},
       .crm = crm(CS::kAdded, jan(10)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kInvalidEmail,
       .note = Note::kRefusedAsInvalid,
       .explain_has = "refused the address as invalid"},
      {.name = "forgotten before, gone from the audience, CRM wants IN -> not re-added",
       .mailchimp = MailchimpState{.refusal = Refusal::kForgotten},
       .crm = crm(CS::kAdded, jan(10)),
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kForgotten,
       .note = Note::kForgottenNotResubscribed},
      {.name = "refused as invalid before, --trust crm -> still not sent",
       .mailchimp = MailchimpState{.refusal = Refusal::kInvalidAddress},
       .crm = crm(CS::kAdded, jan(1)),
       .options = {.trust = Trust::kCrm},
       .winner = Winner::kCrm,
       .reason = Reason::kTrustCrm,
       .conflict = Conflict::kInvalidEmail,
       .note = Note::kRefusedAsInvalid},
      {.name = "refused before, CRM says OUT too -> agree, nothing reported",
       .mailchimp = MailchimpState{.refusal = Refusal::kInvalidAddress},
       .crm = crm(CS::kRemoved, jan(10))},
      // ---- consent outranks the group (docs/decision-rules.md)
      {.name = "CRM opt-out: do_not_email, absent from Mailchimp -> agree OUT, reported",
       .mailchimp = mc_absent(),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(4),
                       .contact_known = true,
                       .do_not_email = true},
       .conflict = Conflict::kOptOut,
       .note = Note::kCrmOptOut,
       .explain_has = "do-not-email"},
      {.name = "CRM opt-out: is_opt_out, absent from Mailchimp -> agree OUT, reported",
       .mailchimp = mc_absent(),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(4),
                       .contact_known = true,
                       .is_opt_out = true},
       .conflict = Conflict::kOptOut,
       .note = Note::kCrmOptOut},
      {.name = "CRM bounce hold: email_on_hold -> not subscribed, reported",
       .mailchimp = mc_absent(),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(4),
                       .contact_known = true,
                       .email_on_hold = true},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .conflict = Conflict::kOptOut,
       .note = Note::kCrmOptOut},
      {.name = "CRM bounce hold on a subscribed member -> not unsubscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .email_on_hold = true},
       .base = agreed(kIn, jan(1), jan(1))},
      {.name = "CRM opt-out outranks resubscribe = pending (no confirmation sent either)",
       .mailchimp = mc(MS::kUnsubscribed, jan(2), Origin::kSelf),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(10),
                       .contact_known = true,
                       .is_opt_out = true},
       .base = agreed(kOut, jan(2), jan(1)),
       .conflict = Conflict::kOptOut,
       .note = Note::kCrmOptOut},
      {.name =
           "consent withdrawn: is_opt_out seen 1 Mar, subscribed -> unsubscribed, stays in group",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn,
       .explain_has = "kept in the group"},
      {.name = "consent withdrawn: do_not_email -> unsubscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .do_not_email = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn},
      {.name = "consent withdrawn: deceased -> unsubscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .deceased = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn},
      {.name = "consent withdrawn: the address on hold as an opt-out (on_hold = 2) -> unsubscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .email_on_hold = true,
                       .hold_opt_out = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn},
      {.name = "consent withdrawn, removal = archive -> archived",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.removal = RemovalMode::kArchive},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kArchive,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn},
      {.name = "consent withdrawn, first run: the flag seen 1 Mar is later than the opt-in -> "
               "unsubscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .winner = Winner::kCrm,
       .reason = Reason::kCrmLater,
       .mc_action = MA::kUnsubscribe,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentWithdrawn},
      {.name = "subscribed in Mailchimp after the flag was set -> nothing written, person decides",
       .mailchimp = mc(MS::kSubscribed, utc(2026, 3, 5)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kOut, utc(2026, 3, 2), utc(2026, 3, 1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentFlagKept,
       .explain_has = "never clears that flag"},
      {.name = "subscribed in Mailchimp, opted out contact outside the group -> not added",
       .mailchimp = mc(MS::kSubscribed, utc(2026, 3, 5)),
       .crm = CrmState{.contact_known = true, .do_not_email = true},
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .conflict = Conflict::kOptOut,
       .note = Note::kConsentFlagKept},
      {.name = "flag lifted 1 Apr, unsubscribed by an admin -> subscribed again",
       .mailchimp = mc(MS::kUnsubscribed, utc(2026, 3, 2), Origin::kAdmin),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .consent_changed_at = utc(2026, 4, 1)},
       .base = agreed(kOut, utc(2026, 3, 2), utc(2026, 3, 1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},
      {.name = "flag lifted, the person had unsubscribed themself -> pending (resubscribe)",
       .mailchimp = mc(MS::kUnsubscribed, utc(2026, 3, 2), Origin::kSelf),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .consent_changed_at = utc(2026, 4, 1)},
       .base = agreed(kOut, utc(2026, 3, 2), utc(2026, 3, 1)),
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kPending,
       .conflict = Conflict::kCompliance,
       .note = Note::kResubscribePending},
      {.name = "opted out and removed from the group, unsubscribed -> agree, nothing reported",
       .mailchimp = mc(MS::kUnsubscribed, jan(2)),
       .crm = CrmState{.status = CS::kRemoved,
                       .changed_at = jan(2),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = jan(2)},
       .base = agreed(kOut, jan(2), jan(2))},
      {.name = "respect_crm_opt_out = false: an opted-out subscribed member stays subscribed",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .is_opt_out = true,
                       .consent_changed_at = utc(2026, 3, 1)},
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.respect_crm_opt_out = false}},
      {.name = "respect_crm_opt_out = false: do_not_email contact is subscribed",
       .mailchimp = mc_absent(),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(4),
                       .contact_known = true,
                       .do_not_email = true},
       .options = {.respect_crm_opt_out = false},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kSubscribe},

      // ---- applying: CRM wins OUT -> Mailchimp
      {.name = "removal = archive: a subscribed member is archived",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.removal = RemovalMode::kArchive},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kArchive},
      {.name = "removal = archive: a pending member is unsubscribed instead",
       .mailchimp = mc(MS::kPending, jan(1)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.removal = RemovalMode::kArchive},
       .winner = Winner::kCrm,
       .reason = Reason::kOnlyCrmChanged,
       .mc_action = MA::kUnsubscribe,
       .note = Note::kPendingNotArchived,
       .explain_has = "cannot archive a pending member"},

      {.name = "removal = none (one-way, only adds): the people side's OUT changes nothing",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = crm(CS::kRemoved, jan(10)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.direction = Direction::kToMailchimp, .removal = RemovalMode::kNone},
       .winner = Winner::kCrm,
       .reason = Reason::kOneWay},
      {.name = "removal = none still adds: the people side's IN subscribes",
       .mailchimp = mc_absent(),
       .crm = crm(CS::kAdded, jan(10)),
       .options = {.direction = Direction::kToMailchimp, .removal = RemovalMode::kNone},
       .winner = Winner::kCrm,
       .reason = Reason::kOneWay,
       .mc_action = MA::kSubscribe},

      // ---- applying: Mailchimp wins OUT -> CRM
      {.name = "Mailchimp cleaned wins OUT -> CRM remove and email on hold",
       .mailchimp = mc(MS::kCleaned, jan(10)),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove,
       .hold_email = true,
       .conflict = Conflict::kCleaned,
       .note = Note::kCleanedRemoved,
       .explain_has = "on hold"},
      {.name = "Mailchimp cleaned wins OUT, hold_cleaned = false -> CRM remove, no hold",
       .mailchimp = mc(MS::kCleaned, jan(10)),
       .crm = crm(CS::kAdded, jan(1)),
       .base = agreed(kIn, jan(1), jan(1)),
       .options = {.hold_cleaned = false},
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kCleaned,
       .note = Note::kCleanedRemoved},
      {.name = "Mailchimp cleaned wins OUT, email already on hold -> CRM remove, no new hold",
       .mailchimp = mc(MS::kCleaned, jan(10)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .email_on_hold = true},
       .base = agreed(kIn, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kCleaned,
       .note = Note::kCleanedRemoved},

      // ---- applying: Mailchimp wins IN -> CRM; duplicates
      {.name = "only contact with the email is trashed, Mailchimp wins IN -> create a new one",
       .mailchimp = mc(MS::kSubscribed, jan(10)),
       .crm =
           CrmState{
               .status = CS::kAdded, .changed_at = jan(1), .contact_known = true, .trashed = true},
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kCreateContact,
       .note = Note::kTrashedContactReplaced,
       .explain_has = "trash"},
      {.name = "duplicate contacts, sides agree -> no action, reported as duplicate",
       .mailchimp = mc(MS::kSubscribed, jan(1)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(2),
                       .contact_known = true,
                       .duplicate = true},
       .conflict = Conflict::kDuplicate,
       .duplicate = true,
       .explain_has = "several CRM contacts"},
      {.name = "duplicate contacts, Mailchimp wins IN -> add, reported as duplicate",
       .mailchimp = mc(MS::kSubscribed, jan(10)),
       .crm = CrmState{.status = CS::kRemoved,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .duplicate = true},
       .base = agreed(kOut, jan(1), jan(1)),
       .winner = Winner::kMailchimp,
       .reason = Reason::kOnlyMailchimpChanged,
       .crm_action = CA::kAdd,
       .conflict = Conflict::kDuplicate,
       .duplicate = true},
      {.name = "duplicate contacts with a both-changed conflict -> both-changed, duplicate flagged",
       .mailchimp = mc(MS::kUnsubscribed, jan(2)),
       .crm = CrmState{.status = CS::kAdded,
                       .changed_at = jan(1),
                       .contact_known = true,
                       .duplicate = true},
       .winner = Winner::kMailchimp,
       .reason = Reason::kMailchimpLater,
       .crm_action = CA::kRemove,
       .conflict = Conflict::kBothChanged,
       .duplicate = true},
  };
  return table;
}

TEST_CASE("decide: the table's row names are unique", "[decide]") {
  // DYNAMIC_SECTIONs with equal names would be merged, and a row silently skipped.
  std::set<std::string> names;
  for (const Row& row : rows()) {
    CHECK(names.insert(row.name).second);
  }
}

TEST_CASE("decide: the decision table of docs/decision-rules.md", "[decide]") {
  for (const Row& row : rows()) {
    DYNAMIC_SECTION(row.name) {
      const BaseState* base = row.base ? &*row.base : nullptr;
      const Decision d = decide(row.mailchimp, row.crm, base, row.options);
      const std::string why = explain(d);
      INFO("explain: " << why);

      CHECK(d.winner == row.winner);
      CHECK(d.reason == row.reason);
      CHECK(d.mailchimp == row.mc_action);
      CHECK(d.crm == row.crm_action);
      CHECK(d.hold_email == row.hold_email);
      CHECK(d.conflict == row.conflict);
      CHECK(d.note == row.note);
      CHECK(d.duplicate == row.duplicate);

      // The target is the winner's membership, or the one both sides agree on.
      switch (row.winner) {
        case Winner::kMailchimp:
          CHECK(d.target == row.mailchimp.membership());
          break;
        case Winner::kCrm:
          CHECK(d.target == row.crm.mailchimp_membership(row.options.respect_crm_opt_out));
          break;
        case Winner::kNone:
          // (A one-way pair leaves a member the source never had as it is: no agreement.)
          if (row.note != Note::kNotFromSource) {
            CHECK(row.mailchimp.membership() ==
                  row.crm.mailchimp_membership(row.options.respect_crm_opt_out));
          }
          CHECK(d.target == row.mailchimp.membership());
          break;
      }
      CHECK(d.needs_report() == (row.conflict != Conflict::kNone || row.duplicate));

      CHECK_FALSE(why.empty());
      if (!row.explain_has.empty()) CHECK_THAT(why, Catch::Contains(row.explain_has));
    }
  }
}

TEST_CASE("crm_consent_changed_at", "[decide][consent]") {
  struct Case {
    const char* name;
    std::optional<StoredConsent> stored;
    bool withheld;
    Micros expected;
  };
  const Micros modified = utc(2026, 3, 1);
  const std::vector<Case> cases = {
      {"first sight, withheld: the contact's modified_date", std::nullopt, true, modified},
      {"first sight, not withheld: no time", std::nullopt, false, kNoTime},
      {"withheld now, not before: modified_date", StoredConsent{false, kNoTime}, true, modified},
      {"lifted now: modified_date", StoredConsent{true, jan(5)}, false, modified},
      {"still withheld (a name edit moved modified_date): the stored time",
       StoredConsent{true, jan(5)}, true, jan(5)},
      {"still not withheld: the stored time", StoredConsent{false, jan(7)}, false, jan(7)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(crm_consent_changed_at(c.stored, c.withheld, modified) == c.expected);
  }
}

TEST_CASE("mailchimp_status_changed_at: first sight", "[decide][status_changed_at]") {
  const Micros opt = jan(1);
  const Micros last = jan(20);
  SECTION("subscribed with timestamp_opt takes timestamp_opt") {
    CHECK(mailchimp_status_changed_at(std::nullopt, MS::kSubscribed, last, opt) == opt);
  }
  SECTION("pending with timestamp_opt takes timestamp_opt") {
    CHECK(mailchimp_status_changed_at(std::nullopt, MS::kPending, last, opt) == opt);
  }
  SECTION("subscribed without timestamp_opt takes last_changed") {
    CHECK(mailchimp_status_changed_at(std::nullopt, MS::kSubscribed, last, kNoTime) == last);
  }
  SECTION("unsubscribed or cleaned ignores timestamp_opt and takes last_changed") {
    CHECK(mailchimp_status_changed_at(std::nullopt, MS::kUnsubscribed, last, opt) == last);
    CHECK(mailchimp_status_changed_at(std::nullopt, MS::kCleaned, last, opt) == last);
  }
  SECTION("a member stored as absent is seen for the first time") {
    const StoredMailchimpStatus absent{MS::kAbsent, kNoTime};
    CHECK(mailchimp_status_changed_at(absent, MS::kSubscribed, last, opt) == opt);
  }
}

TEST_CASE("mailchimp_status_changed_at: later fetches", "[decide][status_changed_at]") {
  const StoredMailchimpStatus stored{MS::kSubscribed, jan(1)};
  SECTION("a status change takes last_changed") {
    CHECK(mailchimp_status_changed_at(stored, MS::kUnsubscribed, jan(20), kNoTime) == jan(20));
  }
  SECTION("subscribed -> pending is a status change too") {
    CHECK(mailchimp_status_changed_at(stored, MS::kPending, jan(20), jan(19)) == jan(20));
  }
  SECTION("the same status keeps the stored time, whatever last_changed says") {
    CHECK(mailchimp_status_changed_at(stored, MS::kSubscribed, jan(20), jan(1)) == jan(1));
    CHECK(mailchimp_status_changed_at(stored, MS::kSubscribed, utc(2026, 3, 1), jan(5)) == jan(1));
  }
}

TEST_CASE("mailchimp_changed", "[decide][changed]") {
  SECTION("no base: present has changed, absent has not") {
    CHECK(mailchimp_changed(mc(MS::kSubscribed, jan(1)), nullptr));
    CHECK(mailchimp_changed(mc(MS::kUnsubscribed, jan(1)), nullptr));
    CHECK(mailchimp_changed(mc(MS::kSubscribed, kNoTime), nullptr));
    CHECK_FALSE(mailchimp_changed(mc_absent(), nullptr));
  }
  SECTION("with a base") {
    const BaseState base = agreed(kIn, jan(5), jan(3));
    CHECK_FALSE(mailchimp_changed(mc(MS::kSubscribed, jan(5)), &base));
    CHECK_FALSE(mailchimp_changed(mc(MS::kPending, jan(5)), &base));     // still IN
    CHECK_FALSE(mailchimp_changed(mc(MS::kSubscribed, jan(4)), &base));  // earlier: not changed
    CHECK_FALSE(mailchimp_changed(mc(MS::kSubscribed, kNoTime), &base));
    CHECK(mailchimp_changed(mc(MS::kSubscribed, jan(5) + 1 * kSecond), &base));  // later
    CHECK(mailchimp_changed(mc(MS::kUnsubscribed, jan(5)), &base));  // membership differs
    CHECK(mailchimp_changed(mc(MS::kUnsubscribed, kNoTime), &base));
    CHECK(mailchimp_changed(mc_absent(), &base));
  }
  SECTION("the base's CRM time does not count for Mailchimp") {
    const BaseState base = agreed(kOut, jan(1), jan(20));
    CHECK(mailchimp_changed(mc(MS::kUnsubscribed, jan(10)), &base));
    CHECK_FALSE(mailchimp_changed(mc(MS::kUnsubscribed, jan(1)), &base));
  }
}

TEST_CASE("crm_changed", "[decide][changed]") {
  SECTION("no base: a history row has changed, no row has not") {
    CHECK(crm_changed(crm(CS::kAdded, jan(1)), nullptr, true));
    CHECK(crm_changed(crm(CS::kRemoved, jan(1)), nullptr, true));
    CHECK_FALSE(
        crm_changed(crm(CS::kNone, kNoTime), nullptr, true));  // contact, never in the group
    CHECK_FALSE(crm_changed(crm_no_contact(), nullptr, true));
  }
  SECTION("with a base") {
    const BaseState base = agreed(kIn, jan(3), jan(5));
    CHECK_FALSE(crm_changed(crm(CS::kAdded, jan(5)), &base, true));
    CHECK_FALSE(crm_changed(crm(CS::kAdded, jan(4)), &base, true));
    CHECK(crm_changed(crm(CS::kAdded, jan(6)), &base, true));  // re-added later
    CHECK(crm_changed(crm(CS::kRemoved, jan(5)), &base, true));
    CHECK(crm_changed(crm(CS::kPending, jan(5)), &base, true));
    CHECK(crm_changed(crm_no_contact(), &base, true));
    CrmState trashed = crm(CS::kAdded, jan(5));
    trashed.trashed = true;  // Added but trashed: OUT, so it differs from the base
    CHECK(crm_changed(trashed, &base, true));
  }
}

}  // namespace
}  // namespace concord
