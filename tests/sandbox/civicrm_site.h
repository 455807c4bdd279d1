// What the CiviCRM emulator's tests share: a site over the fixture (or another seed) with a fixed
// clock, driven through its handler, and small builders for requests and answers.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox_fixture.h"

namespace concord::testing::civicrm_site {

namespace http = concord::http;
namespace sb = concord::sandbox;
using concord::Micros;
using concord::testing::fixture;
// Requests keep their objects' key order (orderBy), as PHP's arrays do.
using json = nlohmann::ordered_json;

inline constexpr const char* kKey = "bedrock-api-key-0123456789abcdef";
inline constexpr const char* kSiteKey = "bedrock-site-key-0123456789abcdef";

inline Micros T(const char* iso) {
  auto t = concord::parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

using Headers = std::vector<http::Header>;

inline Headers auth_headers() {
  return {{"X-Civi-Auth", std::string("Bearer ") + kKey}, {"X-Civi-Key", kSiteKey}};
}

inline std::string form(const json& params) {
  return "params=" + http::url_encode(params.dump());
}

// The fixture with a custom group on Contact, "Member_Info", a field of each emulated type, and
// values for Wilma (101), Barney (102) and Fred (103). The group comes after the contacts, as a
// hand-written seed may put it.
inline std::string custom_fixture() {
  json seed = json::parse(fixture());
  json& civi = seed["civicrm"];
  for (json& c : civi["contacts"]) {
    if (c["id"] == 101) {
      c["Member_Info.Member_Since"] = "2020-01-31";
      c["Member_Info.Nickname"] = "Wilm";
      c["Member_Info.Donations"] = 3;
      c["Member_Info.Volunteer"] = true;
    } else if (c["id"] == 102) {
      c["Member_Info.Donations"] = 1;
      c["Member_Info.Score"] = 2.5;
      c["Member_Info.Dues"] = 12.5;
      c["Member_Info.Last_Visit"] = "2026-02-01 18:30:00";
    } else if (c["id"] == 103) {
      c["Member_Info.Member_Since"] = "2021-06-15";
      c["Member_Info.Donations"] = 10;
      c["Member_Info.Volunteer"] = false;
    }
  }
  civi["custom_groups"] = json::parse(R"([{
    "name": "Member_Info", "title": "Member info", "extends": "Contact",
    "fields": [
      {"name": "Member_Since", "label": "Member since", "data_type": "Date"},
      {"name": "Nickname", "data_type": "String"},
      {"name": "Donations", "data_type": "Int"},
      {"name": "Score", "data_type": "Float"},
      {"name": "Dues", "label": "Dues paid", "data_type": "Money"},
      {"name": "Volunteer", "data_type": "Boolean"},
      {"name": "Last_Visit", "label": "Last visit", "data_type": "Date", "time_format": 2},
      {"name": "Notes", "data_type": "Memo"},
      {"name": "Home_Page", "label": "Home page", "data_type": "Link"}
    ]}])");
  return seed.dump();
}

// A CiviCRM site over the fixture (or another seed), with the clock fixed.
struct Site {
  sb::SandboxClock clock;
  std::unique_ptr<sb::CivicrmSandbox> civi;

  explicit Site(const std::string& seed = fixture(), Micros now = T("2026-03-01T12:00:00+00:00")) {
    clock.fix(now);
    auto site = sb::parse_civicrm_seed(seed, clock.now());
    INFO(site.status().to_string());
    REQUIRE(site.is_ok());
    civi = std::make_unique<sb::CivicrmSandbox>(std::move(site).value(), &clock);
  }

  http::Response raw(const std::string& method, const std::string& target,
                     const std::string& body = "", const Headers& headers = auth_headers(),
                     const std::string& content_type = "application/x-www-form-urlencoded",
                     bool loopback = true) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.headers = headers;
    if (!body.empty() && !content_type.empty()) r.headers.push_back({"Content-Type", content_type});
    r.body = body;
    return civi->handle(r, http::Peer{loopback ? "127.0.0.1" : "192.0.2.7", loopback}).response;
  }
  http::Response post(const std::string& entity, const std::string& action, const json& params,
                      const Headers& headers = auth_headers()) {
    return raw("POST", "/civicrm/ajax/api4/" + entity + "/" + action, form(params), headers);
  }
  // A call that must succeed: its parsed answer.
  json ok(const std::string& entity, const std::string& action, const json& params) {
    auto r = post(entity, action, params);
    INFO(entity << "." << action << " " << params.dump() << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/json");
    return json::parse(r.body);
  }
  json values(const std::string& entity, const std::string& action, const json& params) {
    return ok(entity, action, params)["values"];
  }
  // A call that must fail: its parsed answer, after checking the status and shape.
  json error(const std::string& entity, const std::string& action, const json& params,
             int status = 500) {
    auto r = post(entity, action, params);
    INFO(entity << "." << action << " " << params.dump() << " -> " << r.status << " " << r.body);
    CHECK(r.status == status);
    json j = json::parse(r.body);
    CHECK(j["status"] == status);
    return j;
  }
  void advance(int seconds) { clock.fix(clock.now() + seconds * concord::kMicrosPerSecond); }
};

// The site's CiviCRM part written out (state_part) and read back into `into`, which then shows
// the same state. Returns the part.
inline std::string reload_into(Site& from, Site& into) {
  std::string part = from.civi->state_part();
  auto reparsed = sb::parse_civicrm_seed("{\"civicrm\":" + part + "}", 0);
  INFO(reparsed.status().to_string());
  REQUIRE(reparsed.is_ok());
  into.civi->install(std::move(reparsed).value());
  CHECK(into.civi->state_part() == part);
  return part;
}

inline std::vector<std::int64_t> ids(const json& values, const char* field = "id") {
  std::vector<std::int64_t> out;
  for (const json& v : values)
    out.push_back(v[field].get<std::int64_t>());
  return out;
}

using Ids = std::vector<std::int64_t>;

// A JSON array, where brace initialisation would make an object of [key, value] pairs.
inline json A(std::initializer_list<json> items) {
  json a = json::array();
  for (const json& i : items)
    a.push_back(i);
  return a;
}

}  // namespace concord::testing::civicrm_site
