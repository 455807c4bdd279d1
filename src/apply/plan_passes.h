// The engine's two passes of the diff over the same snapshots (engine.cpp): the first counts
// and reports, the second journals. A first sync (its pair's base empty) does both in one pass
// (TeeSink), marked in meta while it has not gone on to apply (single_pass.* below); or, when no
// guard can stop it, unmarked, publishing what it has journaled to the apply that sends it
// meanwhile (JournalTail). Internal to src/apply/.
//
// Thread-safety: each pass is fed by one diff, on one thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "apply/chunk_feed.h"
#include "apply/report_writer.h"
#include "concord/journal.h"
#include "concord/plan.h"
#include "concord/record.h"
#include "concord/report.h"
#include "concord/store.h"

namespace concord {

// Journal entries and bases written a batch at a time by the second pass.
inline constexpr std::size_t kJournalBatch = 1000;

// Counts a plan's operations and report rows as the diff makes them, keeps the report in the
// store, and shows both to the caller's observer. Base updates wait for the second pass.
class PlanPass final : public PlanSink {
 public:
  PlanPass(ReportWriter& report, PlanSink* observer) : report_(report), observer_(observer) {}

  void operation(Operation&& op) override {
    if (observer_ != nullptr) observer_->operation(std::move(op));
  }
  void report(ReportRow&& row) override {
    if (!status_) return;
    const bool keyed = row.conflict != Conflict::kInvalidEmail;
    status_ = report_.add(keyed ? &row.key : nullptr, report_entry(row));
    if (observer_ != nullptr) observer_->report(std::move(row));
  }
  void base_update(const MemberKey&, const std::optional<BaseRecord>&) override {}

  const Status& status() const { return status_; }

 private:
  ReportWriter& report_;
  PlanSink* observer_;
  Status status_;
};

// The second pass over the same snapshots: agreements into the base, operations into the
// journal (kPlanned), a batch at a time. A batch holds whole members. With a tail, every batch is
// synced and then published to it, for the apply to send while the pass goes on.
class JournalPass final : public PlanSink {
 public:
  JournalPass(Store& store, const PairHandle& pair, std::uint64_t run_id, Micros now,
              JournalTail* tail = nullptr)
      : store_(store), pair_(pair), run_id_(run_id), now_(now), tail_(tail) {}

  void operation(Operation&& op) override {
    if (!status_) return;
    at_member(op.key);
    JournalEntry e;
    e.run_id = run_id_;
    e.seq = seq_++;
    e.op = std::move(op);
    e.at = now_;
    batch_.put(pair_, Family::kJournal, journal_key(e.run_id, e.seq), encode_journal_entry(e));
    ++planned_[static_cast<std::size_t>(e.op.kind)];
  }
  void report(ReportRow&&) override {}
  void base_update(const MemberKey& key, const std::optional<BaseRecord>& base) override {
    if (!status_) return;
    at_member(key);
    if (base) {
      encode_base(*base, &value_);
      batch_.put(pair_, Family::kBase, key.view(), value_);
    } else {
      batch_.del(pair_, Family::kBase, key.view());
    }
  }

  // The last write syncs the log: every entry is on disk before anything is sent.
  Status finish() {
    if (status_) write(/*sync=*/true);
    return status_;
  }
  std::uint32_t entries() const { return seq_; }
  // Operations journaled, by kind.
  const std::array<std::uint64_t, kOpKindCount>& planned() const { return planned_; }

 private:
  // A full batch is written before the next member's first entry (the diff hands over a
  // member's operations and base together, one member after another).
  void at_member(const MemberKey& key) {
    if (batch_.count() >= kJournalBatch && key != last_) write(/*sync=*/tail_ != nullptr);
    last_ = key;
  }
  void write(bool sync) {
    status_ = store_.write(batch_, sync);
    batch_.clear();
    if (status_ && tail_ != nullptr) tail_->advance(seq_);
  }

  Store& store_;
  const PairHandle& pair_;
  std::uint64_t run_id_;
  Micros now_;
  JournalTail* tail_;
  Batch batch_;
  std::string value_;
  MemberKey last_;
  std::uint32_t seq_ = 0;
  std::array<std::uint64_t, kOpKindCount> planned_{};
  Status status_;
};

// Both passes' work in one diff (a first sync, engine.cpp's plan()): each call goes to the plan
// pass and, when there is one, to the journal pass.
class TeeSink final : public PlanSink {
 public:
  TeeSink(PlanPass& plan, JournalPass* journal) : plan_(plan), journal_(journal) {}

  void operation(Operation&& op) override {
    if (journal_ == nullptr) return plan_.operation(std::move(op));
    Operation copy = op;  // (the plan pass hands it on to the caller's observer)
    plan_.operation(std::move(copy));
    journal_->operation(std::move(op));
  }
  void report(ReportRow&& row) override { plan_.report(std::move(row)); }
  void base_update(const MemberKey& key, const std::optional<BaseRecord>& base) override {
    if (journal_ != nullptr) journal_->base_update(key, base);
  }

 private:
  PlanPass& plan_;
  JournalPass* journal_;
};

// A single pass's marker and its undoing (meta::kSinglePassRun says why).
// Whether the pair's base is empty: a run that applies may then report and journal in one pass.
Result<bool> base_is_empty(Store& store, const PairHandle& pair);
// Marks run `run` as in its single pass (synced, before the pass writes anything).
Status mark_single_pass(Store& store, const PairHandle& pair, std::uint64_t run);
// The pass is done and journaled (synced): the run goes on to apply.
Status end_single_pass(Store& store, const PairHandle& pair);
// Removes what run `run`'s single pass wrote — its journal entries, and every base (the base was
// empty before it) — and the marker, in one synced write.
Status undo_single_pass(Store& store, const PairHandle& pair, std::uint64_t run);
// At the start of run `by`: a marked single pass (its run died before applying) is undone and its
// run's record marked interrupted; the note for `by`'s record, nullopt when there was none.
Result<std::optional<std::string>> undo_dead_single_pass_of(Store& store, const PairHandle& pair,
                                                            RunLog& log, std::uint64_t by);

}  // namespace concord
