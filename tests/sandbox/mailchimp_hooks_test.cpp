// The sandbox's Mailchimp emulator: webhooks (registration, deliveries, member hooks), the seed,
// state, clock and persistence, performance, and the API over real sockets with TLS
// (docs/sandbox.md).
#include <atomic>

#include "mailchimp_site.h"

using namespace concord::testing::mailchimp_site;

// ---- webhooks -----------------------------------------------------------------------------------

TEST_CASE("webhooks: registration is validated by a GET; failures are 400") {
  Box box;
  std::string hooks = std::string("/3.0/lists/") + kListId + "/webhooks";
  auto r = box.call(
      "POST", hooks,
      R"({"url":"https://crm.bedrock.org/hooks/mc?key=s3cr3t","events":{"subscribe":true,"unsubscribe":true},"sources":{"user":true,"admin":true,"api":false}})");
  REQUIRE(r.status == 200);
  json w = body_of(r);
  CHECK(w["id"].get<std::string>().size() == 10);
  CHECK(w["events"] == json{{"subscribe", true},
                            {"unsubscribe", true},
                            {"profile", false},
                            {"cleaned", false},
                            {"upemail", false},
                            {"campaign", false}});
  CHECK(w["sources"] == json{{"user", true}, {"admin", true}, {"api", false}});
  {
    std::lock_guard<std::mutex> lock(box.web->mu);
    REQUIRE(box.web->calls.size() == 1);
    CHECK(box.web->calls[0].first == "https://crm.bedrock.org/hooks/mc?key=s3cr3t");
    CHECK(box.web->calls[0].second.method == "GET");
    CHECK(box.web->calls[0].second.header("User-Agent") == "MailChimp.com WebHook Validator");
  }
  CHECK(
      box.call("POST", hooks, R"({"url":"https://crm.bedrock.org/hooks/mc?key=s3cr3t"})").status ==
      400);  // the same URL twice
  box.web->validation_status = 404;
  check_problem(box.call("POST", hooks, R"({"url":"https://other.bedrock.org/x"})"), 400,
                "Invalid Resource",
                "We couldn't verify the URL is working. Please double check and try again. HTTP "
                "Code: 404");
  auto bad = box.call("POST", hooks, R"({"url":"not a url"})");
  CHECK(body_of(bad)["errors"][0] == json{{"field", "url"}, {"message", "Invalid URL"}});
  json list = box.get(hooks);
  CHECK(list["total_items"] == 1);
  CHECK(box.call("DELETE", hooks + "/" + w["id"].get<std::string>()).status == 204);
  CHECK(box.get(hooks)["total_items"] == 0);
}

TEST_CASE("webhooks: deliveries are form-encoded POSTs filtered by events and sources") {
  Box box;
  std::string hooks = std::string("/3.0/lists/") + kListId + "/webhooks";
  REQUIRE(
      box.call(
             "POST", hooks,
             R"({"url":"https://crm.bedrock.org/all","events":{"subscribe":true,"unsubscribe":true,"profile":true,"cleaned":true,"upemail":true},"sources":{"user":true,"admin":true,"api":true}})")
          .status == 200);
  REQUIRE(
      box.call(
             "POST", hooks,
             R"({"url":"https://crm.bedrock.org/noapi","events":{"subscribe":true,"unsubscribe":true,"profile":true,"cleaned":true,"upemail":true},"sources":{"user":true,"admin":true,"api":false}})")
          .status == 200);
  box.advance(60);
  // An API write: only the webhook with sources.api hears it.
  REQUIRE(
      box.call(
             "POST", kMembers,
             R"({"email_address":"betty@bedrock.org","status":"subscribed","merge_fields":{"FNAME":"Betty"}})")
          .status == 200);
  // The contact unsubscribes themself: both hear it.
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"unsubscribe","email_address":"wilma@bedrock.org"})", "")
              .status == 200);
  // A bounce.
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"clean","email_address":"fred@bedrock.org","reason":"hard"})", "")
              .status == 200);
  // An admin edit of a profile, then an email change through the API.
  REQUIRE(
      box.call(
             "POST", "/_sandbox/mailchimp/members",
             R"({"action":"update","source":"admin","email_address":"pebbles@bedrock.org","merge_fields":{"LNAME":"Rubble"}})",
             "")
          .status == 200);
  REQUIRE(box.call("PATCH", member_path("bamm-bamm@bedrock.org"),
                   R"({"email_address":"bammbamm@bedrock.org"})")
              .status == 200);
  box.mc->drain_webhooks();
  auto posts = box.web->posts();
  std::vector<std::string> seen;
  for (const auto& [url, req] : posts) {
    CHECK(req.header("Content-Type") == "application/x-www-form-urlencoded");
    CHECK(req.header("User-Agent") == "MailChimp.com");
    auto f = form(req.body);
    seen.push_back(url.substr(url.rfind('/') + 1) + ":" + f["type"]);
    CHECK(f["fired_at"] == "2026-03-01 00:01:00");
    if (f["type"] == "subscribe") {
      CHECK(f["data[email]"] == "betty@bedrock.org");
      CHECK(f["data[merges][FNAME]"] == "Betty");
      CHECK(f["data[merges][EMAIL]"] == "betty@bedrock.org");
      CHECK(f["data[list_id]"] == kListId);
      CHECK(f["data[id]"].size() == 10);
    }
    if (f["type"] == "unsubscribe") {
      CHECK(f["data[action]"] == "unsub");
      CHECK(f["data[reason]"] == "manual");
      CHECK(f["data[email]"] == "wilma@bedrock.org");
    }
    if (f["type"] == "cleaned") {
      CHECK(f["data[reason]"] == "hard");
      CHECK(f["data[email]"] == "fred@bedrock.org");
    }
    if (f["type"] == "upemail") {
      CHECK(f["data[old_email]"] == "bamm-bamm@bedrock.org");
      CHECK(f["data[new_email]"] == "bammbamm@bedrock.org");
    }
    if (f["type"] == "profile") CHECK(f["data[merges][LNAME]"] == "Rubble");
  }
  CHECK(seen == std::vector<std::string>{"all:subscribe", "all:unsubscribe", "noapi:unsubscribe",
                                         "all:cleaned", "noapi:cleaned", "all:profile",
                                         "noapi:profile", "all:upemail"});
  json log = box.get("/_sandbox/mailchimp/deliveries");
  CHECK(log["deliveries"].size() == 8);
  CHECK(log["deliveries"][0]["status"] == 200);
}

TEST_CASE("member hooks: self-unsubscribe and bounce put members in compliance state") {
  Box box;
  auto w = member_path("wilma@bedrock.org");
  auto r = box.call(
      "POST", "/_sandbox/mailchimp/members",
      R"({"action":"unsubscribe","email_address":"wilma@bedrock.org","reason":"Too many emails"})",
      "");
  REQUIRE(r.status == 200);
  CHECK(body_of(r)["unsubscribe_reason"] == "Too many emails");
  CHECK(box.call("PUT", w, R"({"status":"subscribed"})").status == 400);
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"clean","email_address":"tex@bedrock.org"})", "")
              .status == 200);
  CHECK(box.get(member_path("tex@bedrock.org"))["status"] == "cleaned");
  CHECK(box.call("PUT", member_path("tex@bedrock.org"), R"({"status":"subscribed"})").status ==
        400);
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"confirm","email_address":"hoppy@bedrock.org"})", "")
              .status == 200);
  json h = box.get(member_path("hoppy@bedrock.org"));
  CHECK(h["status"] == "subscribed");
  CHECK(h["timestamp_opt"] == "2026-03-01T00:00:00+00:00");
  CHECK(box.call("POST", "/_sandbox/mailchimp/members",
                 R"({"action":"dance","email_address":"hoppy@bedrock.org"})", "")
            .status == 400);
  // Admin routes answer only loopback peers.
  http::Request req;
  req.method = "GET";
  req.target = "/_sandbox/state";
  CHECK(box.mc->handle(req, http::Peer{"10.0.0.1", false}).response.status == 403);
}

// ---- seed, state, clock, persistence ----------------------------------------------------------

TEST_CASE("state: GET /_sandbox/state round-trips through POST /_sandbox/reset") {
  Box box;
  REQUIRE(box.call("DELETE", member_path("fred@bedrock.org")).status == 204);
  REQUIRE(
      box.call("POST", member_path("barney@bedrock.org") + "/actions/delete-permanent").status ==
      204);
  auto state = box.call("GET", "/_sandbox/state", "", "");
  REQUIRE(state.status == 200);
  json s1 = json::parse(state.body);
  CHECK(s1["clock"] == "2026-03-01T00:00:00+00:00");
  CHECK(s1["mailchimp"]["lists"][0]["forgotten"] == json::array({hash("barney@bedrock.org")}));
  Box other;
  auto reset = other.call("POST", "/_sandbox/reset", state.body, "");
  REQUIRE(reset.status == 200);
  CHECK(body_of(reset)["members"] == 10);
  CHECK(json::parse(other.call("GET", "/_sandbox/state", "", "").body) == s1);
  CHECK(other.get(member_path("fred@bedrock.org"))["status"] == "archived");
  CHECK(other.call("POST", kMembers, R"({"email_address":"barney@bedrock.org","status":"pending"})")
            .status == 400);
  // A bad seed changes nothing.
  auto bad = other.call(
      "POST", "/_sandbox/reset",
      R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","status":"gone"}]}]}})", "");
  CHECK(bad.status == 400);
  CHECK(body_of(bad)["detail"].get<std::string>().find("mailchimp.lists[0].members[0].status") !=
        std::string::npos);
  CHECK(other.get(kMembers)["total_items"] == 10);
  // An empty body resets to an empty account.
  REQUIRE(other.call("POST", "/_sandbox/reset", "", "").status == 200);
  CHECK(other.get("/3.0/lists")["total_items"] == 0);
}

TEST_CASE("seed: problems are reported with their path") {
  struct Row {
    const char* seed;
    const char* expect;
  };
  const Row rows[] = {
      {R"({"mailchimp":{"api_key":"nodc"}})", "mailchimp.api_key"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"nope"}]}]}})",
       "mailchimp.lists[0].members[0].email_address"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org"},{"email_address":"A@b.org"}]}]}})",
       "appears twice"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","merge_fields":{"LTV":"1"}}]}]}})",
       "mailchimp.lists[0].members[0].merge_fields.LTV"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","unsubscribe_origin":"cat"}]}]}})",
       "unsubscribe_origin"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","last_changed":"yesterday"}]}]}})",
       "last_changed"},
      {R"({"mailchimp":{"lists":[{"id":"x"},{"id":"x"}]}})", "appears twice"},
      {R"({"clock":"soon"})", "clock"},
      {R"([1,2])", "expected a JSON object"},
      {R"({"mailchimp":)", "not valid JSON"},
  };
  for (const Row& r : rows) {
    DYNAMIC_SECTION(r.seed) {
      auto s = sb::parse_seed(r.seed, 0);
      REQUIRE_FALSE(s.is_ok());
      CHECK(s.status().code() == Status::Code::kInvalid);
      CHECK_THAT(s.status().message(), Catch::Contains(r.expect));
    }
  }
  // Unknown top-level keys are ignored; merge_fields may come after members; defaults apply.
  auto ok = sb::parse_seed(
      R"({"civicrm":{"x":1},"mailchimp":{"lists":[{"name":"N","members":[{"email_address":"a@b.org","merge_fields":{"LTV":"2"}}],"merge_fields":[{"tag":"LTV","type":"number"}]},{"members":[{"email_address":"c@d.org","merge_fields":{"FNAME":"C"}}]}]}})",
      0);
  INFO(ok.status().to_string());
  REQUIRE(ok.is_ok());
  CHECK(ok->account->api_key == sb::kDefaultApiKey);
  REQUIRE(ok->account->lists.size() == 2);
  CHECK(ok->account->lists[0]->merge_fields.size() == 1);
  CHECK(ok->account->lists[1]->merge_fields.size() == 4);
  CHECK(ok->account->lists[1]->members.size() == 1);
}

TEST_CASE("clock: fixed, advanced, and back to real time") {
  Box box;
  json c = body_of(box.call("POST", "/_sandbox/clock", R"({"now":"2026-05-01T10:00:00Z"})", ""));
  CHECK(c == json{{"now", "2026-05-01T10:00:00+00:00"}, {"fixed", true}});
  c = body_of(box.call("POST", "/_sandbox/clock", R"({"advance_seconds":90})", ""));
  CHECK(c["now"] == "2026-05-01T10:01:30+00:00");
  REQUIRE(
      box.call("POST", kMembers, R"({"email_address":"betty@bedrock.org","status":"subscribed"})")
          .status == 200);
  CHECK(box.get(member_path("betty@bedrock.org"))["last_changed"] == "2026-05-01T10:01:30+00:00");
  c = body_of(box.call("POST", "/_sandbox/clock", R"({"now":null})", ""));
  CHECK(c["fixed"] == false);
  CHECK(box.call("POST", "/_sandbox/clock", R"({"now":"later"})", "").status == 400);
}

TEST_CASE("persistence: the state file is written atomically, debounced, and reloads") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "concord-sandbox-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  std::string path = tmpl + "/state.json";
  {
    Box box;
    sb::Persister p(
        path, [&] { return box.mc->generation(); }, [&] { return box.mc->state_document(); },
        std::chrono::milliseconds(20));
    REQUIRE(box.call("DELETE", member_path("wilma@bedrock.org")).status == 204);
    for (int i = 0; i < 200 && !std::filesystem::exists(path); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(std::filesystem::exists(path));
    REQUIRE(box.call("DELETE", member_path("fred@bedrock.org")).status == 204);
    p.stop();  // the final save
  }
  auto text = sb::read_file(path);
  REQUIRE(text.is_ok());
  auto loaded = sb::parse_seed(*text, 0);
  REQUIRE(loaded.is_ok());
  CHECK(loaded->clock == T("2026-03-01T00:00:00+00:00"));
  const sb::List& l = *loaded->account->lists[0];
  CHECK(l.find(concord::member_key("wilma@bedrock.org"))->status == sb::MemberStatus::kArchived);
  CHECK(l.find(concord::member_key("fred@bedrock.org"))->status == sb::MemberStatus::kArchived);
  for (const auto& e : std::filesystem::directory_iterator(tmpl)) {
    CHECK(e.path().filename() == "state.json");  // no temporary file left behind
  }
  std::filesystem::remove_all(tmpl);
}

TEST_CASE("persistence: after a slow save the next waits ten times as long") {
  // A state that changes all the time and takes 100 ms to serialise, saved at most every 20 ms:
  // without the back-off it would be saved about every 120 ms (a dozen saves in 1.5 s), busy
  // most of the time; with it, a save starts at most every 1.1 s.
  std::string tmpl = (std::filesystem::temp_directory_path() / "concord-sandbox-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  std::atomic<std::uint64_t> generation{0};
  std::atomic<int> saves{0};
  {
    sb::Persister p(
        tmpl + "/state.json", [&] { return ++generation; },
        [&] {
          ++saves;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          return std::string("{}");
        },
        std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(saves.load() >= 1);
    CHECK(saves.load() <= 2);
    p.stop();  // the final save still happens
  }
  CHECK(saves.load() <= 3);
  CHECK(std::filesystem::exists(tmpl + "/state.json"));
  std::filesystem::remove_all(tmpl);
}

TEST_CASE("persistence: a burst of changes is saved after it, not in its middle") {
  // Changes every 2 ms for 400 ms, saved after an unchanged interval of 100 ms (or at the latest
  // after ten): no save while they go on, one soon after they stop.
  std::string tmpl = (std::filesystem::temp_directory_path() / "concord-sandbox-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  std::atomic<std::uint64_t> generation{0};
  std::atomic<int> saves{0};
  {
    sb::Persister p(
        tmpl + "/state.json", [&] { return generation.load(); },
        [&] {
          ++saves;
          return std::string("{}");
        },
        std::chrono::milliseconds(100));
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
    while (std::chrono::steady_clock::now() < end) {
      ++generation;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    CHECK(saves.load() == 0);
    for (int i = 0; i < 300 && saves.load() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(saves.load() == 1);
    p.stop();  // nothing changed since: no second save
    CHECK(saves.load() == 1);
  }
  CHECK(std::filesystem::exists(tmpl + "/state.json"));
  std::filesystem::remove_all(tmpl);
}

// ---- performance -------------------------------------------------------------------------------

namespace {
std::string big_seed(int n) {
  std::string s =
      R"({"mailchimp":{"api_key":")" + std::string(kKey) +
      R"(","lists":[{"id":"big0000001","name":"Big","merge_fields":[{"tag":"FNAME"},{"tag":"LNAME"}],"members":[)";
  s.reserve(static_cast<std::size_t>(n) * 200);
  for (int i = 0; i < n; ++i) {
    if (i) s += ',';
    char buf[320];
    std::snprintf(
        buf, sizeof buf,
        R"({"email_address":"member%07d@bedrock.org","status":"%s","timestamp_opt":"2025-%02d-%02dT10:00:00+00:00","last_changed":"2026-01-%02dT%02d:%02d:00+00:00","merge_fields":{"FNAME":"First%d","LNAME":"Last%d"}})",
        i, i % 10 == 0 ? "unsubscribed" : "subscribed", i % 12 + 1, i % 28 + 1, i % 28 + 1, i % 24,
        i % 60, i, i);
    s += buf;
  }
  s += "]}]}}";
  return s;
}
}  // namespace

TEST_CASE("performance: a page of 1000 members with the benchmark's fields") {
  const int n = 200000;
  std::string seed = big_seed(n);
  sb::SandboxClock clock;
  clock.fix(T("2026-03-01T00:00:00+00:00"));
  auto t0 = std::chrono::steady_clock::now();
  auto loaded = sb::parse_seed(seed, clock.now());
  auto t1 = std::chrono::steady_clock::now();
  REQUIRE(loaded.is_ok());
  sb::MailchimpSandbox mc(std::move(loaded->account), &clock);
  auto page = [&](const std::string& q) {
    http::Request r;
    r.target = "/3.0/lists/big0000001/members?count=1000&" + q;
    r.headers.push_back({"Authorization", basic(kKey)});
    return mc.handle(r, http::Peer{"127.0.0.1", true}).response;
  };
  const std::string fields =
      "fields=members.email_address,members.status,members.unsubscribe_reason,"
      "members.timestamp_opt,members.last_changed,members.merge_fields,total_items";
  auto first = page(fields + "&offset=0");  // builds the member order
  REQUIRE(first.status == 200);
  auto t2 = std::chrono::steady_clock::now();
  const int pages = 50;
  std::size_t bytes = 0;
  for (int i = 1; i <= pages; ++i) {
    auto r = page(fields + "&offset=" + std::to_string(i * 3000));
    REQUIRE(r.status == 200);
    bytes += r.body.size();
  }
  auto t3 = std::chrono::steady_clock::now();
  auto incremental =
      page(fields +
           "&since_last_changed=2026-01-27T00:00:00%2B00:00&sort_field=last_changed&offset=1000");
  REQUIRE(incremental.status == 200);
  auto full = page("offset=5000");
  auto t4 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  double per_page = ms(t2, t3) / pages;
  WARN("seed " << n << " members: " << ms(t0, t1)
               << " ms; first page (builds the order): " << ms(t1, t2) << " ms; then " << per_page
               << " ms per 1000-member page (" << bytes / pages
               << " bytes); incremental + full-shape pages: " << ms(t3, t4) << " ms");
  json j = json::parse(full.body);
  CHECK(j["members"].size() == 1000);
  CHECK(json::parse(incremental.body)["members"].size() == 1000);
  CHECK(per_page < 100);  // a few ms in an optimised build; generous for debug and sanitizers
}

// ---- over real sockets --------------------------------------------------------------------------

TEST_CASE("sockets: the API over TLS, with a webhook receiver over plain HTTP") {
  TempDir dir;
  Status certs = http::write_test_certificates(dir.path.string());
  INFO(certs.to_string());
  REQUIRE(certs.is_ok());

  // The CRM's webhook endpoint: answers the validation GET and records the POSTs.
  std::mutex mu;
  std::vector<http::Request> received;
  auto receiver =
      http::Server::start(http::ServerOptions{}, [&](const http::Request& r, const http::Peer&) {
        std::lock_guard<std::mutex> lock(mu);
        received.push_back(r);
        http::Reply reply;
        reply.response.status = 200;
        return reply;
      });
  REQUIRE(receiver.is_ok());

  sb::SandboxClock clock;
  auto loaded = sb::parse_seed(fixture(), clock.now());
  REQUIRE(loaded.is_ok());
  sb::MailchimpOptions o;
  o.delivery_retry_delay = std::chrono::milliseconds(10);
  sb::MailchimpSandbox mc(std::move(loaded->account), &clock, o);
  http::ServerOptions so;
  so.cert_file = dir.file("server.pem");
  so.key_file = dir.file("server.key");
  auto server = http::Server::start(
      so, [&](const http::Request& r, const http::Peer& p) { return mc.handle(r, p); });
  INFO(server.status().to_string());
  REQUIRE(server.is_ok());

  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string((*server)->port()));
  REQUIRE(url.is_ok());
  http::ClientOptions co;
  co.ca_file = dir.file("ca.pem");
  co.retry.max_attempts = 1;
  auto client = http::Client::create(*url, co);
  INFO(client.status().to_string());
  REQUIRE(client.is_ok());
  auto send = [&](std::string method, std::string target, std::string body = "") {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers.push_back({"Authorization", basic(kKey)});
    if (!r.body.empty()) r.headers.push_back({"Content-Type", "application/json"});
    auto resp = (*client)->send(r);
    INFO(resp.status().to_string());
    REQUIRE(resp.is_ok());
    return std::move(resp).value();
  };

  auto ping = send("GET", "/3.0/ping");
  CHECK(ping.status == 200);
  CHECK(json::parse(ping.body)["health_status"] == "Everything's Chimpy!");
  auto hook = send("POST", std::string("/3.0/lists/") + kListId + "/webhooks",
                   R"({"url":"http://127.0.0.1:)" + std::to_string((*receiver)->port()) +
                       R"(/hooks/mc?key=s3cr3t","sources":{"user":true,"admin":true,"api":true}})");
  INFO(hook.body);
  REQUIRE(hook.status == 200);
  auto created =
      send("POST", kMembers, R"({"email_address":"betty@bedrock.org","status":"subscribed"})");
  CHECK(created.status == 200);
  auto del = send("DELETE", member_path("betty@bedrock.org"));
  CHECK(del.status == 204);
  CHECK(del.body.empty());
  auto page = send("GET", kMembers + "?count=1000&fields=members.email_address,total_items");
  CHECK(json::parse(page.body)["total_items"] == 12);
  mc.drain_webhooks();
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(received.size() == 3);
  CHECK(received[0].method == "GET");
  CHECK(received[0].target == "/hooks/mc?key=s3cr3t");
  CHECK(received[1].method == "POST");
  CHECK(form(received[1].body)["type"] == "subscribe");
  CHECK(form(received[2].body)["type"] == "unsubscribe");
  CHECK(form(received[2].body)["data[action]"] == "delete");
  (*server)->stop();
  (*receiver)->stop();
}

TEST_CASE("sockets: a reset fault and a truncated body reach the client as failures") {
  TempDir dir;
  REQUIRE(http::write_test_certificates(dir.path.string()).is_ok());
  sb::SandboxClock clock;
  sb::MailchimpSandbox mc(sb::empty_account(), &clock);
  http::ServerOptions so;
  so.cert_file = dir.file("server.pem");
  so.key_file = dir.file("server.key");
  auto server = http::Server::start(
      so, [&](const http::Request& r, const http::Peer& p) { return mc.handle(r, p); });
  REQUIRE(server.is_ok());
  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string((*server)->port()));
  http::ClientOptions co;
  co.ca_file = dir.file("ca.pem");
  co.retry.max_attempts = 3;
  co.retry.base_delay = std::chrono::milliseconds(1);
  co.retry.max_delay = std::chrono::milliseconds(2);
  auto client = http::Client::create(*url, co);
  REQUIRE(client.is_ok());
  http::Request admin;
  admin.method = "POST";
  admin.target = "/_sandbox/faults";
  admin.body = R"({"next":["reset","truncate"]})";
  REQUIRE((*client)->send(admin)->status == 200);
  http::Request ping;
  ping.target = "/3.0/lists";
  ping.headers.push_back({"Authorization", basic(sb::kDefaultApiKey)});
  auto r = (*client)->send(ping);  // reset, truncated, then the real answer
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["total_items"] == 0);
  CHECK((*client)->attempts() == 4);  // the admin call, then three attempts
  (*server)->stop();
}
