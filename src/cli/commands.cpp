// `concord init | check | plan | sync | report | status | backup`.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "cli/cli.h"
#include "cli/plan_listing.h"
#include "concord/backup.h"
#include "concord/journal.h"
#include "concord/report.h"
#include "concord/snapshot.h"
#include "concord/undo.h"
#include "serve/listener.h"
#include "serve/stream_queue.h"
#include "store/private_file.h"

namespace concord::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kListed = 50;  // operations / report rows printed before "… and N more"

Result<Trust> trust_of(const std::string& t) {
  if (t.empty()) return Trust::kNone;
  if (t == "crm") return Trust::kCrm;
  if (t == "mailchimp") return Trust::kMailchimp;
  return Status::invalid("--trust must be crm or mailchimp");
}

// The worse of two exit codes (guard and unsynced outrank success; errors outrank everything).
int worse(int a, int b) {
  auto rank = [](int c) {
    switch (c) {
      case kExitOk:
        return 0;
      case kExitUnsynced:
        return 1;
      case kExitGuard:
        return 2;
      default:
        return 3;
    }
  };
  return rank(b) > rank(a) ? b : a;
}

// The plan's counts as the diff made them (the run's record counts the whole report, guard and
// write outcomes included, once the run is over).
PlanCounts plan_counts_of(const RunOutcome& r, const PlanListing& listing) {
  PlanCounts c = r.record.counts;
  c.report_rows = listing.report_rows();
  return c;
}

json run_json(const RunOutcome& r, const PlanListing& listing) {
  json j = plan_json(plan_counts_of(r, listing), r.record.first_run, r.record.sync);
  j["run"] = r.record.id;
  j["full_fetch"] = r.record.full_fetch;
  j["result"] = run_state_name(r.record.state);
  j["applied"] = r.record.applied;
  j["failed"] = r.record.failed;
  j["refused"] = r.record.refused;
  j["unsynced"] = r.record.unsynced;
  j["resumed_from"] = r.record.resumed_from;
  if (r.record.undoes != 0) j["undoes"] = r.record.undoes;
  j["notes"] = r.record.notes;
  j["mailchimp_requests"] = r.record.mailchimp_requests;
  j["crm_requests"] = r.record.crm_requests;
  j["guard"] = {{"stop", r.guard.stop}, {"reasons", r.guard.reasons}};
  if (!r.backup.empty()) j["backup"] = r.backup.string();
  j["exit_code"] = r.exit_code();
  return j;
}

void print_run(const RunOutcome& r, const PlanListing& listing, bool applied) {
  const RunRecord& rec = r.record;
  if (rec.undoes != 0) {
    std::printf("%s of run %llu of %s (run %llu)\n\n", applied ? "Undo" : "Plan for the undo",
                static_cast<unsigned long long>(rec.undoes), rec.sync.c_str(),
                static_cast<unsigned long long>(rec.id));
  } else {
    std::printf("%s %s (run %llu%s%s)\n\n", applied ? "Sync of" : "Plan for", rec.sync.c_str(),
                static_cast<unsigned long long>(rec.id),
                rec.first_run ? "; first run: no base yet" : "",
                rec.full_fetch ? "; full fetch" : "; incremental fetch");
  }
  if (rec.resumed_from != 0) {
    std::printf("Resumed the journal of run %llu first.\n\n",
                static_cast<unsigned long long>(rec.resumed_from));
  }
  print_counts(plan_counts_of(r, listing), stdout);
  // What the run noticed (a guard's reasons are shown with the stop, below).
  bool noted = false;
  for (const std::string& n : rec.notes) {
    if (std::find(r.guard.reasons.begin(), r.guard.reasons.end(), n) != r.guard.reasons.end()) {
      continue;
    }
    std::printf("%s  - %s\n", noted ? "" : "\nNotes\n", n.c_str());
    noted = true;
  }
  if (listing.operations() > 0) {
    std::printf("\nOperations\n");
    listing.print_operations(stdout);
  }
  if (listing.report_rows() > 0) {
    std::printf("\nFor a person to look at\n");
    listing.print_report_rows(stdout);
  }
  if (r.guard.stop) {
    std::printf("\nStopped by a guard (exit status 3); nothing was changed:\n");
    for (const auto& why : r.guard.reasons)
      std::printf("  - %s\n", why.c_str());
    return;
  }
  std::printf("\n");
  if (!r.backup.empty()) std::printf("Backed up both sides to %s\n", r.backup.string().c_str());
  if (!applied) {
    const char* how = rec.undoes != 0 ? "; `concord undo --apply` applies this plan"
                                      : "; `concord sync` applies this plan";
    std::printf("Nothing was changed%s.\n", listing.operations() == 0 ? ": nothing to do" : how);
    return;
  }
  if (listing.operations() == 0 && rec.applied == 0) std::printf("Nothing to do.\n");
  std::printf(
      "Result: %s: %llu applied, %llu failed (retried next run), %llu refused; %llu "
      "members not in agreement.\n",
      std::string(run_state_name(rec.state)).c_str(), static_cast<unsigned long long>(rec.applied),
      static_cast<unsigned long long>(rec.failed), static_cast<unsigned long long>(rec.refused),
      static_cast<unsigned long long>(rec.unsynced));
  if (rec.counts.report_rows > 0) {
    std::printf("Conflict report: concord report --sync %s --run %llu --format html -o FILE\n",
                rec.sync.c_str(), static_cast<unsigned long long>(rec.id));
  }
}

int run_command(const Global& g, const RunOptions& o, bool apply) {
  Result<Trust> trust = trust_of(o.trust);
  if (!trust) return fail(kExitUsage, trust.status().message());
  Result<std::unique_ptr<Context>> ctx = Context::open(g);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(o.sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  // Run ids are a pair's own: an undo names one pair.
  if (o.undo_run != 0 && syncs->size() != 1) {
    return fail(kExitUsage, "several syncs are configured: name the one to undo with --sync");
  }
  int code = kExitOk;
  // --json: an array of one object per pair (one pair too, so that scripts read one shape); each
  // is written as soon as its run ends, its lists streamed from the listing's spool.
  std::size_t printed = 0;
  if (o.json) std::fputs("[", stdout);
  for (const SyncConfig* s : *syncs) {
    Result<Context::Pair> p = (*ctx)->pair(*s);
    if (!p) {
      code = worse(code, fail(exit_for(p.status()), s->name + ": " + p.status().message()));
      continue;
    }
    SyncPair sp{(*ctx)->store(), *p->handle, *s, *p->mailchimp, *p->crm, system_clock()};
    PlanListing listing(o.json ? 0 : kListed, /*spool=*/o.json);
    RunRequest rq;
    rq.command = apply ? "sync" : "plan";
    if (o.undo_run != 0) {
      if (Status st = check_undoable((*ctx)->store(), *p->handle, o.undo_run); !st) {
        code = worse(code, fail(exit_for(st), st.message()));
        continue;
      }
      rq.command = apply ? "undo" : "undo-plan";
      rq.undoes = o.undo_run;
      rq.planner = [&store = (*ctx)->store(), &handle = *p->handle, undone = o.undo_run](
                       PlanSink& sink, std::uint64_t run_id) {
        return plan_undo(store, handle, undone, run_id, sink);
      };
    }
    rq.apply = apply;
    rq.trust = *trust;
    rq.allow_mass_removal = o.allow_mass_removal;
    rq.allow_mass_addition = o.allow_mass_addition;
    rq.full_fetch = o.full;
    rq.backup_dir = (*ctx)->backup_dir();
    rq.progress = progress_printer(g.verbose);
    rq.observer = &listing;
    Result<RunOutcome> r = run_sync(sp, rq);
    if (!r) {
      code = worse(code, fail(kExitError, s->name + ": " + r.status().to_string()));
      continue;
    }
    code = worse(code, r->exit_code());
    if (o.json) {
      std::fputs(printed == 0 ? "\n" : ",\n", stdout);
      if (Status st = print_plan_json(run_json(*r, listing), listing, stdout); !st) {
        code = worse(code, fail(kExitError, s->name + ": " + st.message()));
      }
      ++printed;
    } else {
      print_run(*r, listing, apply);
    }
  }
  if (o.json) {
    std::fputs(printed == 0 ? "]\n" : "\n]\n", stdout);
    std::fflush(stdout);
  }
  return code;
}

// The one sync a command about stored runs is for: the named one, or the only one.
Result<const SyncConfig*> one_sync(const Context& ctx, const std::string& name) {
  Result<const SyncConfig*> s = ctx.config().sync(name);
  if (!s && name.empty()) {
    return Status::invalid("several syncs are configured: name one with --sync");
  }
  return s;
}

}  // namespace

int init(const Global& g, bool force) {
  if (std::filesystem::exists(g.config) && !force) {
    return fail(kExitUsage, g.config + " exists; --force overwrites it");
  }
  std::ofstream out(g.config);
  out << example_config();
  out.close();
  if (!out) return fail(kExitError, "cannot write " + g.config);
  std::printf(
      "Wrote %s. Set the environment variables it names, then run `concord --config %s "
      "check`.\n",
      g.config.c_str(), g.config.c_str());
  // The token `concord serve` will require, made now so that it is shown where someone reads it.
  Result<Config> cfg = load_config(g.config);
  if (!cfg) return fail(exit_for(cfg.status()), cfg.status().message());
  Result<serve::ServeToken> token = serve::serve_token(*cfg);
  if (!token) return fail(exit_for(token.status()), token.status().message());
  if (!token->file.empty()) {
    std::printf("The status page and API of `concord serve` need the token kept in %s.\n",
                token->file.c_str());
  }
  std::fflush(stdout);
  serve::show_new_token(*token);
  return kExitOk;
}

namespace {}  // namespace

int plan(const Global& g, const RunOptions& o) {
  return run_command(g, o, /*apply=*/false);
}
int sync(const Global& g, const RunOptions& o) {
  return run_command(g, o, /*apply=*/true);
}
int undo(const Global& g, const RunOptions& o, bool apply) {
  return run_command(g, o, apply);
}

int report(const Global& g, const ReportOptions& o) {
  Result<ReportFormat> format = parse_report_format(o.format);
  if (!format) return fail(kExitUsage, format.status().message());
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/true, /*read_only=*/true);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Result<const SyncConfig*> s = one_sync(**ctx, o.sync);
  if (!s) return fail(kExitUsage, s.status().message());
  Result<const PairHandle*> pair = (*ctx)->store().pair((*s)->name);
  if (!pair && pair.status().code() == Status::Code::kNotFound) {
    return fail(kExitUsage, "sync " + (*s)->name + " has not run yet");
  }
  if (!pair) return fail(kExitError, pair.status().message());
  RunLog log((*ctx)->store(), **pair);
  Result<std::optional<RunRecord>> run = o.run ? log.get_run(o.run) : log.last_run();
  if (!run) return fail(kExitError, run.status().to_string());
  if (!run->has_value()) {
    return fail(kExitUsage, o.run ? "sync " + (*s)->name + " has no run " + std::to_string(o.run)
                                  : "sync " + (*s)->name + " has not run yet");
  }
  // Rows go from the store to the output one at a time: a migration's report is never whole in
  // memory.
  const StoredReportRows rows((*ctx)->store(), **pair, (**run).id);
  const ReportSummary summary = report_summary(**run);
  if (o.output.empty() || o.output == "-") {
    if (Status st = write_report(summary, rows, *format, std::cout); !st) {
      return fail(kExitError, st.to_string());
    }
    return kExitOk;
  }
  // The report names people: readable by this user only (0600 whatever the umask), and written
  // whole or not at all (a file of that name already there stays until the new one is complete).
  Result<std::unique_ptr<AtomicFile>> out = AtomicFile::create(o.output);
  if (!out) return fail(kExitError, out.status().message());
  if (Status st = write_report(summary, rows, *format, (*out)->out()); !st) {
    return fail(kExitError, o.output + ": " + st.message());
  }
  if (Status st = (*out)->commit(); !st) return fail(kExitError, st.message());
  std::fprintf(stderr, "Wrote the report of run %llu (%llu rows) to %s\n",
               static_cast<unsigned long long>((**run).id),
               static_cast<unsigned long long>((**run).counts.report_rows), o.output.c_str());
  return kExitOk;
}

int prune(const Global& g, const std::string& sync, bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/true);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  json all = json::array();
  for (const SyncConfig& s : (*ctx)->config().syncs) {
    if (!sync.empty() && s.name != sync) continue;
    Result<const PairHandle*> pair = (*ctx)->store().pair(s.name);
    if (!pair && pair.status().code() == Status::Code::kNotFound) continue;  // never ran
    if (!pair) return fail(kExitError, pair.status().message());
    RunLog log((*ctx)->store(), **pair);
    Result<RunLog::Pruned> p = log.prune(s.keep_runs, s.keep_days, system_clock().now());
    if (!p) return fail(kExitError, s.name + ": " + p.status().to_string());
    all.push_back({{"sync", s.name},
                   {"runs", p->runs},
                   {"journal_entries", p->journal_entries},
                   {"report_rows", p->report_rows}});
    if (!as_json) {
      std::printf("%s: pruned %llu run%s (%llu journal entries, %llu report rows)\n",
                  s.name.c_str(), static_cast<unsigned long long>(p->runs), p->runs == 1 ? "" : "s",
                  static_cast<unsigned long long>(p->journal_entries),
                  static_cast<unsigned long long>(p->report_rows));
    }
  }
  if (!sync.empty() && all.empty() &&
      std::none_of((*ctx)->config().syncs.begin(), (*ctx)->config().syncs.end(),
                   [&](const SyncConfig& s) { return s.name == sync; })) {
    return fail(kExitUsage, "no [[sync]] is named " + sync);
  }
  if (as_json) std::printf("%s\n", all.dump(2).c_str());
  return kExitOk;
}

int status(const Global& g, bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/true, /*read_only=*/true);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  json all = json::array();
  for (const SyncConfig& s : (*ctx)->config().syncs) {
    Result<const PairHandle*> pair = (*ctx)->store().pair(s.name);
    if (!pair && pair.status().code() == Status::Code::kNotFound) {
      // Never ran (the store is open for reading only).
      if (!as_json) std::printf("%s: 0 pending journal entries\n  no runs yet\n", s.name.c_str());
      all.push_back({{"sync", s.name}, {"pending_journal_entries", 0}, {"runs", json::array()}});
      continue;
    }
    if (!pair) return fail(kExitError, pair.status().message());
    RunLog log((*ctx)->store(), **pair);
    Result<std::vector<RunRecord>> runs = log.recent_runs(10);
    if (!runs) return fail(kExitError, runs.status().to_string());
    Result<std::uint64_t> open = log.open_count();
    if (!open) return fail(kExitError, open.status().to_string());
    json js = {{"sync", s.name}, {"pending_journal_entries", *open}, {"runs", json::array()}};
    if (!as_json) {
      std::printf("%s: %llu pending journal entr%s\n", s.name.c_str(),
                  static_cast<unsigned long long>(*open), *open == 1 ? "y" : "ies");
      if (runs->empty()) std::printf("  no runs yet\n");
    }
    for (const RunRecord& r : *runs) {
      json counts = json::object();
      for (const auto& [k, v] : run_counts(r))
        counts[k] = v;
      js["runs"].push_back({{"id", r.id},
                            {"command", r.command},
                            {"undoes", r.undoes == 0 ? json(nullptr) : json(r.undoes)},
                            {"started_at", time_text(r.started_at)},
                            {"ended_at", time_text(r.ended_at)},
                            {"result", run_state_name(r.state)},
                            {"counts", counts},
                            {"notes", r.notes}});
      if (!as_json) {
        std::printf(
            "  run %-4llu %-5s %s → %s  %-18s applied %llu, failed %llu, refused %llu, "
            "report rows %llu\n",
            static_cast<unsigned long long>(r.id), r.command.c_str(),
            time_text(r.started_at).c_str(), time_text(r.ended_at).c_str(),
            std::string(run_state_name(r.state)).c_str(),
            static_cast<unsigned long long>(r.applied), static_cast<unsigned long long>(r.failed),
            static_cast<unsigned long long>(r.refused),
            static_cast<unsigned long long>(r.counts.report_rows));
        if (r.undoes != 0) {
          std::printf("           undoes run %llu\n", static_cast<unsigned long long>(r.undoes));
        }
        for (const std::string& n : r.notes)
          std::printf("           %s\n", n.c_str());
      }
    }
    all.push_back(std::move(js));
  }
  if (as_json) {
    std::cout << all.dump(2) << "\n";
    return kExitOk;
  }
  // Streams as the daemon left them (the JSON shape stays the pairs' list; `GET /api/streams`
  // has the streams').
  for (const StreamConfig& s : (*ctx)->config().streams) {
    Result<std::unique_ptr<serve::StreamQueue>> q =
        serve::StreamQueue::open((*ctx)->store(), s.name);
    if (!q && q.status().code() == Status::Code::kNotFound) {
      std::printf("stream %s: nothing accepted yet\n", s.name.c_str());
      continue;
    }
    if (!q) return fail(kExitError, q.status().message());
    const serve::StreamCounts c = (*q)->counts();
    std::printf("stream %s: accepted %llu, forwarded %llu, queued %llu, dropped %llu\n",
                s.name.c_str(), static_cast<unsigned long long>(c.accepted),
                static_cast<unsigned long long>(c.forwarded),
                static_cast<unsigned long long>(c.queued),
                static_cast<unsigned long long>(c.dropped_total()));
    if (const auto [error, at] = (*q)->last_error(); !error.empty()) {
      std::printf("  last error %s: %s\n", time_text(at).c_str(), error.c_str());
    }
  }
  return kExitOk;
}

int backup(const Global& g, const std::string& sync, const std::string& dir, bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  const std::filesystem::path parent =
      dir.empty() ? (*ctx)->backup_dir() : std::filesystem::path(dir);
  json out = json::array();
  const std::function<void(const Progress&)> progress = progress_printer(g.verbose);
  auto show = [&](std::string phase, Side side, std::uint64_t done, std::uint64_t total) {
    if (progress) progress(Progress{std::move(phase), side, done, total});
  };
  // Running counts of the members read, page by page.
  FetchProgress pages([&](Side side, std::uint64_t read) { show("fetch", side, read, 0); });
  for (const SyncConfig* s : *syncs) {
    Result<Context::Pair> p = (*ctx)->pair(*s);
    if (!p) return fail(exit_for(p.status()), s->name + ": " + p.status().message());
    for (SyncSide* side : {p->mailchimp.get(), p->crm.get()}) {
      show("fetch", side->side(), 0, 0);
      Result<FetchStats> f = side->fetch(/*full=*/true, (*ctx)->store(), *p->handle);
      if (!f) {
        return fail(kExitError, s->name + ": fetching " + std::string(side_name(side->side())) +
                                    ": " + f.status().message());
      }
    }
    // As a run does once both sides are read: CRM contacts keyed by the address Mailchimp has.
    if (Result<std::uint64_t> settled = settle_representatives((*ctx)->store(), *p->handle);
        !settled) {
      return fail(kExitError, s->name + ": " + settled.status().message());
    }
    show("backup", Side::kMailchimp, 0, 0);
    Result<BackupResult> b =
        write_backup((*ctx)->store(), *p->handle, parent, s->name, system_clock().now());
    if (!b) return fail(kExitError, b.status().to_string());
    show("backup", Side::kMailchimp, 1, 1);
    out.push_back({{"sync", s->name},
                   {"mailchimp_members", b->mailchimp_members},
                   {"crm_members", b->crm_members},
                   {"dir", b->dir.string()}});
    if (as_json) continue;
    std::printf("%s: %llu Mailchimp members and %llu CRM members backed up to %s\n",
                s->name.c_str(), static_cast<unsigned long long>(b->mailchimp_members),
                static_cast<unsigned long long>(b->crm_members), b->dir.string().c_str());
  }
  if (as_json) std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace concord::cli
