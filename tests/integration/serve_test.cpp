// `concord serve` end to end: the real daemon against concord-sandbox, with the sandbox delivering
// Mailchimp's webhooks to it over real sockets.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "e2e_harness.h"
#include "serve_daemon.h"

using namespace concord;
using namespace concord::testing;
using nlohmann::json;

namespace {

// Polls `done` every 50 ms for up to `seconds`.
template <typename F>
bool eventually(F done, int seconds = 30) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(seconds > 30 ? 500 : 50));
  }
  return done();
}

SideState state_of(Sandbox& s) {
  return SideState(s.state());
}

// Contact `contact`'s status in group `group` as CiviCRM's API answers it ("" when none): the whole
// state of a large sandbox is more than its admin client reads.
std::string group_status(Sandbox& s, int contact, int group) {
  const json r = s.civicrm("GroupContact", "get",
                           {{"select", {"status"}},
                            {"where", {{"contact_id", "=", contact}, {"group_id", "=", group}}}});
  const json& rows = r["values"];
  return rows.empty() ? std::string() : rows[0].value("status", "");
}

std::vector<json> deliveries(Sandbox& s) {
  json d = s.admin("GET", "/_sandbox/mailchimp/deliveries");
  return d["deliveries"].get<std::vector<json>>();
}

// (The fixture's lists are small: one removal is more than the default guard's 10%.)
std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    out += buf;
  }
  return out;
}

// (A thousand sign-ups on a list of a few: far more new CRM contacts than the addition guard's
// default share of its members.)
const std::string kServe =
    "schedule = \"every 1d\"\nmax_removal_fraction = 1.0\nmax_addition_fraction = 1000.0\n"
    "[serve]\nlisten = \"127.0.0.1:0\"\n";

// The fixture's lists migrated by `concord sync`, then `concord serve` with its webhook installed.
struct Migrated {
  static Sandbox& seeded(Sandbox& s) {
    s.reset(fixture_seed());
    return s;
  }
  Sandbox sandbox;
  Workdir w{seeded(sandbox), kServe};
  bool synced = w.concord({"sync", "--allow-mass-removal"}).code == 0;
  Daemon d{w};
  bool installed = w.concord({"webhooks", "install", "--public-url", d.url()}).code == 0;
  Migrated() {
    REQUIRE(synced);
    REQUIRE(installed);
  }
};

}  // namespace

TEST_CASE("serve: an unsubscribe in Mailchimp reaches the CRM through the webhook, with no echo",
          "[serve]") {
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox, kServe);
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  Daemon d(w);

  // Registering: Mailchimp (the sandbox) checks the URL with a GET first.
  Command install = w.concord({"webhooks", "install", "--public-url", d.url()});
  INFO(install.text());
  REQUIRE(install.code == 0);
  CHECK(install.out.find("installed webhook") != std::string::npos);
  Command again = w.concord({"webhooks", "install", "--public-url", d.url()});
  CHECK(again.code == 0);
  CHECK(again.out.find("installed already") != std::string::npos);
  Command list = w.concord({"webhooks", "list"});
  CHECK(list.out.find("sources=user,admin,") != std::string::npos);
  CHECK(list.out.find("events=subscribe,unsubscribe,profile") != std::string::npos);
  // The same as JSON (docs/cli.md); the URL's secret is never shown.
  json again_json = w.concord({"webhooks", "install", "--public-url", d.url(), "--json"}).json();
  REQUIRE(again_json.size() == 1);
  CHECK(again_json[0]["state"] == "present");
  CHECK(again_json[0]["url"].get<std::string>().find("…") != std::string::npos);
  json listed = w.concord({"webhooks", "list", "--json"}).json();
  REQUIRE(listed.size() == 1);
  REQUIRE(listed[0]["webhooks"].size() == 1);
  CHECK(listed[0]["webhooks"][0]["sources"]["api"] == false);
  CHECK(listed[0]["webhooks"][0]["events"][0] == "subscribe");

  // Wilma unsubscribes herself in Mailchimp.
  REQUIRE(state_of(sandbox).group_status(101) == "Added");
  const std::size_t before = deliveries(sandbox).size();
  sandbox.member_hook({{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}});
  INFO(d.log());
  CHECK(eventually([&] { return state_of(sandbox).group_status(101) == "Removed"; }));
  // One delivery, answered 200; concord's own CRM write sends nothing back.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<json> after = deliveries(sandbox);
  REQUIRE(after.size() == before + 1);
  CHECK(after.back()["type"] == "unsubscribe");
  CHECK(after.back()["status"] == 200);

  // An admin puts Fred back in the group in the CRM, and someone presses "run now": concord
  // subscribes him in Mailchimp through the API, which does not come back as a delivery.
  sandbox.set_group_status(103, "Added");
  sandbox.advance_clock(60);
  // Mailchimp answers the run's first request with a 503 (retried, and counted).
  sandbox.faults("mailchimp", {{"next", {"503"}}});
  json queued = d.api("POST", "/api/syncs/newsletter/run");
  CHECK(queued["queued"] == true);
  CHECK(
      eventually([&] { return state_of(sandbox).mc_status("fred@bedrock.org") == "subscribed"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  CHECK(deliveries(sandbox).size() == after.size());

  // The API shows the runs.
  json syncs = d.api("GET", "/api/syncs");
  REQUIRE(syncs["syncs"].size() == 1);
  const json& s = syncs["syncs"][0];
  CHECK(s["name"] == "newsletter");
  CHECK(s["schedule"] == "every 1d");
  CHECK(s["enabled"] == true);
  CHECK(s["last_run"]["result"] == "done");
  json runs = d.api("GET", "/api/runs?sync=newsletter");
  std::set<std::string> kinds;
  for (const json& r : runs["runs"])
    kinds.insert(r["command"].get<std::string>());
  CHECK(kinds.count("webhook") == 1);
  CHECK(kinds.count("serve") == 1);
  CHECK(kinds.count("sync") == 1);
  // Metrics in the Prometheus text format.
  http::Response m = d.call("GET", "/metrics");
  CHECK(m.status == 200);
  CHECK(m.body.find("concord_runs_total{sync=\"newsletter\",kind=\"webhook\",result=\"done\"} 1") !=
        std::string::npos);
  CHECK(m.body.find("concord_webhook_events_total{sync=\"newsletter\",type=\"unsubscribe\"} 1") !=
        std::string::npos);
  CHECK(m.body.find("concord_last_success_timestamp_seconds{sync=\"newsletter\"}") !=
        std::string::npos);
  CHECK(m.body.find("concord_operations_total{sync=\"newsletter\",kind=\"remove_from_crm\","
                    "result=\"done\"} 1") != std::string::npos);
  CHECK(m.body.find("concord_operations_total{sync=\"newsletter\",kind=\"add_to_mailchimp\","
                    "result=\"done\"} 1") != std::string::npos);
  CHECK(m.body.find("concord_api_requests_total{side=\"crm\"}") != std::string::npos);
  CHECK(m.body.find("concord_api_errors_total{side=\"mailchimp\"} 1") != std::string::npos);

  // The commands that only read work while the daemon holds the store; one that writes says why
  // it cannot.
  Command st = w.concord({"status", "--json"});
  INFO(st.text());
  CHECK(st.code == 0);
  CHECK(st.out.find("\"webhook\"") != std::string::npos);
  CHECK(w.concord({"report", "--format", "csv"}).code == 0);
  CHECK(w.concord({"explain", "wilma@bedrock.org"}).code == 0);
  Command busy = w.concord({"sync"});
  CHECK(busy.code == 1);
  CHECK(busy.err.find("in use by another concord process") != std::string::npos);

  CHECK(d.terminate() == 0);
  CHECK(d.log().find("stopped") != std::string::npos);
}

TEST_CASE("serve: a wrong secret is refused without detail", "[serve]") {
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox, kServe);
  Daemon d(w);
  const std::string body =
      "type=unsubscribe&data[list_id]=b3d1c0ffee&data[email]=wilma%40bedrock.org&data[action]="
      "unsub";
  http::Response bad =
      d.call("POST", "/webhooks/mailchimp/newsletter/0123456789abcdef0123456789abcdef", body,
             "application/x-www-form-urlencoded");
  CHECK(bad.status == 403);
  CHECK(bad.body == "forbidden\n");
  CHECK(d.call("GET", "/webhooks/mailchimp/newsletter/nope").status == 403);
  CHECK(d.call("POST", "/webhooks/mailchimp/other/x", body, "application/x-www-form-urlencoded")
            .status == 403);
  CHECK(d.log().find("0123456789abcdef0123456789abcdef") == std::string::npos);
  CHECK(d.terminate() == 0);
}

TEST_CASE("serve: a burst of 1000 webhook deliveries loses nothing", "[serve]") {
  Migrated m;
  Sandbox& sandbox = m.sandbox;
  Daemon& d = m.d;
  // A thousand people sign up through Mailchimp's form, one after another.
  const int kPeople = 1000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kPeople; ++i) {
    sandbox.member_hook(
        {{"email_address", "burst" + std::to_string(i) + "@bedrock.org"}, {"action", "subscribe"}});
  }
  INFO(d.log());
  // Every one of them ends up a contact in the CRM group.
  std::map<std::string, std::string> group;
  CHECK(eventually(
      [&] {
        group = state_of(sandbox).by_email();
        int n = 0;
        for (int i = 0; i < kPeople; ++i)
          n += group.count("crm burst" + std::to_string(i) + "@bedrock.org");
        return n == kPeople;
      },
      120));
  std::printf("burst: %d sign-ups delivered and reconciled in %.1f s\n", kPeople,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  int added = 0;
  for (int i = 0; i < kPeople; ++i)
    added += group["crm burst" + std::to_string(i) + "@bedrock.org"] == "Added";
  CHECK(added == kPeople);
  // Every delivery was answered 200 on its first attempt.
  int first_try = 0, total = 0;
  for (const json& del : deliveries(sandbox)) {
    ++total;
    first_try += del["status"] == 200 && del["attempts"] == 1;
  }
  CHECK(total == kPeople);
  CHECK(first_try == kPeople);
  CHECK(d.terminate() == 0);
}

TEST_CASE("serve: the toggle persists, and a disabled pair does not run by schedule", "[serve]") {
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox,
            "schedule = \"every 1m\"\n[serve]\nlisten = \"127.0.0.1:0\"\n"
            "[[sync]]\nname = \"second\"\naudience = \"Newsletter\"\ngroup = \"Newsletter\"\n"
            "schedule = \"*/5 * * * *\"\nmax_removal_fraction = 1.0\n");
  {
    Daemon d(w);
    json off = d.api("POST", "/api/syncs/newsletter/enabled", {{"enabled", false}});
    CHECK(off["enabled"] == false);
    CHECK(d.terminate() == 0);
  }
  Daemon d(w);
  json syncs = d.api("GET", "/api/syncs");
  REQUIRE(syncs["syncs"].size() == 2);
  for (const json& s : syncs["syncs"]) {
    if (s["name"] == "newsletter") {
      CHECK(s["enabled"] == false);
      CHECK(s["next_run"].is_null());
    } else {
      CHECK(s["enabled"] == true);
      CHECK(s["schedule"] == "*/5 * * * *");
    }
  }
  CHECK(d.terminate() == 0);
}

TEST_CASE("serve: an email change in Mailchimp changes the CRM contact's email", "[serve]") {
  Migrated m;
  Sandbox& sandbox = m.sandbox;
  Workdir& w = m.w;
  Daemon& d = m.d;
  const SideState before = state_of(sandbox);
  REQUIRE(before.contacts_with("betty@bedrock.org") == std::vector<int>{104});
  const std::size_t contacts = before.civicrm()["contacts"].size();
  // An admin changes Betty's address in Mailchimp's pages.
  sandbox.member_hook({{"email_address", "betty@bedrock.org"},
                       {"action", "update"},
                       {"source", "admin"},
                       {"new_email_address", "betty.rubble@bedrock.org"}});
  INFO(d.log());
  CHECK(eventually([&] {
    return state_of(sandbox).contacts_with("betty.rubble@bedrock.org") == std::vector<int>{104};
  }));
  // The same contact, still in the group; nobody was removed or created.
  const SideState after = state_of(sandbox);
  CHECK(after.contacts_with("betty@bedrock.org").empty());
  CHECK(after.group_status(104) == "Added");
  CHECK(after.civicrm()["contacts"].size() == contacts);
  CHECK(after.mc_status("betty.rubble@bedrock.org") == "subscribed");
  // And the next full run agrees with it: nothing to do.
  CHECK(d.terminate() == 0);
  Command sync = w.concord({"sync", "--full", "--json"});
  INFO(sync.text());
  CHECK(sync.code == 0);
  CHECK(sync.pair_json()["operations"].empty());
}

TEST_CASE("serve: a name changed in Mailchimp reaches the CRM at once through the profile webhook",
          "[serve]") {
  Migrated m;
  Sandbox& sandbox = m.sandbox;
  Daemon& d = m.d;
  REQUIRE(state_of(sandbox).contact(101)["first_name"] == "Wilma");
  // Wilma edits her name in the preference centre.
  sandbox.member_hook({{"email_address", "wilma@bedrock.org"},
                       {"action", "update"},
                       {"source", "user"},
                       {"merge_fields", {{"FNAME", "Wilhelmina"}}}});
  INFO(d.log());
  CHECK(eventually([&] { return state_of(sandbox).contact(101)["first_name"] == "Wilhelmina"; }));
  CHECK(deliveries(sandbox).back()["type"] == "profile");
  CHECK(state_of(sandbox).group_status(101) == "Added");
  CHECK(state_of(sandbox).mc_status("wilma@bedrock.org") == "subscribed");
}

TEST_CASE("serve: a token is made at first start (0600), never logged, and needed on loopback too",
          "[serve]") {
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox, kServe);
  std::string token;
  {
    Daemon d(w);
    const std::filesystem::path file = w.state_dir() / "serve.token";
    REQUIRE(std::filesystem::exists(file));
    CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    token = d.token();
    REQUIRE(token.size() == 32);
    // The log says where the token is, never the token (stderr is not a terminal here).
    CHECK(d.log().find(token) == std::string::npos);
    CHECK(d.log().find("serve.token") != std::string::npos);
    // Loopback says nothing about who asks (a TLS proxy in front of 127.0.0.1).
    CHECK(d.call_anonymous("GET", "/api/syncs").status == 401);
    CHECK(d.call_anonymous("GET", "/metrics").status == 401);
    CHECK(d.call_anonymous("GET", "/api/syncs?token=" + token).status == 401);
    CHECK(d.call_anonymous("GET", "/").status == 303);
    CHECK(d.call_anonymous("GET", "/healthz").status == 200);
    CHECK(d.api("GET", "/api/syncs")["syncs"].size() == 1);
    CHECK(d.terminate() == 0);
  }
  // The second start uses the kept token.
  Daemon again(w);
  CHECK(again.token() == token);
  CHECK(again.log().find("made a token") == std::string::npos);
  CHECK(again.api("GET", "/api/syncs")["syncs"].size() == 1);
  CHECK(again.terminate() == 0);
}

TEST_CASE("serve: `concord init` makes the token, and shows it only on a terminal", "[serve]") {
  char tmpl[] = "/tmp/concord-init-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string config = (dir / "concord.toml").string();
  Command r = run_process({std::getenv("CONCORD_BIN"), "--config", config, "init"}, {}, dir);
  INFO(r.text());
  REQUIRE(r.code == 0);
  const std::filesystem::path file = dir / "state" / "serve.token";
  REQUIRE(std::filesystem::exists(file));
  std::string token;
  std::getline(std::ifstream(file), token);
  REQUIRE(token.size() == 32);
  CHECK(r.out.find(file.string()) != std::string::npos);
  CHECK(r.out.find(token) == std::string::npos);
  CHECK(r.err.find(token) == std::string::npos);
  CHECK((std::filesystem::status(dir / "state").permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms::owner_all);
  std::filesystem::remove_all(dir);
}

TEST_CASE("serve: the browser logs in with the form and keeps a session cookie", "[serve]") {
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox, kServe);
  Daemon d(w);
  const std::string host = d.url().substr(7);  // "127.0.0.1:PORT"
  const std::vector<http::Header> browser = {{"Host", host}, {"Origin", d.url()}};
  http::Response wrong = d.call_anonymous("POST", "/login", "token=nope",
                                          "application/x-www-form-urlencoded", browser);
  CHECK(wrong.status == 401);
  CHECK(wrong.header("Set-Cookie").empty());
  http::Response ok = d.call_anonymous("POST", "/login", "token=" + d.token(),
                                       "application/x-www-form-urlencoded", browser);
  REQUIRE(ok.status == 303);
  CHECK(ok.header("Location") == "/");
  const std::string set(ok.header("Set-Cookie"));
  CHECK(set.find("HttpOnly") != std::string::npos);
  CHECK(set.find("SameSite=Strict") != std::string::npos);
  const std::string cookie = set.substr(0, set.find(';'));
  std::vector<http::Header> with_cookie = browser;
  with_cookie.push_back({"Cookie", cookie});
  CHECK(d.call_anonymous("GET", "/", "", "", with_cookie).status == 200);
  CHECK(d.call_anonymous("GET", "/api/syncs", "", "", with_cookie).status == 200);
  // Run now from the page: JSON from the page's own origin only.
  CHECK(d.call_anonymous("POST", "/api/syncs/newsletter/run", "{}", "application/json", with_cookie)
            .status == 202);
  std::vector<http::Header> cross = {{"Cookie", cookie}, {"Origin", "https://attacker.example"}};
  CHECK(d.call_anonymous("POST", "/api/syncs/newsletter/run", "{}", "application/json", cross)
            .status == 403);
  CHECK(d.call_anonymous("POST", "/api/syncs/newsletter/run", "enabled=false",
                         "application/x-www-form-urlencoded", with_cookie)
            .status == 415);
  // DNS rebinding: a name that is not this daemon's.
  CHECK(d.call_anonymous("GET", "/api/syncs", "", "",
                         {{"Host", "attacker.example"}, {"Cookie", cookie}})
            .status == 421);
  CHECK(d.terminate() == 0);
}

TEST_CASE("serve: a delivery for another audience is refused 400 and nothing is stored",
          "[serve]") {
  Migrated m;
  Daemon& d = m.d;
  std::string key;
  std::getline(std::ifstream(m.w.state_dir() / "webhook.key"), key);
  REQUIRE(key.size() == 32);
  const std::string path =
      "/webhooks/mailchimp/newsletter/" + hmac_hex(key, "webhook:newsletter").substr(0, 32);
  const std::string body =
      "type=unsubscribe&data[list_id]=0ther1ist&data[email]=wilma%40bedrock.org&data[action]="
      "unsub";
  http::Response r = d.call_anonymous("POST", path, body, "application/x-www-form-urlencoded");
  CHECK(r.status == 400);
  CHECK(r.body.find("0ther1ist") != std::string::npos);
  const std::string metrics = d.call("GET", "/metrics").body;
  CHECK(metrics.find("concord_webhook_rejected_total{reason=\"wrong-list\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("concord_webhook_events_total{sync=\"newsletter\",type=\"unsubscribe\"}") ==
        std::string::npos);  // none stored
  // Wilma is still in both.
  CHECK(state_of(m.sandbox).group_status(101) == "Added");
  // A body over 64 KiB is refused unread.
  CHECK(d.call_anonymous("POST", path, body + "&pad=" + std::string(70000, 'x'),
                         "application/x-www-form-urlencoded")
            .status == 413);
}

TEST_CASE("serve: a delivery answered 200 survives SIGKILL right after", "[serve]") {
  Migrated m;
  // The pair is switched off, so the delivery waits in the inbox, as it would for a daemon busy
  // with another pair's migration.
  m.d.api("POST", "/api/syncs/newsletter/enabled", {{"enabled", false}});
  const std::size_t before = deliveries(m.sandbox).size();
  m.sandbox.member_hook({{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}});
  REQUIRE(eventually([&] {
    const std::vector<json> d = deliveries(m.sandbox);
    return d.size() == before + 1 && d.back()["status"] == 200;
  }));
  m.d.kill_hard();
  CHECK(state_of(m.sandbox).group_status(101) == "Added");
  // Started again (and switched on), it reconciles the delivery it had acknowledged.
  Daemon again(m.w);
  again.api("POST", "/api/syncs/newsletter/enabled", {{"enabled", true}});
  INFO(again.log());
  CHECK(eventually([&] { return state_of(m.sandbox).group_status(101) == "Removed"; }));
  CHECK(again.terminate() == 0);
}

TEST_CASE("serve: 256 slow connections do not keep a webhook delivery out", "[serve]") {
  Migrated m;
  Daemon& d = m.d;
  const int port = std::stoi(d.url().substr(d.url().rfind(':') + 1));
  // Each sends half a request header, then nothing (slowloris).
  std::vector<int> slow;
  for (int i = 0; i < 256; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      continue;
    }
    const std::string part = "POST /api/syncs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    (void)::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  CHECK(slow.size() == 256);
  // Wilma unsubscribes in Mailchimp: the sandbox delivers the webhook to the daemon.
  m.sandbox.member_hook(
      {{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}, {"source", "user"}});
  INFO(d.log());
  CHECK(eventually([&] { return state_of(m.sandbox).group_status(101) == "Removed"; }));
  CHECK(deliveries(m.sandbox).back()["status"] == 200);
  for (int fd : slow)
    ::close(fd);
}

TEST_CASE("serve: with a signature header configured, unsigned deliveries are refused", "[serve]") {
  Sandbox sandbox;
  sandbox.reset(fixture_seed());
  Workdir w(sandbox,
            "schedule = \"every 1d\"\nmax_removal_fraction = 1.0\n[serve]\nlisten = "
            "\"127.0.0.1:0\"\nsignature_header = \"X-Relay-Signature\"\n"
            "signature_secret_env = \"RELAY_KEY\"\n");
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  Daemon d(w, {}, {{"RELAY_KEY", "relay-signing-key"}});
  // The URL with its secret, as `webhooks install` registers it (the sandbox cannot sign, so the
  // deliveries are posted here as a signing relay would).
  REQUIRE(w.concord({"webhooks", "install", "--public-url", d.url()}, {{"RELAY_KEY", "x"}}).code ==
          0);
  // The secret: HMAC-SHA256(state_dir/webhook.key, "webhook:<sync>"), 32 hex (store-format.md).
  std::string key;
  std::getline(std::ifstream(w.state_dir() / "webhook.key"), key);
  REQUIRE(key.size() == 32);
  const std::string path =
      "/webhooks/mailchimp/newsletter/" + hmac_hex(key, "webhook:newsletter").substr(0, 32);
  const std::string body =
      "type=unsubscribe&data[list_id]=b3d1c0ffee&data[email]=wilma%40bedrock.org&data[action]="
      "unsub";
  CHECK(d.call("POST", path, body, "application/x-www-form-urlencoded").status == 403);
  http::Request signed_req;
  signed_req.method = "POST";
  signed_req.target = path;
  signed_req.body = body;
  signed_req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                        {"X-Relay-Signature", "sha256=" + hmac_hex("relay-signing-key", body)}};
  CHECK(d.send(signed_req).status == 200);
  CHECK(d.terminate() == 0);
}

TEST_CASE("serve: SIGTERM during a run stops it after its batch; the next run finishes the work",
          "[serve]") {
  // A generated pair of lists (about 5000 members each): the CRM side's writes take several
  // batches (of 1000 writes).
  const json seed = generated_seed(5000);
  Sandbox sandbox;
  sandbox.reset(seed);
  sandbox.faults("civicrm", {{"latency_ms", 100}});
  Workdir w(sandbox,
            "schedule = \"every 1d\"\nmax_removal_fraction = 1.0\n[serve]\nlisten = "
            "\"127.0.0.1:0\"\n");
  // One CRM batch at a time (the default sends four at once, which is all of them here).
  {
    const std::filesystem::path file = w.dir() / "concord.toml";
    std::string config = read_file(file);
    config.replace(config.find("[civicrm.main]\n"), 15, "[civicrm.main]\nmax_connections = 1\n");
    std::ofstream(file) << config;
  }
  const std::uint64_t mark = sandbox.log_mark();
  Daemon d(w);  // never ran: the first run starts at once
  // Stop it as soon as the CRM has taken its first memberships (a Contact.save of new contacts
  // adds them to the group too).
  CHECK(eventually([&] {
    for (const json& r : sandbox.requests_since(mark)) {
      if (r.value("path", "").find("Contact/save") != std::string::npos) return true;
    }
    return false;
  }));
  CHECK(d.terminate() == 0);
  INFO(d.log());
  CHECK(d.log().find("the run in progress ends after its current batch") != std::string::npos);
  sandbox.clear_faults();
  // The run was journaled as it stopped: interrupted, with work left.
  Command st = w.concord({"status", "--json"});
  INFO(st.text());
  REQUIRE(st.code == 0);
  const json first = st.json()[0]["runs"][0];
  CHECK(first["command"] == "serve");
  CHECK(first["result"] == "interrupted");
  CHECK(first["counts"]["applied"].get<int>() > 0);
  // The next run completes the migration, and the one after has nothing to do.
  Command sync = w.concord({"sync", "--json"});
  INFO(sync.text());
  CHECK((sync.code == 0 || sync.code == 4));
  CHECK_FALSE(sync.pair_json()["operations"].empty());  // what the stopped run had not sent
  Command again = w.concord({"sync", "--json"});
  CHECK((again.code == 0 || again.code == 4));
  CHECK(again.pair_json()["operations"].empty());
}

TEST_CASE("serve: a delivery for one pair is reconciled while another pair of its account migrates",
          "[serve]") {
  // Two pairs on one Mailchimp account: "newsletter", a generated list of about 100 000 members
  // that concord has never synced, whose audience answers every request after 3 s; and
  // "volunteers", synced already (Wilma, in the Volunteers group and list).
  json seed = generated_seed(100000);
  // The generated people are in the newsletter only: Wilma alone is a volunteer.
  json& history = seed["civicrm"]["subscription_history"];
  json kept = json::array();
  for (json& h : history) {
    if (h.value("group_id", 0) != 43 || h.value("contact_id", 0) == 101)
      kept.push_back(std::move(h));
  }
  history = std::move(kept);
  json volunteers = seed["mailchimp"]["lists"][0];
  volunteers["members"] = json::array();
  volunteers["id"] = "a1b2c3d4e5";
  volunteers["web_id"] = 424242;
  volunteers["name"] = "Volunteers";
  volunteers["members"] =
      json::array({{{"email_address", "wilma@bedrock.org"},
                    {"status", "subscribed"},
                    {"timestamp_opt", "2026-01-01T12:00:00+00:00"},
                    {"last_changed", "2026-01-01T12:00:00+00:00"},
                    {"merge_fields", {{"FNAME", "Wilma"}, {"LNAME", "Flintstone"}}}}});
  seed["mailchimp"]["lists"].push_back(volunteers);
  Sandbox sandbox;
  sandbox.reset(seed);
  Workdir w(sandbox,
            "schedule = \"every 1d\"\nmax_removal_fraction = 1.0\n"
            "[[sync]]\nname = \"volunteers\"\naudience = \"Volunteers\"\ngroup = \"Volunteers\"\n"
            "schedule = \"every 1d\"\nmax_removal_fraction = 1.0\n"
            "[serve]\nlisten = \"127.0.0.1:0\"\n");
  Command first = w.concord({"sync", "--sync", "volunteers"});
  INFO(first.text());
  REQUIRE(first.code == 0);
  REQUIRE(group_status(sandbox, 101, 43) == "Added");
  sandbox.faults("mailchimp", {{"latency_ms", 3000}, {"path_prefix", "/3.0/lists/b3d1c0ffee"}});

  Daemon d(w);  // the newsletter pair never ran: its migration starts at once
  auto state = [&](const std::string& name) {
    const json syncs = d.api("GET", "/api/syncs");  // (held: the loop reads into it)
    for (const json& s : syncs["syncs"]) {
      if (s["name"] == name) return s["state"].get<std::string>();
    }
    return std::string("?");
  };
  REQUIRE(eventually([&] { return state("newsletter") == "running"; }));
  Command install =
      w.concord({"webhooks", "install", "--sync", "volunteers", "--public-url", d.url()});
  INFO(install.text());
  REQUIRE(install.code == 0);

  // Wilma leaves the Volunteers list in Mailchimp: the delivery is reconciled (she leaves the
  // group) while the newsletter's migration is still running.
  sandbox.member_hook({{"list_id", "a1b2c3d4e5"},
                       {"email_address", "wilma@bedrock.org"},
                       {"action", "unsubscribe"}});
  INFO(d.log());
  CHECK(eventually([&] { return group_status(sandbox, 101, 43) == "Removed"; }));
  CHECK(state("newsletter") == "running");
}
