// The parts beyond Mailchimp and CiviCRM (src/sandbox/part.h) inside the sandbox: how a part's
// object is found in a seed, and the real binary serving each part on its own port, with its
// object in the state, its entries in the request log, its faults and its reset.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "concord/http.h"
#include "sandbox/part.h"
#include "sandbox/sandbox_call.h"
#include "sandbox_process.h"

using namespace concord;
using concord::testing::sandbox_call;
using concord::testing::SandboxProcess;

TEST_CASE("seed_object: a part's object is found without building the rest") {
  struct Row {
    const char* document;
    const char* key;
    std::optional<std::string> expect;  // nullopt: no such key
  };
  const Row rows[] = {
      {R"({"a":1,"mixpanel":{"x":[1,{"y":"}"}]},"b":2})", "mixpanel", R"({"x":[1,{"y":"}"}]})"},
      {R"({"s":"\"mixpanel\":{}","mixpanel":{"k":"\\"}})", "mixpanel", R"({"k":"\\"})"},
      {R"( { "mailchimp" : {"lists":[]} , "amplitude" : [ ] } )", "amplitude", "[ ]"},
      {R"({"mailchimp":{"mixpanel":{}}})", "mixpanel", std::nullopt},  // nested: not the part's
      {"{}", "mixpanel", std::nullopt},
      {R"({"n":12.5e3,"t":true,"mixpanel":null})", "mixpanel", "null"},
  };
  for (const Row& row : rows) {
    INFO(row.document);
    auto found = sandbox::seed_object(row.document, row.key);
    REQUIRE(found.is_ok());
    CHECK(*found == row.expect);
  }
  // (What follows the part's object is not read: the Mailchimp part's reader checks the whole.)
  for (const char* bad : {"[]", "\"x\"", R"({"mixpanel":{"a":1)", R"({"a" 1})", ""}) {
    INFO(bad);
    CHECK_FALSE(sandbox::seed_object(bad, "mixpanel").is_ok());
  }
}

namespace {

struct Answer {
  int status = 0;
  std::string body;
};

Answer call(const std::string& base, const std::string& ca, const std::string& method,
            const std::string& target, const std::string& body = "",
            std::vector<http::Header> headers = {}) {
  http::Response resp = sandbox_call(base, ca, method, target, body, std::move(headers));
  return {resp.status, resp.body};
}

// Basic auth for `user:secret`.
http::Header basic(const std::string& user_secret) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < user_secret.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(user_secret[i]) << 16) |
                       (static_cast<unsigned char>(user_secret[i + 1]) << 8) |
                       static_cast<unsigned char>(user_secret[i + 2]);
    for (int k = 18; k >= 0; k -= 6)
      out += kAlphabet[(v >> k) & 63];
  }
  if (i < user_secret.size()) {
    unsigned v = static_cast<unsigned char>(user_secret[i]) << 16;
    if (i + 1 < user_secret.size()) v |= static_cast<unsigned char>(user_secret[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < user_secret.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return {"Authorization", "Basic " + out};
}

const char* kSeed = R"({
  "mixpanel": {
    "project_id": 777,
    "service_accounts": [{"username": "sa.concord", "secret": "mp-secret"}],
    "cohorts": [{"id": 5, "name": "Power users", "members": ["u1", "u2"]}],
    "profiles": [{"$distinct_id": "u1", "$properties": {"$email": "wilma@bedrock.org"}},
                 {"$distinct_id": "u2", "$properties": {"$name": "No Mail"}}]
  },
  "amplitude": {
    "api_key": "amp-key", "secret_key": "amp-secret",
    "users": [{"amplitude_id": 1, "user_id": "u1",
               "user_properties": {"email": "wilma@bedrock.org"}}],
    "cohorts": [{"id": "c1", "name": "Churn risk", "members": [1]}]
  }
})";

}  // namespace

TEST_CASE("the binary serves each part on its own port, with its state, log, faults and reset") {
  const std::filesystem::path seed =
      std::filesystem::temp_directory_path() / ("parts-seed-" + std::to_string(::getpid()));
  { std::ofstream(seed) << kSeed; }
  SandboxProcess sandbox(seed.string());
  std::filesystem::remove(seed);
  const std::string ca = sandbox.ca_file();
  const std::string admin = sandbox.ready["civicrm_url"];  // any port has the admin routes
  REQUIRE(sandbox.ready.contains("mixpanel_url"));
  REQUIRE(sandbox.ready.contains("amplitude_url"));
  const std::string mixpanel = sandbox.ready["mixpanel_url"];
  const std::string amplitude = sandbox.ready["amplitude_url"];
  CHECK(mixpanel != amplitude);

  // Each API on its own port, authenticated as its seed says.
  Answer cohorts = call(mixpanel, ca, "POST", "/api/query/cohorts/list?project_id=777", "",
                        {basic("sa.concord:mp-secret")});
  CHECK(cohorts.status == 200);
  CHECK(cohorts.body.find("Power users") != std::string::npos);
  CHECK(call(mixpanel, ca, "POST", "/api/query/cohorts/list?project_id=777", "",
             {basic("sa.concord:wrong")})
            .status >= 400);
  Answer amp = call(amplitude, ca, "GET", "/api/3/cohorts", "", {basic("amp-key:amp-secret")});
  CHECK(amp.status == 200);
  CHECK(amp.body.find("Churn risk") != std::string::npos);

  // Auth0: its default tenant (no "auth0" object in the seed) grants a token to its client.
  REQUIRE(sandbox.ready.contains("auth0_url"));
  const std::string auth0 = sandbox.ready["auth0_url"];
  Answer token = call(auth0, ca, "POST", "/oauth/token",
                      R"({"grant_type":"client_credentials","client_id":"sandbox-auth0-client-id",
                          "client_secret":"sandbox-auth0-client-secret",
                          "audience":"https://sandbox.eu.auth0.com/api/v2/"})");
  REQUIRE(token.status == 200);
  const std::string access = nlohmann::json::parse(token.body).at("access_token");
  CHECK(call(auth0, ca, "GET", "/api/v2/connections", "", {{"Authorization", "Bearer " + access}})
            .status == 200);
  CHECK(call(auth0, ca, "GET", "/api/v2/connections", "", {{"Authorization", "Bearer nope"}})
            .status == 401);

  // The request log names the part; the state holds each part's object.
  Answer log = call(mixpanel, ca, "GET", "/_sandbox/requests?part=mixpanel");
  REQUIRE(log.status == 200);
  auto entries = nlohmann::json::parse(log.body);
  CHECK(entries.dump().find("/api/query/cohorts/list") != std::string::npos);
  CHECK(entries.dump().find("/api/3/cohorts") == std::string::npos);
  Answer state = call(admin, ca, "GET", "/_sandbox/state");
  REQUIRE(state.status == 200);
  auto doc = nlohmann::json::parse(state.body);
  CHECK(doc["mixpanel"]["project_id"] == 777);
  CHECK(doc["amplitude"]["cohorts"][0]["name"] == "Churn risk");

  // Faults of one part, configured from any port.
  CHECK(call(admin, ca, "POST", "/_sandbox/faults", R"({"part":"amplitude","next":["503"]})")
            .status == 200);
  CHECK(call(amplitude, ca, "GET", "/api/3/cohorts", "", {basic("amp-key:amp-secret")}).status ==
        503);
  CHECK(call(amplitude, ca, "GET", "/api/3/cohorts", "", {basic("amp-key:amp-secret")}).status ==
        200);

  // A reset with a bad part changes nothing, and names the part's field.
  Answer bad = call(admin, ca, "POST", "/_sandbox/reset", R"({"mixpanel":{"project_id":"seven"}})");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("mixpanel.") != std::string::npos);
  CHECK(call(mixpanel, ca, "POST", "/api/query/cohorts/list?project_id=777", "",
             {basic("sa.concord:mp-secret")})
            .status == 200);
  // A good reset replaces every part; a part the seed leaves out is empty.
  Answer reset = call(admin, ca, "POST", "/_sandbox/reset",
                      R"({"mixpanel":{"project_id":778,
                          "service_accounts":[{"username":"sa.new","secret":"s2"}]}})");
  REQUIRE(reset.status == 200);
  auto counts = nlohmann::json::parse(reset.body);
  CHECK(counts.contains("mixpanel"));
  CHECK(counts.contains("amplitude"));
  CHECK(
      call(mixpanel, ca, "POST", "/api/query/cohorts/list?project_id=778", "", {basic("sa.new:s2")})
          .status == 200);
  CHECK(call(amplitude, ca, "GET", "/api/3/cohorts", "", {basic("amp-key:amp-secret")}).status !=
        200);
}
