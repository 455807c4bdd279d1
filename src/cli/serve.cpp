// `concord serve`: the daemon. Runs every sync pair on its schedule, reconciles the members
// Mailchimp's webhooks name, and serves the status page, a JSON API and /metrics.
//
// Threads: the HTTP server's (one per connection) answer requests; one worker runs the runs, one
// at a time (the clients of an account are shared, and one run per pair at a time is the rule);
// the main thread waits for SIGTERM/SIGINT. On a signal the run in progress stops after its
// current batch (journaled, as the engine stops on RunRequest::stop), the worker ends, the
// listener closes.
//
// State kept in each pair's meta family (besides the engine's):
//   serve.created       decimal µs: when the daemon first saw the pair
//   serve.enabled       "1" / "0": the status page's toggle
//   webhook.event/<20-digit sequence>   a delivery not yet reconciled (encode_webhook_event)
// A pair's webhook URL is <public url>/webhooks/mailchimp/<sync>/<secret>; the secret is derived
// from state_dir/webhook.key (see webhook_secret), so that `concord webhooks install` can run
// while the daemon holds the store.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <set>
#include <thread>

#include "cli/cli.h"
#include "concord/http.h"
#include "concord/metrics.h"
#include "concord/report.h"
#include "concord/scheduler.h"
#include "concord/webhook.h"
#include "serve/pages.h"

namespace concord::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kMetaCreated = "serve.created";
constexpr std::string_view kMetaEnabled = "serve.enabled";
constexpr std::string_view kEventPrefix = "webhook.event/";
constexpr std::size_t kEventsPerRun = 1000;
constexpr const char* kWebhookPath = "/webhooks/mailchimp/";
// The pages load nothing from elsewhere and may not be framed.
constexpr const char* kPageCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'";

json iso_or_null(Micros t) {
  return t == kNoTime ? json(nullptr) : json(format_iso8601(t));
}

void log_line(const std::string& s) {
  std::fprintf(stderr, "concord serve: %s\n", s.c_str());
  std::fflush(stderr);
}

http::Reply reply(int status, std::string body, std::string type = "application/json") {
  http::Reply r;
  r.response.status = status;
  r.response.headers.push_back({"Content-Type", std::move(type)});
  r.response.headers.push_back({"Cache-Control", "no-store"});
  r.response.body = std::move(body);
  return r;
}
http::Reply json_reply(int status, const json& j) {
  return reply(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
}
http::Reply error_reply(int status, const std::string& message) {
  return json_reply(status, {{"error", message}});
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string seg;
    if (!http::url_decode(path.substr(i, j - i), &seg)) seg = std::string(path.substr(i, j - i));
    out.push_back(std::move(seg));
    i = j + 1;
  }
  return out;
}

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80" → bind address and port.
Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::invalid("[serve] listen must be address:port (not \"" + listen + "\")");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = listen.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (*end != '\0' || p < 0 || p > 65535) {
    return Status::invalid("[serve] listen: bad port \"" + port + "\"");
  }
  if (host == "localhost") host = "127.0.0.1";
  return std::make_pair(host, static_cast<std::uint16_t>(p));
}

// The secret path segment of a pair's webhook URL: HMAC-SHA256(state_dir/webhook.key, name),
// 32 hex digits. The key is made (mode 0600) when missing; deleting it changes every secret
// (then install the webhooks again).
Result<std::string> webhook_secret(const Config& config, const std::string& sync) {
  const std::filesystem::path file = config.state_dir / "webhook.key";
  std::string key;
  {
    std::ifstream in(file);
    if (in) std::getline(in, key);
  }
  if (key.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config.state_dir, ec);
    key = random_secret();
    const std::filesystem::path tmp = file.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << key << "\n";
      if (!out) return Status::io_error("cannot write " + tmp.string());
    }
    ::chmod(tmp.c_str(), 0600);
    // Two processes making it at once: the first rename wins, and both read the winner.
    if (!std::filesystem::exists(file)) std::filesystem::rename(tmp, file, ec);
    std::filesystem::remove(tmp, ec);
    std::ifstream in(file);
    key.clear();
    if (in) std::getline(in, key);
    if (key.empty()) return Status::io_error("cannot read " + file.string());
  }
  return webhook_signature(key, "webhook:" + sync).substr(0, 32);
}

class Daemon {
 public:
  Daemon(Context& ctx, const Global& g) : ctx_(ctx), global_(g) {}

  Status start(const std::string& listen_override) {
    declare_metrics();
    const Micros now = system_clock().now();
    for (const SyncConfig& s : ctx_.config().syncs) {
      Result<Schedule> schedule = schedule_of(ctx_.config(), s);
      if (!schedule) return schedule.status().with_context("sync \"" + s.name + "\"");
      Result<Context::Pair> p = ctx_.pair(s);
      if (!p) return p.status().with_context("sync \"" + s.name + "\"");
      PairState st;
      st.cfg = &s;
      st.handle = p->handle;
      st.mailchimp = std::move(p->mailchimp);
      st.crm = std::move(p->crm);
      Store& store = ctx_.store();
      Result<std::optional<std::string>> created =
          store.get(*st.handle, Family::kMeta, kMetaCreated);
      if (!created) return created.status();
      if (created->has_value()) {
        st.created = std::strtoll((*created)->c_str(), nullptr, 10);
      } else {
        st.created = now;
        if (Status w = store.put(*st.handle, Family::kMeta, kMetaCreated, std::to_string(now)); !w)
          return w;
      }
      Result<std::optional<std::string>> enabled =
          store.get(*st.handle, Family::kMeta, kMetaEnabled);
      if (!enabled) return enabled.status();
      const bool on = !enabled->has_value() || **enabled != "0";
      Result<std::string> secret = webhook_secret(ctx_.config(), s.name);
      if (!secret) return secret.status();
      st.webhook_secret = std::move(*secret);
      RunLog log(store, *st.handle);
      Result<std::optional<RunRecord>> last = log.last_run();
      if (!last) return last.status();
      const Micros last_start = last->has_value() ? (**last).started_at : kNoTime;
      Result<std::size_t> pending = pending_events(st);
      if (!pending) return pending.status();
      st.webhook_pending = *pending > 0;
      // New deliveries are numbered after the ones kept (the HTTP threads are not started yet).
      Result<std::uint64_t> last_seq = last_event_seq(st);
      if (!last_seq) return last_seq.status();
      next_seq_ = std::max(next_seq_, *last_seq + 1);
      sched_.add(s.name, *schedule, on, last_start, now);
      if (last->has_value() && (**last).state == RunState::kDone) {
        metrics_.set("concord_last_success_timestamp_seconds", {{"sync", s.name}},
                     static_cast<double>((**last).ended_at) / kMicrosPerSecond);
      }
      pairs_.emplace(s.name, std::move(st));
    }
    if (pairs_.empty()) return Status::invalid("no [[sync]] is configured");

    const ServeConfig& sc = ctx_.config().serve;
    Result<std::pair<std::string, std::uint16_t>> where =
        parse_listen(listen_override.empty() ? sc.listen : listen_override);
    if (!where) return where.status();
    if (Status s = set_up_token(loopback_host(where->first)); !s) return s;
    if (!sc.signature_header.empty()) {
      Result<std::string> secret =
          read_secret(sc.signature_secret_env, "the webhook signature secret");
      if (!secret) return secret.status();
      signature_secret_ = std::move(*secret);
    }
    http::ServerOptions o;
    o.bind = where->first;
    o.port = where->second;
    o.max_body_bytes = 1u << 20;
    Result<std::unique_ptr<http::Server>> server = http::Server::start(
        o, [this](const http::Request& r, const http::Peer& p) { return handle(r, p); });
    if (!server) return server.status().with_context("listening on " + where->first);
    server_ = std::move(*server);
    const std::string host =
        where->first.find(':') != std::string::npos ? "[" + where->first + "]" : where->first;
    log_line("listening on http://" + host + ":" + std::to_string(server_->port()) + "/ (" +
             std::to_string(pairs_.size()) + " sync pair" + (pairs_.size() == 1 ? "" : "s") +
             (token_.empty() ? ", no token: loopback only" : ", token required") + ")");
    worker_ = std::thread([this] { work(); });
    return Status::ok();
  }

  // Stops: the run in progress ends after its batch; the listener closes.
  void stop() {
    stop_flag_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (server_) server_->stop();
  }

 private:
  struct PairState {
    const SyncConfig* cfg = nullptr;
    const PairHandle* handle = nullptr;
    std::unique_ptr<SyncSide> mailchimp, crm;
    std::string webhook_secret;
    Micros created = kNoTime;
    bool webhook_pending = false;
  };

  // ---- set-up
  // ------------------------------------------------------------------------------------

  Status set_up_token(bool loopback) {
    const ServeConfig& sc = ctx_.config().serve;
    if (!sc.token_env.empty()) {
      Result<std::string> t = read_secret(sc.token_env, "the status page's token");
      if (!t) return t.status();
      token_ = std::move(*t);
      return Status::ok();
    }
    if (loopback) return Status::ok();
    // Off loopback, a token is required: made once, kept in the state directory.
    const std::filesystem::path file = ctx_.config().state_dir / "serve.token";
    std::ifstream in(file);
    if (in && std::getline(in, token_) && !token_.empty()) return Status::ok();
    token_ = random_secret();
    {
      std::ofstream out(file, std::ios::trunc);
      out << token_ << "\n";
      if (!out) return Status::io_error("cannot write " + file.string());
    }
    ::chmod(file.c_str(), 0600);
    log_line("the status page and API need a token; it is kept in " + file.string() +
             " (readable by this user only). Token: " + token_);
    return Status::ok();
  }

  void declare_metrics() {
    metrics_.declare("concord_runs_total", "counter", "Runs by sync pair, kind and result.");
    metrics_.declare("concord_operations_total", "counter",
                     "Operations by sync pair, kind (add_to_mailchimp, …) and result.");
    metrics_.declare("concord_api_requests_total", "counter",
                     "HTTP requests sent to each side (retries included).");
    metrics_.declare("concord_api_errors_total", "counter",
                     "Errors met on each side: HTTP errors retried (5xx, 429, resets, timeouts), "
                     "runs that failed on the side's error, writes that failed.");
    metrics_.declare("concord_last_success_timestamp_seconds", "gauge",
                     "When each sync pair's last fully successful run ended (Unix seconds).");
    metrics_.declare("concord_webhook_events_total", "counter",
                     "Webhook deliveries stored, by sync pair and type.");
    metrics_.declare("concord_webhook_rejected_total", "counter",
                     "Webhook deliveries refused (wrong secret or signature, malformed).");
    metrics_.declare("concord_webhook_pending", "gauge",
                     "Webhook deliveries stored but not reconciled yet.");
  }

  // ---- the worker
  // ----------------------------------------------------------------------------------

  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      const Micros now = system_clock().now();
      for (std::string& name : sched_.take_due(now))
        queue_.push_back(std::move(name));
      std::string name;
      bool webhook = false;
      // Deliveries go first, but never twice in a row while scheduled runs wait (a steady
      // stream of deliveries must not starve the schedule).
      const bool deliveries_first = !last_was_webhook_ || queue_.empty();
      for (auto& [n, st] : pairs_) {
        if (!deliveries_first) break;
        if (st.webhook_pending && sched_.enabled(n) && !sched_.running(n) &&
            std::find(queue_.begin(), queue_.end(), n) == queue_.end()) {
          name = n;
          webhook = true;
          st.webhook_pending = false;
          break;
        }
      }
      if (name.empty() && !queue_.empty()) {
        name = queue_.front();
        queue_.pop_front();
      }
      if (name.empty()) {
        const Micros wake = sched_.next_wakeup();
        if (wake == kNoTime) {
          cv_.wait_for(lock, std::chrono::minutes(1));
        } else {
          const Micros wait = std::max<Micros>(wake - system_clock().now(), 0);
          cv_.wait_for(lock,
                       std::chrono::microseconds(std::min<Micros>(wait, 60LL * kMicrosPerSecond)));
        }
        continue;
      }
      current_ = name;
      last_was_webhook_ = webhook;
      lock.unlock();
      const Micros start = system_clock().now();
      run(pairs_.at(name), webhook);
      const Micros end = system_clock().now();
      lock.lock();
      current_.clear();
      if (!webhook) sched_.finished(name, start, end);
    }
  }

  // One run of a pair: scheduled (or "run now"), or for the webhook deliveries stored.
  void run(PairState& st, bool webhook) {
    const std::string& name = st.cfg->name;
    Store& store = ctx_.store();
    RunRequest rq;
    rq.command = webhook ? "webhook" : "serve";
    rq.backup_dir = ctx_.backup_dir();
    rq.stop = &stop_flag_;
    std::vector<std::string> event_keys;
    if (webhook) {
      Result<std::vector<std::string>> emails = take_events(st, &event_keys);
      if (!emails) {
        log_line(name + ": reading the stored webhook deliveries: " + emails.status().message());
        return;
      }
      if (emails->empty()) {
        delete_events(st, event_keys);
        return;
      }
      rq.refresh = std::move(*emails);
    }
    const std::uint64_t mc_before = st.mailchimp->requests(), crm_before = st.crm->requests();
    SyncPair sp{store, *st.handle, *st.cfg, *st.mailchimp, *st.crm, system_clock()};
    const Micros started = system_clock().now();
    Result<RunOutcome> r = run_sync(sp, rq);
    metrics_.add("concord_api_requests_total", {{"side", "mailchimp"}},
                 static_cast<double>(st.mailchimp->requests() - mc_before));
    metrics_.add("concord_api_requests_total", {{"side", "crm"}},
                 static_cast<double>(st.crm->requests() - crm_before));
    for (Side side : {Side::kMailchimp, Side::kCrm}) {
      const std::uint64_t seen = ctx_.retried_errors(side);
      std::uint64_t& counted = side == Side::kMailchimp ? mc_errors_counted_ : crm_errors_counted_;
      if (seen > counted) {
        metrics_.add("concord_api_errors_total",
                     {{"side", side == Side::kMailchimp ? "mailchimp" : "crm"}},
                     static_cast<double>(seen - counted));
        counted = seen;
      }
    }
    const double secs = static_cast<double>(system_clock().now() - started) / kMicrosPerSecond;
    if (!r) {
      metrics_.add("concord_runs_total",
                   {{"sync", name}, {"kind", rq.command}, {"result", "failed"}});
      const std::string msg = r.status().message();
      metrics_.add("concord_api_errors_total",
                   {{"side", msg.find("CiviCRM") != std::string::npos ? "crm" : "mailchimp"}});
      log_line(name + ": " + rq.command + " run failed: " + msg);
      return;
    }
    const RunRecord& rec = r->record;
    metrics_.add(
        "concord_runs_total",
        {{"sync", name}, {"kind", rq.command}, {"result", std::string(run_state_name(rec.state))}});
    count_operations(name, *r);
    if (rec.state == RunState::kDone) {
      metrics_.set("concord_last_success_timestamp_seconds", {{"sync", name}},
                   static_cast<double>(rec.ended_at) / kMicrosPerSecond);
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s: %s run %llu %s: %llu applied, %llu failed, %llu refused, "
                  "%zu report rows (%.1f s)",
                  name.c_str(), rq.command.c_str(), static_cast<unsigned long long>(rec.id),
                  std::string(run_state_name(rec.state)).c_str(),
                  static_cast<unsigned long long>(rec.applied),
                  static_cast<unsigned long long>(rec.failed),
                  static_cast<unsigned long long>(rec.refused), r->report.size(), secs);
    log_line(line);
    const bool finished = rec.state == RunState::kDone || rec.state == RunState::kDoneWithFailures;
    if (webhook && finished) {
      delete_events(st, event_keys);
    } else if (!webhook && finished) {
      // A scheduled run read every change since its watermark: the deliveries stored before it
      // began are covered.
      delete_events(st, events_before(st, rec.started_at));
    }
  }

  void count_operations(const std::string& name, const RunOutcome& r) {
    for (const auto& [kind_state, n] : r.operation_results) {
      metrics_.add("concord_operations_total",
                   {{"sync", name}, {"kind", kind_state.first}, {"result", kind_state.second}},
                   static_cast<double>(n));
    }
    // A write that failed is an error of its side.
    std::uint64_t mc_failed = 0, crm_failed = 0;
    for (const auto& [kind_state, n] : r.operation_results) {
      if (kind_state.second != "failed") continue;
      (kind_state.first.find("mailchimp") != std::string::npos ? mc_failed : crm_failed) += n;
    }
    if (mc_failed > 0) {
      metrics_.add("concord_api_errors_total", {{"side", "mailchimp"}},
                   static_cast<double>(mc_failed));
    }
    if (crm_failed > 0) {
      metrics_.add("concord_api_errors_total", {{"side", "crm"}}, static_cast<double>(crm_failed));
    }
  }

  // ---- webhook deliveries
  // --------------------------------------------------------------------------

  Result<std::size_t> pending_events(const PairState& st) {
    Cursor c = ctx_.store().scan(*st.handle, Family::kMeta);
    std::size_t n = 0;
    for (c.seek(kEventPrefix); c.valid() && c.key().rfind(kEventPrefix, 0) == 0; c.next())
      ++n;
    if (Status s = c.status(); !s) return s;
    metrics_.set("concord_webhook_pending", {{"sync", st.cfg->name}}, static_cast<double>(n));
    return n;
  }

  Result<std::uint64_t> last_event_seq(const PairState& st) {
    Cursor c = ctx_.store().scan(*st.handle, Family::kMeta);
    std::uint64_t last = 0;
    for (c.seek(kEventPrefix); c.valid() && c.key().rfind(kEventPrefix, 0) == 0; c.next()) {
      last = std::strtoull(std::string(c.key().substr(kEventPrefix.size())).c_str(), nullptr, 10);
    }
    if (Status s = c.status(); !s) return s;
    return last;
  }

  // A delivery as stored: its key, and the event (nullopt when unreadable: it is dropped).
  struct StoredEvent {
    std::string key;
    std::optional<WebhookEvent> event;
  };

  // The stored deliveries, oldest first, at most `limit`.
  Result<std::vector<StoredEvent>> stored_events(const PairState& st, std::size_t limit) {
    std::vector<StoredEvent> out;
    Cursor c = ctx_.store().scan(*st.handle, Family::kMeta);
    for (c.seek(kEventPrefix);
         c.valid() && c.key().rfind(kEventPrefix, 0) == 0 && out.size() < limit; c.next()) {
      Result<WebhookEvent> e = decode_webhook_event(c.value());
      out.push_back(
          {std::string(c.key()), e ? std::optional<WebhookEvent>(std::move(*e)) : std::nullopt});
    }
    if (Status s = c.status(); !s) return s;
    return out;
  }

  // The addresses the stored deliveries name (up to kEventsPerRun of them); their keys go to
  // `keys`. An email change is carried out in the CRM here (the contact keeps its history under
  // its new address).
  Result<std::vector<std::string>> take_events(PairState& st, std::vector<std::string>* keys) {
    Result<std::vector<StoredEvent>> events = stored_events(st, kEventsPerRun);
    if (!events) return events.status();
    std::set<std::string> emails;
    for (const StoredEvent& se : *events) {
      keys->push_back(se.key);
      if (!se.event || se.event->type == "campaign") continue;
      const WebhookEvent& e = *se.event;
      emails.insert(e.email);
      if (e.type != "upemail") continue;
      emails.insert(e.old_email);
      if (Status s = change_crm_email(st, e.old_email, e.email); !s) {
        log_line(st.cfg->name + ": changing a CRM email for an upemail delivery: " + s.message());
      }
    }
    return std::vector<std::string>(emails.begin(), emails.end());
  }

  // The keys of the deliveries received before `before` (and of unreadable ones).
  std::vector<std::string> events_before(const PairState& st, Micros before) {
    std::vector<std::string> keys;
    Result<std::vector<StoredEvent>> events = stored_events(st, SIZE_MAX);
    if (!events) return keys;
    for (const StoredEvent& se : *events) {
      if (!se.event || se.event->received_at < before) keys.push_back(se.key);
    }
    return keys;
  }

  // Mailchimp says a member's address changed: the CRM contact stored under the old address gets
  // the new one, so the person stays the same contact rather than being removed and re-added.
  Status change_crm_email(PairState& st, const std::string& old_email,
                          const std::string& new_email) {
    Result<std::optional<std::string>> v =
        ctx_.store().get(*st.handle, Family::kCrm, member_key(old_email).view());
    if (!v) return v.status();
    if (!v->has_value()) return Status::ok();  // not in the group: nothing to carry over
    SnapshotView view;
    if (Status s = decode_snapshot(**v, &view); !s) return s;
    Result<CrmRecord> rec = parse_crm_record(view.body);
    if (!rec) return rec.status();
    if (rec->contact_id == 0) return Status::ok();
    Result<CiviCrmClient*> crm = ctx_.civicrm(st.cfg->civicrm);
    if (!crm) return crm.status();
    Status s = (*crm)->change_email(rec->contact_id, old_email, new_email);
    if (s.code() == Status::Code::kNotFound) return Status::ok();  // changed already
    return s;
  }

  void delete_events(PairState& st, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    Batch b;
    for (const std::string& k : keys)
      b.del(*st.handle, Family::kMeta, k);
    if (Status s = ctx_.store().write(b, /*sync=*/true); !s) {
      log_line(st.cfg->name + ": " + s.message());
    }
    (void)pending_events(st);
  }

  // A delivery: checked, stored durably, then answered.
  http::Reply webhook(const http::Request& req, const std::vector<std::string>& parts) {
    // parts: "webhooks", "mailchimp", <sync>, <secret>
    auto it = parts.size() == 4 ? pairs_.find(parts[2]) : pairs_.end();
    if (it == pairs_.end() || it->second.webhook_secret.empty() ||
        !secrets_equal(parts[3], it->second.webhook_secret)) {
      metrics_.add("concord_webhook_rejected_total", {{"reason", "secret"}});
      return reply(403, "forbidden\n", "text/plain");
    }
    PairState& st = it->second;
    // Mailchimp checks the URL with a GET when the webhook is registered.
    if (req.method == "GET" || req.method == "HEAD") return reply(200, "ok\n", "text/plain");
    if (req.method != "POST") return reply(405, "method not allowed\n", "text/plain");
    const std::string& header = ctx_.config().serve.signature_header;
    if (!header.empty() && !webhook_signature_ok(signature_secret_, req.body, req.header(header))) {
      metrics_.add("concord_webhook_rejected_total", {{"reason", "signature"}});
      return reply(403, "forbidden\n", "text/plain");
    }
    Result<WebhookEvent> e = parse_mailchimp_webhook(req.body);
    if (!e) {
      metrics_.add("concord_webhook_rejected_total", {{"reason", "malformed"}});
      log_line(st.cfg->name + ": a webhook delivery was refused: " + e.status().message());
      return reply(400, e.status().message() + "\n", "text/plain");
    }
    if (e->type == "campaign") return reply(200, "ignored\n", "text/plain");
    e->received_at = system_clock().now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      char key[64];
      std::snprintf(key, sizeof key, "%s%020llu", std::string(kEventPrefix).c_str(),
                    static_cast<unsigned long long>(next_seq_++));
      Batch b;
      b.put(*st.handle, Family::kMeta, key, encode_webhook_event(*e));
      if (Status s = ctx_.store().write(b, /*sync=*/true); !s) {
        log_line(st.cfg->name + ": storing a webhook delivery: " + s.message());
        return reply(503, "not stored\n", "text/plain");
      }
      st.webhook_pending = true;
    }
    metrics_.add("concord_webhook_events_total", {{"sync", st.cfg->name}, {"type", e->type}});
    metrics_.add("concord_webhook_pending", {{"sync", st.cfg->name}}, 1);
    cv_.notify_all();
    return reply(200, "ok\n", "text/plain");
  }

  // ---- the HTTP API and pages
  // ------------------------------------------------------------------------

  bool authorised(const http::Request& req, const std::map<std::string, std::string>& query) const {
    if (token_.empty()) return true;
    std::string_view auth = req.header("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && secrets_equal(auth.substr(7), token_)) return true;
    auto q = query.find("token");
    return q != query.end() && secrets_equal(q->second, token_);
  }

  json run_json(const std::string& name, const RunRecord& r) const {
    json counts = {{"planned", r.counts.operations()},
                   {"applied", r.applied},
                   {"failed", r.failed},
                   {"refused", r.refused},
                   {"report_rows", r.counts.report_rows}};
    json j = {{"id", r.id},
              {"command", r.command},
              {"started", iso_or_null(r.started_at)},
              {"ended", iso_or_null(r.ended_at)},
              {"duration_s",
               r.ended_at == kNoTime || r.started_at == kNoTime
                   ? json(nullptr)
                   : json(static_cast<double>(r.ended_at - r.started_at) / kMicrosPerSecond)},
              {"result", run_state_name(r.state)},
              {"counts", counts},
              {"notes", r.notes},
              {"report_url", "/syncs/" + http::url_encode(name) + "/runs/" + std::to_string(r.id) +
                                 "/report.html"}};
    return j;
  }

  // REQUIRES: mu_ held.
  json sync_json(const std::string& name, const PairState& st) {
    RunLog log(ctx_.store(), *st.handle);
    json last = nullptr;
    if (Result<std::optional<RunRecord>> r = log.last_run(); r && r->has_value()) {
      last = run_json(name, **r);
    }
    const bool enabled = sched_.enabled(name);
    std::string state = "idle";
    if (current_ == name) {
      state = "running";
    } else if (std::find(queue_.begin(), queue_.end(), name) != queue_.end() ||
               sched_.run_requested(name) || st.webhook_pending) {
      state = "queued";
    } else if (!enabled) {
      state = "disabled";
    }
    return {{"name", name},       {"created", iso_or_null(st.created)},
            {"enabled", enabled}, {"schedule", st.cfg->schedule},
            {"state", state},     {"next_run", iso_or_null(sched_.next_run(name))},
            {"last_run", last},   {"history_url", "/syncs/" + http::url_encode(name) + "/runs"}};
  }

  http::Reply api(const http::Request& req, const std::vector<std::string>& parts,
                  const std::map<std::string, std::string>& query) {
    if (parts.size() == 2 && parts[1] == "syncs" && req.method == "GET") {
      std::lock_guard<std::mutex> lock(mu_);
      json all = json::array();
      for (const auto& [name, st] : pairs_)
        all.push_back(sync_json(name, st));
      return json_reply(200, {{"syncs", all}});
    }
    if (parts.size() == 2 && parts[1] == "runs" && req.method == "GET") {
      std::size_t limit = 50;
      if (auto l = query.find("limit"); l != query.end()) {
        limit = std::clamp<std::size_t>(std::strtoull(l->second.c_str(), nullptr, 10), 1, 1000);
      }
      json runs = json::array();
      for (const auto& [name, st] : pairs_) {
        if (auto s = query.find("sync"); s != query.end() && s->second != name) continue;
        Result<std::vector<RunRecord>> rs = RunLog(ctx_.store(), *st.handle).recent_runs(limit);
        if (!rs) return error_reply(500, rs.status().message());
        for (const RunRecord& r : *rs) {
          json j = run_json(name, r);
          j["sync"] = name;
          runs.push_back(std::move(j));
        }
      }
      return json_reply(200, {{"runs", runs}});
    }
    if (parts.size() == 4 && parts[1] == "syncs") {
      auto it = pairs_.find(parts[2]);
      if (it == pairs_.end()) return error_reply(404, "no sync pair \"" + parts[2] + "\"");
      if (req.method != "POST") return error_reply(405, "use POST");
      const std::string& name = it->first;
      if (parts[3] == "enabled") {
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("enabled") || !body["enabled"].is_boolean()) {
          return error_reply(400, "the body must be {\"enabled\": true|false}");
        }
        const bool on = body["enabled"].get<bool>();
        if (Status s =
                ctx_.store().put(*it->second.handle, Family::kMeta, kMetaEnabled, on ? "1" : "0");
            !s) {
          return error_reply(500, s.message());
        }
        json out;
        {
          std::lock_guard<std::mutex> lock(mu_);
          sched_.set_enabled(name, on, system_clock().now());
          out = sync_json(name, it->second);
        }
        cv_.notify_all();
        log_line(name + (on ? ": enabled" : ": disabled") + " from the status page");
        return json_reply(200, out);
      }
      if (parts[3] == "run") {
        {
          std::lock_guard<std::mutex> lock(mu_);
          sched_.run_now(name);
        }
        cv_.notify_all();
        return json_reply(202, {{"queued", true}});
      }
    }
    return error_reply(404, "no such API route");
  }

  http::Reply pages(const std::vector<std::string>& parts) {
    // /syncs/<name>/runs and /syncs/<name>/runs/<id>/report.html
    auto it = parts.size() >= 3 ? pairs_.find(parts[1]) : pairs_.end();
    if (it == pairs_.end() || parts[2] != "runs") return reply(404, "not found\n", "text/plain");
    RunLog log(ctx_.store(), *it->second.handle);
    if (parts.size() == 3) {
      Result<std::vector<RunRecord>> rs = log.recent_runs(200);
      if (!rs) return reply(500, rs.status().message() + "\n", "text/plain");
      json runs = json::array();
      for (const RunRecord& r : *rs)
        runs.push_back(run_json(it->first, r));
      http::Reply page = reply(200, serve::runs_page_html({{"name", it->first}, {"runs", runs}}),
                               "text/html; charset=utf-8");
      page.response.headers.push_back({"Content-Security-Policy", kPageCsp});
      return page;
    }
    if (parts.size() == 5 && parts[4] == "report.html") {
      const std::uint64_t id = std::strtoull(parts[3].c_str(), nullptr, 10);
      Result<std::optional<RunRecord>> r = log.get_run(id);
      if (!r || !r->has_value()) return reply(404, "no such run\n", "text/plain");
      Result<std::vector<ReportEntry>> rows = log.report_rows(id);
      if (!rows) return reply(500, rows.status().message() + "\n", "text/plain");
      return reply(200, render_report(report_summary(**r), *rows, ReportFormat::kHtml),
                   "text/html; charset=utf-8");
    }
    return reply(404, "not found\n", "text/plain");
  }

  http::Reply handle(const http::Request& req, const http::Peer&) {
    const std::string target = req.target;
    const std::size_t q = target.find('?');
    const std::string path = target.substr(0, q);
    std::map<std::string, std::string> query;
    if (q != std::string::npos) {
      for (auto& [k, v] : http::parse_query(std::string_view(target).substr(q + 1)))
        query.emplace(std::move(k), std::move(v));
    }
    if (path.rfind(kWebhookPath, 0) == 0) return webhook(req, split_path(path));
    if (path == "/healthz") return reply(200, "ok\n", "text/plain");
    // The page itself holds no data (it asks the API, with the token from its own URL), so it is
    // served to anyone; without a token it shows what is missing.
    if (path == "/" && (req.method == "GET" || req.method == "HEAD")) {
      http::Reply r = reply(200, serve::status_page_html(), "text/html; charset=utf-8");
      r.response.headers.push_back({"Content-Security-Policy", kPageCsp});
      return r;
    }
    if (!authorised(req, query)) {
      http::Reply r = error_reply(401, "a token is required (Authorization: Bearer … or ?token=…)");
      r.response.headers.push_back({"WWW-Authenticate", "Bearer"});
      return r;
    }
    const std::vector<std::string> parts = split_path(path);
    if (path == "/metrics") {
      return reply(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (!parts.empty() && parts[0] == "api") return api(req, parts, query);
    if (!parts.empty() && parts[0] == "syncs" && req.method == "GET") return pages(parts);
    return reply(404, "not found\n", "text/plain");
  }

  Context& ctx_;
  const Global& global_;
  std::map<std::string, PairState> pairs_;  // fixed after start()
  std::mutex mu_;
  std::condition_variable cv_;
  Scheduler sched_;
  std::deque<std::string> queue_;  // taken from the scheduler, not started yet
  std::string current_;            // the pair running now
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};
  std::uint64_t next_seq_ = 1;
  bool last_was_webhook_ = false;
  std::uint64_t mc_errors_counted_ = 0, crm_errors_counted_ = 0;  // retried errors exported
  std::thread worker_;
  std::unique_ptr<http::Server> server_;
  std::string token_;
  std::string signature_secret_;
  Metrics metrics_;
};

}  // namespace

int serve(const Global& g, const ServeOptions& o) {
  // SIGTERM and SIGINT are taken by sigwait() in this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<Context>> ctx = Context::open(g);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Daemon d(**ctx, g);
  if (Status s = d.start(o.listen); !s) return fail(exit_for(s), s.message());
  int sig = 0;
  sigwait(&signals, &sig);
  log_line(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
           "): the run in progress ends after its current batch");
  d.stop();
  log_line("stopped");
  return kExitOk;
}

}  // namespace concord::cli

namespace concord::cli {
namespace {

// A webhook URL as it may be shown: the secret segment of concord's own URLs replaced by "…".
std::string shown_url(const std::string& url) {
  const std::size_t at = url.find(kWebhookPath);
  if (at == std::string::npos) return url;
  const std::size_t slash = url.find('/', at + std::strlen(kWebhookPath));
  return slash == std::string::npos ? url : url.substr(0, slash + 1) + "…";
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

}  // namespace

int webhooks_install(const Global& g, const std::string& sync, const std::string& public_url) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/false);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  const std::string base =
      trim_slash(public_url.empty() ? (*ctx)->config().serve.public_url : public_url);
  if (base.rfind("https://", 0) != 0 && base.rfind("http://", 0) != 0) {
    return fail(kExitUsage,
                "give --public-url (or [serve] public_url): the http(s) address where Mailchimp "
                "reaches `concord serve`");
  }
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  int code = kExitOk;
  for (const SyncConfig* s : *syncs) {
    Result<MailchimpClient*> mc = (*ctx)->mailchimp(s->mailchimp);
    if (!mc) return fail(exit_for(mc.status()), mc.status().message());
    Result<Audience> audience = (*mc)->resolve_audience(s->audience);
    if (!audience) return fail(exit_for(audience.status()), audience.status().message());
    Result<std::string> secret = webhook_secret((*ctx)->config(), s->name);
    if (!secret) return fail(kExitError, secret.status().message());
    const std::string url = base + kWebhookPath + http::url_encode(s->name) + "/" + *secret;
    Result<std::vector<Webhook>> existing = (*mc)->webhooks(audience->id);
    if (!existing) return fail(exit_for(existing.status()), existing.status().message());
    bool found = false;
    for (const Webhook& w : *existing)
      found = found || w.url == url;
    if (found) {
      std::printf("%s: the webhook is installed already (%s)\n", s->name.c_str(),
                  shown_url(url).c_str());
      continue;
    }
    // Never `api`: concord's own writes must not come back as deliveries.
    Result<Webhook> made = (*mc)->create_webhook(
        audience->id, url, {"subscribe", "unsubscribe", "profile", "upemail", "cleaned"},
        /*user=*/true, /*admin=*/true, /*api=*/false);
    if (!made) {
      std::fprintf(stderr, "concord: %s: %s\n", s->name.c_str(), made.status().message().c_str());
      code = exit_for(made.status());
      continue;
    }
    std::printf("%s: installed webhook %s on audience %s: %s\n", s->name.c_str(), made->id.c_str(),
                audience->id.c_str(), shown_url(url).c_str());
  }
  return code;
}

int webhooks_list(const Global& g, const std::string& sync) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/false);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  for (const SyncConfig* s : *syncs) {
    Result<MailchimpClient*> mc = (*ctx)->mailchimp(s->mailchimp);
    if (!mc) return fail(exit_for(mc.status()), mc.status().message());
    Result<Audience> audience = (*mc)->resolve_audience(s->audience);
    if (!audience) return fail(exit_for(audience.status()), audience.status().message());
    Result<std::vector<Webhook>> hooks = (*mc)->webhooks(audience->id);
    if (!hooks) return fail(exit_for(hooks.status()), hooks.status().message());
    std::printf("%s (audience %s): %zu webhook%s\n", s->name.c_str(), audience->id.c_str(),
                hooks->size(), hooks->size() == 1 ? "" : "s");
    for (const Webhook& w : *hooks) {
      std::string events;
      for (const std::string& e : w.events)
        events += (events.empty() ? "" : ",") + e;
      std::printf("  %s %s events=%s sources=%s%s%s\n", w.id.c_str(), shown_url(w.url).c_str(),
                  events.c_str(), w.source_user ? "user," : "", w.source_admin ? "admin," : "",
                  w.source_api ? "api" : "");
    }
  }
  return kExitOk;
}

}  // namespace concord::cli
