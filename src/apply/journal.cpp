#include "concord/journal.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "concord/meta_keys.h"
#include "concord/parse.h"
#include "concord/record.h"

namespace concord {
namespace {

using nlohmann::json;

// The last run id given out, as the meta family holds it (decimal).
Result<std::uint64_t> stored_last_run_id(Store& store, const PairHandle& pair) {
  Result<std::optional<std::string>> v = store.get(pair, Family::kMeta, meta::kLastRunId);
  if (!v) return v.status();
  if (!v->has_value()) return std::uint64_t{0};
  Result<std::uint64_t> id = parse_uint64(**v);
  if (!id) return Status::corruption("the stored last run id: " + id.status().message());
  return *id;
}
constexpr char kReportRowTag = '\x01';

// Reads a field of a stored JSON object; errors name the record and the field.
class Reader {
 public:
  Reader(const json& j, std::string what) : j_(j), what_(std::move(what)) {}

  template <typename T>
  Status get(const char* field, T* out, bool required = true) const {
    auto it = j_.find(field);
    if (it == j_.end() || it->is_null()) {
      if (!required) return Status::ok();
      return Status::corruption(what_ + ": field \"" + field + "\" is missing");
    }
    try {
      *out = it->get<T>();
    } catch (const json::exception&) {
      return Status::corruption(what_ + ": field \"" + field + "\" has the wrong type");
    }
    return Status::ok();
  }

 private:
  const json& j_;
  std::string what_;
};

Result<json> parse_object(std::string_view text, const std::string& what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::corruption(what + " is not a JSON object");
  return j;
}

// Enum ↔ its byte, checked against the largest value.
template <typename E>
Status enum_of(std::int64_t v, std::int64_t max, E* out, const std::string& what) {
  if (v < 0 || v > max) return Status::corruption(what + " has an unknown value");
  *out = static_cast<E>(v);
  return Status::ok();
}

// The plan's counts in display order: the operations by kind, unchanged members, report rows.
std::vector<std::pair<std::string, std::uint64_t>> plan_counts(const PlanCounts& c) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const OpKindInfo& k : kOpKinds)
    out.emplace_back(k.name, c.of(k.kind));
  out.emplace_back("unchanged", c.unchanged);
  out.emplace_back("report_rows", c.report_rows);
  return out;
}

json counts_json(const PlanCounts& c) {
  json j = json::object();
  for (const auto& [k, v] : plan_counts(c))
    j[k] = v;
  j["unchanged_in"] = c.unchanged_in;
  j["mailchimp_members"] = c.mailchimp_members;
  j["crm_members"] = c.crm_members;
  j["mailchimp_in"] = c.mailchimp_in;
  j["crm_in"] = c.crm_in;
  j["base_members"] = c.base_members;
  j["base_in"] = c.base_in;
  return j;
}

void counts_of(const json& j, PlanCounts* c) {
  auto n = [&](const char* k) { return j.value(k, std::uint64_t{0}); };
  for (const OpKindInfo& k : kOpKinds)
    c->of(k.kind) = n(std::string(k.name).c_str());
  c->unchanged = n("unchanged");
  c->unchanged_in = n("unchanged_in");
  c->report_rows = n("report_rows");
  c->mailchimp_members = n("mailchimp_members");
  c->crm_members = n("crm_members");
  c->mailchimp_in = n("mailchimp_in");
  c->crm_in = n("crm_in");
  c->base_members = n("base_members");
  c->base_in = n("base_in");
}

}  // namespace

std::string_view journal_state_name(JournalState s) {
  switch (s) {
    case JournalState::kPlanned:
      return "planned";
    case JournalState::kDone:
      return "done";
    case JournalState::kFailed:
      return "failed";
    case JournalState::kRefused:
      return "refused";
    case JournalState::kVerified:
      return "verified";
    case JournalState::kSuperseded:
      return "superseded";
  }
  return "?";
}

std::string_view run_state_name(RunState s) {
  switch (s) {
    case RunState::kRunning:
      return "running";
    case RunState::kPlanned:
      return "planned";
    case RunState::kDone:
      return "done";
    case RunState::kDoneWithFailures:
      return "done-with-failures";
    case RunState::kStoppedByGuard:
      return "stopped-by-guard";
    case RunState::kFailed:
      return "failed";
    case RunState::kInterrupted:
      return "interrupted";
  }
  return "?";
}

namespace {

// [membership, mailchimp time, CRM time, mailchimp hash, CRM hash].
Status base_of(const json& j, const std::string& what, BaseRecord* b) {
  if (!j.is_array() || j.size() != 5) return Status::corruption(what + " is not 5 numbers");
  try {
    b->membership = j[0].get<int>() == 1 ? Membership::kIn : Membership::kOut;
    b->mailchimp_changed_at = j[1].get<Micros>();
    b->crm_changed_at = j[2].get<Micros>();
    b->mailchimp_hash = j[3].get<std::uint64_t>();
    b->crm_hash = j[4].get<std::uint64_t>();
  } catch (const json::exception&) {
    return Status::corruption(what + " is not 5 numbers");
  }
  return Status::ok();
}

// A list of [tag, value] pairs, each handed to `add`.
Status pairs_of(const json& j, const std::string& what,
                const std::function<void(std::string, std::string)>& add) {
  if (!j.is_array()) return Status::corruption(what + " is not a list");
  for (const json& pair : j) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
      return Status::corruption(what + " holds a malformed pair");
    }
    add(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  return Status::ok();
}

// What the written side held before, as JSON entries kept it: {"status", "fields", "base",
// "base_fields"} ("base" null when the member had none).
Status before_of(const json& j, const std::string& what, OpBefore* out) {
  if (!j.is_object()) return Status::corruption(what + ": field \"before\" is not an object");
  auto status = j.find("status");
  if (status == j.end() || !status->is_number_unsigned() || status->get<std::uint64_t>() > 255) {
    return Status::corruption(what + ": field \"before.status\" is not a status");
  }
  out->status = static_cast<std::uint8_t>(status->get<std::uint64_t>());
  if (auto f = j.find("fields"); f != j.end()) {
    Status s = pairs_of(*f, what + ": field \"before.fields\"", [&](std::string t, std::string v) {
      out->fields.push_back({std::move(t), std::move(v)});
    });
    if (!s) return s;
  }
  auto base = j.find("base");
  if (base == j.end() || base->is_null()) return Status::ok();
  BaseRecord b;
  if (Status s = base_of(*base, what + ": field \"before.base\"", &b); !s) return s;
  if (auto f = j.find("base_fields"); f != j.end()) {
    Status s = pairs_of(*f, what + ": field \"before.base_fields\"",
                        [&](std::string t, std::string v) { b.set_field(t, v); });
    if (!s) return s;
  }
  out->base = std::move(b);
  return Status::ok();
}

}  // namespace

namespace {

// ---- Journal entries, binary (docs/store-format.md "journal_value")
// ------------------------------
//
// A migration journals every operation once, reads it back to send it and writes it again with
// its outcome: the entry's codec runs three times per member. A JSON object cost about 15% of a
// migration's CPU; this fixed layout costs little. Entries written as JSON by earlier releases
// (they start with '{') are still read.

constexpr char kBinaryEntry = '\x02';

// Flags byte.
constexpr std::uint8_t kRestoresBase = 1;
constexpr std::uint8_t kHasBefore = 2;
constexpr std::uint8_t kBeforeHasBase = 4;

class EntryWriter {
 public:
  explicit EntryWriter(std::string* out) : out_(out) {}
  void u8(std::uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  // LEB128: seven bits a byte, low first.
  void varint(std::uint64_t n) {
    do {
      const auto byte = static_cast<std::uint8_t>(n & 0x7f);
      n >>= 7;
      u8(n != 0 ? (byte | 0x80) : byte);
    } while (n != 0);
  }
  // A length and the bytes.
  void str(std::string_view s) {
    varint(s.size());
    out_->append(s);
  }
  void pairs(const std::vector<OpField>& fields) {
    varint(fields.size());
    for (const OpField& f : fields) {
      str(f.tag);
      str(f.value);
    }
  }
  void base(const BaseRecord& b) {
    encode_base(b, &scratch_);
    str(scratch_);
  }

 private:
  std::string* out_;
  std::string scratch_;
};

// Reads what EntryWriter wrote; a value cut short or out of range is kCorruption naming the entry
// and the field.
class EntryReader {
 public:
  EntryReader(std::string_view v, const std::string& what) : v_(v), what_(what) {}

  Status u8(const char* field, std::uint8_t* out) {
    if (at_ >= v_.size()) return cut(field);
    *out = static_cast<std::uint8_t>(v_[at_++]);
    return Status::ok();
  }
  Status u64(const char* field, std::uint64_t* out) {
    if (v_.size() - at_ < 8) return cut(field);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
      v = (v << 8) | static_cast<unsigned char>(v_[at_ + static_cast<std::size_t>(i)]);
    at_ += 8;
    *out = v;
    return Status::ok();
  }
  Status varint(const char* field, std::uint64_t* out) {
    std::uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      std::uint8_t byte = 0;
      if (shift > 56 || !u8(field, &byte)) return cut(field);
      n |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    *out = n;
    return Status::ok();
  }
  Status str(const char* field, std::string_view* out) {
    std::uint64_t n = 0;
    if (Status s = varint(field, &n); !s) return s;
    if (n > v_.size() - at_) return cut(field);
    *out = v_.substr(at_, n);
    at_ += n;
    return Status::ok();
  }
  Status str(const char* field, std::string* out) {
    std::string_view v;
    if (Status s = str(field, &v); !s) return s;
    out->assign(v);
    return Status::ok();
  }
  Status pairs(const char* field, std::vector<OpField>* out) {
    std::uint64_t n = 0;
    if (Status s = varint(field, &n); !s) return s;
    // Each pair takes two bytes at least: a larger count is not one.
    if (n > (v_.size() - at_) / 2) return cut(field);
    for (std::uint64_t i = 0; i < n; ++i) {
      OpField f;
      if (Status s = str(field, &f.tag); !s) return s;
      if (Status s = str(field, &f.value); !s) return s;
      out->push_back(std::move(f));
    }
    return Status::ok();
  }
  Status base(const char* field, BaseRecord* out) {
    std::string_view v;
    if (Status s = str(field, &v); !s) return s;
    if (Status s = decode_base(v, out); !s) return bad(field, s.message());
    return Status::ok();
  }
  Status end() {
    if (at_ != v_.size()) return bad("(end)", "bytes after the last field");
    return Status::ok();
  }

  Status bad(const char* field, std::string_view why) const {
    return Status::corruption(what_ + ": field \"" + field + "\": " + std::string(why));
  }

 private:
  Status cut(const char* field) const { return bad(field, "cut short"); }

  std::string_view v_;
  const std::string& what_;
  std::size_t at_ = 1;  // after the format byte
};

Result<JournalEntry> decode_binary_entry(JournalEntry e, std::string_view value,
                                         const std::string& what) {
  EntryReader r(value, what);
  std::uint8_t kind = 0, reason = 0, note = 0, state = 0, flags = 0;
  std::uint64_t at = 0, written_at = 0;
  Status s = r.u8("kind", &kind);
  if (s) s = r.u8("reason", &reason);
  if (s) s = r.u8("note", &note);
  if (s) s = r.u8("state", &state);
  if (s) s = r.u8("flags", &flags);
  if (s) s = r.u64("at", &at);
  if (s) s = r.u64("written_at", &written_at);
  if (s) s = r.u64("resolved_by", &e.resolved_by);
  if (s) s = r.str("email", &e.op.email);
  if (s) s = r.str("from", &e.op.from_email);
  if (s) s = r.str("message", &e.message);
  if (s) s = r.base("base", &e.op.base_after);
  if (s) s = r.pairs("fields", &e.op.fields);
  if (s && (flags & kHasBefore) != 0) {
    OpBefore b;
    s = r.u8("before.status", &b.status);
    if (s) s = r.pairs("before.fields", &b.fields);
    if (s && (flags & kBeforeHasBase) != 0) {
      BaseRecord base;
      s = r.base("before.base", &base);
      b.base = std::move(base);
    }
    e.op.before = std::move(b);
  }
  if (s) s = r.end();
  if (s) s = enum_of(kind, static_cast<int>(kOpKindCount) - 1, &e.op.kind, what + " kind");
  if (s) s = enum_of(reason, static_cast<int>(Reason::kUndo), &e.op.reason, what);
  if (s) s = enum_of(note, kNoteMax, &e.op.note, what + " note");
  if (s) s = enum_of(state, static_cast<int>(JournalState::kSuperseded), &e.state, what);
  if (!s) return s;
  e.op.restores_base = (flags & kRestoresBase) != 0;
  e.at = static_cast<Micros>(at);
  e.written_at = static_cast<Micros>(written_at);
  e.op.key = member_key(e.op.email);
  return e;
}

// An entry an earlier release wrote (a JSON object).
Result<JournalEntry> decode_json_entry(JournalEntry e, std::string_view value,
                                       const std::string& what) {
  Result<json> j = parse_object(value, what);
  if (!j) return j.status();
  Reader r(*j, what);
  int kind = 0, reason = 0, note = 0, state = 0;
  std::vector<json> base;
  Status s = r.get("email", &e.op.email);
  if (s) s = r.get("kind", &kind);
  if (s) s = r.get("reason", &reason);
  if (s) s = r.get("note", &note);
  if (s) s = r.get("state", &state);
  if (s) s = r.get("base", &base);
  if (s) s = r.get("message", &e.message, false);
  if (s) s = r.get("at", &e.at, false);
  if (s) s = r.get("written_at", &e.written_at, false);
  if (s) s = r.get("resolved_by", &e.resolved_by, false);
  if (s) s = enum_of(kind, static_cast<int>(kOpKindCount) - 1, &e.op.kind, what + " kind");
  if (s) s = r.get("from", &e.op.from_email, false);
  if (auto it = j->find("fields"); s && it != j->end()) {
    s = pairs_of(*it, what + ": field \"fields\"", [&](std::string t, std::string v) {
      e.op.fields.push_back({std::move(t), std::move(v)});
    });
  }
  if (auto it = j->find("before"); s && it != j->end()) {
    OpBefore b;
    s = before_of(*it, what, &b);
    e.op.before = std::move(b);
  }
  if (s) s = r.get("restores_base", &e.op.restores_base, false);
  if (s) s = enum_of(reason, static_cast<int>(Reason::kUndo), &e.op.reason, what);
  if (s) s = enum_of(note, kNoteMax, &e.op.note, what + " note");
  if (s) s = enum_of(state, static_cast<int>(JournalState::kSuperseded), &e.state, what);
  if (!s) return s;
  if (Status st = base_of(json(base), what + ": field \"base\"", &e.op.base_after); !st) return st;
  // The field bases after the base itself (base_of() leaves fields alone).
  if (auto it = j->find("field_bases"); it != j->end()) {
    Status st = pairs_of(*it, what + ": field \"field_bases\"",
                         [&](std::string t, std::string v) { e.op.base_after.set_field(t, v); });
    if (!st) return st;
  }
  e.op.key = member_key(e.op.email);
  return e;
}

}  // namespace

std::string encode_journal_entry(const JournalEntry& e) {
  const Operation& op = e.op;
  std::string out;
  out.reserve(96 + op.email.size() + op.from_email.size() + e.message.size());
  out.push_back(kBinaryEntry);
  EntryWriter w(&out);
  w.u8(static_cast<std::uint8_t>(op.kind));
  w.u8(static_cast<std::uint8_t>(op.reason));
  w.u8(static_cast<std::uint8_t>(op.note));
  w.u8(static_cast<std::uint8_t>(e.state));
  std::uint8_t flags = 0;
  if (op.restores_base) flags |= kRestoresBase;
  if (op.before) flags |= kHasBefore;
  if (op.before && op.before->base) flags |= kBeforeHasBase;
  w.u8(flags);
  w.u64(static_cast<std::uint64_t>(e.at));
  w.u64(static_cast<std::uint64_t>(e.written_at));
  w.u64(e.resolved_by);
  w.str(op.email);
  w.str(op.from_email);
  w.str(e.message);
  w.base(op.base_after);
  w.pairs(op.fields);
  if (op.before) {
    w.u8(op.before->status);
    w.pairs(op.before->fields);
    if (op.before->base) w.base(*op.before->base);
  }
  return out;
}

Result<JournalEntry> decode_journal_entry(std::string_view key, std::string_view value) {
  JournalEntry e;
  if (!decode_journal_key(key, &e.run_id, &e.seq)) {
    return Status::corruption("a journal key is not 12 bytes");
  }
  const std::string what =
      "journal entry " + std::to_string(e.run_id) + "/" + std::to_string(e.seq);
  if (!value.empty() && value[0] == kBinaryEntry)
    return decode_binary_entry(std::move(e), value, what);
  return decode_json_entry(std::move(e), value, what);
}

std::string encode_run(const RunRecord& r) {
  json j = {{"id", r.id},
            {"sync", r.sync},
            {"command", r.command},
            {"started_at", r.started_at},
            {"ended_at", r.ended_at},
            {"state", static_cast<int>(r.state)},
            {"first_run", r.first_run},
            {"full_fetch", r.full_fetch},
            {"trust", r.trust},
            {"counts", counts_json(r.counts)},
            {"applied", r.applied},
            {"failed", r.failed},
            {"refused", r.refused},
            {"unsynced", r.unsynced},
            {"resumed_from", r.resumed_from},
            {"undoes", r.undoes},
            {"mailchimp_requests", r.mailchimp_requests},
            {"crm_requests", r.crm_requests},
            {"notes", r.notes}};
  return j.dump();
}

Result<RunRecord> decode_run(std::string_view value) {
  Result<json> j = parse_object(value, "a run record");
  if (!j) return j.status();
  RunRecord r;
  Reader rd(*j, "run record");
  int state = 0;
  json counts;
  Status s = rd.get("id", &r.id);
  if (s) s = rd.get("sync", &r.sync);
  if (s) s = rd.get("command", &r.command);
  if (s) s = rd.get("started_at", &r.started_at);
  if (s) s = rd.get("ended_at", &r.ended_at);
  if (s) s = rd.get("state", &state);
  if (s) s = rd.get("first_run", &r.first_run);
  if (s) s = rd.get("full_fetch", &r.full_fetch, false);
  if (s) s = rd.get("trust", &r.trust, false);
  if (s) s = rd.get("counts", &counts);
  if (s) s = rd.get("applied", &r.applied, false);
  if (s) s = rd.get("failed", &r.failed, false);
  if (s) s = rd.get("refused", &r.refused, false);
  if (s) s = rd.get("unsynced", &r.unsynced, false);
  if (s) s = rd.get("resumed_from", &r.resumed_from, false);
  if (s) s = rd.get("undoes", &r.undoes, false);
  if (s) s = rd.get("mailchimp_requests", &r.mailchimp_requests, false);
  if (s) s = rd.get("crm_requests", &r.crm_requests, false);
  if (s) s = rd.get("notes", &r.notes, false);
  if (s) s = enum_of(state, static_cast<int>(RunState::kInterrupted), &r.state, "run state");
  if (!s) return s.with_context("run " + std::to_string(r.id));
  if (counts.is_object()) counts_of(counts, &r.counts);
  return r;
}

std::vector<std::pair<std::string, std::uint64_t>> run_counts(const RunRecord& r) {
  std::vector<std::pair<std::string, std::uint64_t>> c = plan_counts(r.counts);
  c.insert(c.end(), {{"applied", r.applied},
                     {"failed", r.failed},
                     {"refused", r.refused},
                     {"unsynced", r.unsynced}});
  return c;
}

ReportSummary report_summary(const RunRecord& r) {
  ReportSummary s;
  s.sync = r.sync;
  s.run_id = r.id;
  s.started_at = r.started_at;
  s.ended_at = r.ended_at;
  s.result = std::string(run_state_name(r.state));
  s.first_run = r.first_run;
  s.trust = r.trust;
  s.counts = run_counts(r);
  s.notes = r.notes;
  return s;
}

std::string report_row_key(std::uint64_t run_id, std::uint32_t seq) {
  std::string k = run_key(run_id);
  k += kReportRowTag;
  for (int i = 3; i >= 0; --i)
    k += static_cast<char>((seq >> (8 * i)) & 0xff);
  return k;
}

Result<std::uint64_t> RunLog::next_run_id() {
  Result<std::uint64_t> last = stored_last_run_id(store_, pair_);
  if (!last) return last.status();
  const std::uint64_t id = *last + 1;
  if (Status s = store_.put(pair_, Family::kMeta, meta::kLastRunId, std::to_string(id)); !s) {
    return s;
  }
  return id;
}

Status RunLog::put_run(const RunRecord& r, bool sync) {
  Batch b;
  b.put(pair_, Family::kRuns, run_key(r.id), encode_run(r));
  return store_.write(b, sync);
}

Result<std::optional<RunRecord>> RunLog::get_run(std::uint64_t id) {
  Result<std::optional<std::string>> v = store_.get(pair_, Family::kRuns, run_key(id));
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<RunRecord>();
  Result<RunRecord> r = decode_run(**v);
  if (!r) return r.status();
  return std::optional<RunRecord>(std::move(*r));
}

Result<std::vector<RunRecord>> RunLog::recent_runs(std::size_t limit) {
  Result<std::uint64_t> last = stored_last_run_id(store_, pair_);
  if (!last) return last.status();
  std::vector<RunRecord> runs;
  std::uint64_t id = *last;
  for (; id > 0 && runs.size() < limit; --id) {
    Result<std::optional<RunRecord>> r = get_run(id);
    if (!r) return r.status();
    if (r->has_value()) runs.push_back(std::move(**r));
  }
  return runs;
}

Result<std::optional<RunRecord>> RunLog::last_run() {
  Result<std::vector<RunRecord>> runs = recent_runs(1);
  if (!runs) return runs.status();
  if (runs->empty()) return std::optional<RunRecord>();
  return std::optional<RunRecord>(std::move(runs->front()));
}

Result<bool> RunLog::completed_before(std::uint64_t run_id) {
  for (std::uint64_t id = run_id; id-- > 1;) {
    Result<std::optional<RunRecord>> r = get_run(id);
    if (!r) return r.status();
    if (r->has_value() &&
        ((*r)->state == RunState::kDone || (*r)->state == RunState::kDoneWithFailures)) {
      return true;
    }
  }
  return false;
}

Status RunLog::put_report_rows(std::uint64_t run_id, const std::vector<ReportEntry>& rows) {
  Batch b;
  std::uint32_t seq = 0;
  for (const ReportEntry& e : rows) {
    b.put(pair_, Family::kRuns, report_row_key(run_id, seq++), encode_entry(e));
    if (b.count() >= 1000) {
      if (Status s = store_.write(b); !s) return s;
      b.clear();
    }
  }
  return store_.write(b);
}

Result<std::vector<ReportEntry>> RunLog::report_rows(std::uint64_t run_id) {
  std::vector<ReportEntry> rows;
  Status s = StoredReportRows(store_, pair_, run_id).for_each([&](const ReportEntry& e) {
    rows.push_back(e);
    return Status::ok();
  });
  if (!s) return s;
  return rows;
}

Status StoredReportRows::for_each(const std::function<Status(const ReportEntry&)>& row) const {
  const std::string prefix = run_key(run_id_) + kReportRowTag;
  Cursor c = store_.scan(pair_, Family::kRuns);
  for (c.seek(prefix); c.valid() && c.key().starts_with(prefix); c.next()) {
    Result<ReportEntry> e = decode_entry(c.value());
    if (!e) return e.status().with_context("report row of run " + std::to_string(run_id_));
    if (Status s = row(*e); !s) return s;
  }
  return c.status();
}

Result<std::vector<JournalEntry>> RunLog::open_entries() {
  std::vector<JournalEntry> open;
  Status s = for_each_open(1024, [&](std::vector<JournalEntry>& batch) {
    for (JournalEntry& e : batch)
      open.push_back(std::move(e));
    return Status::ok();
  });
  if (!s) return s;
  return open;
}

namespace {

// The run id of meta kJournalOpenFrom, or 0 (scan everything) when absent or unreadable.
Result<std::uint64_t> open_from(Store& store, const PairHandle& pair) {
  Result<std::optional<std::string>> v = store.get(pair, Family::kMeta, meta::kJournalOpenFrom);
  if (!v) return v.status();
  if (!v->has_value()) return std::uint64_t{0};
  Result<std::uint64_t> n = parse_uint64(**v);
  return n ? *n : std::uint64_t{0};
}

}  // namespace

Result<RunLog::Pruned> RunLog::prune(std::int64_t keep_runs, std::int64_t keep_days, Micros now) {
  Pruned out;
  Result<std::uint64_t> last = stored_last_run_id(store_, pair_);
  if (!last) return last.status();
  Result<std::uint64_t> resolved = open_from(store_, pair_);
  if (!resolved) return resolved.status();
  Result<std::optional<std::string>> from_v = store_.get(pair_, Family::kMeta, meta::kPrunedBefore);
  if (!from_v) return from_v.status();
  std::uint64_t id = 1;
  if (from_v->has_value()) {
    if (Result<std::uint64_t> n = parse_uint64(**from_v); n) id = std::max<std::uint64_t>(*n, 1);
  }
  const std::uint64_t by_count =
      *last > static_cast<std::uint64_t>(keep_runs) ? *last - keep_runs + 1 : 1;
  const Micros cutoff = now - keep_days * 86400 * kMicrosPerSecond;
  // Runs are looked at oldest first; the first one kept for its age ends the pass (later runs are
  // younger), and the next pass starts there.
  for (; id < by_count && id < *resolved; ++id) {
    Result<std::optional<RunRecord>> run = get_run(id);
    if (!run) return run.status();
    if (run->has_value()) {
      const Micros at = (**run).ended_at != kNoTime ? (**run).ended_at : (**run).started_at;
      if (at != kNoTime && at >= cutoff) break;
    }
    Batch b;
    auto drop = [&](Family f, const std::string& from, const std::string& to,
                    std::uint64_t* count) -> Status {
      Cursor c = store_.scan(pair_, f);
      for (c.seek(from); c.valid() && c.key() < std::string_view(to); c.next()) {
        b.del(pair_, f, c.key());
        ++*count;
        if (b.count() >= 1000) {
          if (Status s = store_.write(b); !s) return s;
          b.clear();
        }
      }
      return c.status();
    };
    const std::string rows = run_key(id) + kReportRowTag;
    const std::string rows_end = run_key(id) + static_cast<char>(kReportRowTag + 1);
    if (Status s = drop(Family::kRuns, rows, rows_end, &out.report_rows); !s) return s;
    if (Status s = drop(Family::kJournal, journal_key(id, 0), journal_key(id + 1, 0),
                        &out.journal_entries);
        !s) {
      return s;
    }
    if (run->has_value()) {
      RunRecord r = std::move(**run);
      r.notes.push_back("journal and report pruned (retention)");
      b.put(pair_, Family::kRuns, run_key(id), encode_run(r));
    }
    b.put(pair_, Family::kMeta, meta::kPrunedBefore, std::to_string(id + 1));
    if (Status s = store_.write(b); !s) return s;
    ++out.runs;
  }
  return out;
}

Status RunLog::mark_resolved_before(std::uint64_t run_id) {
  Result<std::uint64_t> from = open_from(store_, pair_);
  if (!from) return from.status();
  if (*from >= run_id) return Status::ok();
  return store_.put(pair_, Family::kMeta, meta::kJournalOpenFrom, std::to_string(run_id));
}

Status RunLog::for_each_open(std::size_t batch,
                             const std::function<Status(std::vector<JournalEntry>&)>& fn) {
  std::vector<JournalEntry> open;
  Result<std::uint64_t> from = open_from(store_, pair_);
  if (!from) return from.status();
  Cursor c = store_.scan(pair_, Family::kJournal);
  for (c.seek(journal_key(*from, 0)); c.valid(); c.next()) {
    Result<JournalEntry> e = decode_journal_entry(c.key(), c.value());
    if (!e) return e.status();
    if (e->state != JournalState::kPlanned) continue;
    open.push_back(std::move(*e));
    if (open.size() >= batch) {
      if (Status s = fn(open); !s) return s;
      open.clear();
    }
  }
  if (Status s = c.status(); !s) return s;
  return open.empty() ? Status::ok() : fn(open);
}

Result<std::vector<JournalEntry>> RunLog::entries_of(const MemberKey& key) {
  std::vector<JournalEntry> mine;
  Cursor c = store_.scan(pair_, Family::kJournal);
  for (c.seek_to_first(); c.valid(); c.next()) {
    Result<JournalEntry> e = decode_journal_entry(c.key(), c.value());
    if (!e) return e.status();
    if (e->op.key == key) mine.push_back(std::move(*e));
  }
  if (Status s = c.status(); !s) return s;
  return mine;
}

Result<std::uint64_t> RunLog::open_count() {
  std::uint64_t n = 0;
  Status s = for_each_open(1024, [&](std::vector<JournalEntry>& batch) {
    n += batch.size();
    return Status::ok();
  });
  if (!s) return s;
  return n;
}

}  // namespace concord
