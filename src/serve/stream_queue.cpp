#include "serve/stream_queue.h"

#include <nlohmann/json.hpp>

#include "concord/parse.h"

namespace concord::serve {
namespace {

using nlohmann::json;

constexpr std::string_view kCountPrefix = "count.";
constexpr std::string_view kDedupPrefix = "dedup.";
constexpr std::string_view kDedupAtPrefix = "dedup_at.";
constexpr std::string_view kInFlightPrefix = "inflight.";
constexpr std::string_view kUnknownPrefix = "unknown_property.";
constexpr std::string_view kLastErrorKey = "last_error";

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

std::uint64_t read_be64(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string prefixed(std::string_view prefix, std::string_view rest) {
  std::string k(prefix);
  k += rest;
  return k;
}

std::string history_key(const std::string& email, std::uint64_t seq) {
  std::string k = email;
  k.push_back('\0');
  k += be64(seq);
  return k;
}

std::string encode_event(const QueuedEvent& q) {
  const amplitude::IntakeEvent& e = q.event;
  json j = {{"kind", static_cast<int>(e.kind)},
            {"user_id", e.user_id},
            {"device_id", e.device_id},
            {"event_type", e.event_type},
            {"time_ms", e.time_ms},
            {"insert_id", e.insert_id},
            {"event_properties", e.event_properties},
            {"user_properties", e.user_properties},
            {"email", q.email},
            {"accepted_at", q.accepted_at}};
  return j.dump();
}

// A queue record; kInvalid (naming the seq) when it does not read, which only a damaged store
// can make.
Result<QueuedEvent> decode_event(std::uint64_t seq, std::string_view value) {
  json j = json::parse(value, nullptr, false);
  QueuedEvent q;
  q.seq = seq;
  if (!j.is_object()) {
    return Status::invalid("queued event " + std::to_string(seq) + " does not read");
  }
  amplitude::IntakeEvent& e = q.event;
  const int kind = j.value("kind", 0);
  if (kind < 0 || kind > static_cast<int>(amplitude::EventKind::kGroupIdentify)) {
    return Status::invalid("queued event " + std::to_string(seq) + ": unknown kind");
  }
  e.kind = static_cast<amplitude::EventKind>(kind);
  e.user_id = j.value("user_id", "");
  e.device_id = j.value("device_id", "");
  e.event_type = j.value("event_type", "");
  e.time_ms = j.value("time_ms", std::int64_t{0});
  e.insert_id = j.value("insert_id", "");
  e.event_properties = j.value("event_properties", "{}");
  e.user_properties = j.value("user_properties", "{}");
  q.email = j.value("email", "");
  q.accepted_at = j.value("accepted_at", kNoTime);
  return q;
}

std::string encode_record(const ForwardedRecord& r) {
  json props = json::object();
  for (const auto& [k, v] : r.properties)
    props[k] = v;
  json j = {{"identify", r.identify},
            {"name", r.name},
            {"occurred_at", r.occurred_at},
            {"properties", std::move(props)},
            {"forwarded_at", r.forwarded_at}};
  return j.dump();
}

std::optional<ForwardedRecord> decode_record(std::uint64_t seq, std::string_view value) {
  json j = json::parse(value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  ForwardedRecord r;
  r.seq = seq;
  r.identify = j.value("identify", false);
  r.name = j.value("name", "");
  r.occurred_at = j.value("occurred_at", kNoTime);
  r.forwarded_at = j.value("forwarded_at", kNoTime);
  if (auto p = j.find("properties"); p != j.end() && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      if (it.value().is_string())
        r.properties.emplace_back(it.key(), it.value().get<std::string>());
    }
  }
  return r;
}

Result<std::vector<ForwardedRecord>> read_history(Store& store, const PairHandle& handle,
                                                  const std::string& email) {
  std::vector<ForwardedRecord> out;
  std::string prefix = email;
  prefix.push_back('\0');
  Cursor c = store.scan(handle, Family::kMailchimp);
  for (c.seek(prefix); c.valid() && starts_with(c.key(), prefix); c.next()) {
    const std::uint64_t seq = read_be64(c.key().substr(prefix.size()));
    if (std::optional<ForwardedRecord> r = decode_record(seq, c.value())) {
      out.push_back(std::move(*r));
    }
  }
  if (Status s = c.status(); !s) return s;
  return out;
}

}  // namespace

std::string_view drop_reason_name(DropReason r) {
  static constexpr std::string_view kNames[] = {"duplicate",  "anonymous",    "invalid_email",
                                                "filtered",   "invalid_name", "group_identify",
                                                "not_member", "rejected"};
  return kNames[static_cast<std::size_t>(r)];
}

std::uint64_t StreamCounts::dropped_total() const {
  std::uint64_t n = 0;
  for (std::uint64_t d : dropped)
    n += d;
  return n;
}

Result<std::unique_ptr<StreamQueue>> StreamQueue::open(Store& store, const std::string& name) {
  Result<const PairHandle*> handle = store.pair(pair_name(name));
  if (!handle) return handle.status();
  std::unique_ptr<StreamQueue> q(new StreamQueue(store, *handle));
  Cursor meta = store.scan(**handle, Family::kMeta);
  for (meta.seek_to_first(); meta.valid(); meta.next()) {
    const std::string_view k = meta.key();
    if (starts_with(k, kCountPrefix)) {
      const std::string_view what = k.substr(kCountPrefix.size());
      Result<std::uint64_t> n = parse_uint64(meta.value());
      if (!n) continue;
      if (what == "accepted") q->counts_.accepted = *n;
      if (what == "forwarded") q->counts_.forwarded = *n;
      for (int r = 0; r < kDropReasonCount; ++r) {
        if (what == prefixed("dropped.", drop_reason_name(static_cast<DropReason>(r)))) {
          q->counts_.dropped[r] = *n;
        }
      }
    } else if (starts_with(k, kInFlightPrefix)) {
      q->in_flight_at_open_.insert(read_be64(k.substr(kInFlightPrefix.size())));
    } else if (starts_with(k, kUnknownPrefix)) {
      q->unknown_properties_.insert(std::string(k.substr(kUnknownPrefix.size())));
    } else if (k == kLastErrorKey) {
      json j = json::parse(meta.value(), nullptr, false);
      if (j.is_object()) {
        q->last_error_ = j.value("error", "");
        q->last_error_at_ = j.value("at", kNoTime);
      }
    }
  }
  if (Status s = meta.status(); !s) return s;
  Cursor queue = store.scan(**handle, Family::kJournal);
  for (queue.seek_to_first(); queue.valid(); queue.next()) {
    ++q->counts_.queued;
    q->next_seq_ = read_be64(queue.key()) + 1;
  }
  if (Status s = queue.status(); !s) return s;
  // Marks whose event is gone (settled, the mark's deletion in the same batch) cannot be left;
  // a mark without an event would only be ignored.
  return q;
}

void StreamQueue::put_counts(Batch& batch, const StreamCounts& c) const {
  batch.put(*handle_, Family::kMeta, "count.accepted", std::to_string(c.accepted));
  batch.put(*handle_, Family::kMeta, "count.forwarded", std::to_string(c.forwarded));
  for (int r = 0; r < kDropReasonCount; ++r) {
    if (c.dropped[r] == 0) continue;  // a reason never counted has no key
    batch.put(*handle_, Family::kMeta,
              prefixed("count.dropped.", drop_reason_name(static_cast<DropReason>(r))),
              std::to_string(c.dropped[r]));
  }
}

Result<std::size_t> StreamQueue::accept(std::vector<Intake> events, Micros now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> keys(events.size());
  std::vector<std::string> lookups;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::string k = amplitude::dedup_key(events[i].event);
    if (!k.empty()) keys[i] = prefixed(kDedupPrefix, k);
  }
  std::vector<std::string_view> asked;
  for (const std::string& k : keys) {
    if (!k.empty()) asked.push_back(k);
  }
  std::vector<std::optional<std::string>> seen;
  if (!asked.empty()) {
    if (Status s = store_.multi_get(*handle_, Family::kMeta, asked, &seen); !s) return s;
  }
  std::set<std::string_view> seen_now;
  for (std::size_t i = 0, a = 0; i < events.size(); ++i) {
    if (keys[i].empty()) continue;
    const bool before = seen[a++].has_value();
    if (before || !seen_now.insert(keys[i]).second) events[i].dropped = DropReason::kDuplicate;
  }
  Batch batch;
  StreamCounts c = counts_;
  std::uint64_t seq = next_seq_;
  std::size_t queued = 0;
  const std::string at = std::to_string(now);
  for (std::size_t i = 0; i < events.size(); ++i) {
    Intake& in = events[i];
    ++c.accepted;
    if (!keys[i].empty() && in.dropped != DropReason::kDuplicate) {
      batch.put(*handle_, Family::kMeta, keys[i], at);
      batch.put(*handle_, Family::kMeta,
                prefixed(kDedupAtPrefix, be64(static_cast<std::uint64_t>(now))) +
                    keys[i].substr(kDedupPrefix.size()),
                "");
    }
    if (in.dropped) {
      ++c.dropped[static_cast<int>(*in.dropped)];
      continue;
    }
    QueuedEvent q;
    q.seq = seq++;
    q.event = std::move(in.event);
    q.email = std::move(in.email);
    q.accepted_at = now;
    batch.put(*handle_, Family::kJournal, be64(q.seq), encode_event(q));
    ++queued;
  }
  c.queued += queued;
  put_counts(batch, c);
  if (Status s = store_.write(batch, /*sync=*/true); !s) return s;
  counts_ = c;
  next_seq_ = seq;
  return queued;
}

Result<std::vector<QueuedEvent>> StreamQueue::read(std::uint64_t after, std::size_t limit) {
  std::vector<QueuedEvent> out;
  Cursor c = store_.scan(*handle_, Family::kJournal);
  for (c.seek(be64(after + 1)); c.valid() && out.size() < limit; c.next()) {
    const std::uint64_t seq = read_be64(c.key());
    Result<QueuedEvent> q = decode_event(seq, c.value());
    if (!q) return q.status();
    out.push_back(std::move(*q));
  }
  if (Status s = c.status(); !s) return s;
  return out;
}

Status StreamQueue::mark_in_flight(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return Status::ok();
  Batch batch;
  for (std::uint64_t seq : seqs)
    batch.put(*handle_, Family::kMeta, prefixed(kInFlightPrefix, be64(seq)), "");
  std::lock_guard<std::mutex> lock(mu_);
  return store_.write(batch, /*sync=*/true);
}

Status StreamQueue::settle(const std::vector<Settled>& done) {
  if (done.empty()) return Status::ok();
  std::lock_guard<std::mutex> lock(mu_);
  Batch batch;
  StreamCounts c = counts_;
  for (const Settled& s : done) {
    batch.del(*handle_, Family::kJournal, be64(s.seq));
    batch.del(*handle_, Family::kMeta, prefixed(kInFlightPrefix, be64(s.seq)));
    if (c.queued > 0) --c.queued;
    if (s.dropped) {
      ++c.dropped[static_cast<int>(*s.dropped)];
      continue;
    }
    ++c.forwarded;
    ForwardedRecord r = s.record;
    r.seq = s.seq;
    batch.put(*handle_, Family::kMailchimp, history_key(s.email, s.seq), encode_record(r));
  }
  put_counts(batch, c);
  if (Status s = store_.write(batch); !s) return s;
  counts_ = c;
  return Status::ok();
}

Result<std::vector<ForwardedRecord>> StreamQueue::history(const std::string& email) {
  return read_history(store_, *handle_, email);
}

bool StreamQueue::first_unknown_property(const std::string& property) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!unknown_properties_.insert(property).second) return false;
  // Remembered across restarts so that a property is reported once, not once per start; a
  // failed write only means it may be reported again.
  (void)store_.put(*handle_, Family::kMeta, prefixed(kUnknownPrefix, property), "");
  return true;
}

std::vector<std::string> StreamQueue::unknown_properties() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {unknown_properties_.begin(), unknown_properties_.end()};
}

void StreamQueue::set_last_error(const std::string& error, Micros at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error == last_error_) {
    last_error_at_ = at;
    return;
  }
  last_error_ = error;
  last_error_at_ = at;
  // Kept for the status page after a restart; losing it loses no event.
  (void)store_.put(*handle_, Family::kMeta, kLastErrorKey,
                   json{{"error", error}, {"at", at}}.dump());
}

std::pair<std::string, Micros> StreamQueue::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {last_error_, last_error_at_};
}

StreamCounts StreamQueue::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

Result<std::size_t> StreamQueue::purge_dedup(Micros before) {
  std::size_t n = 0;
  Batch batch;
  {
    Cursor c = store_.scan(*handle_, Family::kMeta);
    const std::string end = prefixed(kDedupAtPrefix, be64(static_cast<std::uint64_t>(before)));
    for (c.seek(kDedupAtPrefix); c.valid() && starts_with(c.key(), kDedupAtPrefix) && c.key() < end;
         c.next()) {
      batch.del(*handle_, Family::kMeta, c.key());
      batch.del(*handle_, Family::kMeta,
                prefixed(kDedupPrefix, c.key().substr(kDedupAtPrefix.size() + 8)));
      ++n;
    }
    if (Status s = c.status(); !s) return s;
  }
  if (n == 0) return n;
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = store_.write(batch); !s) return s;
  return n;
}

Result<std::vector<ForwardedRecord>> forwarded_history(Store& store, const std::string& stream,
                                                       const std::string& email) {
  Result<const PairHandle*> handle = store.pair(StreamQueue::pair_name(stream));
  if (!handle) return handle.status();
  return read_history(store, **handle, email);
}

}  // namespace concord::serve
