// The daemon: its pairs, the worker that runs them, and the view the HTTP API reads and changes.
#include "serve/daemon.h"

#include "concord/meta_keys.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <set>

#include "concord/civicrm_client.h"
#include "concord/email.h"
#include "concord/journal.h"
#include "concord/parse.h"
#include "concord/record.h"
#include "config/schedule.h"

namespace concord::serve {
namespace {

// A run, with any exception that still escapes it turned into that run's error: the daemon keeps
// serving the other pairs (and this one's next run) rather than aborting.
Result<RunOutcome> guarded_run(SyncPair& sp, const RunRequest& rq) {
  try {
    return run_sync(sp, rq);
  } catch (const std::exception& e) {
    return Status::internal(std::string("the run stopped on an unexpected error: ") + e.what());
  } catch (...) {
    return Status::internal("the run stopped on an unexpected error");
  }
}

constexpr std::string_view kMetaCreated = meta::kServeCreated;
constexpr std::string_view kMetaEnabled = meta::kServeEnabled;
// The longest the worker sleeps without looking at the schedule again.
constexpr Micros kMaxSleep = 60 * kMicrosPerSecond;

// Deliveries whose run failed are tried again after 30 s, then 1, 2, 4 … minutes, at most 30.
Micros retry_delay(int failures) {
  const Micros first = 30 * kMicrosPerSecond, most = 30 * 60 * kMicrosPerSecond;
  Micros d = first;
  for (int i = 1; i < failures && d < most; ++i)
    d *= 2;
  return std::min(d, most);
}

constexpr std::size_t index_of(Side side) {
  return static_cast<std::size_t>(side);
}

}  // namespace

// ---- set-up -------------------------------------------------------------------------------------

Result<std::unique_ptr<Daemon>> Daemon::open(const Config& config, Store& store,
                                             std::vector<DaemonPair> pairs, DaemonOptions options,
                                             std::vector<std::unique_ptr<Stream>> streams) {
  if (pairs.empty() && streams.empty()) {
    return Status::invalid("no [[sync]] or [[stream]] is configured");
  }
  assert(options.clock != nullptr);
  std::unique_ptr<Daemon> d(new Daemon(config, store, std::move(options)));
  d->streams_ = std::move(streams);
  std::sort(d->streams_.begin(), d->streams_.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  std::vector<const PairHandle*> handles;
  for (const DaemonPair& p : pairs)
    handles.push_back(p.handle);
  Result<std::unique_ptr<Inbox>> inbox = Inbox::open(store, handles);
  if (!inbox) return inbox.status();
  d->inbox_ = std::move(*inbox);
  const Micros now = d->options_.clock->now();
  for (DaemonPair& p : pairs) {
    if (Status s = d->add(std::move(p), now); !s) return s;
  }
  // Deliveries are checked against the pair's audience: looked up now, so that the first one
  // is not kept waiting (a failure is logged and the look-up tried again with the next one).
  for (auto& [name, p] : d->pairs_) {
    if (Result<std::string> id = d->audience_of(p); !id) {
      d->log(name + ": cannot look up the audience yet (" + id.status().message() +
             "); deliveries are answered 503 until it can be");
    }
  }
  return d;
}

Status Daemon::add(DaemonPair spec, Micros now) {
  assert(spec.config != nullptr && spec.handle != nullptr && spec.mailchimp && spec.crm);
  const std::string& name = spec.config->name;
  const PairHandle& handle = *spec.handle;
  Result<Schedule> schedule = schedule_of(config_, *spec.config);
  if (!schedule) return schedule.status().with_context("sync \"" + name + "\"");
  Pair p;
  Result<std::optional<std::string>> created = store_.get(handle, Family::kMeta, kMetaCreated);
  if (!created) return created.status();
  std::optional<Micros> created_at;
  if (created->has_value()) {
    if (Result<std::int64_t> t = parse_int64(**created)) created_at = *t;
  }
  if (created_at) {
    p.created = *created_at;
  } else {
    // First seen now (an unreadable value is written again rather than shown as 1970).
    p.created = now;
    if (Status w = store_.put(handle, Family::kMeta, kMetaCreated, std::to_string(now)); !w) {
      return w;
    }
  }
  Result<std::optional<std::string>> enabled = store_.get(handle, Family::kMeta, kMetaEnabled);
  if (!enabled) return enabled.status();
  const bool on = !enabled->has_value() || **enabled != "0";
  Result<std::string> secret = webhook_url_secret(config_.state_dir, name);
  if (!secret) return secret.status();
  p.webhook_secret = std::move(*secret);
  Result<std::optional<RunRecord>> last = RunLog(store_, handle).last_run();
  if (!last) return last.status();
  const Micros last_start = last->has_value() ? (**last).started_at : kNoTime;
  Result<std::size_t> pending = inbox_->count(handle);
  if (!pending) return pending.status();
  p.webhook_pending = *pending > 0;
  metrics_.webhook_pending(name, *pending);
  if (last->has_value() && (**last).state == RunState::kDone) {
    metrics_.last_success(name, (**last).ended_at);
  }
  sched_.add(name, std::move(*schedule), on, last_start, now);
  p.spec = std::move(spec);
  pairs_.emplace(name, std::move(p));
  return Status::ok();
}

Daemon::~Daemon() {
  stop();
}

// ---- the worker ---------------------------------------------------------------------------------

void Daemon::start() {
  assert(workers_.empty());
  for (auto& s : streams_)
    s->start();
  // Two lanes per Mailchimp account: its scheduled runs, and its deliveries' runs (which so never
  // wait for a migration of another of its pairs; both share the account's connections).
  std::set<std::string> accounts;
  for (const auto& [name, p] : pairs_)
    accounts.insert(p.spec.config->mailchimp);
  for (const std::string& account : accounts) {
    for (bool webhook : {false, true}) {
      workers_.emplace_back([this, lane = Lane{account, webhook}] { work(lane); });
    }
  }
}

void Daemon::stop() {
  stop_flag_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& w : workers_)
    w.join();
  workers_.clear();
  for (auto& s : streams_)
    s->stop();
}

void Daemon::work(const Lane& lane) {
  std::uint64_t seen = 0;  // the wake-ups this lane has looked at
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      seen = wakeups_;
    }
    if (step(&lane)) continue;
    // Sleep until the next scheduled run, or until a delivery, a toggle, "run now" or the end of
    // another lane's run (wakeups_, which also catches one that came after step() looked).
    std::unique_lock<std::mutex> lock(mu_);
    const Micros wakeup = next_wakeup_locked();
    const Micros wait = wakeup == kNoTime
                            ? kMaxSleep
                            : std::clamp<Micros>(wakeup - options_.clock->now(), 0, kMaxSleep);
    cv_.wait_for(lock, std::chrono::microseconds(wait),
                 [&] { return stopping_ || wakeups_ != seen; });
  }
}

void Daemon::wake_locked() {
  ++wakeups_;
  cv_.notify_all();
}

bool Daemon::step(const Lane* lane) {
  std::unique_lock<std::mutex> lock(mu_);
  for (std::string& name : sched_.take_due(options_.clock->now()))
    queue_.push_back(std::move(name));
  std::string name;
  bool webhook = false;
  const Micros now = options_.clock->now();
  auto in_lane = [&](const Pair& p) {
    return lane == nullptr || p.spec.config->mailchimp == lane->account;
  };
  // Deliveries go first, but (one worker) never twice in a row while scheduled runs wait;
  // deliveries whose last run failed wait out their back-off. A pair's deliveries wait while a
  // scheduled run of it is due or running: that run's fetch covers them.
  if (lane == nullptr ? !last_was_webhook_ || queue_.empty() : lane->webhook) {
    for (auto& [n, p] : pairs_) {
      const bool due = p.retry_at == kNoTime ? p.webhook_pending : p.retry_at <= now;
      if (due && in_lane(p) && !p.busy && sched_.enabled(n) && !sched_.running(n) &&
          std::find(queue_.begin(), queue_.end(), n) == queue_.end()) {
        name = n;
        webhook = true;
        p.webhook_pending = false;
        p.retry_at = kNoTime;
        break;
      }
    }
  }
  if (name.empty() && (lane == nullptr || !lane->webhook)) {
    // The first scheduled run of the lane whose pair is not running its deliveries.
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      const Pair& p = pairs_.at(*it);
      if (!in_lane(p) || p.busy) continue;
      name = *it;
      queue_.erase(it);
      break;
    }
  }
  if (name.empty()) return false;
  Pair& p = pairs_.at(name);
  p.busy = true;
  if (lane == nullptr) last_was_webhook_ = webhook;
  lock.unlock();
  const Micros start = options_.clock->now();
  const FollowUp next = run_pair(p, webhook);
  const Micros end = options_.clock->now();
  lock.lock();
  p.busy = false;
  wake_locked();  // a run of this pair, or a delivery, may have waited for this one
  if (!webhook) sched_.finished(name, start, end);
  switch (next) {
    case FollowUp::kNone:
      p.failures = 0;
      break;
    case FollowUp::kMore:  // a backlog larger than one run takes: on with it
      p.failures = 0;
      p.webhook_pending = true;
      break;
    case FollowUp::kRetryLater:
      ++p.failures;
      p.retry_at = end + retry_delay(p.failures);
      log(name + ": " + std::to_string(p.failures) + " run(s) in a row left webhook deliveries " +
          "unreconciled; they are tried again at " + format_iso8601(p.retry_at));
      break;
  }
  return true;
}

Micros Daemon::next_wakeup() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_wakeup_locked();
}

Micros Daemon::next_wakeup_locked() const {
  Micros next = sched_.next_wakeup();
  for (const auto& [n, p] : pairs_) {
    if (p.retry_at != kNoTime && (next == kNoTime || p.retry_at < next)) next = p.retry_at;
  }
  return next;
}

Daemon::FollowUp Daemon::run_pair(Pair& p, bool webhook) {
  const std::string& name = p.spec.config->name;
  const PairHandle& handle = *p.spec.handle;
  RunRequest rq;
  rq.command = webhook ? "webhook" : "serve";
  rq.backup_dir = options_.backup_dir;
  rq.stop = &stop_flag_;
  // The deliveries this run settles when it ends well (an address change that failed is not
  // among them: it stays stored and is tried again), and whether any was kept back.
  std::vector<std::uint64_t> deliveries;
  bool kept_back = false;
  // A webhook run reads again the members its deliveries name. A scheduled run takes every
  // delivery waiting now: its fetch reads every change since the last one, so it covers them.
  // Either way the address changes among them are carried out first: a fetch cannot see them
  // (the old address is simply gone).
  std::vector<std::string> people;  // the people side's ids its deliveries name (Mautic)
  Result<std::vector<std::string>> emails = take_deliveries(
      p, webhook ? options_.deliveries_per_run : SIZE_MAX, &deliveries, &kept_back, &people);
  if (!emails) {
    log(name + ": reading the stored webhook deliveries: " + emails.status().message());
    return FollowUp::kRetryLater;
  }
  if (webhook) {
    if (emails->empty() && people.empty()) {
      if (Status s = inbox_->remove(handle, deliveries); !s) log(name + ": " + s.message());
      return follow_up(p, kept_back);
    }
    rq.refresh = std::move(*emails);
    rq.refresh_people = std::move(people);
  }
  // When the run does not end well, the deliveries it took stay, to be tried again later.
  const FollowUp unsettled =
      deliveries.empty() && !kept_back ? FollowUp::kNone : FollowUp::kRetryLater;
  SyncSide& mailchimp = *p.spec.mailchimp;
  SyncSide& crm = *p.spec.crm;
  const std::uint64_t mc_before = mailchimp.requests(), crm_before = crm.requests();
  SyncPair sp{store_, handle, *p.spec.config, mailchimp, crm, *options_.clock};
  const Micros started = options_.clock->now();
  Result<RunOutcome> r = guarded_run(sp, rq);
  metrics_.api_requests(Side::kMailchimp, mailchimp.requests() - mc_before);
  metrics_.api_requests(Side::kCrm, crm.requests() - crm_before);
  if (options_.retried_errors) {
    std::lock_guard<std::mutex> lock(mu_);  // runs end on several workers
    for (Side side : {Side::kMailchimp, Side::kCrm}) {
      const std::uint64_t seen = options_.retried_errors(side);
      std::uint64_t& counted = retried_counted_[index_of(side)];
      if (seen > counted) metrics_.api_errors(side, seen - counted);
      counted = std::max(counted, seen);
    }
  }
  const double secs =
      static_cast<double>(options_.clock->now() - started) / static_cast<double>(kMicrosPerSecond);
  if (!r) {
    metrics_.run_failed(name, rq.command, r.status());
    log(name + ": " + rq.command + " run failed: " + r.status().message());
    count_pending(p);
    return unsettled;
  }
  const RunRecord& rec = r->record;
  metrics_.run_ended(name, rq.command, *r);
  char line[256];
  std::snprintf(
      line, sizeof line,
      "%s: %s run %llu %s: %llu applied, %llu failed, %llu refused, "
      "%llu report rows (%.1f s)",
      name.c_str(), rq.command.c_str(), static_cast<unsigned long long>(rec.id),
      std::string(run_state_name(rec.state)).c_str(), static_cast<unsigned long long>(rec.applied),
      static_cast<unsigned long long>(rec.failed), static_cast<unsigned long long>(rec.refused),
      static_cast<unsigned long long>(rec.counts.report_rows), secs);
  log(line);
  if (rec.state != RunState::kDone && rec.state != RunState::kDoneWithFailures) {
    count_pending(p);  // stopped, by a guard or SIGTERM
    return unsettled;
  }
  if (!webhook && p.spec.people_webhook_warning) {
    Result<std::string> warning = p.spec.people_webhook_warning();
    if (!warning) {
      log(name + ": checking the people side's webhook: " + warning.status().message());
    } else {
      if (!warning->empty()) log(name + ": " + *warning);
      std::lock_guard<std::mutex> lock(mu_);
      p.warning = std::move(*warning);
    }
  }
  if (p.spec.config->one_way() && p.spec.config->mode == CohortMode::kOneTime) {
    // The run disabled the pair in the store; the schedule follows.
    std::lock_guard<std::mutex> lock(mu_);
    sched_.set_enabled(name, false, options_.clock->now());
    log(name + ": a one-time mirror, done: disabled");
  }
  // Exactly the deliveries this run took and reconciled are let go.
  if (Status removed = inbox_->remove(handle, deliveries); !removed) {
    log(name + ": " + removed.message());
    return FollowUp::kRetryLater;
  }
  return follow_up(p, kept_back);
}

Daemon::FollowUp Daemon::follow_up(Pair& p, bool kept_back) {
  Result<std::size_t> left = inbox_->count(*p.spec.handle);
  if (!left) return FollowUp::kRetryLater;
  metrics_.webhook_pending(p.spec.config->name, *left);
  if (kept_back) return FollowUp::kRetryLater;
  return *left > 0 ? FollowUp::kMore : FollowUp::kNone;
}

// ---- webhook deliveries -------------------------------------------------------------------------

Result<std::vector<std::string>> Daemon::take_deliveries(Pair& p, std::size_t limit,
                                                         std::vector<std::uint64_t>* numbers,
                                                         bool* kept_back,
                                                         std::vector<std::string>* people) {
  Result<std::vector<Inbox::Delivery>> taken = inbox_->take(*p.spec.handle, limit);
  if (!taken) return taken.status();
  std::set<std::uint64_t> failed;
  change_addresses(p, *taken, &failed);
  *kept_back = !failed.empty();
  std::set<std::string> emails;
  std::set<std::string> ids;
  for (const Inbox::Delivery& d : *taken) {
    if (!failed.count(d.number)) numbers->push_back(d.number);
    if (!d.event || d.event->type == WebhookType::kCampaign) continue;
    const WebhookEvent& e = *d.event;
    if (e.type == WebhookType::kPeople) {
      ids.insert(e.people.begin(), e.people.end());
      continue;
    }
    emails.insert(e.email);
    if (e.type == WebhookType::kUpemail) emails.insert(e.old_email);
  }
  people->assign(ids.begin(), ids.end());
  return std::vector<std::string>(emails.begin(), emails.end());
}

void Daemon::change_addresses(Pair& p, const std::vector<Inbox::Delivery>& deliveries,
                              std::set<std::uint64_t>* failed) {
  for (const Inbox::Delivery& d : deliveries) {
    if (!d.event || d.event->type != WebhookType::kUpemail) continue;
    if (Status s = change_crm_email(p, d.event->old_email, d.event->email); !s) {
      failed->insert(d.number);
      log(p.spec.config->name + ": changing a CRM email for an upemail delivery (kept, tried " +
          "again by the next run): " + s.message());
    }
  }
}

// Mailchimp says a member's address changed: the CRM contact stored under the old address gets
// the new one, so the person stays the same contact rather than being removed and re-added.
Status Daemon::change_crm_email(Pair& p, const std::string& old_email,
                                const std::string& new_email) {
  if (!p.spec.change_crm_email) return Status::ok();
  Result<std::optional<std::string>> v =
      store_.get(*p.spec.handle, Family::kCrm, member_key(old_email).view());
  if (!v) return v.status();
  if (!v->has_value()) return Status::ok();  // not in the group: nothing to carry over
  SnapshotView view;
  if (Status s = decode_snapshot(**v, &view); !s) return s;
  CrmBody person;
  if (Status s = decode_crm_body(view.body, &person); !s) return s;
  if (person.contact_id == 0) return Status::ok();
  // A delivery is only as good as the secret in its URL: before a person's CRM address is
  // changed, Mailchimp itself must show the new address in the audience.
  Result<bool> confirmed = mailchimp_has(p, new_email);
  if (!confirmed) return confirmed.status();
  if (!*confirmed) {
    log(p.spec.config->name + ": an upemail delivery names " + new_email +
        ", which the audience does not have: the CRM address is left as it is");
    return Status::ok();
  }
  Status s = p.spec.change_crm_email(person.contact_id, old_email, new_email);
  if (s.code() == Status::Code::kNotFound) return Status::ok();  // changed already
  return s;
}

Result<bool> Daemon::mailchimp_has(Pair& p, const std::string& email) {
  Result<FetchStats> read = p.spec.mailchimp->refresh({email}, store_, *p.spec.handle);
  if (!read) return read.status();
  Result<std::optional<std::string>> v =
      store_.get(*p.spec.handle, Family::kMailchimp, member_key(email).view());
  if (!v) return v.status();
  if (!v->has_value()) return false;
  SnapshotHeader header;
  if (Status s = decode_snapshot_header(**v, &header); !s) return s;
  MailchimpState state;
  if (Status s = mailchimp_state_of(header, &state); !s) return s;
  return state.status != MailchimpStatus::kAbsent;
}

void Daemon::count_pending(const Pair& p) {
  if (Result<std::size_t> n = inbox_->count(*p.spec.handle)) {
    metrics_.webhook_pending(p.spec.config->name, *n);
  }
}

bool Daemon::webhook_secret_ok(const std::string& sync, std::string_view secret) {
  const Pair* p = find(sync);
  return p != nullptr && !p->webhook_secret.empty() && secrets_equal(secret, p->webhook_secret);
}

std::string Daemon::metrics_text() {
  for (const auto& s : streams_) {
    StreamView v = s->view();
    metrics_.stream(v.name, v.accepted, v.forwarded, v.queued, v.dropped);
  }
  return metrics_.render();
}

std::vector<StreamView> Daemon::streams() {
  std::vector<StreamView> out;
  for (const auto& s : streams_)
    out.push_back(s->view());
  return out;
}

std::optional<http::Reply> Daemon::intake(const http::Request& request,
                                          std::string_view peer_address) {
  if (streams_.empty()) return std::nullopt;
  const std::size_t q = request.target.find('?');
  amplitude::IntakeRequest in;
  in.path = std::string_view(request.target).substr(0, q);
  if (q != std::string::npos) in.query = std::string_view(request.target).substr(q + 1);
  in.content_type = request.header("Content-Type");
  in.content_encoding = request.header("Content-Encoding");
  in.body = request.body;
  in.peer_address = peer_address;
  in.now = options_.clock->now();
  // The stream whose key the request sends answers it. The key is inside the body, so each
  // stream reads it in turn until one knows the key (a wrong key is found before any event is
  // looked at); with one stream, that stream answers.
  amplitude::IntakeReply reply;
  for (const auto& s : streams_) {
    reply = s->intake(in);
    if (!reply.wrong_key) break;
  }
  http::Reply r;
  r.response.status = reply.status;
  r.response.headers.push_back({"Content-Type", reply.content_type});
  r.response.body = std::move(reply.body);
  return r;
}

Status Daemon::health() {
  std::lock_guard<std::mutex> lock(health_mu_);
  const Micros now = options_.clock->now();
  if (health_checked_ == kNoTime || now - health_checked_ >= kMicrosPerSecond ||
      now < health_checked_) {
    health_ = store_.check_writable();
    health_checked_ = now;
  }
  return health_;
}

Result<std::string> Daemon::audience_of(Pair& p) {
  std::lock_guard<std::mutex> lock(audience_mu_);
  if (p.audience_id.empty() && p.spec.audience_id) {
    Result<std::string> id = p.spec.audience_id();
    if (!id) return id.status();
    p.audience_id = std::move(*id);
  }
  return p.audience_id;
}

Status Daemon::deliver(const std::string& sync, WebhookEvent event) {
  Pair* p = find(sync);
  if (p == nullptr) return Status::not_found("no sync pair \"" + sync + "\"");
  // A people side's delivery names no audience; its sender's signature vouched for it.
  if (p->spec.audience_id && event.type != WebhookType::kPeople) {
    Result<std::string> audience = audience_of(*p);
    if (!audience) {
      return Status::unavailable("the pair's audience cannot be looked up to check the delivery: " +
                                 audience.status().message());
    }
    if (event.list_id != *audience) {
      return Status::invalid("the delivery is for audience " + event.list_id +
                             ", not the pair's (" + *audience + ")");
    }
  }
  event.received_at = options_.clock->now();
  // Stored before the pair is marked pending: a webhook run that clears the mark reads the inbox
  // afterwards, so it sees this delivery, or the mark stays for the next run.
  Result<std::uint64_t> stored = inbox_->add(*p->spec.handle, event);
  if (!stored) return stored.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    p->webhook_pending = true;
    wake_locked();
  }
  metrics_.webhook_stored(sync, event.type);
  cv_.notify_all();
  return Status::ok();
}

Result<std::vector<std::string>> Daemon::read_people_delivery(const std::string& sync,
                                                              std::string_view body,
                                                              std::string_view signature) {
  Pair* p = find(sync);
  if (p == nullptr || !p->spec.people_delivery) {
    return Status::not_found("sync \"" + sync + "\" takes no people-side deliveries");
  }
  return p->spec.people_delivery(body, signature);
}

// ---- the view -----------------------------------------------------------------------------------

Daemon::Pair* Daemon::find(const std::string& name) {
  auto it = pairs_.find(name);
  return it == pairs_.end() ? nullptr : &it->second;
}

SyncView Daemon::view_of(const Pair& p) {
  const std::string& name = p.spec.config->name;
  SyncView v;
  v.name = name;
  v.created = p.created;
  v.enabled = sched_.enabled(name);
  v.schedule = p.spec.config->schedule;
  const TargetKind t = p.spec.config->target;
  v.kind = std::string(people_kind_name(p.spec.config->people)) + " \u2192 " +
           (t == TargetKind::kTag        ? "tag"
            : t == TargetKind::kInterest ? "interest"
                                         : "audience");
  if (p.busy) {
    v.state = SyncView::State::kRunning;
  } else if (std::find(queue_.begin(), queue_.end(), name) != queue_.end() ||
             sched_.run_requested(name) || p.webhook_pending) {
    v.state = SyncView::State::kQueued;
  } else if (!v.enabled) {
    v.state = SyncView::State::kDisabled;
  }
  v.next_run = sched_.next_run(name);
  v.warning = p.warning;
  if (Result<std::optional<RunRecord>> r = RunLog(store_, *p.spec.handle).last_run(); r) {
    v.last_run = std::move(*r);
  }
  return v;
}

std::vector<SyncView> Daemon::syncs() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SyncView> out;
  for (const auto& [name, p] : pairs_)
    out.push_back(view_of(p));
  return out;
}

Result<SyncView> Daemon::sync(const std::string& name) {
  const Pair* p = find(name);
  if (p == nullptr) return Status::not_found("no sync pair \"" + name + "\"");
  std::lock_guard<std::mutex> lock(mu_);
  return view_of(*p);
}

Result<std::vector<RunRecord>> Daemon::runs(const std::string& sync, std::size_t limit) {
  const Pair* p = find(sync);
  if (p == nullptr) return Status::not_found("no sync pair \"" + sync + "\"");
  return RunLog(store_, *p->spec.handle).recent_runs(limit);
}

Result<std::optional<RunRecord>> Daemon::run(const std::string& sync, std::uint64_t id) {
  const Pair* p = find(sync);
  if (p == nullptr) return Status::not_found("no sync pair \"" + sync + "\"");
  return RunLog(store_, *p->spec.handle).get_run(id);
}

Result<std::vector<ReportEntry>> Daemon::report_rows(const std::string& sync, std::uint64_t id) {
  const Pair* p = find(sync);
  if (p == nullptr) return Status::not_found("no sync pair \"" + sync + "\"");
  return RunLog(store_, *p->spec.handle).report_rows(id);
}

Result<SyncView> Daemon::set_enabled(const std::string& sync, bool enabled) {
  Pair* p = find(sync);
  if (p == nullptr) return Status::not_found("no sync pair \"" + sync + "\"");
  if (Status s = store_.put(*p->spec.handle, Family::kMeta, kMetaEnabled, enabled ? "1" : "0");
      !s) {
    return s;
  }
  SyncView v;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sched_.set_enabled(sync, enabled, options_.clock->now());
    wake_locked();
    v = view_of(*p);
  }
  cv_.notify_all();
  return v;
}

Status Daemon::run_now(const std::string& sync) {
  if (find(sync) == nullptr) return Status::not_found("no sync pair \"" + sync + "\"");
  {
    std::lock_guard<std::mutex> lock(mu_);
    sched_.run_now(sync);
    wake_locked();
  }
  cv_.notify_all();
  return Status::ok();
}

}  // namespace concord::serve
