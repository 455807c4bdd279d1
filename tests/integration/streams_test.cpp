// End to end: `concord serve` with an Amplitude [[stream]]: an SDK-shaped sender posts events and
// identify calls to the daemon, which forwards them into the sandbox's audience as member events
// and member upserts. Every member event must arrive exactly once (also when the daemon is killed
// mid-forwarding and Mailchimp's answers get lost), everything else is counted and reported.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <map>
#include <set>

#include "serve_daemon.h"

using namespace concord;
using namespace concord::testing;
using json = nlohmann::json;

namespace {

constexpr const char* kIntakeKey = "0123456789abcdef0123456789abcdef";

Sandbox& sandbox() {
  static Sandbox sb;
  return sb;
}

std::string member_email(int i) {
  return "stream" + std::to_string(i) + "@example.org";
}

// The fixture plus `members` subscribed members stream<i>@example.org.
json seed_with_members(int members) {
  json seed = fixture_seed();
  json& list = seed["mailchimp"]["lists"][0];
  for (int i = 0; i < members; ++i) {
    list["members"].push_back({{"email_address", member_email(i)},
                               {"status", "subscribed"},
                               {"timestamp_opt", "2026-01-01T12:00:00+00:00"},
                               {"last_changed", "2026-01-01T12:00:00+00:00"},
                               {"merge_fields", {{"FNAME", "S" + std::to_string(i)}}}});
  }
  return seed;
}

void stream_config(Sandbox& sb, Workdir& w, const std::string& extra = "") {
  w.write_config(
      "state_dir = \"state\"\n[mailchimp.main]\napi_key_env = \"MAILCHIMP_API_KEY\"\n"
      "base_url = \"" +
      sb.mailchimp_url() + "\"\nca_file = \"" + sb.ca_file() +
      "\"\n[[stream]]\nname = \"product\"\nkind = \"amplitude\"\n"
      "api_key_env = \"AMPLITUDE_INTAKE_KEY\"\naudience = \"Newsletter\"\n" +
      extra + "[serve]\nlisten = \"127.0.0.1:0\"\n");
}

// An HTTP V2 upload as Amplitude's SDKs send it.
http::Response upload(Daemon& d, const json& events, const std::string& key = kIntakeKey) {
  http::Request r;
  r.method = "POST";
  r.target = "/2/httpapi";
  r.headers = {{"Content-Type", "application/json"}, {"Accept", "*/*"}};
  r.body = json{{"api_key", key}, {"events", events}}.dump();
  return d.send(r);
}

// `text` gzip-compressed, as the SDKs send a body with Content-Encoding: gzip.
std::string gzip(const std::string& text) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

json stream_view(Daemon& d) {
  json all = d.api("GET", "/api/streams");
  REQUIRE(all["streams"].size() == 1);
  return all["streams"][0];
}

// Waits until the stream has nothing queued and has settled `accepted` events.
json wait_settled(Daemon& d, std::uint64_t accepted, int seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  json v;
  while (std::chrono::steady_clock::now() < deadline) {
    v = stream_view(d);
    if (v["accepted"] == accepted && v["queued"] == 0 &&
        v["forwarded"].get<std::uint64_t>() + v["dropped"].get<std::uint64_t>() == accepted) {
      return v;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(v.dump() << "\n" << d.log());
  FAIL("the stream did not settle its events in time");
  return v;
}

// Every member event in the sandbox, as email → the "n" properties of its events.
std::map<std::string, std::vector<std::string>> events_by_member(Sandbox& sb) {
  std::map<std::string, std::vector<std::string>> out;
  SideState st(sb.state());
  for (const json& m : st.list()["members"]) {
    if (!m.contains("events")) continue;
    for (const json& e : m["events"]) {
      out[m["email_address"].get<std::string>()].push_back(
          e["properties"].value("n", std::string("?")));
    }
  }
  return out;
}

// `count` SDK-shaped events numbered from `first`: event i is member i % members' (its address
// as user_id), except every 25th, which is a non-member's, and every 40th, which is anonymous (a
// device id only). Returns how many of each kind went into `expect`.
struct Expect {
  std::map<std::string, std::set<std::string>> member_events;  // email → "n" values
  std::uint64_t non_member = 0;
  std::uint64_t anonymous = 0;
};
json make_events(int first, int count, int members, Expect* expect) {
  json events = json::array();
  for (int i = first; i < first + count; ++i) {
    json e = {{"event_type", i % 2 ? "Order Completed" : "Page Viewed"},
              {"time", 1790000000000LL + i * 1000LL},
              {"insert_id", "ins-" + std::to_string(i)},
              {"device_id", "device-" + std::to_string(i % 97)},
              {"event_properties", {{"n", std::to_string(i)}, {"amount", i % 7}}}};
    if (i % 40 == 0) {
      ++expect->anonymous;
    } else if (i % 25 == 0) {
      e["user_id"] = "nobody" + std::to_string(i) + "@example.org";
      ++expect->non_member;
    } else {
      const std::string email = member_email(i % members);
      e["user_id"] = email;
      expect->member_events[email].insert(std::to_string(i));
    }
    events.push_back(std::move(e));
  }
  return events;
}

void check_arrived_once(Sandbox& sb, const Expect& expect) {
  const auto got = events_by_member(sb);
  std::size_t want_total = 0, got_total = 0;
  for (const auto& [email, ns] : expect.member_events)
    want_total += ns.size();
  for (const auto& [email, ns] : got)
    got_total += ns.size();
  CHECK(got_total == want_total);
  for (const auto& [email, ns] : expect.member_events) {
    auto it = got.find(email);
    REQUIRE(it != got.end());
    std::multiset<std::string> arrived(it->second.begin(), it->second.end());
    for (const std::string& n : ns) {
      INFO(email << " event " << n);
      CHECK(arrived.count(n) == 1);
    }
  }
}

}  // namespace

TEST_CASE("an Amplitude stream forwards 10 000 events: members' once, the rest reported") {
  Sandbox& sb = sandbox();
  constexpr int kMembers = 200;
  sb.reset(seed_with_members(kMembers));
  Workdir w(sb);
  stream_config(sb, w, "user_properties = [\"FNAME\", \"favourite_colour\"]\n");
  Daemon d(w, {}, {{"AMPLITUDE_INTAKE_KEY", kIntakeKey}});

  // A wrong key is refused and takes nothing; the key is never echoed.
  http::Response wrong = upload(d, json::array({{{"event_type", "x"}, {"user_id", "abcdef"}}}),
                                "not-the-key-not-the-key-not-the-k");
  CHECK(wrong.status == 400);
  CHECK(json::parse(wrong.body)["error"] == "Invalid API key");

  Expect expect;
  json first_batch;
  for (int b = 0; b < 100; ++b) {
    json events = make_events(b * 100, 100, kMembers, &expect);
    if (b == 0) first_batch = events;
    http::Response r;
    if (b % 10 == 1) {
      // Every tenth request gzip-compressed, as the SDKs may send them.
      http::Request g;
      g.method = "POST";
      g.target = "/batch";
      g.headers = {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}};
      g.body = gzip(json{{"api_key", kIntakeKey}, {"events", events}}.dump());
      r = d.send(g);
    } else {
      r = upload(d, events);
    }
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body)["events_ingested"] == 100);
  }
  // A retry of a request whose 200 was lost: every event is a duplicate (insert_id, 7 days).
  REQUIRE(upload(d, first_batch).status == 200);

  json v = wait_settled(d, 10100);
  INFO(v.dump());
  std::size_t member_events = 0;
  for (const auto& [email, ns] : expect.member_events)
    member_events += ns.size();
  CHECK(v["forwarded"] == member_events);
  CHECK(v["dropped_by_reason"]["duplicate"] == 100);
  CHECK(v["dropped_by_reason"]["not_member"] == expect.non_member);
  CHECK(v["dropped_by_reason"]["anonymous"] == expect.anonymous);
  CHECK(v["last_error"].is_null());
  check_arrived_once(sb, expect);

  // The names and properties as Mailchimp takes them.
  SideState st(sb.state());
  const json& m1 = st.member(member_email(1));
  REQUIRE(m1.contains("events"));
  bool seen = false;
  for (const json& e : m1["events"]) {
    if (e["properties"].value("n", "") != "1") continue;
    seen = true;
    CHECK(e["name"] == "order_completed");
    CHECK(e["properties"]["amount"] == "1");
    CHECK(e["occurred_at"].get<std::string>().rfind("2026-09-21T", 0) == 0);
  }
  CHECK(seen);

  // Identify: a new person becomes a member (status_if_new) with the merge fields that exist;
  // a property with no merge field is reported once, not sent.
  http::Request id;
  id.method = "POST";
  id.target = "/identify";
  id.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  id.body = "api_key=" + std::string(kIntakeKey) + "&identification=" +
            http::url_encode(json{
                {"user_id", "neo@nebuchadnezzar.net"},
                {"user_properties", {{"$set", {{"FNAME", "Neo"}, {"favourite_colour", "green"}}}}}}
                                 .dump());
  http::Response ir = d.send(id);
  CHECK(ir.status == 200);
  CHECK(ir.body == "success");
  v = wait_settled(d, 10101);
  INFO(v.dump() << "\n" << d.log());
  SideState after(sb.state());
  CHECK(after.mc_status("neo@nebuchadnezzar.net") == "subscribed");
  CHECK(after.member("neo@nebuchadnezzar.net")["merge_fields"].value("FNAME", "") == "Neo");
  CHECK(v["unknown_properties"] == json::array({"favourite_colour"}));

  // /metrics and explain tell the same story.
  http::Response metrics = d.call("GET", "/metrics");
  CHECK(metrics.body.find("concord_stream_events_total{stream=\"product\",outcome=\"forwarded\"} " +
                          std::to_string(member_events + 1)) != std::string::npos);
  CHECK(metrics.body.find("concord_stream_dropped_total{stream=\"product\",reason=\"duplicate\"} "
                          "100") != std::string::npos);
  CHECK(metrics.body.find("concord_stream_queued{stream=\"product\"} 0") != std::string::npos);
  Command explain = w.concord({"explain", member_email(1), "--json"});
  INFO(explain.text());
  REQUIRE(explain.code == 0);
  json ex = explain.json();
  REQUIRE(ex["streams"].size() == 1);
  CHECK(ex["streams"][0]["forwarded"].size() == expect.member_events[member_email(1)].size());
  CHECK(w.concord({"explain", "neo@nebuchadnezzar.net"}).out.find("identify") != std::string::npos);
  Command status = w.concord({"status"});
  INFO(status.text());
  CHECK(status.out.find("stream product: accepted 10101, forwarded " +
                        std::to_string(member_events + 1) + ", queued 0") != std::string::npos);
  // The key never shows.
  CHECK(d.log().find(kIntakeKey) == std::string::npos);
  CHECK(explain.text().find(kIntakeKey) == std::string::npos);
}

TEST_CASE("a stream killed mid-forwarding, with lost answers, loses and repeats nothing") {
  Sandbox& sb = sandbox();
  constexpr int kMembers = 100;
  sb.reset(seed_with_members(kMembers));
  // Slow answers, and some events recorded by Mailchimp whose answer never comes back.
  sb.faults("mailchimp", {{"latency_ms", 20},
                          {"reset_after_rate", 0.05},
                          {"error_rates", {{"503", 0.03}}},
                          {"path_prefix", "/3.0/lists"},
                          {"seed", 7}});
  Workdir w(sb);
  stream_config(sb, w);
  Expect expect;
  auto d = std::make_unique<Daemon>(
      w, std::vector<std::string>{},
      std::map<std::string, std::string>{{"AMPLITUDE_INTAKE_KEY", kIntakeKey}});
  for (int b = 0; b < 20; ++b)
    REQUIRE(upload(*d, make_events(b * 100, 100, kMembers, &expect)).status == 200);
  // Killed once some, not all, have been forwarded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stream_view(*d)["forwarded"].get<std::uint64_t>() < 300 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  json before = stream_view(*d);
  INFO(before.dump());
  CHECK(before["queued"].get<std::uint64_t>() > 0);
  d.reset();  // SIGKILL

  d = std::make_unique<Daemon>(
      w, std::vector<std::string>{},
      std::map<std::string, std::string>{{"AMPLITUDE_INTAKE_KEY", kIntakeKey}});
  json v = wait_settled(*d, 2000, 120);
  INFO(v.dump() << "\n" << d->log());
  CHECK(v["dropped_by_reason"]["not_member"] == expect.non_member);
  CHECK(v["dropped_by_reason"]["anonymous"] == expect.anonymous);
  sb.faults("mailchimp", json::object());
  check_arrived_once(sb, expect);
}

TEST_CASE("concord check reads a stream's key, audience, event names and user properties") {
  Sandbox& sb = sandbox();
  sb.reset(fixture_seed());
  Workdir w(sb);
  stream_config(sb, w, "events = [\"Order Completed\"]\nuser_properties = [\"fname\"]\n");
  w.set_env("AMPLITUDE_INTAKE_KEY", kIntakeKey);
  Command ok = w.concord({"check"});
  INFO(ok.text());
  CHECK(ok.code == 0);
  CHECK(ok.out.find("Stream product (amplitude)") != std::string::npos);
  CHECK(ok.out.find("user properties checked") != std::string::npos);
  CHECK(ok.text().find(kIntakeKey) == std::string::npos);
  // The same as JSON (docs/cli.md): a section per account, pair and stream.
  Command as_json = w.concord({"check", "--json"});
  INFO(as_json.text());
  REQUIRE(as_json.code == 0);
  json checked = as_json.json();
  CHECK(checked["ok"] == true);
  CHECK(checked["problems"] == 0);
  REQUIRE(checked["sections"].size() == 2);
  CHECK(checked["sections"][0]["kind"] == "mailchimp");
  CHECK(checked["sections"][1]["kind"] == "stream");
  CHECK(checked["sections"][1]["name"] == "product");
  CHECK(checked["sections"][1]["found"].dump().find("user properties checked") !=
        std::string::npos);

  stream_config(sb, w, "events = [\"!\"]\nuser_properties = [\"favourite_colour\"]\n");
  Command bad = w.concord({"check"});
  INFO(bad.text());
  CHECK(bad.code != 0);
  CHECK(bad.out.find("\"!\" makes no Mailchimp event name") != std::string::npos);
  CHECK(bad.out.find("\"favourite_colour\" names no merge field") != std::string::npos);
  json bad_json = w.concord({"check", "--json"}).json();
  CHECK(bad_json["ok"] == false);
  CHECK(bad_json["problems"] == 2);
  CHECK(bad_json["sections"][1]["problems"].size() == 2);

  // Without its key the daemon does not start, and says which variable is missing.
  w.set_env("AMPLITUDE_INTAKE_KEY", "");
  Command serve = w.concord({"serve"});
  CHECK(serve.code == 2);
  CHECK(serve.err.find("AMPLITUDE_INTAKE_KEY is not set") != std::string::npos);
}

TEST_CASE("a sender over its rate gets Amplitude's 429 and nothing of that request is taken") {
  Sandbox& sb = sandbox();
  sb.reset(seed_with_members(5));
  Workdir w(sb);
  stream_config(sb, w, "max_events_per_second = 1\n");  // a burst of 30 events per id
  Daemon d(w, {}, {{"AMPLITUDE_INTAKE_KEY", kIntakeKey}});
  Expect expect;
  REQUIRE(upload(d, make_events(1, 20, 5, &expect)).status == 200);
  json burst = json::array();
  for (int i = 0; i < 30; ++i) {  // with the 4 member 0 sent above: over 30
    burst.push_back({{"event_type", "Clicked"},
                     {"user_id", member_email(0)},
                     {"insert_id", "burst-" + std::to_string(i)}});
  }
  // Sent once: an HTTP client that retries 429s would get it in after the allowance refilled.
  http::ClientOptions once;
  once.retry.max_attempts = 1;
  auto client = http::Client::create(http::Url::parse(d.url()).value(), once).value();
  http::Request req;
  req.method = "POST";
  req.target = "/2/httpapi";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = json{{"api_key", kIntakeKey}, {"events", burst}}.dump();
  http::Response r = client->send(req).value();
  INFO(r.body);
  CHECK(r.status == 429);
  json body = json::parse(r.body);
  CHECK(body["code"] == 429);
  CHECK(body["eps_threshold"] == 1);
  CHECK(body["throttled_users"].contains(member_email(0)));
  CHECK(body["throttled_events"].size() == 30);
  json v = wait_settled(d, 20);
  CHECK(v["accepted"] == 20);  // the refused request took nothing
}
