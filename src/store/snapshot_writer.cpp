#include <nlohmann/json.hpp>

#include <algorithm>

#include "concord/snapshot.h"

namespace concord {

std::string reject_key(Side side, std::string_view source_id) {
  std::string k(1, static_cast<char>(side));
  k.append(source_id.substr(0, 255));
  return k;
}

SnapshotWriter::SnapshotWriter(Store& store, const PairHandle& pair, Side side, Mode mode)
    : store_(store),
      pair_(pair),
      side_(side),
      family_(side == Side::kMailchimp ? Family::kMailchimp : Family::kCrm),
      mode_(mode) {
  Cursor c = store_.scan(pair_, family_);
  c.seek_to_first();
  started_empty_ = !c.valid() && c.status().is_ok();
}

void SnapshotWriter::reject(RejectedRow row) {
  pending_rejects_.push_back(std::move(row));
}

Status SnapshotWriter::flush_rejects(Batch& batch) {
  for (const RejectedRow& r : pending_rejects_) {
    nlohmann::json j = {{"side", side_name(side_)},
                        {"source_id", r.source_id},
                        {"email", r.email},
                        {"field", r.field},
                        {"message", r.message}};
    std::string key = reject_key(side_, r.source_id);
    // dump() with 'replace' never throws on invalid UTF-8 in what a side sent.
    batch.put(pair_, Family::kRejects, key,
              j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (mode_ == Mode::kFull) seen_rejects_.push_back(std::move(key));
    ++stats_.rejected;
  }
  pending_rejects_.clear();
  return Status::ok();
}

Status SnapshotWriter::write_page(std::vector<SnapshotEntry>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.key < b.key; });
  Batch batch;
  for (const SnapshotEntry& e : entries)
    batch.put(pair_, family_, e.key.view(), e.value);
  Status s = flush_rejects(batch);
  if (!s) return s;
  s = store_.write(batch);
  if (!s)
    return s.with_context("writing a page of the " + std::string(side_name(side_)) + " snapshot");
  stats_.written += entries.size();
  if (mode_ == Mode::kFull) {
    for (const SnapshotEntry& e : entries)
      seen_.push_back(e.key);
  }
  entries.clear();
  return Status::ok();
}

Status SnapshotWriter::finish() {
  Batch batch;
  Status s = flush_rejects(batch);
  if (!s) return s;
  if (mode_ == Mode::kFull) {
    // Sweep: one ordered pass over the family against the sorted keys this fetch wrote.
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
        s = store_.write(batch);
        if (!s) return s;
        batch.clear();
      }
    }
    if (Status cs = c.status(); !cs) return cs;
    std::sort(seen_rejects_.begin(), seen_rejects_.end());
    Cursor r = store_.scan(pair_, Family::kRejects);
    std::string prefix(1, static_cast<char>(side_));
    for (r.seek(prefix); r.valid() && r.key().substr(0, 1) == prefix; r.next()) {
      if (!std::binary_search(seen_rejects_.begin(), seen_rejects_.end(), r.key())) {
        batch.del(pair_, Family::kRejects, r.key());
      }
    }
    if (Status rs = r.status(); !rs) return rs;
    seen_.clear();
    seen_.shrink_to_fit();
  }
  if (batch.count() > 0) return store_.write(batch);
  return Status::ok();
}

}  // namespace concord
