// The one-way half of the snapshot stage: the people of a source's set → members of the people
// side's snapshot (the CRM family), so that the diff, the journal and the reports treat them as
// they treat a CRM group's contacts.
#include <map>

#include "concord/email.h"
#include "concord/snapshot.h"
#include "snapshot/crm_ingest.h"
#include "snapshot/fetch_common.h"
#include "snapshot/move_finder.h"

namespace concord {
namespace {

class SourceIngest final : public SourceSink {
 public:
  SourceIngest(Store& store, const PairHandle& pair, SnapshotWriter::Mode mode,
               const SourceFetch& how)
      : store_(store), pair_(pair), writer_(store, pair, Side::kCrm, mode), how_(how) {}

  Status records(std::vector<SourcePerson>& page) override {
    // One member per address; a second person with an address already taken in this page keeps
    // the first (both are in the set: the member is IN either way).
    std::map<MemberKey, std::pair<CrmMember, std::string>> members;
    for (SourcePerson& p : page) {
      ++counts_.members;
      if (p.id.empty()) {
        reject({how_.noun + " " + p.email, p.email, "id", "the person has no id"});
        continue;
      }
      const std::string source = how_.noun + " " + p.id;
      if (p.email.empty()) {
        reject({source, "", "email", "the person has no email address"});
        continue;
      }
      std::string email = normalise_email(p.email);
      if (EmailProblem problem = check_email(email); problem != EmailProblem::kOk) {
        reject({source, p.email, "email", std::string(describe(problem))});
        continue;
      }
      CrmMember m;
      m.source_id = std::move(p.id);
      m.state.status =
          how_.verified_only && !p.email_verified ? CrmStatus::kRemoved : CrmStatus::kAdded;
      m.state.contact_known = true;
      m.modified_at = p.updated_at;
      m.fields = std::move(p.fields);
      members.try_emplace(member_key(email), std::move(m), std::move(email));
    }
    if (members.empty()) return Status::ok();

    std::vector<std::string_view> keys;
    keys.reserve(members.size());
    for (const auto& [key, m] : members)
      keys.push_back(key.view());
    std::vector<std::optional<std::string>> stored(keys.size());
    if (!writer_.started_empty()) {
      if (Status s = store_.multi_get(pair_, Family::kCrm, keys, &stored); !s) return s;
    }
    std::vector<SnapshotEntry> entries;
    entries.reserve(members.size());
    MoveFinder moves(store_, pair_, Side::kCrm, writer_.mode() == SnapshotWriter::Mode::kFull,
                     !writer_.started_empty());
    std::size_t i = 0;
    for (auto& [key, entry] : members) {
      CrmMember& m = entry.first;
      const std::optional<std::string>& old = stored[i++];
      // In (or out of) the set since concord first saw the person so: the stored time while the
      // status stays, else now.
      m.state.changed_at = how_.seen_at;
      CrmMember prev;
      std::string prev_email;
      if (old && crm_member_of(*old, &prev, &prev_email) && prev.state.status == m.state.status) {
        m.state.changed_at = prev.state.changed_at;
      }
      entries.push_back({key, crm_entry_of(m, entry.second)});
      moves.add(key, entry.second, m.source_id, old, {entry.second});
    }
    counts_.written += entries.size();
    if (Status s = writer_.write_page(entries); !s) return s;
    return moves.flush();
  }

  void reject(RejectedRow row) override {
    ++counts_.rejected;
    writer_.reject(std::move(row));
  }

  SnapshotWriter& writer() { return writer_; }
  const IngestCounts& counts() const { return counts_; }

 private:
  Store& store_;
  const PairHandle& pair_;
  SnapshotWriter writer_;
  const SourceFetch& how_;
  IngestCounts counts_;
};

}  // namespace

Result<FetchStats> fetch_source(SourceReader& reader, const SourceFetch& how, bool full,
                                Store& store, const PairHandle& pair) {
  // A cohort says who is in it, not who changed: it is read whole every time.
  if (!reader.incremental()) full = true;
  Result<Micros> start = fetch_start(store, pair, how.watermark_key, "source", &full);
  if (!start) return start.status();
  SourceIngest ingest(store, pair,
                      full ? SnapshotWriter::Mode::kFull : SnapshotWriter::Mode::kIncremental, how);
  Result<SideRead> read = full ? reader.read_all(ingest) : reader.read_since(*start, ingest);
  if (!read) return read.status();
  if (Status s = ingest.writer().finish(); !s) return s;
  FetchStats stats = fetch_stats(*read, ingest.counts());
  stats.removed = ingest.writer().stats().removed;
  stats.full = full;
  stats.watermark = read->watermark;
  if (reader.incremental() && stats.watermark != kNoTime) {
    if (Status s = store_watermark(store, pair, how.watermark_key, stats.watermark); !s) return s;
  }
  return stats;
}

}  // namespace concord
