#include "concord/plan.h"

#include <cmath>

namespace concord {

namespace {

// PlanCounts' counter of each OpKind, in OpKind order.
constexpr std::uint64_t PlanCounts::*kCounterOf[kOpKindCount] = {
    &PlanCounts::add_to_mailchimp,
    &PlanCounts::pending_in_mailchimp,
    &PlanCounts::unsubscribe_in_mailchimp,
    &PlanCounts::archive_in_mailchimp,
    &PlanCounts::add_to_crm,
    &PlanCounts::create_crm_contact,
    &PlanCounts::remove_from_crm,
    &PlanCounts::hold_crm_email,
    &PlanCounts::update_mailchimp_fields,
    &PlanCounts::update_crm_fields,
    &PlanCounts::change_email_in_mailchimp,
    &PlanCounts::change_email_in_crm,
    &PlanCounts::add_tag_in_mailchimp,
    &PlanCounts::remove_tag_in_mailchimp,
    &PlanCounts::add_interest_in_mailchimp,
    &PlanCounts::remove_interest_in_mailchimp,
    &PlanCounts::release_crm_hold,
};

// The table is indexed by the enum's value: a row out of place would give a kind another's
// meaning.
constexpr bool table_in_order() {
  for (std::size_t i = 0; i < kOpKindCount; ++i) {
    if (static_cast<std::size_t>(kOpKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(table_in_order(), "kOpKinds must be in OpKind order");

}  // namespace

std::uint64_t& PlanCounts::of(OpKind k) {
  return this->*kCounterOf[static_cast<std::size_t>(k)];
}

std::uint64_t PlanCounts::of(OpKind k) const {
  return this->*kCounterOf[static_cast<std::size_t>(k)];
}

std::uint64_t PlanCounts::operations() const {
  std::uint64_t n = 0;
  for (const OpKindInfo& k : kOpKinds)
    n += of(k.kind);
  return n;
}

bool guards_may_stop(const SyncOptions& options, bool first_run, bool base_empty) {
  // (Each clause is the condition under which one group of check_guards()'s guards returns early.)
  const bool removals = !options.allow_mass_removal;
  const bool additions = !first_run && !options.allow_mass_addition;
  const bool empty_sides = !base_empty;
  return removals || additions || empty_sides;
}

GuardVerdict check_guards(const PlanCounts& c, const SyncOptions& options, bool first_run) {
  GuardVerdict v;
  auto percent = [](double fraction) {
    return std::to_string(static_cast<int>(std::lround(fraction * 100))) + "%";
  };
  auto fraction_guard = [&](std::uint64_t removals, std::uint64_t in, std::string_view side) {
    if (options.allow_mass_removal || removals == 0) return;
    double limit = options.max_removal_fraction * static_cast<double>(in);
    if (static_cast<double>(removals) > limit) {
      v.stop = true;
      v.reasons.push_back("the plan removes " + std::to_string(removals) + " of " +
                          std::to_string(in) + " IN members " + std::string(side) +
                          ", more than max_removal_fraction (" +
                          percent(options.max_removal_fraction) +
                          "); check the plan, then rerun with --allow-mass-removal if it is right");
    }
  };
  fraction_guard(c.removals_in_mailchimp(), c.mailchimp_in, "in Mailchimp");
  fraction_guard(c.remove_from_crm, c.crm_in, "from the CRM group");
  // Additions: mailing (or filing) far more people than a side holds is as likely a mistake (a
  // wrong group, an import into the CRM) as a mass removal, and a subscribe sends mail at once.
  // A first run adds everyone by design. The reason reads "the plan <verb> <added> <noun>, more
  // than … of <whose> <in> IN members".
  auto addition_guard = [&](std::uint64_t added, std::uint64_t in, std::string_view verb,
                            std::string_view noun, std::string_view whose) {
    // An empty side has no share to exceed: a new audience or group filling up (people signing
    // up after a first sync of empty lists) is how lists start, and the daemon, which cannot be
    // given --allow-mass-addition, would otherwise stop at every run.
    if (first_run || options.allow_mass_addition || added == 0 || in == 0) return;
    double limit = options.max_addition_fraction * static_cast<double>(in);
    if (static_cast<double>(added) > limit) {
      v.stop = true;
      v.reasons.push_back("the plan " + std::string(verb) + " " + std::to_string(added) + " " +
                          std::string(noun) + ", more than max_addition_fraction (" +
                          percent(options.max_addition_fraction) + ") of " + std::string(whose) +
                          " " + std::to_string(in) +
                          " IN members; check the plan, then rerun with --allow-mass-addition if "
                          "it is right");
    }
  };
  addition_guard(c.add_to_mailchimp + c.pending_in_mailchimp, c.mailchimp_in, "subscribes",
                 "members in Mailchimp", "the audience's");
  addition_guard(c.create_crm_contact, c.crm_in, "creates", "new CRM contacts", "the CRM group's");
  if (c.base_in > 0 && c.mailchimp_members == 0) {
    v.stop = true;
    v.reasons.push_back("the Mailchimp snapshot is empty, but " + std::to_string(c.base_in) +
                        " members were IN when the sides last agreed; is the audience right?");
  }
  if (c.base_in > 0 && c.crm_members == 0) {
    v.stop = true;
    // (For a one-way pair, the people side is the Auth0 connection or the cohort.)
    const bool source = options.direction == Direction::kToMailchimp;
    v.reasons.push_back(
        std::string(source ? "the source's set (the connection or cohort) came back empty"
                           : "the CRM snapshot is empty") +
        ", but " + std::to_string(c.base_in) + " members were IN when the sides last agreed; " +
        (source ? "is it the right one?" : "is the group right?"));
  }
  return v;
}

}  // namespace concord
