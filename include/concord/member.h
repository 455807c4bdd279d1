// What each side says about one member, reduced to what the decision rules need
// (docs/decision-rules.md).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "concord/time.h"

namespace concord {

enum class Membership : std::uint8_t { kOut = 0, kIn = 1 };

enum class Side : std::uint8_t { kMailchimp = 0, kCrm = 1 };
std::string_view side_name(Side side);  // "mailchimp" | "crm"
constexpr Side other_side(Side s) {
  return s == Side::kMailchimp ? Side::kCrm : Side::kMailchimp;
}

// ---- Mailchimp ----

// A member's status in the audience. kAbsent: not in the audience at all. kForgotten is not a
// Mailchimp status: concord records it when Mailchimp refused a write with "Forgotten Email Not
// Subscribed" (the address was permanently deleted and can never be re-added through the API).
enum class MailchimpStatus : std::uint8_t {
  kAbsent = 0,
  kSubscribed = 1,
  kPending = 2,
  kUnsubscribed = 3,
  kCleaned = 4,
  kArchived = 5,
  kTransactional = 6,
  kForgotten = 7,
};
inline constexpr std::uint8_t kMailchimpStatusMax = 7;

// Who unsubscribed an unsubscribed member. It decides whether Mailchimp accepts a resubscribe:
// a person who unsubscribed themself can only be sent a confirmation (pending).
enum class UnsubscribeOrigin : std::uint8_t { kUnknown = 0, kAdmin = 1, kSelf = 2 };

// "subscribed" → kSubscribed etc. Returns nullopt for a string Mailchimp does not define.
std::optional<MailchimpStatus> parse_mailchimp_status(std::string_view s);
std::string_view mailchimp_status_name(MailchimpStatus s);

// subscribed, pending → IN; everything else (including absent) → OUT.
Membership membership_of(MailchimpStatus s);

// The origin of an unsubscribe from the member's `unsubscribe_reason`. Mailchimp writes
// "N/A (Unsubscribed by admin)" when an admin or the API unsubscribed the member; any other
// non-empty reason was given by the person. Empty → kUnknown.
UnsubscribeOrigin unsubscribe_origin(std::string_view unsubscribe_reason);

// The time of a Mailchimp member's last *membership* change (docs/decision-rules.md). Mailchimp's
// `last_changed` moves on any edit, so concord keeps its own status_changed_at:
//   - first sight (no stored record): `timestamp_opt` for subscribed/pending members where set,
//     else `last_changed`;
//   - status differs from the stored one: `last_changed`;
//   - same status as stored: the stored time.
struct StoredMailchimpStatus {
  MailchimpStatus status;
  Micros changed_at;
};
Micros mailchimp_status_changed_at(const std::optional<StoredMailchimpStatus>& stored,
                                   MailchimpStatus fetched, Micros last_changed,
                                   Micros timestamp_opt);

// Mailchimp refused an address for good in an earlier run. Kept apart from the snapshot (a full
// fetch rewrites the snapshot, and Mailchimp does not list a permanently deleted member at all),
// and read by decide(): the address is never sent again.
enum class Refusal : std::uint8_t {
  kNone = 0,
  kInvalidAddress = 1,  // Mailchimp rejects the address as invalid or fake
  kForgotten = 2,       // the address was permanently deleted: it cannot be re-added
};
inline constexpr std::uint8_t kRefusalMax = 2;

struct MailchimpState {
  MailchimpStatus status = MailchimpStatus::kAbsent;
  UnsubscribeOrigin unsubscribe_origin = UnsubscribeOrigin::kUnknown;
  Micros changed_at = kNoTime;       // status_changed_at
  Refusal refusal = Refusal::kNone;  // not part of the snapshot header: see Refusal
  // A pair whose target is a tag or an interest: whether the member carries the tag (has the
  // interest), whatever its status; changed_at is then when concord saw that flip. Unset for an
  // audience pair, whose membership is the status's. (The snapshot header keeps it as the
  // membership byte: a header whose membership is not its status's has a mark.)
  std::optional<Membership> mark{};

  bool present() const { return status != MailchimpStatus::kAbsent; }
  Membership membership() const { return mark ? *mark : membership_of(status); }
};

// ---- CRM (CiviCRM) ----

// The status of the contact's latest SubscriptionHistory row for the group; kNone: no row (never in
// the group).
enum class CrmStatus : std::uint8_t {
  kNone = 0,
  kAdded = 1,
  kRemoved = 2,
  kPending = 3,
  kDeleted = 4,
};
inline constexpr std::uint8_t kCrmStatusMax = 4;

std::optional<CrmStatus> parse_crm_status(std::string_view s);  // "Added", "Removed", …
std::string_view crm_status_name(CrmStatus s);

struct CrmState {
  CrmStatus status = CrmStatus::kNone;
  Micros changed_at = kNoTime;  // the history row's date, in UTC
  bool contact_known = false;   // a contact with this email exists (else one must be created)
  bool trashed = false;         // the chosen contact is in the trash (is_deleted)
  bool do_not_email = false;
  bool is_opt_out = false;
  bool deceased = false;       // is_deceased
  bool email_on_hold = false;  // the address is on hold, for bounces (1) or as an opt-out (2)
  bool hold_opt_out = false;   // … as an opt-out (on_hold = 2)
  bool duplicate = false;      // several contacts have this email (the choice is reported)
  // When concord first saw consent_withheld() change (crm_consent_changed_at); kNoTime when it
  // never saw it withheld. Kept in the snapshot body, not the header.
  Micros consent_changed_at = kNoTime;

  // Has a history row for the group: "present" for the first-run rule.
  bool present() const { return status != CrmStatus::kNone; }
  // The group's membership: Added → IN; Removed, Pending, Deleted, no row, or a trashed contact
  // → OUT.
  Membership membership() const {
    return status == CrmStatus::kAdded && !trashed ? Membership::kIn : Membership::kOut;
  }
  // A flag of the contact's that says "do not mail": concord never clears one.
  bool consent_flag() const { return do_not_email || is_opt_out || deceased || hold_opt_out; }
  // Consent outranks the group (docs/decision-rules.md): OUT for Mailchimp even in the group.
  bool consent_withheld() const { return consent_flag() || trashed; }
  // Never subscribed in Mailchimp by concord: consent withheld, or the address on hold for
  // bounces (which is not a reason to unsubscribe).
  bool never_subscribe() const { return consent_withheld() || email_on_hold; }

  // What the CRM says for Mailchimp: the group's membership, and with `respect_consent`, OUT while
  // consent is withheld. Its time: the group's change, or the consent change when that is later
  // and the contact is in the group (while out of the group, consent changes nothing).
  Membership mailchimp_membership(bool respect_consent) const {
    if (respect_consent && consent_withheld()) return Membership::kOut;
    return membership();
  }
  Micros mailchimp_changed_at(bool respect_consent) const {
    if (!respect_consent || status != CrmStatus::kAdded) return changed_at;
    return consent_changed_at > changed_at ? consent_changed_at : changed_at;
  }
};

// The time of a contact's last consent change (consent_withheld() turning on or off), kept like
// Mailchimp's status_changed_at: CiviCRM has no time for the flags themselves, only the contact's
// modified_date, which any edit moves.
//   - first sight: `modified_at` when consent is withheld, else kNoTime;
//   - withheld differs from the stored state: `modified_at`;
//   - same as stored: the stored time (a later edit of the name does not move it).
struct StoredConsent {
  bool withheld;
  Micros changed_at;
};
Micros crm_consent_changed_at(const std::optional<StoredConsent>& stored, bool withheld,
                              Micros modified_at);

// ---- the base ----

// The state both sides last agreed on, with each side's change time then.
struct BaseState {
  Membership membership = Membership::kOut;
  Micros mailchimp_changed_at = kNoTime;
  Micros crm_changed_at = kNoTime;
};

}  // namespace concord
