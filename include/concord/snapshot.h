// Writing fetched records into a side's snapshot family.
//
// A fetch hands over pages of records in whatever order the side returns them. The writer sorts
// each page by key and writes it as one atomic batch (so the store receives key-ordered batches),
// and keeps what a full fetch saw so that members who left the side can be removed at the end.
//
// Thread-safety: one writer per fetch, used from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "concord/email.h"
#include "concord/member.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

// A row a side returned that cannot be a member (today: an invalid email). Kept in the rejects
// family and listed in the report; never sent anywhere.
struct RejectedRow {
  std::string source_id;  // the side's id for the row (CRM contact id; Mailchimp: the raw email)
  std::string email;      // as the side gave it
  std::string field;      // the offending field, e.g. "email_address"
  std::string message;    // why, e.g. "the address has no '@'"
};

struct SnapshotEntry {
  MemberKey key;
  std::string value;  // an encoded snapshot value (record.h)
};

struct SnapshotStats {
  std::uint64_t written = 0;   // members written
  std::uint64_t removed = 0;   // full fetch: members no longer on the side, deleted at finish()
  std::uint64_t rejected = 0;  // rows kept as rejects
};

class SnapshotWriter {
 public:
  enum class Mode : std::uint8_t {
    kFull,         // the fetch returns every member; those not returned are deleted at finish()
    kIncremental,  // the fetch returns changed members only; nothing is deleted
  };

  // REQUIRES: side's family of `pair` is where the records belong; store and pair outlive this.
  SnapshotWriter(Store& store, const PairHandle& pair, Side side, Mode mode);

  // Writes one page: sorts `entries` by key and writes them, with the rejects kept so far, in one
  // batch. A key given twice keeps its later entry. On failure nothing of the page is written and
  // the rejects stay pending. On success the vector is left empty.
  Status write_page(std::vector<SnapshotEntry>& entries);

  // Keeps a rejected row (written with the next page, or at finish()).
  void reject(RejectedRow row);

  // Ends the fetch; call it once (a second call is kFailedPrecondition). For kFull, deletes the
  // side's members and rejects that no page of this writer wrote. On failure it may be called
  // again (what it already deleted stays deleted; nothing this fetch wrote is deleted). REQUIRES:
  // for kFull, every page of the fetch was written (call it only when the fetch completed; after a
  // failed fetch just drop the writer: the snapshot keeps older records, which were true when
  // fetched).
  Status finish();

  const SnapshotStats& stats() const { return stats_; }

  // Full mode: the stored members (key and email) that no page of this writer has written so far,
  // i.e. those finish() would delete. A fetch over offset paging can miss members that shifted
  // between pages; the caller checks these one by one before finish() (nothing is lost by a
  // member moving while we paged). Empty in incremental mode.
  Result<std::vector<std::pair<MemberKey, std::string>>> unseen_members();

  // True when the family held no member when the writer began (a first fetch): nothing stored
  // can affect the records being written, so callers may skip reading stored records.
  bool started_empty() const { return started_empty_; }

 private:
  void add_rejects(Batch& batch, std::vector<std::string>* keys) const;
  void rejects_written(std::vector<std::string>& keys);

  Store& store_;
  const PairHandle& pair_;
  Side side_;
  Family family_;
  Mode mode_;
  std::vector<MemberKey> seen_;  // full mode: keys written, for the sweep
  std::vector<std::string> seen_rejects_;
  std::vector<RejectedRow> pending_rejects_;
  SnapshotStats stats_;
  bool started_empty_ = false;
  bool finished_ = false;
};

// The rejects family's key for a row: side byte, then the source id.
std::string reject_key(Side side, std::string_view source_id);

}  // namespace concord
