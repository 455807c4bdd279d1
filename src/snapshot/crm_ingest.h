// The CRM half of the snapshot stage: contacts → members of the CRM snapshot.
//
// Thread-safety: one CrmIngest per read, used from one thread.
#pragma once

#include <cstring>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "concord/snapshot.h"
#include "core/crm_identity.h"

namespace concord {

struct MemberKeyHash {
  std::size_t operator()(const MemberKey& k) const {
    std::size_t h;
    std::memcpy(&h, k.bytes.data(), sizeof h);  // an MD5 digest: any 8 bytes are a good hash
    return h;
  }
};
using KeySet = std::unordered_set<MemberKey, MemberKeyHash>;

// Decodes a stored CRM entry into the member it holds. kCorruption when it does not decode.
Status crm_member_of(std::string_view value, CrmMember* member, std::string* email);
// Encodes a member under `email` (normalised).
std::string crm_entry_of(const CrmMember& member, std::string_view email);

// One read of the group into the snapshot: keys each contact by the address that represents it,
// merges contacts that share one, and decides which stored members it replaces rather than merges
// with.
class CrmIngest final : public CrmSink {
 public:
  // REQUIRES: store and pair outlive this.
  CrmIngest(Store& store, const PairHandle& pair, SnapshotWriter::Mode mode);

  Status records(std::vector<CrmContact>& page) override;

  SnapshotWriter& writer() { return writer_; }
  const IngestCounts& counts() const { return counts_; }

  // The keys whose contacts this read sees all of: every key (a full read), the keys asked for (a
  // targeted read), or none (an incremental read, which sees changed contacts only). A covered
  // key's stored member is replaced; another key's is merged with what the read found.
  bool all_keys = false;
  KeySet asked;
  // Covered keys written so far (their contacts may straddle pages). Not kept by a full read into
  // an empty snapshot, where every stored key is one this read wrote.
  KeySet written;
  // An incremental read: a key that is not covered and that several contacts share (in this read
  // or per its stored member) is not merged but left, with its email here, for a targeted read,
  // which decides its duplicates afresh (a merge could keep a stale stored winner).
  bool defer_shared = false;
  std::vector<std::string> deferred;

 private:
  bool covers(const MemberKey& k) const { return all_keys || asked.count(k) != 0; }
  // For each contact of the page with several addresses, the addresses whose stored member is
  // (or counts among its duplicates) that contact: the address it was last settled on.
  Status stored_homes(const std::vector<CrmContact>& page,
                      std::set<std::pair<std::int64_t, MemberKey>>* homes);

  Store& store_;
  const PairHandle& pair_;
  SnapshotWriter writer_;
  IngestCounts counts_;
};

}  // namespace concord
