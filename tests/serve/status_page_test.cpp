// The pages of `concord serve`: the history page's escaping and the status page's self-containment
// (no browser), then the status page in a headless Chromium against a fake of the daemon's JSON API
// (rows rendered from the API, toggles and "Run now" reaching the API and the page updating in
// place, the history page, the token on every call, no request to another host, the error banner).
//
// This binary has its own main: when /usr/bin/chromium or /usr/bin/chromedriver is missing, the
// browser test is skipped and the binary exits 77 (meson's "skipped") if everything else passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "concord/http.h"
#include "serve/auth.h"
#include "serve/pages.h"
#include "serve/webdriver.h"

using concord::testing::WebDriver;
using nlohmann::json;
namespace http = concord::http;

namespace {

std::atomic<bool> g_browser_skipped{false};

constexpr const char* kSession = "dummy-test-session-42";

std::string iso(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + needle.size()))
    ++n;
  return n;
}

// ---- a fake of the daemon's JSON API ------------------------------------------------------------

struct FakeSync {
  std::string name;
  std::string created;
  std::string schedule;
  bool enabled = true;
  std::vector<json> runs;  // oldest first
  std::chrono::steady_clock::time_point running_since{};
  bool running = false;
};

class FakeDaemon {
 public:
  FakeDaemon() {
    FakeSync a;
    a.name = "newsletter";
    a.created = "2026-11-01T10:00:00Z";
    a.schedule = "every 30m";
    a.runs.push_back(
        run(11, "2026-11-23T09:30:00Z", "2026-11-23T09:30:02Z", 2.1, "done",
            {{"planned", 4}, {"applied", 4}, {"failed", 0}, {"refused", 0}, {"report_rows", 0}}));
    a.runs.push_back(
        run(12, "2026-11-23T10:00:00Z", "2026-11-23T10:00:03Z", 3.2, "done-with-failures",
            {{"planned", 10}, {"applied", 9}, {"failed", 1}, {"refused", 0}, {"report_rows", 2}}));
    FakeSync b;
    b.name = "volunteers";
    b.created = "2026-11-02T08:15:00Z";
    b.schedule = "daily at 02:00 <b>UTC</b>";  // markup in data must show as text
    b.enabled = false;
    b.runs.push_back(run(
        4, "2026-11-22T02:00:00Z", "2026-11-22T02:01:05Z", 65.0, "stopped-by-guard",
        {{"planned", 900}, {"applied", 0}, {"failed", 0}, {"refused", 0}, {"report_rows", 900}}));
    syncs_ = {a, b};

    http::ServerOptions options;
    options.bind = "127.0.0.1";
    auto server = http::Server::start(
        options, [this](const http::Request& r, const http::Peer&) { return handle(r); });
    REQUIRE(server.is_ok());
    server_ = std::move(server.value());
  }
  ~FakeDaemon() { server_->stop(); }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  bool enabled(const std::string& name) {
    std::lock_guard lock(mu_);
    return find(name)->enabled;
  }
  int run_requests() {
    std::lock_guard lock(mu_);
    return run_requests_;
  }
  std::vector<json> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static json run(int id, const std::string& started, const json& ended, const json& duration,
                  const std::string& result, const json& counts) {
    return {{"id", id},         {"started", started}, {"ended", ended}, {"duration_s", duration},
            {"result", result}, {"counts", counts}};
  }

  FakeSync* find(const std::string& name) {
    for (auto& s : syncs_)
      if (s.name == name) return &s;
    return nullptr;
  }

  // A run asked for with "Run now" is "running" for 1.5 s, then "done".
  void settle(FakeSync& s) {
    if (!s.running) return;
    auto elapsed = std::chrono::steady_clock::now() - s.running_since;
    if (elapsed < std::chrono::milliseconds(1500)) return;
    json& r = s.runs.back();
    r["ended"] = iso(std::chrono::system_clock::now());
    r["duration_s"] = 1.5;
    r["result"] = "done";
    r["counts"] = {
        {"planned", 3}, {"applied", 3}, {"failed", 0}, {"refused", 0}, {"report_rows", 0}};
    s.running = false;
  }

  json run_json(const FakeSync& s, json r) const {
    r["report_url"] =
        "/syncs/" + s.name + "/runs/" + std::to_string(r["id"].get<int>()) + "/report.html";
    return r;
  }

  json sync_json(FakeSync& s) {
    settle(s);
    return {{"name", s.name},
            {"created", s.created},
            {"enabled", s.enabled},
            {"schedule", s.schedule},
            {"state", s.running ? "running" : (s.enabled ? "idle" : "disabled")},
            {"next_run", s.enabled ? json("2026-11-23T10:30:00Z") : json(nullptr)},
            {"last_run", s.runs.empty() ? json(nullptr) : run_json(s, s.runs.back())},
            {"history_url", "/syncs/" + s.name + "/runs"}};
  }

  static http::Reply reply(int status, const std::string& content_type, std::string body) {
    http::Reply r;
    r.response.status = status;
    r.response.headers.push_back({"Content-Type", content_type});
    r.response.headers.push_back({"Cache-Control", "no-store"});
    r.response.body = std::move(body);
    return r;
  }
  static http::Reply json_reply(int status, const json& j) {
    return reply(status, "application/json", j.dump());
  }
  static http::Reply html(std::string body) {
    return reply(200, "text/html; charset=utf-8", std::move(body));
  }

  http::Reply handle(const http::Request& req) {
    std::lock_guard lock(mu_);
    std::string target = req.target;
    std::string path = target.substr(0, target.find('?'));
    std::string query = path.size() < target.size() ? target.substr(path.size() + 1) : "";
    // The daemon's session (serve/auth.h), set by /_test/login as the login form would.
    const bool session = concord::serve::cookie(req, concord::serve::kSessionCookie) == kSession;
    requests_.push_back({{"method", req.method},
                         {"target", target},
                         {"session", session},
                         {"content_type", std::string(req.header("Content-Type"))}});

    std::vector<std::string> seg;
    for (std::size_t at = 1; at <= path.size();) {
      std::size_t end = path.find('/', at);
      if (end == std::string::npos) end = path.size();
      std::string decoded;
      if (!http::url_decode(path.substr(at, end - at), &decoded))
        return json_reply(400, {{"error", "bad path"}});
      seg.push_back(decoded);
      at = end + 1;
    }

    if (req.method == "GET" && path == "/") return html(concord::serve::status_page_html());
    if (req.method == "GET" && path == "/login") return html(concord::serve::login_page_html(""));
    if (path == "/_test/login" || path == "/_test/logout") {
      http::Reply r = reply(303, "text/plain", "");
      r.response.headers.push_back({"Location", "/"});
      r.response.headers.push_back(
          {"Set-Cookie", concord::serve::session_cookie(path == "/_test/login" ? kSession : "",
                                                        std::chrono::hours(1), false)});
      return r;
    }

    if (!seg.empty() && seg[0] == "api") {
      if (!session) return json_reply(401, {{"error", "token required"}});
      if (req.method == "GET" && seg.size() == 2 && seg[1] == "streams") {
        json stream = {
            {"name", "product"},
            {"kind", "amplitude \u2192 audience"},
            {"audience", "Newsletter"},
            {"accepted", 120},
            {"forwarded", 100},
            {"queued", 8},
            {"dropped", 12},
            {"dropped_by_reason", {{"not_member", 10}, {"anonymous", 2}, {"rejected", 0}}},
            {"last_error", "sending member events: <b>503</b>"},
            {"last_error_at", "2026-11-23T10:05:00+00:00"},
            {"unknown_properties", {"favourite_colour"}}};
        return json_reply(200, {{"streams", json::array({stream})}});
      }
      if (req.method == "GET" && seg.size() == 2 && seg[1] == "syncs") {
        json list = json::array();
        for (auto& s : syncs_)
          list.push_back(sync_json(s));
        return json_reply(200, {{"syncs", list}});
      }
      if (req.method == "POST" && seg.size() == 4 && seg[1] == "syncs") {
        FakeSync* s = find(seg[2]);
        if (s == nullptr) return json_reply(404, {{"error", "no such sync"}});
        if (seg[3] == "enabled") {
          if (req.header("Content-Type").substr(0, 16) != "application/json")
            return json_reply(415, {{"error", "JSON expected"}});
          json body = json::parse(req.body, nullptr, false);
          if (!body.is_object() || !body.contains("enabled") || !body["enabled"].is_boolean())
            return json_reply(400, {{"error", "{\"enabled\":bool} expected"}});
          s->enabled = body["enabled"].get<bool>();
          return json_reply(200, sync_json(*s));
        }
        if (seg[3] == "run") {
          settle(*s);
          if (s->running) return json_reply(409, {{"error", "already running"}});
          ++run_requests_;
          int id = s->runs.empty() ? 1 : s->runs.back()["id"].get<int>() + 1;
          s->runs.push_back(run(id, iso(std::chrono::system_clock::now()), nullptr, nullptr,
                                "running", {{"planned", 3}}));
          s->running = true;
          s->running_since = std::chrono::steady_clock::now();
          return json_reply(202, {{"queued", true}});
        }
      }
      return json_reply(404, {{"error", "no such endpoint"}});
    }

    // The HTML pages behind the links: the session cookie comes along.
    if (seg.size() >= 3 && seg[0] == "syncs" && seg[2] == "runs") {
      if (!session) return reply(401, "text/plain", "log in first\n");
      FakeSync* s = find(seg[1]);
      if (s == nullptr) return reply(404, "text/plain", "no such sync\n");
      settle(*s);
      if (req.method == "GET" && seg.size() == 3) {
        json runs = json::array();
        for (auto it = s->runs.rbegin(); it != s->runs.rend(); ++it)
          runs.push_back(run_json(*s, *it));
        return html(concord::serve::runs_page_html({{"name", s->name}, {"runs", runs}}));
      }
      if (req.method == "GET" && seg.size() == 5 && seg[4] == "report.html")
        return html("<!doctype html><title>report</title><p id=\"report\">report of " + s->name +
                    " run " + seg[3] + "</p>");
    }
    return reply(404, "text/plain", "not found\n");
  }

  std::mutex mu_;
  std::vector<FakeSync> syncs_;
  std::vector<json> requests_;
  int run_requests_ = 0;
  std::unique_ptr<http::Server> server_;
};

std::string row(const std::string& name, const std::string& css) {
  return "tr[data-sync=\"" + name + "\"] " + css;
}

// Rendered text with every run of whitespace (line breaks between blocks included) as one space.
std::string squash(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::filesystem::path write_screenshot(WebDriver& browser, const std::string& file) {
  auto path = std::filesystem::current_path() / file;
  browser.screenshot(path);
  std::cout << "screenshot: " << path.string() << "\n";
  return path;
}

}  // namespace

// ---- without a browser --------------------------------------------------------------------------

TEST_CASE("runs_page_html escapes everything that comes from data") {
  json data = {
      {"name", "<script>alert('name')</script>"},
      {"runs", json::array({{{"id", 7},
                             {"started", "2026-11-23T10:00:00Z\"><script>alert(1)</script>"},
                             {"ended", nullptr},
                             {"duration_s", nullptr},
                             {"result", "<script>alert('result')</script>"},
                             {"counts", {{"applied", "<i>9</i>"}, {"failed", 1}}},
                             {"report_url", "javascript:alert(1)"}},
                            {{"id", 6},
                             {"started", "2026-11-23T09:00:00Z"},
                             {"ended", "2026-11-23T09:00:03Z"},
                             {"duration_s", 3.25},
                             {"result", "done"},
                             {"counts", {{"planned", 2}, {"applied", 2}}},
                             {"report_url", "/syncs/x/runs/6/report.html?a=1&b=<2>"}},
                            {{"id", 5}, {"report_url", "//evil.example/report.html"}},
                            {{"id", 4}, {"report_url", "/\\evil.example/report.html"}},
                            "not a run"})}};
  std::string html = concord::serve::runs_page_html(data);

  CHECK(count_of(html, "<script>") == 1);  // the page's own
  CHECK(count_of(html, "<script") == 1);
  CHECK(html.find("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;result&#39;)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("&quot;&gt;&lt;script&gt;alert(1)") != std::string::npos);
  CHECK(html.find("<i>") == std::string::npos);
  CHECK(html.find("javascript:") == std::string::npos);
  CHECK(html.find("evil.example") == std::string::npos);
  CHECK(html.find("href=\"/syncs/x/runs/6/report.html?a=1&amp;b=&lt;2&gt;\"") != std::string::npos);
  CHECK(html.find("class=\"result r-unknown\"") != std::string::npos);
  CHECK(html.find("class=\"result r-done\"") != std::string::npos);
  CHECK(html.find("3.2 s") != std::string::npos);
  CHECK(html.find("data-run=\"7\"") != std::string::npos);
  CHECK(html.find("data-run=\"4\"") != std::string::npos);
}

TEST_CASE("runs_page_html says which run an undo undid") {
  json data = {{"name", "newsletter"},
               {"runs", json::array({{{"id", 9}, {"command", "undo"}, {"undoes", 4}},
                                     {{"id", 8}, {"command", "sync"}, {"undoes", nullptr}},
                                     {{"id", 7}, {"undoes", "<b>4</b>"}}})}};
  const std::string html = concord::serve::runs_page_html(data);
  CHECK(html.find("#9 <span class=\"undo\" data-undoes=\"4\">undo of #4</span>") !=
        std::string::npos);
  CHECK(count_of(html, "data-undoes") == 1);  // not for a sync, nor for an id that is no number
  CHECK(html.find("<b>") == std::string::npos);
}

TEST_CASE("runs_page_html survives missing and ill-typed input") {
  for (const json& j : {json(nullptr), json::array(), json("x"), json{{"name", 3}},
                        json{{"runs", 5}}, json{{"name", "a"}, {"runs", json::array()}}}) {
    std::string html = concord::serve::runs_page_html(j);
    CHECK(html.find("No runs yet.") != std::string::npos);
    CHECK(html.find("</html>") != std::string::npos);
  }
}

TEST_CASE("status_page_html is self-contained") {
  const std::string html = concord::serve::status_page_html();
  // No absolute URL at all, so none to another host; no protocol-relative links either.
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK_FALSE(std::regex_search(html, std::regex(R"((src|href|action)\s*=\s*["']?//)")));
  CHECK_FALSE(std::regex_search(
      html, std::regex(R"(<(link|script|img|iframe)[^>]*\s(src|href)=["']?[^"'d])")));
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  // The page holds no secret: the session cookie is HttpOnly, and nothing is stored.
  CHECK(html.find("token=") == std::string::npos);
  CHECK(html.find("localStorage") == std::string::npos);
  CHECK(html.find("sessionStorage") == std::string::npos);
  CHECK(html.find("document.cookie") == std::string::npos);
  // Phone and dark mode.
  CHECK(html.find("name=\"viewport\"") != std::string::npos);
  CHECK(html.find("prefers-color-scheme:dark") != std::string::npos);
  CHECK(html.find("max-width:640px") != std::string::npos);
  CHECK(html.find("connect-src 'self'") != std::string::npos);
}

// ---- in the browser -----------------------------------------------------------------------------

TEST_CASE("the status page in headless Chromium") {
  // CHROMIUM_BIN and CHROMEDRIVER_BIN override where the browser and the driver are.
  concord::testing::WebDriverOptions options;
  if (const char* bin = std::getenv("CHROMIUM_BIN")) options.chromium = bin;
  if (const char* bin = std::getenv("CHROMEDRIVER_BIN")) options.chromedriver = bin;
  std::string why;
  if (!WebDriver::available(&why, options)) {
    std::cout << "SKIP the browser test: " << why << "\n";
    g_browser_skipped = true;
    return;
  }
  using namespace std::chrono_literals;
  FakeDaemon daemon;
  WebDriver browser(options);
  const std::string base = daemon.base();

  browser.navigate(base + "/_test/login");  // the session cookie, then the page
  CHECK(browser.current_url() == base + "/");
  CHECK(browser.title() == "concord \u2014 scheduled jobs");
  CHECK(browser.text(browser.find("header h1")) == "concord");

  // Both rows, from the API.
  browser.wait_for_text(row("newsletter", ".run-id"), "#12");
  browser.wait_for_text(row("volunteers", ".run-id"), "#4");
  CHECK(browser.find_all("#rows tr").size() == 2);
  CHECK(browser.text(browser.find(row("newsletter", ".sync-name"))) == "newsletter");
  CHECK(browser.text(browser.find(row("newsletter", ".result"))) == "done-with-failures");
  CHECK(browser.attribute(browser.find(row("newsletter", ".result")), "class") ==
        "result r-done-with-failures");
  CHECK(browser.text(browser.find(row("newsletter", ".state"))) == "idle");
  CHECK(browser.text(browser.find(row("newsletter", ".schedule"))) == "every 30m");
  CHECK(browser.text(browser.find(row("newsletter", ".duration"))) == "3.2 s");
  CHECK(squash(browser.text(browser.find(row("newsletter", ".counts")))) ==
        "9 applied 1 failed 0 refused 2 report rows");
  CHECK(browser.attribute(browser.find(row("newsletter", ".created time")), "title") ==
        "2026-11-01T10:00:00Z");
  CHECK(browser.attribute(browser.find(row("newsletter", ".last-run time")), "title") ==
        "2026-11-23T10:00:00Z");
  CHECK(browser.attribute(browser.find(row("newsletter", ".next-run time")), "datetime") ==
        "2026-11-23T10:30:00Z");
  // Shown in the browser's local time (the test's TZ is whatever the machine's is): the text is
  // not the ISO value, and holds the local hour the page computed.
  {
    json local = browser.execute_script(
        "var d = new Date('2026-11-23T10:00:00Z');"
        "return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);");
    std::string started = browser.text(browser.find(row("newsletter", ".last-run time")));
    CHECK(started.find(local.get<std::string>()) != std::string::npos);
    CHECK(started.find("2026-11-23T") == std::string::npos);
  }
  auto toggle_a = browser.find(row("newsletter", "input.toggle"));
  CHECK(browser.property(toggle_a, "checked") == true);
  CHECK(browser.attribute(toggle_a, "role") == "switch");
  CHECK(browser.attribute(toggle_a, "type") == "checkbox");
  CHECK(browser
            .execute_script("return arguments[0].labels[0].textContent;",
                            json::array({WebDriver::element_ref(toggle_a)}))
            .get<std::string>()
            .find("Enabled: newsletter") != std::string::npos);
  CHECK(browser.attribute(browser.find(row("newsletter", "a.report")), "href") ==
        "/syncs/newsletter/runs/12/report.html");
  CHECK(browser.attribute(browser.find(row("newsletter", "a.history")), "href") ==
        "/syncs/newsletter/runs");

  CHECK(browser.text(browser.find(row("volunteers", ".state"))) == "disabled");
  CHECK(browser.property(browser.find(row("volunteers", "input.toggle")), "checked") == false);
  CHECK(browser.text(browser.find(row("volunteers", ".result"))) == "stopped-by-guard");
  CHECK(browser.text(browser.find(row("volunteers", ".duration"))) == "1 min 5 s");
  CHECK(browser.text(browser.find(row("volunteers", ".next-run"))) == "next: off");
  CHECK(browser.text(browser.find(row("volunteers", ".schedule"))) == "daily at 02:00 <b>UTC</b>");
  CHECK(browser.find_all(row("volunteers", ".schedule b")).empty());
  CHECK(browser.property(browser.find("#error"), "hidden") == true);

  // The streams' table, below the pairs: counts, drops by reason, the last error as text.
  const std::string stream_row = "#stream-rows tr[data-stream=\"product\"] ";
  browser.wait_for_text(stream_row + ".s-forwarded", "100");
  CHECK(browser.property(browser.find("#streams-panel"), "hidden") == false);
  CHECK(browser.text(browser.find(stream_row + ".s-accepted")) == "120");
  CHECK(browser.text(browser.find(stream_row + ".s-queued")) == "8");
  CHECK(squash(browser.text(browser.find(stream_row + ".s-dropped"))) ==
        "12 anonymous 2, not member 10");
  CHECK(squash(browser.text(browser.find(stream_row + ".s-error")))
            .rfind("sending member events: <b>503</b>", 0) == 0);
  CHECK(browser.find_all(stream_row + ".s-error b").empty());
  CHECK(squash(browser.text(browser.find(stream_row + ".s-error"))).find("favourite_colour") !=
        std::string::npos);

  // The page is not reloaded by anything below: a marker set now must survive.
  browser.execute_script("window.__notReloaded = true;");

  // Off and on again: the API's model follows, and so does the row.
  browser.click(toggle_a);
  browser.wait_for_text(row("newsletter", ".state"), "disabled");
  browser.wait_for([&] { return !daemon.enabled("newsletter"); }, 5s, "newsletter disabled");
  CHECK(browser.property(toggle_a, "checked") == false);
  CHECK(browser.text(browser.find(row("newsletter", ".next-run"))) == "next: off");
  browser.click(toggle_a);
  browser.wait_for_text(row("newsletter", ".state"), "idle");
  browser.wait_for([&] { return daemon.enabled("newsletter"); }, 5s, "newsletter enabled");
  CHECK(browser.property(toggle_a, "checked") == true);

  // Run now: a new run appears (running, then done) without a reload.
  browser.click(browser.find(row("newsletter", "button.run-now")));
  browser.wait_for_text(row("newsletter", ".run-id"), "#13", 10s);
  CHECK(daemon.run_requests() == 1);
  browser.wait_for_text(row("newsletter", ".result"), "done", 20s);
  browser.wait_for_text(row("newsletter", ".state"), "idle", 10s);
  CHECK(squash(browser.text(browser.find(row("newsletter", ".counts")))) ==
        "3 applied 0 failed 0 refused 0 report rows");
  CHECK(browser.property(browser.find(row("newsletter", "button.run-now")), "disabled") == false);
  CHECK(browser.attribute(browser.find(row("newsletter", "a.report")), "href") ==
        "/syncs/newsletter/runs/13/report.html");
  CHECK(browser.execute_script("return window.__notReloaded === true;") == true);
  CHECK(browser.find_all("#rows tr").size() == 2);

  // Nothing was fetched from anywhere but the daemon.
  {
    json urls = browser.execute_script(
        "return performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource')).map(function (e) { return e.name; });");
    json origin = browser.execute_script("return location.origin;");
    REQUIRE(origin == base);
    REQUIRE(urls.is_array());
    bool saw_api = false;
    for (const auto& u : urls) {
      INFO("resource " << u.dump());
      CHECK(u.get<std::string>().rfind(base + "/", 0) == 0);
      saw_api = saw_api || u.get<std::string>().rfind(base + "/api/syncs", 0) == 0;
    }
    CHECK(saw_api);
  }
  // Every API call carried the session cookie, and no token in its URL; POSTs are JSON.
  {
    int api_calls = 0;
    for (const auto& r : daemon.requests()) {
      std::string target = r["target"];
      INFO(r.dump());
      if (target.rfind("/api/", 0) != 0) continue;
      ++api_calls;
      CHECK(r["session"] == true);
      CHECK(target.find("token") == std::string::npos);
      if (r["method"] == "POST")
        CHECK(r["content_type"].get<std::string>().rfind("application/json", 0) == 0);
    }
    CHECK(api_calls >= 5);
  }

  // At 1200 px the table fits: nothing scrolls sideways.
  CHECK(browser.execute_script("var p = document.querySelector('.panel');"
                               "return document.documentElement.scrollWidth <= window.innerWidth &&"
                               "       p.scrollWidth <= p.clientWidth;") == true);
  auto shot = write_screenshot(browser, "status-page.png");
  CHECK(std::filesystem::file_size(shot) > 1000);

  // A phone: the table becomes cards.
  browser.cdp("Emulation.setDeviceMetricsOverride",
              {{"width", 390}, {"height", 844}, {"deviceScaleFactor", 2}, {"mobile", true}});
  browser.wait_for(
      [&] {
        return browser.execute_script(
                   "return getComputedStyle(document.querySelector('#rows tr')).display;") ==
               "block";
      },
      5s, "rows shown as cards");
  CHECK(browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth;") == true);
  write_screenshot(browser, "status-page-phone.png");
  // Dark.
  browser.cdp("Emulation.setEmulatedMedia",
              {{"features", json::array({{{"name", "prefers-color-scheme"}, {"value", "dark"}}})}});
  CHECK(browser.execute_script("return getComputedStyle(document.body).backgroundColor;") ==
        "rgb(15, 17, 21)");
  write_screenshot(browser, "status-page-phone-dark.png");
  browser.cdp("Emulation.clearDeviceMetricsOverride", json::object());
  browser.cdp("Emulation.setEmulatedMedia", {{"features", json::array()}});

  // The history link to the server-rendered runs table.
  browser.click(browser.find(row("newsletter", "a.history")));
  browser.find("#runs", 10s);
  CHECK(browser.current_url() == base + "/syncs/newsletter/runs");
  CHECK(browser.find_all("#runs tbody tr").size() == 3);
  CHECK(browser.text(browser.find("tr[data-run=\"13\"] .result")) == "done");
  CHECK(browser.text(browser.find("tr[data-run=\"12\"] .result")) == "done-with-failures");
  CHECK(browser.text(browser.find("tr[data-run=\"12\"] .run-id")) == "#12");
  CHECK(browser.attribute(browser.find("tr[data-run=\"12\"] time"), "title") ==
        "2026-11-23T10:00:00Z");
  CHECK(browser.attribute(browser.find("tr[data-run=\"12\"] a.report"), "href") ==
        "/syncs/newsletter/runs/12/report.html");
  CHECK(browser.attribute(browser.find("a.crumb-home, .crumbs a"), "href") == "/");
  write_screenshot(browser, "status-page-history.png");
  browser.click(browser.find("tr[data-run=\"12\"] a.report"));
  browser.wait_for_text("#report", "report of newsletter run 12");

  // Without a session the page sends the browser to the login form.
  browser.navigate(base + "/_test/logout");
  browser.wait_for([&] { return browser.current_url() == base + "/login"; }, 10s, "the login form");
  browser.find("input#token[type=password]");
}

int main(int argc, char** argv) {
  int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && g_browser_skipped) {
    std::cout << "the browser test was skipped: exit 77\n";
    return 77;
  }
  return failed;
}
