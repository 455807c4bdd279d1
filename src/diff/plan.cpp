#include "concord/plan.h"

#include <cmath>

namespace concord {

Side side_of(OpKind k) {
  switch (k) {
    case OpKind::kMailchimpSubscribe:
    case OpKind::kMailchimpPending:
    case OpKind::kMailchimpUnsubscribe:
    case OpKind::kMailchimpArchive:
      return Side::kMailchimp;
    case OpKind::kCrmAdd:
    case OpKind::kCrmCreateContact:
    case OpKind::kCrmRemove:
    case OpKind::kCrmHoldEmail:
      return Side::kCrm;
  }
  return Side::kCrm;
}

std::string_view op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::kMailchimpSubscribe:
      return "add_to_mailchimp";
    case OpKind::kMailchimpPending:
      return "pending_in_mailchimp";
    case OpKind::kMailchimpUnsubscribe:
      return "unsubscribe_in_mailchimp";
    case OpKind::kMailchimpArchive:
      return "archive_in_mailchimp";
    case OpKind::kCrmAdd:
      return "add_to_crm";
    case OpKind::kCrmCreateContact:
      return "create_crm_contact";
    case OpKind::kCrmRemove:
      return "remove_from_crm";
    case OpKind::kCrmHoldEmail:
      return "hold_crm_email";
  }
  return "?";
}

std::uint64_t& PlanCounts::of(OpKind k) {
  switch (k) {
    case OpKind::kMailchimpSubscribe:
      return add_to_mailchimp;
    case OpKind::kMailchimpPending:
      return pending_in_mailchimp;
    case OpKind::kMailchimpUnsubscribe:
      return unsubscribe_in_mailchimp;
    case OpKind::kMailchimpArchive:
      return archive_in_mailchimp;
    case OpKind::kCrmAdd:
      return add_to_crm;
    case OpKind::kCrmCreateContact:
      return create_crm_contact;
    case OpKind::kCrmRemove:
      return remove_from_crm;
    case OpKind::kCrmHoldEmail:
      return hold_crm_email;
  }
  return hold_crm_email;
}

std::uint64_t PlanCounts::operations() const {
  return add_to_mailchimp + pending_in_mailchimp + unsubscribe_in_mailchimp + archive_in_mailchimp +
         add_to_crm + create_crm_contact + remove_from_crm + hold_crm_email;
}

GuardVerdict check_guards(const PlanCounts& c, const SyncOptions& options) {
  GuardVerdict v;
  auto fraction_guard = [&](std::uint64_t removals, std::uint64_t in, std::string_view side) {
    if (options.allow_mass_removal || removals == 0) return;
    double limit = options.max_removal_fraction * static_cast<double>(in);
    if (static_cast<double>(removals) > limit) {
      v.stop = true;
      v.reasons.push_back(
          "the plan removes " + std::to_string(removals) + " of " + std::to_string(in) +
          " IN members " + std::string(side) + ", more than max_removal_fraction (" +
          std::to_string(static_cast<int>(std::lround(options.max_removal_fraction * 100))) +
          "%); check the plan, then rerun with --allow-mass-removal if it is right");
    }
  };
  fraction_guard(c.removals_in_mailchimp(), c.mailchimp_in, "in Mailchimp");
  fraction_guard(c.remove_from_crm, c.crm_in, "from the CRM group");
  if (c.base_in > 0 && c.mailchimp_members == 0) {
    v.stop = true;
    v.reasons.push_back("the Mailchimp snapshot is empty, but " + std::to_string(c.base_in) +
                        " members were IN when the sides last agreed; is the audience right?");
  }
  if (c.base_in > 0 && c.crm_members == 0) {
    v.stop = true;
    v.reasons.push_back("the CRM snapshot is empty, but " + std::to_string(c.base_in) +
                        " members were IN when the sides last agreed; is the group right?");
  }
  return v;
}

}  // namespace concord
