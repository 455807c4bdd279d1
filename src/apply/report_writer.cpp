#include "apply/report_writer.h"

#include <cassert>
#include <cstring>

#include "concord/journal.h"

namespace concord {

std::size_t ReportWriter::KeyHash::operator()(const MemberKey& k) const {
  std::size_t h;
  std::memcpy(&h, k.bytes.data(), sizeof h);  // an MD5 digest: any 8 bytes are a good hash
  return h;
}

ReportWriter::ReportWriter(Store& store, const PairHandle& pair, std::uint64_t run_id)
    : store_(store), pair_(pair), run_id_(run_id) {}

Status ReportWriter::add(const MemberKey* key, ReportEntry row) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint32_t seq = next_seq_++;
  if (key != nullptr) seq_of_.emplace(*key, seq);
  pending_.emplace(seq, std::move(row));
  return pending_.size() >= kBatch ? flush_locked() : Status::ok();
}

Status ReportWriter::amend(const MemberKey& key, const std::function<void(ReportEntry&)>& edit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seq_of_.find(key);
  assert(it != seq_of_.end());
  if (it == seq_of_.end()) return Status::internal("amending a report row that was never added");
  const std::uint32_t seq = it->second;
  auto p = pending_.find(seq);
  if (p == pending_.end()) {
    Result<std::optional<std::string>> v =
        store_.get(pair_, Family::kRuns, report_row_key(run_id_, seq));
    if (!v) return v.status();
    if (!v->has_value()) return Status::corruption("a report row of this run is missing");
    Result<ReportEntry> e = decode_entry(**v);
    if (!e) return e.status();
    p = pending_.emplace(seq, std::move(*e)).first;
  }
  edit(p->second);
  return pending_.size() >= kBatch ? flush_locked() : Status::ok();
}

Status ReportWriter::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return flush_locked();
}

Status ReportWriter::flush_locked() {
  if (pending_.empty()) return Status::ok();
  Batch b;
  for (const auto& [seq, row] : pending_)
    b.put(pair_, Family::kRuns, report_row_key(run_id_, seq), encode_entry(row));
  if (Status s = store_.write(b); !s) return s;
  pending_.clear();
  return Status::ok();
}

}  // namespace concord
