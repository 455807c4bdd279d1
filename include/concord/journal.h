// Runs and the journal: what concord did, kept in the store so that nothing is lost.
//
// Every run of a sync pair (a `plan` or a `sync`) has a RunRecord in the pair's runs family, and
// its conflict report rows beside it. Every operation a `sync` is about to send is first written
// to the journal as kPlanned, then marked with its result once the side answered; a run killed in
// between leaves kPlanned entries that the next run resolves before it plans anything new.
// docs/store-format.md gives the encodings.
//
// Thread-safety: plain values and functions over a thread-safe Store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/plan.h"
#include "concord/report.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

enum class JournalState : std::uint8_t {
  kPlanned = 0,     // written before the operation was sent; no answer recorded yet
  kDone = 1,        // the side did it
  kFailed = 2,      // not done (network, 5xx, …); the base was left alone, a later run retries
  kRefused = 3,     // the side refused for good (compliance, cleaned, forgotten, invalid)
  kVerified = 4,    // the run died before the answer was recorded; a later fetch showed it done
  kSuperseded = 5,  // the run died before it was sent; a later run planned the member afresh
};
std::string_view journal_state_name(JournalState s);  // "planned", "done", …

struct JournalEntry {
  std::uint64_t run_id = 0;
  std::uint32_t seq = 0;
  Operation op;
  JournalState state = JournalState::kPlanned;
  std::string message;  // the side's words for a failure or refusal
  Micros at = kNoTime;  // when the state was recorded (this machine's clock)
  // kDone/kVerified: the side's own time of the write (its answer, or the record a later fetch
  // read); kNoTime when the side gave none. `concord undo` compares the sides' change times with
  // it.
  Micros written_at = kNoTime;
  std::uint64_t resolved_by = 0;  // kVerified/kSuperseded: the run that resolved it
};

std::string encode_journal_entry(const JournalEntry& e);
// `key` is the journal key (it gives run_id and seq). kCorruption names the field it could not
// read.
Result<JournalEntry> decode_journal_entry(std::string_view key, std::string_view value);

enum class RunState : std::uint8_t {
  kRunning = 0,           // started; a run found in this state later died (or is still running)
  kPlanned = 1,           // `plan`: nothing was applied
  kDone = 2,              // applied; every member is in agreement (exit 0)
  kDoneWithFailures = 3,  // applied; some members could not be synced (exit 4)
  kStoppedByGuard = 4,    // a guard stopped it before anything was applied (exit 3)
  kFailed = 5,            // an error ended it (exit 1); a later run resumes
  kInterrupted = 6,       // stopped on request between batches, or died; a later run resumed it
};
std::string_view run_state_name(RunState s);  // "running", "planned", "done", …

struct RunRecord {
  std::uint64_t id = 0;
  std::string sync;
  // "plan" | "sync" | "serve" (a scheduled or webhook run) | "undo" (with `undoes`; a plan of an
  // undo is "undo-plan")
  std::string command;
  Micros started_at = kNoTime;
  Micros ended_at = kNoTime;
  RunState state = RunState::kRunning;
  bool first_run = false;
  bool full_fetch = false;
  std::string trust;  // "", "crm", "mailchimp"
  PlanCounts counts;
  std::uint64_t applied = 0;       // operations done (or verified)
  std::uint64_t failed = 0;        // operations failed (retried later)
  std::uint64_t refused = 0;       // operations refused for good
  std::uint64_t unsynced = 0;      // members left in disagreement (exit 4 when > 0)
  std::uint64_t resumed_from = 0;  // the run this one resolved the journal of, if any
  std::uint64_t undoes = 0;        // `concord undo`: the run this one undid (undo.h)
  std::uint64_t mailchimp_requests = 0;
  std::uint64_t crm_requests = 0;
  std::vector<std::string> notes;  // guard reasons, the error that ended it
};

std::string encode_run(const RunRecord& r);
Result<RunRecord> decode_run(std::string_view value);

// The report's counts of a run in display order (for ReportSummary and `status`).
std::vector<std::pair<std::string, std::uint64_t>> run_counts(const RunRecord& r);
ReportSummary report_summary(const RunRecord& r);

// Store access for one pair.
class RunLog {
 public:
  RunLog(Store& store, const PairHandle& pair) : store_(store), pair_(pair) {}

  // A new run id (one more than the last), persisted at once.
  Result<std::uint64_t> next_run_id();
  Status put_run(const RunRecord& r, bool sync = false);
  Result<std::optional<RunRecord>> get_run(std::uint64_t id);
  // The last `limit` runs, newest first.
  Result<std::vector<RunRecord>> recent_runs(std::size_t limit);
  Result<std::optional<RunRecord>> last_run();
  // Whether a run before `run_id` completed its apply (ended kDone or kDoneWithFailures): the
  // pair has been synced at least once. A migration killed and resumed has not, until the run
  // that resumed it completes. Reads newest first and stops at the first completed run.
  Result<bool> completed_before(std::uint64_t run_id);

  // Report rows of a run (kept beside its record).
  Status put_report_rows(std::uint64_t run_id, const std::vector<ReportEntry>& rows);
  Result<std::vector<ReportEntry>> report_rows(std::uint64_t run_id);

  // Journal entries still kPlanned, of any run, in order. Runs before the mark of
  // mark_resolved_before() are not read.
  Result<std::vector<JournalEntry>> open_entries();
  // The same, handed to `fn` at most `batch` at a time, so that a dead migration's journal is
  // never held whole. `fn` may write to the store (the scan reads the journal as it was when it
  // began); an error from it, or from the store, ends the scan and is returned.
  Status for_each_open(std::size_t batch,
                       const std::function<Status(std::vector<JournalEntry>&)>& fn);
  // Every journal entry of one member, oldest first.
  Result<std::vector<JournalEntry>> entries_of(const MemberKey& key);
  // Number of journal entries still kPlanned.
  Result<std::uint64_t> open_count();
  // Retention: drops the journal entries and report rows of each run that is neither among the
  // last `keep_runs` runs nor ended within `keep_days` days of `now`, and is behind the
  // mark_resolved_before() mark (so no open entry is ever dropped). Run records stay (with a note).
  struct Pruned {
    std::uint64_t runs = 0;
    std::uint64_t journal_entries = 0;
    std::uint64_t report_rows = 0;
  };
  Result<Pruned> prune(std::int64_t keep_runs, std::int64_t keep_days, Micros now);

  // Every journal entry of the runs before `run_id` is resolved (a run's resume has settled them):
  // later scans for open entries start at `run_id`. The mark never moves back.
  Status mark_resolved_before(std::uint64_t run_id);

 private:
  Store& store_;
  const PairHandle& pair_;
};

// A run's stored report rows as a source for write_report(): read from the store at each pass,
// never held whole. REQUIRES: store and pair outlive it.
class StoredReportRows final : public ReportRows {
 public:
  StoredReportRows(Store& store, const PairHandle& pair, std::uint64_t run_id)
      : store_(store), pair_(pair), run_id_(run_id) {}
  // kCorruption naming the run when a row cannot be read.
  Status for_each(const std::function<Status(const ReportEntry&)>& row) const override;

 private:
  Store& store_;
  const PairHandle& pair_;
  std::uint64_t run_id_;
};

// The key of a run's report row `seq` in the runs family: the run key, 0x01, seq (4 bytes BE).
std::string report_row_key(std::uint64_t run_id, std::uint32_t seq);

}  // namespace concord
