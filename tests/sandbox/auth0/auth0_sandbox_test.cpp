// The sandbox's Auth0 part through its handler: tokens, the bearer check and scopes, the error
// shape, connections, the user search (paging, totals, the 1 000 cap, q, sort, fields), the
// search's delay, the admin routes for users, rate limits and faults. The expected answers are
// those of the reference (Auth0's documentation, API definition and recorded traffic);
// docs/sandbox.md ("The Auth0 API") describes what is emulated.
#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "auth0_site.h"

using namespace concord::testing::auth0_site;
using concord::Micros;

// ---- tokens ---------------------------------------------------------------------------------

TEST_CASE("token: the client-credentials grant answers a JWT that expires in 86400 s") {
  Site s;
  Response r = s.grant();
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
  CHECK(r.header("Cache-Control") == "no-store");
  // Keys in the order Auth0 answers them.
  CHECK(std::regex_match(r.body, std::regex(R"(\{"access_token":"[^"]+","expires_in":86400,)"
                                            R"("scope":"read:users read:connections",)"
                                            R"("token_type":"Bearer"\})")));
  const std::string token = r.j()["access_token"];
  // header.payload.signature, base64url; the payload says who and until when.
  std::smatch m;
  REQUIRE(std::regex_match(
      token, m, std::regex(R"(([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{300,}))")));
  json header = json::parse(unbase64url(m[1]));
  CHECK(header["alg"] == "RS256");
  CHECK(header["typ"] == "JWT");
  json payload = json::parse(unbase64url(m[2]));
  CHECK(payload["aud"] == kAudience);
  CHECK(payload["iss"] == "https://acme.eu.auth0.com/");
  CHECK(payload["sub"] == "AbC123@clients");
  CHECK(payload["iat"] == start_time() / 1000000);
  CHECK(payload["exp"] == start_time() / 1000000 + 86400);
  CHECK(payload["gty"] == "client-credentials");
  // Two grants give two different tokens, both valid.
  const std::string other = s.token();
  CHECK(other != token);
  CHECK(s.get("/api/v2/connections", token).status == 200);
  CHECK(s.get("/api/v2/connections", other).status == 200);
}

TEST_CASE("token: a form body is accepted as well as JSON, and a scope narrows the grant") {
  Site s;
  Response r = s.call("POST", "/oauth/token",
                      "grant_type=client_credentials&client_id=AbC123&client_secret=s3cr3t"
                      "&audience=https%3A%2F%2Facme.eu.auth0.com%2Fapi%2Fv2%2F&scope=read%3Ausers",
                      {{"Content-Type", "application/x-www-form-urlencoded"}});
  REQUIRE(r.status == 200);
  CHECK(r.j()["scope"] == "read:users");
  const std::string token = r.j()["access_token"];
  CHECK(s.get("/api/v2/users", token).status == 200);
  CHECK(s.get("/api/v2/connections", token).status == 403);
}

TEST_CASE("token: the host the request came to is an audience too (it is the domain for real)") {
  Site s;
  CHECK(s.grant(kClientId, kSecret, "https://127.0.0.1:4430/api/v2/").status == 200);
  CHECK(s.grant(kClientId, kSecret, "http://127.0.0.1:4430/api/v2/").status == 403);
}

TEST_CASE("token: refusals answer the Authentication API's OAuth errors") {
  Site s;
  struct Case {
    const char* name;
    ojson body;
    int status;
    std::string expected;
  };
  const ojson good = {{"grant_type", "client_credentials"},
                      {"client_id", kClientId},
                      {"client_secret", kSecret},
                      {"audience", kAudience}};
  auto with = [&](const char* k, ojson v) {
    ojson b = good;
    if (v.is_null()) {
      b.erase(k);
    } else {
      b[k] = v;
    }
    return b;
  };
  std::vector<Case> cases = {
      {"wrong secret", with("client_secret", "nope"), 401,
       R"({"error":"access_denied","error_description":"Unauthorized"})"},
      {"unknown client", with("client_id", "Who"), 401,
       R"({"error":"access_denied","error_description":"Unauthorized"})"},
      {"no secret", with("client_secret", nullptr), 401,
       R"({"error":"access_denied","error_description":"Unauthorized"})"},
      {"another API's audience", with("audience", "https://acme.eu.auth0.com/api/v3/"), 403,
       R"({"error":"access_denied","error_description":"Service not enabled within domain: https://acme.eu.auth0.com/api/v3/"})"},
      {"the audience without its trailing slash",
       with("audience", "https://acme.eu.auth0.com/api/v2"), 403,
       R"({"error":"access_denied","error_description":"Service not enabled within domain: https://acme.eu.auth0.com/api/v2"})"},
      {"no audience", with("audience", nullptr), 403,
       R"({"error":"access_denied","error_description":"No audience parameter was provided, and no default audience has been configured"})"},
      {"no client grant",
       {{"grant_type", "client_credentials"},
        {"client_id", "NoGrant"},
        {"client_secret", "n0"},
        {"audience", kAudience}},
       403,
       R"({"error":"access_denied","error_description":"Client is not authorized to access \"https://acme.eu.auth0.com/api/v2/\". You need to create a \"client-grant\" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"})"},
      {"grant type not enabled",
       {{"grant_type", "client_credentials"},
        {"client_id", "SpaApp"},
        {"client_secret", "spa"},
        {"audience", kAudience}},
       403,
       R"({"error":"unauthorized_client","error_description":"Grant type 'client_credentials' not allowed for the client.","error_uri":"https://auth0.com/docs/clients/client-grant-types"})"},
      {"a scope not granted", with("scope", "read:users delete:users"), 403,
       R"({"error":"access_denied","error_description":"Client has not been granted scopes: delete:users"})"},
      {"no grant type", with("grant_type", nullptr), 400,
       R"({"error":"invalid_request","error_description":"Missing required parameter: grant_type"})"},
      {"an unknown grant type", with("grant_type", "magic"), 400,
       R"({"error":"unsupported_grant_type","error_description":"Unsupported grant type: magic"})"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Response r = s.post_json("/oauth/token", c.body);
    CHECK(r.status == c.status);
    CHECK(r.body == c.expected);
    CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
  }
}

// ---- the bearer check, scopes and the error shape ---------------------------------------------

TEST_CASE("auth: no, a bad and an expired token are 401 in the Management API's shape") {
  Site s;
  Response none = s.call("GET", "/api/v2/users");
  CHECK(none.status == 401);
  CHECK(none.body ==
        R"({"statusCode":401,"error":"Unauthorized","message":"Missing authentication"})");
  CHECK(none.header("Content-Type") == "application/json; charset=utf-8");

  Response bad = s.get("/api/v2/users", "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl");
  CHECK(bad.status == 401);
  CHECK(
      bad.body ==
      R"({"statusCode":401,"error":"Unauthorized","message":"Invalid token","attributes":{"error":"Invalid token"}})");
  CHECK(bad.header("WWW-Authenticate") == "Token error=\"Invalid token\"");

  // Expiry by the sandbox clock: valid until the last microsecond before expires_in.
  const std::string token = s.token();
  s.advance(86399);
  CHECK(s.get("/api/v2/users", token).status == 200);
  s.advance(1);
  Response expired = s.get("/api/v2/users", token);
  CHECK(expired.status == 401);
  CHECK(
      expired.body ==
      R"({"statusCode":401,"error":"Unauthorized","message":"Expired token received for JSON Web Token validation","attributes":{"error":"Expired token received for JSON Web Token validation"}})");
  CHECK(s.get("/api/v2/users", s.token()).status == 200);
}

TEST_CASE("auth: the admin route expires every token now, and new ones work") {
  Site s;
  const std::string a = s.token();
  const std::string b = s.token("ConnOnly", "c0nn");
  Response r = s.admin("POST", "/_sandbox/auth0/tokens/expire");
  REQUIRE(r.status == 200);
  CHECK(r.j()["expired"] == 2);
  CHECK(s.get("/api/v2/users", a).j()["message"] ==
        "Expired token received for JSON Web Token validation");
  CHECK(s.get("/api/v2/connections", b).status == 401);
  CHECK(s.get("/api/v2/users", s.token()).status == 200);
  // Only from the loopback interface.
  CHECK(s.call("POST", "/_sandbox/auth0/tokens/expire", "", {}, false).status == 403);
}

TEST_CASE("auth: a token without the scope is 403 insufficient_scope") {
  Site s;
  const std::string token = s.token("ConnOnly", "c0nn");
  CHECK(s.get("/api/v2/connections", token).status == 200);
  Response r = s.get("/api/v2/users", token);
  CHECK(r.status == 403);
  CHECK(
      r.body ==
      R"({"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: read:users","errorCode":"insufficient_scope"})");
  Response job = s.get("/api/v2/jobs/job_0000000000000001", token);
  CHECK(
      job.j()["message"] ==
      "Insufficient scope, expected any of: create:users,read:users,create:passwords_checking_job");
}

TEST_CASE("errors: unknown routes, bad query parameters and unknown users in the API's shape") {
  Site s;
  const std::string token = s.token();
  Response route = s.get("/api/v2/nothing", token);
  CHECK(route.status == 404);
  CHECK(route.body == R"({"statusCode":404,"error":"Not Found","message":"Not Found"})");
  CHECK(s.call("DELETE", "/api/v2/users", "", {{"Authorization", "Bearer " + token}}).status ==
        404);

  struct Case {
    std::string target;
    std::string message;
  };
  std::vector<Case> cases = {
      {"/api/v2/users?per_page=101",
       "Query validation error: 'Value 101 is greater than maximum 100' on property per_page "
       "(Number of results per page.)."},
      {"/api/v2/users?per_page=-1",
       "Query validation error: 'Value -1 is less than minimum 0' on property per_page (Number "
       "of results per page.)."},
      {"/api/v2/users?page=two",
       "Query validation error: 'Expected type integer but found type string' on property page "
       "(Page index of the results to return. First page is 0.)."},
      {"/api/v2/users?include_totals=yes",
       "Query validation error: 'Expected type boolean but found type string' on property "
       "include_totals (Return results inside an object that contains the total result count "
       "(true) or as a direct array of results (false, default).)."},
      {"/api/v2/users?search_engine=v4",
       "Query validation error: 'No enum match for: v4' on property search_engine (The version "
       "of the search engine)."},
      {"/api/v2/users?sort=updated_at:asc",
       "Query validation error: 'String does not match pattern ^(([a-zA-Z\\-_0-9\\.]+):(1|-1))$: "
       "updated_at:asc' on property sort (Field to sort by. Use field:order where order is 1 for "
       "ascending and -1 for descending. e.g. created_at:1)."},
      {"/api/v2/users?limit=10",
       "Query validation error: 'Additional properties not allowed: limit'."},
      {"/api/v2/connections?per_page=500",
       "Query validation error: 'Value 500 is greater than maximum 100' on property per_page (The "
       "amount of entries per page. Defaults to 100 if not provided)."},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    Response r = s.get(c.target, token);
    CHECK(r.status == 400);
    json j = r.j();
    CHECK(j["statusCode"] == 400);
    CHECK(j["error"] == "Bad Request");
    CHECK(j["message"] == c.message);
    CHECK(j["errorCode"] == "invalid_query_string");
  }

  Response v1 = s.get("/api/v2/users?search_engine=v1&q=email%3Ax", token);
  CHECK(v1.status == 400);
  CHECK(v1.j()["errorCode"] == "operation_not_supported");

  Response missing = s.get("/api/v2/users/auth0%7Cnobody", token);
  CHECK(missing.status == 404);
  CHECK(
      missing.body ==
      R"({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"})");
  Response found =
      s.get("/api/v2/users/auth0%7C63d17c4dede19c15715de31c?fields=email,user_id", token);
  CHECK(found.status == 200);
  CHECK(found.body ==
        R"({"email":"chuck904@example.com","user_id":"auth0|63d17c4dede19c15715de31c"})");
}

// ---- connections ------------------------------------------------------------------------------

TEST_CASE("connections: by name, in the three shapes") {
  Site s;
  const std::string token = s.token("ConnOnly", "c0nn");
  Response plain = s.get("/api/v2/connections?name=newsletter-db", token);
  REQUIRE(plain.status == 200);
  json a = plain.j();
  REQUIRE(a.is_array());
  REQUIRE(a.size() == 1);
  CHECK(a[0]["id"] == kNewsletterId);
  CHECK(a[0]["strategy"] == "auth0");
  CHECK(a[0]["options"]["passwordPolicy"] == "good");

  // The recorded request and its answer's keys, in order.
  Response totals =
      s.get("/api/v2/connections?include_totals=true&name=newsletter-db&per_page=50", token);
  REQUIRE(totals.status == 200);
  CHECK(totals.body.rfind(std::string(R"({"total":1,"start":0,"limit":50,"connections":[{"id":")") +
                              kNewsletterId + "\",\"options\"",
                          0) == 0);

  // Checkpoint paging: take wins over include_totals; `next` is absent on the last page.
  Response first = s.get("/api/v2/connections?include_totals=true&per_page=50&take=3", token);
  json f = first.j();
  REQUIRE(f["connections"].size() == 3);
  CHECK_FALSE(f.contains("total"));
  REQUIRE(f.contains("next"));
  Response second = s.get("/api/v2/connections?take=3&from=" + f["next"].get<std::string>(), token);
  json g = second.j();
  REQUIRE(g["connections"].size() == 1);
  CHECK(g["connections"][0]["name"] == "bulk-db");
  CHECK_FALSE(g.contains("next"));

  // A name that matches nothing is an empty list, not a 404.
  Response none = s.get("/api/v2/connections?name=nope", token);
  CHECK(none.status == 200);
  CHECK(none.body == "[]");
  Response none_totals = s.get("/api/v2/connections?name=nope&include_totals=true", token);
  CHECK(none_totals.body == R"({"total":0,"start":0,"limit":50,"connections":[]})");
}

TEST_CASE("connections: strategy filter, fields, paging and one by id") {
  Site s;
  const std::string token = s.token();
  json google = s.get("/api/v2/connections?strategy=google-oauth2&fields=name,strategy", token).j();
  CHECK(google == json::parse(R"([{"strategy":"google-oauth2","name":"google"}])"));
  json two = s.get(
                  "/api/v2/connections?strategy=google-oauth2&strategy=auth0&fields=name&"
                  "include_fields=true",
                  token)
                 .j();
  CHECK(two.size() == 4);
  json without =
      s.get("/api/v2/connections?name=google&fields=options,id&include_fields=false", token).j();
  CHECK(without == json::parse(R"([{"strategy":"google-oauth2","name":"google"}])"));
  json page = s.get("/api/v2/connections?per_page=2&page=1&fields=name", token).j();
  CHECK(page == json::parse(R"([{"name":"google"},{"name":"bulk-db"}])"));

  Response one = s.get(std::string("/api/v2/connections/") + kGoogleId, token);
  CHECK(one.status == 200);
  CHECK(one.j()["name"] == "google");
  Response unknown = s.get("/api/v2/connections/con_0000000000000000", token);
  CHECK(unknown.status == 404);
  CHECK(
      unknown.body ==
      R"({"statusCode":404,"error":"Not Found","message":"The connection does not exist","errorCode":"inexistent_connection"})");
  Response bad = s.get("/api/v2/connections/newsletter-db", token);
  CHECK(bad.status == 400);
  CHECK(bad.j()["errorCode"] == "invalid_uri");
  CHECK(bad.j()["message"].get<std::string>().rfind("Path validation error: 'String does not "
                                                    "match pattern ^con_[A-Za-z0-9]{16}$: "
                                                    "newsletter-db' on property id",
                                                    0) == 0);
}

// ---- users: paging, totals, the 1 000 cap -----------------------------------------------------

TEST_CASE("users: page and per_page, both shapes, the totals' key order") {
  Site s;
  const std::string token = s.token();
  json all = s.get("/api/v2/users", token).j();
  REQUIRE(all.is_array());
  CHECK(all.size() == 6);
  // Creation (seed) order by default.
  CHECK(all[0]["user_id"] == "auth0|63d17c4dede19c15715de31c");

  Response r = s.get("/api/v2/users?page=1&per_page=4&include_totals=true", token);
  REQUIRE(r.status == 200);
  CHECK(r.body.rfind(R"({"start":4,"limit":4,"length":2,"users":[{)", 0) == 0);
  CHECK(r.body.size() > 12);
  CHECK(r.body.substr(r.body.size() - 12) == R"(],"total":6})");
  json j = r.j();
  CHECK(ids(j["users"]) ==
        std::vector<std::string>{"auth0|000000000000000000000005", "google-oauth2|1234567890"});

  json zero = s.get("/api/v2/users?per_page=0&include_totals=true", token).j();
  CHECK(zero["users"].empty());
  CHECK(zero["total"] == 6);
  CHECK(s.get("/api/v2/users?page=7&per_page=1", token).body == "[]");

  // The user object as stored (the recorded example's fields).
  json chuck = all[0];
  CHECK(chuck["created_at"] == "2023-01-25T19:00:29.893Z");
  CHECK(
      chuck["identities"][0] ==
      json::parse(
          R"({"connection":"newsletter-db","user_id":"63d17c4dede19c15715de31c","provider":"auth0","isSocial":false})"));
  CHECK(chuck["blocked"] == false);
  CHECK_FALSE(all[1].contains("blocked"));
}

TEST_CASE("users: without page, at most 50 are answered") {
  Site s(seed(120));
  const std::string token = s.token();
  CHECK(s.get("/api/v2/users", token).j().size() == 50);
  CHECK(s.get("/api/v2/users?per_page=100", token).j().size() == 100);
  json t = s.get("/api/v2/users?include_totals=true", token).j();
  CHECK(t["limit"] == 50);
  CHECK(t["total"] == 126);
}

TEST_CASE("users: only the first 1000 results can be paged through") {
  Site s(seed(1205));
  const std::string token = s.token();
  const std::string q = "&q=" + concord::http::url_encode("identities.connection:\"bulk-db\"") +
                        "&search_engine=v3&include_totals=true";
  json last = s.get("/api/v2/users?page=9&per_page=100" + q, token).j();
  CHECK(last["start"] == 900);
  CHECK(last["length"] == 100);
  // The total is every match, beyond the window.
  CHECK(last["total"] == 1205);
  CHECK(last["users"][99]["email"] == "bulk999@example.com");

  const std::string cap =
      R"({"statusCode":400,"error":"Bad Request","message":"You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation","errorCode":"invalid_paging"})";
  Response beyond = s.get("/api/v2/users?page=10&per_page=100" + q, token);
  CHECK(beyond.status == 400);
  CHECK(beyond.body == cap);
  CHECK(s.get("/api/v2/users?page=20&per_page=50" + q, token).body == cap);
  CHECK(s.get("/api/v2/users?page=1000&per_page=1" + q, token).body == cap);
  CHECK(s.get("/api/v2/users?page=999&per_page=1" + q, token).status == 200);
  // A page that straddles record 1000 stops there.
  json straddle = s.get("/api/v2/users?page=33&per_page=30" + q, token).j();
  CHECK(straddle["start"] == 990);
  CHECK(straddle["length"] == 10);
  CHECK(straddle["users"].size() == 10);
  CHECK(s.get("/api/v2/users?page=34&per_page=30" + q, token).body == cap);
  // The cap holds without a query too.
  CHECK(s.get("/api/v2/users?page=10&per_page=100", token).body == cap);
  // Narrowing the query (a window on updated_at, sorted) reaches the rest.
  json rest = s.get(users_target({{"q",
                                   "identities.connection:\"bulk-db\" AND "
                                   "updated_at:{2025-01-01T00:16:39.000Z TO *]"},
                                  {"search_engine", "v3"},
                                  {"sort", "updated_at:1"},
                                  {"per_page", "100"},
                                  {"include_totals", "true"}}),
                    token)
                  .j();
  CHECK(rest["total"] == 205);
  CHECK(rest["users"][0]["email"] == "bulk1000@example.com");
}

// ---- users: search, sort, fields --------------------------------------------------------------

TEST_CASE("users: q by connection and updated_at ranges, sorted, as a connector pages") {
  Site s;
  const std::string token = s.token();
  auto search = [&](const std::string& q, const std::string& sort = "") {
    std::vector<std::pair<std::string, std::string>> p = {{"q", q}, {"search_engine", "v3"}};
    if (!sort.empty()) p.push_back({"sort", sort});
    Response r = s.get(users_target(p), token);
    INFO(q << " -> " << r.body);
    REQUIRE(r.status == 200);
    return ids(r.j());
  };
  const std::string chuck = "auth0|63d17c4dede19c15715de31c",
                    wilma = "auth0|000000000000000000000002",
                    fred = "auth0|000000000000000000000003",
                    barney = "auth0|000000000000000000000004",
                    betty = "auth0|000000000000000000000005", pebbles = "google-oauth2|1234567890";
  using V = std::vector<std::string>;
  CHECK(search("identities.connection:\"newsletter-db\"") == V{chuck, wilma, fred, barney});
  CHECK(search("identities.connection:newsletter-db") == V{chuck, wilma, fred, barney});
  // [ includes the bound, { excludes it; * leaves the end open.
  CHECK(search("identities.connection:\"newsletter-db\" AND updated_at:[2024-05-01T00:00:00.000Z "
               "TO *]") == V{chuck, wilma, fred, barney});
  CHECK(search("identities.connection:\"newsletter-db\" AND updated_at:{2024-05-01T00:00:00.000Z "
               "TO *]") == V{wilma, fred, barney});
  CHECK(search("updated_at:{2024-05-01T00:00:00.001Z TO 2024-06-15T08:30:00.000Z}") == V{fred});
  CHECK(search("updated_at:[* TO 2024-05-01T00:00:00.001Z]") == V{chuck, wilma, betty});
  // Dates name their whole day (or month, or year).
  CHECK(search("updated_at:[2024-05-01 TO 2024-05-01]") == V{chuck, wilma, fred});
  CHECK(search("updated_at:{2024-05 TO *]") == V{barney, pebbles});
  CHECK(search("updated_at:[2024 TO 2024]").size() == 6);
  // Sorted ascending and descending, as a connector reads new changes.
  CHECK(
      search(
          "identities.connection:\"newsletter-db\" AND updated_at:{2024-05-01T00:00:00.000Z TO *]",
          "updated_at:-1") == V{barney, fred, wilma});
  CHECK(search("updated_at:[* TO *]", "updated_at:1") ==
        V{betty, chuck, wilma, fred, barney, pebbles});
  CHECK(search("", "email:1") == V{barney, betty, chuck, fred, pebbles, wilma});
  // The other clauses a client writes.
  CHECK(search("email:\"chuck904@example.com\"") == V{chuck});
  CHECK(search("email:\"Chuck904@example.com\"").empty());  // exact, as the sandbox reads it
  CHECK(search("email.domain:\"bedrock.org\" AND NOT identities.connection:\"newsletter-db\"") ==
        V{betty});
  CHECK(search("email:fred@bedrock.org OR email:betty@bedrock.org") == V{fred, betty});
  CHECK(search("(email:fred* OR email:wil*) AND email_verified:true") == V{wilma, fred});
  CHECK(search("identities.isSocial:true") == V{pebbles});
  CHECK(search("user_metadata.favourite_attack:\"roundhouse_kick\"") == V{chuck});
  CHECK(search("_exists_:given_name") == V{chuck});
  CHECK(search("NOT _exists_:blocked").size() == 5);
  CHECK(search("user_id:\"auth0|000000000000000000000003\"") == V{fred});
}

TEST_CASE("users: queries outside the subset are refused, naming the problem") {
  Site s;
  const std::string token = s.token();
  for (const char* q : {"email:a@b.c email:d@e.f", "chuck", "email:\"open", "updated_at:[2024 TO",
                        "email:ch*ck", "(email:x", "-email:x", "name:(a OR b)"}) {
    INFO(q);
    Response r = s.get(users_target({{"q", q}, {"search_engine", "v3"}}), token);
    CHECK(r.status == 400);
    CHECK(r.j()["errorCode"] == "invalid_query_string");
    CHECK(r.j()["message"].get<std::string>().rfind("Query validation error: 'Invalid query: ",
                                                    0) == 0);
  }
}

TEST_CASE("users: fields and include_fields choose the keys") {
  Site s;
  const std::string token = s.token();
  json only =
      s.get("/api/v2/users?per_page=1&fields=user_id,email,updated_at&include_fields=true", token)
          .j();
  CHECK(
      only[0] ==
      json::parse(
          R"({"email":"chuck904@example.com","updated_at":"2024-05-01T00:00:00.000Z","user_id":"auth0|63d17c4dede19c15715de31c"})"));
  json without =
      s.get(
           "/api/v2/users?per_page=1&fields=identities,user_metadata,app_metadata,"
           "created_at,name,nickname,given_name,family_name,blocked&include_fields=false",
           token)
          .j();
  CHECK(
      without[0] ==
      json::parse(
          R"({"email":"chuck904@example.com","email_verified":true,"updated_at":"2024-05-01T00:00:00.000Z","user_id":"auth0|63d17c4dede19c15715de31c"})"));
}

TEST_CASE("users: with a search delay, the search sees a change only that many seconds later") {
  Site s;
  REQUIRE(s.admin("POST", "/_sandbox/auth0/settings", {{"search_delay_seconds", 5}}).status == 200);
  const std::string token = s.token();
  const std::string fred = "auth0%7C000000000000000000000003";
  REQUIRE(
      s.admin("PATCH", "/_sandbox/auth0/users/" + fred, {{"email", "fred@quarry.com"}}).status ==
      200);
  auto search_fred = [&] {
    return s
        .get(users_target(
                 {{"q", "user_id:\"auth0|000000000000000000000003\""}, {"search_engine", "v3"}}),
             token)
        .j()[0]["email"];
  };
  CHECK(search_fred() == "fred@bedrock.org");
  // Read by id, the change is there at once.
  CHECK(s.get("/api/v2/users/" + fred, token).j()["email"] == "fred@quarry.com");
  s.advance(4);
  CHECK(search_fred() == "fred@bedrock.org");
  s.advance(1);
  CHECK(search_fred() == "fred@quarry.com");

  // A new user appears late; a deleted one lingers.
  Response made = s.admin("POST", "/_sandbox/auth0/users",
                          {{"connection", "newsletter-db"}, {"email", "dino@bedrock.org"}});
  REQUIRE(made.status == 201);
  REQUIRE(s.admin("DELETE", "/_sandbox/auth0/users/auth0%7C000000000000000000000002").status ==
          204);
  const std::string q = users_target({{"q", "identities.connection:\"newsletter-db\""},
                                      {"search_engine", "v3"},
                                      {"include_totals", "true"}});
  CHECK(s.get(q, token).j()["total"] == 4);
  CHECK(s.get("/api/v2/users/auth0%7C000000000000000000000002", token).status == 404);
  s.advance(5);
  json after = s.get(q, token).j();
  CHECK(after["total"] == 4);
  std::vector<std::string> emails;
  for (const auto& u : after["users"])
    emails.push_back(u["email"]);
  CHECK(std::find(emails.begin(), emails.end(), "dino@bedrock.org") != emails.end());
  CHECK(std::find(emails.begin(), emails.end(), "wilma@bedrock.org") == emails.end());
}

// ---- admin routes: users ----------------------------------------------------------------------

TEST_CASE("admin: create, change and delete a user as a person would") {
  Site s;
  s.advance(3600);  // 2026-03-01T13:00:00Z
  Response made = s.admin("POST", "/_sandbox/auth0/users",
                          {{"connection", "newsletter-db"},
                           {"email", "dino@bedrock.org"},
                           {"given_name", "Dino"},
                           {"user_metadata", {{"plan", "free"}}}});
  REQUIRE(made.status == 201);
  json u = made.j();
  const std::string id = u["user_id"];
  CHECK(std::regex_match(id, std::regex("auth0\\|[0-9a-f]{24}")));
  CHECK(u["created_at"] == "2026-03-01T13:00:00.000Z");
  CHECK(u["updated_at"] == "2026-03-01T13:00:00.000Z");
  CHECK(u["email_verified"] == false);
  CHECK(u["name"] == "dino@bedrock.org");
  CHECK(u["nickname"] == "dino");
  CHECK(u["identities"] ==
        json::parse(R"([{"connection":"newsletter-db","user_id":")" + id.substr(6) +
                    R"(","provider":"auth0","isSocial":false}])"));
  CHECK_FALSE(u.contains("blocked"));

  const std::string token = s.token();
  const std::string path = "/_sandbox/auth0/users/" + concord::http::url_encode(id);
  CHECK(s.get("/api/v2/users/" + concord::http::url_encode(id), token).j() == u);

  // A change dates the user by the sandbox clock; a new email is unverified.
  s.advance(61);
  Response changed = s.admin("PATCH", path,
                             {{"email", "dino@quarry.com"},
                              {"family_name", "Flintstone"},
                              {"blocked", true},
                              {"user_metadata", {{"plan", nullptr}, {"pet", true}}}});
  REQUIRE(changed.status == 200);
  json c = changed.j();
  CHECK(c["updated_at"] == "2026-03-01T13:01:01.000Z");
  CHECK(c["created_at"] == "2026-03-01T13:00:00.000Z");
  CHECK(c["email"] == "dino@quarry.com");
  CHECK(c["email_verified"] == false);
  CHECK(c["blocked"] == true);
  CHECK(c["user_metadata"] == json::parse(R"({"pet":true})"));
  Response verified = s.admin("PATCH", path, {{"email_verified", true}, {"given_name", nullptr}});
  CHECK(verified.j()["email_verified"] == true);
  CHECK_FALSE(verified.j().contains("given_name"));
  // The search finds the user by its new updated_at.
  json found = s.get(users_target({{"q", "updated_at:[2026-03-01T13:01:01.000Z TO *]"},
                                   {"search_engine", "v3"}}),
                     token)
                   .j();
  CHECK(ids(found) == std::vector<std::string>{id});

  // Refusals: an email already taken in the connection, bad fields, an unknown user.
  CHECK(s.admin("PATCH", path, {{"email", "WILMA@bedrock.org"}}).status == 409);
  Response bad = s.admin("PATCH", path, {{"email_verified", "yes"}});
  CHECK(bad.status == 400);
  CHECK(bad.j()["detail"] == "email_verified: expected true or false");
  CHECK(s.admin("PATCH", path, {{"user_id", "auth0|x"}}).status == 400);
  CHECK(s.admin("POST", "/_sandbox/auth0/users", {{"connection", "nope"}, {"email", "a@b.c"}})
            .status == 400);
  CHECK(s.admin("PATCH", "/_sandbox/auth0/users/auth0%7Cnobody", {{"name", "x"}}).status == 404);

  CHECK(s.admin("DELETE", path).status == 204);
  CHECK(s.get("/api/v2/users/" + concord::http::url_encode(id), token).status == 404);
  CHECK(s.admin("DELETE", path).status == 404);
  CHECK(s.call("DELETE", path, "", {}, false).status == 403);
}

// ---- rate limits ------------------------------------------------------------------------------

TEST_CASE("rate limits: off by default, then 429 with the x-ratelimit headers") {
  Site s;
  const std::string token = s.token();
  Response free = s.get("/api/v2/users", token);
  CHECK(free.header("x-ratelimit-limit").empty());

  Response set = s.admin(
      "POST", "/_sandbox/auth0/settings",
      {{"rate_limits",
        {{{"method", "GET"}, {"path", "/api/v2/users"}, {"limit", 2}, {"window_seconds", 60}}}}});
  REQUIRE(set.status == 200);
  const std::int64_t now_s = start_time() / 1000000;
  Response a = s.get("/api/v2/users", token);
  CHECK(a.status == 200);
  CHECK(a.header("x-ratelimit-limit") == "2");
  CHECK(a.header("x-ratelimit-remaining") == "1");
  // Full again 30 s later (2 per 60 s).
  CHECK(a.header("x-ratelimit-reset") == std::to_string(now_s + 30));
  Response b = s.get("/api/v2/users", token);
  CHECK(b.status == 200);
  CHECK(b.header("x-ratelimit-remaining") == "0");
  CHECK(b.header("x-ratelimit-reset") == std::to_string(now_s + 60));
  Response c = s.get("/api/v2/users", token);
  CHECK(c.status == 429);
  CHECK(
      c.body ==
      R"({"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"})");
  CHECK(c.header("x-ratelimit-remaining") == "0");
  CHECK(c.header("x-ratelimit-reset") == std::to_string(now_s + 60));
  // Other endpoints are not in the bucket.
  CHECK(s.get("/api/v2/connections", token).status == 200);
  // One token comes back every 30 s of the sandbox clock.
  s.advance(29);
  CHECK(s.get("/api/v2/users", token).status == 429);
  s.advance(1);
  Response d = s.get("/api/v2/users", token);
  CHECK(d.status == 200);
  CHECK(d.header("x-ratelimit-remaining") == "0");
  CHECK(s.get("/api/v2/users", token).status == 429);
}

TEST_CASE("rate limits: a tenant-wide bucket and a per-endpoint one, the tighter one reported") {
  ojson sd = seed();
  sd["settings"] = {{"rate_limits",
                     {{{"path_prefix", "/api/v2/"}, {"limit", 3}, {"window_seconds", 1}},
                      {{"method", "GET"},
                       {"path", "/api/v2/connections"},
                       {"limit", 10},
                       {"window_seconds", 1}}}}};
  Site s(sd);
  const std::string token = s.token();
  Response a = s.get("/api/v2/connections", token);
  CHECK(a.header("x-ratelimit-limit") == "3");
  CHECK(a.header("x-ratelimit-remaining") == "2");
  CHECK(s.get("/api/v2/users", token).status == 200);
  CHECK(s.get("/api/v2/connections", token).status == 200);
  CHECK(s.get("/api/v2/users", token).status == 429);
  // The token endpoint is not under /api/v2/.
  CHECK(s.grant().status == 200);
  s.advance(1);
  CHECK(s.get("/api/v2/users", token).status == 200);
}

// ---- faults -----------------------------------------------------------------------------------

TEST_CASE(
    "faults: /_sandbox/faults scripts failures in Auth0's shapes, and is marked for the log") {
  Site s;
  const std::string token = s.token();
  Response cfg =
      s.admin("POST", "/_sandbox/faults",
              {{"next", {"503", "429", "reset", "none", "500"}}, {"path_prefix", "/api/v2/users"}});
  REQUIRE(cfg.status == 200);
  CHECK(cfg.j()["part"] == "auth0");
  CHECK(cfg.j()["next"].size() == 5);
  CHECK(cfg.j()["fail_export_jobs"] == false);

  // Outside the prefix: untouched, and the script is not consumed.
  CHECK(s.get("/api/v2/connections", token).status == 200);
  CHECK(s.last_fault.empty());
  Response r503 = s.get("/api/v2/users", token);
  CHECK(r503.status == 503);
  CHECK(r503.body ==
        R"({"statusCode":503,"error":"Service Unavailable","message":"Service Unavailable"})");
  CHECK(s.last_fault == "503");
  Response r429 = s.get("/api/v2/users", token);
  CHECK(r429.status == 429);
  CHECK(r429.j()["errorCode"] == "too_many_requests");
  CHECK_FALSE(r429.header("x-ratelimit-reset").empty());
  Response reset = s.get("/api/v2/users", token);
  CHECK(reset.reset);
  CHECK(s.last_fault == "reset");
  CHECK(s.get("/api/v2/users", token).status == 200);
  CHECK(s.last_fault.empty());
  Response r500 = s.get("/api/v2/users", token);
  CHECK(r500.status == 500);
  CHECK(r500.j()["error"] == "Internal Server Error");
  CHECK(s.get("/api/v2/users", token).status == 200);

  CHECK(s.admin("GET", "/_sandbox/faults").j()["next"].empty());
  Response bad = s.admin("POST", "/_sandbox/faults", {{"next", {"7"}}});
  CHECK(bad.status == 400);
  CHECK(s.admin("POST", "/_sandbox/faults", {{"fail_export_jobs", "yes"}}).status == 400);
  CHECK(s.call("GET", "/_sandbox/faults", "", {}, false).status == 403);

  // The token endpoint's injected errors are OAuth-shaped.
  REQUIRE(s.admin("POST", "/_sandbox/faults", {{"next", {"503"}}}).status == 200);
  Response t = s.grant();
  CHECK(t.status == 503);
  CHECK(t.j()["error"] == "server_error");
  // A reset clears the faults.
  REQUIRE(s.admin("POST", "/_sandbox/faults", {{"next", {"503"}}}).status == 200);
  REQUIRE(s.part->install(seed().dump()).is_ok());
  CHECK(s.grant().status == 200);
}

TEST_CASE("admin: unknown admin routes and methods") {
  Site s;
  CHECK(s.admin("GET", "/_sandbox/auth0/nothing").status == 404);
  CHECK(s.admin("GET", "/_sandbox/auth0/tokens/expire").status == 405);
  CHECK(s.admin("PUT", "/_sandbox/auth0/settings").status == 405);
  Response bad = s.admin("POST", "/_sandbox/auth0/settings", {{"token_lifetime_seconds", 0}});
  CHECK(bad.status == 400);
  CHECK(bad.j()["detail"] == "token_lifetime_seconds: expected an integer of at least 1");
  Response life = s.admin("POST", "/_sandbox/auth0/settings", {{"token_lifetime_seconds", 60}});
  CHECK(life.j()["token_lifetime_seconds"] == 60);
  CHECK(s.grant().j()["expires_in"] == 60);
}

TEST_CASE("users: a connector's page of a 50 000-user tenant is quick") {
  Site s(seed(50000));
  const std::string token = s.token();
  const std::string target = users_target(
      {{"q", "identities.connection:\"bulk-db\" AND updated_at:{2025-01-01T00:10:00.000Z TO *]"},
       {"search_engine", "v3"},
       {"sort", "updated_at:1"},
       {"per_page", "100"},
       {"page", "3"},
       {"include_totals", "true"}});
  const auto start = std::chrono::steady_clock::now();
  Response r = s.get(target, token);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  REQUIRE(r.status == 200);
  json j = r.j();
  CHECK(j["length"] == 100);
  CHECK(j["total"].get<int>() > 40000);
  WARN("a sorted, searched page of 50 000 users: " << took.count() << " s");
  CHECK(took.count() < 5.0);
}
