// What the Auth0 part's tests share: a tenant seeded with clients, connections and users, the
// sandbox clock fixed at a known time, requests through the part's handler (no sockets), and the
// decoders a client would use (gzip, base64url).
#pragma once

#include <zlib.h>
#include <catch2/catch.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/auth0/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox/part.h"

namespace concord::testing::auth0_site {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using Headers = std::vector<concord::http::Header>;

inline constexpr const char* kDomain = "acme.eu.auth0.com";
inline constexpr const char* kAudience = "https://acme.eu.auth0.com/api/v2/";
inline constexpr const char* kClientId = "AbC123";
inline constexpr const char* kSecret = "s3cr3t";
inline constexpr const char* kNewsletterId = "con_ftSSLHb0O7rcUGmF";
inline constexpr const char* kDefaultDbId = "con_lCvOa000000000aa";
inline constexpr const char* kGoogleId = "con_G00gle0000000001";

// 2026-03-01T12:00:00Z: the sandbox clock's "now" when a Site starts.
inline Micros start_time() {
  return parse_iso8601("2026-03-01T12:00:00Z").value();
}

inline ojson user(const std::string& id, const std::string& email, const std::string& conn,
                  const std::string& updated_at) {
  return ojson{
      {"created_at", "2023-01-25T19:00:29.893Z"},
      {"email", email},
      {"email_verified", true},
      {"identities", ojson::array({ojson{{"connection", conn},
                                         {"user_id", id},
                                         {"provider", conn == "google" ? "google-oauth2" : "auth0"},
                                         {"isSocial", conn == "google"}}})},
      {"name", email},
      {"updated_at", updated_at},
      {"user_id", (conn == "google" ? "google-oauth2|" : "auth0|") + id}};
}

// The seed the tests start from: three clients (full, connections only, no grant), three
// connections, and six users: four in newsletter-db (updated on 2024-05-01 at 00:00:00.000,
// 00:00:00.001, 10:00, and 2024-06-15), one in the default database, one Google user.
inline ojson seed(int bulk_users = 0) {
  ojson users = ojson::array();
  ojson chuck = user("63d17c4dede19c15715de31c", "chuck904@example.com", "newsletter-db",
                     "2024-05-01T00:00:00.000Z");
  chuck["given_name"] = "Chuck";
  chuck["family_name"] = "Sanchez";
  chuck["nickname"] = "Chucky";
  chuck["blocked"] = false;
  chuck["user_metadata"] = {{"favourite_attack", "roundhouse_kick"}};
  chuck["app_metadata"] = {{"plan", "gold"}};
  users.push_back(chuck);
  users.push_back(user("000000000000000000000002", "wilma@bedrock.org", "newsletter-db",
                       "2024-05-01T00:00:00.001Z"));
  users.push_back(user("000000000000000000000003", "fred@bedrock.org", "newsletter-db",
                       "2024-05-01T10:00:00.000Z"));
  ojson barney = user("000000000000000000000004", "barney@bedrock.org", "newsletter-db",
                      "2024-06-15T08:30:00.000Z");
  barney["name"] = "Barney \"B\" Rubble";
  users.push_back(barney);
  users.push_back(user("000000000000000000000005", "betty@bedrock.org",
                       "Username-Password-Authentication", "2024-04-01T00:00:00.000Z"));
  users.push_back(user("1234567890", "pebbles@gmail.com", "google", "2024-07-01T00:00:00.000Z"));
  for (int i = 0; i < bulk_users; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "b%023d", i);
    char updated[32];
    std::snprintf(updated, sizeof updated, "2025-01-01T00:%02d:%02d.000Z", i / 60 % 60, i % 60);
    users.push_back(user(id, "bulk" + std::to_string(i) + "@example.com", "bulk-db", updated));
  }
  return ojson{
      {"domain", kDomain},
      {"clients",
       ojson::array(
           {ojson{{"client_id", kClientId},
                  {"client_secret", kSecret},
                  {"scopes", ojson::array({"read:users", "read:connections"})}},
            ojson{{"client_id", "ConnOnly"},
                  {"client_secret", "c0nn"},
                  {"scopes", {"read:connections"}}},
            ojson{{"client_id", "NoGrant"}, {"client_secret", "n0"}, {"client_grant", false}},
            ojson{{"client_id", "SpaApp"},
                  {"client_secret", "spa"},
                  {"grant_types", {"authorization_code"}}}})},
      {"connections",
       ojson::array(
           {ojson{{"id", kNewsletterId},
                  {"options", {{"mfa", {{"active", true}}}, {"passwordPolicy", "good"}}},
                  {"strategy", "auth0"},
                  {"name", "newsletter-db"},
                  {"is_domain_connection", false},
                  {"realms", {"newsletter-db"}},
                  {"enabled_clients", {kClientId}}},
            ojson{{"id", kDefaultDbId},
                  {"strategy", "auth0"},
                  {"name", "Username-Password-Authentication"}},
            ojson{{"id", kGoogleId}, {"strategy", "google-oauth2"}, {"name", "google"}},
            ojson{{"id", "con_BuLk000000000001"}, {"strategy", "auth0"}, {"name", "bulk-db"}}})},
      {"users", users}};
}

struct Response {
  int status = 0;
  std::vector<http::Header> headers;
  std::string body;
  bool reset = false;

  std::string header(std::string_view name) const {
    return std::string(http::find_header(headers, name));
  }
  json j() const { return json::parse(body); }
};

// One tenant behind the part's handler, its clock fixed at start_time().
struct Site {
  sandbox::SandboxClock clock;
  std::unique_ptr<sandbox::Part> part;
  std::string last_fault;

  explicit Site(const ojson& s = seed()) {
    clock.fix(start_time());
    part = sandbox::make_auth0_sandbox(&clock);
    auto r = part->install(s.dump());
    REQUIRE(r.is_ok());
  }

  void advance(std::int64_t seconds) { clock.fix(clock.now() + seconds * kMicrosPerSecond); }

  Response call(const std::string& method, const std::string& target, std::string body = "",
                Headers headers = {}, bool loopback = true) {
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = std::move(body);
    req.headers = std::move(headers);
    req.headers.push_back({"Host", "127.0.0.1:4430"});
    http::Peer peer;
    peer.address = loopback ? "127.0.0.1" : "10.0.0.7";
    peer.loopback = loopback;
    const bool api = target.rfind("/_sandbox", 0) != 0;
    http::Reply r = part->handle(req, peer, api ? &last_fault : nullptr);
    Response out;
    out.status = r.response.status;
    out.headers = r.response.headers;
    out.body = r.response.body;
    out.reset = r.reset_without_response;
    return out;
  }

  Response post_json(const std::string& target, const ojson& body, Headers headers = {}) {
    headers.push_back({"Content-Type", "application/json"});
    return call("POST", target, body.dump(), std::move(headers));
  }

  Response grant(const std::string& client_id = kClientId, const std::string& secret = kSecret,
                 const std::string& audience = kAudience) {
    return post_json("/oauth/token", {{"grant_type", "client_credentials"},
                                      {"client_id", client_id},
                                      {"client_secret", secret},
                                      {"audience", audience}});
  }

  std::string token(const std::string& client_id = kClientId, const std::string& secret = kSecret) {
    Response r = grant(client_id, secret);
    REQUIRE(r.status == 200);
    return r.j()["access_token"].get<std::string>();
  }

  // A GET of the API with a bearer token (a fresh one from the full client when none is given).
  Response get(const std::string& target, std::string bearer = "") {
    if (bearer.empty()) bearer = token();
    return call("GET", target, "", {{"Authorization", "Bearer " + bearer}});
  }

  Response admin(const std::string& method, const std::string& target,
                 const ojson& body = nullptr) {
    return call(method, target, body.is_null() ? "" : body.dump(),
                {{"Content-Type", "application/json"}});
  }
};

inline std::string gunzip(const std::string& gz) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

inline std::string unbase64url(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  unsigned acc = 0;
  for (char c : s) {
    const int v = val(c);
    REQUIRE(v >= 0);
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The user_id of each user in an array of users.
inline std::vector<std::string> ids(const json& users) {
  std::vector<std::string> out;
  for (const auto& u : users)
    out.push_back(u["user_id"].get<std::string>());
  return out;
}

// "/api/v2/users?" + the query, URL-encoding each value.
inline std::string users_target(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string t = "/api/v2/users";
  char sep = '?';
  for (const auto& [k, v] : params) {
    t += sep;
    t += k + "=" + http::url_encode(v);
    sep = '&';
  }
  return t;
}

}  // namespace concord::testing::auth0_site
