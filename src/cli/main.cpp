// The `concord` command (README.md): concord [--config FILE] COMMAND, each with --help.
#include <malloc.h>

#include <CLI/CLI.hpp>

#include "cli/cli.h"

using namespace concord::cli;

namespace {

// plan and sync take the same flags: a plan shows (and exits as) the sync with those flags.
void add_run_options(CLI::App* c, RunOptions& o) {
  c->add_option("--sync", o.sync, "the [[sync]] to run (default: every one)");
  c->add_option("--trust", o.trust, "the side that wins every disagreement, for this run only")
      ->check(CLI::IsMember({"crm", "mailchimp"}));
  c->add_flag("--allow-mass-removal", o.allow_mass_removal,
              "lift the max_removal_fraction guard for this run");
  c->add_flag("--allow-mass-addition", o.allow_mass_addition,
              "lift the max_addition_fraction guard for this run");
  c->add_flag("--full", o.full, "fetch both sides in full even when a watermark exists");
  c->add_flag("--json", o.json, "print the plan and the result as JSON");
}

}  // namespace

int main(int argc, char** argv) {
  // concord's threads (HTTP connections, fetch and write lanes, the daemon's) mostly wait on the
  // network. glibc gives threads malloc arenas of their own (up to eight a core), and what one
  // frees the others do not reuse: a migration's peak memory grew by half with its threads. Two
  // arenas keep it near what it holds, at no cost in time.
  mallopt(M_ARENA_MAX, 2);
  // Blocks of a megabyte or more (RocksDB's memtable blocks, scan buffers) are mapped apart and
  // given back when freed: glibc would otherwise raise this threshold as such blocks are freed and
  // carve later ones from the arenas, where what is freed between live data stays resident (a
  // million-member migration peaked at 240-271 MB that way, 224-228 MB this way).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  CLI::App app{"concord keeps a CRM group and a Mailchimp audience in agreement"};
  app.require_subcommand(1);
  Global g;
  app.add_option("--config", g.config, "configuration file")->capture_default_str();
  app.add_flag("--verbose,-v", g.verbose, "print progress even when not on a terminal");

  bool force = false;
  CLI::App* init_c = app.add_subcommand("init", "Write a commented example configuration");
  init_c->add_flag("--force", force, "overwrite an existing file");

  CLI::App* check_c = app.add_subcommand(
      "check", "Reach both sides, resolve every audience and group, check the field mapping");
  bool check_json = false;
  check_c->add_flag("--json", check_json, "print as JSON");

  RunOptions plan_o, sync_o;
  CLI::App* plan_c = app.add_subcommand(
      "plan", "Fetch both sides and show what a sync would do, changing neither side");
  add_run_options(plan_c, plan_o);
  CLI::App* sync_c =
      app.add_subcommand("sync", "Plan, then apply (backing both sides up before the first apply)");
  add_run_options(sync_c, sync_o);

  RunOptions undo_o;
  bool undo_apply = false;
  CLI::App* undo_c = app.add_subcommand(
      "undo",
      "Show (and with --apply, make) the inverse of a run's writes that still stand; members "
      "changed since are left alone");
  undo_c->add_option("--run", undo_o.undo_run, "the run to undo (`concord status` lists them)")
      ->required()
      ->check(CLI::Validator(
          [](std::string& v) { return v == "0" ? std::string("run ids start at 1") : ""; }, "RUN"));
  undo_c->add_option("--sync", undo_o.sync, "the sync (default: the only one)");
  undo_c->add_flag("--apply", undo_apply, "make the writes (without it nothing is changed)");
  undo_c->add_flag("--allow-mass-removal", undo_o.allow_mass_removal,
                   "lift the max_removal_fraction guard for this undo");
  undo_c->add_flag("--allow-mass-addition", undo_o.allow_mass_addition,
                   "lift the max_addition_fraction guard for this undo");
  undo_c->add_flag("--json", undo_o.json, "print the plan and the result as JSON");

  ReportOptions rep;
  CLI::App* report_c = app.add_subcommand("report", "The conflict report of a run");
  report_c->add_option("--sync", rep.sync, "the sync (default: the only one)");
  report_c->add_option("--run", rep.run, "the run id (default: the last run)");
  report_c->add_option("--format", rep.format, "csv, json, md or html")
      ->check(CLI::IsMember({"csv", "json", "md", "html"}))
      ->capture_default_str();
  report_c->add_option("-o,--output", rep.output, "write to this file (default: standard output)");

  bool status_json = false;
  std::string prune_sync;
  bool prune_json = false;
  CLI::App* prune_c = app.add_subcommand(
      "prune",
      "Drop the journals and reports of runs past keep_runs and keep_days (also done "
      "after every run)");
  prune_c->add_option("--sync", prune_sync, "the [[sync]] to prune (default: every one)");
  prune_c->add_flag("--json", prune_json, "print as JSON");

  CLI::App* status_c = app.add_subcommand("status", "Recent runs and pending journal entries");
  status_c->add_flag("--json", status_json, "print as JSON");

  std::string backup_sync, backup_dir;
  CLI::App* backup_c = app.add_subcommand("backup", "Back up both sides in full (CSV and JSON)");
  backup_c->add_option("--sync", backup_sync, "the sync (default: every one)");
  backup_c->add_option("-o,--output", backup_dir, "directory (default: <state_dir>/backups)");
  bool backup_json = false;
  backup_c->add_flag("--json", backup_json, "print as JSON");

  std::string explain_email, explain_sync;
  bool explain_json = false;
  CLI::App* explain_c = app.add_subcommand("explain", "Why a member is where it is");
  explain_c->add_option("EMAIL", explain_email, "the member's email address")->required();
  explain_c->add_option("--sync", explain_sync, "the sync (default: the only one)");
  explain_c->add_flag("--json", explain_json, "print as JSON");

  ServeOptions serve_o;
  CLI::App* serve_c = app.add_subcommand(
      "serve", "Run every sync on its schedule, take Mailchimp webhooks, serve the status page");
  serve_c->add_option("--listen", serve_o.listen, "address:port (default: [serve] listen)");

  std::string hook_sync, hook_url;
  bool hook_mautic = false;
  CLI::App* hooks_c = app.add_subcommand("webhooks", "Mailchimp list webhooks of the syncs");
  hooks_c->require_subcommand(1);
  CLI::App* hook_install = hooks_c->add_subcommand(
      "install",
      "Register the list webhook that tells `concord serve` of subscribes, unsubscribes, profile "
      "and email changes and bounces (from people and admins, not from the API)");
  hook_install->add_option("--sync", hook_sync, "the sync (default: every one)");
  hook_install->add_option("--public-url", hook_url,
                           "where Mailchimp reaches `concord serve` (default: [serve] public_url)");
  hook_install->add_flag("--mautic", hook_mautic,
                         "register Mautic's webhook instead (Mautic pairs): contact changes, "
                         "segment and Do-Not-Contact changes, signed, pushed to `concord serve`");
  CLI::App* hook_list = hooks_c->add_subcommand("list", "The audiences' webhooks");
  hook_list->add_option("--sync", hook_sync, "the sync (default: every one)");
  bool hook_json = false;
  hook_install->add_flag("--json", hook_json, "print as JSON");
  hook_list->add_flag("--json", hook_json, "print as JSON");

  RehearseOptions r;
  CLI::App* reh = app.add_subcommand("rehearse",
                                     "Run the decision rules on a table of members and show the "
                                     "plan (changes nothing outside the state directory)");
  reh->add_option("--table", r.table, "member table (JSON), e.g. fixtures/flintstones.json")
      ->required();
  reh->add_option("--state-dir", r.state_dir, "where the rehearsal store is kept")
      ->capture_default_str();
  reh->add_option("--trust", r.trust, "the side that wins every disagreement in this run")
      ->check(CLI::IsMember({"crm", "mailchimp"}));
  reh->add_option("--tie", r.tie, "who wins equal change times")
      ->check(CLI::IsMember({"crm", "mailchimp", "out"}))
      ->capture_default_str();
  reh->add_flag("--json", r.json, "print the plan as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  auto dispatch = [&]() -> int {
    if (*init_c) return init(g, force);
    if (*check_c) return check(g, check_json);
    if (*plan_c) return plan(g, plan_o);
    if (*sync_c) return sync(g, sync_o);
    if (*undo_c) return undo(g, undo_o, undo_apply);
    if (*report_c) return report(g, rep);
    if (*status_c) return status(g, status_json);
    if (*prune_c) return prune(g, prune_sync, prune_json);
    if (*backup_c) return backup(g, backup_sync, backup_dir, backup_json);
    if (*explain_c) return explain(g, explain_email, explain_sync, explain_json);
    if (*reh) return rehearse(r);
    if (*serve_c) return serve(g, serve_o);
    if (*hook_install) {
      return hook_mautic ? mautic_webhooks_install(g, hook_sync, hook_url, hook_json)
                         : webhooks_install(g, hook_sync, hook_url, hook_json);
    }
    if (*hook_list) return webhooks_list(g, hook_sync, hook_json);
    return kExitUsage;
  };
  // Nothing that faces the outside may throw across it: an exception that still escapes a command
  // ends it as an error (exit 1) with its message, never an abort.
  try {
    return dispatch();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concord: stopped by an unexpected error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "concord: stopped by an unexpected error\n");
  }
  return kExitError;
}
