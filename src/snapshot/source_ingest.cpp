// The one-way half of the snapshot stage: the people of a source's set → members of the people
// side's snapshot (the CRM family), so that the diff, the journal and the reports treat them as
// they treat a CRM group's contacts.
#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

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
      m.state.do_not_email = p.do_not_contact;  // consent: decide() never subscribes them
      m.modified_at = p.updated_at;
      m.fields = std::move(p.fields);
      if (emails_ != nullptr) emails_->push_back(email);
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

  // From now on, the normalised address of every person written is appended to *emails.
  void collect_emails(std::vector<std::string>* emails) { emails_ = emails; }

  SnapshotWriter& writer() { return writer_; }
  const IngestCounts& counts() const { return counts_; }

 private:
  Store& store_;
  const PairHandle& pair_;
  SnapshotWriter writer_;
  const SourceFetch& how_;
  IngestCounts counts_;
  std::vector<std::string>* emails_ = nullptr;
};

// The members the snapshot holds IN for a source's set, by the source's id: key and address.
struct Stored {
  MemberKey key;
  std::string email;
  CrmMember member;
};
Result<std::unordered_map<std::string, Stored>> stored_by_source_id(Store& store,
                                                                    const PairHandle& pair) {
  std::unordered_map<std::string, Stored> out;
  Cursor c = store.scan(pair, Family::kCrm);
  for (c.seek_to_first(); c.valid(); c.next()) {
    Stored s;
    if (!member_key_from_bytes(c.key(), &s.key)) continue;
    if (!crm_member_of(c.value(), &s.member, &s.email) || s.member.source_id.empty()) continue;
    std::string id = s.member.source_id;
    out.emplace(std::move(id), std::move(s));
  }
  if (Status st = c.status(); !st) return st;
  return out;
}

// Marks these stored members OUT (they left the set, or the source no longer has them), dated
// now; the diff then takes them out as removal says. What else the record holds stays.
Status mark_out(std::vector<Stored*>& left, const SourceFetch& how, SnapshotWriter& writer) {
  std::vector<SnapshotEntry> entries;
  entries.reserve(left.size());
  for (Stored* s : left) {
    s->member.state.status = CrmStatus::kRemoved;
    s->member.state.changed_at = how.seen_at;
    entries.push_back({s->key, crm_entry_of(s->member, s->email)});
  }
  if (entries.empty()) return Status::ok();
  std::sort(entries.begin(), entries.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.key < b.key; });
  return writer.write_page(entries);
}

// An incremental read of a source whose membership changes move no modification time: who joined
// the set since (or rejoined it) is read by id, and who left it is marked OUT.
Status complete_by_ids(SourceReader& reader, SourceIngest& ingest, Store& store,
                       const PairHandle& pair, const SourceFetch& how) {
  Result<std::vector<std::string>> ids = reader.list_ids();
  if (!ids) return ids.status();
  Result<std::unordered_map<std::string, Stored>> stored = stored_by_source_id(store, pair);
  if (!stored) return stored.status();
  const std::unordered_set<std::string> in_set(ids->begin(), ids->end());
  std::vector<std::string> joined;
  for (const std::string& id : *ids) {
    auto it = stored->find(id);
    if (it == stored->end() || !it->second.member.in_group()) joined.push_back(id);
  }
  std::vector<Stored*> left;
  for (auto& [id, s] : *stored) {
    if (s.member.in_group() && !in_set.count(id)) left.push_back(&s);
  }
  if (!joined.empty()) {
    std::vector<std::string> absent;  // left again since the list was read: the next run sees it
    Result<SideRead> r = reader.read_ids(joined, ingest, &absent);
    if (!r) return r.status();
  }
  return mark_out(left, how, ingest.writer());
}

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
  if (!full && reader.lists_ids()) {
    if (Status s = complete_by_ids(reader, ingest, store, pair, how); !s) return s;
  }
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

Result<FetchStats> refresh_source(SourceReader& reader, const std::vector<std::string>& ids,
                                  const SourceFetch& how, Store& store, const PairHandle& pair,
                                  std::vector<std::string>* emails) {
  if (!reader.lists_ids()) {
    return Status::failed_precondition("this source's people cannot be read again by id");
  }
  Result<std::unordered_map<std::string, Stored>> stored = stored_by_source_id(store, pair);
  if (!stored) return stored.status();
  SourceIngest ingest(store, pair, SnapshotWriter::Mode::kIncremental, how);
  ingest.collect_emails(emails);
  std::vector<std::string> absent;
  Result<SideRead> read = reader.read_ids(ids, ingest, &absent);
  if (!read) return read.status();
  std::vector<Stored*> left;
  for (const std::string& id : absent) {
    auto it = stored->find(id);
    if (it != stored->end() && it->second.member.in_group()) left.push_back(&it->second);
  }
  if (Status s = mark_out(left, how, ingest.writer()); !s) return s;
  // The addresses these people had: an address changed at the source moves the member.
  for (const std::string& id : ids) {
    auto it = stored->find(id);
    if (it != stored->end()) emails->push_back(it->second.email);
  }
  if (Status s = ingest.writer().finish(); !s) return s;
  FetchStats stats = fetch_stats(*read, ingest.counts());
  stats.removed = left.size();
  return stats;
}

}  // namespace concord
