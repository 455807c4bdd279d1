// The conflict report of a run, written to the store as it grows.
//
// A run's report rows live beside its record in the runs family (report_row_key). A migration
// can report many members, so rows are not held for the whole run: they are written in batches,
// and only the position of each member's row is kept, so that a write's outcome can amend the
// row of its member later in the run.
//
// Thread-safety: one writer per run; its methods may be called from many threads at once (a first
// sync's pass reports while the apply notes outcomes, engine.cpp), each holding the writer's mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include "concord/email.h"
#include "concord/report.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

class ReportWriter {
 public:
  // REQUIRES: store and pair outlive the writer.
  ReportWriter(Store& store, const PairHandle& pair, std::uint64_t run_id);

  // Adds a row after those written so far. With a key, the row is the member's row (has() and
  // amend() find it); a member already having one gets a second row. Rows are written in
  // batches; an error is the store's, and the row is kept for the next flush().
  Status add(const MemberKey* key, ReportEntry row);
  bool has(const MemberKey& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    return seq_of_.count(key) != 0;
  }
  // Changes the member's row. REQUIRES: has(key). kCorruption when the stored row cannot be read.
  Status amend(const MemberKey& key, const std::function<void(ReportEntry&)>& edit);
  // Writes the rows not written yet.
  Status flush();

  std::uint64_t rows() const {
    std::lock_guard<std::mutex> lock(mu_);
    return next_seq_;
  }

 private:
  struct KeyHash {
    std::size_t operator()(const MemberKey& k) const;
  };
  static constexpr std::size_t kBatch = 1000;
  Status flush_locked();

  Store& store_;
  const PairHandle& pair_;
  std::uint64_t run_id_;
  mutable std::mutex mu_;
  std::uint32_t next_seq_ = 0;
  std::unordered_map<MemberKey, std::uint32_t, KeyHash> seq_of_;
  std::map<std::uint32_t, ReportEntry> pending_;  // rows added or amended, not yet written
};

}  // namespace concord
