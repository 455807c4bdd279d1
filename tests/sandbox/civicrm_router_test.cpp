// The CiviCRM emulator beside the Mailchimp one: the router's one state document, the request log,
// performance on a large group, and the API over real sockets with TLS (docs/sandbox.md).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "civicrm_site.h"
#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/request_log.h"
#include "sandbox/router.h"
#include "sandbox_fixture.h"

using namespace concord::testing::civicrm_site;
using concord::Status;
using concord::testing::TempDir;

// ---- the router: both parts, one state document -------------------------------------------------

namespace {
struct Both {
  sb::SandboxClock clock;
  std::unique_ptr<sb::MailchimpSandbox> mc;
  std::unique_ptr<sb::CivicrmSandbox> civi;
  std::unique_ptr<sb::SandboxRouter> router;

  Both() {
    clock.fix(T("2026-03-01T00:00:00+00:00"));
    auto loaded = sb::parse_seed(fixture(), clock.now());
    REQUIRE(loaded.is_ok());
    auto site = sb::parse_civicrm_seed(fixture(), clock.now());
    REQUIRE(site.is_ok());
    mc = std::make_unique<sb::MailchimpSandbox>(std::move(loaded->account), &clock);
    civi = std::make_unique<sb::CivicrmSandbox>(std::move(site).value(), &clock);
    router = std::make_unique<sb::SandboxRouter>(mc.get(), civi.get(), &clock);
  }
  http::Response call(bool civicrm_port, const std::string& method, const std::string& target,
                      const std::string& body = "", Headers headers = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    http::Peer peer{"127.0.0.1", true};
    return (civicrm_port ? router->civicrm_port(r, peer) : router->mailchimp_port(r, peer))
        .response;
  }
  int contacts() {
    Headers h = auth_headers();
    h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    auto r =
        call(true, "POST", "/civicrm/ajax/api4/Contact/get", form({{"select", {"row_count"}}}), h);
    return json::parse(r.body)["count"];
  }
};
}  // namespace

TEST_CASE("router: one state document, one reset, one clock, faults per part") {
  Both b;
  // The state from either port holds both parts, and reloads into both.
  auto st = b.call(false, "GET", "/_sandbox/state");
  REQUIRE(st.status == 200);
  json doc = json::parse(st.body);
  CHECK(doc["mailchimp"]["lists"][0]["id"] == "b3d1c0ffee");
  CHECK(doc["civicrm"]["groups"][0]["name"] == "newsletter");
  CHECK(doc["clock"] == "2026-03-01T00:00:00+00:00");
  CHECK(json::parse(b.call(true, "GET", "/_sandbox/state").body) == doc);
  CHECK(b.router->state_document() == st.body);

  // A reset with a bad CiviCRM part changes neither part.
  json bad = doc;
  bad["civicrm"]["contacts"][0]["emails"][0]["on_hold"] = 7;
  auto r = b.call(true, "POST", "/_sandbox/reset", bad.dump());
  CHECK(r.status == 400);
  CHECK(json::parse(r.body)["detail"] ==
        "seed: civicrm.contacts[0].emails[0].on_hold: expected 0, 1 or 2");
  CHECK(b.contacts() == 11);
  // ... and a bad Mailchimp part neither.
  json bad_mc = doc;
  bad_mc["mailchimp"]["lists"][0]["members"][0]["status"] = "gone";
  CHECK(b.call(false, "POST", "/_sandbox/reset", bad_mc.dump()).status == 400);
  CHECK(b.contacts() == 11);
  // A good reset replaces both and answers both parts' counts.
  json small = {
      {"mailchimp", {{"lists", json::array()}}},
      {"civicrm", {{"api_key", kKey}, {"site_key", kSiteKey}, {"contacts", {{{"id", 1}}}}}}};
  auto ok = b.call(false, "POST", "/_sandbox/reset", small.dump());
  REQUIRE(ok.status == 200);
  json counts = json::parse(ok.body);
  CHECK(counts["lists"] == 0);
  CHECK(counts["civicrm"]["contacts"] == 1);
  CHECK(b.contacts() == 1);
  // The whole document reloads exactly.
  CHECK(b.call(true, "POST", "/_sandbox/reset", doc.dump()).status == 200);
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/state").body) == doc);

  // One clock for both parts, set from either port.
  auto clk = b.call(true, "POST", "/_sandbox/clock", R"({"now":"2026-07-01T11:30:00Z"})");
  REQUIRE(clk.status == 200);
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/clock").body)["now"] ==
        "2026-07-01T11:30:00+00:00");
  Headers h = auth_headers();
  h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  auto created = b.call(true, "POST", "/civicrm/ajax/api4/SubscriptionHistory/create",
                        form({{"values", {{"contact_id", 105}, {"status", "Added"}}}}), h);
  CHECK(json::parse(created.body)["values"][0]["date"] == "2026-07-01 12:30:00");

  // Faults: the port's own part by default, the other with "part".
  CHECK(b.call(true, "POST", "/_sandbox/faults", R"({"next":["503"]})").status == 200);
  CHECK(json::parse(b.call(true, "GET", "/_sandbox/faults").body)["next"] == json::array({"503"}));
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/faults?part=civicrm").body)["next"] ==
        json::array({"503"}));
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/faults").body)["next"] == json::array());
  CHECK(b.call(false, "POST", "/_sandbox/faults", R"({"part":"civicrm","next":["500"]})").status ==
        200);
  CHECK(b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", "", h).status == 500);
  CHECK(b.call(true, "POST", "/_sandbox/faults?part=mailchimp", R"({"next":["503"]})").status ==
        200);
  CHECK(b.call(false, "GET", "/3.0/ping", "",
               {{"Authorization", "Bearer 0123456789abcdef0123456789abcdef-us6"}})
            .status == 503);
  CHECK(b.call(true, "POST", "/_sandbox/faults?part=nope", "{}").status == 400);
  // Generations move with changes of either part.
  std::uint64_t g = b.router->generation();
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/create",
         form({{"values", {{"first_name", "G"}}}}), h);
  CHECK(b.router->generation() > g);
}

// ---- the request log --------------------------------------------------------------------------

namespace {
constexpr const char* kMcAuth = "Bearer 0123456789abcdef0123456789abcdef-us6";

json log_of(Both& b, const std::string& query = "") {
  auto r = b.call(false, "GET", "/_sandbox/requests" + (query.empty() ? "" : "?" + query));
  INFO(query << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}
std::vector<std::uint64_t> seqs(const json& log) {
  std::vector<std::uint64_t> out;
  for (const json& e : log["requests"])
    out.push_back(e["seq"].get<std::uint64_t>());
  return out;
}
using Seqs = std::vector<std::uint64_t>;
}  // namespace

TEST_CASE("request log: every API request of both parts, filtered, cleared by a reset") {
  Both b;
  Headers civi = auth_headers();
  civi.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  Headers mc = {{"Authorization", kMcAuth}};
  json empty = log_of(b);
  CHECK(empty["requests"] == json::array());
  CHECK(empty["next_seq"] == 0);

  std::string member = R"({"email_address":"betty@bedrock.org","status":"subscribed"})";
  CHECK(b.call(false, "GET", "/3.0/ping", "", mc).status == 200);
  CHECK(
      b.call(false, "POST", "/3.0/lists/b3d1c0ffee/members?skip_merge_validation=true", member, mc)
          .status == 200);
  std::string get = form({{"select", {"row_count"}}});
  CHECK(b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, civi).status == 200);
  CHECK(
      b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, {{"X-Civi-Auth", "Bearer nope"}})
          .status == 401);
  // Admin routes are not logged, from either port.
  CHECK(b.call(true, "GET", "/_sandbox/state").status == 200);
  CHECK(b.call(false, "GET", "/_sandbox/faults").status == 200);

  json log = log_of(b);
  REQUIRE(log["requests"].size() == 4);
  CHECK(log["next_seq"] == 4);
  const json& e = log["requests"];
  CHECK(seqs(log) == Seqs{1, 2, 3, 4});
  CHECK(e[0]["part"] == "mailchimp");
  CHECK(e[0]["method"] == "GET");
  CHECK(e[0]["path"] == "/3.0/ping");
  CHECK(e[0]["body"] == "");
  CHECK(e[0]["status"] == 200);
  CHECK(e[0]["at"] == "2026-03-01T00:00:00.000+00:00");
  CHECK(e[0]["ms"].get<double>() >= 0);
  CHECK_FALSE(e[0].contains("fault"));
  CHECK_FALSE(e[0].contains("body_truncated"));
  CHECK(e[1]["path"] == "/3.0/lists/b3d1c0ffee/members?skip_merge_validation=true");
  CHECK(e[1]["method"] == "POST");
  CHECK(e[1]["body"] == member);
  CHECK(e[2]["part"] == "civicrm");
  CHECK(e[2]["path"] == "/civicrm/ajax/api4/Contact/get");
  CHECK(e[2]["body"] == get);
  CHECK(e[2]["status"] == 200);
  CHECK(e[3]["status"] == 401);
  // The answer is the same from the other port.
  CHECK(json::parse(b.call(true, "GET", "/_sandbox/requests").body) == log);

  // Filters.
  CHECK(seqs(log_of(b, "part=civicrm")) == Seqs{3, 4});
  CHECK(seqs(log_of(b, "part=mailchimp&method=post")) == Seqs{2});
  CHECK(seqs(log_of(b, "method=GET")) == Seqs{1});
  CHECK(seqs(log_of(b, "path_prefix=/3.0/lists")) == Seqs{2});
  CHECK(seqs(log_of(b, "path_prefix=/3.0/lists/b3d1c0ffee/members?skip")).empty());  // no query
  CHECK(seqs(log_of(b, "path_prefix=%2Fcivicrm%2Fajax")) == Seqs{3, 4});
  CHECK(seqs(log_of(b, "since=2")) == Seqs{3, 4});
  CHECK(log_of(b, "since=2")["next_seq"] == 4);
  CHECK(log_of(b, "since=9")["next_seq"] == 9);
  // limit: a page, and next_seq to continue from.
  json page = log_of(b, "limit=3&part=civicrm");
  CHECK(seqs(page) == Seqs{3, 4});
  page = log_of(b, "limit=1");
  CHECK(seqs(page) == Seqs{1});
  CHECK(page["next_seq"] == 1);
  CHECK(page["more"] == true);
  page = log_of(b, "limit=2&since=" + page["next_seq"].dump());
  CHECK(seqs(page) == Seqs{2, 3});
  CHECK(page["next_seq"] == 3);
  page = log_of(b, "limit=2&since=3");
  CHECK(seqs(page) == Seqs{4});
  CHECK_FALSE(page.contains("more"));
  // limit=0: only the position.
  page = log_of(b, "limit=0");
  CHECK(page["requests"] == json::array());
  CHECK(page["next_seq"] == 4);
  CHECK(log_of(b, "count_only=true") == json{{"count", 4}});
  CHECK(log_of(b, "count_only=true&part=mailchimp&since=1") == json{{"count", 1}});
  // Bad parameters and methods.
  for (const char* bad : {"part=hubspot", "since=-1", "since=x", "limit=many", "count_only=yes"}) {
    INFO(bad);
    auto r = b.call(false, "GET", std::string("/_sandbox/requests?") + bad);
    CHECK(r.status == 400);
    CHECK(r.header("Content-Type") == "application/problem+json; charset=utf-8");
  }
  CHECK(b.call(true, "POST", "/_sandbox/requests").status == 405);
  http::Request remote;
  remote.target = "/_sandbox/requests";
  CHECK(b.router->mailchimp_port(remote, http::Peer{"192.0.2.7", false}).response.status == 403);

  // Injected faults are marked; a reset is status 0.
  CHECK(b.call(false, "POST", "/_sandbox/faults",
               R"({"next":["503","reset","reset_after","truncate","delay:5","none"]})")
            .status == 200);
  CHECK(b.call(false, "POST", "/_sandbox/faults?part=civicrm", R"({"next":["500"]})").status ==
        200);
  for (int i = 0; i < 6; ++i)
    b.call(false, "GET", "/3.0/ping", "", mc);
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, civi);
  json faulted = log_of(b, "since=4")["requests"];
  REQUIRE(faulted.size() == 7);
  CHECK(faulted[0]["status"] == 503);
  CHECK(faulted[0]["fault"] == "503");
  CHECK(faulted[1]["status"] == 0);
  CHECK(faulted[1]["fault"] == "reset");
  CHECK_FALSE(faulted[1].contains("unsent_status"));
  CHECK(faulted[2]["status"] == 0);
  CHECK(faulted[2]["fault"] == "reset_after");
  CHECK(faulted[2]["unsent_status"] == 200);  // carried out, not answered
  CHECK(faulted[3]["status"] == 200);
  CHECK(faulted[3]["fault"] == "truncate");
  CHECK(faulted[4]["fault"] == "delay:5");
  CHECK(faulted[4]["ms"].get<double>() >= 5);
  CHECK_FALSE(faulted[5].contains("fault"));  // "none"
  CHECK(faulted[6]["part"] == "civicrm");
  CHECK(faulted[6]["status"] == 500);
  CHECK(faulted[6]["fault"] == "500");

  // Bodies: cut at 1 MiB (not inside a UTF-8 character); bytes that are not UTF-8 shown as U+FFFD.
  std::string big(sb::RequestLog::kMaxBodyBytes - 1, 'a');
  big += "\xc3\xa9" + std::string(1000, 'b');
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", big, civi);
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", "params=\xff{}", civi);
  json bodies = log_of(b, "since=11")["requests"];
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0]["body_truncated"] == true);
  CHECK(bodies[0]["body"].get<std::string>() ==
        std::string(sb::RequestLog::kMaxBodyBytes - 1, 'a'));
  CHECK(bodies[1]["body"] == "params=\xef\xbf\xbd{}");
  CHECK_FALSE(bodies[1].contains("body_truncated"));

  // DELETE clears it and the numbering goes on; a bad reset keeps it, a good one clears it.
  CHECK(b.call(true, "DELETE", "/_sandbox/requests").status == 204);
  CHECK(log_of(b)["requests"] == json::array());
  CHECK(log_of(b)["next_seq"] == 13);
  b.call(false, "GET", "/3.0/ping", "", mc);
  CHECK(seqs(log_of(b)) == Seqs{14});
  CHECK(b.call(false, "POST", "/_sandbox/reset", "{\"mailchimp\":7}").status == 400);
  CHECK(log_of(b, "count_only=true")["count"] == 1);
  CHECK(b.call(false, "POST", "/_sandbox/reset", fixture()).status == 200);
  CHECK(log_of(b, "count_only=true")["count"] == 0);
}

TEST_CASE("both APIs answer with a Date header by the sandbox clock, errors included") {
  Both b;
  Headers civi = auth_headers();
  civi.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  // The clock is fixed at 2026-03-01T00:00:00Z, a Sunday.
  const std::string at = "Sun, 01 Mar 2026 00:00:00 GMT";
  CHECK(b.call(false, "GET", "/3.0/ping", "", {{"Authorization", kMcAuth}}).header("Date") == at);
  CHECK(b.call(false, "GET", "/3.0/ping").header("Date") == at);  // 401
  std::string get = form({{"select", {"row_count"}}});
  CHECK(b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, civi).header("Date") == at);
}

TEST_CASE("request log: bounded to the last 200000 entries, and cheap to write") {
  sb::RequestLog log;
  http::Request get;
  get.target = "/3.0/lists/b3d1c0ffee/members?count=1000";
  http::Request post;
  post.method = "POST";
  post.target = "/3.0/lists/b3d1c0ffee";
  post.body = std::string(2000, 'x');
  http::Reply ok;
  ok.response.status = 200;
  const std::size_t n = sb::RequestLog::kMaxEntries + 5;
  auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i)
    log.record(sb::ApiPart::kMailchimp, i % 2 ? post : get, ok, "", 0, 0.001);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  WARN("request log: " << n << " entries recorded in " << took.count() << " s ("
                       << took.count() / static_cast<double>(n) * 1e6 << " µs each)");
  CHECK(took.count() < 5.0);
  CHECK(log.size() == sb::RequestLog::kMaxEntries);
  auto page = log.answer("limit=2");
  REQUIRE(page.is_ok());
  json j = json::parse(*page);
  CHECK(j["requests"][0]["seq"] == 6);  // the five oldest were dropped
  CHECK(j["requests"][0]["at"] == "1970-01-01T00:00:00.000+00:00");
  CHECK(json::parse(log.answer("limit=1000000").value())["requests"].size() ==
        sb::RequestLog::kMaxLimit);
  auto all = log.answer("since=0&count_only=1&method=POST");
  CHECK(json::parse(*all)["count"] == sb::RequestLog::kMaxEntries / 2);
}

// ---- performance -------------------------------------------------------------------------------

namespace {
// n contacts, each with one email and an Added history row in group 42 (every 7th removed later).
std::string big_seed(int n) {
  std::string s = R"({"civicrm":{"api_key":"k","site_key":"s","timezone":"Europe/London",)"
                  R"("groups":[{"id":42,"name":"newsletter","title":"Newsletter"}],"contacts":[)";
  s.reserve(static_cast<std::size_t>(n) * 260);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) s += ',';
    std::string id = std::to_string(i);
    s += R"({"id":)" + id + R"(,"first_name":"Person","last_name":"Number )" + id +
         R"(","created_date":"2025-01-01 00:00:00","emails":[{"email":"person.)" + id +
         R"(@bedrock.org","is_primary":true}]})";
  }
  s += R"(],"subscription_history":[)";
  for (int i = 1; i <= n; ++i) {
    if (i > 1) s += ',';
    s += R"({"contact_id":)" + std::to_string(i) +
         R"(,"group_id":42,"status":"Added","date":"2025-06-01 10:00:00","method":"Admin"})";
  }
  for (int i = 7; i <= n; i += 7) {
    s += R"(,{"contact_id":)" + std::to_string(i) +
         R"(,"group_id":42,"status":"Removed","date":"2026-01-01 10:00:00","method":"Admin"})";
  }
  s += "]}}";
  return s;
}
}  // namespace

TEST_CASE("performance: 1000-row pages of a large group with joins, and Email batches") {
  // CONCORD_CIVICRM_PERF_CONTACTS=1000000 measures the benchmark's size.
  const char* env = std::getenv("CONCORD_CIVICRM_PERF_CONTACTS");
  const int n = env ? std::atoi(env) : 100000;
  std::string seed = big_seed(n);
  auto t0 = std::chrono::steady_clock::now();
  auto site = sb::parse_civicrm_seed(seed, T("2026-03-01T00:00:00+00:00"));
  auto t1 = std::chrono::steady_clock::now();
  INFO(site.status().to_string());
  REQUIRE(site.is_ok());
  sb::SandboxClock clock;
  clock.fix(T("2026-03-01T00:00:00+00:00"));
  sb::CivicrmSandbox civi(std::move(site).value(), &clock);
  auto call = [&](const char* entity, const json& params) {
    http::Request r;
    r.method = "POST";
    r.target = std::string("/civicrm/ajax/api4/") + entity + "/get";
    r.headers = {{"X-Civi-Auth", "Bearer k"},
                 {"X-Civi-Key", "s"},
                 {"Content-Type", "application/x-www-form-urlencoded"}};
    r.body = form(params);
    auto resp = civi.handle(r, http::Peer{"127.0.0.1", true}).response;
    REQUIRE(resp.status == 200);
    return resp;
  };
  auto gc_page = [&](int offset) {
    return call("GroupContact",
                {{"select",
                  {"contact_id", "status", "contact_id.is_deleted", "contact_id.do_not_email",
                   "contact_id.is_opt_out", "contact_id.first_name", "contact_id.last_name"}},
                 {"where", {{"group_id", "=", 42}, {"contact_id.is_deleted", "=", false}}},
                 {"orderBy", {{"contact_id", "ASC"}}},
                 {"limit", 1000},
                 {"offset", offset}});
  };
  auto sh_page = [&](int offset) {
    return call("SubscriptionHistory",
                {{"select", {"id", "contact_id", "group_id", "status", "date", "method"}},
                 {"where", {{"group_id", "IN", {42}}, {"date", ">=", "2025-01-01 00:00:00"}}},
                 {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
                 {"limit", 1000},
                 {"offset", offset}});
  };
  auto t2 = std::chrono::steady_clock::now();
  gc_page(0);
  sh_page(0);
  auto t3 = std::chrono::steady_clock::now();
  const int pages = 50;
  std::string last;
  for (int i = 1; i <= pages; ++i)
    last = gc_page(i * 1000).body;
  auto t4 = std::chrono::steady_clock::now();
  CHECK(json::parse(last)["values"].size() == 1000);
  for (int i = 1; i <= pages; ++i)
    sh_page(i * 1000);
  auto t5 = std::chrono::steady_clock::now();
  // Batches of 1000 contact ids, as a client reads the emails of a page of members.
  const int batches = 20;
  std::vector<json> wheres;
  for (int b = 0; b < batches; ++b) {
    json in = json::array();
    for (int i = 0; i < 1000; ++i)
      in.push_back(1 + (b * 1000 + i) % n);
    wheres.push_back(A({A({"contact_id", "IN", in}), A({"contact_id.is_deleted", "=", false})}));
  }
  auto t5b = std::chrono::steady_clock::now();
  std::string emails;
  for (int b = 0; b < batches; ++b) {
    emails =
        call("Email", {{"select", {"contact_id", "email", "is_primary", "is_bulkmail", "on_hold"}},
                       {"where", wheres[static_cast<std::size_t>(b)]}})
            .body;
  }
  auto t6 = std::chrono::steady_clock::now();
  CHECK(json::parse(emails)["count"] == 1000);
  // Keyset paging in id order reads only its page.
  std::string keyset;
  for (int k = 1; k <= 10; ++k) {
    keyset = call("GroupContact", {{"select", {"contact_id"}},
                                   {"where", {{"group_id", "=", 42}, {"id", ">", n - k * 5000}}},
                                   {"orderBy", {{"id", "ASC"}}},
                                   {"limit", 1000}})
                 .body;
  }
  auto t7 = std::chrono::steady_clock::now();
  CHECK(json::parse(keyset)["values"].size() == 1000);
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  double gc_per_page = ms(t3, t4) / pages, sh_per_page = ms(t4, t5) / pages;
  WARN("seed " << n << " contacts: " << ms(t0, t1)
               << " ms; first pages (build the orders): " << ms(t2, t3) << " ms; then GroupContact "
               << gc_per_page << " ms and SubscriptionHistory " << sh_per_page
               << " ms per 1000-row page; Email IN [1000]: " << ms(t5b, t6) / batches
               << " ms; keyset page: " << ms(t6, t7) / 10 << " ms");
  CHECK(gc_per_page < 100);  // a few ms in an optimised build; generous for debug builds
  CHECK(sh_per_page < 100);
}

// ---- over real sockets --------------------------------------------------------------------------

TEST_CASE("sockets: the API over TLS with http::Client") {
  TempDir dir;
  REQUIRE(http::write_test_certificates(dir.path.string()).is_ok());
  Both b;
  http::ServerOptions so;
  so.cert_file = dir.file("server.pem");
  so.key_file = dir.file("server.key");
  auto server = http::Server::start(so, [&](const http::Request& r, const http::Peer& p) {
    return b.router->civicrm_port(r, p);
  });
  REQUIRE(server.is_ok());
  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string((*server)->port()));
  REQUIRE(url.is_ok());
  http::ClientOptions co;
  co.ca_file = dir.file("ca.pem");
  co.retry.max_attempts = 3;
  co.retry.base_delay = std::chrono::milliseconds(1);
  co.retry.max_delay = std::chrono::milliseconds(2);
  auto client = http::Client::create(*url, co);
  REQUIRE(client.is_ok());
  auto send = [&](const std::string& method, const std::string& target, const std::string& body,
                  Headers headers) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    auto resp = (*client)->send(r);
    INFO(resp.status().to_string());
    REQUIRE(resp.is_ok());
    return std::move(resp).value();
  };
  Headers h = auth_headers();
  h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  auto got =
      send("POST", "/civicrm/ajax/api4/GroupContact/get",
           form({{"select", {"contact_id"}}, {"where", {{"group_id", "=", 42}}}, {"limit", 3}}), h);
  CHECK(got.status == 200);
  CHECK(ids(json::parse(got.body)["values"], "contact_id") == Ids{101, 102, 103});
  auto saved =
      send("POST", "/civicrm/ajax/api4/GroupContact/save",
           form({{"records", {{{"group_id", 42}, {"contact_id", 105}, {"status", "Added"}}}},
                 {"match", {"group_id", "contact_id"}}}),
           h);
  CHECK(saved.status == 200);
  auto denied =
      send("POST", "/civicrm/ajax/api4/Contact/get", "", {{"X-Civi-Auth", "Bearer nope"}});
  CHECK(denied.status == 401);
  CHECK(denied.body == "HTTP 401 Invalid credential");
  auto get405 = send("GET", "/civicrm/ajax/api4/Contact/delete", "", h);
  CHECK(get405.status == 405);
  // A reset fault and a truncated body are retried by the client; the write happens once.
  CHECK(send("POST", "/_sandbox/faults", R"({"next":["reset","truncate"]})", {}).status == 200);
  std::uint64_t before = (*client)->attempts();
  auto retried =
      send("POST", "/civicrm/ajax/api4/Contact/get", form({{"select", {"row_count"}}}), h);
  CHECK(retried.status == 200);
  CHECK(json::parse(retried.body)["count"] == 11);
  CHECK((*client)->attempts() - before == 3);
  // The sandbox's log shows the three attempts: a reset, a truncated answer, then the answer.
  json log = json::parse(
      send("GET", "/_sandbox/requests?method=POST&path_prefix=/civicrm/ajax/api4/Contact/get", "",
           {})
          .body)["requests"];
  REQUIRE(log.size() == 4);  // the 401 above, then the three
  CHECK(log[1]["status"] == 0);
  CHECK(log[1]["fault"] == "reset");
  CHECK(log[2]["status"] == 200);
  CHECK(log[2]["fault"] == "truncate");
  CHECK(log[3]["status"] == 200);
  CHECK_FALSE(log[3].contains("fault"));
  CHECK(log[3]["body"] == form({{"select", {"row_count"}}}));
  (*server)->stop();
}
