// One run of a sync pair: fetch → (resume) → diff → guards → backup → journal → apply → base.
//
// Used by `concord plan`, `concord sync` and the daemon. The run is recorded in the pair's runs
// family with its conflict report; every write goes through the journal first (journal.h):
//   1. Both sides are fetched (incrementally, or in full on the first run, when asked, or when
//      the last full fetch is older than full_fetch_every).
//   2. Journal entries a dead run left kPlanned are resolved against the fresh snapshots: a write
//      that took effect is marked kVerified and its base stored; one that did not is marked
//      kSuperseded, and the diff plans that member again (its base was never updated). Nothing
//      that succeeded is sent again, nothing planned is dropped.
//   3. The diff plans (counts and the conflict report, streamed to the store); the guards may
//      stop the run (nothing is changed, exit 3).
//   4. Before the first apply of the pair, both sides are backed up (backup.h).
//   5. The diff runs again over the same snapshots, streaming agreements into the base and every
//      operation into the journal as kPlanned (synced to disk); the journal is then read back and
//      sent in batches; each batch's results, and the base of each member whose write succeeded,
//      are stored in one atomic write.
// Memory does not grow with the pair: the plan lives in the journal and the report in the runs
// family, never whole in memory (a caller that wants to see the plan passes an observer).
//
// Thread-safety: one run per pair at a time (the caller ensures it); different pairs may run at
// once on one Store.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "concord/config.h"
#include "concord/diff.h"
#include "concord/journal.h"
#include "concord/plan.h"
#include "concord/side.h"
#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

struct Progress {
  // "fetch" (done: members read so far; total 0 until the side is read), "resume", "plan" (an
  // undo's: "undo"), "backup", "apply"
  std::string phase;
  Side side = Side::kMailchimp;
  std::uint64_t done = 0;
  std::uint64_t total = 0;
};

struct RunRequest {
  std::string command = "sync";  // recorded in the run: "plan", "sync", "serve"
  bool apply = true;             // false: plan only (nothing is written to either side)
  Trust trust = Trust::kNone;
  bool allow_mass_removal = false;
  bool allow_mass_addition = false;  // lifts the addition guard for this run
  bool full_fetch = false;           // fetch everything even when a watermark exists
  // When not empty, only these members (normalised emails) are read again from both sides
  // instead of a fetch (a run for webhook deliveries); the diff and the apply are as usual.
  std::vector<std::string> refresh;
  // When not empty, these people of the people side (its own ids: Mautic contact ids a webhook
  // delivery named) are read again instead of a fetch, and the Mailchimp side reads their
  // addresses (old and new) again, with `refresh`.
  std::vector<std::string> refresh_people;
  // A full fetch is made when the last one is older than this (permanent deletions and CRM flag
  // changes without a history row are only seen by full fetches). Default: one day.
  Micros full_fetch_every = 24LL * 3600 * kMicrosPerSecond;
  std::filesystem::path backup_dir;               // state_dir/backups
  std::function<void(const Progress&)> progress;  // may be empty
  const std::atomic<bool>* stop = nullptr;        // set: stop between batches (journaled)
  // When set, sees the plan as the diff makes it: every operation and every report row of the
  // plan, in key order (rejected rows last), once per run. Its base_update() is not called. Not
  // owned; used from the calling thread.
  PlanSink* observer = nullptr;
  // When set, plans instead of the diff: `concord undo` (undo.h). Both passes call it over the
  // same snapshots, with this run's id; its operations are journaled, sent and resumed like the
  // diff's. `undoes` is recorded in the run.
  std::function<Result<DiffResult>(PlanSink&, std::uint64_t run_id)> planner;
  std::uint64_t undoes = 0;
};

struct RunOutcome {
  RunRecord record;  // counts of the plan, results; the report rows are stored beside it
  GuardVerdict guard;
  std::filesystem::path backup;  // the backup written by this run, if any
  // This run's operations by kind ("add_to_mailchimp", …) and journal state after the run
  // ("done", "failed", "refused", "planned" when the run stopped before sending it): counts.
  std::map<std::pair<std::string, std::string>, std::uint64_t> operation_results;

  // Exit statuses: 0 done, 1 error/interrupted, 3 stopped by a guard, 4 done but some members not
  // synced.
  int exit_code() const;
};

// One pair as the engine sees it: a people side and a Mailchimp target, each a SyncSide (an
// adapter over its system's client and the snapshot stage), and the pair's store and options.
// The people side is CiviCRM today (two-way); a one-way source (Auth0 users, a Mixpanel or
// Amplitude cohort, a Mautic segment) plugs in as another SyncSide, and a tag or an interest group
// as another target, with `config.options.direction` saying which way decisions may go.
struct SyncPair {
  Store& store;
  const PairHandle& pair;
  const SyncConfig& config;
  SyncSide& target;  // the Mailchimp side: the audience's membership
  SyncSide& people;  // the people side: the CiviCRM group
  const Clock& clock;
};

// Runs once. An error before anything was applied (a fetch that failed, a store error) is
// returned as a Status after the run was recorded as failed; errors while applying are
// per-operation outcomes (failed writes) and end the run as done-with-failures.
Result<RunOutcome> run_sync(SyncPair& p, const RunRequest& request);

}  // namespace concord
