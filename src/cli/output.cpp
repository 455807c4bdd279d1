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
  return [tty, logged = std::uint64_t{0}](const Progress& p) mutable {
    std::string what = p.phase + " " + std::string(side_name(p.side));
    if (p.phase != "fetch" && p.phase != "apply") what = p.phase;
    if (p.total == 0 && p.done > 0) {
      // A running count (a fetch's members read so far): rewritten in place on a terminal; in a
      // log, a line per page would be noise, so one per 100 000 read.
      if (!tty) {
        if (p.done < logged + 100000 && p.done > logged) return;
        logged = p.done;
      }
      std::fprintf(stderr, "%s%-16s %llu read%s", tty ? "\r" : "", what.c_str(),
                   static_cast<unsigned long long>(p.done), tty ? "" : "\n");
    } else if (p.total > 0) {
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
  json counts = json::object();
  for (const OpKindInfo& k : kOpKinds)
    counts[std::string(k.name)] = c.of(k.kind);
  counts["unchanged"] = c.unchanged;
  counts["report_rows"] = c.report_rows;
  return {{"sync", sync}, {"first_run", first_run}, {"counts", std::move(counts)}};
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
