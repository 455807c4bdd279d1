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

#include "civicrm_site.h"
#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/request_log.h"
#include "sandbox/router.h"
#include "sandbox_fixture.h"

using namespace concord::testing::civicrm_site;
using concord::Status;
using concord::testing::TempDir;

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

// ---- getFields and custom fields ---------------------------------------------------------------

namespace {

std::vector<std::string> keys_of(const json& o) {
  std::vector<std::string> k;
  for (auto it = o.begin(); it != o.end(); ++it)
    k.push_back(it.key());
  return k;
}

std::vector<std::string> names_of(const json& values) {
  std::vector<std::string> n;
  for (const json& v : values)
    n.push_back(v["name"]);
  return n;
}

}  // namespace

TEST_CASE("getFields: Contact's core fields, then its custom fields, with every key") {
  Site s(custom_fixture());
  json j = s.ok("Contact", "getFields", json::object());
  CHECK(j["action"] == "getFields");
  const json& v = j["values"];
  REQUIRE(v.size() == 33 + 9);
  CHECK(j["count"] == 42);
  CHECK(j["countMatched"] == 42);
  std::vector<std::string> names = names_of(v);
  CHECK(names.front() == "id");
  CHECK(names[15] == "first_name");
  CHECK(std::vector<std::string>(names.end() - 9, names.end()) ==
        std::vector<std::string>{"Member_Info.Member_Since", "Member_Info.Nickname",
                                 "Member_Info.Donations", "Member_Info.Score", "Member_Info.Dues",
                                 "Member_Info.Volunteer", "Member_Info.Last_Visit",
                                 "Member_Info.Notes", "Member_Info.Home_Page"});
  const std::vector<std::string> keys = {"name",
                                         "title",
                                         "label",
                                         "description",
                                         "type",
                                         "entity",
                                         "default_value",
                                         "required",
                                         "nullable",
                                         "readonly",
                                         "data_type",
                                         "input_type",
                                         "options",
                                         "suffixes",
                                         "operators",
                                         "fk_entity",
                                         "serialize",
                                         "table_name",
                                         "column_name",
                                         "custom_field_id",
                                         "custom_group_id",
                                         "custom_group"};
  for (const json& f : v) {
    INFO(f.dump());
    CHECK(keys_of(f) == keys);
    CHECK(f["entity"] == "Contact");
  }
  // A core field and a custom field, whole.
  CHECK(s.values("Contact", "getFields", {{"where", {{"name", "=", "first_name"}}}}) ==
        json::parse(R"([{"name":"first_name","title":"First Name","label":"First Name",
          "description":null,"type":"Field","entity":"Contact","default_value":null,
          "required":false,"nullable":true,"readonly":false,"data_type":"String",
          "input_type":"Text","options":false,"suffixes":null,"operators":null,"fk_entity":null,
          "serialize":null,"table_name":"civicrm_contact","column_name":"first_name",
          "custom_field_id":null,"custom_group_id":null,"custom_group":null}])"));
  CHECK(
      s.values("Contact", "getFields", {{"where", {{"name", "=", "Member_Info.Member_Since"}}}}) ==
      json::parse(R"([{"name":"Member_Info.Member_Since","title":"Member since",
          "label":"Member info: Member since","description":null,"type":"Custom",
          "entity":"Contact","default_value":null,"required":false,"nullable":true,
          "readonly":false,"data_type":"Date","input_type":"Date","options":false,
          "suffixes":null,"operators":null,"fk_entity":null,"serialize":null,
          "table_name":"civicrm_value_member_info_1","column_name":"member_since_1",
          "custom_field_id":1,"custom_group_id":1,"custom_group":"Member_Info"}])"));
}

TEST_CASE("getFields: where, select, orderBy, limit, loadOptions, action, includeCustom") {
  Site s(custom_fixture());
  // select trims each field to the keys named, in the field's own order.
  json some = s.values("Contact", "getFields",
                       {{"select", {"readonly", "name", "data_type", "nope"}},
                        {"where",
                         {{"name",
                           "IN",
                           {"id", "first_name", "display_name", "created_date", "modified_date",
                            "employer_id", "Member_Info.Donations"}}}}});
  CHECK(some == json::parse(R"([
    {"name":"id","readonly":true,"data_type":"Integer"},
    {"name":"display_name","readonly":true,"data_type":"String"},
    {"name":"first_name","readonly":false,"data_type":"String"},
    {"name":"employer_id","readonly":false,"data_type":"Integer"},
    {"name":"created_date","readonly":true,"data_type":"Timestamp"},
    {"name":"modified_date","readonly":true,"data_type":"Timestamp"},
    {"name":"Member_Info.Donations","readonly":false,"data_type":"Integer"}])"));
  // The custom fields' types as APIv4 reports them.
  struct Case {
    const char* name;
    const char* data_type;
    const char* input_type;
  };
  json custom = s.values("Contact", "getFields",
                         {{"select", {"name", "data_type", "input_type", "type"}},
                          {"where", {{"type", "=", "Custom"}}}});
  const std::vector<Case> cases = {{"Member_Info.Member_Since", "Date", "Date"},
                                   {"Member_Info.Nickname", "String", "Text"},
                                   {"Member_Info.Donations", "Integer", "Number"},
                                   {"Member_Info.Score", "Float", "Number"},
                                   {"Member_Info.Dues", "Money", "Number"},
                                   {"Member_Info.Volunteer", "Boolean", "Radio"},
                                   {"Member_Info.Last_Visit", "Timestamp", "Date"},
                                   {"Member_Info.Notes", "Text", "TextArea"},
                                   {"Member_Info.Home_Page", "Url", "Url"}};
  REQUIRE(custom.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(custom[i].dump());
    CHECK(custom[i]["name"] == cases[i].name);
    CHECK(custom[i]["data_type"] == cases[i].data_type);
    CHECK(custom[i]["input_type"] == cases[i].input_type);
  }
  // Other operators and nesting, as BasicGetAction filters arrays.
  CHECK(names_of(
            s.values("Contact", "getFields",
                     {{"select", {"name"}},
                      {"where", {{"name", "LIKE", "do_not_%"}, {"name", "!=", "do_not_sms"}}}})) ==
        std::vector<std::string>{"do_not_email", "do_not_phone", "do_not_mail", "do_not_trade"});
  CHECK(names_of(s.values(
            "Contact", "getFields",
            {{"select", {"name"}},
             {"where",
              A({A({"OR", {{"fk_entity", "=", "Email"}, {"custom_field_id", "=", 3}}})})}})) ==
        std::vector<std::string>{"email_primary", "Member_Info.Donations"});
  CHECK(s.values("Contact", "getFields",
                 {{"select", {"name", "type"}}, {"where", {{"name", "=", "email_primary"}}}}) ==
        json::parse(R"([{"name":"email_primary","type":"Extra"}])"));
  // orderBy, limit and offset; count is every match.
  json page = s.ok("Contact", "getFields",
                   {{"select", {"name"}},
                    {"where", {{"type", "=", "Custom"}}},
                    {"orderBy", {{"name", "DESC"}}},
                    {"limit", 2},
                    {"offset", 1}});
  CHECK(names_of(page["values"]) ==
        std::vector<std::string>{"Member_Info.Score", "Member_Info.Notes"});
  CHECK(page["count"] == 9);
  CHECK(page["countFetched"] == 2);
  CHECK(s.values("Contact", "getFields", {{"select", {"row_count"}}}) ==
        json::parse(R"([{"row_count":42}])"));
  // loadOptions: a flat {id: label} (a list when the ids are 0, 1, …), or the properties asked.
  json opts =
      s.values("Contact", "getFields",
               {{"select", {"name", "options", "suffixes"}},
                {"where", {{"name", "IN", {"gender_id", "first_name", "Member_Info.Volunteer"}}}},
                {"loadOptions", true}});
  CHECK(opts == json::parse(R"([
    {"name":"first_name","options":false,"suffixes":null},
    {"name":"gender_id","options":{"1":"Female","2":"Male","3":"Other"},"suffixes":["name","label"]},
    {"name":"Member_Info.Volunteer","options":{"1":"Yes","0":"No"},"suffixes":["name","label"]}])"));
  CHECK(s.values("Email", "getFields",
                 {{"select", {"options"}},
                  {"where", {{"name", "=", "on_hold"}}},
                  {"loadOptions", true}}) ==
        json::parse(R"([{"options":["No","On Hold Bounce","On Hold Opt Out"]}])"));
  CHECK(s.values("Contact", "getFields",
                 {{"select", {"options"}},
                  {"where", {{"name", "=", "contact_type"}}},
                  {"loadOptions", {"label", "id"}}}) ==
        json::parse(R"([{"options":[{"id":"Individual","label":"Individual"},
                                    {"id":"Organization","label":"Organization"},
                                    {"id":"Household","label":"Household"}]}])"));
  CHECK(s.values("GroupContact", "getFields",
                 {{"select", {"name", "fk_entity", "input_type", "options"}},
                  {"where", {{"name", "=", "group_id"}}},
                  {"loadOptions", {"id", "name", "label"}}}) ==
        json::parse(R"([{"name":"group_id","input_type":"Select","options":[
          {"id":42,"name":"newsletter","label":"Newsletter"},
          {"id":43,"name":"volunteers","label":"Volunteers"}],"fk_entity":"Group"}])"));
  // The fields of a create: readonly ones cannot be input.
  CHECK(s.values("Contact", "getFields",
                 {{"select", {"name", "input_type"}},
                  {"where", {{"name", "IN", {"modified_date", "first_name"}}}},
                  {"action", "create"}}) ==
        json::parse(R"([{"name":"first_name","input_type":"Text"},
                        {"name":"modified_date","input_type":"DisplayOnly"}])"));
  // includeCustom: false leaves the custom fields out.
  CHECK(s.ok("Contact", "getFields", {{"includeCustom", false}})["count"] == 33);
  // A site without custom fields, and the other entities.
  Site plain;
  CHECK(plain.ok("Contact", "getFields", json::object())["count"] == 33);
  CHECK(names_of(plain.values("Email", "getFields", {{"select", {"name"}}})) ==
        std::vector<std::string>{"id", "contact_id", "location_type_id", "email", "is_primary",
                                 "is_billing", "on_hold", "is_bulkmail", "hold_date",
                                 "reset_date"});
  for (const char* e : {"Group", "GroupContact", "SubscriptionHistory"}) {
    json f = plain.values(e, "getFields", {{"where", {{"name", "=", "id"}}}});
    REQUIRE(f.size() == 1);
    CHECK(f[0]["entity"] == e);
    CHECK(f[0]["readonly"] == true);
  }
  // Over GET, in any case of the action's name.
  auto get = s.raw("GET", "/civicrm/ajax/api4/Contact/getfields?params=" +
                              http::url_encode(json({{"select", {"name"}}, {"limit", 1}}).dump()));
  REQUIRE(get.status == 200);
  CHECK(json::parse(get.body)["values"] == json::parse(R"([{"name":"id"}])"));
  CHECK(json::parse(get.body)["action"] == "getFields");
  // Params it does not know, and operators that do not apply to arrays.
  CHECK(s.error("Contact", "getFields", {{"colour", "red"}})["error_message"] ==
        "Unknown method: Civi\\Api4\\Generic\\DAOGetFieldsAction::setColour()");
  CHECK(s.error("Contact", "getFields", {{"loadOptions", "yes"}})["error_message"] ==
        "Parameter \"loadOptions\" is not of the correct type. Expecting bool or array.");
  CHECK(s.error("Contact", "getFields",
                {{"where", {{"name", "NOT CONTAINS", "x"}}}})["error_message"] ==
        "Unsupported operator: 'NOT CONTAINS' cannot be used with array data");
}

TEST_CASE("custom fields: Contact.get selects them typed, null when unset, and filters on them") {
  Site s(custom_fixture());
  json got = s.values("Contact", "get",
                      {{"select",
                        {"Member_Info.Member_Since", "Member_Info.Nickname",
                         "Member_Info.Donations", "Member_Info.Score", "Member_Info.Dues",
                         "Member_Info.Volunteer", "Member_Info.Last_Visit", "Member_Info.Nope"}},
                       {"where", {{"id", "IN", {101, 102, 104}}}}});
  CHECK(got == json::parse(R"([
    {"id":101,"Member_Info.Member_Since":"2020-01-31","Member_Info.Nickname":"Wilm",
     "Member_Info.Donations":3,"Member_Info.Score":null,"Member_Info.Dues":null,
     "Member_Info.Volunteer":true,"Member_Info.Last_Visit":null},
    {"id":102,"Member_Info.Member_Since":null,"Member_Info.Nickname":null,
     "Member_Info.Donations":1,"Member_Info.Score":2.5,"Member_Info.Dues":12.5,
     "Member_Info.Volunteer":null,"Member_Info.Last_Visit":"2026-02-01 18:30:00"},
    {"id":104,"Member_Info.Member_Since":null,"Member_Info.Nickname":null,
     "Member_Info.Donations":null,"Member_Info.Score":null,"Member_Info.Dues":null,
     "Member_Info.Volunteer":null,"Member_Info.Last_Visit":null}])"));
  // "*" is the core fields only; "custom.*" and "Group.*" the custom ones.
  json star = s.values("Contact", "get", {{"select", {"*"}}, {"where", {{"id", "=", 101}}}})[0];
  CHECK(star.contains("first_name"));
  CHECK_FALSE(star.contains("Member_Info.Nickname"));
  json all =
      s.values("Contact", "get", {{"select", {"custom.*"}}, {"where", {{"id", "=", 101}}}})[0];
  CHECK(keys_of(all) == std::vector<std::string>{"id", "Member_Info.Member_Since",
                                                 "Member_Info.Nickname", "Member_Info.Donations",
                                                 "Member_Info.Score", "Member_Info.Dues",
                                                 "Member_Info.Volunteer", "Member_Info.Last_Visit",
                                                 "Member_Info.Notes", "Member_Info.Home_Page"});
  CHECK(
      s.values("Contact", "get", {{"select", {"Member_Info.D*"}}, {"where", {{"id", "=", 102}}}}) ==
      json::parse(R"([{"id":102,"Member_Info.Donations":1,"Member_Info.Dues":12.5}])"));
  // where, as on any field.
  struct Case {
    json where;
    Ids expected;
  };
  const std::vector<Case> cases = {
      {{{"Member_Info.Donations", ">", 2}}, {101, 103}},
      {{{"Member_Info.Donations", "=", "3"}}, {101}},
      {{{"Member_Info.Donations", "IN", {1, 10}}}, {102, 103}},
      {{{"Member_Info.Member_Since", "<", "2021-01-01"}}, {101}},
      {A({A({"Member_Info.Member_Since", "IS NOT NULL"})}), {101, 103}},
      {{{"Member_Info.Nickname", "LIKE", "wil%"}}, {101}},
      {{{"Member_Info.Volunteer", "=", true}}, {101}},
      {{{"Member_Info.Volunteer", "=", false}}, {103}},
      {{{"Member_Info.Score", ">=", 2}}, {102}},
      {{{"Member_Info.Dues", "=", "12.50"}}, {102}},
      {{{"Member_Info.Last_Visit", ">", "2026-02-01 18:00"}}, {102}},
      {{{"Member_Info.Last_Visit", "=", "2026-02-01"}}, {102}},  // the whole day
      {A({A(
           {"OR", {{"Member_Info.Score", "IS NOT NULL"}, {"Member_Info.Volunteer", "=", false}}})}),
       {102, 103}},
  };
  for (const Case& c : cases) {
    INFO(c.where.dump());
    CHECK(ids(s.values("Contact", "get", {{"select", {"id"}}, {"where", c.where}})) == c.expected);
  }
  CHECK(ids(s.values("Contact", "get",
                     {{"select", {"id"}},
                      {"where", A({A({"Member_Info.Donations", "IS NOT NULL"})})},
                      {"orderBy", {{"Member_Info.Donations", "DESC"}}}})) == Ids{103, 101, 102});
  CHECK(ids(s.values("Contact", "get",
                     {{"select", {"id"}},
                      {"where", {{"Member_Info.Score", "IS NULL"}, {"id", "<", 104}}},
                      {"orderBy", {{"Member_Info.Member_Since", "DESC"}}}})) == Ids{103, 101});
  CHECK(s.error("Contact", "get", {{"where", {{"Member_Info.Nope", "=", 1}}}})["error_message"] ==
        "Invalid field 'Member_Info.Nope'");
  // Through an implicit join, as a membership read would.
  CHECK(s.values("GroupContact", "get",
                 {{"select", {"contact_id", "contact_id.Member_Info.Donations"}},
                  {"where", {{"group_id", "=", 42}, {"contact_id.Member_Info.Donations", ">=", 1}}},
                  {"orderBy", {{"contact_id", "ASC"}}}}) ==
        json::parse(R"([{"id":1,"contact_id":101,"contact_id.Member_Info.Donations":3},
                        {"id":3,"contact_id":102,"contact_id.Member_Info.Donations":1},
                        {"id":4,"contact_id":103,"contact_id.Member_Info.Donations":10}])"));
  CHECK(s.values("Email", "get",
                 {{"select", {"contact_id.Member_Info.*"}}, {"where", {{"id", "=", 2}}}}) ==
        json::parse(R"([{"id":2,"contact_id.Member_Info.Member_Since":null,
          "contact_id.Member_Info.Nickname":null,"contact_id.Member_Info.Donations":1,
          "contact_id.Member_Info.Score":2.5,"contact_id.Member_Info.Dues":12.5,
          "contact_id.Member_Info.Volunteer":null,
          "contact_id.Member_Info.Last_Visit":"2026-02-01 18:30:00",
          "contact_id.Member_Info.Notes":null,"contact_id.Member_Info.Home_Page":null}])"));
}

TEST_CASE("seed: custom groups and values are checked") {
  struct Case {
    json groups;
    json contact;  // contact 1's extra keys
    std::string message;
  };
  const json group =
      json::parse(R"([{"name":"Member_Info","fields":[{"name":"Donations","data_type":"Int"}]}])");
  const std::vector<Case> cases = {
      {group,
       {{"Member_Info.Nope", 1}},
       "seed: civicrm.contacts[0].Member_Info.Nope: unknown field"},
      {group,
       {{"Member_Info.Donations", "many"}},
       "seed: civicrm.contacts[0].Member_Info.Donations: expected an integer"},
      {group,
       {{"Member_Info.Donations", 3000000000}},
       "seed: civicrm.contacts[0].Member_Info.Donations: out of the range of int(11)"},
      {json::parse(R"([{"name":"Member_Info","fields":[{"name":"Where","data_type":"Country"}]}])"),
       json::object(),
       "seed: civicrm.custom_groups[0].fields[0].data_type: expected String, Int, Float, Money, "
       "Memo, Date, Boolean or Link"},
      {json::parse(R"([{"name":"Member_Info","fields":[{"name":"Where"}]}])"), json::object(),
       "seed: civicrm.custom_groups[0].fields[0].data_type: required"},
      {json::parse(R"([{"name":"email_primary","fields":[]}])"), json::object(),
       "seed: civicrm.custom_groups[0].name: \"email_primary\" is the name of a Contact field"},
      {json::parse(R"([{"name":"Member Info","fields":[]}])"), json::object(),
       "seed: civicrm.custom_groups[0].name: expected letters, digits and _"},
      {json::parse(R"([{"name":"Events","extends":"Activity","fields":[]}])"), json::object(),
       "seed: civicrm.custom_groups[0].extends: expected \"Contact\" (only custom data of "
       "contacts is emulated)"},
      {json::parse(
           R"([{"name":"A","fields":[{"name":"x","data_type":"Int"},{"name":"x","data_type":"Int"}]}])"),
       json::object(),
       "seed: civicrm.custom_groups[0].fields[1].name: two fields named \"x\" in the group"},
  };
  for (const Case& c : cases) {
    json seed = {
        {"civicrm", {{"contacts", json::array({{{"id", 1}}})}, {"custom_groups", c.groups}}}};
    for (auto it = c.contact.begin(); it != c.contact.end(); ++it)
      seed["civicrm"]["contacts"][0][it.key()] = it.value();
    INFO(seed.dump());
    auto r = sb::parse_civicrm_seed(seed.dump(), T("2026-03-01T00:00:00+00:00"));
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message() == c.message);
  }
  // Without custom groups a dotted key is an unknown field too.
  auto r = sb::parse_civicrm_seed(R"({"civicrm":{"contacts":[{"id":1,"Member_Info.X":1}]}})", 0);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message() == "seed: civicrm.contacts[0].Member_Info.X: unknown field");
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
  Site t;
  reload_into(s, t);
  for (const char* e : {"Contact", "Email", "Group", "GroupContact", "SubscriptionHistory"}) {
    json q = {{"where", json::array()}};
    if (std::string(e) == "Contact") q["where"].push_back({"is_deleted", "IN", {0, 1}});
    CHECK(s.values(e, "get", q) == t.values(e, "get", q));
  }
  // Ids continue after the highest ever used, deleted ones included.
  CHECK(t.values("Contact", "create", {{"values", {{"first_name", "X"}}}})[0]["id"] == 114);
}

TEST_CASE("state: custom groups and values round-trip, and survive a reset") {
  Site s(custom_fixture());
  s.values("Contact", "update",
           {{"values", {{"Member_Info.Nickname", "Barn"}, {"Member_Info.Dues", 20}}},
            {"where", {{"id", "=", 102}}}});
  s.values("Contact", "update",
           {{"values", {{"Member_Info.Donations", nullptr}}}, {"where", {{"id", "=", 103}}}});
  Site t;
  std::string part = reload_into(s, t);
  // The groups come before the contacts (read first when the state is loaded again).
  CHECK(part.find("\"custom_groups\":") < part.find("\"contacts\":"));
  json state = json::parse(part);
  CHECK(state["custom_groups"][0]["fields"][6] ==
        json::parse(R"({"id":7,"name":"Last_Visit","label":"Last visit","data_type":"Date",
                        "time_format":2})"));
  json q = {{"select", {"custom.*"}}, {"where", {{"id", "IN", {101, 102, 103, 104}}}}};
  CHECK(t.values("Contact", "get", q) == s.values("Contact", "get", q));
  CHECK(t.values("Contact", "get", q)[1]["Member_Info.Nickname"] == "Barn");
  CHECK(t.values("Contact", "get", q)[2]["Member_Info.Donations"].is_null());
  CHECK(t.values("Contact", "getFields", json::object()) ==
        s.values("Contact", "getFields", json::object()));
  // A reset through the admin route reads them too.
  REQUIRE(t.raw("POST", "/_sandbox/reset", "{\"civicrm\":" + part + "}", {}, "").status == 200);
  CHECK(t.values("Contact", "get", q) == s.values("Contact", "get", q));
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
