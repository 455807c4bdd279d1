// The snapshot stage: a side's typed records → the pair's snapshot of that side.
//
// A side (side.h) reads and emits records; this stage owns everything that touches the store on the
// way: keying and checking addresses, Mailchimp's status_changed_at, the CRM's choice of the
// address that represents a contact and of the contact that represents a shared address, rejected
// rows, the watermarks in the meta family, and the full fetch's sweep of members that left.
// docs/architecture.md tells the rules; docs/store-format.md gives the bytes.
//
// A fetch of one side never reads the other side's snapshot, so the two fetches of a run may go in
// either order. What needs both — which of a CRM contact's addresses is the member Mailchimp
// already has — is settle_representatives(), called once after both fetches.
//
// Thread-safety: one fetch of a pair's side at a time (they share the watermark); the functions
// here run on the calling thread. SnapshotWriter and MailchimpIngest: one per fetch,
// used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/email.h"
#include "concord/member.h"
#include "concord/record.h"
#include "concord/side.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

// The family that holds a side's snapshot.
constexpr Family snapshot_family(Side s) {
  return s == Side::kMailchimp ? Family::kMailchimp : Family::kCrm;
}

// ---- fetches ------------------------------------------------------------------------------------

// What a tag or interest target reads from each Mailchimp member (MailchimpState::mark): whether
// it carries the tag (by name, without regard to case) or has the interest (by id). The mark's
// change time is concord's own record, as status_changed_at is for the status: the stored time
// while the mark stays, `seen_at` when a fetch sees it flip, unknown (kNoTime) on first sight;
// Mailchimp keeps no time per tag or interest.
struct MailchimpMark {
  TargetKind kind = TargetKind::kAudience;  // kAudience: no mark (the status is the membership)
  std::string tag;
  std::string interest_id;
  Micros seen_at = kNoTime;

  bool marks() const { return kind != TargetKind::kAudience; }
  bool carries(const MailchimpRecord& r) const;
};

// Fetches the Mailchimp audience `list_id` into the pair's Mailchimp snapshot through `reader`.
// Full: every member; then each stored member the pages did not return is asked for by itself and
// removed only when Mailchimp answers 404 (offset paging can skip a member while another leaves);
// nothing is removed when a read fails. Incremental: the members changed since the stored
// watermark, which advances after each stored page; without a stored watermark, a full fetch.
// After an incremental read, Mailchimp's counts of subscribed, unsubscribed and cleaned members
// are compared with the snapshot's; when they differ (members deleted permanently, which no
// incremental read shows), the audience is read in full (stats.counts_differed).
// Either way the watermark the reader reached is stored at the end (meta
// mailchimp_watermark_key(list_id)). Errors are the reader's or the store's; a stored watermark
// that is not a number is kCorruption.
Result<FetchStats> fetch_mailchimp(MailchimpReader& reader, std::string_view list_id, bool full,
                                   Store& store, const PairHandle& pair,
                                   const MailchimpMark& mark = {});
// Reads these members again (a daemon's answer to webhooks that name them): each answer is written
// as a fetch writes it; a member Mailchimp no longer has leaves the snapshot. The watermark is
// neither read nor moved (stats.watermark is kNoTime), so the next incremental fetch reads these
// members again. Members written before a failure stay written.
Result<FetchStats> refresh_mailchimp(MailchimpReader& reader, std::string_view list_id,
                                     const std::vector<std::string>& emails, Store& store,
                                     const PairHandle& pair, const MailchimpMark& mark = {});

// Fetches the CRM group into the pair's CRM snapshot through `reader`: one member per address that
// represents a contact (contacts sharing it become one member), flagged and dated by the contact's
// latest history row. Full: every member no read returned is removed at the end. Incremental: the
// contacts changed since the stored watermark (full without one); an address several contacts share
// is read again by itself afterwards (refresh_crm), so its duplicates are decided afresh. The
// watermark reached is stored (meta civicrm_watermark_key(group_id)). A contact without a usable
// address is a rejected row naming it.
Result<FetchStats> fetch_crm(CrmReader& reader, std::int64_t group_id, bool full, Store& store,
                             const PairHandle& pair);
// Reads again the members that are these addresses: the contacts that have one of them and those
// their stored members name (a contact that gave the address up is still accounted for). Their
// members are replaced; another address of these contacts is merged with its stored member; an
// asked address that represents no contact with history in the group leaves the snapshot. The
// watermark is neither read nor moved.
Result<FetchStats> refresh_crm(CrmReader& reader, std::int64_t group_id,
                               const std::vector<std::string>& emails, Store& store,
                               const PairHandle& pair);

// Fetches a one-way source's set (the users of an Auth0 connection, a cohort's members) into the
// pair's people-side snapshot (the CRM family), one member per address: status Added while the
// person is in the set (Removed when `verified_only` and the address is not verified), dated by
// when concord first saw it so (`seen_at` on first sight), with the source's id (CrmBody::
// source_id), which follows an address change. A person without an address, or with one that is
// not valid, is a rejected row naming the person and the field. Full (asked for, a source that
// cannot read only what changed, or no stored watermark): members no read returned leave the
// snapshot. Incremental: the people changed since the stored watermark under `watermark_key`,
// where the reached watermark is stored at the end.
struct SourceFetch {
  std::string watermark_key;    // meta::source_watermark(kind, set)
  Micros seen_at = kNoTime;     // the time a person first seen now is dated by
  bool verified_only = false;   // only verified addresses are IN
  std::string noun = "person";  // what a rejected row calls the person ("Auth0 user")
};
Result<FetchStats> fetch_source(SourceReader& reader, const SourceFetch& how, bool full,
                                Store& store, const PairHandle& pair);
// Reads these people of a source again by the source's ids (a webhook named them) into the people
// side's snapshot: those in the set as they are now, the others OUT. `emails` gets the normalised
// addresses involved, old and new, so that the Mailchimp side can read them again too. Watermarks
// stay. REQUIRES: reader.lists_ids(); `emails` not null.
Result<FetchStats> refresh_source(SourceReader& reader, const std::vector<std::string>& ids,
                                  const SourceFetch& how, Store& store, const PairHandle& pair,
                                  std::vector<std::string>* emails);

// Call once after both sides were fetched (or refreshed), before the diff. Moves each CRM member
// whose contact has several addresses to the address among them that the Mailchimp snapshot has
// (the bulk-mail one, else the primary, else the first of those), so that a contact is matched to
// the Mailchimp member it already is; where another contact holds that address, the two become one
// member by the duplicate rule. Members several contacts share are left where they are. Depends
// only on the two snapshots, so the two fetches may run in either order. Returns how many members
// moved; on a store error, what it wrote so far stays (calling it again finishes the job).
Result<std::uint64_t> settle_representatives(Store& store, const PairHandle& pair);

// Call after settle_representatives. For every Mailchimp member that is IN and has no CRM member,
// only one looked up before, or only a contact in the trash: the contacts outside the group with
// its address (read_by_address), as CRM members with no history (status kNone, contact known,
// flags and duplicates as a fetch keeps them; beside a trashed contact, merged with it by the
// duplicate rule), so that the plan adds such a contact to the group instead of creating one.
// Looked-up members that Mailchimp no longer has IN, or whose address no longer has a contact,
// are removed.
Result<FetchStats> look_up_outside_contacts(CrmReader& reader, Store& store,
                                            const PairHandle& pair);

// The meta keys of the watermarks (docs/store-format.md, "Meta").
std::string mailchimp_watermark_key(std::string_view list_id);
std::string civicrm_watermark_key(std::int64_t group_id);

// ---- reading a member's records -----------------------------------------------------------------

// What the store holds for one member: both snapshot entries, decoded, and the base.
struct MemberRecords {
  std::string email;  // from whichever entry has it (empty when neither)
  std::optional<MailchimpState> mailchimp;
  std::optional<MailchimpBody> mailchimp_body;
  std::uint64_t mailchimp_hash = 0;
  std::optional<CrmState> crm;
  std::optional<CrmBody> crm_body;
  std::uint64_t crm_hash = 0;
  std::optional<BaseRecord> base;
};
// Reads and decodes a member's entries in one call. An absent entry is nullopt; an entry that does
// not decode is kCorruption naming the family and the member's subscriber hash.
Result<MemberRecords> read_member(Store& store, const PairHandle& pair, const MemberKey& key);

// ---- the writers under the stage ----------------------------------------------------------------

struct SnapshotEntry {
  MemberKey key;
  std::string value;  // an encoded snapshot value (record.h)
  // The snapshot holds exactly this value already (a full re-fetch of a member that did not
  // change): the page counts it as seen and written, and does not write it again.
  bool unchanged = false;
};

struct SnapshotStats {
  std::uint64_t written = 0;   // members written
  std::uint64_t removed = 0;   // full fetch: members no longer on the side, deleted at finish()
  std::uint64_t rejected = 0;  // rows kept as rejects
};

// Running counts of a fetch, for a progress line: while a FetchProgress lives, every page a
// SnapshotWriter of its thread writes calls `on_page` with the writer's side and the members it
// wrote so far. (An ambient hook rather than a parameter: a fetch passes through each side's
// adapter, its reader and the snapshot stage, and none of them has anything else to do with it.)
// Scopes nest; the innermost one is called.
class FetchProgress {
 public:
  explicit FetchProgress(std::function<void(Side, std::uint64_t)> on_page);
  ~FetchProgress();
  FetchProgress(const FetchProgress&) = delete;
  FetchProgress& operator=(const FetchProgress&) = delete;

  // Called by SnapshotWriter::write_page.
  static void page_written(Side side, std::uint64_t written);

 private:
  std::function<void(Side, std::uint64_t)> on_page_;
  FetchProgress* outer_;
};

// Writes encoded entries into a side's snapshot family. A fetch hands over pages in whatever
// order the side returns them; the writer sorts each page by key and writes it as one atomic batch
// (so the store receives key-ordered batches), and keeps what a full fetch saw so that members who
// left the side can be removed at the end.
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
  Mode mode() const { return mode_; }

  // Full mode: the stored members (key and email) that no page of this writer has written so far,
  // i.e. those finish() would delete. A fetch over offset paging can miss members that shifted
  // between pages; the caller checks these one by one before finish() (nothing is lost by a
  // member moving while we paged). Empty in incremental mode.
  Result<std::vector<std::pair<MemberKey, std::string>>> unseen_members();

  // True when the family held no member when the writer began (a first fetch): nothing stored
  // can affect the records being written, so callers may skip reading stored records.
  bool started_empty() const { return started_empty_; }

 private:
  // Whether finish() sweeps the family (and unseen_members() has anything to say): a full fetch
  // into a family that held members. Into one that started empty, whatever it holds this fetch
  // wrote, so no list of the keys written is kept.
  bool sweeps() const { return mode_ == Mode::kFull && !started_empty_; }
  void add_rejects(Batch& batch, std::vector<std::string>* keys) const;
  void rejects_written(std::vector<std::string>& keys);

  Store& store_;
  const PairHandle& pair_;
  Side side_;
  Family family_;
  Mode mode_;
  std::vector<MemberKey> seen_;  // keys written, for the sweep (when sweeps())
  std::vector<std::string> seen_rejects_;
  std::vector<RejectedRow> pending_rejects_;
  SnapshotStats stats_;
  bool started_empty_ = false;
  bool finished_ = false;
};

// Counts of what a sink received and wrote.
struct IngestCounts {
  std::uint64_t members = 0;   // records received (written, merged or rejected)
  std::uint64_t written = 0;   // entries written (a member read twice counts twice)
  std::uint64_t rejected = 0;  // rejected rows kept
};

// Mailchimp records → snapshot entries: each address normalised and checked (a bad one is a
// rejected row named by the address as sent), keyed, given its status_changed_at against the stored
// entry (Mailchimp's last_changed moves on any edit: the stored time stays while the status does;
// on first sight, timestamp_opt for subscribed and pending members where set, else last_changed),
// and written a page at a time through a SnapshotWriter.
class MailchimpIngest final : public MailchimpSink {
 public:
  // REQUIRES: store, pair and mark outlive this.
  MailchimpIngest(Store& store, const PairHandle& pair, SnapshotWriter::Mode mode,
                  const MailchimpMark& mark = kNoMark);

  Status records(std::vector<MailchimpRecord>& page) override;
  void reject(RejectedRow row) override;
  void gone(const std::string& email) override;

  // After each written page the latest last_changed seen so far is stored under this meta key
  // when it passed `from`: an incremental fetch that fails half-way resumes after what it stored.
  void advance_watermark(std::string key, Micros from);

  SnapshotWriter& writer() { return writer_; }
  const IngestCounts& counts() const { return counts_; }
  const std::vector<std::string>& gone_emails() const { return gone_; }

 private:
  Store& store_;
  const PairHandle& pair_;
  SnapshotWriter writer_;
  IngestCounts counts_;
  std::vector<std::string> gone_;
  std::string watermark_key_;  // empty: the watermark is not advanced by pages
  Micros watermark_ = kNoTime;
  const MailchimpMark& mark_;
  static const MailchimpMark kNoMark;
  // A full fetch over a stored snapshot: what it holds, read in one pass at the first page
  // (src/snapshot/stored_index.h).
  std::shared_ptr<class StoredIndex> stored_;
  bool stored_read_ = false;
};

}  // namespace concord
