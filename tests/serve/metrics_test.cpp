// The daemon's /metrics text.
#include <catch2/catch.hpp>

#include "concord/metrics.h"

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
