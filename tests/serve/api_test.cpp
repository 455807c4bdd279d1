// The daemon's HTTP API alone, against a fake daemon: routes, the token, the JSON shapes the
// status page reads (serve/pages.h), and webhook deliveries.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>

#include "serve/api.h"

using namespace concord;
using namespace concord::serve;
using nlohmann::json;

namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";

RunRecord record(const std::string& sync, std::uint64_t id, RunState state) {
  RunRecord r;
  r.id = id;
  r.sync = sync;
  r.command = "serve";
  r.started_at = parse_iso8601("2026-11-23T10:00:00Z").value();
  r.ended_at = r.started_at + 3'500'000;
  r.state = state;
  r.applied = 9;
  r.failed = 1;
  r.refused = 2;
  r.counts.report_rows = 4;
  r.notes = {"a note"};
  return r;
}

// What the API asks of the daemon, answered from fields the tests set and read.
class FakeView : public DaemonView {
 public:
  FakeView() {
    SyncView a;
    a.name = "news letter";  // a space, to see it percent-encoded in URLs
    a.created = parse_iso8601("2026-11-01T10:00:00Z").value();
    a.schedule = "every 30m";
    a.next_run = parse_iso8601("2026-11-23T10:30:00Z").value();
    a.last_run = record("news letter", 12, RunState::kDoneWithFailures);
    SyncView b;
    b.name = "volunteers";
    b.enabled = false;
    b.state = SyncView::State::kDisabled;
    b.schedule = "0 2 * * *";
    views = {a, b};
    runs_of["news letter"] = {record("news letter", 12, RunState::kDoneWithFailures),
                              record("news letter", 11, RunState::kDone)};
    runs_of["volunteers"] = {record("volunteers", 4, RunState::kStoppedByGuard)};
  }

  std::vector<SyncView> syncs() override { return views; }
  Result<SyncView> sync(const std::string& name) override {
    for (const SyncView& v : views) {
      if (v.name == name) return v;
    }
    return Status::not_found("no sync pair");
  }
  Result<std::vector<RunRecord>> runs(const std::string& sync, std::size_t limit) override {
    limits.push_back(limit);
    if (runs_fail) return Status::io_error("the store is gone");
    std::vector<RunRecord> rs = runs_of[sync];
    if (rs.size() > limit) rs.resize(limit);
    return rs;
  }
  Result<std::optional<RunRecord>> run(const std::string& sync, std::uint64_t id) override {
    for (const RunRecord& r : runs_of[sync]) {
      if (r.id == id) return std::optional<RunRecord>(r);
    }
    return std::optional<RunRecord>();
  }
  Result<std::vector<ReportEntry>> report_rows(const std::string&, std::uint64_t) override {
    return std::vector<ReportEntry>();
  }
  Result<SyncView> set_enabled(const std::string& sync, bool enabled) override {
    toggles.emplace_back(sync, enabled);
    for (SyncView& v : views) {
      if (v.name == sync) {
        v.enabled = enabled;
        v.state = enabled ? SyncView::State::kIdle : SyncView::State::kDisabled;
        return v;
      }
    }
    return Status::not_found("no sync pair");
  }
  Status run_now(const std::string& sync) override {
    run_requests.push_back(sync);
    return Status::ok();
  }
  std::string metrics_text() override { return "concord_up 1\n"; }
  bool webhook_secret_ok(const std::string& sync, std::string_view secret) override {
    return sync == "news letter" && secret == kSecret;
  }
  Status deliver(const std::string& sync, WebhookEvent event) override {
    if (!deliver_status) return deliver_status;
    delivered.emplace_back(sync, std::move(event));
    return Status::ok();
  }
  void webhook_rejected(Rejection reason) override { rejected.push_back(reason); }

  std::vector<SyncView> views;
  std::map<std::string, std::vector<RunRecord>> runs_of;  // newest first
  bool runs_fail = false;
  Status deliver_status;
  std::vector<std::size_t> limits;
  std::vector<std::pair<std::string, bool>> toggles;
  std::vector<std::string> run_requests;
  std::vector<std::pair<std::string, WebhookEvent>> delivered;
  std::vector<Rejection> rejected;
};

http::Request request(std::string method, std::string target, std::string body = "",
                      std::vector<http::Header> headers = {}) {
  http::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

json body_of(const http::Reply& r) {
  return json::parse(r.response.body);
}

std::string header(const http::Reply& r, std::string_view name) {
  return std::string(r.response.header(name));
}

const std::string kHook = "/webhooks/mailchimp/news%20letter/" + std::string(kSecret);
const std::string kUnsubscribe =
    "type=unsubscribe&data[list_id]=L&data[email]=Wilma%40Bedrock.org&data[action]=unsub";

}  // namespace

TEST_CASE("api: health, the status page and the token") {
  FakeView view;
  ApiOptions o;
  o.token = "tok-123";
  Api api(view, o);

  http::Reply health = api.handle(request("GET", "/healthz"));
  CHECK(health.response.status == 200);
  CHECK(health.response.body == "ok\n");
  // The page holds no data: served without the token, and allowed to load nothing from elsewhere.
  http::Reply page = api.handle(request("GET", "/"));
  CHECK(page.response.status == 200);
  CHECK(header(page, "Content-Type") == "text/html; charset=utf-8");
  CHECK(header(page, "Content-Security-Policy").find("default-src 'none'") != std::string::npos);

  struct Row {
    std::string target;
    std::vector<http::Header> headers;
    int status;
  };
  const Row rows[] = {
      {"/api/syncs", {}, 401},
      {"/metrics", {}, 401},
      {"/api/syncs?token=wrong", {}, 401},
      {"/api/syncs", {{"Authorization", "Bearer wrong"}}, 401},
      {"/api/syncs", {{"Authorization", "tok-123"}}, 401},
      {"/api/syncs?token=tok-123", {}, 200},
      {"/api/syncs", {{"Authorization", "Bearer tok-123"}}, 200},
      {"/metrics?token=tok-123", {}, 200},
      {"/nowhere?token=tok-123", {}, 404},
  };
  for (const Row& r : rows) {
    INFO(r.target);
    http::Reply reply = api.handle(request("GET", r.target, "", r.headers));
    CHECK(reply.response.status == r.status);
    if (r.status == 401) {
      CHECK(header(reply, "WWW-Authenticate") == "Bearer");
      CHECK(body_of(reply)["error"].get<std::string>().find("token") != std::string::npos);
    }
  }
  http::Reply metrics = api.handle(request("GET", "/metrics?token=tok-123"));
  CHECK(metrics.response.body == "concord_up 1\n");
  CHECK(header(metrics, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");

  // Without a token (a listener on loopback only) everything is open.
  Api open(view, {});
  CHECK(open.handle(request("GET", "/api/syncs")).response.status == 200);
}

TEST_CASE("api: GET /api/syncs has the shape the status page reads") {
  FakeView view;
  Api api(view, {});
  http::Reply r = api.handle(request("GET", "/api/syncs"));
  REQUIRE(r.response.status == 200);
  CHECK(header(r, "Content-Type") == "application/json");
  CHECK(header(r, "Cache-Control") == "no-store");
  const json syncs = body_of(r)["syncs"];
  REQUIRE(syncs.size() == 2);
  const json& a = syncs[0];
  CHECK(a["name"] == "news letter");
  CHECK(a["created"] == "2026-11-01T10:00:00+00:00");
  CHECK(a["enabled"] == true);
  CHECK(a["schedule"] == "every 30m");
  CHECK(a["state"] == "idle");
  CHECK(a["next_run"] == "2026-11-23T10:30:00+00:00");
  CHECK(a["history_url"] == "/syncs/news%20letter/runs");
  const json& last = a["last_run"];
  CHECK(last["id"] == 12);
  CHECK(last["command"] == "serve");
  CHECK(last["started"] == "2026-11-23T10:00:00+00:00");
  CHECK(last["ended"] == "2026-11-23T10:00:03+00:00");
  CHECK(last["duration_s"] == 3.5);
  CHECK(last["result"] == "done-with-failures");
  CHECK(last["counts"] ==
        json{{"planned", 0}, {"applied", 9}, {"failed", 1}, {"refused", 2}, {"report_rows", 4}});
  CHECK(last["notes"] == json::array({"a note"}));
  CHECK(last["report_url"] == "/syncs/news%20letter/runs/12/report.html");
  const json& b = syncs[1];
  CHECK(b["state"] == "disabled");
  CHECK(b["created"].is_null());
  CHECK(b["next_run"].is_null());
  CHECK(b["last_run"].is_null());
}

TEST_CASE("api: GET /api/runs lists each pair's runs, filtered and limited") {
  FakeView view;
  Api api(view, {});
  const json all = body_of(api.handle(request("GET", "/api/runs")))["runs"];
  REQUIRE(all.size() == 3);
  CHECK(all[0]["sync"] == "news letter");
  CHECK(all[0]["id"] == 12);
  CHECK(all[2]["sync"] == "volunteers");
  CHECK(all[2]["result"] == "stopped-by-guard");
  CHECK(view.limits == std::vector<std::size_t>{50, 50});  // the default

  view.limits.clear();
  const json one = body_of(api.handle(request("GET", "/api/runs?sync=news%20letter&limit=1")));
  REQUIRE(one["runs"].size() == 1);
  CHECK(one["runs"][0]["id"] == 12);
  CHECK(view.limits == std::vector<std::size_t>{1});
  // The limit is kept within 1..1000.
  view.limits.clear();
  (void)api.handle(request("GET", "/api/runs?sync=volunteers&limit=100000"));
  (void)api.handle(request("GET", "/api/runs?sync=volunteers&limit=0"));
  CHECK(view.limits == std::vector<std::size_t>{1000, 1});
  // A limit that is not a number is refused, not read as 0 (it used to give one run).
  view.limits.clear();
  http::Reply junk = api.handle(request("GET", "/api/runs?limit=12abc"));
  CHECK(junk.response.status == 400);
  CHECK(body_of(junk)["error"].get<std::string>().find("12abc") != std::string::npos);
  CHECK(view.limits.empty());
  CHECK(body_of(api.handle(request("GET", "/api/runs?sync=nobody")))["runs"].empty());

  view.runs_fail = true;
  http::Reply failed = api.handle(request("GET", "/api/runs"));
  CHECK(failed.response.status == 500);
  CHECK(body_of(failed)["error"] == "the store is gone");
}

TEST_CASE("api: the toggle and run now") {
  FakeView view;
  Api api(view, {});
  struct Row {
    std::string method, target, body;
    int status;
    std::string error;  // "" for a success
  };
  const Row rows[] = {
      {"POST", "/api/syncs/nobody/enabled", R"({"enabled":false})", 404, "no sync pair \"nobody\""},
      {"GET", "/api/syncs/volunteers/enabled", "", 405, "use POST"},
      {"POST", "/api/syncs/volunteers/enabled", "", 400,
       "the body must be {\"enabled\": true|false}"},
      {"POST", "/api/syncs/volunteers/enabled", R"({"enabled":"yes"})", 400,
       "the body must be {\"enabled\": true|false}"},
      {"POST", "/api/syncs/volunteers/other", "", 404, "no such API route"},
      {"POST", "/api/syncs", "", 404, "no such API route"},
  };
  for (const Row& r : rows) {
    INFO(r.method << " " << r.target << " " << r.body);
    http::Reply reply = api.handle(request(r.method, r.target, r.body));
    CHECK(reply.response.status == r.status);
    CHECK(body_of(reply)["error"] == r.error);
  }
  CHECK(view.toggles.empty());

  http::Reply on =
      api.handle(request("POST", "/api/syncs/volunteers/enabled", R"({"enabled":true})"));
  CHECK(on.response.status == 200);
  CHECK(body_of(on)["name"] == "volunteers");
  CHECK(body_of(on)["enabled"] == true);
  CHECK(body_of(on)["state"] == "idle");
  CHECK(view.toggles == std::vector<std::pair<std::string, bool>>{{"volunteers", true}});

  http::Reply run = api.handle(request("POST", "/api/syncs/news%20letter/run"));
  CHECK(run.response.status == 202);
  CHECK(body_of(run) == json{{"queued", true}});
  CHECK(view.run_requests == std::vector<std::string>{"news letter"});
}

TEST_CASE("api: the history page and a run's report") {
  FakeView view;
  Api api(view, {});
  http::Reply history = api.handle(request("GET", "/syncs/news%20letter/runs"));
  CHECK(history.response.status == 200);
  CHECK(header(history, "Content-Type") == "text/html; charset=utf-8");
  CHECK_FALSE(header(history, "Content-Security-Policy").empty());
  CHECK(history.response.body.find("news letter") != std::string::npos);
  CHECK(view.limits == std::vector<std::size_t>{200});

  http::Reply report = api.handle(request("GET", "/syncs/news%20letter/runs/11/report.html"));
  CHECK(report.response.status == 200);
  CHECK(header(report, "Content-Type") == "text/html; charset=utf-8");
  CHECK(report.response.body.find("news letter") != std::string::npos);

  CHECK(api.handle(request("GET", "/syncs/news%20letter/runs/99/report.html")).response.body ==
        "no such run\n");
  for (const char* target : {"/syncs/nobody/runs", "/syncs/news%20letter", "/syncs/news%20letter/x",
                             "/syncs/news%20letter/runs/11"}) {
    INFO(target);
    http::Reply r = api.handle(request("GET", target));
    CHECK(r.response.status == 404);
    CHECK(r.response.body == "not found\n");
  }
  CHECK(api.handle(request("POST", "/syncs/news%20letter/runs")).response.status == 404);
}

TEST_CASE("api: a webhook delivery is checked, parsed and handed to the daemon") {
  FakeView view;
  Api api(view, {});
  const std::vector<http::Header> form = {{"Content-Type", "application/x-www-form-urlencoded"}};

  // Wrong secrets, unknown pairs and malformed paths: a bare 403.
  for (const std::string& target :
       std::vector<std::string>{"/webhooks/mailchimp/news%20letter/nope",
                                "/webhooks/mailchimp/other/" + std::string(kSecret),
                                "/webhooks/mailchimp/news%20letter", kHook + "/more"}) {
    INFO(target);
    http::Reply r = api.handle(request("POST", target, kUnsubscribe, form));
    CHECK(r.response.status == 403);
    CHECK(r.response.body == "forbidden\n");
  }
  CHECK(view.rejected == std::vector<Rejection>(4, Rejection::kSecret));
  // Mailchimp's check of the URL; other methods.
  CHECK(api.handle(request("GET", kHook)).response.status == 200);
  CHECK(api.handle(request("PUT", kHook, kUnsubscribe, form)).response.status == 405);
  CHECK(view.delivered.empty());

  http::Reply ok = api.handle(request("POST", kHook, kUnsubscribe, form));
  CHECK(ok.response.status == 200);
  CHECK(ok.response.body == "ok\n");
  REQUIRE(view.delivered.size() == 1);
  CHECK(view.delivered[0].first == "news letter");
  CHECK(view.delivered[0].second.type == WebhookType::kUnsubscribe);
  CHECK(view.delivered[0].second.email == "wilma@bedrock.org");
  CHECK(view.delivered[0].second.action == "unsub");

  http::Reply bad = api.handle(request("POST", kHook, "type=subscribe&data[list_id]=L", form));
  CHECK(bad.response.status == 400);
  CHECK(bad.response.body == "webhook: data[email] is missing\n");
  CHECK(view.rejected.back() == Rejection::kMalformed);

  http::Reply campaign = api.handle(request("POST", kHook, "type=campaign&data[list_id]=L", form));
  CHECK(campaign.response.status == 200);
  CHECK(campaign.response.body == "ignored\n");
  CHECK(view.delivered.size() == 1);

  // Not stored: not acknowledged, so Mailchimp sends it again.
  view.deliver_status = Status::io_error("disk full");
  http::Reply unstored = api.handle(request("POST", kHook, kUnsubscribe, form));
  CHECK(unstored.response.status == 503);
  CHECK(unstored.response.body == "not stored\n");
}

TEST_CASE("api: with a signature header, unsigned deliveries are refused") {
  FakeView view;
  ApiOptions o;
  o.signature_header = "X-Relay-Signature";
  o.signature_secret = "relay-key";
  o.token = "tok";  // deliveries never need the token
  std::vector<std::string> logged;
  o.log = [&](const std::string& line) { logged.push_back(line); };
  Api api(view, o);
  http::Reply unsigned_reply = api.handle(request("POST", kHook, kUnsubscribe));
  CHECK(unsigned_reply.response.status == 403);
  CHECK(view.rejected == std::vector<Rejection>{Rejection::kSignature});
  http::Reply wrong =
      api.handle(request("POST", kHook, kUnsubscribe,
                         {{"X-Relay-Signature", webhook_signature("other", kUnsubscribe)}}));
  CHECK(wrong.response.status == 403);
  http::Reply signed_reply = api.handle(
      request("POST", kHook, kUnsubscribe,
              {{"X-Relay-Signature", "sha256=" + webhook_signature("relay-key", kUnsubscribe)}}));
  CHECK(signed_reply.response.status == 200);
  CHECK(view.delivered.size() == 1);
  // A malformed delivery is logged without its secret.
  (void)api.handle(request("POST", kHook, "type=nope",
                           {{"X-Relay-Signature", webhook_signature("relay-key", "type=nope")}}));
  REQUIRE(logged.size() == 1);
  CHECK(logged[0] == "news letter: a webhook delivery was refused: webhook: unknown type \"nope\"");
}
