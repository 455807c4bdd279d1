// What a full fetch needs of each member the snapshot already holds, read in one pass over the
// side's snapshot family before the fetch's first page, instead of a point read per member.
//
// A full re-fetch over a large snapshot read each page's stored entries with a multi_get: pages
// come in the side's order (Mailchimp's is not the store's), so every member cost a block read
// and its decompression from a store larger than the cache (a million members refetched at about
// 70 000 a second, half the speed of a first fetch). One sequential scan reads the same entries
// at the speed of the disk, and keeps of each 72 bytes: its key, header, length, and the hashes
// of its value and of the identity it holds (moves.h), which is all the fetch compares.
//
// An entry answers once: a member the fetch meets again (a full read's closing incremental pass)
// is read from the store, which by then holds what this fetch wrote of it.
//
// Thread-safety: used by one fetch, on one thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "concord/email.h"
#include "concord/record.h"
#include "concord/store.h"

namespace concord {

class StoredIndex {
 public:
  struct Entry {
    MemberKey key;
    SnapshotHeader header;
    bool header_ok = false;  // false: unreadable (taken as first sight, as a point read's is)
    bool used = false;       // answered once already
    std::uint32_t size = 0;  // the value's length
    std::uint64_t value_hash = 0;
    std::uint64_t identity_hash = 0;  // of the identity the entry holds ("" when none)
  };

  // Reads every entry of Mailchimp's snapshot of `pair`; the identity held is the body's
  // contact_id.
  static Result<StoredIndex> of_mailchimp(Store& store, const PairHandle& pair);

  // The entry for `key` the first time it is asked for; nullptr when there is none or it was
  // asked for before.
  const Entry* take(const MemberKey& key);

  // The hash values and identities are compared by (64-bit FNV-1a: a false match is a chance of
  // one in 2^64 per member).
  static std::uint64_t hash(std::string_view s) { return content_hash(s); }

  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;  // by key (the store's order)
};

}  // namespace concord
