// The sandbox's Mixpanel emulator, driven through its handler: authentication, the cohort list,
// /engage (its answer, paging with a session, filter_by_cohort and include_all_users, where,
// output_properties, the three places parameters come from, its errors), the rate limits, the
// admin routes, the seed and the state, and faults. The expected answers are those of the
// reference's §2 (Mixpanel's OpenAPI description, docs, recorded traffic); docs/sandbox.md ("The
// Mixpanel API") says what is emulated and which choices the sandbox made where the reference is
// silent.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <latch>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mixpanel_site.h"

using namespace concord::testing::mixpanel_site;
using concord::Status;

namespace {

const std::string kRateLimitHelp =
    " For more information, please consult our documentation at "
    "https://help.mixpanel.com/hc/en-us/articles/115004602563-Rate-Limits-for-Export-API-Endpoints";

}  // namespace

// ---- authentication ----------------------------------------------------------------------------

TEST_CASE("auth: a service account needs project_id; the project secret does not, until 2027") {
  struct Case {
    const char* name;
    std::string authorization;
    std::string query;
    int status;
    std::string error;  // "" for a success
  };
  const std::vector<Case> cases = {
      {"service account", basic(kUser, kSecret), kQ, 200, ""},
      {"credentials un-base64'd", std::string("Basic ") + kUser + ":" + kSecret, kQ, 200, ""},
      {"scheme in other case", "basic " + base64(std::string(kUser) + ":" + kSecret), kQ, 200, ""},
      {"no Authorization", "", kQ, 400, "Unable to authenticate request"},
      {"wrong secret", basic(kUser, "nope"), kQ, 400, "Unable to authenticate request"},
      {"unknown user", basic("someone", kSecret), kQ, 400, "Unable to authenticate request"},
      {"Bearer is not Basic", std::string("Bearer ") + kSecret, kQ, 400,
       "Unable to authenticate request"},
      {"service account without project_id", basic(kUser, kSecret), "", 400,
       "project_id is required when authenticating with a service account"},
      {"project_id not a number", basic(kUser, kSecret), "?project_id=abc", 400,
       "project_id must be an integer"},
      {"another project", basic(kUser, kSecret), "?project_id=42", 403,
       std::string(kUser) + " does not have access to project_id: 42"},
      {"project secret as username, empty password", basic(kProjectSecret, ""), "", 200, ""},
      {"project secret alone, as Airbyte sends it", "Basic " + base64(kProjectSecret), "", 200, ""},
      {"project secret with its project", basic(kProjectSecret, ""), kQ, 200, ""},
      {"project secret with another project", basic(kProjectSecret, ""), "?project_id=42", 403,
       "project secret does not have access to project_id: 42"},
      {"project secret with a password", basic(kProjectSecret, "x"), "", 400,
       "Unable to authenticate request"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      Site s;
      s.auth = c.authorization;
      Reply r = s.call("POST", "/api/query/cohorts/list" + c.query);
      CHECK(r.status == c.status);
      CHECK(r.header("Content-Type") == "application/json");
      if (c.error.empty()) {
        CHECK(r.j().is_array());
      } else {
        // The error shape of the recorded answers: the request's path and query, and the text.
        CHECK(r.j() ==
              json({{"request", "/api/query/cohorts/list" + c.query}, {"error", c.error}}));
      }
    }
  }
}

TEST_CASE("auth: the project secret is refused from its retirement on; 401 when the seed says") {
  Site s;
  s.auth = basic(kProjectSecret, "");
  s.clock.fix(T("2027-03-02T23:59:59Z"));
  CHECK(s.cohorts().status == 200);
  s.clock.fix(T("2027-03-03T00:00:00Z"));
  Reply r = s.cohorts();
  CHECK(r.status == 400);
  CHECK(r.error() == "Unable to authenticate request");
  // The service account still works.
  s.auth = basic(kUser, kSecret);
  CHECK(s.cohorts().status == 200);

  json seed = base_seed();
  seed["auth_error_status"] = 401;
  Site t(seed);
  t.auth = basic(kUser, "wrong");
  r = t.cohorts();
  CHECK(r.status == 401);
  CHECK(r.error() == "Unable to authenticate request");
  // A project without a secret accepts none.
  seed.erase("api_secret");
  Site u(seed);
  u.auth = "Basic " + base64(kProjectSecret);
  CHECK(u.cohorts().status == 401);
}

// ---- routes and the cohort list ----------------------------------------------------------------

TEST_CASE("cohorts/list: a bare array in the spec's shape, on both prefixes, GET or POST") {
  Site s;
  Reply r = s.cohorts();
  REQUIRE(r.status == 200);
  CHECK(r.body ==
        "[{\"count\":3,\"is_visible\":1,\"description\":\"Visible, three members.\",\"created\":"
        "\"2019-03-19 23:49:51\",\"project_id\":1234567,\"id\":1000,\"name\":\"Cohort One\"},"
        "{\"count\":2,\"is_visible\":0,\"description\":\"Hidden.\",\"created\":\"2019-04-02 "
        "23:22:01\",\"project_id\":1234567,\"id\":2000,\"name\":\"Cohort Two\"}]");
  CHECK(s.cohorts("/api/2.0/cohorts/list").body == r.body);
  CHECK(s.call("GET", "/api/2.0/cohorts/list" + kQ).body == r.body);
  CHECK(s.call("GET", "/api/query/cohorts/list/" + kQ).body == r.body);
  // workspace_id (projects with data views) is accepted.
  CHECK(s.call("GET", "/api/query/cohorts/list" + kQ + "&workspace_id=9").status == 200);

  Reply missing = s.call("POST", "/api/query/cohorts/lists" + kQ);
  CHECK(missing.status == 404);
  CHECK(missing.j()["request"] == "/api/query/cohorts/lists" + kQ);
  Reply put = s.call("PUT", "/api/query/engage" + kQ);
  CHECK(put.status == 405);
  CHECK(put.header("Allow") == "GET, POST");
}

// ---- /engage -----------------------------------------------------------------------------------

TEST_CASE("engage: the answer's keys, in the recorded order, with total on page 0") {
  Site s;
  Reply r = s.engage(cohort_filter(2000));
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  json j = r.j();
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it)
    keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"page", "page_size", "session_id", "status", "total",
                                         "computed_at", "results"});
  CHECK(j["page"] == 0);
  CHECK(j["page_size"] == 1000);
  CHECK(j["status"] == "ok");
  CHECK(j["total"] == 2);
  CHECK(std::regex_match(j["session_id"].get<std::string>(),
                         std::regex("1772323200000-[0-9a-f]{32}")));
  CHECK(j["computed_at"] == "2026-03-01T00:00:00.000000+00:00");
  // Properties exactly as stored: string distinct ids, timestamps without zone, custom ones
  // without '$'.
  CHECK(j["results"] == json::parse(R"([
    {"$distinct_id":"dave","$properties":{"$email":"dave@example.org","$city":"Campina Grande",
      "groups":[],"$created":"2024-01-05T12:00:00"}},
    {"$distinct_id":"erin","$properties":{"$email":"erin@example.org","plan":"pro"}}])"));

  // Empty result: still ok, total 0.
  s.admin("POST", "/_sandbox/mixpanel/cohorts", {{"id", 3000}, {"name", "Empty"}});
  j = s.engage(cohort_filter(3000)).j();
  CHECK(j["status"] == "ok");
  CHECK(j["total"] == 0);
  CHECK(j["results"] == json::array());
}

TEST_CASE("engage: 2 500 members page through three pages of one session, in any order") {
  Site s(big_seed(2500));
  Paged p = page_all(s, cohort_filter(7));
  CHECK(p.calls == 3);
  CHECK(p.total == 2500);
  REQUIRE(p.ids.size() == 2500);
  CHECK(std::set<std::string>(p.ids.begin(), p.ids.end()).size() == 2500);
  CHECK(p.ids.front() == "user-0000");
  CHECK(p.ids.back() == "user-2499");
  // Every tenth has no $email: it is returned anyway (the API does not filter on it).
  std::size_t without_email = 0;
  for (const json& e : p.results)
    without_email += e["$properties"].contains("$email") ? 0 : 1;
  CHECK(without_email == 250);

  // total only on page 0; later pages fetched out of order with the same session.
  json first = s.engage(cohort_filter(7)).j();
  const std::string session = first["session_id"].get<std::string>();
  const std::string with = cohort_filter(7) + "&" + field("session_id", session);
  json third = s.engage(with + "&page=2").j();
  json second = s.engage(with + "&page=1").j();
  CHECK_FALSE(third.contains("total"));
  CHECK_FALSE(second.contains("total"));
  CHECK(third["page"] == 2);
  CHECK(third["session_id"] == session);
  CHECK(third["results"].size() == 500);
  CHECK(second["results"].size() == 1000);
  CHECK(ids_of(second["results"]).front() == "user-1000");
  CHECK(ids_of(third["results"]).front() == "user-2000");
  // Page 0 again through the session carries total; a page past the end is empty.
  CHECK(s.engage(with + "&page=0").j()["total"] == 2500);
  json past = s.engage(with + "&page=3").j();
  CHECK(past["results"] == json::array());
  CHECK(past["page"] == 3);
  CHECK(s.engage(with + "&page=999999999999").j()["results"] == json::array());
}

TEST_CASE("engage: pages are fetched concurrently with one session") {
  Site s(big_seed(2500));
  json first = s.engage(cohort_filter(7)).j();
  const std::string with =
      cohort_filter(7) + "&" + field("session_id", first["session_id"].get<std::string>());
  std::vector<std::vector<std::string>> pages(3);
  std::vector<std::thread> threads;
  for (int page = 0; page < 3; ++page) {
    threads.emplace_back([&, page] {
      Reply r = s.engage(with + "&page=" + std::to_string(page));
      if (r.status == 200) pages[page] = ids_of(r.j()["results"]);
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(pages[0].size() == 1000);
  CHECK(pages[1].size() == 1000);
  CHECK(pages[2].size() == 500);
}

TEST_CASE(
    "engage: filter_by_cohort selects its members; include_all_users adds those without a "
    "profile") {
  Site s;
  // include_all_users defaults to true: carol, who has no profile, is there with no properties.
  json j = s.engage(cohort_filter(1000)).j();
  CHECK(ids_of(j["results"]) == std::vector<std::string>{"alice", "bob", "carol"});
  CHECK(j["results"][2] == json({{"$distinct_id", "carol"}, {"$properties", json::object()}}));
  CHECK(j["total"] == 3);
  // bob has a profile but no $email: he is returned, without it.
  CHECK_FALSE(j["results"][1]["$properties"].contains("$email"));

  for (const char* value : {"false", "False", "0"}) {
    j = s.engage(cohort_filter(1000) + "&include_all_users=" + value).j();
    CHECK(ids_of(j["results"]) == std::vector<std::string>{"alice", "bob"});
    CHECK(j["total"] == 2);
  }
  CHECK(ids_of(s.engage(cohort_filter(1000) + "&include_all_users=true").j()["results"]).size() ==
        3);
  // Without a cohort: every profile (include_all_users does not apply).
  CHECK(ids_of(s.engage("").j()["results"]) ==
        std::vector<std::string>{"alice", "bob", "dave", "erin", "frank"});
  CHECK(ids_of(s.engage("include_all_users=true").j()["results"]).size() == 5);
  // The id may be given as a string of digits.
  CHECK(ids_of(s.engage(field("filter_by_cohort", "{\"id\":\"2000\"}")).j()["results"]) ==
        std::vector<std::string>{"dave", "erin"});
}

TEST_CASE("engage: output_properties keeps only the named ones a profile has") {
  Site s;
  json j = s.engage(cohort_filter(1000) + "&" +
                    field("output_properties", R"(["$email","$first_name","$last_name","plan"])"))
               .j();
  CHECK(j["results"] == json::parse(R"([
    {"$distinct_id":"alice","$properties":{"$email":"alice@example.org","$first_name":"Alice",
      "$last_name":"Liddell","plan":"pro"}},
    {"$distinct_id":"bob","$properties":{"$first_name":"Bob","plan":"free"}},
    {"$distinct_id":"carol","$properties":{}}])"));
  Reply bad = s.engage(field("output_properties", "$email"));
  CHECK(bad.status == 400);
  CHECK(bad.error() == "output_properties is not valid JSON");
  CHECK(s.engage(field("output_properties", "[1]")).error() ==
        "output_properties must be a JSON array of strings");
}

TEST_CASE("engage: parameters from the query string, a form, or a JSON body") {
  Site s;
  const std::vector<std::string> expected{"alice", "bob"};
  // mixpanel-utils: GET with the parameters in the query string.
  Reply get = s.call(
      "GET", "/api/2.0/engage" + kQ + "&" + cohort_filter(1000) + "&include_all_users=false");
  REQUIRE(get.status == 200);
  CHECK(ids_of(get.j()["results"]) == expected);
  // Airbyte: a JSON body whose values are JSON text.
  Reply airbyte = s.call("POST", "/api/2.0/engage" + kQ,
                         R"({"filter_by_cohort":"{\"id\":1000}","include_all_users":false,)"
                         R"("page_size":1000})",
                         "application/json");
  REQUIRE(airbyte.status == 200);
  CHECK(ids_of(airbyte.j()["results"]) == expected);
  // page_size is not in the spec: the server keeps its own and says so.
  Reply small = s.engage(cohort_filter(1000) + "&page_size=1");
  CHECK(small.j()["page_size"] == 1000);
  CHECK(small.j()["results"].size() == 3);
  // grouparoo: a JSON body whose values are JSON values, without a Content-Type.
  Reply grouparoo =
      s.call("POST", "/api/2.0/engage" + kQ, R"({"distinct_ids":["erin","alice","nobody"]})");
  REQUIRE(grouparoo.status == 200);
  CHECK(ids_of(grouparoo.j()["results"]) == std::vector<std::string>{"alice", "erin"});
  Reply one = s.call("POST", "/api/2.0/engage" + kQ, R"({"distinct_id":"dave"})");
  CHECK(ids_of(one.j()["results"]) == std::vector<std::string>{"dave"});
  // The body's fields win over the query string's.
  Reply both =
      s.call("POST", "/api/query/engage" + kQ + "&" + cohort_filter(2000),
             cohort_filter(1000) + "&include_all_users=false", "application/x-www-form-urlencoded");
  CHECK(ids_of(both.j()["results"]) == expected);
  // A JSON body that is not an object.
  Reply bad = s.call("POST", "/api/query/engage" + kQ, "[1,2]", "application/json");
  CHECK(bad.status == 400);
  CHECK(bad.error() == "the request body is not a JSON object");
}

TEST_CASE("engage: where, a segmentation expression over the properties") {
  Site s;
  struct Case {
    const char* where;
    std::vector<std::string> ids;
  };
  const std::vector<Case> cases = {
      {R"(properties["$last_seen"] >= "2026-01-01T00:00:00")", {"alice"}},
      {R"(properties["plan"] == "pro")", {"alice", "erin"}},
      {R"(properties["plan"] != "pro")", {"bob", "dave", "frank"}},
      {R"(properties["visits"] > 5)", {"alice"}},
      {R"(properties["visits"] <= 3.0)", {"bob"}},
      {R"(defined(properties["$email"]))", {"alice", "dave", "erin", "frank"}},
      {R"(not defined (properties["$email"]))", {"bob"}},
      {R"(properties["plan"] == "pro" and not (properties["$email"] == "erin@example.org"))",
       {"alice"}},
      {R"(properties["plan"] == "free" or properties["$city"] == "Campina Grande")",
       {"bob", "dave"}},
      {R"(properties["visits"] > "5")", {}},  // a number and a string are not ordered
      {R"(properties["missing"] == null)", {}},
      {"  ", {"alice", "bob", "dave", "erin", "frank"}},  // blank: no filter
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.where) {
      Reply r = s.engage(field("where", c.where));
      REQUIRE(r.status == 200);
      CHECK(ids_of(r.j()["results"]) == c.ids);
    }
  }
  // With a cohort: a member without a profile has no properties to match.
  CHECK(ids_of(s.engage(cohort_filter(1000) + "&" +
                        field("where", R"(not defined(properties["$email"]))"))
                   .j()["results"]) == std::vector<std::string>{"bob", "carol"});
  // What the sandbox does not evaluate is refused, with the place.
  Reply bad = s.engage(field("where", R"(properties["a"] in ["x"])"));
  CHECK(bad.status == 400);
  CHECK(bad.error() == "where: the sandbox does not evaluate \"in\" at offset 16");
  CHECK(s.engage(field("where", R"(properties["a"] == )")).error() ==
        "where: expected a value, found end of expression at offset 19");
}

TEST_CASE("engage: errors answer 400 in the API's shape") {
  Site s;
  struct Case {
    std::string form;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"page=1", "session_id is required when page is greater than 0"},
      {"page=-1", "page must be a non-negative integer"},
      {"page=one", "page must be a non-negative integer"},
      {field("filter_by_cohort", "12345"),
       "filter_by_cohort must be a JSON object with a single key \"id\", e.g. {\"id\":12345}"},
      {field("filter_by_cohort", "{\"id\":"), "filter_by_cohort is not valid JSON"},
      {cohort_filter(999), "cohort 999 not found"},
      {cohort_filter(1000) + "&include_all_users=maybe", "include_all_users must be true or false"},
      {"behaviors=1", "behaviors is not supported by the sandbox"},
      {"data_group_id=5", "data_group_id is not supported by the sandbox"},
      {field("session_id", "1700000000000-00000000000000000000000000000000") + "&page=1",
       "session_id 1700000000000-00000000000000000000000000000000 is unknown or has expired; "
       "query again from page 0 without it"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.form) {
      Reply r = s.engage(c.form);
      CHECK(r.status == 400);
      CHECK(r.j() == json({{"request", "/api/query/engage" + kQ}, {"error", c.error}}));
    }
  }
}

TEST_CASE("engage: a session expires after its time-to-live, or through the admin route") {
  json seed = big_seed(1500);
  seed["limits"] = {{"session_ttl_seconds", 600}};
  Site s(seed);
  json first = s.engage(cohort_filter(7)).j();
  const std::string with =
      cohort_filter(7) + "&" + field("session_id", first["session_id"].get<std::string>());
  s.clock.fix(T("2026-03-01T00:09:59Z"));
  CHECK(s.engage(with + "&page=1").status == 200);  // used: it lives 600 s from now
  s.clock.fix(T("2026-03-01T00:19:58Z"));
  CHECK(s.engage(with + "&page=1").status == 200);
  s.clock.fix(T("2026-03-01T00:29:58Z"));
  Reply r = s.engage(with + "&page=1");
  CHECK(r.status == 400);
  CHECK(r.error().find("is unknown or has expired") != std::string::npos);

  json again = s.engage(cohort_filter(7)).j();
  CHECK(s.admin("DELETE", "/_sandbox/mixpanel/sessions").j() == json({{"expired", 1}}));
  CHECK(s.engage(cohort_filter(7) + "&" +
                 field("session_id", again["session_id"].get<std::string>()) + "&page=1")
            .status == 400);
}

TEST_CASE("engage: later pages must repeat the first page's filter") {
  Site s(big_seed(1500));
  json first = s.engage(cohort_filter(7)).j();
  const std::string session = field("session_id", first["session_id"].get<std::string>());
  // No filter on page 1, another cohort, another include_all_users: refused.
  for (const std::string& form :
       {session + "&page=1", cohort_filter(1000) + "&" + session + "&page=1",
        cohort_filter(7) + "&include_all_users=false&" + session + "&page=1"}) {
    Reply r = s.engage(form);
    CHECK(r.status == 400);
    CHECK(r.error().find("the filter parameters differ") != std::string::npos);
  }
  // The same filter spelt differently (include_all_users=true is the default) is the same.
  CHECK(s.engage(cohort_filter(7) + "&include_all_users=true&" + session + "&page=1").status ==
        200);
  // output_properties is not part of the filter.
  CHECK(s.engage(cohort_filter(7) + "&" + field("output_properties", "[\"$email\"]") + "&" +
                 session + "&page=1")
            .status == 200);
}

TEST_CASE("engage: a cohort that shrinks and grows between runs; a session keeps its result") {
  Site s;
  Paged run1 = page_all(s, cohort_filter(1000) + "&include_all_users=false");
  CHECK(run1.ids == std::vector<std::string>{"alice", "bob"});
  json session = s.engage(cohort_filter(1000)).j();

  // bob leaves the cohort, frank (who has a profile) enters it.
  Reply m = s.admin("POST", "/_sandbox/mixpanel/cohorts/1000/members",
                    {{"remove", {"bob"}}, {"add", {"frank"}}});
  REQUIRE(m.status == 200);
  CHECK(m.j()["count"] == 3);
  Paged run2 = page_all(s, cohort_filter(1000) + "&include_all_users=false");
  CHECK(run2.ids == std::vector<std::string>{"alice", "frank"});
  CHECK(s.cohorts().j()[0]["count"] == 3);

  // The session made before the change still pages through its own result.
  json page0 = s.engage(cohort_filter(1000) + "&" +
                        field("session_id", session["session_id"].get<std::string>()) + "&page=0")
                   .j();
  CHECK(ids_of(page0["results"]) == std::vector<std::string>{"alice", "bob", "carol"});

  // An email change shows in the next run.
  s.admin("POST", "/_sandbox/mixpanel/profiles",
          {{"$distinct_id", "alice"}, {"$set", {{"$email", "alice@new.example.org"}}}});
  json j = s.engage(cohort_filter(1000) + "&" + field("output_properties", "[\"$email\"]")).j();
  CHECK(j["results"][0]["$properties"] == json({{"$email", "alice@new.example.org"}}));
}

// ---- rate limits ------------------------------------------------------------------------------

TEST_CASE("limits: the 61st query of an hour gets the recorded 429; the hour slides") {
  Site s;
  for (int i = 0; i < 60; ++i) {
    Reply r = i % 2 ? s.cohorts() : s.engage(cohort_filter(1000));
    REQUIRE(r.status == 200);
  }
  Reply r = s.engage(cohort_filter(1000));
  CHECK(r.status == 429);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("Retry-After").empty());
  CHECK(r.j() == json({{"request", "/api/query/engage" + kQ},
                       {"error",
                        "Query rate limit exceeded for project_id: 1234567. 1/5 queries running "
                        "concurrently and 61/60 queries running in the last hour." +
                            kRateLimitHelp}}));
  // A refused query is not counted; an unauthenticated one is not either.
  CHECK(s.cohorts().j()["error"].get<std::string>().find("61/60") != std::string::npos);
  s.clock.fix(T("2026-03-01T00:59:59Z"));
  CHECK(s.cohorts().status == 429);
  s.clock.fix(T("2026-03-01T01:00:00Z"));
  CHECK(s.cohorts().status == 200);

  // The admin route starts a new hour.
  for (int i = 0; i < 59; ++i)
    REQUIRE(s.cohorts().status == 200);
  CHECK(s.cohorts().status == 429);
  Reply reset = s.admin("POST", "/_sandbox/mixpanel/limits/reset");
  CHECK(reset.status == 200);
  CHECK(reset.j()["last_hour"] == 0);
  CHECK(s.cohorts().status == 200);
}

TEST_CASE("limits: configurable, with Retry-After when asked; 0 turns a limit off") {
  json seed = base_seed();
  seed["limits"] = {{"queries_per_hour", 2}, {"retry_after", true}};
  Site s(seed);
  CHECK(s.cohorts().status == 200);
  s.clock.fix(T("2026-03-01T00:10:00Z"));
  CHECK(s.cohorts().status == 200);
  Reply r = s.cohorts();
  CHECK(r.status == 429);
  CHECK(r.error().find("3/2 queries running in the last hour") != std::string::npos);
  // The first query leaves the window at 01:00:00.
  CHECK(r.header("Retry-After") == "3000");

  Reply set = s.admin("POST", "/_sandbox/mixpanel/limits", {{"queries_per_hour", 0}});
  REQUIRE(set.status == 200);
  CHECK(set.j()["limits"]["queries_per_hour"] == 0);
  for (int i = 0; i < 100; ++i)
    REQUIRE(s.cohorts().status == 200);
  CHECK(s.admin("POST", "/_sandbox/mixpanel/limits", {{"page_size", 0}}).status == 400);
  CHECK(s.admin("POST", "/_sandbox/mixpanel/limits", {{"burst", 3}}).j()["detail"] ==
        "burst: unknown field");
}

TEST_CASE("limits: a sixth query running at once gets 429; the count is of real queries") {
  Site s;
  // Every query takes 1.5 s (the fault's latency is spent while the query counts as running).
  REQUIRE(s.admin("POST", "/_sandbox/faults", {{"latency_ms", 1500}}).status == 200);
  constexpr int kQueries = 7;
  std::vector<Reply> replies(kQueries);
  std::latch start(kQueries);
  std::vector<std::thread> threads;
  for (int i = 0; i < kQueries; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      replies[i] = s.cohorts();
    });
  }
  for (auto& t : threads)
    t.join();
  int ok = 0, refused = 0;
  for (const Reply& r : replies) {
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++refused;
      CHECK(r.error().find("6/5 queries running concurrently") != std::string::npos);
    }
  }
  CHECK(ok == 5);
  CHECK(refused == 2);
  // Once they have answered, nothing is running.
  REQUIRE(s.admin("POST", "/_sandbox/faults", json::object()).status == 200);
  CHECK(s.admin("GET", "/_sandbox/mixpanel/limits").j()["running"] == 0);
  CHECK(s.cohorts().status == 200);
}

// ---- admin routes -----------------------------------------------------------------------------

TEST_CASE("admin: cohorts are created, deleted, and their members change") {
  Site s;
  const std::uint64_t g = s.part->generation();
  Reply c = s.admin("POST", "/_sandbox/mixpanel/cohorts",
                    {{"name", "Churn risk"}, {"description", "Inactive"}, {"members", {"dave"}}});
  REQUIRE(c.status == 200);
  // The next id, created now (the sandbox clock), visible by default.
  CHECK(c.j() == json::parse(R"({"count":1,"is_visible":1,"description":"Inactive",
    "created":"2026-03-01 00:00:00","project_id":1234567,"id":2001,"name":"Churn risk",
    "members":["dave"]})"));
  CHECK(s.part->generation() > g);
  CHECK(s.cohorts().j().size() == 3);
  CHECK(ids_of(s.engage(cohort_filter(2001)).j()["results"]) == std::vector<std::string>{"dave"});

  CHECK(s.admin("POST", "/_sandbox/mixpanel/cohorts", {{"id", 1000}, {"name", "Again"}})
            .j()["detail"] == "id: 1000 is used already");
  CHECK(s.admin("POST", "/_sandbox/mixpanel/cohorts", {{"name", ""}}).j()["detail"] ==
        "name: expected a non-empty string");
  CHECK(s.admin("POST", "/_sandbox/mixpanel/cohorts/1000/members", {{"add", {""}}}).j()["detail"] ==
        "add[0]: expected a non-empty string");
  CHECK(s.admin("POST", "/_sandbox/mixpanel/cohorts/77/members", {{"add", {"x"}}}).status == 404);

  CHECK(s.admin("DELETE", "/_sandbox/mixpanel/cohorts/2001").status == 204);
  CHECK(s.engage(cohort_filter(2001)).error() == "cohort 2001 not found");
  CHECK(s.admin("DELETE", "/_sandbox/mixpanel/cohorts/2001").status == 404);
}

TEST_CASE("admin: profiles are set, unset and deleted; a bad update changes nothing") {
  Site s;
  Reply r = s.admin(
      "POST", "/_sandbox/mixpanel/profiles",
      {{"$distinct_id", "bob"}, {"$set", {{"$email", "bob@example.org"}}}, {"$unset", {"plan"}}});
  REQUIRE(r.status == 200);
  CHECK(r.j() == json::parse(R"({"$distinct_id":"bob","$properties":{"$first_name":"Bob",
    "$last_seen":"2025-11-02T08:30:00","visits":3,"$email":"bob@example.org"}})"));

  // A list: carol gets a profile (so include_all_users=false now returns her), frank is deleted.
  r = s.admin("POST", "/_sandbox/mixpanel/profiles",
              json::array({{{"$distinct_id", "carol"}, {"$set", {{"$first_name", "Carol"}}}},
                           {{"$distinct_id", "frank"}, {"$delete", true}}}));
  REQUIRE(r.status == 200);
  CHECK(r.j()[1] == json({{"$distinct_id", "frank"}, {"deleted", true}}));
  CHECK(ids_of(s.engage(cohort_filter(1000) + "&include_all_users=false").j()["results"]) ==
        std::vector<std::string>{"alice", "bob", "carol"});
  CHECK(ids_of(s.engage("").j()["results"]) ==
        std::vector<std::string>{"alice", "bob", "carol", "dave", "erin"});

  const std::string before = s.part->state_part();
  r = s.admin("POST", "/_sandbox/mixpanel/profiles",
              json::array({{{"$distinct_id", "alice"}, {"$set", {{"plan", "team"}}}},
                           {{"$distinct_id", "dave"}, {"$set", {{"$last_seen", "2026-03-01"}}}}}));
  CHECK(r.status == 400);
  CHECK(r.j()["detail"] ==
        "[1].$set.$last_seen: expected \"YYYY-MM-DDTHH:MM:SS\" (project time, no zone)");
  CHECK(s.part->state_part() == before);
  CHECK(s.admin("POST", "/_sandbox/mixpanel/profiles", {{"$set", {{"a", 1}}}}).j()["detail"] ==
        "$distinct_id: expected a non-empty string");
}

TEST_CASE("admin: loopback only, unknown routes 404, never faulted or counted") {
  Site s;
  Reply far = s.call("GET", "/_sandbox/mixpanel/limits", "", "", false);
  CHECK(far.status == 403);
  CHECK(s.call("POST", "/_sandbox/faults", "{}", "application/json", false).status == 403);
  CHECK(s.admin("GET", "/_sandbox/mixpanel/nothing").status == 404);
  CHECK(s.admin("GET", "/_sandbox/state").status == 404);  // the router's, not the part's
  REQUIRE(s.admin("POST", "/_sandbox/faults", {{"next", {"503", "503"}}}).status == 200);
  Reply admin = s.admin("GET", "/_sandbox/mixpanel/limits");
  CHECK(admin.status == 200);
  CHECK(admin.fault.empty());
  CHECK(admin.j()["last_hour"] == 0);
  CHECK(s.cohorts().status == 503);
}

// ---- faults -----------------------------------------------------------------------------------

TEST_CASE("faults: the next script, as each status looks, resets and truncation") {
  Site s;
  Reply cfg = s.admin(
      "POST", "/_sandbox/faults",
      {{"next", {"500", "502", "429", "reset", "reset_after", "truncate", "delay:5", "none"}}});
  REQUIRE(cfg.status == 200);
  CHECK(cfg.j()["part"] == "mixpanel");
  CHECK(s.admin("GET", "/_sandbox/faults").j()["next"].size() == 8);

  Reply r = s.engage(cohort_filter(1000));
  CHECK(r.status == 500);
  CHECK(r.fault == "500");
  CHECK(r.error() == "Internal Server Error");
  r = s.engage(cohort_filter(1000));
  CHECK(r.status == 502);
  CHECK(r.header("Content-Type") == "text/html");
  r = s.engage(cohort_filter(1000));
  CHECK(r.status == 429);
  CHECK(r.error().rfind("Query rate limit exceeded for project_id: 1234567. 1/5", 0) == 0);
  r = s.engage(cohort_filter(1000));
  CHECK(r.reset);
  CHECK(r.fault == "reset");
  r = s.engage(cohort_filter(1000));
  CHECK(r.reset);
  CHECK(r.fault == "reset_after");
  r = s.engage(cohort_filter(1000));
  CHECK(r.status == 200);
  CHECK(r.fault == "truncate");
  CHECK(r.truncate_at == r.body.size() / 2);
  r = s.engage(cohort_filter(1000));
  CHECK(r.fault == "delay:5");
  CHECK(r.status == 200);
  r = s.engage(cohort_filter(1000));
  CHECK(r.fault.empty());
  CHECK(r.status == 200);
  // Injected answers were not queries: three carried out (reset_after, truncate, delay) plus the
  // last, besides none refused.
  CHECK(s.admin("GET", "/_sandbox/mixpanel/limits").j()["last_hour"] == 4);

  CHECK(s.admin("POST", "/_sandbox/faults", {{"next", {"7"}}}).status == 400);
  REQUIRE(s.admin("POST", "/_sandbox/faults",
                  {{"error_rates", {{"503", 1.0}}}, {"path_prefix", "/api/query/engage"}})
              .status == 200);
  CHECK(s.engage(cohort_filter(1000)).status == 503);
  CHECK(s.cohorts().status == 200);  // outside the prefix
  // A reset of the part clears its faults.
  REQUIRE(s.part->install(base_seed().dump()).is_ok());
  CHECK(s.engage(cohort_filter(1000)).status == 200);
}

// ---- seed and state ---------------------------------------------------------------------------

TEST_CASE("seed: state_part reloads exactly, after admin changes too") {
  Site s(big_seed(30));
  s.admin("POST", "/_sandbox/mixpanel/cohorts/1000/members", {{"add", {"zed"}}});
  s.admin("POST", "/_sandbox/mixpanel/limits", {{"concurrent_queries", 3}});
  s.admin("POST", "/_sandbox/mixpanel/profiles",
          {{"$distinct_id", "zed"}, {"$set", {{"$email", "zed@example.org"}, {"score", 1.5}}}});
  const std::string state = s.part->state_part();
  json j = json::parse(state);
  CHECK(j["project_id"] == kProject);
  CHECK(j["api_secret"] == kProjectSecret);
  CHECK(j["limits"]["concurrent_queries"] == 3);
  // Cohorts in id order: 7, 1000, 2000.
  CHECK(j["cohorts"][1]["members"] == json({"alice", "bob", "carol", "zed"}));
  CHECK(j["profiles"].size() == 36);

  Site t;
  auto counts = t.part->install(state);
  REQUIRE(counts.is_ok());
  CHECK(json::parse(*counts) == json({{"cohorts", 3}, {"profiles", 36}}));
  CHECK(t.part->state_part() == state);
  CHECK(t.cohorts().body == s.cohorts().body);
  CHECK(t.engage(cohort_filter(7)).j()["results"] == s.engage(cohort_filter(7)).j()["results"]);
}

TEST_CASE("seed: no mixpanel object gives the default project; generation moves on install") {
  Site s;
  const std::uint64_t g = s.part->generation();
  auto counts = s.part->install(std::nullopt);
  REQUIRE(counts.is_ok());
  CHECK(*counts == "{\"cohorts\":0,\"profiles\":0}");
  CHECK(s.part->generation() > g);
  CHECK(s.part->name() == "mixpanel");
  s.auth = basic("sandbox.mp-service-account", "sandbox-mixpanel-secret");
  CHECK(s.call("GET", "/api/query/cohorts/list?project_id=1").body == "[]");
  // Queries change nothing persisted.
  const std::uint64_t g2 = s.part->generation();
  s.call("GET", "/api/query/engage?project_id=1");
  CHECK(s.part->generation() == g2);
  json state = json::parse(s.part->state_part());
  CHECK(state["service_accounts"] ==
        json::parse(
            R"([{"username":"sandbox.mp-service-account","secret":"sandbox-mixpanel-secret"}])"));
  CHECK(state["api_secret"].is_null());
  CHECK(state["limits"] == json::parse(R"({"queries_per_hour":60,"concurrent_queries":5,
    "retry_after":false,"page_size":1000,"session_ttl_seconds":3600})"));
}

TEST_CASE("seed: check() names the field, and a bad seed changes nothing") {
  struct Case {
    const char* patch;  // JSON merged into the base seed (arrays replace)
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"project_id": "1"})", "project_id: expected a positive integer"},
      {R"({"projects": 1})", "projects: unknown field"},
      {R"({"service_accounts": [{"username": "a"}]})",
       "service_accounts[0].secret: expected a non-empty string"},
      {R"({"service_accounts": [{"username": "a:b", "secret": "s"}]})",
       "service_accounts[0].username: must not contain ':'"},
      {R"({"auth_error_status": 403})", "auth_error_status: expected 400 or 401"},
      {R"({"limits": {"concurrent_queries": -1}})",
       "limits.concurrent_queries: expected an integer 0-100000"},
      {R"({"cohorts": [{"id": 1, "name": "A"}, {"id": 1, "name": "B"}]})",
       "cohorts[1].id: 1 is used twice"},
      {R"({"cohorts": [{"id": 1, "name": "A", "count": 2, "members": ["x"]}]})",
       "cohorts[0].count: expected the number of members, 1"},
      {R"({"cohorts": [{"id": 1, "name": "A", "members": ["x", "x"]}]})",
       "cohorts[0].members[1]: \"x\" is listed twice"},
      {R"({"cohorts": [{"id": 1, "name": "A", "created": "2019-03-19T23:49:51Z"}]})",
       "cohorts[0].created: expected \"YYYY-MM-DD HH:MM:SS\" (no zone)"},
      {R"({"cohorts": [{"id": 1, "name": "A", "project_id": 2}]})",
       "cohorts[0].project_id: expected the project's id, 1234567"},
      {R"({"cohorts": [{"id": 1, "name": "A", "is_visible": 2}]})",
       "cohorts[0].is_visible: expected 0 or 1"},
      {R"({"profiles": [{"$distinct_id": "a"}, {"$distinct_id": "b"}, {"$distinct_id": 3}]})",
       "profiles[2].$distinct_id: expected a non-empty string"},
      {R"({"profiles": [{"$distinct_id": "a"}, {"$distinct_id": "a"}]})",
       "profiles[1].$distinct_id: \"a\" is used twice"},
      {R"({"profiles": [{"$distinct_id": "a", "$properties": []}]})",
       "profiles[0].$properties: expected an object"},
      {R"({"profiles": [{"$distinct_id": "a", "$properties": {"$email": 5}}]})",
       "profiles[0].$properties.$email: expected a string"},
      {R"({"profiles": [{"$distinct_id": "a", "$properties": {"$last_seen": "2021-09-22T19:07:06Z"}}]})",
       "profiles[0].$properties.$last_seen: expected \"YYYY-MM-DDTHH:MM:SS\" (project time, no "
       "zone)"},
      {R"({"profiles": [{"distinct_id": "a"}]})", "profiles[0].distinct_id: unknown field"},
  };
  Site s;
  const std::string before = s.part->state_part();
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.patch) {
      json seed = base_seed();
      seed.merge_patch(json::parse(c.patch));
      const std::string text = seed.dump();
      Status st = s.part->check(std::string_view(text));
      CHECK(st.code() == Status::Code::kInvalid);
      CHECK(st.message() == c.error);
      auto installed = s.part->install(std::string_view(text));
      REQUIRE_FALSE(installed.is_ok());
      CHECK(installed.status().message() == c.error);
      CHECK(s.part->state_part() == before);
    }
  }
  CHECK(s.part->check(std::string_view("[1]")).message() == "expected an object");
  CHECK(s.part->check(std::string_view("{")).message() == "expected a JSON object");
  CHECK(s.part->check(std::nullopt).is_ok());
  CHECK(s.part->check(base_seed().dump()).is_ok());
}
