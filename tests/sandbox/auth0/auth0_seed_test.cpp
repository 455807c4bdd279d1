// The sandbox's Auth0 part: its object of the seed and state documents (install, check,
// state_part) — the round trip, what a part without a seed holds, times normalised, check()'s
// errors naming the field, and a bad seed changing nothing.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "auth0_site.h"

using namespace concord::testing::auth0_site;

TEST_CASE("state: seed, state_part, install gives the same state, tokens and jobs included") {
  ojson sd = seed();
  sd["settings"] = {{"token_lifetime_seconds", 3600},
                    {"search_delay_seconds", 10},
                    {"export_jobs", {{"pending_polls", 0}, {"download_ttl_seconds", 120}}},
                    {"rate_limits", {{{"path_prefix", "/api/v2/"}, {"limit", 50}}}}};
  Site s(sd);
  const std::string token = s.token();
  const std::string id =
      s.post_json("/api/v2/jobs/users-exports", {{"connection_id", kNewsletterId}},
                  {{"Authorization", "Bearer " + token}})
          .j()["id"];
  s.get("/api/v2/jobs/" + id, token);
  const std::string location = s.get("/api/v2/jobs/" + id, token).j()["location"];
  REQUIRE_FALSE(location.empty());
  REQUIRE(s.admin("PATCH", "/_sandbox/auth0/users/auth0%7C000000000000000000000003",
                  {{"given_name", "Fred"}})
              .status == 200);

  const std::string state = s.part->state_part();
  json st = json::parse(state);
  CHECK(st["domain"] == kDomain);
  CHECK(st["tokens"].size() == 1);
  CHECK(st["jobs"].size() == 1);
  CHECK(st["search_lag"].size() == 1);
  CHECK(st["settings"]["export_jobs"]["download_ttl_seconds"] == 120);

  // A second part loaded from the state answers as the first would.
  Site copy(ojson::parse(state));
  CHECK(copy.part->state_part() == state);
  CHECK(copy.get("/api/v2/users?per_page=1", token).status == 200);
  CHECK(copy.get("/api/v2/jobs/" + id, token).j()["location"] == location);
  const std::string target = location.substr(std::string("https://127.0.0.1:4430").size());
  CHECK(copy.call("GET", target).status == 200);
  // The change the search has not seen yet is still pending there.
  json fred = copy.get(users_target({{"q", "user_id:\"auth0|000000000000000000000003\""},
                                     {"search_engine", "v3"}}),
                       token)
                  .j()[0];
  CHECK_FALSE(fred.contains("given_name"));
  CHECK(copy.get("/api/v2/users/auth0%7C000000000000000000000003", token).j()["given_name"] ==
        "Fred");
}

TEST_CASE("state: install answers counts; no object gives the default client and nothing else") {
  concord::sandbox::SandboxClock clock;
  clock.fix(start_time());
  auto part = concord::sandbox::make_auth0_sandbox(&clock);
  CHECK(part->name() == "auth0");
  auto counts = part->install(seed().dump());
  REQUIRE(counts.is_ok());
  CHECK(json::parse(counts.value()) == json::parse(R"({"clients":4,"connections":4,"users":6})"));
  const auto g = part->generation();
  auto empty = part->install(std::nullopt);
  REQUIRE(empty.is_ok());
  CHECK(json::parse(empty.value()) == json::parse(R"({"clients":1,"connections":0,"users":0})"));
  CHECK(part->generation() > g);
  json st = json::parse(part->state_part());
  CHECK(st["domain"] == "sandbox.eu.auth0.com");
  CHECK(st["clients"][0]["client_id"] == "sandbox-auth0-client-id");
  CHECK(st["clients"][0]["client_secret"] == "sandbox-auth0-client-secret");
  CHECK(st["users"].empty());
  // The default client can get a token for the default domain.
  Site s(ojson::object());
  Response r = s.grant("sandbox-auth0-client-id", "sandbox-auth0-client-secret",
                       "https://sandbox.eu.auth0.com/api/v2/");
  CHECK(r.status == 200);
  CHECK(r.j()["scope"] == "read:users read:connections");
}

TEST_CASE("seed: times are normalised to milliseconds and missing ones are now") {
  ojson sd = seed();
  sd["users"][0]["created_at"] = "2023-01-25T20:00:29+01:00";
  sd["users"][0]["updated_at"] = "2024-05-01T00:00:00.123456Z";
  sd["users"][1].erase("created_at");
  Site s(sd);
  json users = json::parse(s.part->state_part())["users"];
  CHECK(users[0]["created_at"] == "2023-01-25T19:00:29.000Z");
  CHECK(users[0]["updated_at"] == "2024-05-01T00:00:00.123Z");
  CHECK(users[1]["created_at"] == "2026-03-01T12:00:00.000Z");
  // The keys keep the seed's order.
  CHECK(s.part->state_part().find(R"({"created_at":"2023-01-25T19:00:29.000Z","email":)") !=
        std::string::npos);
}

TEST_CASE("seed: check() names the field of the first problem, and install changes nothing") {
  struct Case {
    const char* name;
    std::function<void(ojson&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {"an email that is not a string", [](ojson& s) { s["users"][3]["email"] = 7; },
       "users[3].email: expected a string"},
      {"an email without @", [](ojson& s) { s["users"][3]["email"] = "barney"; },
       "users[3].email: \"barney\" is not an email address"},
      {"an identity in no connection",
       [](ojson& s) { s["users"][2]["identities"][0]["connection"] = "nope"; },
       "users[2].identities[0].connection: no connection named \"nope\""},
      {"an identity without isSocial",
       [](ojson& s) { s["users"][2]["identities"][0].erase("isSocial"); },
       "users[2].identities[0].isSocial: required"},
      {"a user without identities", [](ojson& s) { s["users"][1].erase("identities"); },
       "users[1].identities: required"},
      {"a bad time", [](ojson& s) { s["users"][0]["updated_at"] = "yesterday"; },
       "users[0].updated_at: expected a time such as \"2023-01-25T19:00:29.893Z\""},
      {"a user id without a provider", [](ojson& s) { s["users"][0]["user_id"] = "12345"; },
       "users[0].user_id: \"12345\" is not <provider>|<id>"},
      {"a user id twice", [](ojson& s) { s["users"][2]["user_id"] = s["users"][1]["user_id"]; },
       "users[2].user_id: \"auth0|000000000000000000000002\" is already users[1]"},
      {"an email twice in a connection",
       [](ojson& s) { s["users"][2]["email"] = "Wilma@Bedrock.org"; },
       "users[2].email: \"Wilma@Bedrock.org\" is already the email of users[1] in connection "
       "\"newsletter-db\""},
      {"blocked not a boolean", [](ojson& s) { s["users"][0]["blocked"] = "no"; },
       "users[0].blocked: expected true or false"},
      {"metadata not an object", [](ojson& s) { s["users"][0]["app_metadata"] = ojson::array(); },
       "users[0].app_metadata: expected an object"},
      {"a connection id of the wrong form", [](ojson& s) { s["connections"][1]["id"] = "con_1"; },
       "connections[1].id: \"con_1\" does not match ^con_[A-Za-z0-9]{16}$"},
      {"a connection name twice", [](ojson& s) { s["connections"][1]["name"] = "newsletter-db"; },
       "connections[1].name: \"newsletter-db\" is given twice"},
      {"a client without a secret", [](ojson& s) { s["clients"][0].erase("client_secret"); },
       "clients[0].client_secret: required"},
      {"a client's unknown key", [](ojson& s) { s["clients"][1]["secret"] = "x"; },
       "clients[1].secret: unknown key (expected one of client_id, client_secret, scopes, "
       "client_grant, grant_types)"},
      {"scopes that are not strings", [](ojson& s) { s["clients"][0]["scopes"] = {1}; },
       "clients[0].scopes[0]: expected a string"},
      {"a domain with a scheme", [](ojson& s) { s["domain"] = "https://acme.auth0.com"; },
       "domain: \"https://acme.auth0.com\" is not a host name such as \"acme.eu.auth0.com\""},
      {"a rate limit without a limit",
       [](ojson& s) {
         s["settings"] = {{"rate_limits", {{{"path", "/api/v2/users"}}}}};
       },
       "settings.rate_limits[0].limit: required"},
      {"a negative delay",
       [](ojson& s) {
         s["settings"] = {{"search_delay_seconds", -1}};
       },
       "settings.search_delay_seconds: expected an integer of at least 0"},
      {"an unknown setting",
       [](ojson& s) {
         s["settings"] = {{"export_jobs", {{"delay", 3}}}};
       },
       "settings.export_jobs.delay: unknown key (expected one of pending_polls, "
       "processing_polls, processing_seconds, download_ttl_seconds, retention_seconds)"},
      {"an unknown top-level key", [](ojson& s) { s["user"] = ojson::array(); },
       "user: unknown key (expected one of domain, clients, connections, users, settings, tokens, "
       "jobs, search_lag)"},
      {"users not a list", [](ojson& s) { s["users"] = ojson::object(); },
       "users: expected a list"},
  };
  Site s;
  const std::string before = s.part->state_part();
  for (const Case& c : cases) {
    INFO(c.name);
    ojson sd = seed();
    c.edit(sd);
    concord::Status st = s.part->check(sd.dump());
    CHECK_FALSE(st.is_ok());
    CHECK(st.message() == c.message);
    auto installed = s.part->install(sd.dump());
    CHECK_FALSE(installed.is_ok());
    CHECK(s.part->state_part() == before);
  }
  CHECK(s.part->check(seed().dump()).is_ok());
  CHECK(s.part->check(std::nullopt).is_ok());
  CHECK_FALSE(s.part->check(std::string_view("[1,2]")).is_ok());
}

TEST_CASE("state: the generation moves on every change of the persisted state") {
  Site s;
  auto g = s.part->generation();
  const std::string token = s.token();  // a token is state
  CHECK(s.part->generation() > g);
  g = s.part->generation();
  s.get("/api/v2/users", token);  // a read is not
  CHECK(s.part->generation() == g);
  REQUIRE(s.admin("POST", "/_sandbox/auth0/users", {{"connection", "google"}, {"email", "x@y.z"}})
              .status == 201);
  CHECK(s.part->generation() > g);
  g = s.part->generation();
  REQUIRE(s.admin("POST", "/_sandbox/auth0/tokens/expire").status == 200);
  CHECK(s.part->generation() > g);
}
