// The daemon's /metrics text: the registry, and the families `concord serve` feeds.
#include <catch2/catch.hpp>

#include "serve/metrics.h"

using namespace concord;

TEST_CASE("metrics render in the Prometheus text format") {
  Metrics m;
  m.declare("concord_runs_total", "counter", "Runs by sync and result.");
  m.declare("concord_last_success_timestamp_seconds", "gauge", "When a run last succeeded.");
  m.declare("concord_webhook_events_total", "counter", "Webhook deliveries stored.");
  m.add("concord_runs_total", {{"sync", "newsletter"}, {"result", "done"}});
  m.add("concord_runs_total", {{"sync", "newsletter"}, {"result", "done"}});
  m.add("concord_runs_total", {{"sync", "odd \"name\"\\\n"}, {"result", "failed"}});
  m.set("concord_last_success_timestamp_seconds", {{"sync", "newsletter"}}, 1795000000.5);
  CHECK(m.value("concord_runs_total", {{"sync", "newsletter"}, {"result", "done"}}) == 2);
  const std::string text = m.render();
  CHECK(text ==
        "# HELP concord_runs_total Runs by sync and result.\n"
        "# TYPE concord_runs_total counter\n"
        "concord_runs_total{sync=\"newsletter\",result=\"done\"} 2\n"
        "concord_runs_total{sync=\"odd \\\"name\\\"\\\\\\n\",result=\"failed\"} 1\n"
        "# HELP concord_last_success_timestamp_seconds When a run last succeeded.\n"
        "# TYPE concord_last_success_timestamp_seconds gauge\n"
        "concord_last_success_timestamp_seconds{sync=\"newsletter\"} 1795000000.5\n"
        "# HELP concord_webhook_events_total Webhook deliveries stored.\n"
        "# TYPE concord_webhook_events_total counter\n");
}

namespace {

RunOutcome outcome(RunState state, Micros ended_at) {
  RunOutcome o;
  o.record.state = state;
  o.record.ended_at = ended_at;
  o.operation_results[{"add_to_mailchimp", "done"}] = 3;
  o.operation_results[{"add_to_mailchimp", "failed"}] = 2;
  o.operation_results[{"remove_from_crm", "failed"}] = 1;
  o.operation_results[{"remove_from_crm", "refused"}] = 4;
  return o;
}

}  // namespace

TEST_CASE("serve metrics: failed writes and failed runs count against the side they came from") {
  ServeMetrics m;
  const Metrics& r = m.registry();
  m.run_ended("newsletter", "serve", outcome(RunState::kDoneWithFailures, 5 * kMicrosPerSecond));
  CHECK(r.value("concord_runs_total",
                {{"sync", "newsletter"}, {"kind", "serve"}, {"result", "done-with-failures"}}) ==
        1);
  CHECK(r.value("concord_operations_total",
                {{"sync", "newsletter"}, {"kind", "add_to_mailchimp"}, {"result", "failed"}}) == 2);
  CHECK(r.value("concord_api_errors_total", {{"side", "mailchimp"}}) == 2);
  CHECK(r.value("concord_api_errors_total", {{"side", "crm"}}) == 1);
  // Only a run that ended done is a success.
  CHECK(m.render().find("concord_last_success_timestamp_seconds{") == std::string::npos);
  m.run_ended("newsletter", "webhook", outcome(RunState::kDone, 7 * kMicrosPerSecond));
  CHECK(r.value("concord_last_success_timestamp_seconds", {{"sync", "newsletter"}}) == 7);

  // A failed run: the side is the error's origin, never a word in its message.
  struct Row {
    Origin origin;
    double mailchimp, crm;  // the errors counted after it
  };
  const Row rows[] = {
      {Origin::kCivicrm, 4, 3}, {Origin::kMailchimp, 5, 3}, {Origin::kStore, 5, 3},
      {Origin::kConfig, 5, 3},  {Origin::kNone, 5, 3},
  };
  int failed = 0;
  for (const Row& row : rows) {
    INFO(origin_name(row.origin));
    m.run_failed("newsletter", "serve",
                 Status::unavailable("fetching crm: CiviCRM said no").with_origin(row.origin));
    CHECK(r.value("concord_runs_total",
                  {{"sync", "newsletter"}, {"kind", "serve"}, {"result", "failed"}}) == ++failed);
    CHECK(r.value("concord_api_errors_total", {{"side", "mailchimp"}}) == row.mailchimp);
    CHECK(r.value("concord_api_errors_total", {{"side", "crm"}}) == row.crm);
  }
}

TEST_CASE("serve metrics: every family is listed before any sample; deliveries by type") {
  ServeMetrics m;
  const std::string empty = m.render();
  for (const char* family :
       {"concord_runs_total", "concord_operations_total", "concord_api_requests_total",
        "concord_api_errors_total", "concord_last_success_timestamp_seconds",
        "concord_webhook_events_total", "concord_webhook_rejected_total",
        "concord_webhook_pending"}) {
    INFO(family);
    CHECK(empty.find(std::string("# TYPE ") + family + " ") != std::string::npos);
  }
  m.webhook_stored("newsletter", WebhookType::kUpemail);
  m.webhook_stored("newsletter", WebhookType::kUpemail);
  m.webhook_rejected(Rejection::kSignature);
  const std::string text = m.render();
  CHECK(text.find("concord_webhook_events_total{sync=\"newsletter\",type=\"upemail\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("concord_webhook_pending{sync=\"newsletter\"} 2\n") != std::string::npos);
  CHECK(text.find("concord_webhook_rejected_total{reason=\"signature\"} 1\n") != std::string::npos);
  m.webhook_pending("newsletter", 0);
  CHECK(m.registry().value("concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
  m.api_requests(Side::kCrm, 5);
  CHECK(m.registry().value("concord_api_requests_total", {{"side", "crm"}}) == 5);
}
