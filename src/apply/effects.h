// Whether a write took effect, read from a side's fresh snapshot: how a run resolves the journal
// entries a dead run left open (engine.cpp's resume()), and how a stored row is reported; and
// what an answered write changes in the store beside its journal entry (a refusal remembered, a
// move finished or refused). Internal to src/apply/.
//
// Thread-safety: pure functions, and reads of a thread-safe Store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "concord/diff.h"
#include "concord/journal.h"
#include "concord/plan.h"
#include "concord/record.h"
#include "concord/side.h"
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

// A Mailchimp refusal says something about the member that the next diff must know without
// waiting for a fetch (so that it is not sent again): the address is cleaned, forgotten, or
// the person unsubscribed themself.
Status remember_refusal(Store& store, const PairHandle& pair, const JournalEntry& e,
                        const SideOutcome& o, Batch& b);

// The move `op` followed (moves.h): the address changed on `side` too. Its snapshot entry and the
// base move to the new address (hashes cleared: the next run decides the member there), the
// identity index of `side` follows, and the move is done.
Status finish_move(Store& store, const PairHandle& pair, const Operation& op, Side side, Batch& b);

// The other side refused to follow a move for good: it stays, reported, and is not sent again.
Status refuse_move(Store& store, const PairHandle& pair, const Operation& op, Side side,
                   const std::string& message, Batch& b);

}  // namespace concord
