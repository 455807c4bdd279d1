#include "concord/decide.h"

namespace concord {
namespace {

bool changed_since(bool present, Membership now, Micros now_at, const BaseState* base,
                   Membership base_membership, Micros base_at) {
  if (base == nullptr) return present;  // first sight: absent has not changed
  return now != base_membership || now_at > base_at;
}

void decide_for_mailchimp_winner(const MailchimpState& mc, const CrmState& crm,
                                 const SyncOptions& options, Decision& d) {
  if (d.target == Membership::kIn) {
    if (options.respect_crm_opt_out && crm.contact_known && !crm.trashed && crm.consent_flag()) {
      // The person subscribed in Mailchimp after the flag was set. concord never clears a consent
      // flag: nothing is written and the base stays, and the report shows it until a person
      // settles it. It is an opt-out respected, not a failure (the person chose Mailchimp).
      d.conflict = Conflict::kOptOut;
      d.note = Note::kConsentFlagKept;
      return;
    }
    if (!crm.contact_known) {
      d.crm = CrmAction::kCreateContact;
    } else if (crm.trashed) {
      d.crm = CrmAction::kCreateContact;
      d.note = Note::kTrashedContactReplaced;
    } else {
      d.crm = CrmAction::kAdd;
    }
    return;
  }
  d.crm = CrmAction::kRemove;
  // (A tag or interest taken off a cleaned member says nothing about the address.)
  if (mc.status == MailchimpStatus::kCleaned && options.target == TargetKind::kAudience) {
    d.conflict = Conflict::kCleaned;
    d.note = Note::kCleanedRemoved;
    d.hold_email = options.hold_cleaned && crm.contact_known && !crm.email_on_hold;
  }
}

void decide_for_crm_winner(const MailchimpState& mc, const CrmState& crm,
                           const SyncOptions& options, Decision& d) {
  if (d.target == Membership::kOut) {
    // Mailchimp says IN: subscribed or pending.
    if (options.respect_crm_opt_out && crm.membership() == Membership::kIn &&
        crm.consent_withheld()) {
      // Still in the group, but no longer to be mailed: the contact stays in the group.
      d.conflict = Conflict::kOptOut;
      d.note = Note::kConsentWithdrawn;
    }
    if (options.removal == RemovalMode::kNone) {
      return;  // a pair that only adds and updates: the member stays as Mailchimp has it
    }
    if (options.target != TargetKind::kAudience) {
      d.mailchimp = MailchimpAction::kUnmark;  // the tag comes off; the status stays
      return;
    }
    if (options.removal == RemovalMode::kArchive) {
      if (mc.status == MailchimpStatus::kPending) {
        d.mailchimp = MailchimpAction::kUnsubscribe;
        d.note = Note::kPendingNotArchived;
      } else {
        d.mailchimp = MailchimpAction::kArchive;
      }
    } else {
      d.mailchimp = MailchimpAction::kUnsubscribe;
    }
    return;
  }
  // The CRM says IN; Mailchimp is absent, unsubscribed, cleaned, archived, transactional or
  // forgotten.
  if (options.respect_crm_opt_out && crm.never_subscribe()) {
    // An address on hold for bounces (consent withheld never gets here: it is OUT): respected,
    // and only reported.
    d.conflict = Conflict::kOptOut;
    d.note = Note::kCrmOptOut;
    return;
  }
  // Mailchimp refused this address for good in an earlier run: it would refuse it again.
  switch (mc.refusal) {
    case Refusal::kInvalidAddress:
      d.conflict = Conflict::kInvalidEmail;
      d.note = Note::kRefusedAsInvalid;
      return;
    case Refusal::kForgotten:
      d.conflict = Conflict::kForgotten;
      d.note = Note::kForgottenNotResubscribed;
      return;
    case Refusal::kNone:
      break;
  }
  // Cleaned and forgotten addresses are never mailed again, whatever the target.
  if (mc.status == MailchimpStatus::kCleaned) {
    d.conflict = Conflict::kCleaned;
    d.note = Note::kCleanedNotResubscribed;
    return;
  }
  if (mc.status == MailchimpStatus::kForgotten) {
    d.conflict = Conflict::kForgotten;
    d.note = Note::kForgottenNotResubscribed;
    return;
  }
  const MailchimpAction subscribe =
      options.double_opt_in ? MailchimpAction::kPending : MailchimpAction::kSubscribe;
  if (options.target != TargetKind::kAudience) {
    // A tag or interest is put on whoever the audience has, whatever the status: an unsubscribed
    // member keeps and gets tags, and is not resubscribed by them. Someone not in the audience
    // (or archived) is added to carry it, as status_if_new says.
    const bool member =
        mc.status != MailchimpStatus::kAbsent && mc.status != MailchimpStatus::kArchived;
    d.mailchimp = member ? MailchimpAction::kMark : subscribe;
    return;
  }
  switch (mc.status) {
    case MailchimpStatus::kCleaned:
    case MailchimpStatus::kForgotten:
      return;  // above
    case MailchimpStatus::kUnsubscribed:
      if (mc.unsubscribe_origin == UnsubscribeOrigin::kSelf) {
        d.conflict = Conflict::kCompliance;
        if (options.resubscribe == Resubscribe::kPending) {
          d.mailchimp = MailchimpAction::kPending;
          d.note = Note::kResubscribePending;
        } else {
          d.note = Note::kSelfUnsubscribedNotResent;
        }
        return;
      }
      // Unsubscribed by an admin or the API (or origin unknown): Mailchimp accepts a resubscribe;
      // if it answers "Member In Compliance State" after all, the applier handles it.
      d.mailchimp = subscribe;
      return;
    case MailchimpStatus::kAbsent:
    case MailchimpStatus::kArchived:
    case MailchimpStatus::kTransactional:
      d.mailchimp = subscribe;
      return;
    case MailchimpStatus::kSubscribed:
    case MailchimpStatus::kPending:
      return;  // not reached: the sides agree
  }
}

}  // namespace

int compare_change_times(Micros a, Micros b, Micros margin) {
  if (a == b) return 0;
  if (a == kNoTime) return -1;
  if (b == kNoTime) return 1;
  // Both real: |a - b| fits in 64 bits for any time a store can hold (±292k years).
  Micros d = a - b;
  if (d > margin) return 1;
  if (-d > margin) return -1;
  return 0;
}

bool mailchimp_changed(const MailchimpState& mc, const BaseState* base) {
  return changed_since(mc.present(), mc.membership(), mc.changed_at, base,
                       base ? base->membership : Membership::kOut,
                       base ? base->mailchimp_changed_at : kNoTime);
}

bool crm_changed(const CrmState& crm, const BaseState* base, bool respect_consent) {
  return changed_since(crm.present(), crm.mailchimp_membership(respect_consent),
                       crm.mailchimp_changed_at(respect_consent), base,
                       base ? base->membership : Membership::kOut,
                       base ? base->crm_changed_at : kNoTime);
}

Decision decide(const MailchimpState& mc, const CrmState& crm, const BaseState* base,
                const SyncOptions& options) {
  Decision d;
  const Membership mc_m = mc.membership();
  const bool respect = options.respect_crm_opt_out;
  const Membership crm_m = crm.mailchimp_membership(respect);

  if (mc_m == crm_m) {
    // Rule 1: equal state is never a conflict, whatever the times say.
    d.target = mc_m;
    d.reason = Reason::kAgree;
    if (respect && crm_m != crm.membership()) {
      // In the group but not to be mailed, and not in Mailchimp: respected; the report says so.
      d.conflict = Conflict::kOptOut;
      d.note = Note::kCrmOptOut;
    }
  } else if (options.direction == Direction::kToMailchimp) {
    // A one-way pair: the people side is the source, whatever either side's times say; but a
    // member it never had, and that concord never mirrored, is not its to take out.
    d.reason = Reason::kOneWay;
    if (crm_m == Membership::kOut && !options.exact_mirror &&
        (base == nullptr || base->membership == Membership::kOut)) {
      d.target = mc_m;
      d.note = Note::kNotFromSource;
      return d;
    }
    d.winner = Winner::kCrm;
  } else if (options.trust != Trust::kNone) {
    // Rule 5: --trust.
    d.winner = options.trust == Trust::kCrm ? Winner::kCrm : Winner::kMailchimp;
    d.reason = options.trust == Trust::kCrm ? Reason::kTrustCrm : Reason::kTrustMailchimp;
  } else {
    const bool mc_ch = mailchimp_changed(mc, base);
    const bool crm_ch = crm_changed(crm, base, respect);
    if (mc_ch && !crm_ch) {
      d.winner = Winner::kMailchimp;  // Rule 2
      d.reason = Reason::kOnlyMailchimpChanged;
    } else if (crm_ch && !mc_ch) {
      d.winner = Winner::kCrm;
      d.reason = Reason::kOnlyCrmChanged;
    } else {
      // Rule 3 (both changed). Neither changed cannot happen while they disagree (the base holds
      // one membership); it is settled the same way, by time then tie rule.
      d.conflict = Conflict::kBothChanged;
      int c = compare_change_times(mc.changed_at, crm.mailchimp_changed_at(respect),
                                   options.skew_margin);
      if (c > 0) {
        d.winner = Winner::kMailchimp;
        d.reason = Reason::kMailchimpLater;
      } else if (c < 0) {
        d.winner = Winner::kCrm;
        d.reason = Reason::kCrmLater;
      } else {
        switch (options.tie) {
          case TieRule::kCrm:
            d.winner = Winner::kCrm;
            d.reason = Reason::kTieCrm;
            break;
          case TieRule::kMailchimp:
            d.winner = Winner::kMailchimp;
            d.reason = Reason::kTieMailchimp;
            break;
          case TieRule::kOut:
            d.winner = mc_m == Membership::kOut ? Winner::kMailchimp : Winner::kCrm;
            d.reason = Reason::kTieOut;
            break;
        }
      }
    }
  }
  if (d.winner != Winner::kNone) d.target = d.winner == Winner::kMailchimp ? mc_m : crm_m;

  if (d.winner == Winner::kMailchimp) {
    decide_for_mailchimp_winner(mc, crm, options, d);
  } else if (d.winner == Winner::kCrm) {
    decide_for_crm_winner(mc, crm, options, d);
  }
  d.duplicate = crm.duplicate;
  if (d.conflict == Conflict::kNone && crm.duplicate) d.conflict = Conflict::kDuplicate;
  return d;
}

std::string_view winner_name(Winner w) {
  switch (w) {
    case Winner::kNone:
      return "none";
    case Winner::kMailchimp:
      return "mailchimp";
    case Winner::kCrm:
      return "crm";
  }
  return "?";
}

std::string_view trust_name(Trust t) {
  switch (t) {
    case Trust::kCrm:
      return "crm";
    case Trust::kMailchimp:
      return "mailchimp";
    case Trust::kNone:
      break;
  }
  return "";
}

std::string_view action_name(MailchimpAction a) {
  switch (a) {
    case MailchimpAction::kNone:
      return "none";
    case MailchimpAction::kSubscribe:
      return "subscribe";
    case MailchimpAction::kPending:
      return "pending";
    case MailchimpAction::kUnsubscribe:
      return "unsubscribe";
    case MailchimpAction::kArchive:
      return "archive";
    case MailchimpAction::kMark:
      return "add-tag-or-interest";
    case MailchimpAction::kUnmark:
      return "remove-tag-or-interest";
  }
  return "?";
}

std::string_view action_name(CrmAction a) {
  switch (a) {
    case CrmAction::kNone:
      return "none";
    case CrmAction::kAdd:
      return "add";
    case CrmAction::kCreateContact:
      return "create_contact";
    case CrmAction::kRemove:
      return "remove";
  }
  return "?";
}

std::string_view conflict_name(Conflict c) {
  switch (c) {
    case Conflict::kNone:
      return "none";
    case Conflict::kBothChanged:
      return "both-changed";
    case Conflict::kCompliance:
      return "compliance";
    case Conflict::kCleaned:
      return "cleaned";
    case Conflict::kForgotten:
      return "forgotten";
    case Conflict::kInvalidEmail:
      return "invalid-email";
    case Conflict::kDuplicate:
      return "duplicate";
    case Conflict::kOptOut:
      return "opt-out";
    case Conflict::kFailedWrite:
      return "failed-write";
    case Conflict::kGuard:
      return "guard";
    case Conflict::kInvalidField:
      return "invalid-field";
    case Conflict::kAddressChange:
      return "address-change";
    case Conflict::kChangedSinceRun:
      return "changed-since-run";
  }
  return "?";
}

std::string_view reason_name(Reason r) {
  switch (r) {
    case Reason::kAgree:
      return "agree";
    case Reason::kOnlyMailchimpChanged:
      return "only-mailchimp-changed";
    case Reason::kOnlyCrmChanged:
      return "only-crm-changed";
    case Reason::kMailchimpLater:
      return "mailchimp-later";
    case Reason::kCrmLater:
      return "crm-later";
    case Reason::kTieCrm:
      return "tie-crm";
    case Reason::kTieMailchimp:
      return "tie-mailchimp";
    case Reason::kTieOut:
      return "tie-out";
    case Reason::kTrustCrm:
      return "trust-crm";
    case Reason::kTrustMailchimp:
      return "trust-mailchimp";
    case Reason::kOneWay:
      return "one-way";
    case Reason::kUndo:
      return "undo";
  }
  return "?";
}

std::string_view note_name(Note n) {
  switch (n) {
    case Note::kNone:
      return "none";
    case Note::kResubscribePending:
      return "resubscribe-pending";
    case Note::kSelfUnsubscribedNotResent:
      return "self-unsubscribed-not-resent";
    case Note::kCleanedNotResubscribed:
      return "cleaned-not-resubscribed";
    case Note::kForgottenNotResubscribed:
      return "forgotten-not-resubscribed";
    case Note::kCrmOptOut:
      return "crm-opt-out";
    case Note::kPendingNotArchived:
      return "pending-not-archived";
    case Note::kTrashedContactReplaced:
      return "trashed-contact-replaced";
    case Note::kCleanedRemoved:
      return "cleaned-removed";
    case Note::kRefusedAsInvalid:
      return "refused-as-invalid";
    case Note::kConsentWithdrawn:
      return "consent-withdrawn";
    case Note::kConsentFlagKept:
      return "consent-flag-kept";
    case Note::kNotFromSource:
      return "not-from-source";
  }
  return "?";
}

std::string explain(const Decision& d) {
  std::string s;
  switch (d.reason) {
    case Reason::kAgree:
      s = d.target == Membership::kIn ? "both sides have the member IN"
                                      : "both sides have the member OUT";
      break;
    case Reason::kOnlyMailchimpChanged:
      s = "only Mailchimp changed since the sides last agreed";
      break;
    case Reason::kOnlyCrmChanged:
      s = "only the CRM changed since the sides last agreed";
      break;
    case Reason::kMailchimpLater:
      s = "both changed; Mailchimp's change is later";
      break;
    case Reason::kCrmLater:
      s = "both changed; the CRM's change is later";
      break;
    case Reason::kTieCrm:
      s = "both changed at the same time; the tie rule favours the CRM";
      break;
    case Reason::kTieMailchimp:
      s = "both changed at the same time; the tie rule favours Mailchimp";
      break;
    case Reason::kTieOut:
      s = "both changed at the same time; the tie rule favours the side saying OUT";
      break;
    case Reason::kTrustCrm:
      s = "this run trusts the CRM";
      break;
    case Reason::kTrustMailchimp:
      s = "this run trusts Mailchimp";
      break;
    case Reason::kOneWay:
      s = "the pair is one-way: the people side is the source";
      break;
    case Reason::kUndo:
      s = "concord undo: the write of the undone run is reversed";
      break;
  }
  switch (d.note) {
    case Note::kNone:
      break;
    case Note::kResubscribePending:
      s += "; the person unsubscribed themself in Mailchimp, so they are sent a confirmation "
           "(pending) instead of being resubscribed";
      break;
    case Note::kSelfUnsubscribedNotResent:
      s += "; the person unsubscribed themself in Mailchimp and resubscribe = \"never\", so "
           "Mailchimp is left unchanged";
      break;
    case Note::kCleanedNotResubscribed:
      s += "; the address is cleaned (bounced) in Mailchimp and is never resubscribed";
      break;
    case Note::kForgottenNotResubscribed:
      s += "; the address was permanently deleted from Mailchimp and cannot be re-added";
      break;
    case Note::kCrmOptOut:
      s += "; the CRM contact is marked do-not-email, opted out or on hold, so it is not "
           "subscribed in Mailchimp";
      break;
    case Note::kPendingNotArchived:
      s += "; Mailchimp cannot archive a pending member, so it is unsubscribed instead";
      break;
    case Note::kTrashedContactReplaced:
      s += "; the only CRM contact with this email is in the trash, so a new contact is created";
      break;
    case Note::kRefusedAsInvalid:
      s += "; Mailchimp refused the address as invalid before, so it is not sent again";
      break;
    case Note::kConsentWithdrawn:
      s += "; the CRM contact is opted out, do-not-email, deceased or its address is on hold as "
           "an opt-out: unsubscribed in Mailchimp, and kept in the group";
      break;
    case Note::kConsentFlagKept:
      s += "; the person subscribed in Mailchimp after the CRM contact was marked not to be "
           "mailed: concord never clears that flag, so nothing is written until a person "
           "settles it";
      break;
    case Note::kNotFromSource:
      s += "; the member is not in the source's set and concord never mirrored it there, so it "
           "is left as it is";
      break;
    case Note::kCleanedRemoved:
      s += d.hold_email ? "; the address is cleaned (bounced) in Mailchimp: removed from the "
                          "group and the CRM email put on hold"
                        : "; the address is cleaned (bounced) in Mailchimp: removed from the group";
      break;
  }
  if (d.duplicate) s += "; several CRM contacts have this email (see the report)";
  return s;
}

}  // namespace concord
