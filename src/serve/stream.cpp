#include "serve/stream.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "concord/email.h"

namespace concord::serve {
namespace {

constexpr Micros kTagsFresh = 600 * kMicrosPerSecond;
constexpr Micros kDedupWindow = 7 * 24 * 3600 * kMicrosPerSecond;
constexpr Micros kPurgeEvery = 3600 * kMicrosPerSecond;
// Events handed to workers at once, over all of them: bounds memory whatever the backlog.
constexpr std::size_t kMaxBuffered = 4096;
constexpr std::size_t kReadChunk = 512;

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// Seconds: Mailchimp keeps occurred_at to the second.
Micros to_second(Micros t) {
  return t == kNoTime ? t : t - t % kMicrosPerSecond;
}

std::vector<std::pair<std::string, std::string>> sorted(
    const std::map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

// How an accepted event is taken: queued for `email`, or dropped.
Intake classify(const StreamConfig& c, amplitude::IntakeEvent e) {
  Intake in;
  auto drop = [&](DropReason r) {
    in.dropped = r;
    in.event = std::move(e);
    return std::move(in);
  };
  switch (e.kind) {
    case amplitude::EventKind::kGroupIdentify:
      return drop(DropReason::kGroupIdentify);
    case amplitude::EventKind::kIdentify:
      if (!c.send_users) return drop(DropReason::kFiltered);
      break;
    case amplitude::EventKind::kTrack:
      if (!c.send_events) return drop(DropReason::kFiltered);
      if (!c.events.empty() &&
          std::find(c.events.begin(), c.events.end(), e.event_type) == c.events.end()) {
        return drop(DropReason::kFiltered);
      }
      if (!amplitude::member_event_name(e.event_type)) return drop(DropReason::kInvalidName);
      break;
  }
  Result<std::string> email = amplitude::event_email(e, c.email_property);
  if (!email) {
    return drop(email.status().code() == Status::Code::kNotFound ? DropReason::kAnonymous
                                                                 : DropReason::kInvalidEmail);
  }
  in.email = std::move(*email);
  in.event = std::move(e);
  return in;
}

}  // namespace

Result<std::unique_ptr<Stream>> Stream::open(const StreamConfig& config, Store& store,
                                             MailchimpClient& mailchimp, StreamOptions options) {
  if (options.api_key.empty()) {
    return Status::invalid("stream \"" + config.name + "\": its key is empty");
  }
  std::unique_ptr<Stream> s(new Stream(config, mailchimp, std::move(options)));
  Result<std::unique_ptr<StreamQueue>> q = StreamQueue::open(store, config.name);
  if (!q) return q.status().with_context("stream \"" + config.name + "\"");
  s->queue_ = std::move(*q);
  s->intake_options_.api_key = s->options_.api_key;
  s->event_options_.event_properties = config.event_properties;
  s->verify_ = s->queue_->in_flight_at_open();
  // Amplitude averages each id's rate over 30 s.
  s->throttle_ = std::make_unique<IntakeThrottle>(config.max_events_per_second, 30);
  return s;
}

Stream::~Stream() {
  stop();
}

amplitude::IntakeReply Stream::intake(const amplitude::IntakeRequest& request) {
  amplitude::IntakeReply reply = amplitude::handle_intake(request, intake_options_);
  if (reply.status != 200 || reply.events.empty()) return reply;
  if (std::optional<amplitude::Throttled> t = throttle_->take(reply.events, request.now)) {
    return amplitude::throttled_reply(*t);
  }
  std::vector<Intake> taken;
  taken.reserve(reply.events.size());
  for (amplitude::IntakeEvent& e : reply.events)
    taken.push_back(classify(config_, std::move(e)));
  reply.events.clear();
  Result<std::size_t> queued = queue_->accept(std::move(taken), options_.clock->now());
  if (!queued) {
    log("could not queue a request's events (answered 503, the sender retries): " +
        queued.status().message());
    return amplitude::unavailable_reply();
  }
  if (*queued > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    new_events_ = true;
    cv_.notify_all();
  }
  return reply;
}

void Stream::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  for (int i = 0; i < std::max(1, options_.connections); ++i)
    workers_.emplace_back([this] { work_loop(); });
  reader_ = std::thread([this] { read_loop(); });
}

void Stream::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (reader_.joinable()) reader_.join();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  workers_.clear();
  waiting_.clear();
  held_.clear();
  buffered_ = 0;
  started_ = false;
}

bool Stream::pause(Micros pause) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::microseconds(pause), [&] { return stopping_; });
  return !stopping_;
}

void Stream::failed(const std::string& what) {
  const std::string before = queue_->last_error().first;
  queue_->set_last_error(what, options_.clock->now());
  if (what != before) log(what);
}

void Stream::read_loop() {
  std::uint64_t after = 0;
  Micros purged = kNoTime;
  Micros backoff = 500'000;
  for (;;) {
    const Micros now = options_.clock->now();
    if (purged == kNoTime || now - purged >= kPurgeEvery) {
      purged = now;
      if (Result<std::size_t> n = queue_->purge_dedup(now - kDedupWindow); !n) {
        failed("forgetting insert_ids older than 7 days: " + n.status().message());
      }
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || buffered_ < kMaxBuffered; });
      if (stopping_) return;
      new_events_ = false;
    }
    Result<std::vector<QueuedEvent>> batch =
        queue_->read(after, std::min(kReadChunk, kMaxBuffered));
    if (!batch) {
      failed("reading the queue: " + batch.status().message());
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = 500'000;
    if (batch->empty()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || new_events_; });
      if (stopping_) return;
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (QueuedEvent& q : *batch) {
      after = q.seq;
      Work w;
      w.verify = verify_.count(q.seq) > 0;
      w.event = std::move(q);
      waiting_.push_back(std::move(w));
      ++buffered_;
    }
    cv_.notify_all();
  }
}

bool Stream::work_waiting() const {
  return std::any_of(waiting_.begin(), waiting_.end(),
                     [&](const Work& w) { return held_.count(w.event.email) == 0; });
}

std::vector<Stream::Work> Stream::take_work() {
  std::vector<Work> batch;
  std::set<std::string> mine;
  for (auto it = waiting_.begin(); it != waiting_.end() && batch.size() < options_.batch;) {
    const std::string& email = it->event.email;
    // Another worker's member: this event, and every later one of the member, waits.
    if (held_.count(email) > 0 && mine.count(email) == 0) {
      ++it;
      continue;
    }
    mine.insert(email);
    batch.push_back(std::move(*it));
    it = waiting_.erase(it);
  }
  held_.insert(mine.begin(), mine.end());
  return batch;
}

void Stream::release(const std::vector<Work>& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Work& w : batch)
    held_.erase(w.event.email);
  buffered_ -= std::min(buffered_, batch.size());
  cv_.notify_all();
}

void Stream::work_loop() {
  for (;;) {
    std::vector<Work> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || work_waiting(); });
      if (stopping_) return;
      batch = take_work();
    }
    std::vector<std::uint64_t> marks;
    for (const Work& w : batch) {
      if (!w.verify) marks.push_back(w.event.seq);
    }
    Micros backoff = 500'000;
    for (;;) {
      Status s = queue_->mark_in_flight(marks);
      if (s) break;
      failed("marking events in flight: " + s.message());
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    std::vector<Settled> done;
    std::size_t i = 0;
    backoff = 500'000;
    while (i < batch.size()) {
      Settled out;
      if (forward(batch[i], done, &out) == Attempt::kSettled) {
        done.push_back(std::move(out));
        ++i;
        backoff = 500'000;
        continue;
      }
      if (!pause(backoff)) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    // Settled events leave the queue; the rest (stopping) keep their marks and are looked for
    // at the next start.
    backoff = 500'000;
    for (;;) {
      Status s = queue_->settle(done);
      if (s) break;
      failed("recording forwarded events: " + s.message());
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    release(batch);
    if (i < batch.size()) return;  // stopping
  }
}

Stream::Attempt Stream::forward(Work& w, const std::vector<Settled>& pending, Settled* out) {
  out->seq = w.event.seq;
  out->email = w.event.email;
  Result<std::string> list = list_id();
  if (!list) {
    failed("finding the audience \"" + config_.audience + "\": " + list.status().message());
    return Attempt::kRetry;
  }
  if (w.event.event.kind == amplitude::EventKind::kIdentify) {
    return forward_identify(*list, w.event, out);
  }
  return forward_event(*list, w, pending, out);
}

Stream::Attempt Stream::forward_event(const std::string& list, Work& w,
                                      const std::vector<Settled>& pending, Settled* out) {
  Result<amplitude::MemberEvent> e = amplitude::member_event(w.event.event, event_options_);
  if (!e) {
    out->dropped = DropReason::kInvalidName;
    return Attempt::kSettled;
  }
  ForwardedRecord& r = out->record;
  r.name = e->name;
  r.occurred_at = to_second(w.event.event.time_ms * 1000);
  r.properties = sorted(e->properties);
  if (w.verify) {
    Result<bool> sent = already_sent(list, w.event, *e, pending);
    if (!sent && sent.status().code() != Status::Code::kNotFound) {
      failed("looking for an event that may have been sent: " + sent.status().message());
      return Attempt::kRetry;
    }
    if (sent && *sent) {
      r.forwarded_at = options_.clock->now();
      return Attempt::kSettled;
    }
    w.verify = false;
  }
  Status s = mailchimp_.post_member_event(list, w.event.email, amplitude::member_event_body(*e));
  if (s) {
    r.forwarded_at = options_.clock->now();
    return Attempt::kSettled;
  }
  switch (s.code()) {
    case Status::Code::kNotFound:
      out->dropped = DropReason::kNotMember;
      return Attempt::kSettled;
    case Status::Code::kInvalid:
      failed("Mailchimp refused an event \"" + e->name + "\": " + s.message());
      out->dropped = DropReason::kRejected;
      return Attempt::kSettled;
    default:
      // It may have arrived: look before sending it again.
      w.verify = true;
      failed("sending member events: " + s.message());
      return Attempt::kRetry;
  }
}

Result<bool> Stream::already_sent(const std::string& list, const QueuedEvent& q,
                                  const amplitude::MemberEvent& e,
                                  const std::vector<Settled>& pending) {
  const Micros at = to_second(q.event.time_ms * 1000);
  const std::vector<std::pair<std::string, std::string>> props = sorted(e.properties);
  Result<std::vector<MemberEventRecord>> listed = mailchimp_.member_events(list, q.email, at);
  if (!listed) return listed.status();
  std::size_t there = 0;
  for (const MemberEventRecord& m : *listed) {
    there += m.name == e.name && m.occurred_at == at && m.properties == props;
  }
  if (there == 0) return false;
  Result<std::vector<ForwardedRecord>> known = queue_->history(q.email);
  if (!known) return known.status();
  std::size_t ours = 0;
  for (const ForwardedRecord& r : *known) {
    ours += !r.identify && r.name == e.name && r.occurred_at == at && r.properties == props;
  }
  for (const Settled& s : pending) {
    ours += !s.dropped && s.email == q.email && !s.record.identify && s.record.name == e.name &&
            s.record.occurred_at == at && s.record.properties == props;
  }
  return there > ours;
}

Stream::Attempt Stream::forward_identify(const std::string& list, const QueuedEvent& q,
                                         Settled* out) {
  Result<std::map<std::string, amplitude::IdentifyField>> wanted =
      amplitude::identify_fields(q.event, config_.user_properties);
  if (!wanted) {
    out->dropped = DropReason::kRejected;
    return Attempt::kSettled;
  }
  Result<std::map<std::string, std::string>> tags = merge_tags(list);
  if (!tags) {
    failed("reading the audience's merge fields: " + tags.status().message());
    return Attempt::kRetry;
  }
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::string> only_if_unset;
  for (const auto& [property, field] : *wanted) {
    auto tag = tags->find(upper(property));
    if (tag == tags->end()) {
      if (queue_->first_unknown_property(property)) {
        log("user property \"" + property +
            "\" names no merge field of the audience: it is not sent (reported once)");
      }
      continue;
    }
    fields.emplace_back(tag->second, field.value);
    if (field.only_if_unset) only_if_unset.push_back(tag->second);
  }
  if (!only_if_unset.empty()) {
    // $setOnce: only where the member has no value yet.
    Result<std::vector<std::pair<std::string, std::string>>> now =
        mailchimp_.member_merge_fields(list, q.email);
    if (!now && now.status().code() != Status::Code::kNotFound) {
      failed("reading a member's merge fields: " + now.status().message());
      return Attempt::kRetry;
    }
    if (now) {
      for (const auto& [tag, value] : *now) {
        if (value.empty() ||
            std::find(only_if_unset.begin(), only_if_unset.end(), tag) == only_if_unset.end()) {
          continue;
        }
        fields.erase(std::remove_if(fields.begin(), fields.end(),
                                    [&, t = tag](const auto& f) { return f.first == t; }),
                     fields.end());
      }
    }
  }
  Result<MemberUpsert> up = mailchimp_.upsert_member(
      list, q.email,
      config_.status_if_new_pending ? MailchimpStatus::kPending : MailchimpStatus::kSubscribed,
      fields);
  if (!up) {
    if (up.status().code() == Status::Code::kInvalid) {
      failed("Mailchimp refused a user: " + up.status().message());
      out->dropped = DropReason::kRejected;
      return Attempt::kSettled;
    }
    failed("writing users: " + up.status().message());
    return Attempt::kRetry;
  }
  for (const auto& [tag, why] : up->refused_fields) {
    failed("Mailchimp refused merge field " + tag + " of a user (the rest was written): " + why);
    fields.erase(std::remove_if(fields.begin(), fields.end(),
                                [&, t = tag](const auto& f) { return f.first == t; }),
                 fields.end());
  }
  ForwardedRecord& r = out->record;
  r.identify = true;
  r.occurred_at = to_second(q.event.time_ms * 1000);
  std::sort(fields.begin(), fields.end());
  r.properties = std::move(fields);
  r.forwarded_at = options_.clock->now();
  return Attempt::kSettled;
}

Result<std::string> Stream::list_id() {
  std::lock_guard<std::mutex> lock(list_mu_);
  if (!list_id_.empty()) return list_id_;
  if (!options_.audience_id) return Status::invalid("no audience resolver");
  Result<std::string> id = options_.audience_id();
  if (!id) return id.status();
  list_id_ = *id;
  return list_id_;
}

Result<std::map<std::string, std::string>> Stream::merge_tags(const std::string& list) {
  std::lock_guard<std::mutex> lock(list_mu_);
  const Micros now = options_.clock->now();
  if (tags_read_ != kNoTime && now - tags_read_ < kTagsFresh) return tags_;
  Result<std::vector<MergeField>> fields = mailchimp_.merge_fields(list);
  if (!fields) return fields.status();
  tags_.clear();
  for (const MergeField& f : *fields)
    tags_[upper(f.tag)] = f.tag;
  tags_read_ = now;
  return tags_;
}

StreamView Stream::view() const {
  StreamView v;
  v.name = config_.name;
  v.kind = "amplitude → audience";
  v.audience = config_.audience;
  const StreamCounts c = queue_->counts();
  v.accepted = c.accepted;
  v.forwarded = c.forwarded;
  v.queued = c.queued;
  for (int r = 0; r < kDropReasonCount; ++r)
    v.dropped.emplace_back(std::string(drop_reason_name(static_cast<DropReason>(r))), c.dropped[r]);
  std::tie(v.last_error, v.last_error_at) = queue_->last_error();
  v.unknown_properties = queue_->unknown_properties();
  return v;
}

}  // namespace concord::serve
