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

Result<std::optional<std::uint64_t>> marked_single_pass(Store& store, const PairHandle& pair) {
  Result<std::optional<std::string>> run = store.get(pair, Family::kMeta, meta::kSinglePassRun);
  if (!run) return run.status();
  if (!run->has_value()) return std::optional<std::uint64_t>();
  Result<std::int64_t> id = parse_int64(**run);
  if (!id || *id <= 0) {
    return Status::corruption("the store's " + std::string(meta::kSinglePassRun) +
                              " is not a run id: " + **run);
  }
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(*id));
}

}  // namespace concord
