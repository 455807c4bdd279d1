// What the Mixpanel emulator's tests share: a project seeded with two cohorts and a handful of
// profiles (some without $email, one member without a profile), a fixed clock, and builders for
// Query API and admin requests driven through the part's handler.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/clock.h"
#include "sandbox/mixpanel/sandbox.h"
#include "sandbox/part.h"

namespace concord::testing::mixpanel_site {

namespace http = concord::http;
namespace sb = concord::sandbox;
using concord::Micros;
// Profiles keep their properties' order, as the API answers them.
using json = nlohmann::ordered_json;

inline constexpr const char* kUser = "sa.user.1234567.mp-service-account";
inline constexpr const char* kSecret = "s3cret-0123456789";
inline constexpr const char* kProjectSecret = "legacy-project-secret";
inline constexpr std::int64_t kProject = 1234567;
inline const std::string kQ = "?project_id=1234567";

inline Micros T(const char* iso) {
  auto t = concord::parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

inline std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s : {18, 12, 6, 0})
      out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (in.size() - i == 1) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    unsigned n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

inline std::string basic(std::string_view user, std::string_view secret) {
  return "Basic " + base64(std::string(user) + ":" + std::string(secret));
}

// Cohort 1000 "Cohort One": alice (with $email), bob (no $email), carol (no profile at all).
// Cohort 2000 "Cohort Two", hidden: dave and erin. frank is in no cohort.
inline json base_seed() {
  return json::parse(R"({
    "project_id": 1234567,
    "service_accounts": [{"username": "sa.user.1234567.mp-service-account", "secret": "s3cret-0123456789"}],
    "api_secret": "legacy-project-secret",
    "cohorts": [
      {"count": 3, "is_visible": 1, "description": "Visible, three members.", "created": "2019-03-19 23:49:51",
       "project_id": 1234567, "id": 1000, "name": "Cohort One", "members": ["alice", "bob", "carol"]},
      {"is_visible": 0, "description": "Hidden.", "created": "2019-04-02 23:22:01",
       "id": 2000, "name": "Cohort Two", "members": ["dave", "erin"]}
    ],
    "profiles": [
      {"$distinct_id": "alice", "$properties": {"$email": "alice@example.org", "$first_name": "Alice",
        "$last_name": "Liddell", "plan": "pro", "$last_seen": "2026-02-20T10:00:00", "visits": 12}},
      {"$distinct_id": "bob", "$properties": {"$first_name": "Bob", "plan": "free",
        "$last_seen": "2025-11-02T08:30:00", "visits": 3}},
      {"$distinct_id": "dave", "$properties": {"$email": "dave@example.org", "$city": "Campina Grande",
        "groups": [], "$created": "2024-01-05T12:00:00"}},
      {"$distinct_id": "erin", "$properties": {"$email": "erin@example.org", "plan": "pro"}},
      {"$distinct_id": "frank", "$properties": {"$email": "frank@example.org"}}
    ]
  })");
}

// A project whose cohort 7 has `n` members "user-0000"…, every profile with an email except each
// tenth.
inline json big_seed(int n) {
  json seed = base_seed();
  json members = json::array();
  for (int i = 0; i < n; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "user-%04d", i);
    members.push_back(id);
    json props = {{"$first_name", "User " + std::to_string(i)}};
    if (i % 10 != 0) props["$email"] = std::string(id) + "@example.org";
    seed["profiles"].push_back({{"$distinct_id", id}, {"$properties", props}});
  }
  seed["cohorts"].push_back({{"id", 7}, {"name", "Big"}, {"members", members}});
  return seed;
}

struct Reply {
  int status = 0;
  std::vector<http::Header> headers;
  std::string body;
  bool reset = false;
  std::size_t truncate_at = static_cast<std::size_t>(-1);
  std::string fault;

  std::string_view header(std::string_view name) const { return http::find_header(headers, name); }
  json j() const {
    json v = json::parse(body, nullptr, false);
    REQUIRE_FALSE(v.is_discarded());
    return v;
  }
  // The text of the API's error shape.
  std::string error() const {
    json v = j();
    REQUIRE(v.is_object());
    REQUIRE(v.contains("error"));
    return v["error"].get<std::string>();
  }
};

struct Site {
  sb::SandboxClock clock;
  std::unique_ptr<sb::Part> part = sb::make_mixpanel_sandbox(&clock);
  std::string auth = basic(kUser, kSecret);

  explicit Site(const json& seed = base_seed()) {
    clock.fix(T("2026-03-01T00:00:00Z"));
    auto r = part->install(seed.dump());
    if (!r.is_ok()) FAIL(r.status().message());
  }

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& content_type = "", bool loopback = true) {
    http::Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    if (!auth.empty()) req.headers.push_back({"Authorization", auth});
    if (!content_type.empty()) req.headers.push_back({"Content-Type", content_type});
    Reply out;
    http::Reply r =
        part->handle(req, http::Peer{loopback ? "127.0.0.1" : "203.0.113.9", loopback}, &out.fault);
    out.status = r.reset_without_response ? 0 : r.response.status;
    out.headers = r.response.headers;
    out.body = r.response.body;
    out.reset = r.reset_without_response;
    out.truncate_at = r.truncate_body_at;
    return out;
  }

  // POST /api/query/engage?project_id=… with a form body (the spec's way).
  Reply engage(const std::string& form = "", const std::string& path = "/api/query/engage") {
    return call("POST", path + kQ, form, "application/x-www-form-urlencoded");
  }
  Reply cohorts(const std::string& path = "/api/query/cohorts/list") {
    return call("POST", path + kQ, "{}", "application/json");
  }
  // An admin route (no Authorization needed; sent anyway, it is ignored).
  Reply admin(const std::string& method, const std::string& path, const json& body = nullptr) {
    return call(method, path, body.is_null() ? "" : body.dump(), "application/json");
  }
};

// form field=value, the value percent-encoded.
inline std::string field(const std::string& name, const std::string& value) {
  return name + "=" + http::url_encode(value);
}

inline std::string cohort_filter(std::int64_t id) {
  return field("filter_by_cohort", "{\"id\":" + std::to_string(id) + "}");
}

inline std::vector<std::string> ids_of(const json& results) {
  std::vector<std::string> ids;
  for (const json& r : results)
    ids.push_back(r["$distinct_id"].get<std::string>());
  return ids;
}

// Pages through a query as the reference's algorithm does (the same filter each time, the first
// answer's session_id, page + 1 while a page is full).
struct Paged {
  std::vector<std::string> ids;
  std::vector<json> results;
  std::int64_t total = -1;
  int calls = 0;
};
inline Paged page_all(Site& s, const std::string& filter) {
  Paged p;
  Reply r = s.engage(filter);
  REQUIRE(r.status == 200);
  json j = r.j();
  p.total = j["total"].get<std::int64_t>();
  for (;;) {
    ++p.calls;
    for (const json& e : j["results"])
      p.results.push_back(e);
    if (j["results"].size() < j["page_size"].get<std::size_t>()) break;
    REQUIRE(p.calls < 100);
    r = s.engage(filter + "&" + field("session_id", j["session_id"].get<std::string>()) +
                 "&page=" + std::to_string(j["page"].get<int>() + 1));
    REQUIRE(r.status == 200);
    j = r.j();
  }
  p.ids = ids_of(p.results);
  return p;
}

}  // namespace concord::testing::mixpanel_site
