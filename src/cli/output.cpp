// What the `concord` subcommands print, shared.
#include <unistd.h>

#include <cstdio>

#include "cli/cli.h"
#include "concord/time.h"

namespace concord::cli {

using nlohmann::json;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "concord: %s\n", message.c_str());
  return code;
}

int exit_for(const Status& s) {
  return s.code() == Status::Code::kInvalid ? kExitUsage : kExitError;
}

std::string time_text(Micros t) {
  return t == kNoTime ? "-" : format_iso8601(t);
}

std::function<void(const Progress&)> progress_printer(bool verbose) {
  const bool tty = isatty(STDERR_FILENO) == 1;
  if (!tty && !verbose) return {};
  return [tty](const Progress& p) {
    std::string what = p.phase + " " + std::string(side_name(p.side));
    if (p.phase == "resume" || p.phase == "backup") what = p.phase;
    if (p.total > 0) {
      std::fprintf(stderr, "%s%-16s %llu/%llu%s", tty ? "\r" : "", what.c_str(),
                   static_cast<unsigned long long>(p.done),
                   static_cast<unsigned long long>(p.total), tty && p.done < p.total ? "" : "\n");
    } else {
      std::fprintf(stderr, "%s%-16s …%s", tty ? "\r" : "", what.c_str(), tty ? "" : "\n");
    }
    std::fflush(stderr);
  };
}

json plan_json(const Plan& plan, const std::string& sync) {
  const PlanCounts& c = plan.counts;
  json ops = json::array();
  for (const Operation& op : plan.operations) {
    ops.push_back({{"email", op.email},
                   {"side", side_name(side_of(op.kind))},
                   {"action", op_kind_name(op.kind)},
                   {"reason", reason_name(op.reason)}});
  }
  json reports = json::array();
  for (const ReportRow& r : plan.reports) {
    reports.push_back({{"email", r.email},
                       {"class", conflict_name(r.conflict == Conflict::kNone && r.decision.duplicate
                                                   ? Conflict::kDuplicate
                                                   : r.conflict)},
                       {"reason", r.reason}});
  }
  return {{"sync", sync},
          {"first_run", plan.first_run},
          {"counts",
           {{"add_to_mailchimp", c.add_to_mailchimp},
            {"unsubscribe_in_mailchimp", c.unsubscribe_in_mailchimp},
            {"archive_in_mailchimp", c.archive_in_mailchimp},
            {"pending_in_mailchimp", c.pending_in_mailchimp},
            {"add_to_crm", c.add_to_crm},
            {"remove_from_crm", c.remove_from_crm},
            {"create_crm_contact", c.create_crm_contact},
            {"hold_crm_email", c.hold_crm_email},
            {"unchanged", c.unchanged},
            {"report_rows", c.report_rows}}},
          {"operations", ops},
          {"report", reports}};
}

void print_counts(const Plan& plan, std::FILE* out) {
  const PlanCounts& c = plan.counts;
  const std::pair<const char*, std::uint64_t> outcomes[] = {
      {"stays subscribed", c.unchanged_in},
      {"removed from the CRM group", c.remove_from_crm},
      {"unsubscribed in Mailchimp", c.unsubscribe_in_mailchimp},
      {"added to Mailchimp", c.add_to_mailchimp},
      {"added to the CRM group", c.add_to_crm + c.create_crm_contact},
      {"  of which new CRM contacts", c.create_crm_contact},
      {"sent a confirmation (pending)", c.pending_in_mailchimp},
      {"archived in Mailchimp", c.archive_in_mailchimp},
      {"CRM email put on hold", c.hold_crm_email},
      {"unchanged", c.unchanged},
      {"report rows", c.report_rows},
  };
  for (const auto& [label, n] : outcomes) {
    std::fprintf(out, "  %-34s %8llu\n", label, static_cast<unsigned long long>(n));
  }
}

void print_operations(const Plan& plan, std::FILE* out, std::size_t limit) {
  std::size_t n = 0;
  for (const Operation& op : plan.operations) {
    if (n++ == limit) {
      std::fprintf(out, "  … and %zu more (--json lists them all)\n",
                   plan.operations.size() - limit);
      break;
    }
    std::fprintf(out, "  %-9s %-26s %-32s %s\n", std::string(side_name(side_of(op.kind))).c_str(),
                 std::string(op_kind_name(op.kind)).c_str(), op.email.c_str(),
                 std::string(reason_name(op.reason)).c_str());
  }
}

void print_report_rows(const Plan& plan, std::FILE* out, std::size_t limit) {
  std::size_t n = 0;
  for (const ReportRow& r : plan.reports) {
    if (n++ == limit) {
      std::fprintf(out, "  … and %zu more (see `concord report`)\n", plan.reports.size() - limit);
      break;
    }
    const Conflict c =
        r.conflict == Conflict::kNone && r.decision.duplicate ? Conflict::kDuplicate : r.conflict;
    std::fprintf(out, "  %-14s %-32s %s\n", std::string(conflict_name(c)).c_str(), r.email.c_str(),
                 r.reason.c_str());
  }
}

}  // namespace concord::cli
