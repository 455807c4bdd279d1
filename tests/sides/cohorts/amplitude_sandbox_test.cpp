// The Amplitude cohort client against the real concord-sandbox binary, over TLS: resolving
// cohorts, the export's life (request, polls, inline file or a download URL on another origin, an
// expired URL asked for again), the CSV's quoting, a large file, a cohort that changes between
// reads, the quotas, cut-short answers, and secrets kept out of every error.
#include <catch2/catch.hpp>
#include <thread>

#include "cohort_sandbox.h"
#include "concord/amplitude_client.h"
#include "concord/time.h"

namespace concord {
namespace {

using testing::Admin;
using testing::Collect;
using testing::json;
using testing::sandbox;

constexpr const char* kApiKey = "amp-api-key-DO-NOT-LEAK";
constexpr const char* kSecretKey = "amp-secret-key-DO-NOT-LEAK";

std::string url() {
  return sandbox().ready.at("amplitude_url");
}

Admin& admin() {
  static Admin a(url());
  return a;
}

// Users 1..3 named, an anonymous one (4), an awkward one (5); `big` more in cohort "big0001".
json seed(int big = 0, json settings = json::object()) {
  json users = json::array({
      {{"amplitude_id", 1},
       {"user_id", "user-1"},
       {"user_properties", {{"email", "one@example.org"}, {"plan", "pro"}, {"visits", 3}}}},
      {{"amplitude_id", 2}, {"user_id", "user-2"}, {"user_properties", {{"plan", "free"}}}},
      {{"amplitude_id", 3},
       {"user_id", "user-3"},
       {"user_properties", {{"email", "three@example.org"}, {"plan", nullptr}}}},
      {{"amplitude_id", 4}, {"user_id", nullptr}},
      {{"amplitude_id", 5},
       {"user_id", "user-5"},
       {"user_properties",
        {{"email", "o\"brien, \"pat\"@example.org"}, {"plan", "line one\nline \"two\", end"}}}},
  });
  json big_members = json::array();
  for (int i = 0; i < big; ++i) {
    users.push_back({{"amplitude_id", 1000 + i},
                     {"user_id", "big-" + std::to_string(i)},
                     {"user_properties",
                      {{"email", "big" + std::to_string(i) + "@example.org"},
                       {"plan", i % 2 == 0 ? "pro" : "free, \"annual\""}}}});
    big_members.push_back(1000 + i);
  }
  return {{"amplitude",
           {{"api_key", kApiKey},
            {"secret_key", kSecretKey},
            {"app_id", 187520},
            {"settings", settings},
            {"users", users},
            {"cohorts", json::array({
                            {{"id", "act1234"}, {"name", "Active"}, {"members", {1, 2, 3, 4, 5}}},
                            {{"id", "twin001"}, {"name", "Twins"}, {"members", {1}}},
                            {{"id", "twin002"}, {"name", "Twins"}, {"members", {2}}},
                            {{"id", "big0001"}, {"name", "Big"}, {"members", big_members}},
                        })}}}};
}

void reset(const json& s) {
  admin().call("POST", "/_sandbox/reset", s);
}

AmplitudeOptions options() {
  AmplitudeOptions o;
  o.api_key = kApiKey;
  o.secret_key = kSecretKey;
  o.base_url = url();
  o.http.ca_file = sandbox().ca_file();
  o.http.retry.base_delay = std::chrono::milliseconds(10);
  o.http.retry.max_delay = std::chrono::milliseconds(50);
  o.poll_interval = std::chrono::milliseconds(20);
  o.max_poll_interval = std::chrono::milliseconds(50);
  o.rate_base_delay = std::chrono::milliseconds(20);
  return o;
}

std::unique_ptr<AmplitudeClient> client(AmplitudeOptions o = options()) {
  auto c = AmplitudeClient::create(std::move(o));
  REQUIRE(c.is_ok());
  return std::move(*c);
}

void no_secret(const Status& s) {
  INFO(s.message());
  CHECK(s.message().find(kApiKey) == std::string::npos);
  CHECK(s.message().find(kSecretKey) == std::string::npos);
}

std::size_t count(const json& log, const std::string& path_prefix, int status = 0) {
  std::size_t n = 0;
  for (const json& e : log) {
    if (e["path"].get<std::string>().rfind(path_prefix, 0) == 0 &&
        (status == 0 || e["status"] == status)) {
      ++n;
    }
  }
  return n;
}

TEST_CASE("amplitude sandbox: a cohort resolves by id and by name; unknown and shared names fail") {
  reset(seed());
  auto c = client();
  auto by_id = c->reader("act1234", {});
  REQUIRE(by_id->resolve().is_ok());
  CHECK(by_id->set_name() == "Active");
  CHECK_FALSE(by_id->incremental());
  auto by_name = c->reader("Big", {});
  REQUIRE(by_name->resolve().is_ok());
  CHECK(by_name->set_name() == "Big");
  Status unknown = c->reader("Nope", {})->resolve();
  REQUIRE(unknown.code() == Status::Code::kNotFound);
  CHECK(unknown.message().find("act1234 \"Active\"") != std::string::npos);
  CHECK(unknown.message().find("big0001 \"Big\"") != std::string::npos);
  Status twins = c->reader("Twins", {})->resolve();
  REQUIRE(twins.code() == Status::Code::kInvalid);
  CHECK(twins.message().find("twin001, twin002") != std::string::npos);
  no_secret(twins);
}

TEST_CASE("amplitude sandbox: an inline export is read by header name, quoting and all") {
  reset(seed());
  admin().call("POST", "/_sandbox/clock", {{"now", "2026-03-01T00:00:00Z"}});
  auto c = client();
  auto r = c->reader("Active", {"plan", "visits"});
  Collect sink;
  Result<SideRead> read = r->read_all(sink);
  admin().call("POST", "/_sandbox/clock", {{"now", nullptr}});
  REQUIRE(read.is_ok());
  REQUIRE(sink.people.size() == 5);
  CHECK(sink.rejected.empty());
  CHECK(sink.find("1")->email == "one@example.org");
  CHECK(sink.field("1", "plan") == "pro");
  CHECK(sink.field("1", "visits") == "3");
  CHECK(sink.find("2")->email == "");  // no email property: handed over, reported downstream
  CHECK(sink.field("3", "plan") == "");
  CHECK(sink.find("4")->email == "");  // anonymous (no user_id): still a person, by amplitude_id
  CHECK(sink.find("5")->email == "o\"brien, \"pat\"@example.org");
  CHECK(sink.field("5", "plan") == "line one\nline \"two\", end");
  CHECK(read->watermark == parse_iso8601("2026-03-01T00:00:00Z").value());
  json log = admin().requests("amplitude");
  REQUIRE(log.size() == 5);  // list, request, INPROGRESS, COMPLETED, file
  CHECK(log[1]["path"] ==
        "/api/5/cohorts/request/act1234?props=1&propKeys=email&propKeys=plan&propKeys=visits");
  CHECK(log[1]["status"] == 202);
  CHECK(log[2]["status"] == 202);
  CHECK(log[3]["status"] == 200);
  CHECK(log[4]["path"].get<std::string>().find("/file") != std::string::npos);
  CHECK(log[4]["status"] == 200);
  CHECK(c->requests() == 5);
}

TEST_CASE("amplitude sandbox: CRLF files read the same") {
  reset(seed(0, {{"csv_crlf", true}}));
  Collect sink;
  REQUIRE(client()->reader("Active", {"plan"})->read_all(sink).is_ok());
  REQUIRE(sink.people.size() == 5);
  CHECK(sink.find("5")->email == "o\"brien, \"pat\"@example.org");
  CHECK(sink.field("5", "plan") == "line one\nline \"two\", end");
  CHECK(sink.field("1", "plan") == "pro");
}

TEST_CASE("amplitude sandbox: a slow export is polled until done; a too slow one fails") {
  reset(seed(0, {{"in_progress_polls", 4}}));
  Collect sink;
  REQUIRE(client()->reader("Active", {})->read_all(sink).is_ok());
  CHECK(sink.people.size() == 5);
  json log = admin().requests("amplitude");
  CHECK(count(log, "/api/5/cohorts/request-status/", 202) == 4);
  CHECK(count(log, "/api/5/cohorts/request-status/", 200) == 1);

  reset(seed(0, {{"in_progress_polls", 100000}}));
  AmplitudeOptions o = options();
  o.export_timeout = std::chrono::milliseconds(300);
  Result<SideRead> slow = client(o)->reader("Active", {})->read_all(sink);
  REQUIRE_FALSE(slow.is_ok());
  CHECK(slow.status().message().find("not finished") != std::string::npos);
  CHECK(count(admin().requests("amplitude"), "/api/5/cohorts/request/", 0) == 1);
}

TEST_CASE("amplitude sandbox: a failed export is an error") {
  reset(seed(0, {{"in_progress_polls", 100000}}));
  Result<SideRead> read = Status::internal("not run");
  auto c = client();
  std::thread reading([&] {
    Collect sink;
    read = c->reader("Active", {})->read_all(sink);
  });
  std::string request_id;
  for (int i = 0; i < 200 && request_id.empty(); ++i) {
    json exports = admin().call("GET", "/_sandbox/amplitude/exports");
    const json& list = exports.is_array() ? exports : exports.value("exports", json::array());
    if (!list.empty()) request_id = list[0]["request_id"];
    if (request_id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_FALSE(request_id.empty());
  admin().call("POST", "/_sandbox/amplitude/exports/" + request_id, {{"fail", true}});
  reading.join();
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().message().find("JOB FAILED") != std::string::npos);
  no_secret(read.status());
}

TEST_CASE(
    "amplitude sandbox: a redirected file is downloaded from the other origin, uncredentialed") {
  reset(seed(0, {{"download", "redirect"}}));
  auto c = client();
  Collect sink;
  Result<SideRead> read = c->reader("Active", {"plan"})->read_all(sink);
  REQUIRE(read.is_ok());  // the download URL refuses a request with an Authorization header
  CHECK(sink.people.size() == 5);
  CHECK(sink.field("5", "plan") == "line one\nline \"two\", end");
  json log = admin().requests("amplitude");
  CHECK(count(log, "/cohort-exports/", 200) == 1);
  CHECK(count(log, "/api/5/cohorts/request/", 302) == 1);
  CHECK(c->requests() == 6);
}

TEST_CASE("amplitude sandbox: an expired download URL is asked for again") {
  reset(seed(0, {{"download", "redirect"}, {"link_seconds", 1}}));
  // The first download waits 1.5 s before it is answered: its URL has expired by then.
  admin().call("POST", "/_sandbox/faults",
               {{"part", "amplitude"},
                {"path_prefix", "/cohort-exports/"},
                {"next", json::array({"delay:1500"})}});
  Collect sink;
  Result<SideRead> read = client()->reader("Active", {})->read_all(sink);
  admin().call("POST", "/_sandbox/faults", {{"part", "amplitude"}});
  REQUIRE(read.is_ok());
  CHECK(sink.people.size() == 5);
  json log = admin().requests("amplitude");
  CHECK(count(log, "/cohort-exports/", 403) == 1);
  CHECK(count(log, "/cohort-exports/", 200) == 1);
  CHECK(count(log, "/api/5/cohorts/request/", 302) == 2);  // /file asked twice

  // URLs that are always expired by the time they are used: an error after download_attempts
  // fresh ones.
  reset(seed(0, {{"download", "redirect"}, {"link_seconds", 1}}));
  admin().call("POST", "/_sandbox/faults",
               {{"part", "amplitude"},
                {"path_prefix", "/cohort-exports/"},
                {"next", json::array({"delay:1200", "delay:1200"})}});
  AmplitudeOptions o = options();
  o.download_attempts = 2;
  Collect none;
  Result<SideRead> expired = client(o)->reader("Active", {})->read_all(none);
  admin().call("POST", "/_sandbox/faults", {{"part", "amplitude"}});
  CHECK(count(admin().requests("amplitude"), "/cohort-exports/", 403) == 2);
  REQUIRE_FALSE(expired.is_ok());
  CHECK(expired.status().message().find("expired, 2 URLs tried") != std::string::npos);
  no_secret(expired.status());
}

TEST_CASE("amplitude sandbox: a large cohort's file is read a page at a time") {
  reset(seed(30000, {{"inline_max_bytes", 65536}}));  // "auto": redirected above 64 KiB
  auto c = client();
  Collect sink;
  Result<SideRead> read = c->reader("Big", {"plan"})->read_all(sink);
  REQUIRE(read.is_ok());
  REQUIRE(sink.people.size() == 30000);
  CHECK(sink.calls == 30);
  CHECK(read->pages == 30);
  CHECK(sink.find("1000")->email == "big0@example.org");
  CHECK(sink.field("1001", "plan") == "free, \"annual\"");
  CHECK(sink.find("30999")->email == "big29999@example.org");
  CHECK(count(admin().requests("amplitude"), "/cohort-exports/", 200) == 1);
}

TEST_CASE("amplitude sandbox: a cohort that shrinks, and an address that changes, between reads") {
  reset(seed());
  auto c = client();
  auto r = c->reader("Active", {});
  Collect first;
  REQUIRE(r->read_all(first).is_ok());
  REQUIRE(first.find("3") != nullptr);
  admin().call("POST", "/_sandbox/amplitude/cohorts/act1234/members", {{"remove", {3}}});
  admin().call("POST", "/_sandbox/amplitude/users",
               {{"amplitude_id", 1}, {"user_properties", {{"email", "one.new@example.org"}}}});
  Collect second;
  REQUIRE(r->read_all(second).is_ok());
  CHECK(second.people.size() == 4);
  CHECK(second.find("3") == nullptr);
  REQUIRE(second.find("1") != nullptr);
  CHECK(second.find("1")->email == "one.new@example.org");
}

TEST_CASE("amplitude sandbox: 429s are waited out; a spent quota is an error quoting it") {
  reset(seed());
  admin().call("POST", "/_sandbox/faults",
               {{"part", "amplitude"},
                {"path_prefix", "/api/5/cohorts/request/"},
                {"next", json::array({"429", "429"})}});
  auto c = client();
  Collect sink;
  REQUIRE(c->reader("Active", {})->read_all(sink).is_ok());
  CHECK(sink.people.size() == 5);
  json log = admin().requests("amplitude");
  CHECK(count(log, "/api/5/cohorts/request/", 429) == 2);
  CHECK(c->requests() == 7);
  admin().call("POST", "/_sandbox/faults", {{"part", "amplitude"}});

  reset(seed(0, {{"exports_per_window", 1}}));
  auto limited = client();
  REQUIRE(limited->reader("Active", {})->read_all(sink).is_ok());
  const std::uint64_t since = admin().next_seq();
  Result<SideRead> again = limited->reader("Active", {})->read_all(sink);
  REQUIRE_FALSE(again.is_ok());
  CHECK(again.status().retryable());
  CHECK(again.status().message().find("HTTP 429") != std::string::npos);
  no_secret(again.status());
  // One export request, tried rate_limit_attempts (4) times; nothing polled.
  json after = admin().requests("amplitude", since);
  CHECK(count(after, "/api/5/cohorts/request/", 429) == 4);
  CHECK(count(after, "/api/5/cohorts/request-status/") == 0);
}

TEST_CASE("amplitude sandbox: cut-short answers are errors or retried, never a crash") {
  reset(seed());
  admin().call(
      "POST", "/_sandbox/faults",
      {{"part", "amplitude"}, {"next", json::array({"none", "truncate", "none", "truncate"})}});
  Collect sink;
  REQUIRE(client()->reader("Active", {})->read_all(sink).is_ok());
  CHECK(sink.people.size() == 5);

  reset(seed(0, {{"download", "redirect"}}));
  admin().call(
      "POST", "/_sandbox/faults",
      {{"part", "amplitude"}, {"path_prefix", "/cohort-exports/"}, {"truncate_rate", 1.0}});
  AmplitudeOptions o = options();
  o.http.retry.max_attempts = 2;
  Collect none;
  Result<SideRead> read = client(o)->reader("Active", {})->read_all(none);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().retryable());
  CHECK(read.status().message().find("download URL") != std::string::npos);
  CHECK(none.people.empty());
  no_secret(read.status());
  // A file cut short without the connection saying so cannot be told from a short file; an API
  // answer cut short is refused by the transport: a 500 from the edge is an error too.
  admin().call("POST", "/_sandbox/faults",
               {{"part", "amplitude"}, {"path_prefix", "/api/"}, {"truncate_rate", 1.0}});
  Result<SideRead> api = client(o)->reader("Active", {})->read_all(none);
  REQUIRE_FALSE(api.is_ok());
  no_secret(api.status());
  admin().call("POST", "/_sandbox/faults", {{"part", "amplitude"}});
}

TEST_CASE("amplitude sandbox: wrong keys are an error that quotes neither key") {
  reset(seed());
  AmplitudeOptions o = options();
  o.secret_key = "wrong-secret-DO-NOT-LEAK";
  Status s = client(o)->reader("Active", {})->resolve();
  REQUIRE(s.code() == Status::Code::kInvalid);
  CHECK(s.message().find("refused the API key and secret key") != std::string::npos);
  CHECK(s.message().find("wrong-secret") == std::string::npos);
  no_secret(s);
}

}  // namespace
}  // namespace concord
