// Whether a write took effect, read from a side's fresh snapshot: how a run resolves the journal
// entries a dead run left open (engine.cpp's resume()), and how a stored row is reported.
// Internal to src/apply/.
//
// Thread-safety: pure functions, and reads of a thread-safe Store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "concord/diff.h"
#include "concord/plan.h"
#include "concord/record.h"
#include "concord/store.h"

namespace concord {

// The member's snapshot header on `side` (nullopt: the side does not have the member).
Result<std::optional<SnapshotHeader>> header_of(Store& store, const PairHandle& pair, Side side,
                                                const MemberKey& key);

// Whether a write of kind `k` shows in the side's header: the membership it aimed at, the hold it
// put on or took off.
bool effect_visible(OpKind k, const SnapshotHeader& h);

// Whether the fields `op` wrote are what the side's fresh record (a snapshot value) holds, as the
// mapped fields `specs` read them (canonical values).
bool fields_visible(const std::vector<FieldSpec>& specs, const Operation& op, Side side,
                    const std::string& value);

// The base once a membership write of `op` on `side` took effect at `written_at`.
BaseRecord base_after_write(const Operation& op, Side side, Micros written_at);

}  // namespace concord
