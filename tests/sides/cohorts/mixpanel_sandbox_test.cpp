// The Mixpanel cohort client against the real concord-sandbox binary, over TLS: resolving cohorts,
// paging a large one, people without an address, a cohort that changes between reads, the rate
// limits, cut-short answers, and secrets kept out of every error.
#include <catch2/catch.hpp>
#include <set>

#include "cohort_sandbox.h"
#include "concord/mixpanel_client.h"
#include "concord/time.h"

namespace concord {
namespace {

using testing::Admin;
using testing::Collect;
using testing::json;
using testing::sandbox;

constexpr std::int64_t kProject = 4242;
constexpr const char* kUser = "sa.cohort.4242.mp-service-account";
constexpr const char* kSecret = "mp-secret-DO-NOT-LEAK-0123";

std::string url() {
  return sandbox().ready.at("mixpanel_url");
}

// A project with a few named cohorts and `big` members in cohort 3000 ("Big").
json seed(int big = 0) {
  json profiles = json::array({
      {{"$distinct_id", "alice"},
       {"$properties",
        {{"$email", "alice@example.org"}, {"$first_name", "Alice"}, {"plan", "pro"}}}},
      {{"$distinct_id", "bob"}, {"$properties", {{"$first_name", "Bob"}, {"visits", 7}}}},
      {{"$distinct_id", "carol"},
       {"$properties", {{"$email", "carol@example.org"}, {"$first_name", "Carol"}}}},
  });
  json big_members = json::array();
  for (int i = 0; i < big; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "p%05d", i);
    big_members.push_back(id);
    profiles.push_back(
        {{"$distinct_id", id}, {"$properties", {{"$email", std::string(id) + "@example.org"}}}});
  }
  return {{"mixpanel",
           {{"project_id", kProject},
            {"service_accounts", json::array({{{"username", kUser}, {"secret", kSecret}}})},
            {"cohorts", json::array({
                            {{"id", 1000},
                             {"name", "Cohort One"},
                             {"members", json::array({"alice", "bob", "carol", "dave"})}},
                            {{"id", 2000}, {"name", "Twins"}, {"members", json::array({"alice"})}},
                            {{"id", 2001}, {"name", "Twins"}, {"members", json::array({"bob"})}},
                            {{"id", 3000}, {"name", "Big"}, {"members", big_members}},
                        })},
            {"profiles", profiles}}}};
}

Admin& admin() {
  static Admin a(url());
  return a;
}

void reset(const json& s) {
  admin().call("POST", "/_sandbox/reset", s);
}

MixpanelOptions options() {
  MixpanelOptions o;
  o.project_id = kProject;
  o.service_account = kUser;
  o.secret = kSecret;
  o.base_url = url() + "/api/query";
  o.http.ca_file = sandbox().ca_file();
  o.http.retry.base_delay = std::chrono::milliseconds(10);
  o.http.retry.max_delay = std::chrono::milliseconds(50);
  o.rate_base_delay = std::chrono::milliseconds(20);
  return o;
}

std::unique_ptr<MixpanelClient> client(MixpanelOptions o = options()) {
  auto c = MixpanelClient::create(std::move(o));
  REQUIRE(c.is_ok());
  return std::move(*c);
}

void no_secret(const Status& s) {
  INFO(s.message());
  CHECK(s.message().find(kSecret) == std::string::npos);
}

TEST_CASE("mixpanel sandbox: a cohort resolves by name and by id") {
  reset(seed());
  auto c = client();
  auto by_name = c->reader("Cohort One", {});
  REQUIRE(by_name->resolve().is_ok());
  CHECK(by_name->set_name() == "Cohort One");
  CHECK_FALSE(by_name->incremental());
  auto by_id = c->reader("2001", {});
  REQUIRE(by_id->resolve().is_ok());
  CHECK(by_id->set_name() == "Twins");
  const std::uint64_t before = c->requests();
  REQUIRE(by_id->resolve().is_ok());  // once: later calls are free
  CHECK(c->requests() == before);
}

TEST_CASE("mixpanel sandbox: an unknown cohort lists those that exist; a shared name lists ids") {
  reset(seed());
  auto c = client();
  Status unknown = c->reader("Nope", {})->resolve();
  REQUIRE(unknown.code() == Status::Code::kNotFound);
  CHECK(unknown.message().find("1000 \"Cohort One\"") != std::string::npos);
  CHECK(unknown.message().find("3000 \"Big\"") != std::string::npos);
  Status unknown_id = c->reader("999", {})->resolve();
  CHECK(unknown_id.code() == Status::Code::kNotFound);
  Status twins = c->reader("Twins", {})->resolve();
  REQUIRE(twins.code() == Status::Code::kInvalid);
  CHECK(twins.message().find("2000, 2001") != std::string::npos);
  no_secret(twins);
}

TEST_CASE("mixpanel sandbox: members are read with their address and fields; no email is \"\"") {
  reset(seed());
  admin().call("POST", "/_sandbox/clock", {{"now", "2026-01-05T12:00:00Z"}});
  auto c = client();
  auto r = c->reader("Cohort One", {"$first_name", "plan", "visits"});
  Collect sink;
  Result<SideRead> read = r->read_all(sink);
  admin().call("POST", "/_sandbox/clock", {{"now", nullptr}});
  REQUIRE(read.is_ok());
  // dave has no profile: not read by default (include_all_users=false)
  REQUIRE(sink.people.size() == 3);
  CHECK(sink.find("dave") == nullptr);
  CHECK(sink.find("alice")->email == "alice@example.org");
  CHECK(sink.field("alice", "$first_name") == "Alice");
  CHECK(sink.field("alice", "plan") == "pro");
  CHECK(sink.field("alice", "visits") == "");
  CHECK(sink.find("bob")->email == "");  // handed over: the snapshot stage reports it
  CHECK(sink.field("bob", "visits") == "7");
  CHECK(sink.rejected.empty());
  CHECK(read->pages == 1);
  CHECK(read->watermark == parse_iso8601("2026-01-05T12:00:00Z").value());
  // The request as sent: the cohort filter, $email and the fields only, no secret in the URL.
  json log = admin().requests("mixpanel");
  REQUIRE(log.size() == 2);
  CHECK(log[1]["path"] == "/api/query/engage?project_id=4242");
  const std::string body = log[1]["body"];
  CHECK(body.find("filter_by_cohort=%7B%22id%22%3A1000%7D") != std::string::npos);
  CHECK(body.find("output_properties=%5B%22%24email%22%2C%22%24first_name%22%2C%22plan%22%2C%"
                  "22visits%22%5D") != std::string::npos);
  for (const json& e : log)
    CHECK(e["path"].get<std::string>().find(kSecret) == std::string::npos);
  CHECK(r->requests() == 2);

  // include_all_users: the member without a profile comes too, without an address.
  MixpanelOptions all = options();
  all.include_all_users = true;
  Collect everyone;
  REQUIRE(client(all)->reader("1000", {})->read_all(everyone).is_ok());
  CHECK(everyone.people.size() == 4);
  REQUIRE(everyone.find("dave") != nullptr);
  CHECK(everyone.find("dave")->email == "");
}

TEST_CASE("mixpanel sandbox: 2 500 members are read over three pages of one session") {
  reset(seed(2500));
  auto c = client();
  auto r = c->reader("Big", {});
  Collect sink;
  Result<SideRead> read = r->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(sink.people.size() == 2500);
  CHECK(read->pages == 3);
  CHECK(sink.find("p00000")->email == "p00000@example.org");
  CHECK(sink.find("p02499")->email == "p02499@example.org");
  std::set<std::string> ids;
  for (const SourcePerson& p : sink.people)
    ids.insert(p.id);
  CHECK(ids.size() == 2500);
  json log = admin().requests("mixpanel");
  REQUIRE(log.size() == 4);  // the list, then pages 0, 1, 2
  const std::string first = log[1]["body"];
  CHECK(first.find("session_id") == std::string::npos);
  CHECK(first.find("page=") == std::string::npos);
  for (int page : {1, 2}) {
    const std::string body = log[1 + page]["body"];
    CHECK(body.find("&session_id=") != std::string::npos);
    CHECK(body.find("&page=" + std::to_string(page)) != std::string::npos);
    CHECK(log[1 + page]["status"] == 200);
  }
  CHECK(c->requests() == 4);
}

TEST_CASE("mixpanel sandbox: exactly 2 000 members end on an empty third page") {
  reset(seed(2000));
  Collect sink;
  auto c = client();
  Result<SideRead> read = c->reader("3000", {})->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(sink.people.size() == 2000);
  CHECK(read->pages == 3);
}

// Expires the sandbox's paging sessions after the first page it is handed.
struct ExpiringSink final : SourceSink {
  Collect inner;
  Status records(std::vector<SourcePerson>& page) override {
    if (inner.calls == 0) admin().call("DELETE", "/_sandbox/mixpanel/sessions");
    return inner.records(page);
  }
  void reject(RejectedRow row) override { inner.reject(std::move(row)); }
};

TEST_CASE("mixpanel sandbox: a session that expires mid-read is a retryable error") {
  reset(seed(1500));
  ExpiringSink sink;
  Result<SideRead> read = client()->reader("Big", {})->read_all(sink);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().retryable());
  CHECK(read.status().message().find("paging session ended") != std::string::npos);
  CHECK(sink.inner.people.size() == 1000);
}

TEST_CASE("mixpanel sandbox: a cohort that shrinks, and an address that changes, between reads") {
  reset(seed());
  auto c = client();
  auto r = c->reader("Cohort One", {});
  Collect first;
  REQUIRE(r->read_all(first).is_ok());
  REQUIRE(first.find("carol") != nullptr);
  admin().call("POST", "/_sandbox/mixpanel/cohorts/1000/members",
               {{"remove", json::array({"carol"})}});
  admin().call("POST", "/_sandbox/mixpanel/profiles",
               {{"$distinct_id", "alice"}, {"$set", {{"$email", "alice.new@example.org"}}}});
  Collect second;
  REQUIRE(r->read_all(second).is_ok());
  CHECK(second.people.size() == 2);
  CHECK(second.find("carol") == nullptr);
  REQUIRE(second.find("alice") != nullptr);
  CHECK(second.find("alice")->email == "alice.new@example.org");
}

TEST_CASE("mixpanel sandbox: a spent hourly budget fails the read at once, saying so") {
  reset(seed(2500));
  admin().call("POST", "/_sandbox/mixpanel/limits", {{"queries_per_hour", 3}});
  auto c = client();
  Collect sink;
  Result<SideRead> read = c->reader("Big", {})->read_all(sink);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().retryable());
  CHECK(read.status().message().find("hourly query budget is exhausted") != std::string::npos);
  no_secret(read.status());
  json log = admin().requests("mixpanel");
  REQUIRE(log.size() == 4);  // three admitted, one refused, none retried
  CHECK(log[3]["status"] == 429);
  CHECK(c->requests() == 4);

  // With Retry-After beyond the bounded wait: no wait, the same error.
  reset(seed());
  admin().call("POST", "/_sandbox/mixpanel/limits",
               {{"queries_per_hour", 1}, {"retry_after", true}});
  Result<SideRead> again = client()->reader("Cohort One", {})->read_all(sink);
  REQUIRE_FALSE(again.is_ok());
  CHECK(again.status().message().find("hourly query budget is exhausted") != std::string::npos);
}

TEST_CASE("mixpanel sandbox: 429s for running queries are waited out and retried") {
  reset(seed(1500));
  admin().call("POST", "/_sandbox/faults",
               {{"part", "mixpanel"}, {"next", json::array({"none", "none", "429", "429"})}});
  auto c = client();
  Collect sink;
  Result<SideRead> read = c->reader("Big", {})->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(sink.people.size() == 1500);
  json log = admin().requests("mixpanel");
  REQUIRE(log.size() == 5);  // list, page 0, two 429s on page 1, page 1
  CHECK(log[2]["status"] == 429);
  CHECK(log[3]["status"] == 429);
  CHECK(log[4]["status"] == 200);
  CHECK(c->requests() == 5);

  // More 429s than rate_limit_attempts: an error saying so.
  reset(seed());
  admin().call("POST", "/_sandbox/faults", {{"part", "mixpanel"}, {"error_rates", {{"429", 1.0}}}});
  MixpanelOptions o = options();
  o.rate_limit_attempts = 3;
  auto limited = client(o);
  Status s = limited->reader("Cohort One", {})->resolve();
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.message().find("rate limited (HTTP 429) 3 times") != std::string::npos);
  CHECK(limited->requests() == 3);
  admin().call("POST", "/_sandbox/faults", {{"part", "mixpanel"}});
}

TEST_CASE("mixpanel sandbox: cut-short answers are errors or retried, never a crash") {
  reset(seed(1500));
  // One cut answer: the transport asks again.
  admin().call("POST", "/_sandbox/faults",
               {{"part", "mixpanel"}, {"next", json::array({"none", "none", "truncate"})}});
  Collect sink;
  REQUIRE(client()->reader("Big", {})->read_all(sink).is_ok());
  CHECK(sink.people.size() == 1500);
  // Every answer cut: an error, naming the call, not the secret.
  admin().call("POST", "/_sandbox/faults", {{"part", "mixpanel"}, {"truncate_rate", 1.0}});
  MixpanelOptions o = options();
  o.http.retry.max_attempts = 2;
  Collect none;
  Result<SideRead> read = client(o)->reader("Big", {})->read_all(none);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().retryable());
  CHECK(read.status().message().find("Mixpanel cohorts/list") != std::string::npos);
  no_secret(read.status());
  // A 5xx page from the load balancer: an error too.
  admin().call("POST", "/_sandbox/faults",
               {{"part", "mixpanel"}, {"next", json::array({"none", "502", "502"})}});
  Result<SideRead> bad = client(o)->reader("Big", {})->read_all(none);
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find("HTTP 502") != std::string::npos);
  admin().call("POST", "/_sandbox/faults", {{"part", "mixpanel"}});
}

TEST_CASE("mixpanel sandbox: wrong credentials are an error that does not quote the secret") {
  reset(seed());
  MixpanelOptions o = options();
  o.secret = "wrong-secret-DO-NOT-LEAK";
  Status s = client(o)->reader("Cohort One", {})->resolve();
  REQUIRE(s.code() == Status::Code::kInvalid);
  CHECK(s.message().find("refused the service account's credentials") != std::string::npos);
  CHECK(s.message().find("wrong-secret") == std::string::npos);
  // Another project's id: refused too.
  MixpanelOptions other = options();
  other.project_id = 1;
  Status s2 = client(other)->reader("Cohort One", {})->resolve();
  REQUIRE_FALSE(s2.is_ok());
  no_secret(s2);
}

}  // namespace
}  // namespace concord
