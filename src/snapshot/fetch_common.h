// What the two halves of the snapshot stage share: watermarks in a pair's meta family (where a
// side's next incremental read starts) and the counts a fetch reports.
//
// Thread-safety: as Store.
#pragma once

#include <string_view>

#include "concord/snapshot.h"
#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

// The stored watermark under `key`, or kNoTime when none is stored. A value that is not a decimal
// number is kCorruption naming `side` ("Mailchimp", "CiviCRM").
Result<Micros> load_watermark(Store& store, const PairHandle& pair, std::string_view key,
                              std::string_view side);
// Stores `w` under `key` as decimal µs.
Status store_watermark(Store& store, const PairHandle& pair, std::string_view key, Micros w);

// Where a fetch starts: kNoTime for a full fetch (asked for, or the side was never fetched: there
// is nothing to be incremental on; *full is then set), else the stored watermark.
Result<Micros> fetch_start(Store& store, const PairHandle& pair, std::string_view key,
                           std::string_view side, bool* full);

// A fetch's counts: the read's pages and what the sink received.
FetchStats fetch_stats(const SideRead& read, const IngestCounts& counts);

}  // namespace concord
