// The daemon's HTTP API alone, against a fake daemon: routes, the token, the JSON shapes the
// status page reads (serve/pages.h), and webhook deliveries.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>

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
  Status health() override { return health_status; }
  bool webhook_secret_ok(const std::string& sync, std::string_view secret) override {
    return sync == "news letter" && secret == kSecret;
  }
  Status deliver(const std::string& sync, WebhookEvent event) override {
    if (!deliver_status) return deliver_status;
    delivered.emplace_back(sync, std::move(event));
    return Status::ok();
  }
  void webhook_rejected(Rejection reason) override { rejected.push_back(reason); }
  // Only "news letter" takes Mautic deliveries: signed "good", naming contacts 47 and 48 (a body
  // "{}" names none; "x" is malformed).
  Result<std::vector<std::string>> read_people_delivery(const std::string& sync,
                                                        std::string_view body,
                                                        std::string_view signature) override {
    if (sync != "news letter") return Status::not_found("takes none");
    if (signature != "good") return Status::permission_denied("wrong signature");
    if (body == "x") return Status::invalid("mautic delivery: not a JSON object");
    if (body == "{}") return std::vector<std::string>{};
    return std::vector<std::string>{"47", "48"};
  }

  std::vector<StreamView> streams() override { return stream_views; }
  // With streams configured, an intake request is answered 200 echoing its body and peer.
  std::optional<http::Reply> intake(const http::Request& req, std::string_view peer) override {
    if (stream_views.empty()) return std::nullopt;
    intakes.push_back(req.target + " " + req.body + " from " + std::string(peer));
    http::Reply r;
    r.response.status = 200;
    r.response.body = "{\"code\":200}";
    return r;
  }

  std::vector<SyncView> views;
  std::vector<StreamView> stream_views;
  std::vector<std::string> intakes;
  std::map<std::string, std::vector<RunRecord>> runs_of;  // newest first
  bool runs_fail = false;
  Status deliver_status;
  Status health_status;
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

constexpr const char* kToken = "tok-123";

ApiOptions with_token() {
  ApiOptions o;
  o.token = kToken;
  return o;
}

// A request from a script holding the token; POSTs are JSON, as the API asks.
http::Request authed(std::string method, std::string target, std::string body = "",
                     std::vector<http::Header> headers = {}) {
  headers.push_back({"Authorization", std::string("Bearer ") + kToken});
  if (method == "POST") headers.push_back({"Content-Type", "application/json"});
  return request(std::move(method), std::move(target), std::move(body), std::move(headers));
}

const std::string kHook = "/webhooks/mailchimp/news%20letter/" + std::string(kSecret);
const std::string kUnsubscribe =
    "type=unsubscribe&data[list_id]=L&data[email]=Wilma%40Bedrock.org&data[action]=unsub";

}  // namespace

TEST_CASE("api: every route but /healthz, /login and the webhooks needs the token or a session") {
  FakeView view;
  Api api(view, with_token());

  http::Reply health = api.handle(request("GET", "/healthz"));
  CHECK(health.response.status == 200);
  CHECK(health.response.body == "ok\n");
  // A store that cannot write (a full disk) is not a healthy daemon.
  view.health_status = Status::io_error("writing to the store: No space left on device");
  http::Reply full = api.handle(request("GET", "/healthz"));
  CHECK(full.response.status == 503);
  CHECK(full.response.body.find("No space left on device") != std::string::npos);
  view.health_status = Status::ok();

  struct Row {
    std::string target;
    std::vector<http::Header> headers;
    int status;
  };
  const Row rows[] = {
      {"/api/syncs", {}, 401},
      {"/metrics", {}, 401},
      // The token never travels in a URL: a query parameter is not read.
      {"/api/syncs?token=tok-123", {}, 401},
      {"/metrics?token=tok-123", {}, 401},
      {"/api/syncs", {{"Authorization", "Bearer wrong"}}, 401},
      {"/api/syncs", {{"Authorization", "tok-123"}}, 401},
      {"/api/syncs", {{"Cookie", "concord_session=made-up"}}, 401},
      {"/api/syncs", {{"Authorization", "Bearer tok-123"}}, 200},
      {"/metrics", {{"Authorization", "Bearer tok-123"}}, 200},
      {"/nowhere", {{"Authorization", "Bearer tok-123"}}, 404},
      // Pages send a browser to the login form, with no token in the redirect.
      {"/", {}, 303},
      {"/syncs/news%20letter/runs", {}, 303},
      {"/", {{"Authorization", "Bearer tok-123"}}, 200},
  };
  for (const Row& r : rows) {
    INFO(r.target);
    http::Reply reply = api.handle(request("GET", r.target, "", r.headers));
    CHECK(reply.response.status == r.status);
    if (r.status == 401) {
      CHECK(header(reply, "WWW-Authenticate") == "Bearer");
      CHECK(body_of(reply)["error"].get<std::string>().find("token") != std::string::npos);
    }
    if (r.status == 303) CHECK(header(reply, "Location") == "/login");
  }
  http::Reply metrics = api.handle(authed("GET", "/metrics"));
  CHECK(metrics.response.body == "concord_up 1\n");
  CHECK(header(metrics, "Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  http::Reply page = api.handle(authed("GET", "/"));
  CHECK(header(page, "Content-Type") == "text/html; charset=utf-8");
  CHECK(header(page, "Content-Security-Policy").find("default-src 'none'") != std::string::npos);
  CHECK(page.response.body.find("token=") == std::string::npos);

  // With no token at all (never the listener's case), no one gets in, also on loopback.
  Api closed(view, {});
  CHECK(closed.handle(request("GET", "/api/syncs")).response.status == 401);
  CHECK(closed.handle(request("GET", "/api/syncs", "", {{"Authorization", "Bearer "}}))
            .response.status == 401);
}

TEST_CASE("api: the refusals on a request's header come before its body is read") {
  FakeView view;
  Api api(view, with_token());
  // admit() sees the header only: a refusal there means the body is never read.
  std::optional<http::Reply> unauthenticated =
      api.admit(request("POST", "/api/syncs/volunteers/run", "", {{"Content-Length", "100"}}));
  REQUIRE(unauthenticated.has_value());
  CHECK(unauthenticated->response.status == 401);
  std::optional<http::Reply> huge =
      api.admit(request("POST", kHook, "", {{"Content-Length", "1000000"}}));
  REQUIRE(huge.has_value());
  CHECK(huge->response.status == 413);
  CHECK_FALSE(api.admit(request("POST", kHook, "", {{"Content-Length", "300"}})).has_value());
  CHECK_FALSE(api.admit(authed("POST", "/api/syncs/volunteers/run")).has_value());
  CHECK_FALSE(api.admit(request("GET", "/healthz")).has_value());
}

TEST_CASE("api: a stream's intake needs its key, not the token; /api/streams shows each stream") {
  FakeView view;
  Api api(view, with_token());
  // No stream: the intake routes are not there.
  CHECK(api.handle(request("POST", "/2/httpapi", "{}")).response.status == 404);
  StreamView s;
  s.name = "product";
  s.kind = "amplitude → audience";
  s.audience = "Newsletter";
  s.accepted = 12;
  s.forwarded = 9;
  s.queued = 1;
  s.dropped = {{"duplicate", 0}, {"not_member", 2}};
  s.last_error = "sending member events: Mailchimp answered 503";
  s.last_error_at = 1790000000 * kMicrosPerSecond;
  s.unknown_properties = {"favourite_colour"};
  view.stream_views = {s};
  for (const char* path : {"/2/httpapi", "/batch", "/identify"}) {
    http::Reply r = api.handle(request("POST", path, "{\"api_key\":\"k\"}"), "192.0.2.7");
    INFO(path);
    CHECK(r.response.status == 200);
  }
  REQUIRE(view.intakes.size() == 3);
  // A web page's SDK on another site: the preflight is answered, replies are readable.
  http::Reply preflight = api.handle(
      request("OPTIONS", "/2/httpapi", "",
              {{"Origin", "https://shop.example"}, {"Access-Control-Request-Method", "POST"}}));
  CHECK(preflight.response.status == 204);
  CHECK(header(preflight, "Access-Control-Allow-Origin") == "*");
  CHECK(header(preflight, "Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK(view.intakes.size() == 3);  // not handed to the stream
  CHECK(header(api.handle(request("POST", "/batch", "{}")), "Access-Control-Allow-Origin") == "*");
  CHECK(view.intakes[0] == "/2/httpapi {\"api_key\":\"k\"} from 192.0.2.7");
  // Admitted unread up to /batch's 20 MB, refused beyond it before the body is read.
  CHECK_FALSE(api.admit(request("POST", "/batch", "", {{"Content-Length", "15000000"}})));
  std::optional<http::Reply> huge =
      api.admit(request("POST", "/batch", "", {{"Content-Length", "30000000"}}));
  REQUIRE(huge.has_value());
  CHECK(huge->response.status == 413);
  CHECK(body_of(*huge)["code"] == 413);
  // A webhook body sent in chunks (no Content-Length) over 64 KiB is refused too.
  CHECK(api.handle(request("POST", kHook, std::string(70000, 'x'))).response.status == 413);

  http::Reply list = api.handle(authed("GET", "/api/streams"));
  REQUIRE(list.response.status == 200);
  json j = body_of(list)["streams"][0];
  CHECK(j["name"] == "product");
  CHECK(j["accepted"] == 12);
  CHECK(j["forwarded"] == 9);
  CHECK(j["queued"] == 1);
  CHECK(j["dropped"] == 2);
  CHECK(j["dropped_by_reason"]["not_member"] == 2);
  CHECK(j["last_error"] == "sending member events: Mailchimp answered 503");
  CHECK(j["last_error_at"] == "2026-09-21T14:13:20+00:00");
  CHECK(j["unknown_properties"] == json::array({"favourite_colour"}));
  CHECK(api.handle(request("GET", "/api/streams")).response.status == 401);
}

TEST_CASE("api: a foreign Host is answered 421 (DNS rebinding)") {
  FakeView view;
  ApiOptions o = with_token();
  o.site.hosts = {"concord.example.org"};
  Api api(view, o);
  struct Row {
    std::string host;
    int status;
  };
  const Row rows[] = {
      {"127.0.0.1:8080", 200},
      {"localhost:8080", 200},
      {"LOCALHOST", 200},
      {"[::1]:8080", 200},
      {"10.1.2.3", 200},
      {"concord.example.org", 200},
      {"Concord.Example.Org:443", 200},
      {"attacker.example", 421},
      {"attacker.example:8080", 421},
      {"concord.example.org.attacker.example", 421},
      {"127.0.0.1.nip.io:8080", 421},
      {"localhost:80x", 421},
      {"[::1", 421},
  };
  for (const Row& r : rows) {
    INFO(r.host);
    CHECK(api.handle(authed("GET", "/api/syncs", "", {{"Host", r.host}})).response.status ==
          r.status);
    // Also for the pages, the login form and the webhooks; never for /healthz.
    if (r.status == 421) {
      CHECK(api.handle(request("GET", "/login", "", {{"Host", r.host}})).response.status == 421);
      CHECK(api.handle(request("GET", kHook, "", {{"Host", r.host}})).response.status == 421);
      CHECK(api.handle(request("GET", "/healthz", "", {{"Host", r.host}})).response.status == 200);
    }
  }
}

namespace {

// Logs in through the form as a browser on http://127.0.0.1:8080 would; the session cookie.
std::string log_in(Api& api, const std::string& token, int* status = nullptr) {
  http::Reply r = api.handle(request("POST", "/login", "token=" + http::url_encode(token),
                                     {{"Host", "127.0.0.1:8080"},
                                      {"Origin", "http://127.0.0.1:8080"},
                                      {"Content-Type", "application/x-www-form-urlencoded"}}));
  if (status != nullptr) *status = r.response.status;
  const std::string set = header(r, "Set-Cookie");
  const std::size_t eq = set.find('='), semi = set.find(';');
  if (eq == std::string::npos || semi == std::string::npos) return "";
  return set.substr(eq + 1, semi - eq - 1);
}

}  // namespace

TEST_CASE("api: the browser logs in once and keeps a session cookie") {
  FakeView view;
  Api api(view, with_token());
  http::Reply form = api.handle(request("GET", "/login"));
  CHECK(form.response.status == 200);
  CHECK(form.response.body.find("name=\"token\"") != std::string::npos);
  CHECK(header(form, "Content-Security-Policy").find("form-action 'self'") != std::string::npos);

  int status = 0;
  CHECK(log_in(api, "wrong", &status).empty());
  CHECK(status == 401);

  http::Reply ok = api.handle(request("POST", "/login", "token=tok-123",
                                      {{"Content-Type", "application/x-www-form-urlencoded"}}));
  CHECK(ok.response.status == 303);
  CHECK(header(ok, "Location") == "/");
  const std::string set = header(ok, "Set-Cookie");
  CHECK(set.rfind("concord_session=", 0) == 0);
  CHECK(set.find("; HttpOnly") != std::string::npos);
  CHECK(set.find("; SameSite=Strict") != std::string::npos);
  CHECK(set.find("; Secure") == std::string::npos);  // plain http on loopback
  CHECK(set.find("tok-123") == std::string::npos);

  const std::string session = log_in(api, kToken);
  REQUIRE(session.size() == 64);
  const http::Header cookie{"Cookie", "theme=dark; concord_session=" + session};
  CHECK(api.handle(request("GET", "/", "", {cookie})).response.status == 200);
  CHECK(api.handle(request("GET", "/api/syncs", "", {cookie})).response.status == 200);
  CHECK(api.handle(request("POST", "/api/syncs/volunteers/run", "{}",
                           {cookie,
                            {"Content-Type", "application/json"},
                            {"Origin", "http://127.0.0.1:8080"},
                            {"Host", "127.0.0.1:8080"}}))
            .response.status == 202);

  // Logging out ends the session.
  http::Reply out = api.handle(request("POST", "/logout", "{}", {cookie}));
  CHECK(out.response.status == 200);
  CHECK(header(out, "Set-Cookie").find("Max-Age=0") != std::string::npos);
  CHECK(api.handle(request("GET", "/api/syncs", "", {cookie})).response.status == 401);

  // Behind TLS (an https public URL) the cookie is Secure.
  ApiOptions tls = with_token();
  tls.site.tls = true;
  Api behind_tls(view, tls);
  http::Reply secure = behind_tls.handle(request(
      "POST", "/login", "token=tok-123", {{"Content-Type", "application/x-www-form-urlencoded"}}));
  CHECK(header(secure, "Set-Cookie").find("; Secure") != std::string::npos);
}

TEST_CASE("api: state-changing requests from another site are refused") {
  FakeView view;
  ApiOptions o = with_token();
  o.site.public_origin = "https://concord.example.org";
  o.site.hosts = {"concord.example.org"};
  Api api(view, o);
  const std::string session = log_in(api, kToken);
  REQUIRE_FALSE(session.empty());
  const http::Header cookie{"Cookie", "concord_session=" + session};
  struct Row {
    std::vector<http::Header> headers;
    int status;
  };
  const Row rows[] = {
      // A cross-site form can send only these types: refused.
      {{{"Content-Type", "application/x-www-form-urlencoded"}}, 415},
      {{{"Content-Type", "text/plain"}}, 415},
      {{}, 415},
      {{{"Content-Type", "application/json"}, {"Origin", "https://attacker.example"}}, 403},
      {{{"Content-Type", "application/json"}, {"Origin", "null"}}, 403},
      {{{"Content-Type", "application/json"}, {"Sec-Fetch-Site", "cross-site"}}, 403},
      {{{"Content-Type", "application/json"},
        {"Origin", "http://127.0.0.1:8080"},
        {"Host", "localhost:8080"}},
       403},
      // This daemon's own pages, by its public URL or its own address.
      {{{"Content-Type", "application/json"}, {"Origin", "https://concord.example.org"}}, 202},
      {{{"Content-Type", "application/json; charset=utf-8"},
        {"Origin", "http://127.0.0.1:8080"},
        {"Host", "127.0.0.1:8080"},
        {"Sec-Fetch-Site", "same-origin"}},
       202},
      {{{"Content-Type", "application/json"}}, 202},  // a script: no Origin
  };
  for (const Row& r : rows) {
    std::vector<http::Header> headers = r.headers;
    headers.push_back(cookie);
    std::string described;
    for (const http::Header& h : headers)
      described += h.name + ": " + h.value + "; ";
    INFO(described);
    CHECK(api.handle(request("POST", "/api/syncs/volunteers/run", "{}", headers)).response.status ==
          r.status);
  }
  CHECK(view.run_requests.size() == 3);
  // The login form, too, only from this daemon's own page.
  http::Reply foreign = api.handle(request("POST", "/login", "token=tok-123",
                                           {{"Content-Type", "application/x-www-form-urlencoded"},
                                            {"Origin", "https://attacker.example"}}));
  CHECK(foreign.response.status == 403);
  CHECK(header(foreign, "Set-Cookie").empty());
}

TEST_CASE("api: GET /api/syncs has the shape the status page reads") {
  FakeView view;
  Api api(view, with_token());
  http::Reply r = api.handle(authed("GET", "/api/syncs"));
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
  CHECK(a["warning"].is_null());  // nothing to act on
  // A pair whose people side's webhook stopped (Mautic unpublished it) says so.
  view.views[1].warning = "Mautic unpublished this pair's webhook (hook 3)";
  const json again = body_of(api.handle(authed("GET", "/api/syncs")))["syncs"];
  CHECK(again[1]["warning"] == "Mautic unpublished this pair's webhook (hook 3)");
}

TEST_CASE("api: GET /api/runs lists each pair's runs, filtered and limited") {
  FakeView view;
  Api api(view, with_token());
  const json all = body_of(api.handle(authed("GET", "/api/runs")))["runs"];
  REQUIRE(all.size() == 3);
  CHECK(all[0]["sync"] == "news letter");
  CHECK(all[0]["id"] == 12);
  CHECK(all[2]["sync"] == "volunteers");
  CHECK(all[2]["result"] == "stopped-by-guard");
  CHECK(view.limits == std::vector<std::size_t>{50, 50});  // the default

  view.limits.clear();
  const json one = body_of(api.handle(authed("GET", "/api/runs?sync=news%20letter&limit=1")));
  REQUIRE(one["runs"].size() == 1);
  CHECK(one["runs"][0]["id"] == 12);
  CHECK(view.limits == std::vector<std::size_t>{1});
  // The limit is kept within 1..1000.
  view.limits.clear();
  (void)api.handle(authed("GET", "/api/runs?sync=volunteers&limit=100000"));
  (void)api.handle(authed("GET", "/api/runs?sync=volunteers&limit=0"));
  CHECK(view.limits == std::vector<std::size_t>{1000, 1});
  // A limit that is not a number is refused, not read as 0 (it used to give one run).
  view.limits.clear();
  http::Reply junk = api.handle(authed("GET", "/api/runs?limit=12abc"));
  CHECK(junk.response.status == 400);
  CHECK(body_of(junk)["error"].get<std::string>().find("12abc") != std::string::npos);
  CHECK(view.limits.empty());
  CHECK(body_of(api.handle(authed("GET", "/api/runs?sync=nobody")))["runs"].empty());

  view.runs_fail = true;
  http::Reply failed = api.handle(authed("GET", "/api/runs"));
  CHECK(failed.response.status == 500);
  CHECK(body_of(failed)["error"] == "the store is gone");
}

TEST_CASE("api: the toggle and run now") {
  FakeView view;
  Api api(view, with_token());
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
    http::Reply reply = api.handle(authed(r.method, r.target, r.body));
    CHECK(reply.response.status == r.status);
    CHECK(body_of(reply)["error"] == r.error);
  }
  CHECK(view.toggles.empty());

  http::Reply on =
      api.handle(authed("POST", "/api/syncs/volunteers/enabled", R"({"enabled":true})"));
  CHECK(on.response.status == 200);
  CHECK(body_of(on)["name"] == "volunteers");
  CHECK(body_of(on)["enabled"] == true);
  CHECK(body_of(on)["state"] == "idle");
  CHECK(view.toggles == std::vector<std::pair<std::string, bool>>{{"volunteers", true}});

  http::Reply run = api.handle(authed("POST", "/api/syncs/news%20letter/run"));
  CHECK(run.response.status == 202);
  CHECK(body_of(run) == json{{"queued", true}});
  CHECK(view.run_requests == std::vector<std::string>{"news letter"});
}

TEST_CASE("api: the history page and a run's report") {
  FakeView view;
  Api api(view, with_token());
  http::Reply history = api.handle(authed("GET", "/syncs/news%20letter/runs"));
  CHECK(history.response.status == 200);
  CHECK(header(history, "Content-Type") == "text/html; charset=utf-8");
  CHECK_FALSE(header(history, "Content-Security-Policy").empty());
  CHECK(history.response.body.find("news letter") != std::string::npos);
  CHECK(view.limits == std::vector<std::size_t>{200});

  http::Reply report = api.handle(authed("GET", "/syncs/news%20letter/runs/11/report.html"));
  CHECK(report.response.status == 200);
  CHECK(header(report, "Content-Type") == "text/html; charset=utf-8");
  CHECK(report.response.body.find("news letter") != std::string::npos);

  CHECK(api.handle(authed("GET", "/syncs/news%20letter/runs/99/report.html")).response.body ==
        "no such run\n");
  for (const char* target : {"/syncs/nobody/runs", "/syncs/news%20letter", "/syncs/news%20letter/x",
                             "/syncs/news%20letter/runs/11"}) {
    INFO(target);
    http::Reply r = api.handle(authed("GET", target));
    CHECK(r.response.status == 404);
    CHECK(r.response.body == "not found\n");
  }
  CHECK(api.handle(authed("POST", "/syncs/news%20letter/runs")).response.status == 404);
}

TEST_CASE("api: a webhook delivery is checked, parsed and handed to the daemon") {
  FakeView view;
  Api api(view, with_token());
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

  // Another audience's delivery: 400, and nothing stored (the daemon says so by kInvalid).
  view.deliver_status = Status::invalid("the delivery is for audience other, not the pair's (L)");
  http::Reply wrong_list = api.handle(request("POST", kHook, kUnsubscribe, form));
  CHECK(wrong_list.response.status == 400);
  CHECK(view.rejected.back() == Rejection::kWrongList);
  // An audience id that is no id at all is malformed.
  http::Reply junk_list = api.handle(
      request("POST", kHook, "type=unsubscribe&data[list_id]=a%2Fb&data[email]=a%40b.org", form));
  CHECK(junk_list.response.status == 400);
  CHECK(view.rejected.back() == Rejection::kMalformed);

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
  // Control characters in a delivery never reach the log raw (a forged log line, a terminal
  // escape), and a long value is cut short.
  const std::string forged = "type=x%0D%0Aconcord+serve%3A+forged%1B%5B2J" + std::string(500, 'y');
  (void)api.handle(request("POST", kHook, forged,
                           {{"X-Relay-Signature", webhook_signature("relay-key", forged)}}));
  REQUIRE(logged.size() == 2);
  CHECK(logged[1].find('\n') == std::string::npos);
  CHECK(logged[1].find('\r') == std::string::npos);
  CHECK(logged[1].find('\x1b') == std::string::npos);
  CHECK(logged[1].find("x\\x0d\\x0aconcord serve: forged\\x1b[2J") != std::string::npos);
  CHECK(logged[1].size() < 250);
}

TEST_CASE("api: a Mautic delivery is checked by its URL and signature, then stored") {
  FakeView view;
  std::vector<std::string> logged;
  ApiOptions o = with_token();
  o.log = [&](const std::string& line) { logged.push_back(line); };
  Api api(view, o);
  const std::string hook = "/webhooks/mautic/news%20letter/" + std::string(kSecret);
  const std::vector<http::Header> good = {{"Content-Type", "application/json"},
                                          {"Webhook-Signature", "good"}};
  // No token needed, but the URL's secret is.
  CHECK(api.handle(request("POST", "/webhooks/mautic/news%20letter/nope", "{\"a\":1}", good))
            .response.status == 403);
  CHECK(view.rejected.back() == Rejection::kSecret);
  // A wrong or missing signature: 403, nothing stored.
  http::Reply unsigned_reply = api.handle(request("POST", hook, "{\"a\":1}"));
  CHECK(unsigned_reply.response.status == 403);
  CHECK(view.rejected.back() == Rejection::kSignature);
  CHECK(view.delivered.empty());
  CHECK(api.handle(request("GET", hook)).response.status == 405);

  http::Reply ok = api.handle(request("POST", hook, "{\"a\":1}", good));
  CHECK(ok.response.status == 200);
  REQUIRE(view.delivered.size() == 1);
  CHECK(view.delivered[0].first == "news letter");
  CHECK(view.delivered[0].second.type == WebhookType::kPeople);
  CHECK(view.delivered[0].second.people == std::vector<std::string>{"47", "48"});

  // Nothing a pair acts on: answered, not stored. Malformed: 400, logged.
  CHECK(api.handle(request("POST", hook, "{}", good)).response.body == "ignored\n");
  http::Reply bad = api.handle(request("POST", hook, "x", good));
  CHECK(bad.response.status == 400);
  CHECK(view.rejected.back() == Rejection::kMalformed);
  REQUIRE_FALSE(logged.empty());
  CHECK(logged.back() ==
        "news letter: a Mautic delivery was refused: mautic delivery: not a JSON "
        "object");
  CHECK(view.delivered.size() == 1);
  // Not stored: a 503 (Mautic drops it; the scheduled run is the backstop).
  view.deliver_status = Status::io_error("disk full");
  CHECK(api.handle(request("POST", hook, "{\"a\":1}", good)).response.status == 503);
}
