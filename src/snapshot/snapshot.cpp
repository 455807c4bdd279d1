#include <algorithm>

#include "concord/record.h"
#include "concord/snapshot.h"

namespace concord {

namespace {
thread_local FetchProgress* current_progress = nullptr;
}  // namespace

FetchProgress::FetchProgress(std::function<void(Side, std::uint64_t)> on_page)
    : on_page_(std::move(on_page)), outer_(current_progress) {
  current_progress = this;
}

FetchProgress::~FetchProgress() {
  current_progress = outer_;
}

void FetchProgress::page_written(Side side, std::uint64_t written) {
  if (current_progress != nullptr && current_progress->on_page_) {
    current_progress->on_page_(side, written);
  }
}

SnapshotWriter::SnapshotWriter(Store& store, const PairHandle& pair, Side side, Mode mode)
    : store_(store), pair_(pair), side_(side), family_(snapshot_family(side)), mode_(mode) {
  Cursor c = store_.scan(pair_, family_);
  c.seek_to_first();
  started_empty_ = !c.valid() && c.status().is_ok();
}

void SnapshotWriter::reject(RejectedRow row) {
  pending_rejects_.push_back(std::move(row));
}

void SnapshotWriter::add_rejects(Batch& batch, std::vector<std::string>* keys) const {
  for (const RejectedRow& r : pending_rejects_) {
    std::string key = reject_key(side_, r.source_id);
    batch.put(pair_, Family::kRejects, key, encode_reject(side_, r));
    keys->push_back(std::move(key));
  }
}

void SnapshotWriter::rejects_written(std::vector<std::string>& keys) {
  stats_.rejected += pending_rejects_.size();
  pending_rejects_.clear();
  if (mode_ == Mode::kFull) {
    for (std::string& k : keys)
      seen_rejects_.push_back(std::move(k));
  }
}

Status SnapshotWriter::write_page(std::vector<SnapshotEntry>& entries) {
  // Key order; for a key given twice in one page, the later entry wins (as across pages).
  std::stable_sort(entries.begin(), entries.end(),
                   [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.key < b.key; });
  Batch batch;
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].key == entries[i].key) continue;
    if (!entries[i].unchanged) batch.put(pair_, family_, entries[i].key.view(), entries[i].value);
    ++distinct;
  }
  std::vector<std::string> reject_keys;
  add_rejects(batch, &reject_keys);
  Status s = store_.write(batch);
  if (!s) {
    return s.with_context("writing a page of the " + std::string(side_name(side_)) + " snapshot");
  }
  rejects_written(reject_keys);
  stats_.written += distinct;
  FetchProgress::page_written(side_, stats_.written);
  if (sweeps()) {
    for (const SnapshotEntry& e : entries)
      seen_.push_back(e.key);
  }
  entries.clear();
  return Status::ok();
}

Result<std::vector<std::pair<MemberKey, std::string>>> SnapshotWriter::unseen_members() {
  std::vector<std::pair<MemberKey, std::string>> out;
  if (!sweeps()) return out;
  std::sort(seen_.begin(), seen_.end());
  seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
  Cursor c = store_.scan(pair_, family_);
  for (c.seek_to_first(); c.valid(); c.next()) {
    MemberKey k;
    if (!member_key_from_bytes(c.key(), &k)) continue;
    if (std::binary_search(seen_.begin(), seen_.end(), k)) continue;
    SnapshotView v;
    std::string email;
    if (decode_snapshot(c.value(), &v)) email.assign(v.email);
    out.emplace_back(k, std::move(email));
  }
  if (Status s = c.status(); !s) return s;
  return out;
}

Status SnapshotWriter::finish() {
  if (finished_) return Status::failed_precondition("SnapshotWriter::finish() called twice");
  Batch batch;
  std::vector<std::string> reject_keys;
  add_rejects(batch, &reject_keys);
  if (sweeps()) {
    // One ordered pass over the family against the sorted keys this fetch wrote.
    std::sort(seen_.begin(), seen_.end());
    seen_.erase(std::unique(seen_.begin(), seen_.end()), seen_.end());
    Cursor c = store_.scan(pair_, family_);
    auto seen_it = seen_.begin();
    for (c.seek_to_first(); c.valid(); c.next()) {
      MemberKey k;
      if (!member_key_from_bytes(c.key(), &k)) {
        batch.del(pair_, family_, c.key());  // not a member key: cannot belong here
        continue;
      }
      while (seen_it != seen_.end() && *seen_it < k)
        ++seen_it;
      if (seen_it == seen_.end() || !(*seen_it == k)) {
        batch.del(pair_, family_, c.key());
        ++stats_.removed;
      }
      if (batch.count() >= 10000) {
        if (Status s = store_.write(batch); !s) return s;
        batch.clear();
      }
    }
    if (Status cs = c.status(); !cs) return cs;
  }
  if (mode_ == Mode::kFull) {
    // The rejects this fetch returned again (including those written with this batch) stay.
    std::vector<std::string> keep = seen_rejects_;
    keep.insert(keep.end(), reject_keys.begin(), reject_keys.end());
    std::sort(keep.begin(), keep.end());
    Cursor r = store_.scan(pair_, Family::kRejects);
    std::string prefix(1, static_cast<char>(side_));
    for (r.seek(prefix); r.valid() && r.key().substr(0, 1) == prefix; r.next()) {
      if (!std::binary_search(keep.begin(), keep.end(), r.key())) {
        batch.del(pair_, Family::kRejects, r.key());
      }
    }
    if (Status rs = r.status(); !rs) return rs;
  }
  if (batch.count() > 0) {
    if (Status s = store_.write(batch); !s) return s;
  }
  rejects_written(reject_keys);
  finished_ = true;
  seen_.clear();
  seen_.shrink_to_fit();
  return Status::ok();
}

}  // namespace concord
