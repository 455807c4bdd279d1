// The diff: one forward pass over the key-ordered Mailchimp snapshot, CRM snapshot and base of a
// sync pair, deciding every member that changed and emitting a plan.
//
// Linear in the number of keys and constant in memory (apart from what the sink keeps). A member
// whose headers show that neither side changed since the base is skipped without decoding its
// record; only members that changed are decided, and only members with an operation or a report
// row have their email read.
//
// Thread-safety: diff() reads a consistent snapshot of the store; it may run while other threads
// write, and sees none of their writes.
#pragma once

#include <vector>

#include "concord/decide.h"
#include "concord/field_value.h"
#include "concord/moves.h"
#include "concord/plan.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

struct DiffResult {
  bool first_run = false;  // the base was empty
  PlanCounts counts;
  // Address moves (moves.h) that need nothing more: both sides have the new address and neither
  // the old, or the other side never had the old one. The engine forgets them once it applies.
  std::vector<AddressMove> settled_moves;
};

// The mapped fields of a sync, resolved against the audience's merge fields.
struct FieldPlan {
  std::vector<FieldSpec> specs;
  // The mapping changed since the last run: every member is decided (none skipped as unchanged),
  // so that each field gets its base.
  bool recheck_all = false;
};

// Diffs `pair` under `options`, emitting operations, report rows and base updates to `sink`, in
// key order. Fails (kCorruption / kFailedPrecondition) on a stored value it cannot decode, naming
// the family and the subscriber hash; what was emitted before the failure stays emitted.
// `fields`: the mapped fields (nullptr or empty: membership only). A member that will be IN on both
// sides has its fields decided (member_fields.h): values go along with its subscribe, pending or
// create-contact operation, or in update-fields operations of their own.
Result<DiffResult> diff(Store& store, const PairHandle& pair, const SyncOptions& options,
                        PlanSink& sink, const FieldPlan* fields = nullptr);

// Convenience: diff into a Plan.
Result<Plan> make_plan(Store& store, const PairHandle& pair, const SyncOptions& options,
                       const FieldPlan* fields = nullptr);

}  // namespace concord
