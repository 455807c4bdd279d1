#include "apply/plan_passes.h"

#include "concord/meta_keys.h"
#include "concord/parse.h"

namespace concord {

Result<bool> base_is_empty(Store& store, const PairHandle& pair) {
  Cursor base = store.scan(pair, Family::kBase);
  base.seek_to_first();
  if (Status s = base.status(); !s) return s;
  return !base.valid();
}

Status mark_single_pass(Store& store, const PairHandle& pair, std::uint64_t run) {
  Batch b;
  b.put(pair, Family::kMeta, meta::kSinglePassRun, std::to_string(run));
  return store.write(b, /*sync=*/true);
}

Status end_single_pass(Store& store, const PairHandle& pair) {
  Batch b;
  b.del(pair, Family::kMeta, meta::kSinglePassRun);
  return store.write(b, /*sync=*/true);
}

Status undo_single_pass(Store& store, const PairHandle& pair, std::uint64_t run) {
  Batch b;
  b.del_range(pair, Family::kJournal, journal_key(run, 0), journal_key(run + 1, 0));
  b.del_all(pair, Family::kBase);
  b.del(pair, Family::kMeta, meta::kSinglePassRun);
  return store.write(b, /*sync=*/true);
}

Result<std::optional<std::string>> undo_dead_single_pass_of(Store& store, const PairHandle& pair,
                                                            RunLog& log, std::uint64_t by) {
  Result<std::optional<std::string>> marked = store.get(pair, Family::kMeta, meta::kSinglePassRun);
  if (!marked) return marked.status();
  if (!marked->has_value()) return std::optional<std::string>();
  Result<std::int64_t> id = parse_int64(**marked);
  if (!id || *id <= 0) {
    return Status::corruption("the store's " + std::string(meta::kSinglePassRun) +
                              " is not a run id: " + **marked);
  }
  const auto run = static_cast<std::uint64_t>(*id);
  if (Status s = undo_single_pass(store, pair, run); !s) return s;
  // Its record still says it runs: it left no open entry for a resume to mark it by.
  Result<std::optional<RunRecord>> dead = log.get_run(run);
  if (!dead) return dead.status();
  if (dead->has_value()) {
    if ((*dead)->state == RunState::kRunning) (*dead)->state = RunState::kInterrupted;
    (*dead)->notes.push_back("its plan was removed by run " + std::to_string(by));
    if (Status s = log.put_run(**dead); !s) return s;
  }
  return std::optional<std::string>("run " + std::to_string(run) +
                                    " ended before it applied anything; what its plan journaled "
                                    "and the bases it wrote were removed");
}

}  // namespace concord
