// What the `concord` subcommands print, shared.
#include <unistd.h>

#include <cstdio>

#include "cli/cli.h"
#include "cli/plan_listing.h"
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

json plan_json(const PlanCounts& c, bool first_run, const std::string& sync) {
  return {{"sync", sync},
          {"first_run", first_run},
          {"counts",
           {{"add_to_mailchimp", c.add_to_mailchimp},
            {"unsubscribe_in_mailchimp", c.unsubscribe_in_mailchimp},
            {"archive_in_mailchimp", c.archive_in_mailchimp},
            {"pending_in_mailchimp", c.pending_in_mailchimp},
            {"add_to_crm", c.add_to_crm},
            {"remove_from_crm", c.remove_from_crm},
            {"create_crm_contact", c.create_crm_contact},
            {"hold_crm_email", c.hold_crm_email},
            {"update_mailchimp_fields", c.update_mailchimp_fields},
            {"update_crm_fields", c.update_crm_fields},
            {"change_email_in_mailchimp", c.change_email_in_mailchimp},
            {"change_email_in_crm", c.change_email_in_crm},
            {"unchanged", c.unchanged},
            {"report_rows", c.report_rows}}}};
}

Status print_plan_json(const json& header, PlanListing& listing, std::FILE* out) {
  std::string head = header.dump(2, ' ', false, json::error_handler_t::replace);
  head.pop_back();  // the closing brace: the lists follow
  while (!head.empty() && (head.back() == '\n' || head.back() == ' '))
    head.pop_back();
  std::fputs(head.c_str(), out);
  Status s = listing.write_json_lists(out);
  std::fputs("\n}", out);
  return s;
}

}  // namespace concord::cli
