// Answers of any shape, without a server: both cohort clients read them without throwing or
// aborting, answer with an error naming what is wrong, and never quote their secrets.
#include <catch2/catch.hpp>
#include <deque>

#include "concord/amplitude_client.h"
#include "concord/mixpanel_client.h"

namespace concord {
namespace {

constexpr const char* kSecret = "mp-secret-DO-NOT-LEAK";
constexpr const char* kApiKey = "amp-api-key-DO-NOT-LEAK";
constexpr const char* kSecretKey = "amp-secret-key-DO-NOT-LEAK";

// Answers requests from a script, one a request; the last answer repeats.
class ScriptedTransport final : public http::Client {
 public:
  explicit ScriptedTransport(std::deque<http::Response> answers) : answers_(std::move(answers)) {}
  Result<http::Response> send(const http::Request& req) override {
    ++attempts_;
    targets.push_back(req.target);
    http::Response r = answers_.front();
    if (answers_.size() > 1) answers_.pop_front();
    return r;
  }
  std::uint64_t attempts() const override { return attempts_; }
  std::uint64_t connections_opened() const override { return 1; }
  std::vector<std::string> targets;

 private:
  std::deque<http::Response> answers_;
  std::uint64_t attempts_ = 0;
};

http::Response answer(int status, std::string body, std::vector<http::Header> headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

struct Collect final : SourceSink {
  std::vector<SourcePerson> people;
  std::vector<RejectedRow> rejected;
  Status records(std::vector<SourcePerson>& page) override {
    for (SourcePerson& p : page)
      people.push_back(std::move(p));
    return Status::ok();
  }
  void reject(RejectedRow row) override { rejected.push_back(std::move(row)); }
};

void check_no_secret(const Status& s) {
  INFO(s.message());
  for (const char* secret : {kSecret, kApiKey, kSecretKey})
    CHECK(s.message().find(secret) == std::string::npos);
}

std::unique_ptr<MixpanelClient> mixpanel(std::deque<http::Response> script) {
  MixpanelOptions o;
  o.project_id = 7;
  o.service_account = "sa.user";
  o.secret = kSecret;
  o.base_url = "https://mixpanel.invalid/api/query";
  o.rate_base_delay = std::chrono::milliseconds(1);
  auto c = MixpanelClient::create(o, std::make_unique<ScriptedTransport>(std::move(script)));
  REQUIRE(c.is_ok());
  return std::move(*c);
}

const std::string kCohorts = R"([{"count":1,"id":1000,"name":"One"}])";

TEST_CASE("mixpanel: malformed cohort lists are errors naming the field") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"{", "not JSON"},
      {"{}", "not a list"},
      {"[1]", "[0].id"},
      {R"([{"id":"1000","name":"One"}])", "[0].id"},
      {R"([{"id":1000,"name":null}])", "[0].name"},
      {R"([{"id":1e400,"name":"x"}])", ""},
      {std::string(10000, '[') + std::string(10000, ']'), "not JSON"},
  };
  for (const auto& [body, says] : cases) {
    INFO(body.substr(0, 60));
    auto c = mixpanel({answer(200, body)});
    Status s = c->reader("One", {})->resolve();
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.message().find(says) != std::string::npos);
    check_no_secret(s);
  }
}

TEST_CASE("mixpanel: malformed engage answers are errors naming the field, never a crash") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"null", "not an object"},
      {"[]", "not an object"},
      {R"({"status":"ok","page_size":1000,"session_id":"s"})", "results"},
      {R"({"results":{},"page_size":1000,"session_id":"s"})", "results"},
      {R"({"results":[],"session_id":"s"})", "page_size"},
      {R"({"results":[],"page_size":0,"session_id":"s"})", "page_size"},
      {R"({"results":[],"page_size":1000})", "session_id"},
      {R"({"results":[],"page_size":1000,"session_id":"s","total":"x"})", "total"},
      {R"({"results":[],"page_size":1000,"session_id":"s","status":"error"})", "status"},
      {R"({"results":[],"page_size":1000,"session_id":"s","total":5})", "announced"},
      // a server that always answers a full page: not read forever
      {R"({"results":[{"$distinct_id":"a"}],"page_size":1,"session_id":"s","total":1})",
       "more full pages"},
  };
  for (const auto& [body, says] : cases) {
    INFO(body);
    auto c = mixpanel({answer(200, kCohorts), answer(200, body)});
    auto r = c->reader("1000", {"$first_name"});
    Collect sink;
    Result<SideRead> read = r->read_all(sink);
    REQUIRE_FALSE(read.is_ok());
    CHECK(read.status().message().find(says) != std::string::npos);
    check_no_secret(read.status());
  }
}

TEST_CASE("mixpanel: rows that cannot be people are rejected naming the field; odd values read") {
  auto c = mixpanel(
      {answer(200, kCohorts),
       answer(200,
              R"({"page":0,"page_size":1000,"session_id":"s","status":"ok","total":6,"results":[
         null, {"$distinct_id":""}, {"$distinct_id":"x","$properties":[1]},
         {"$distinct_id":"y","$properties":{"$email":5}},
         {"$distinct_id":42,"$properties":{"$email":"n@example.org","plan":{"a":[1]},"n":1.5}},
         {"$distinct_id":"z","$properties":{"$email":null,"plan":true}}]})")});
  auto r = c->reader("One", {"plan", "n"});
  Collect sink;
  Result<SideRead> read = r->read_all(sink);
  REQUIRE(read.is_ok());
  REQUIRE(sink.rejected.size() == 4);
  CHECK(sink.rejected[0].field == "$distinct_id");
  CHECK(sink.rejected[1].field == "$distinct_id");
  CHECK(sink.rejected[2].field == "$properties");
  CHECK(sink.rejected[3].field == "$email");
  REQUIRE(sink.people.size() == 2);
  CHECK(sink.people[0].id == "42");
  CHECK(sink.people[0].fields ==
        std::vector<std::pair<std::string, std::string>>{{"plan", R"({"a":[1]})"}, {"n", "1.5"}});
  CHECK(sink.people[1].email == "");
  CHECK(sink.people[1].fields[0].second == "true");
}

TEST_CASE("mixpanel: error answers are errors of the right kind and never quote the secret") {
  struct Case {
    int status;
    std::string body;
    Status::Code code;
  };
  const std::vector<Case> cases = {
      {400, R"({"error":"Unable to authenticate request"})", Status::Code::kInvalid},
      {401, std::string("echo ") + kSecret, Status::Code::kInvalid},
      {403, R"({"error":"sa.user does not have access to project_id: 7"})", Status::Code::kInvalid},
      {402, "", Status::Code::kInvalid},
      {500, "<html>", Status::Code::kUnavailable},
      {429,
       std::string(
           R"({"error":"Query rate limit exceeded for project_id: 7. 1/5 queries running concurrently and 61/60 queries running in the last hour. )") +
           kSecret + "\"}",
       Status::Code::kUnavailable},
  };
  for (const Case& c : cases) {
    INFO(c.status);
    auto client = mixpanel({answer(c.status, c.body)});
    Status s = client->reader("One", {})->resolve();
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.code() == c.code);
    check_no_secret(s);
  }
}

TEST_CASE("mixpanel: a spent hourly budget fails at once; a concurrency 429 is waited out") {
  const std::string hourly =
      R"({"error":"Query rate limit exceeded for project_id: 7. 0/5 queries running concurrently and 61/60 queries running in the last hour."})";
  const std::string concurrent =
      R"({"error":"Query rate limit exceeded for project_id: 7. 6/5 queries running concurrently and 10/60 queries running in the last hour."})";
  {
    auto client = mixpanel({answer(429, hourly), answer(200, kCohorts)});
    Status s = client->reader("One", {})->resolve();
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.message().find("hourly query budget is exhausted") != std::string::npos);
    CHECK(client->requests() == 1);
  }
  {
    auto client =
        mixpanel({answer(429, concurrent), answer(429, concurrent), answer(200, kCohorts)});
    auto r = client->reader("One", {});
    REQUIRE(r->resolve().is_ok());
    CHECK(r->set_name() == "One");
    CHECK(client->requests() == 3);
  }
}

std::unique_ptr<AmplitudeClient> amplitude(std::deque<http::Response> script,
                                           ScriptedTransport** seen = nullptr) {
  AmplitudeOptions o;
  o.api_key = kApiKey;
  o.secret_key = kSecretKey;
  o.base_url = "https://amplitude.invalid";
  o.poll_interval = std::chrono::milliseconds(1);
  o.rate_base_delay = std::chrono::milliseconds(1);
  auto t = std::make_unique<ScriptedTransport>(std::move(script));
  if (seen != nullptr) *seen = t.get();
  auto c = AmplitudeClient::create(o, std::move(t));
  REQUIRE(c.is_ok());
  return std::move(*c);
}

const std::string kAmpCohorts = R"({"cohorts":[{"id":"abc1234","name":"Active"}]})";
const http::Response kRequested = answer(202, R"({"request_id":"qfaZya","cohort_id":"abc1234"})");
const http::Response kDone =
    answer(200, R"({"request_id":"qfaZya","cohort_id":"abc1234","async_status":"JOB COMPLETED"})");

TEST_CASE("amplitude: malformed cohort lists are errors naming the field") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no cohorts list"},
      {"[]", "no cohorts list"},
      {R"({"cohorts":{}})", "no cohorts list"},
      {R"({"cohorts":[1]})", "cohorts[0].id"},
      {R"({"cohorts":[{"id":5,"name":"x"}]})", "cohorts[0].id"},
      {R"({"cohorts":[{"id":"a","name":[]}]})", "cohorts[0].name"},
  };
  for (const auto& [body, says] : cases) {
    INFO(body);
    auto c = amplitude({answer(200, body)});
    Status s = c->reader("Active", {})->resolve();
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.message().find(says) != std::string::npos);
    check_no_secret(s);
  }
}

TEST_CASE("amplitude: malformed export answers and files are errors, never a crash") {
  struct Case {
    std::deque<http::Response> script;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{answer(200, kAmpCohorts), answer(202, "{}")}, "request_id"},
      {{answer(200, kAmpCohorts), answer(202, "x")}, "request_id"},
      {{answer(200, kAmpCohorts), kRequested, answer(200, R"({"async_status":5})")},
       "async_status"},
      {{answer(200, kAmpCohorts), kRequested, answer(500, R"({"async_status":"JOB FAILED"})")},
       "export failed"},
      {{answer(200, kAmpCohorts), kRequested, kDone, answer(200, "")}, "empty"},
      {{answer(200, kAmpCohorts), kRequested, kDone, answer(200, "user_id,email\n")},
       "no \"amplitude_id\" column"},
      {{answer(200, kAmpCohorts), kRequested, kDone, answer(200, "amplitude_id,mail\n")},
       "no \"email\" column"},
      {{answer(200, kAmpCohorts), kRequested, kDone,
        answer(200, "amplitude_id,email\n\"1\",\"a@b")},
       "not closed"},
      {{answer(200, kAmpCohorts), kRequested, kDone, answer(302, "")}, "Location"},
      {{answer(200, kAmpCohorts), kRequested, kDone, answer(302, "", {{"Location", "nope"}})},
       "not a URL"},
      {{answer(200, kAmpCohorts), answer(403, std::string("bad ") + kApiKey + ":" + kSecretKey)},
       "refused"},
  };
  for (const Case& c : cases) {
    INFO(c.says);
    auto client = amplitude(c.script);
    Collect sink;
    Result<SideRead> read = client->reader("abc1234", {})->read_all(sink);
    REQUIRE_FALSE(read.is_ok());
    CHECK(read.status().message().find(c.says) != std::string::npos);
    check_no_secret(read.status());
  }
}

TEST_CASE("amplitude: rows of the wrong width or without an id are rejected; the rest read") {
  ScriptedTransport* t = nullptr;
  auto client = amplitude(
      {answer(200, kAmpCohorts), kRequested, answer(202, R"({"async_status":"JOB INPROGRESS"})"),
       kDone,
       answer(200,
              "plan,amplitude_id,user_id,email\r\n\"pro\",\"1\",\"u1\",\"a@example.org\"\r\n"
              "\"x\",\"2\"\r\n\"free\",\"\",\"u3\",\"c@example.org\"\r\n"
              "\"\",\"4\",\"\",\"\"\r\n")},
      &t);
  Collect sink;
  Result<SideRead> read = client->reader("Active", {"plan"})->read_all(sink);
  REQUIRE(read.is_ok());
  REQUIRE(sink.people.size() == 2);
  CHECK(sink.people[0].id == "1");
  CHECK(sink.people[0].email == "a@example.org");
  CHECK(sink.people[0].fields[0].second == "pro");
  CHECK(sink.people[1].id == "4");
  CHECK(sink.people[1].email == "");
  REQUIRE(sink.rejected.size() == 2);
  CHECK(sink.rejected[0].field == "row");
  CHECK(sink.rejected[1].field == "amplitude_id");
  REQUIRE(t->targets.size() == 5);
  CHECK(t->targets[1] == "/api/5/cohorts/request/abc1234?props=1&propKeys=email&propKeys=plan");
  CHECK(t->targets[2] == "/api/5/cohorts/request-status/qfaZya");
  CHECK(t->targets[4] == "/api/5/cohorts/request/qfaZya/file");
}

}  // namespace
}  // namespace concord
