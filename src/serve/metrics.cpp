// Prometheus text exposition of the daemon's counters, and the families `concord serve` exports.
#include "serve/metrics.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "concord/journal.h"
#include "concord/plan.h"

namespace concord {
namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

}  // namespace

void Metrics::declare(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = families_.try_emplace(name);
  it->second.type = type;
  it->second.help = help;
  if (fresh) order_.push_back(name);
}

void Metrics::add(const std::string& name, const Labels& labels, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = families_.try_emplace(name);
  if (fresh) {
    it->second.type = "counter";
    order_.push_back(name);
  }
  it->second.samples[labels] += by;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = families_.try_emplace(name);
  if (fresh) {
    it->second.type = "gauge";
    order_.push_back(name);
  }
  it->second.samples[labels] = value;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto s = f->second.samples.find(labels);
  return s == f->second.samples.end() ? 0 : s->second;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + (f.type.empty() ? "untyped" : f.type) + "\n";
    for (const auto& [labels, v] : f.samples) {
      out += name;
      if (!labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [k, lv] : labels) {
          if (!first) out += ',';
          first = false;
          out += k;
          out += "=\"";
          out += escape_label(lv);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      out += number(v);
      out += '\n';
    }
  }
  return out;
}

std::string_view rejection_name(Rejection r) {
  static constexpr std::string_view kNames[] = {"secret", "signature", "malformed", "wrong-list"};
  return kNames[static_cast<std::size_t>(r)];
}

namespace {

constexpr const char* kRuns = "concord_runs_total";
constexpr const char* kOperations = "concord_operations_total";
constexpr const char* kApiRequests = "concord_api_requests_total";
constexpr const char* kApiErrors = "concord_api_errors_total";
constexpr const char* kLastSuccess = "concord_last_success_timestamp_seconds";
constexpr const char* kWebhookEvents = "concord_webhook_events_total";
constexpr const char* kWebhookRejected = "concord_webhook_rejected_total";
constexpr const char* kWebhookPending = "concord_webhook_pending";
constexpr const char* kStreamEvents = "concord_stream_events_total";
constexpr const char* kStreamDropped = "concord_stream_dropped_total";
constexpr const char* kStreamQueued = "concord_stream_queued";

// The side an error came from, when it came from one.
std::optional<Side> side_of(Origin origin) {
  if (origin == Origin::kMailchimp) return Side::kMailchimp;
  // The one-way sources are the people side, as CiviCRM is.
  if (origin == Origin::kCivicrm || origin == Origin::kAuth0 || origin == Origin::kMixpanel ||
      origin == Origin::kAmplitude || origin == Origin::kMautic) {
    return Side::kCrm;
  }
  return std::nullopt;
}

// The side an operation kind writes to, by its name as RunOutcome::operation_results keys it.
std::optional<Side> side_of_kind(std::string_view name) {
  for (const OpKindInfo& k : kOpKinds) {
    if (k.name == name) return k.side;
  }
  return std::nullopt;
}

}  // namespace

ServeMetrics::ServeMetrics() {
  m_.declare(kRuns, "counter", "Runs by sync pair, kind and result.");
  m_.declare(kOperations, "counter",
             "Operations by sync pair, kind (add_to_mailchimp, …) and result.");
  m_.declare(kApiRequests, "counter", "HTTP requests sent to each side (retries included).");
  m_.declare(kApiErrors, "counter",
             "Errors met on each side: HTTP errors retried (5xx, 429, resets, timeouts), "
             "runs that failed on the side's error, writes that failed.");
  m_.declare(kLastSuccess, "gauge",
             "When each sync pair's last fully successful run ended (Unix seconds).");
  m_.declare(kWebhookEvents, "counter", "Webhook deliveries stored, by sync pair and type.");
  m_.declare(
      kWebhookRejected, "counter",
      "Webhook deliveries refused (wrong secret or signature, malformed, another audience).");
  m_.declare(kWebhookPending, "gauge", "Webhook deliveries stored but not reconciled yet.");
  m_.declare(kStreamEvents, "counter",
             "Events of each stream: accepted by its intake, forwarded to Mailchimp.");
  m_.declare(kStreamDropped, "counter",
             "Events of each stream accepted but not forwarded, by reason.");
  m_.declare(kStreamQueued, "gauge", "Events of each stream queued, waiting to be forwarded.");
}

void ServeMetrics::stream(const std::string& name, std::uint64_t accepted, std::uint64_t forwarded,
                          std::uint64_t queued,
                          const std::vector<std::pair<std::string, std::uint64_t>>& dropped) {
  m_.set(kStreamEvents, {{"stream", name}, {"outcome", "accepted"}}, static_cast<double>(accepted));
  m_.set(kStreamEvents, {{"stream", name}, {"outcome", "forwarded"}},
         static_cast<double>(forwarded));
  m_.set(kStreamQueued, {{"stream", name}}, static_cast<double>(queued));
  for (const auto& [reason, n] : dropped)
    m_.set(kStreamDropped, {{"stream", name}, {"reason", reason}}, static_cast<double>(n));
}

void ServeMetrics::run_ended(const std::string& sync, std::string_view kind,
                             const RunOutcome& outcome) {
  const RunRecord& rec = outcome.record;
  m_.add(kRuns, {{"sync", sync},
                 {"kind", std::string(kind)},
                 {"result", std::string(run_state_name(rec.state))}});
  std::uint64_t failed[2] = {0, 0};  // by Side
  for (const auto& [kind_state, n] : outcome.operation_results) {
    m_.add(kOperations, {{"sync", sync}, {"kind", kind_state.first}, {"result", kind_state.second}},
           static_cast<double>(n));
    if (kind_state.second != "failed") continue;
    if (std::optional<Side> side = side_of_kind(kind_state.first)) {
      failed[static_cast<std::size_t>(*side)] += n;
    }
  }
  // A write that failed is an error of its side.
  for (Side side : {Side::kMailchimp, Side::kCrm}) {
    api_errors(side, failed[static_cast<std::size_t>(side)]);
  }
  if (rec.state == RunState::kDone) last_success(sync, rec.ended_at);
}

void ServeMetrics::run_failed(const std::string& sync, std::string_view kind, const Status& error) {
  m_.add(kRuns, {{"sync", sync}, {"kind", std::string(kind)}, {"result", "failed"}});
  if (std::optional<Side> side = side_of(error.origin())) api_errors(*side, 1);
}

void ServeMetrics::api_requests(Side side, std::uint64_t n) {
  m_.add(kApiRequests, {{"side", std::string(side_name(side))}}, static_cast<double>(n));
}

void ServeMetrics::api_errors(Side side, std::uint64_t n) {
  if (n == 0) return;
  m_.add(kApiErrors, {{"side", std::string(side_name(side))}}, static_cast<double>(n));
}

void ServeMetrics::last_success(const std::string& sync, Micros ended_at) {
  m_.set(kLastSuccess, {{"sync", sync}}, static_cast<double>(ended_at) / kMicrosPerSecond);
}

void ServeMetrics::webhook_stored(const std::string& sync, WebhookType type) {
  m_.add(kWebhookEvents, {{"sync", sync}, {"type", std::string(webhook_type_name(type))}});
  m_.add(kWebhookPending, {{"sync", sync}}, 1);
}

void ServeMetrics::webhook_rejected(Rejection reason) {
  m_.add(kWebhookRejected, {{"reason", std::string(rejection_name(reason))}});
}

void ServeMetrics::webhook_pending(const std::string& sync, std::size_t pending) {
  m_.set(kWebhookPending, {{"sync", sync}}, static_cast<double>(pending));
}

}  // namespace concord
