// The sandbox's CiviCRM emulator: driven through its handler (table-driven for auth, operators
// and error shapes), then through the router that serves it beside the Mailchimp part, then over
// real sockets with TLS. The expected answers are those of CiviCRM's APIv4 documentation and of
// CiviCRM's source (CRM/Api4/Page/AJAX.php, ext/authx, Civi/Api4/Generic); docs/sandbox.md
// describes what is emulated.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/request_log.h"
#include "sandbox/router.h"
#include "sandbox_fixture.h"

namespace http = concord::http;
namespace sb = concord::sandbox;
using concord::Micros;
using concord::Status;
using concord::testing::fixture;
using concord::testing::TempDir;
// Requests keep their objects' key order (orderBy), as PHP's arrays do.
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kKey = "bedrock-api-key-0123456789abcdef";
constexpr const char* kSiteKey = "bedrock-site-key-0123456789abcdef";

Micros T(const char* iso) {
  auto t = concord::parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

using Headers = std::vector<http::Header>;

Headers auth_headers() {
  return {{"X-Civi-Auth", std::string("Bearer ") + kKey}, {"X-Civi-Key", kSiteKey}};
}

std::string form(const json& params) {
  return "params=" + http::url_encode(params.dump());
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

std::vector<std::int64_t> ids(const json& values, const char* field = "id") {
  std::vector<std::int64_t> out;
  for (const json& v : values)
    out.push_back(v[field].get<std::int64_t>());
  return out;
}

using Ids = std::vector<std::int64_t>;

// A JSON array, where brace initialisation would make an object of [key, value] pairs.
json A(std::initializer_list<json> items) {
  json a = json::array();
  for (const json& i : items)
    a.push_back(i);
  return a;
}

}  // namespace

// ---- envelope, transport and authentication --------------------------------------------------

TEST_CASE("get: the reference's GroupContact example and the response envelope") {
  Site s;
  auto r = s.post(
      "GroupContact", "get",
      {{"select",
        {"contact_id", "status", "contact_id.is_deleted", "contact_id.do_not_email",
         "contact_id.is_opt_out"}},
       {"where",
        {{"group_id", "=", 42}, {"status", "=", "Added"}, {"contact_id.is_deleted", "=", false}}},
       {"orderBy", {{"contact_id", "ASC"}}},
       {"limit", 1000},
       {"offset", 0}});
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  // The envelope's keys, in CRM_Api4_Page_AJAX's order; no countMatched without row_count.
  CHECK(r.body.rfind("{\"values\":[{\"id\":", 0) == 0);
  CHECK(r.body.find("],\"entity\":\"GroupContact\",\"action\":\"get\",\"debug\":null,\"version\":4,"
                    "\"count\":8,\"countFetched\":8}") != std::string::npos);
  json j = json::parse(r.body);
  CHECK(ids(j["values"], "contact_id") == Ids{101, 102, 104, 107, 108, 110, 111, 112});
  // "id" is always selected, first; joined fields keep their dotted names.
  CHECK(r.body.find("{\"id\":1,\"contact_id\":101,\"status\":\"Added\",\"contact_id.is_deleted\":"
                    "false,\"contact_id.do_not_email\":false,\"contact_id.is_opt_out\":false}") !=
        std::string::npos);
  CHECK(j["values"][3]["contact_id.do_not_email"] == true);
  CHECK(j["values"][7]["contact_id.is_opt_out"] == true);
}

TEST_CASE("auth: authx flows, the site-key guard and the web-service check") {
  const std::string bearer = std::string("Bearer ") + kKey;
  struct Case {
    const char* name;
    Headers headers;
    std::string extra_body;  // appended to the form body
    int status;
    std::string body_start;
    std::string content_type;
  };
  const std::string guard = "HTTP 401 Login not permitted. Must satisfy guard (site_key, perm).";
  std::vector<Case> cases = {
      {"no credential: the CMS's access denied page",
       {},
       "",
       403,
       "<!DOCTYPE html>",
       "text/html; charset=utf-8"},
      {"wrong key",
       {{"X-Civi-Auth", "Bearer nope"}, {"X-Civi-Key", kSiteKey}},
       "",
       401,
       "HTTP 401 Invalid credential",
       "text/plain"},
      {"key without the Bearer scheme",
       {{"X-Civi-Auth", kKey}, {"X-Civi-Key", kSiteKey}},
       "",
       401,
       "HTTP 401 Invalid credential",
       "text/plain"},
      {"lower-case scheme",
       {{"X-Civi-Auth", std::string("bearer ") + kKey}, {"X-Civi-Key", kSiteKey}},
       "",
       401,
       "HTTP 401 Invalid credential",
       "text/plain"},
      {"missing site key", {{"X-Civi-Auth", bearer}}, "", 401, guard, "text/plain"},
      {"wrong site key",
       {{"X-Civi-Auth", bearer}, {"X-Civi-Key", "nope"}},
       "",
       401,
       guard,
       "text/plain"},
      {"X-Civi-Auth with the site key",
       {{"X-Civi-Auth", bearer}, {"X-Civi-Key", kSiteKey}},
       "",
       200,
       "{\"values\":",
       "application/json"},
      {"Authorization: Bearer is not a web-service request by itself",
       {{"Authorization", bearer}, {"X-Civi-Key", kSiteKey}},
       "",
       400,
       "{\"error_code\":400,\"error_message\":\"SECURITY ALERT: Ajax requests can only be issued "
       "by javascript clients, eg. CRM.api4().\"}",
       "application/json"},
      {"Authorization: Bearer with X-Requested-With",
       {{"Authorization", bearer},
        {"X-Civi-Key", kSiteKey},
        {"X-Requested-With", "XMLHttpRequest"}},
       "",
       200,
       "{\"values\":",
       "application/json"},
      {"Authorization: Bearer with a wrong key",
       {{"Authorization", "Bearer nope"}, {"X-Requested-With", "XMLHttpRequest"}},
       "",
       401,
       "HTTP 401 Invalid credential",
       "text/plain"},
      {"_authx and _authxSiteKey form fields",
       {},
       "&_authx=" + http::url_encode(bearer) + "&_authxSiteKey=" + kSiteKey,
       200,
       "{\"values\":",
       "application/json"},
      {"X-Requested-With without a credential is still anonymous",
       {{"X-Requested-With", "XMLHttpRequest"}},
       "",
       403,
       "<!DOCTYPE html>",
       "text/html; charset=utf-8"},
  };
  Site s;
  for (const Case& c : cases) {
    SECTION(c.name) {
      auto r = s.raw("POST", "/civicrm/ajax/api4/Contact/get",
                     form({{"select", {"id"}}, {"limit", 1}}) + c.extra_body, c.headers);
      INFO(r.body);
      CHECK(r.status == c.status);
      CHECK(r.body.rfind(c.body_start, 0) == 0);
      CHECK(r.header("Content-Type") == c.content_type);
    }
  }
  SECTION("a contact allowed to authenticate with its api key needs no site key") {
    json seed = json::parse(fixture());
    seed["civicrm"]["api_key_permission"] = true;
    Site p(seed.dump());
    auto r = p.post("Contact", "get", {{"limit", 1}}, {{"X-Civi-Auth", bearer}});
    CHECK(r.status == 200);
  }
}

TEST_CASE("transport: GET for get actions, 405 for the others; params in the query or form") {
  Site s;
  const std::string q = "?params=" + http::url_encode(json({{"where", {{"id", "=", 101}}}}).dump());
  auto get = s.raw("GET", "/civicrm/ajax/api4/Contact/get" + q);
  REQUIRE(get.status == 200);
  CHECK(ids(json::parse(get.body)["values"]) == Ids{101});

  for (const char* action : {"create", "update", "save", "delete"}) {
    auto r = s.raw("GET", std::string("/civicrm/ajax/api4/Contact/") + action + q);
    CHECK(r.status == 405);
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.body ==
          "{\"error_code\":405,\"error_message\":\"SECURITY: All requests that modify the database "
          "must be http POST, not GET.\"}");
  }
  // A POST reads $_REQUEST: the query's params count, the form's win over them.
  auto post_query = s.raw("POST", "/civicrm/ajax/api4/Contact/get" + q, "");
  CHECK(ids(json::parse(post_query.body)["values"]) == Ids{101});
  auto both =
      s.raw("POST", "/civicrm/ajax/api4/Contact/get" + q, form({{"where", {{"id", "=", 102}}}}));
  CHECK(ids(json::parse(both.body)["values"]) == Ids{102});
  // The ?q= form of CMS sites without clean URLs.
  auto qform = s.raw("POST", "/index.php?q=civicrm/ajax/api4/Contact/get",
                     form({{"where", {{"id", "=", 103}}}}));
  CHECK(ids(json::parse(qform.body)["values"]) == Ids{103});
  // Other paths are the CMS's 404.
  CHECK(s.raw("POST", "/civicrm/ajax/api3/Contact/get", "").status == 404);
  CHECK(s.raw("POST", "/", "").status == 404);
}

TEST_CASE("transport: a raw JSON body is ignored, as PHP leaves $_POST empty") {
  Site s;
  json params = {{"where", {{"id", "=", 101}}}};
  auto r = s.raw("POST", "/civicrm/ajax/api4/Contact/get", params.dump(), auth_headers(),
                 "application/json");
  REQUIRE(r.status == 200);
  json j = json::parse(r.body);
  CHECK(j["count"] == 11);  // every contact that is not in the trash: the where was not seen
  // The same JSON in a `params` field sent as JSON is ignored too.
  auto r2 = s.raw("POST", "/civicrm/ajax/api4/Contact/get",
                  json({{"params", params.dump()}}).dump(), auth_headers(), "application/json");
  CHECK(json::parse(r2.body)["count"] == 11);
  // An empty body: empty params.
  auto r3 = s.raw("POST", "/civicrm/ajax/api4/Group/get", "");
  CHECK(json::parse(r3.body)["count"] == 2);
}

TEST_CASE("errors: CiviCRM's shapes and messages") {
  Site s;
  struct Case {
    const char* entity;
    const char* action;
    json params;
    int status;
    std::string message;
  };
  std::vector<Case> cases = {
      {"Foo", "get", json::object(), 500,
       "API (Foo, get) does not exist (join the API team and implement it!)"},
      {"Contact", "frobnicate", json::object(), 500,
       "API (Contact, frobnicate) does not exist (join the API team and implement it!)"},
      {"Contact",
       "get",
       {{"where", {{"favourite_colour", "=", "red"}}}},
       500,
       "Invalid field 'favourite_colour'"},
      {"Contact",
       "get",
       {{"where", {{"contact_id.nope", "=", 1}}}},
       500,
       "Invalid field 'contact_id.nope'"},
      {"Contact", "get", {{"where", {{"id", "EQUALS", 1}}}}, 500, "Illegal operator"},
      {"Contact",
       "get",
       {{"where", {{"id", "IN", 5}}}},
       500,
       "Invalid value in WHERE clause for 'id'"},
      {"Contact",
       "get",
       {{"orderBy", {{"last_name", "UP"}}}},
       500,
       "Invalid sort direction. Cannot order by last_name UP"},
      {"Contact", "get", {{"orderBy", {{"nope", "ASC"}}}}, 500, "Invalid field 'nope'"},
      {"Contact",
       "get",
       {{"colour", "red"}},
       500,
       "Unknown method: Civi\\Api4\\Generic\\DAOGetAction::setColour()"},
      {"Contact",
       "get",
       {{"limit", "ten"}},
       500,
       "Parameter \"limit\" is not of the correct type. Expecting int."},
      {"Contact", "get", {{"version", 3}}, 500, "Cannot modify api version"},
      {"Email",
       "create",
       {{"values", {{"contact_id", 101}}}},
       500,
       "Mandatory values missing from Api4 Email::create: email"},
      {"GroupContact",
       "create",
       {{"values", {{"status", "Added"}}}},
       500,
       "Mandatory values missing from Api4 GroupContact::create: group_id, contact_id"},
      {"Contact",
       "create",
       {{"values", {{"id", 101}, {"first_name", "X"}}}},
       500,
       "Cannot pass id to Create action. Use Update action instead."},
      {"Contact",
       "update",
       {{"values", {{"first_name", "X"}}}},
       500,
       "Parameter \"where\" is required unless an id is supplied in values."},
      {"Contact",
       "update",
       {{"where", {{"id", "=", 101}}}},
       500,
       "Parameter \"values\" is required."},
      {"Contact", "delete", json::object(), 500, "Parameter \"where\" is required."},
      {"GroupContact",
       "save",
       {{"records", json::array()}},
       500,
       "Parameter \"records\" is required."},
      {"GroupContact",
       "create",
       {{"values", {{"group_id", 42}, {"contact_id", 101}}}},
       500,
       "DB Error: already exists"},
      {"GroupContact",
       "create",
       {{"values", {{"group_id", 999}, {"contact_id", 101}}}},
       500,
       "DB Error: constraint violation"},
      {"Contact",
       "get",
       {{"where", {{"first_name", "REGEXP", "^W"}}}},
       500,
       "concord-sandbox does not emulate the REGEXP operator"},
      {"Contact",
       "get",
       {{"groupBy", {"contact_type"}}},
       500,
       "concord-sandbox does not emulate the \"groupBy\" parameter"},
  };
  for (const Case& c : cases) {
    INFO(c.entity << "." << c.action << " " << c.params.dump());
    json j = s.error(c.entity, c.action, c.params, c.status);
    CHECK(j["error_code"] == 0);
    CHECK(j["error_message"] == c.message);
    CHECK(j.size() == 3);
  }

  SECTION("without \"view debug output\" the message is generic") {
    json seed = json::parse(fixture());
    seed["civicrm"]["view_debug_output"] = false;
    Site g(seed.dump());
    json j = g.error("Foo", "get", json::object());
    CHECK(j["error_code"] == "1");
    std::string m = j["error_message"];
    CHECK(std::regex_match(m, std::regex("Sorry an error occurred and your request was not "
                                         "completed\\. \\(Error ID: [A-Za-z0-9]{4}-[A-Za-z0-9]{4}-"
                                         "[A-Za-z0-9]{4}\\)")));
  }
  SECTION("a denied action is 403 Authorization failed") {
    json seed = json::parse(fixture());
    seed["civicrm"]["deny"] = {"Contact.delete", "*.save"};
    Site d(seed.dump());
    json j = d.error("Contact", "delete", {{"where", {{"id", "=", 101}}}}, 403);
    CHECK(j["error_message"] == "Authorization failed");
    d.error("GroupContact", "save", {{"records", {{{"group_id", 42}, {"contact_id", 105}}}}}, 403);
    CHECK(d.post("Contact", "get", {{"limit", 1}}).status == 200);
  }
  SECTION("params that are not JSON: PHP dies with a 500 page") {
    auto r = s.raw("POST", "/civicrm/ajax/api4/Contact/get", "params=%7Bnot+json");
    CHECK(r.status == 500);
    CHECK(r.header("Content-Type") == "text/html; charset=utf-8");
  }
  SECTION("a JSON body echoes nothing: the answers use PHP's escaping") {
    json v = s.values("Contact", "create",
                      {{"values", {{"first_name", "Zoë"}, {"last_name", "A/B \"C\""}}}});
    auto r =
        s.post("Contact", "get",
               {{"select", {"first_name", "last_name"}}, {"where", {{"id", "=", v[0]["id"]}}}});
    CHECK(r.body.find("\"first_name\":\"Zo\\u00eb\"") != std::string::npos);
    CHECK(r.body.find("\"last_name\":\"A\\/B \\\"C\\\"\"") != std::string::npos);
  }
}

// ---- get: where, select, orderBy, limit/offset --------------------------------------------------

TEST_CASE("where: every operator, on fields and through joins") {
  Site s;
  struct Case {
    const char* entity;
    json where;
    Ids expected;  // ids, in id order
  };
  std::vector<Case> cases = {
      {"Contact", {{"id", "=", 103}}, {103}},
      {"Contact", {{"id", "=", "103"}}, {103}},
      {"Contact", {{"last_name", "=", "flintstone"}}, {101, 103, 105}},  // case-insensitive
      {"Contact", {{"last_name", "!=", "Flintstone"}}, {102, 104, 107, 108, 109, 110, 111, 112}},
      {"Contact", {{"last_name", "<>", "Rubble"}, {"id", "<", 106}}, {101, 103, 105}},
      {"Contact", {{"id", "<", 103}}, {101, 102}},
      {"Contact", {{"id", "<=", 103}}, {101, 102, 103}},
      {"Contact", {{"id", ">", 110}}, {111, 112}},
      {"Contact", {{"id", ">=", 110}}, {110, 111, 112}},
      {"Contact", {{"first_name", "LIKE", "b%"}}, {102, 104, 107}},
      {"Contact", {{"first_name", "LIKE", "_red"}}, {103}},
      {"Contact", {{"first_name", "NOT LIKE", "%e%"}}, {101, 107, 111}},
      {"Contact", {{"id", "IN", {101, 105, 999}}}, {101, 105}},
      {"Contact", {{"id", "NOT IN", {101, 102, 103, 104, 105}}}, {107, 108, 109, 110, 111, 112}},
      {"Contact", {{"id", "BETWEEN", {104, 107}}}, {104, 105, 107}},
      {"Contact", {{"id", "NOT BETWEEN", {102, 111}}}, {101, 112}},
      {"Contact", {{"source", "IS NULL"}, {"id", "<", 103}}, {101, 102}},
      {"Contact", json::array({json::array({"source", "IS NOT NULL"})}), {}},
      {"Contact", {{"do_not_email", "=", true}}, {107}},
      {"Contact", {{"do_not_email", "=", 1}}, {107}},
      {"Contact", {{"is_opt_out", "!=", false}}, {112}},
      {"Contact", {{"first_name", "CONTAINS", "amm"}}, {107}},
      {"Contact", {{"created_date", ">", "2025-06-30"}}, {109}},
      {"Contact", {{"created_date", "=", "2025-07-01"}}, {109}},  // a bare date: the whole day
      {"Email", {{"email", "=", "ROCKHEAD@bedrock.org"}}, {8, 9}},
      {"Email", {{"email", "IN", {"wilma@bedrock.org", "tex@bedrock.org"}}}, {1, 11}},
      {"Email", {{"on_hold", ">", 0}}, {12}},
      {"Email", {{"is_bulkmail", "=", true}}, {11}},
      {"Email", json::array({json::array({"hold_date", "IS NOT NULL"})}), {12}},
      {"Email", {{"contact_id.is_deleted", "=", true}}, {6}},
      {"Email", {{"contact_id.last_name", "=", "Rockhead"}}, {8, 9}},
      {"Email", {{"contact_id", "IN", {110}}, {"is_primary", "=", false}}, {11}},
      {"GroupContact", {{"group_id:name", "=", "volunteers"}}, {2}},
      {"GroupContact", {{"group_id.title", "=", "Volunteers"}}, {2}},
      {"GroupContact", {{"status", "=", "Removed"}}, {4}},
      {"SubscriptionHistory", {{"date", ">=", "2026-01-04 12:00:00"}}, {8, 9, 10, 11}},
      {"SubscriptionHistory", {{"date", "<", "2025-11-02"}, {"group_id", "=", 42}}, {1, 2}},
      {"SubscriptionHistory", {{"method", "IS NOT NULL"}, {"contact_id", "=", 103}}, {1, 9}},
      {"SubscriptionHistory", {{"contact_id.first_name", "=", "Fred"}}, {1, 9}},
      // Nested clauses, as APIv4 writes them.
      {"Contact", A({A({"OR", {{"id", "=", 101}, {"id", "=", 112}}})}), {101, 112}},
      {"Contact",
       A({A({"OR", A({A({"AND", {{"last_name", "=", "Rubble"}, {"first_name", "LIKE", "B%"}}}),
                      A({"id", "=", 112})})})}),
       {102, 104, 107, 112}},
      {"Contact",
       A({A({"NOT", A({A({"last_name", "IN", {"Rubble", "Flintstone", "Rockhead"}})})})}),
       {110, 111, 112}},
      {"Contact", A({A({"NOT", A({"OR", {{"id", "<", 110}, {"id", ">", 111}}})})}), {110, 111}},
      {"Contact", {{"AND", json::array()}, {"id", "=", 101}}, {101}},  // an empty branch is skipped
      // NULL compares unknown, and NOT unknown is still unknown.
      {"Contact", A({A({"NOT", A({A({"source", "=", "x"})})}), A({"id", "<", 103})}), {}},
      // IN [] is IN (FALSE): it matches zeros.
      {"Contact", {{"do_not_email", "IN", json::array()}, {"id", "<", 103}}, {101, 102}},
  };
  for (const Case& c : cases) {
    INFO(c.entity << " where " << c.where.dump());
    json v = s.values(c.entity, "get", {{"select", {"id"}}, {"where", c.where}});
    CHECK(ids(v) == c.expected);
  }
}

TEST_CASE("get: trashed contacts are left out unless the where asks, or fetches by id") {
  Site s;
  CHECK(s.ok("Contact", "get", {{"select", {"row_count"}}})["count"] == 11);
  CHECK(ids(s.values("Contact", "get", {{"where", {{"id", "=", 106}}}})) == Ids{106});
  CHECK(ids(s.values("Contact", "get", {{"where", {{"id", "IN", {105, 106}}}}})) == Ids{105, 106});
  CHECK(ids(s.values(
            "Contact", "get",
            {{"where", {{"is_deleted", "IN", {0, 1}}, {"id", ">", 104}, {"id", "<", 108}}}})) ==
        Ids{105, 106, 107});
  CHECK(ids(s.values("Contact", "get", {{"where", {{"is_deleted", "=", true}}}})) == Ids{106});
  // Joined entities are not filtered: the trashed contact's membership is there.
  CHECK(ids(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", 106}}}}),
            "contact_id") == Ids{106});
}

TEST_CASE("select: defaults, wildcards, joins, suffixes, unknown fields") {
  Site s;
  auto keys = [](const json& o) {
    std::vector<std::string> k;
    for (auto it = o.begin(); it != o.end(); ++it)
      k.push_back(it.key());
    return k;
  };
  // Nothing selected: every field of the entity, in the schema's order.
  json e = s.values("Email", "get", {{"where", {{"id", "=", 12}}}})[0];
  CHECK(keys(e) == std::vector<std::string>{"id", "contact_id", "location_type_id", "email",
                                            "is_primary", "is_billing", "on_hold", "is_bulkmail",
                                            "hold_date", "reset_date"});
  CHECK(e["hold_date"] == "2026-02-20 08:00:00");
  CHECK(e["location_type_id"] == 1);
  // Individuals do not show organisation fields.
  json c = s.values("Contact", "get", {{"where", {{"id", "=", 101}}}})[0];
  CHECK(c.contains("first_name"));
  CHECK_FALSE(c.contains("organization_name"));
  CHECK(c["display_name"] == "Wilma Flintstone");
  CHECK(c["sort_name"] == "Flintstone, Wilma");
  CHECK(c["email_primary"] == 1);
  // Wildcards, join wildcards, suffixes, and unknown fields dropped without an error.
  json g = s.values("GroupContact", "get",
                    {{"select",
                      {"status", "group_id:name", "group_id:label", "contact_id.*", "no_such_field",
                       "contact_id.nope"}},
                     {"where", {{"id", "=", 2}}}})[0];
  CHECK(g["id"] == 2);
  CHECK(g["group_id:name"] == "volunteers");
  CHECK(g["group_id:label"] == "Volunteers");
  CHECK(g["contact_id.first_name"] == "Wilma");
  CHECK(g["contact_id.created_date"] == "2025-06-01 09:00:00");
  CHECK_FALSE(g.contains("no_such_field"));
  CHECK_FALSE(g.contains("contact_id.nope"));
  json w = s.values("Email", "get", {{"select", {"is_*"}}, {"where", {{"id", "=", 11}}}})[0];
  CHECK(keys(w) == std::vector<std::string>{"id", "is_primary", "is_billing", "is_bulkmail"});
  // Two hops: from a membership to the contact's primary email.
  json two = s.values("GroupContact", "get",
                      {{"select", {"contact_id.email_primary.email", "contact_id.display_name"}},
                       {"where", {{"contact_id", "=", 110}}}})[0];
  CHECK(two["contact_id.email_primary.email"] == "tex.hardrock@slaterockandgravel.com");
  CHECK(two["contact_id.display_name"] == "Tex Hardrock");
  // on_hold:label through its option list.
  json h =
      s.values("Email", "get", {{"select", {"on_hold:label"}}, {"where", {{"id", "=", 12}}}})[0];
  CHECK(h["on_hold:label"] == "On Hold Bounce");
}

TEST_CASE("orderBy, limit, offset and the counts") {
  Site s;
  json v =
      s.values("Contact", "get",
               {{"select", {"id"}}, {"orderBy", {{"last_name", "ASC"}, {"first_name", "DESC"}}}});
  CHECK(ids(v) == Ids{101, 105, 103, 110, 111, 109, 108, 104, 102, 107, 112});
  // The order of the keys is the order of the sort.
  json v2 =
      s.values("Contact", "get",
               {{"select", {"id"}}, {"orderBy", {{"first_name", "DESC"}, {"last_name", "ASC"}}}});
  CHECK(ids(v2) == Ids{101, 110, 105, 109, 108, 112, 103, 104, 102, 107, 111});
  CHECK(ids(s.values("Contact", "get", {{"orderBy", {{"id", "DESC"}}}, {"limit", 3}})) ==
        Ids{112, 111, 110});
  CHECK(ids(s.values("SubscriptionHistory", "get",
                     {{"where", {{"group_id", "=", 42}}},
                      {"orderBy", {{"contact_id", "ASC"}, {"id", "DESC"}}},
                      {"limit", 4}})) == Ids{10, 7, 9, 1});
  // NULLs first in ascending order (MySQL).
  json m = s.values("SubscriptionHistory", "get",
                    {{"select", {"id"}}, {"orderBy", {{"date", "DESC"}}}, {"limit", 2}});
  CHECK(ids(m) == Ids{11, 10});

  struct Case {
    json params;
    Ids expected;
    std::int64_t count, fetched;
    std::optional<std::int64_t> matched;
  };
  std::vector<Case> cases = {
      // A full page: count is what was fetched.
      {{{"limit", 3}, {"offset", 0}}, {101, 102, 103}, 3, 3, std::nullopt},
      {{{"limit", 3}, {"offset", 3}}, {104, 105, 107}, 3, 3, std::nullopt},
      // A short last page: count is offset + fetched.
      {{{"limit", 3}, {"offset", 9}}, {111, 112}, 11, 2, std::nullopt},
      {{{"limit", 3}, {"offset", 20}}, {}, 20, 0, std::nullopt},
      // row_count: the matched count, whatever the page.
      {{{"select", {"id", "row_count"}}, {"limit", 3}, {"offset", 3}}, {104, 105, 107}, 11, 3, 11},
      {{{"select", {"row_count"}}}, {}, 11, 0, 11},
      {{{"select", {"row_count"}}, {"where", {{"last_name", "=", "Rubble"}}}}, {}, 3, 0, 3},
      // Offset without limit.
      {{{"offset", 9}}, {111, 112}, 11, 2, std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.params.dump());
    json j = s.ok("Contact", "get", c.params);
    CHECK(ids(j["values"]) == c.expected);
    CHECK(j["count"] == c.count);
    CHECK(j["countFetched"] == c.fetched);
    CHECK(j.contains("countMatched") == c.matched.has_value());
    if (c.matched) CHECK(j["countMatched"] == *c.matched);
  }
  // Paging through a query with offsets gives every row once.
  Ids all;
  for (int offset = 0; offset < 20; offset += 4) {
    json page = s.values("Email", "get",
                         {{"orderBy", {{"email", "ASC"}}}, {"limit", 4}, {"offset", offset}});
    for (auto id : ids(page))
      all.push_back(id);
  }
  CHECK(all.size() == 13);
}

TEST_CASE("index: an integer picks one row, a field name keys the rows") {
  Site s;
  auto r = s.raw(
      "POST", "/civicrm/ajax/api4/Contact/get",
      form({{"select", {"first_name"}}, {"where", {{"last_name", "=", "Rubble"}}}}) + "&index=0");
  json j = json::parse(r.body);
  CHECK(j["values"] == json({{"id", 102}, {"first_name", "Barney"}}));
  CHECK(j["count"] == 3);
  auto k = s.raw(
      "POST", "/civicrm/ajax/api4/Contact/get",
      form({{"select", {"first_name"}}, {"where", {{"last_name", "=", "Rubble"}}}}) + "&index=id");
  json kj = json::parse(k.body);
  CHECK(kj["values"]["104"]["first_name"] == "Betty");
  auto n = s.raw("POST", "/civicrm/ajax/api4/Contact/get",
                 form({{"where", {{"id", "=", 101}}}}) + "&index=5");
  CHECK(json::parse(n.body)["values"].is_null());
}

// ---- writes ------------------------------------------------------------------------------------

TEST_CASE("Contact: create, update, trash, restore, delete for good") {
  Site s;
  json created = s.values("Contact", "create",
                          {{"values",
                            {{"first_name", "Dino"},
                             {"last_name", "Flintstone"},
                             {"source", "mailchimp-sync"},
                             {"do_not_phone", true}}}});
  REQUIRE(created.size() == 1);
  std::int64_t id = created[0]["id"];
  CHECK(id == 113);
  CHECK(created[0]["contact_type"] == "Individual");  // the API's default
  CHECK(created[0]["display_name"] == "Dino Flintstone");
  CHECK(created[0]["source"] == "mailchimp-sync");
  CHECK_FALSE(created[0].contains("is_deleted"));  // only what was given or derived
  json got = s.values("Contact", "get", {{"where", {{"id", "=", id}}}})[0];
  CHECK(got["created_date"] == "2026-03-01 12:00:00");
  CHECK(got["do_not_phone"] == true);

  s.advance(60);
  json upd = s.values("Contact", "update",
                      {{"values", {{"last_name", "Rubble"}}}, {"where", {{"id", "=", id}}}});
  CHECK(upd == json::array({{{"id", id}, {"last_name", "Rubble"}}}));
  CHECK(s.values("Contact", "get", {{"where", {{"id", "=", id}}}})[0]["modified_date"] ==
        "2026-03-01 12:01:00");
  // An id in values is the where clause.
  s.values("Contact", "update", {{"values", {{"id", id}, {"nick_name", "Dino"}}}});
  CHECK(s.values("Contact", "get",
                 {{"select", {"nick_name"}}, {"where", {{"id", "=", id}}}})[0]["nick_name"] ==
        "Dino");
  s.error("Contact", "update",
          {{"values", {{"id", id}, {"nick_name", "x"}}}, {"where", {{"id", "=", 101}}}});
  // reload returns whole records.
  json reloaded = s.values(
      "Contact", "update",
      {{"values", {{"job_title", "Pet"}}}, {"where", {{"id", "=", id}}}, {"reload", true}});
  CHECK(reloaded[0]["first_name"] == "Dino");
  CHECK(reloaded[0]["job_title"] == "Pet");

  // delete moves to the trash; get no longer sees it unless asked.
  CHECK(s.values("Contact", "delete", {{"where", {{"id", "=", id}}}}) ==
        json::array({{{"id", id}}}));
  CHECK(s.values("Contact", "get", {{"where", {{"last_name", "=", "Rubble"}}}}).size() == 3);
  CHECK(s.values("Contact", "get", {{"where", {{"id", "=", id}}}})[0]["is_deleted"] == true);
  s.values("Contact", "update",
           {{"values", {{"is_deleted", false}}}, {"where", {{"id", "=", id}}}});
  CHECK(s.values("Contact", "get", {{"where", {{"last_name", "=", "Rubble"}}}}).size() == 4);

  // useTrash=false deletes the contact with its emails, memberships and history.
  s.values("Email", "create", {{"values", {{"contact_id", id}, {"email", "dino@bedrock.org"}}}});
  s.values("GroupContact", "create", {{"values", {{"contact_id", id}, {"group_id", 42}}}});
  s.values("Contact", "delete", {{"where", {{"id", "=", id}}}, {"useTrash", false}});
  CHECK(s.values("Contact", "get", {{"where", {{"id", "=", id}}}}).empty());
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}}).empty());
  CHECK(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", id}}}}).empty());
  CHECK(s.values("SubscriptionHistory", "get", {{"where", {{"contact_id", "=", id}}}}).empty());
  // Deleting nothing is not an error.
  CHECK(s.values("Contact", "delete", {{"where", {{"id", "=", id}}}}).empty());
}

TEST_CASE("Contact: create with a chained Email create, as concord adds a person") {
  Site s;
  json j = s.ok(
      "Contact", "create",
      {{"values",
        {{"contact_type", "Individual"}, {"first_name", "Hoppy"}, {"source", "mailchimp-sync"}}},
       {"chain",
        {{"email",
          {"Email",
           "create",
           {{"values",
             {{"contact_id", "$id"}, {"email", "hoppy@bedrock.org"}, {"is_primary", true}}}}}}}}});
  json row = j["values"][0];
  std::int64_t id = row["id"];
  REQUIRE(row["email"].is_array());
  REQUIRE(row["email"].size() == 1);
  CHECK(row["email"][0]["contact_id"] == id);
  CHECK(row["email"][0]["email"] == "hoppy@bedrock.org");
  CHECK(row["email"][0]["is_primary"] == true);
  CHECK(j["count"] == 1);
  CHECK(s.values("Email", "get",
                 {{"where", {{"email", "=", "hoppy@bedrock.org"}}}})[0]["contact_id"] == id);
  // Chains run for every row of a get, with $field of each row; an index picks one item.
  json g = s.values("Contact", "get",
                    {{"select", {"id"}},
                     {"where", {{"last_name", "=", "Rubble"}}},
                     {"chain",
                      {{"primary",
                        {"Email",
                         "get",
                         {{"select", {"email"}},
                          {"where", {{"contact_id", "=", "$id"}, {"is_primary", "=", true}}}},
                         0}}}}});
  REQUIRE(g.size() == 3);
  CHECK(g[0]["primary"]["email"] == "barney@bedrock.org");
  CHECK(g[2]["primary"]["email"] == "bamm-bamm@bedrock.org");
  // A failing chained call fails the whole call (the contact is already created).
  json e =
      s.error("Contact", "create",
              {{"values", {{"first_name", "Broken"}}},
               {"chain", {{"email", {"Email", "create", {{"values", {{"contact_id", "$id"}}}}}}}}});
  CHECK(e["error_message"] == "Mandatory values missing from Api4 Email::create: email");
}

TEST_CASE("Contact: create with email_primary.* writes the contact and its primary email") {
  Site s;
  json row = s.values("Contact", "create",
                      {{"values",
                        {{"contact_type", "Individual"},
                         {"first_name", "Wilma"},
                         {"last_name", "Slaghoople"},
                         {"source", "concord"},
                         {"email_primary.email", "wilma@slaghoople.org"}}}})[0];
  std::int64_t id = row["id"];
  CHECK(id == 113);
  CHECK(row["email_primary"] == 14);  // the new Email's id
  CHECK(row["email_primary.email"] == "wilma@slaghoople.org");
  CHECK(row["display_name"] == "Wilma Slaghoople");
  CHECK(row["source"] == "concord");
  // Read back through the implicit join and through Email.
  json got = s.values("Contact", "get",
                      {{"select",
                        {"email_primary", "email_primary.email", "email_primary.location_type_id",
                         "email_primary.is_primary"}},
                       {"where", {{"id", "=", id}}}});
  CHECK(got == json::array({{{"id", id},
                             {"email_primary", 14},
                             {"email_primary.email", "wilma@slaghoople.org"},
                             {"email_primary.location_type_id", 1},
                             {"email_primary.is_primary", true}}}));
  json emails = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  REQUIRE(emails.size() == 1);
  CHECK(emails[0]["id"] == 14);
  CHECK(emails[0]["email"] == "wilma@slaghoople.org");
  CHECK(emails[0]["is_primary"] == true);
  CHECK(emails[0]["location_type_id"] == 1);  // Email.create's default location type
  CHECK(ids(s.values("Contact", "get",
                     {{"where", {{"email_primary.email", "=", "WILMA@slaghoople.org"}}}})) ==
        Ids{id});

  // A contact without email_primary values gets no email.
  json plain = s.values("Contact", "create", {{"values", {{"first_name", "Pearl"}}}})[0];
  CHECK_FALSE(plain.contains("email_primary"));
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", plain["id"]}}}}).empty());
  CHECK(s.values("Contact", "get",
                 {{"select", {"email_primary"}},
                  {"where", {{"id", "=", plain["id"]}}}})[0]["email_primary"]
            .is_null());

  // Other Email fields, suffixes and the Email write's side effects; a nameless contact is
  // called by its primary email.
  json held = s.values("Contact", "create",
                       {{"values",
                         {{"email_primary.email", "anon@bedrock.org"},
                          {"email_primary.location_type_id:name", "Work"},
                          {"email_primary.on_hold", 1},
                          {"email_primary.foo", "ignored"}}}})[0];
  CHECK(held["display_name"] == "anon@bedrock.org");
  CHECK(held["email_primary.location_type_id"] == 2);
  CHECK(held["email_primary.on_hold"] == 1);
  CHECK_FALSE(held.contains("email_primary.foo"));  // an unknown field is ignored
  json e = s.values("Email", "get", {{"where", {{"id", "=", held["email_primary"]}}}})[0];
  CHECK(e["contact_id"] == held["id"]);
  CHECK(e["location_type_id"] == 2);
  CHECK(e["hold_date"] == "2026-03-01 12:00:00");

  // The email is written after the contact, without a transaction: when it fails, the contact
  // stays and the call fails.
  CHECK(
      s.error(
          "Contact", "create",
          {{"values",
            {{"first_name", "Longmail"},
             {"email_primary.email", std::string(250, 'x') + "@bedrock.org"}}}})["error_message"] ==
      "DB Error: unknown error");
  json longmail = s.values("Contact", "get", {{"where", {{"first_name", "=", "Longmail"}}}});
  REQUIRE(longmail.size() == 1);
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", longmail[0]["id"]}}}}).empty());
  // Unknown fields alone still save an email, which then lacks its address.
  CHECK(s.error("Contact", "create",
                {{"values",
                  {{"first_name", "Nomail"}, {"email_primary.foo", "x"}}}})["error_message"] ==
        "Mandatory values missing from Api4 Email::save: email");
  CHECK(s.values("Contact", "get", {{"where", {{"first_name", "=", "Nomail"}}}}).size() == 1);

  // Other entities do not know email_primary.*.
  json other = s.values("Email", "create",
                        {{"values",
                          {{"contact_id", 101},
                           {"email", "wilma@quarry.org"},
                           {"email_primary.email", "nope@bedrock.org"}}}})[0];
  CHECK_FALSE(other.contains("email_primary.email"));
  CHECK(s.values("Email", "get", {{"where", {{"email", "=", "nope@bedrock.org"}}}}).empty());
  json member = s.values(
      "GroupContact", "create",
      {{"values",
        {{"contact_id", id}, {"group_id", 42}, {"email_primary.email", "nope@bedrock.org"}}}})[0];
  CHECK_FALSE(member.contains("email_primary.email"));
  CHECK(s.values("Email", "get", {{"where", {{"email", "=", "nope@bedrock.org"}}}}).empty());
}

TEST_CASE("Contact: save of several records with email_primary.* in one call") {
  Site s;
  json j = s.ok("Contact", "save",
                {{"records", A({{{"contact_type", "Individual"},
                                 {"first_name", "Wilma"},
                                 {"last_name", "Slaghoople"},
                                 {"source", "concord"},
                                 {"email_primary.email", "wilma@slaghoople.org"}},
                                {{"first_name", "Pearl"},
                                 {"last_name", "Slaghoople"},
                                 {"email_primary.email", "pearl@slaghoople.org"},
                                 {"email_primary.location_type_id", 3}},
                                {{"first_name", "Tex"},
                                 {"last_name", "Slaghoople"},
                                 {"email_primary.email", "tex@slaghoople.org"}}})},
                 {"defaults", {{"source", "concord"}, {"email_primary.location_type_id", 2}}}});
  CHECK(j["count"] == 3);
  CHECK(j["countMatched"] == 0);
  json rows = j["values"];
  REQUIRE(rows.size() == 3);
  CHECK(ids(rows) == Ids{113, 114, 115});
  CHECK(ids(rows, "email_primary") == Ids{14, 15, 16});
  CHECK(rows[0]["email_primary.email"] == "wilma@slaghoople.org");
  CHECK(rows[0]["email_primary.location_type_id"] == 2);  // from defaults
  CHECK(rows[1]["email_primary.location_type_id"] == 3);  // the record wins
  CHECK(rows[2]["source"] == "concord");
  json emails = s.values("Email", "get",
                         {{"select", {"contact_id", "email", "is_primary", "location_type_id"}},
                          {"where", {{"contact_id", "IN", {113, 114, 115}}}},
                          {"orderBy", {{"id", "ASC"}}}});
  CHECK(emails == json::array({{{"id", 14},
                                {"contact_id", 113},
                                {"email", "wilma@slaghoople.org"},
                                {"is_primary", true},
                                {"location_type_id", 2}},
                               {{"id", 15},
                                {"contact_id", 114},
                                {"email", "pearl@slaghoople.org"},
                                {"is_primary", true},
                                {"location_type_id", 3}},
                               {{"id", 16},
                                {"contact_id", 115},
                                {"email", "tex@slaghoople.org"},
                                {"is_primary", true},
                                {"location_type_id", 2}}}));
  json got = s.values("Contact", "get",
                      {{"select", {"email_primary.email"}},
                       {"where", {{"last_name", "=", "Slaghoople"}}},
                       {"orderBy", {{"id", "ASC"}}}});
  CHECK(got[1]["email_primary.email"] == "pearl@slaghoople.org");

  // A save of an existing contact updates its primary email in place; so does one that finds it
  // through match.
  json upd =
      s.ok("Contact", "save",
           {{"records", A({{{"id", 101}, {"email_primary.email", "wilma@rockvegas.com"}}})}});
  CHECK(upd["countMatched"] == 1);
  CHECK(upd["values"][0]["email_primary"] == 1);
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", 101}}}}).size() == 1);
  CHECK(s.values("Email", "get", {{"where", {{"id", "=", 1}}}})[0]["email"] ==
        "wilma@rockvegas.com");
  s.values("Contact", "update",
           {{"values", {{"external_identifier", "pearl-1"}}}, {"where", {{"id", "=", 114}}}});
  json matched = s.ok(
      "Contact", "save",
      {{"records",
        A({{{"external_identifier", "pearl-1"}, {"email_primary.email", "pearl@rockvegas.com"}}})},
       {"match", {"external_identifier"}}});
  CHECK(matched["countMatched"] == 1);
  CHECK(matched["values"][0]["id"] == 114);
  CHECK(matched["values"][0]["email_primary"] == 15);
  CHECK(s.values("Email", "get", {{"where", {{"id", "=", 15}}}})[0]["email"] ==
        "pearl@rockvegas.com");
}

TEST_CASE("Contact: update writes the primary email through email_primary.*") {
  Site s;
  json upd = s.values("Contact", "update",
                      {{"values", {{"email_primary.email", "wilma@rockvegas.com"}}},
                       {"where", {{"id", "=", 101}}}});
  CHECK(upd ==
        json::array(
            {{{"id", 101}, {"email_primary", 1}, {"email_primary.email", "wilma@rockvegas.com"}}}));
  json emails = s.values("Email", "get", {{"where", {{"contact_id", "=", 101}}}});
  REQUIRE(emails.size() == 1);
  CHECK(emails[0]["id"] == 1);
  CHECK(emails[0]["email"] == "wilma@rockvegas.com");
  CHECK(emails[0]["is_primary"] == true);
  // The email index follows the change.
  CHECK(s.values("Email", "get", {{"where", {{"email", "=", "wilma@bedrock.org"}}}}).empty());
  CHECK(ids(s.values("Contact", "get",
                     {{"where", {{"email_primary.email", "=", "wilma@rockvegas.com"}}}})) ==
        Ids{101});

  // Only the primary email changes; bulk mail moves to it.
  s.values("Contact", "update", {{"values", {{"id", 110}, {"email_primary.is_bulkmail", true}}}});
  json tex = s.values("Email", "get",
                      {{"where", {{"contact_id", "=", 110}}}, {"orderBy", {{"id", "ASC"}}}});
  REQUIRE(tex.size() == 2);
  CHECK(tex[0]["is_bulkmail"] == true);
  CHECK(tex[1]["is_bulkmail"] == false);
  CHECK(tex[1]["is_primary"] == false);

  // A batch update writes each contact's own primary email.
  json rubbles = s.values("Contact", "update",
                          {{"values", {{"email_primary.location_type_id", 3}}},
                           {"where", {{"last_name", "=", "Rubble"}}}});
  REQUIRE(rubbles.size() == 3);
  for (const json& r : rubbles) {
    CHECK(r["email_primary.location_type_id"] == 3);
    json e = s.values("Email", "get", {{"where", {{"id", "=", r["email_primary"]}}}})[0];
    CHECK(e["contact_id"] == r["id"]);
    CHECK(e["location_type_id"] == 3);
  }

  // A contact without email gets a new primary one.
  std::int64_t id = s.values("Contact", "create", {{"values", {{"first_name", "Pearl"}}}})[0]["id"];
  json first = s.values("Contact", "update",
                        {{"values", {{"id", id}, {"email_primary.email", "pearl@bedrock.org"}}}});
  CHECK(first[0]["email_primary"] == 14);
  json e = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  REQUIRE(e.size() == 1);
  CHECK(e[0]["is_primary"] == true);
  CHECK(e[0]["location_type_id"] == 1);

  // id, is_primary and is_billing cannot be written this way: alone, they write nothing.
  json none = s.values("Contact", "update",
                       {{"values", {{"id", id}, {"email_primary.is_primary", false}}}});
  CHECK_FALSE(none[0].contains("email_primary"));
  CHECK(s.values("Email", "get", {{"where", {{"id", "=", 14}}}})[0]["is_primary"] == true);

  // A NULL email deletes the primary email; the contact's other email becomes primary.
  json del =
      s.values("Contact", "update", {{"values", {{"id", 110}, {"email_primary.email", nullptr}}}});
  CHECK(del[0]["email_primary"] == 11);
  CHECK_FALSE(del[0].contains("email_primary.email"));
  tex = s.values("Email", "get", {{"where", {{"contact_id", "=", 110}}}});
  REQUIRE(tex.size() == 1);
  CHECK(tex[0]["id"] == 11);
  CHECK(tex[0]["is_primary"] == true);
}

TEST_CASE("Email: primary and bulk-mail rules, hold and reset dates") {
  Site s;
  // The first email of a contact becomes primary.
  json first =
      s.values("Email", "create", {{"values", {{"contact_id", 109}, {"email", "x@bedrock.org"}}}});
  CHECK(first[0]["is_primary"] == false);  // 109 already has a primary
  json c = s.values("Contact", "create", {{"values", {{"first_name", "New"}}}});
  std::int64_t id = c[0]["id"];
  json e1 =
      s.values("Email", "create", {{"values", {{"contact_id", id}, {"email", "new@bedrock.org"}}}});
  CHECK(e1[0]["is_primary"] == true);
  CHECK(e1[0]["location_type_id"] == 1);
  // A new primary takes over.
  json e2 = s.values(
      "Email", "create",
      {{"values", {{"contact_id", id}, {"email", "new2@bedrock.org"}, {"is_primary", true}}}});
  json all = s.values("Email", "get",
                      {{"where", {{"contact_id", "=", id}}}, {"orderBy", {{"id", "ASC"}}}});
  CHECK(all[0]["is_primary"] == false);
  CHECK(all[1]["is_primary"] == true);
  // One bulk-mail address per contact.
  s.values("Email", "update",
           {{"values", {{"is_bulkmail", true}}}, {"where", {{"id", "=", all[0]["id"]}}}});
  s.values("Email", "update",
           {{"values", {{"is_bulkmail", true}}}, {"where", {{"id", "=", all[1]["id"]}}}});
  all = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  CHECK(all[0]["is_bulkmail"] == false);
  CHECK(all[1]["is_bulkmail"] == true);
  // Deleting the primary makes the other one primary.
  s.values("Email", "delete", {{"where", {{"id", "=", all[1]["id"]}}}});
  all = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  REQUIRE(all.size() == 1);
  CHECK(all[0]["is_primary"] == true);

  // Cleaned in Mailchimp: on hold, the reference's update.
  s.advance(3600);
  json held = s.values("Email", "update",
                       {{"values", {{"on_hold", 1}, {"hold_date", "now"}}},
                        {"where", {{"email", "=", "fred@bedrock.org"}, {"contact_id", "=", 103}}}});
  REQUIRE(held.size() == 1);
  CHECK(held[0]["on_hold"] == 1);
  CHECK(held[0]["hold_date"] == "2026-03-01 13:00:00");
  // Off hold: the reset date is set and the hold date cleared.
  s.advance(60);
  s.values("Email", "update", {{"values", {{"on_hold", 0}}}, {"where", {{"id", "=", 3}}}});
  json fred = s.values("Email", "get", {{"where", {{"id", "=", 3}}}})[0];
  CHECK(fred["on_hold"] == 0);
  CHECK(fred["hold_date"].is_null());
  CHECK(fred["reset_date"] == "2026-03-01 13:01:00");
  // A contact that does not exist is a foreign-key failure.
  CHECK(s.error("Email", "create",
                {{"values", {{"contact_id", 9999}, {"email", "a@b.org"}}}})["error_message"] ==
        "DB Error: constraint violation");
}

TEST_CASE("Group: create, update, delete with its memberships") {
  Site s;
  json g = s.values("Group", "create", {{"values", {{"title", "Quarry Workers"}}}});
  CHECK(g[0]["id"] == 44);
  CHECK(g[0]["name"] == "Quarry_Workers");
  CHECK(s.error("Group", "create", {{"values", {{"title", "Quarry Workers"}}}})["error_message"] ==
        "DB Error: already exists");
  CHECK(s.error("Group", "create", {{"values", {{"description", "x"}}}})["error_message"] ==
        "Mandatory values missing from Api4 Group::create: title");
  s.values("Group", "update",
           {{"values", {{"description", "Slate & co"}}}, {"where", {{"id", "=", 44}}}});
  CHECK(s.values("Group", "get",
                 {{"where", {{"name", "=", "Quarry_Workers"}}}})[0]["description"] == "Slate & co");
  s.values("GroupContact", "create", {{"values", {{"group_id", 44}, {"contact_id", 101}}}});
  s.values("Group", "delete", {{"where", {{"id", "=", 44}}}});
  CHECK(s.values("GroupContact", "get", {{"where", {{"group_id", "=", 44}}}}).empty());
  CHECK(s.values("SubscriptionHistory", "get", {{"where", {{"group_id", "=", 44}}}}).empty());
}

TEST_CASE("GroupContact: changes write SubscriptionHistory rows dated by the site's clock") {
  // Europe/London in summer is UTC+1: the history shows site-local times.
  Site s(fixture(), T("2026-07-01T11:30:00+00:00"));
  auto history = [&](std::int64_t contact) {
    return s.values("SubscriptionHistory", "get",
                    {{"select", {"status", "date", "method", "tracking"}},
                     {"where", {{"contact_id", "=", contact}, {"group_id", "=", 42}}},
                     {"orderBy", {{"id", "ASC"}}}});
  };
  // save with match: Pebbles is added (a new membership, method from the action's param).
  json saved = s.ok("GroupContact", "save",
                    {{"records", {{{"group_id", 42}, {"contact_id", 105}, {"status", "Added"}}}},
                     {"match", {"group_id", "contact_id"}},
                     {"method", "API"}});
  CHECK(saved["countMatched"] == 0);
  json h = history(105);
  REQUIRE(h.size() == 1);
  CHECK(h[0]["status"] == "Added");
  CHECK(h[0]["date"] == "2026-07-01 12:30:00");
  CHECK(h[0]["method"] == "API");
  CHECK(h[0]["tracking"] == "");

  // update: Barney removed, the row kept with status Removed.
  s.advance(60);
  json upd = s.values("GroupContact", "update",
                      {{"values", {{"status", "Removed"}}},
                       {"where", {{"group_id", "=", 42}, {"contact_id", "=", 102}}}});
  CHECK(upd == json::array({{{"id", 3}, {"status", "Removed"}}}));
  h = history(102);
  REQUIRE(h.size() == 2);
  CHECK(h[1]["status"] == "Removed");
  CHECK(h[1]["date"] == "2026-07-01 12:31:00");
  CHECK(h[1]["method"] == "API");
  CHECK(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", 102}}}})[0]["status"] ==
        "Removed");

  // save matching an existing membership updates it (countMatched 1), with a method and tracking.
  s.advance(60);
  json again = s.ok("GroupContact", "save",
                    {{"records", {{{"group_id", 42}, {"contact_id", 102}, {"status", "Added"}}}},
                     {"match", {"group_id", "contact_id"}},
                     {"method", "Email"},
                     {"tracking", "mailchimp webhook"}});
  CHECK(again["countMatched"] == 1);
  CHECK(again["values"][0]["id"] == 3);
  h = history(102);
  REQUIRE(h.size() == 3);
  CHECK(h[2]["status"] == "Added");
  CHECK(h[2]["method"] == "Email");
  CHECK(h[2]["tracking"] == "mailchimp webhook");

  // Every edit writes a row, even one that changes nothing.
  s.values("GroupContact", "update",
           {{"values", {{"status", "Added"}}}, {"where", {{"id", "=", 3}}}});
  CHECK(history(102).size() == 4);

  // create: Pending.
  s.values("GroupContact", "create",
           {{"values", {{"group_id", 43}, {"contact_id", 104}, {"status", "Pending"}}},
            {"method", "Web"}});
  json p = s.values("SubscriptionHistory", "get",
                    {{"where", {{"contact_id", "=", 104}, {"group_id", "=", 43}}}});
  REQUIRE(p.size() == 1);
  CHECK(p[0]["status"] == "Pending");
  CHECK(p[0]["method"] == "Web");

  // delete: the membership goes, the history says Deleted.
  s.values("GroupContact", "delete",
           {{"where", {{"group_id", "=", 43}, {"contact_id", "=", 104}}}});
  CHECK(s.values("GroupContact", "get",
                 {{"where", {{"group_id", "=", 43}, {"contact_id", "=", 104}}}})
            .empty());
  p = s.values(
      "SubscriptionHistory", "get",
      {{"where", {{"contact_id", "=", 104}, {"group_id", "=", 43}}}, {"orderBy", {{"id", "ASC"}}}});
  REQUIRE(p.size() == 2);
  CHECK(p[1]["status"] == "Deleted");

  // A method longer than the column (8) makes the history write fail; CiviCRM only logs it.
  s.values("GroupContact", "update",
           {{"values", {{"status", "Removed"}}},
            {"where", {{"id", "=", 3}}},
            {"method", "mailchimp-sync"}});
  CHECK(history(102).size() == 4);
  CHECK(s.values("GroupContact", "get", {{"where", {{"id", "=", 3}}}})[0]["status"] == "Removed");

  // In winter the site's zone is UTC.
  s.clock.fix(T("2026-01-15T11:30:00+00:00"));
  s.values("GroupContact", "update",
           {{"values", {{"status", "Added"}}}, {"where", {{"id", "=", 3}}}});
  CHECK(history(102).back()["date"] == "2026-01-15 11:30:00");
}

TEST_CASE("SubscriptionHistory: direct writes are dated now, whatever the values say") {
  Site s(fixture(), T("2026-07-01T11:30:00+00:00"));
  json c = s.values("SubscriptionHistory", "create",
                    {{"values",
                      {{"contact_id", 105},
                       {"group_id", 42},
                       {"status", "Added"},
                       {"method", "Admin"},
                       {"date", "2020-01-01 00:00:00"}}}});
  CHECK(c[0]["date"] == "2026-07-01 12:30:00");
  std::int64_t id = c[0]["id"];
  CHECK(id == 13);
  s.advance(30);
  json u = s.values("SubscriptionHistory", "update",
                    {{"values", {{"method", "Web"}}}, {"where", {{"id", "=", id}}}});
  CHECK(u[0]["date"] == "2026-07-01 12:30:30");
  // GroupContact is not touched by history writes.
  CHECK(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", 105}}}}).empty());
  s.values("SubscriptionHistory", "delete", {{"where", {{"id", "=", id}}}});
  CHECK(s.values("SubscriptionHistory", "get", {{"where", {{"id", "=", id}}}}).empty());
  CHECK(
      s.error("SubscriptionHistory", "create", {{"values", {{"group_id", 42}}}})["error_message"] ==
      "Mandatory values missing from Api4 SubscriptionHistory::create: contact_id");
}

TEST_CASE("multi-call: POST /civicrm/ajax/api4 with calls, keyed answers") {
  Site s;
  json calls = {{"contacts", {"Contact", "get", {{"select", {"row_count"}}}}},
                {"groups", {"Group", "get", {{"select", {"name"}}}, "id"}},
                {"bad", {"Nope", "get", json::object()}}};
  auto r = s.raw("POST", "/civicrm/ajax/api4", "calls=" + http::url_encode(calls.dump()));
  REQUIRE(r.status == 200);  // one call succeeded
  json j = json::parse(r.body);
  CHECK(j["contacts"]["countMatched"] == 11);
  CHECK(j["groups"]["values"]["42"]["name"] == "newsletter");
  CHECK(j["bad"]["status"] == 500);
  auto bad = s.raw("POST", "/civicrm/ajax/api4",
                   "calls=" + http::url_encode(json({{"x", {"Nope", "get"}}}).dump()));
  CHECK(bad.status == 500);
  CHECK(s.raw("GET", "/civicrm/ajax/api4").status == 405);
}

// ---- seed and state -----------------------------------------------------------------------------

TEST_CASE("seed: memberships follow each contact's latest history row") {
  Site s;
  json gc = s.values("GroupContact", "get",
                     {{"select", {"contact_id", "status"}}, {"where", {{"group_id", "=", 42}}}});
  std::map<std::int64_t, std::string> status;
  for (const json& r : gc)
    status[r["contact_id"]] = r["status"];
  CHECK(status[101] == "Added");    // Wilma, added 5 Jan
  CHECK(status[102] == "Added");    // Barney, added 1 Jan
  CHECK(status[103] == "Removed");  // Fred, removed 4 Jan after being added
  CHECK(status[104] == "Added");    // Betty, added 4 Jan
  CHECK(status.count(105) == 0);    // Pebbles: never in the group
  CHECK(status[106] == "Added");    // a trashed contact still has its membership
  json fred = s.values(
      "SubscriptionHistory", "get",
      {{"where", {{"contact_id", "=", 103}}}, {"orderBy", {{"id", "DESC"}}}, {"limit", 1}});
  CHECK(fred[0]["status"] == "Removed");
  CHECK(fred[0]["date"] == "2026-01-04 12:00:00");
  // Two contacts share one address (in any case).
  CHECK(ids(s.values("Email", "get", {{"where", {{"email", "=", "rockhead@bedrock.org"}}}}),
            "contact_id") == Ids{108, 109});
}

TEST_CASE("seed: problems are reported with their path") {
  struct Case {
    std::string seed;
    std::string message;
  };
  std::vector<Case> cases = {
      {R"({"civicrm": {"timezone": "Mars/Olympus"}})",
       "seed: civicrm.timezone: unknown time zone \"Mars/Olympus\""},
      {R"({"civicrm": {"contacts": [{"id": 1}, {"id": 2, "frist_name": "x"}]}})",
       "seed: civicrm.contacts[1].frist_name: unknown field"},
      {R"({"civicrm": {"contacts": [{"id": 1, "emails": [{"is_primary": true}]}]}})",
       "seed: civicrm.contacts[0].emails[0].email: required"},
      {R"({"civicrm": {"contacts": [{"id": 1}], "subscription_history": [{"contact_id": 1, "group_id": 5, "status": "Added"}]}})",
       "seed: civicrm.subscription_history (id 1): no group 5"},
      {R"({"civicrm": {"subscription_history": [{"contact_id": 1, "status": "Gone"}]}})",
       "seed: civicrm.subscription_history[0].status: expected Added, Removed, Pending or Deleted"},
      {R"({"civicrm": {"contacts": [{"id": 1}, {"id": 1}]}})",
       "seed: civicrm.contacts: duplicate id 1"},
      {R"({"civicrm": {"contacts": [{"id": 1, "created_date": "2026-01-01T00:00:00Z"}]}})",
       "seed: civicrm.contacts[0].created_date: expected \"YYYY-MM-DD HH:MM:SS\" (site-local, no "
       "zone)"},
      {R"({"civicrm": {"groups": [{"id": 1}]}})",
       "seed: civicrm.groups[0]: a group needs a name or a title"},
      {R"({"civicrm": []})", "seed: civicrm: expected an object"},
      {R"({"civicrm": {"colour": 1}})", "seed: civicrm.colour: unknown key"},
  };
  for (const Case& c : cases) {
    INFO(c.seed);
    auto r = sb::parse_civicrm_seed(c.seed, T("2026-03-01T00:00:00+00:00"));
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message() == c.message);
  }
  // No "civicrm" part: an empty site with the default credentials.
  auto empty = sb::parse_civicrm_seed(R"({"mailchimp": {"lists": []}})", 0);
  REQUIRE(empty.is_ok());
  CHECK(sb::civicrm_counts(**empty).contacts == 0);
}

TEST_CASE("state: the civicrm part round-trips through a reset") {
  Site s;
  s.values("Contact", "create",
           {{"values", {{"first_name", "Dino"}, {"gender_id", 2}, {"birth_date", "2020-02-29"}}}});
  s.values("GroupContact", "create", {{"values", {{"group_id", 43}, {"contact_id", 102}}}});
  s.values("Email", "create", {{"values", {{"email", "orphan@bedrock.org"}}}});
  s.values("Contact", "delete", {{"where", {{"id", "=", 109}}}, {"useTrash", false}});
  std::string part = s.civi->state_part();
  auto reparsed = sb::parse_civicrm_seed("{\"civicrm\":" + part + "}", 0);
  INFO(reparsed.status().to_string());
  REQUIRE(reparsed.is_ok());
  Site t;
  t.civi->install(std::move(reparsed).value());
  CHECK(t.civi->state_part() == part);
  for (const char* e : {"Contact", "Email", "Group", "GroupContact", "SubscriptionHistory"}) {
    json q = {{"where", json::array()}};
    if (std::string(e) == "Contact") q["where"].push_back({"is_deleted", "IN", {0, 1}});
    CHECK(s.values(e, "get", q) == t.values(e, "get", q));
  }
  // Ids continue after the highest ever used, deleted ones included.
  CHECK(t.values("Contact", "create", {{"values", {{"first_name", "X"}}}})[0]["id"] == 114);
}

TEST_CASE("admin: faults, state and reset of the part, loopback only") {
  Site s;
  CHECK(s.raw("GET", "/_sandbox/state", "", {}, "", false).status == 403);
  auto f = s.raw("POST", "/_sandbox/faults", R"({"next":["503","500","reset","delay:1","none"]})",
                 {}, "");
  REQUIRE(f.status == 200);
  auto r1 = s.post("Contact", "get", json::object());
  CHECK(r1.status == 503);
  CHECK(json::parse(r1.body)["status_message"] == "Temporarily unavailable for maintenance.");
  auto r2 = s.post("Contact", "get", json::object());
  CHECK(r2.status == 500);
  CHECK(json::parse(r2.body)["error_code"] == "1");
  http::Request req;
  req.method = "POST";
  req.target = "/civicrm/ajax/api4/Contact/get";
  CHECK(s.civi->handle(req, http::Peer{"127.0.0.1", true}).reset_without_response);
  CHECK(s.post("Contact", "get", json::object()).status == 200);  // delayed 1 ms
  CHECK(s.post("Contact", "get", json::object()).status == 200);  // "none"
  // Rates, limited to a path prefix.
  s.raw("POST", "/_sandbox/faults",
        R"({"error_rates":{"502":1.0},"path_prefix":"/civicrm/ajax/api4/Email"})", {}, "");
  CHECK(s.post("Contact", "get", json::object()).status == 200);
  CHECK(s.post("Email", "get", json::object()).status == 502);
  CHECK(s.raw("POST", "/_sandbox/faults", R"({"next":["abc"]})", {}, "").status == 400);
  // The part's own reset: a bad seed changes nothing.
  auto bad = s.raw("POST", "/_sandbox/reset", R"({"civicrm":{"contacts":[{"id":"x"}]}})", {}, "");
  CHECK(bad.status == 400);
  CHECK(s.ok("Contact", "get", {{"select", {"row_count"}}})["count"] == 11);
  auto good =
      s.raw("POST", "/_sandbox/reset",
            R"({"civicrm":{"api_key":"k2","site_key":"s2","contacts":[{"id":7}]}})", {}, "");
  REQUIRE(good.status == 200);
  CHECK(json::parse(good.body)["civicrm"]["contacts"] == 1);
  CHECK(s.post("Contact", "get", json::object()).status == 401);  // new credentials
  auto st = s.raw("GET", "/_sandbox/state", "", {}, "");
  CHECK(json::parse(st.body)["civicrm"]["api_key"] == "k2");
}

// ---- the router: both parts, one state document -------------------------------------------------

namespace {
struct Both {
  sb::SandboxClock clock;
  std::unique_ptr<sb::MailchimpSandbox> mc;
  std::unique_ptr<sb::CivicrmSandbox> civi;
  std::unique_ptr<sb::SandboxRouter> router;

  Both() {
    clock.fix(T("2026-03-01T00:00:00+00:00"));
    auto loaded = sb::parse_seed(fixture(), clock.now());
    REQUIRE(loaded.is_ok());
    auto site = sb::parse_civicrm_seed(fixture(), clock.now());
    REQUIRE(site.is_ok());
    mc = std::make_unique<sb::MailchimpSandbox>(std::move(loaded->account), &clock);
    civi = std::make_unique<sb::CivicrmSandbox>(std::move(site).value(), &clock);
    router = std::make_unique<sb::SandboxRouter>(mc.get(), civi.get(), &clock);
  }
  http::Response call(bool civicrm_port, const std::string& method, const std::string& target,
                      const std::string& body = "", Headers headers = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    http::Peer peer{"127.0.0.1", true};
    return (civicrm_port ? router->civicrm_port(r, peer) : router->mailchimp_port(r, peer))
        .response;
  }
  int contacts() {
    Headers h = auth_headers();
    h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    auto r =
        call(true, "POST", "/civicrm/ajax/api4/Contact/get", form({{"select", {"row_count"}}}), h);
    return json::parse(r.body)["count"];
  }
};
}  // namespace

TEST_CASE("router: one state document, one reset, one clock, faults per part") {
  Both b;
  // The state from either port holds both parts, and reloads into both.
  auto st = b.call(false, "GET", "/_sandbox/state");
  REQUIRE(st.status == 200);
  json doc = json::parse(st.body);
  CHECK(doc["mailchimp"]["lists"][0]["id"] == "b3d1c0ffee");
  CHECK(doc["civicrm"]["groups"][0]["name"] == "newsletter");
  CHECK(doc["clock"] == "2026-03-01T00:00:00+00:00");
  CHECK(json::parse(b.call(true, "GET", "/_sandbox/state").body) == doc);
  CHECK(b.router->state_document() == st.body);

  // A reset with a bad CiviCRM part changes neither part.
  json bad = doc;
  bad["civicrm"]["contacts"][0]["emails"][0]["on_hold"] = 7;
  auto r = b.call(true, "POST", "/_sandbox/reset", bad.dump());
  CHECK(r.status == 400);
  CHECK(json::parse(r.body)["detail"] ==
        "seed: civicrm.contacts[0].emails[0].on_hold: expected 0, 1 or 2");
  CHECK(b.contacts() == 11);
  // ... and a bad Mailchimp part neither.
  json bad_mc = doc;
  bad_mc["mailchimp"]["lists"][0]["members"][0]["status"] = "gone";
  CHECK(b.call(false, "POST", "/_sandbox/reset", bad_mc.dump()).status == 400);
  CHECK(b.contacts() == 11);
  // A good reset replaces both and answers both parts' counts.
  json small = {
      {"mailchimp", {{"lists", json::array()}}},
      {"civicrm", {{"api_key", kKey}, {"site_key", kSiteKey}, {"contacts", {{{"id", 1}}}}}}};
  auto ok = b.call(false, "POST", "/_sandbox/reset", small.dump());
  REQUIRE(ok.status == 200);
  json counts = json::parse(ok.body);
  CHECK(counts["lists"] == 0);
  CHECK(counts["civicrm"]["contacts"] == 1);
  CHECK(b.contacts() == 1);
  // The whole document reloads exactly.
  CHECK(b.call(true, "POST", "/_sandbox/reset", doc.dump()).status == 200);
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/state").body) == doc);

  // One clock for both parts, set from either port.
  auto clk = b.call(true, "POST", "/_sandbox/clock", R"({"now":"2026-07-01T11:30:00Z"})");
  REQUIRE(clk.status == 200);
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/clock").body)["now"] ==
        "2026-07-01T11:30:00+00:00");
  Headers h = auth_headers();
  h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  auto created = b.call(true, "POST", "/civicrm/ajax/api4/SubscriptionHistory/create",
                        form({{"values", {{"contact_id", 105}, {"status", "Added"}}}}), h);
  CHECK(json::parse(created.body)["values"][0]["date"] == "2026-07-01 12:30:00");

  // Faults: the port's own part by default, the other with "part".
  CHECK(b.call(true, "POST", "/_sandbox/faults", R"({"next":["503"]})").status == 200);
  CHECK(json::parse(b.call(true, "GET", "/_sandbox/faults").body)["next"] == json::array({"503"}));
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/faults?part=civicrm").body)["next"] ==
        json::array({"503"}));
  CHECK(json::parse(b.call(false, "GET", "/_sandbox/faults").body)["next"] == json::array());
  CHECK(b.call(false, "POST", "/_sandbox/faults", R"({"part":"civicrm","next":["500"]})").status ==
        200);
  CHECK(b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", "", h).status == 500);
  CHECK(b.call(true, "POST", "/_sandbox/faults?part=mailchimp", R"({"next":["503"]})").status ==
        200);
  CHECK(b.call(false, "GET", "/3.0/ping", "",
               {{"Authorization", "Bearer 0123456789abcdef0123456789abcdef-us6"}})
            .status == 503);
  CHECK(b.call(true, "POST", "/_sandbox/faults?part=nope", "{}").status == 400);
  // Generations move with changes of either part.
  std::uint64_t g = b.router->generation();
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/create",
         form({{"values", {{"first_name", "G"}}}}), h);
  CHECK(b.router->generation() > g);
}

// ---- the request log --------------------------------------------------------------------------

namespace {
constexpr const char* kMcAuth = "Bearer 0123456789abcdef0123456789abcdef-us6";

json log_of(Both& b, const std::string& query = "") {
  auto r = b.call(false, "GET", "/_sandbox/requests" + (query.empty() ? "" : "?" + query));
  INFO(query << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}
std::vector<std::uint64_t> seqs(const json& log) {
  std::vector<std::uint64_t> out;
  for (const json& e : log["requests"])
    out.push_back(e["seq"].get<std::uint64_t>());
  return out;
}
using Seqs = std::vector<std::uint64_t>;
}  // namespace

TEST_CASE("request log: every API request of both parts, filtered, cleared by a reset") {
  Both b;
  Headers civi = auth_headers();
  civi.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  Headers mc = {{"Authorization", kMcAuth}};
  json empty = log_of(b);
  CHECK(empty["requests"] == json::array());
  CHECK(empty["next_seq"] == 0);

  std::string member = R"({"email_address":"betty@bedrock.org","status":"subscribed"})";
  CHECK(b.call(false, "GET", "/3.0/ping", "", mc).status == 200);
  CHECK(
      b.call(false, "POST", "/3.0/lists/b3d1c0ffee/members?skip_merge_validation=true", member, mc)
          .status == 200);
  std::string get = form({{"select", {"row_count"}}});
  CHECK(b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, civi).status == 200);
  CHECK(
      b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, {{"X-Civi-Auth", "Bearer nope"}})
          .status == 401);
  // Admin routes are not logged, from either port.
  CHECK(b.call(true, "GET", "/_sandbox/state").status == 200);
  CHECK(b.call(false, "GET", "/_sandbox/faults").status == 200);

  json log = log_of(b);
  REQUIRE(log["requests"].size() == 4);
  CHECK(log["next_seq"] == 4);
  const json& e = log["requests"];
  CHECK(seqs(log) == Seqs{1, 2, 3, 4});
  CHECK(e[0]["part"] == "mailchimp");
  CHECK(e[0]["method"] == "GET");
  CHECK(e[0]["path"] == "/3.0/ping");
  CHECK(e[0]["body"] == "");
  CHECK(e[0]["status"] == 200);
  CHECK(e[0]["at"] == "2026-03-01T00:00:00.000+00:00");
  CHECK(e[0]["ms"].get<double>() >= 0);
  CHECK_FALSE(e[0].contains("fault"));
  CHECK_FALSE(e[0].contains("body_truncated"));
  CHECK(e[1]["path"] == "/3.0/lists/b3d1c0ffee/members?skip_merge_validation=true");
  CHECK(e[1]["method"] == "POST");
  CHECK(e[1]["body"] == member);
  CHECK(e[2]["part"] == "civicrm");
  CHECK(e[2]["path"] == "/civicrm/ajax/api4/Contact/get");
  CHECK(e[2]["body"] == get);
  CHECK(e[2]["status"] == 200);
  CHECK(e[3]["status"] == 401);
  // The answer is the same from the other port.
  CHECK(json::parse(b.call(true, "GET", "/_sandbox/requests").body) == log);

  // Filters.
  CHECK(seqs(log_of(b, "part=civicrm")) == Seqs{3, 4});
  CHECK(seqs(log_of(b, "part=mailchimp&method=post")) == Seqs{2});
  CHECK(seqs(log_of(b, "method=GET")) == Seqs{1});
  CHECK(seqs(log_of(b, "path_prefix=/3.0/lists")) == Seqs{2});
  CHECK(seqs(log_of(b, "path_prefix=/3.0/lists/b3d1c0ffee/members?skip")).empty());  // no query
  CHECK(seqs(log_of(b, "path_prefix=%2Fcivicrm%2Fajax")) == Seqs{3, 4});
  CHECK(seqs(log_of(b, "since=2")) == Seqs{3, 4});
  CHECK(log_of(b, "since=2")["next_seq"] == 4);
  CHECK(log_of(b, "since=9")["next_seq"] == 9);
  // limit: a page, and next_seq to continue from.
  json page = log_of(b, "limit=3&part=civicrm");
  CHECK(seqs(page) == Seqs{3, 4});
  page = log_of(b, "limit=1");
  CHECK(seqs(page) == Seqs{1});
  CHECK(page["next_seq"] == 1);
  CHECK(page["more"] == true);
  page = log_of(b, "limit=2&since=" + page["next_seq"].dump());
  CHECK(seqs(page) == Seqs{2, 3});
  CHECK(page["next_seq"] == 3);
  page = log_of(b, "limit=2&since=3");
  CHECK(seqs(page) == Seqs{4});
  CHECK_FALSE(page.contains("more"));
  // limit=0: only the position.
  page = log_of(b, "limit=0");
  CHECK(page["requests"] == json::array());
  CHECK(page["next_seq"] == 4);
  CHECK(log_of(b, "count_only=true") == json{{"count", 4}});
  CHECK(log_of(b, "count_only=true&part=mailchimp&since=1") == json{{"count", 1}});
  // Bad parameters and methods.
  for (const char* bad : {"part=hubspot", "since=-1", "since=x", "limit=many", "count_only=yes"}) {
    INFO(bad);
    auto r = b.call(false, "GET", std::string("/_sandbox/requests?") + bad);
    CHECK(r.status == 400);
    CHECK(r.header("Content-Type") == "application/problem+json; charset=utf-8");
  }
  CHECK(b.call(true, "POST", "/_sandbox/requests").status == 405);
  http::Request remote;
  remote.target = "/_sandbox/requests";
  CHECK(b.router->mailchimp_port(remote, http::Peer{"192.0.2.7", false}).response.status == 403);

  // Injected faults are marked; a reset is status 0.
  CHECK(b.call(false, "POST", "/_sandbox/faults",
               R"({"next":["503","reset","reset_after","truncate","delay:5","none"]})")
            .status == 200);
  CHECK(b.call(false, "POST", "/_sandbox/faults?part=civicrm", R"({"next":["500"]})").status ==
        200);
  for (int i = 0; i < 6; ++i)
    b.call(false, "GET", "/3.0/ping", "", mc);
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, civi);
  json faulted = log_of(b, "since=4")["requests"];
  REQUIRE(faulted.size() == 7);
  CHECK(faulted[0]["status"] == 503);
  CHECK(faulted[0]["fault"] == "503");
  CHECK(faulted[1]["status"] == 0);
  CHECK(faulted[1]["fault"] == "reset");
  CHECK_FALSE(faulted[1].contains("unsent_status"));
  CHECK(faulted[2]["status"] == 0);
  CHECK(faulted[2]["fault"] == "reset_after");
  CHECK(faulted[2]["unsent_status"] == 200);  // carried out, not answered
  CHECK(faulted[3]["status"] == 200);
  CHECK(faulted[3]["fault"] == "truncate");
  CHECK(faulted[4]["fault"] == "delay:5");
  CHECK(faulted[4]["ms"].get<double>() >= 5);
  CHECK_FALSE(faulted[5].contains("fault"));  // "none"
  CHECK(faulted[6]["part"] == "civicrm");
  CHECK(faulted[6]["status"] == 500);
  CHECK(faulted[6]["fault"] == "500");

  // Bodies: cut at 1 MiB (not inside a UTF-8 character); bytes that are not UTF-8 shown as U+FFFD.
  std::string big(sb::RequestLog::kMaxBodyBytes - 1, 'a');
  big += "\xc3\xa9" + std::string(1000, 'b');
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", big, civi);
  b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", "params=\xff{}", civi);
  json bodies = log_of(b, "since=11")["requests"];
  REQUIRE(bodies.size() == 2);
  CHECK(bodies[0]["body_truncated"] == true);
  CHECK(bodies[0]["body"].get<std::string>() ==
        std::string(sb::RequestLog::kMaxBodyBytes - 1, 'a'));
  CHECK(bodies[1]["body"] == "params=\xef\xbf\xbd{}");
  CHECK_FALSE(bodies[1].contains("body_truncated"));

  // DELETE clears it and the numbering goes on; a bad reset keeps it, a good one clears it.
  CHECK(b.call(true, "DELETE", "/_sandbox/requests").status == 204);
  CHECK(log_of(b)["requests"] == json::array());
  CHECK(log_of(b)["next_seq"] == 13);
  b.call(false, "GET", "/3.0/ping", "", mc);
  CHECK(seqs(log_of(b)) == Seqs{14});
  CHECK(b.call(false, "POST", "/_sandbox/reset", "{\"mailchimp\":7}").status == 400);
  CHECK(log_of(b, "count_only=true")["count"] == 1);
  CHECK(b.call(false, "POST", "/_sandbox/reset", fixture()).status == 200);
  CHECK(log_of(b, "count_only=true")["count"] == 0);
}

TEST_CASE("both APIs answer with a Date header by the sandbox clock, errors included") {
  Both b;
  Headers civi = auth_headers();
  civi.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  // The clock is fixed at 2026-03-01T00:00:00Z, a Sunday.
  const std::string at = "Sun, 01 Mar 2026 00:00:00 GMT";
  CHECK(b.call(false, "GET", "/3.0/ping", "", {{"Authorization", kMcAuth}}).header("Date") == at);
  CHECK(b.call(false, "GET", "/3.0/ping").header("Date") == at);  // 401
  std::string get = form({{"select", {"row_count"}}});
  CHECK(b.call(true, "POST", "/civicrm/ajax/api4/Contact/get", get, civi).header("Date") == at);
}

TEST_CASE("request log: bounded to the last 200000 entries, and cheap to write") {
  sb::RequestLog log;
  http::Request get;
  get.target = "/3.0/lists/b3d1c0ffee/members?count=1000";
  http::Request post;
  post.method = "POST";
  post.target = "/3.0/lists/b3d1c0ffee";
  post.body = std::string(2000, 'x');
  http::Reply ok;
  ok.response.status = 200;
  const std::size_t n = sb::RequestLog::kMaxEntries + 5;
  auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i)
    log.record(sb::ApiPart::kMailchimp, i % 2 ? post : get, ok, "", 0, 0.001);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  WARN("request log: " << n << " entries recorded in " << took.count() << " s ("
                       << took.count() / static_cast<double>(n) * 1e6 << " µs each)");
  CHECK(took.count() < 5.0);
  CHECK(log.size() == sb::RequestLog::kMaxEntries);
  auto page = log.answer("limit=2");
  REQUIRE(page.is_ok());
  json j = json::parse(*page);
  CHECK(j["requests"][0]["seq"] == 6);  // the five oldest were dropped
  CHECK(j["requests"][0]["at"] == "1970-01-01T00:00:00.000+00:00");
  CHECK(json::parse(log.answer("limit=1000000").value())["requests"].size() ==
        sb::RequestLog::kMaxLimit);
  auto all = log.answer("since=0&count_only=1&method=POST");
  CHECK(json::parse(*all)["count"] == sb::RequestLog::kMaxEntries / 2);
}

// ---- performance -------------------------------------------------------------------------------

namespace {
// n contacts, each with one email and an Added history row in group 42 (every 7th removed later).
std::string big_seed(int n) {
  std::string s = R"({"civicrm":{"api_key":"k","site_key":"s","timezone":"Europe/London",)"
                  R"("groups":[{"id":42,"name":"newsletter","title":"Newsletter"}],"contacts":[)";
  s.reserve(static_cast<std::size_t>(n) * 260);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) s += ',';
    std::string id = std::to_string(i);
    s += R"({"id":)" + id + R"(,"first_name":"Person","last_name":"Number )" + id +
         R"(","created_date":"2025-01-01 00:00:00","emails":[{"email":"person.)" + id +
         R"(@bedrock.org","is_primary":true}]})";
  }
  s += R"(],"subscription_history":[)";
  for (int i = 1; i <= n; ++i) {
    if (i > 1) s += ',';
    s += R"({"contact_id":)" + std::to_string(i) +
         R"(,"group_id":42,"status":"Added","date":"2025-06-01 10:00:00","method":"Admin"})";
  }
  for (int i = 7; i <= n; i += 7) {
    s += R"(,{"contact_id":)" + std::to_string(i) +
         R"(,"group_id":42,"status":"Removed","date":"2026-01-01 10:00:00","method":"Admin"})";
  }
  s += "]}}";
  return s;
}
}  // namespace

TEST_CASE("performance: 1000-row pages of a large group with joins, and Email batches") {
  // CONCORD_CIVICRM_PERF_CONTACTS=1000000 measures the benchmark's size.
  const char* env = std::getenv("CONCORD_CIVICRM_PERF_CONTACTS");
  const int n = env ? std::atoi(env) : 100000;
  std::string seed = big_seed(n);
  auto t0 = std::chrono::steady_clock::now();
  auto site = sb::parse_civicrm_seed(seed, T("2026-03-01T00:00:00+00:00"));
  auto t1 = std::chrono::steady_clock::now();
  INFO(site.status().to_string());
  REQUIRE(site.is_ok());
  sb::SandboxClock clock;
  clock.fix(T("2026-03-01T00:00:00+00:00"));
  sb::CivicrmSandbox civi(std::move(site).value(), &clock);
  auto call = [&](const char* entity, const json& params) {
    http::Request r;
    r.method = "POST";
    r.target = std::string("/civicrm/ajax/api4/") + entity + "/get";
    r.headers = {{"X-Civi-Auth", "Bearer k"},
                 {"X-Civi-Key", "s"},
                 {"Content-Type", "application/x-www-form-urlencoded"}};
    r.body = form(params);
    auto resp = civi.handle(r, http::Peer{"127.0.0.1", true}).response;
    REQUIRE(resp.status == 200);
    return resp;
  };
  auto gc_page = [&](int offset) {
    return call("GroupContact",
                {{"select",
                  {"contact_id", "status", "contact_id.is_deleted", "contact_id.do_not_email",
                   "contact_id.is_opt_out", "contact_id.first_name", "contact_id.last_name"}},
                 {"where", {{"group_id", "=", 42}, {"contact_id.is_deleted", "=", false}}},
                 {"orderBy", {{"contact_id", "ASC"}}},
                 {"limit", 1000},
                 {"offset", offset}});
  };
  auto sh_page = [&](int offset) {
    return call("SubscriptionHistory",
                {{"select", {"id", "contact_id", "group_id", "status", "date", "method"}},
                 {"where", {{"group_id", "IN", {42}}, {"date", ">=", "2025-01-01 00:00:00"}}},
                 {"orderBy", {{"contact_id", "ASC"}, {"id", "ASC"}}},
                 {"limit", 1000},
                 {"offset", offset}});
  };
  auto t2 = std::chrono::steady_clock::now();
  gc_page(0);
  sh_page(0);
  auto t3 = std::chrono::steady_clock::now();
  const int pages = 50;
  std::string last;
  for (int i = 1; i <= pages; ++i)
    last = gc_page(i * 1000).body;
  auto t4 = std::chrono::steady_clock::now();
  CHECK(json::parse(last)["values"].size() == 1000);
  for (int i = 1; i <= pages; ++i)
    sh_page(i * 1000);
  auto t5 = std::chrono::steady_clock::now();
  // Batches of 1000 contact ids, as a client reads the emails of a page of members.
  const int batches = 20;
  std::vector<json> wheres;
  for (int b = 0; b < batches; ++b) {
    json in = json::array();
    for (int i = 0; i < 1000; ++i)
      in.push_back(1 + (b * 1000 + i) % n);
    wheres.push_back(A({A({"contact_id", "IN", in}), A({"contact_id.is_deleted", "=", false})}));
  }
  auto t5b = std::chrono::steady_clock::now();
  std::string emails;
  for (int b = 0; b < batches; ++b) {
    emails =
        call("Email", {{"select", {"contact_id", "email", "is_primary", "is_bulkmail", "on_hold"}},
                       {"where", wheres[static_cast<std::size_t>(b)]}})
            .body;
  }
  auto t6 = std::chrono::steady_clock::now();
  CHECK(json::parse(emails)["count"] == 1000);
  // Keyset paging in id order reads only its page.
  std::string keyset;
  for (int k = 1; k <= 10; ++k) {
    keyset = call("GroupContact", {{"select", {"contact_id"}},
                                   {"where", {{"group_id", "=", 42}, {"id", ">", n - k * 5000}}},
                                   {"orderBy", {{"id", "ASC"}}},
                                   {"limit", 1000}})
                 .body;
  }
  auto t7 = std::chrono::steady_clock::now();
  CHECK(json::parse(keyset)["values"].size() == 1000);
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  double gc_per_page = ms(t3, t4) / pages, sh_per_page = ms(t4, t5) / pages;
  WARN("seed " << n << " contacts: " << ms(t0, t1)
               << " ms; first pages (build the orders): " << ms(t2, t3) << " ms; then GroupContact "
               << gc_per_page << " ms and SubscriptionHistory " << sh_per_page
               << " ms per 1000-row page; Email IN [1000]: " << ms(t5b, t6) / batches
               << " ms; keyset page: " << ms(t6, t7) / 10 << " ms");
  CHECK(gc_per_page < 100);  // a few ms in an optimised build; generous for debug builds
  CHECK(sh_per_page < 100);
}

// ---- over real sockets --------------------------------------------------------------------------

TEST_CASE("sockets: the API over TLS with http::Client") {
  TempDir dir;
  REQUIRE(http::write_test_certificates(dir.path.string()).is_ok());
  Both b;
  http::ServerOptions so;
  so.cert_file = dir.file("server.pem");
  so.key_file = dir.file("server.key");
  auto server = http::Server::start(so, [&](const http::Request& r, const http::Peer& p) {
    return b.router->civicrm_port(r, p);
  });
  REQUIRE(server.is_ok());
  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string((*server)->port()));
  REQUIRE(url.is_ok());
  http::ClientOptions co;
  co.ca_file = dir.file("ca.pem");
  co.retry.max_attempts = 3;
  co.retry.base_delay = std::chrono::milliseconds(1);
  co.retry.max_delay = std::chrono::milliseconds(2);
  auto client = http::Client::create(*url, co);
  REQUIRE(client.is_ok());
  auto send = [&](const std::string& method, const std::string& target, const std::string& body,
                  Headers headers) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    auto resp = (*client)->send(r);
    INFO(resp.status().to_string());
    REQUIRE(resp.is_ok());
    return std::move(resp).value();
  };
  Headers h = auth_headers();
  h.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  auto got =
      send("POST", "/civicrm/ajax/api4/GroupContact/get",
           form({{"select", {"contact_id"}}, {"where", {{"group_id", "=", 42}}}, {"limit", 3}}), h);
  CHECK(got.status == 200);
  CHECK(ids(json::parse(got.body)["values"], "contact_id") == Ids{101, 102, 103});
  auto saved =
      send("POST", "/civicrm/ajax/api4/GroupContact/save",
           form({{"records", {{{"group_id", 42}, {"contact_id", 105}, {"status", "Added"}}}},
                 {"match", {"group_id", "contact_id"}}}),
           h);
  CHECK(saved.status == 200);
  auto denied =
      send("POST", "/civicrm/ajax/api4/Contact/get", "", {{"X-Civi-Auth", "Bearer nope"}});
  CHECK(denied.status == 401);
  CHECK(denied.body == "HTTP 401 Invalid credential");
  auto get405 = send("GET", "/civicrm/ajax/api4/Contact/delete", "", h);
  CHECK(get405.status == 405);
  // A reset fault and a truncated body are retried by the client; the write happens once.
  CHECK(send("POST", "/_sandbox/faults", R"({"next":["reset","truncate"]})", {}).status == 200);
  std::uint64_t before = (*client)->attempts();
  auto retried =
      send("POST", "/civicrm/ajax/api4/Contact/get", form({{"select", {"row_count"}}}), h);
  CHECK(retried.status == 200);
  CHECK(json::parse(retried.body)["count"] == 11);
  CHECK((*client)->attempts() - before == 3);
  // The sandbox's log shows the three attempts: a reset, a truncated answer, then the answer.
  json log = json::parse(
      send("GET", "/_sandbox/requests?method=POST&path_prefix=/civicrm/ajax/api4/Contact/get", "",
           {})
          .body)["requests"];
  REQUIRE(log.size() == 4);  // the 401 above, then the three
  CHECK(log[1]["status"] == 0);
  CHECK(log[1]["fault"] == "reset");
  CHECK(log[2]["status"] == 200);
  CHECK(log[2]["fault"] == "truncate");
  CHECK(log[3]["status"] == 200);
  CHECK_FALSE(log[3].contains("fault"));
  CHECK(log[3]["body"] == form({{"select", {"row_count"}}}));
  (*server)->stop();
}
