// The daemon's counters and gauges, rendered in the Prometheus text exposition format (0.0.4):
// Metrics, a registry of families and samples; and ServeMetrics, the families `concord serve`
// exports (docs/operations.md lists them), fed with typed values rather than label strings.
//
// Thread-safety: any thread may count; render() reads a consistent copy.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/engine.h"
#include "concord/member.h"
#include "concord/status.h"
#include "serve/webhook.h"

namespace concord {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Declares a family (its HELP text and TYPE "counter" or "gauge"); families render in the
  // order declared, even before any sample.
  void declare(const std::string& name, const std::string& type, const std::string& help);
  // Adds to a counter sample (created at 0).
  void add(const std::string& name, const Labels& labels, double by = 1);
  // Sets a gauge sample.
  void set(const std::string& name, const Labels& labels, double value);
  // 0 for a family or sample never counted.
  double value(const std::string& name, const Labels& labels) const;

  // "# HELP …\n# TYPE …\nname{a="b"} value\n" for every family, label values escaped (\\, \",
  // \n); integers printed without a decimal point.
  std::string render() const;

 private:
  struct Family {
    std::string type, help;
    std::map<Labels, double> samples;
  };
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// Why a webhook delivery was refused: the `reason` label of concord_webhook_rejected_total.
enum class Rejection : std::uint8_t { kSecret = 0, kSignature, kMalformed, kWrongList };
// "secret", "signature", "malformed", "wrong-list"
std::string_view rejection_name(Rejection r);

// The families of `concord serve`. Sides are labelled "mailchimp" and "crm" (side_name).
class ServeMetrics {
 public:
  ServeMetrics();  // declares every family, so that /metrics lists them before any sample

  // A run of `sync` (`kind`: "serve" or "webhook") that ended with a record: the run by its
  // result, its operations by kind and result, each failed write as an error of the side it was
  // written to, and the time of the pair's last success when it ended done.
  void run_ended(const std::string& sync, std::string_view kind, const RunOutcome& outcome);
  // A run that failed (run_sync returned an error): counted as failed, and as an error of the
  // side `error.origin()` names (none for errors of the store, the configuration or unknown).
  void run_failed(const std::string& sync, std::string_view kind, const Status& error);
  // HTTP requests sent to a side, and errors the side's client met and retried.
  void api_requests(Side side, std::uint64_t n);
  void api_errors(Side side, std::uint64_t n);
  // When the pair's last fully successful run ended (at start-up: the stored last run's end).
  void last_success(const std::string& sync, Micros ended_at);

  // A delivery stored for `sync` (one more pending); one refused; the deliveries pending now.
  void webhook_stored(const std::string& sync, WebhookType type);
  void webhook_rejected(Rejection reason);
  void webhook_pending(const std::string& sync, std::size_t pending);

  // A [[stream]]'s counts as they stand (kept in its store; set, not added, at each render):
  // events accepted and forwarded, queued now, dropped by reason.
  void stream(const std::string& name, std::uint64_t accepted, std::uint64_t forwarded,
              std::uint64_t queued,
              const std::vector<std::pair<std::string, std::uint64_t>>& dropped);

  std::string render() const { return m_.render(); }
  // The registry, for tests that read single samples.
  const Metrics& registry() const { return m_; }

 private:
  Metrics m_;
};

}  // namespace concord
