// The sandbox's Mautic emulator over TLS, in the real binary: authentication (Basic, OAuth2
// client credentials) and its refusals, the contacts listing (its shape, search, where, orderBy,
// paging, select and minimal), do-not-contact and dateModified, segments, the webhook entity, the
// rate limit, errors, faults, the request log and the state. The expected answers are the
// reference's §3 and §5.1; docs/sandbox.md ("The Mautic API") says what is emulated.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "mautic_site.h"

using namespace concord::testing::mautic_site;

// ---- authentication ----------------------------------------------------------------------------

TEST_CASE("auth: Basic and bearer tokens are accepted; each refusal has Mautic's body") {
  Mautic m;
  struct Case {
    const char* name;
    std::string authorization;
    int status;
    std::string body;  // "" for a success
  };
  const std::vector<Case> cases = {
      {"Basic", basic(kUser, kPassword), 200, ""},
      {"wrong password", basic(kUser, "nope"), 401,
       R"({"errors":[{"message":"Authorization denied, invalid credentials.","code":401,"type":"access_denied"}]})"},
      {"unknown user", basic("someone", kPassword), 401,
       R"({"errors":[{"message":"Authorization denied, invalid credentials.","code":401,"type":"access_denied"}]})"},
      {"no credentials", "", 401,
       R"({"errors":[{"message":"OAuth2 authentication required","code":401,"type":"access_denied"}]})"},
      {"unknown bearer token", "Bearer not-a-token", 401,
       R"({"errors":[{"message":"The access token provided is invalid.","code":401,"type":"invalid_grant"}]})"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      m.auth = c.authorization;
      Answer a = m.get("/api/contacts?limit=1");
      CHECK(a.status == c.status);
      // Every API answer says which Mautic it is.
      CHECK(a.header("Mautic-Version") == "5.1.1");
      if (!c.body.empty()) CHECK(a.body == c.body);
    }
  }
}

TEST_CASE("auth: client credentials give a bearer token for an hour") {
  Mautic m;
  m.auth = "";
  Answer t = m.api("POST", "/oauth/v2/token",
                   std::string("grant_type=client_credentials&client_id=") + kClientId +
                       "&client_secret=" + kClientSecret);
  REQUIRE(t.status == 200);
  json token = t.j();
  CHECK(token["expires_in"] == 3600);
  CHECK(token["token_type"] == "bearer");
  CHECK(token["scope"] == "");
  const std::string access = token["access_token"];
  CHECK(access.size() >= 40);

  m.auth = "Bearer " + access;
  CHECK(m.get("/api/contacts").status == 200);
  // The token may also come as a parameter.
  m.auth = "";
  CHECK(m.get("/api/contacts?access_token=" + access).status == 200);

  m.advance(3599);
  m.auth = "Bearer " + access;
  CHECK(m.get("/api/contacts").status == 200);
  m.advance(1);
  Answer expired = m.get("/api/contacts");
  CHECK(expired.status == 401);
  CHECK(
      expired.body ==
      R"({"errors":[{"message":"The access token provided has expired.","code":401,"type":"invalid_grant"}]})");

  // The token endpoint's own refusals are OAuth2's.
  m.auth = "";
  Answer wrong = m.api(
      "POST", "/oauth/v2/token",
      std::string("grant_type=client_credentials&client_id=") + kClientId + "&client_secret=nope");
  CHECK(wrong.status == 400);
  CHECK(wrong.j()["error"] == "invalid_client");
  Answer grant = m.api("POST", "/oauth/v2/token", "grant_type=password&username=a&password=b");
  CHECK(grant.status == 400);
  CHECK(grant.j()["error"] == "unsupported_grant_type");
}

TEST_CASE("auth: the API and Basic auth can be switched off, each with its 403") {
  Mautic m;
  m.settings({{"basic_auth_enabled", false}});
  Answer basic_off = m.get("/api/contacts");
  CHECK(basic_off.status == 403);
  CHECK(
      basic_off.body ==
      R"({"errors":[{"message":"Basic Auth disabled. You need to enable HTTP basic auth in the API settings of Mautic's Configuration.","code":403,"type":"access_denied"}]})");

  m.settings({{"basic_auth_enabled", true}, {"api_enabled", false}});
  Answer api_off = m.get("/api/contacts");
  CHECK(api_off.status == 403);
  CHECK(
      api_off.body ==
      R"({"errors":[{"message":"API disabled. You need to enable the API in the API settings of Mautic's Configuration.","code":403,"type":"api_disabled"}]})");
  m.auth = "";
  CHECK(m.api("POST", "/oauth/v2/token", "grant_type=client_credentials").status == 403);
}

// ---- contacts ----------------------------------------------------------------------------------

TEST_CASE("contacts: an object keyed by id, a string total, {} when empty") {
  Mautic m;
  Answer a = m.get("/api/contacts?orderBy=id");
  REQUIRE(a.status == 200);
  json j = a.j();
  CHECK(j["total"] == "5");
  CHECK(ids_of(j) == std::vector<int>{1, 2, 3, 5, 7});

  const json& alice = j["contacts"]["1"];
  CHECK(alice["id"] == 1);
  CHECK(alice["dateAdded"] == "2024-05-01T10:00:00+00:00");
  CHECK(alice["dateModified"] == "2024-05-01T10:00:00+00:00");
  CHECK(alice["points"] == 10);
  CHECK(alice["tags"][0]["tag"] == "vip");
  CHECK(alice["doNotContact"] == json::array());
  CHECK(alice["fields"]["all"]["email"] == "alice@example.org");
  CHECK(alice["fields"]["all"]["id"] == 1);
  CHECK(alice["fields"]["all"]["mobile"].is_null());
  const json& email = alice["fields"]["core"]["email"];
  CHECK(email == json::parse(R"({"id":"6","label":"Email","alias":"email","type":"email",
                                 "group":"core","value":"alice@example.org"})"));
  // An empty field group is PHP's empty array.
  CHECK(alice["fields"]["personal"] == json::array());
  CHECK(alice["fields"]["professional"]["plan"]["value"].is_null());

  const json& bob = j["contacts"]["2"];
  REQUIRE(bob["doNotContact"].size() == 1);
  CHECK(bob["doNotContact"][0] ==
        json::parse(R"({"id":1,"dateAdded":"2024-05-04T09:00:00+00:00","reason":1,
                        "comments":"User unsubscribed.","channel":"email","channelId":null})"));

  // PHP's json_encode: '/' escaped, non-ASCII as \uXXXX.
  CHECK(a.body.find(R"("dave\/slash@example.org")") != std::string::npos);
  CHECK(a.body.find(R"("D\u00e4vid")") != std::string::npos);

  // Without orderBy: the most recently active first (LeadRepository's default order).
  CHECK(ids_of(m.get("/api/contacts").j()) == std::vector<int>{2, 1, 3, 5, 7});

  Answer none = m.get("/api/contacts?search=email:nobody");
  CHECK(none.body == R"({"total":"0","contacts":{}})");
}

TEST_CASE("contacts: one contact, and an unknown one") {
  Mautic m;
  Answer a = m.get("/api/contacts/2");
  REQUIRE(a.status == 200);
  CHECK(a.j()["contact"]["fields"]["all"]["firstname"] == "Bob");
  Answer missing = m.get("/api/contacts/999");
  CHECK(missing.status == 404);
  CHECK(missing.body ==
        R"({"errors":[{"code":404,"message":"Item was not found.","details":[],"type":null}]})");
  CHECK(m.get("/api/contacts/abc").status == 404);
}

TEST_CASE("contacts: where on id, email and the dates, with each operator") {
  Mautic m;
  auto where = [](const std::string& col, const std::string& expr, const std::string& val) {
    return "where[0][col]=" + col + "&where[0][expr]=" + expr +
           "&where[0][val]=" + concord::http::url_encode(val);
  };
  struct Case {
    std::string query;
    std::vector<int> ids;
  };
  const std::vector<Case> cases = {
      {where("date_modified", "gte", "2024-05-04 09:00:00"), {2, 3, 5, 7}},
      {where("date_modified", "gt", "2024-05-04 09:00:00"), {3, 5, 7}},
      {where("date_modified", "lt", "2024-05-04 09:00:00"), {1}},
      {where("date_modified", "lte", "2024-05-04 09:00:00"), {1, 2}},
      {where("date_modified", "eq", "2024-05-04 09:00:00"), {2}},
      // ISO 8601 with an offset is the same instant in UTC.
      {where("date_modified", "gte", "2024-05-04T11:00:00+02:00"), {2, 3, 5, 7}},
      {where("date_added", "gte", "2024-05-04"), {5, 7}},
      {where("l.date_added", "lt", "2024-05-02 10:00:01"), {1, 2}},
      {where("id", "in", "1,3,9"), {1, 3}},
      {where("id", "neq", "1"), {2, 3, 5, 7}},
      {where("id", "gt", "3"), {5, 7}},
      // Case-insensitive, as MySQL's collation.
      {where("email", "eq", "ALICE@example.org"), {1}},
      {where("email", "like", "%@example.org"), {1, 2, 5}},
      // A NULL column matches no comparison, neq included: the anonymous contact is not listed.
      {where("email", "neq", "alice@example.org"), {2, 3, 5}},
      {where("email", "isNull", ""), {7}},
      {where("email", "notLike", "%@example.org"), {3}},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.query) {
      Answer a = m.get("/api/contacts?orderBy=id&" + c.query);
      REQUIRE(a.status == 200);
      CHECK(ids_of(a.j()) == c.ids);
      CHECK(a.j()["total"] == std::to_string(c.ids.size()));
    }
  }
  SECTION("two items must both hold") {
    Answer a = m.get("/api/contacts?orderBy=id&" + where("date_modified", "gte", "2024-05-04") +
                     "&where[1][col]=email&where[1][expr]=like&where[1][val]=%25.org");
    CHECK(ids_of(a.j()) == std::vector<int>{2, 5});
  }
  SECTION("a bad column or time is the 400 shape, naming it") {
    Answer bad = m.get("/api/contacts?" + where("nope", "eq", "1"));
    CHECK(bad.status == 400);
    CHECK(
        bad.body ==
        R"({"errors":[{"code":400,"message":"This is a bad request.","details":["where[0][col]: unknown column \"nope\""],"type":null}]})");
    CHECK(m.get("/api/contacts?" + where("date_modified", "gte", "yesterday")).status == 400);
    CHECK(m.get("/api/contacts?" + where("id", "sideways", "1")).status == 400);
  }
}

TEST_CASE("contacts: search by segment, ids and email") {
  Mautic m;
  struct Case {
    std::string search;
    std::vector<int> ids;
  };
  const std::vector<Case> cases = {
      {"segment:newsletter", {1, 2, 5}},
      {"segment:customers", {3}},
      {"segment:no-such-segment", {}},
      {"!segment:newsletter", {3, 7}},
      {"ids:1,3,7", {1, 3, 7}},
      // email: is a prefix, as Mautic's LIKE 'x%'; quoted, the whole value.
      {"email:alice", {1}},
      {"email:\"alice\"", {}},
      {"email:\"bob@example.org\"", {2}},
      {"segment:newsletter email:bob", {2}},
      {"firstname:car", {3}},
      {"liddell", {1}},
      {"dnc:email", {2}},
      {"is:anonymous", {7}},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.search) {
      Answer a = m.get("/api/contacts?orderBy=id&search=" + concord::http::url_encode(c.search));
      REQUIRE(a.status == 200);
      CHECK(ids_of(a.j()) == c.ids);
    }
  }
  SECTION("a command the sandbox does not emulate is refused, not ignored") {
    Answer a = m.get("/api/contacts?search=owner:joe");
    CHECK(a.status == 400);
    CHECK(a.j()["errors"][0]["message"] == "This is a bad request.");
  }
}

TEST_CASE("contacts: orderBy, paging with start and limit (30 by default, no maximum)") {
  json seed = base_seed();
  seed["contacts"] = json::array();
  seed["segments"] = json::array();
  for (int i = 1; i <= 75; ++i) {
    char modified[40];
    // Modified in the reverse order of their ids, a minute apart.
    std::snprintf(modified, sizeof modified, "2024-05-10T%02d:%02d:00+00:00", (100 - i) / 60,
                  (100 - i) % 60);
    seed["contacts"].push_back(
        {{"id", i},
         {"dateAdded", "2024-05-01T00:00:00+00:00"},
         {"dateModified", modified},
         {"fields", {{"all", {{"email", "p" + std::to_string(i) + "@x.org"}}}}}});
  }
  Mautic m(seed);
  json first = m.get("/api/contacts?orderBy=id").j();
  CHECK(first["total"] == "75");
  CHECK(first["contacts"].size() == 30);
  CHECK(ids_of(first).front() == 1);

  // Paging by date_modified, as an incremental reader does.
  std::vector<int> seen;
  for (int start = 0; start < 75; start += 20) {
    json page = m.get("/api/contacts?orderBy=date_modified&orderByDir=ASC&limit=20&start=" +
                      std::to_string(start))
                    .j();
    for (int id : ids_of(page))
      seen.push_back(id);
  }
  REQUIRE(seen.size() == 75);
  CHECK(seen.front() == 75);
  CHECK(seen.back() == 1);

  json desc = m.get("/api/contacts?orderBy=id&orderByDir=DESC&limit=2").j();
  CHECK(ids_of(desc) == std::vector<int>{75, 74});
  CHECK(m.get("/api/contacts?limit=500").j()["contacts"].size() == 75);
  CHECK(m.get("/api/contacts?start=70&orderBy=id").j()["contacts"].size() == 5);
  CHECK(m.get("/api/contacts?orderBy=nope").status == 400);
  CHECK(m.get("/api/contacts?limit=ten").status == 400);
}

TEST_CASE("contacts: select[] restricts the columns; minimal drops doNotContact and tags") {
  Mautic m;
  json only_id = m.get("/api/contacts?orderBy=id&select[]=id").j();
  for (auto& [id, c] : only_id["contacts"].items())
    CHECK(c == json{{"id", std::stoi(id)}});

  json some =
      m.get("/api/contacts?orderBy=id&select[]=id&select[]=email&select[]=date_modified").j();
  CHECK(some["contacts"]["2"] == json::parse(R"({"id":2,"dateModified":"2024-05-04T09:00:00+00:00",
                                                 "fields":{"all":{"id":2,"email":"bob@example.org"}}})"));

  json minimal = m.get("/api/contacts?orderBy=id&minimal=1").j();
  const json& bob = minimal["contacts"]["2"];
  CHECK_FALSE(bob.contains("doNotContact"));
  CHECK_FALSE(bob.contains("tags"));
  CHECK_FALSE(bob.contains("owner"));
  CHECK(bob["fields"]["all"]["email"] == "bob@example.org");
  CHECK(bob["dateModified"] == "2024-05-04T09:00:00+00:00");
}

TEST_CASE("contacts: published=1 leaves unpublished contacts out") {
  Mautic m;
  CHECK(ids_of(m.get("/api/contacts?orderBy=id&published=1").j()) == std::vector<int>{1, 2, 5, 7});
}

// ---- do not contact ----------------------------------------------------------------------------

TEST_CASE("dnc: add and remove answer the contact; a DNC-only change keeps dateModified") {
  Mautic m;
  Answer add = m.api("POST", "/api/contacts/1/dnc/email/add", "reason=2&comments=Bounced");
  REQUIRE(add.status == 200);
  json alice = add.j()["contact"];
  REQUIRE(alice["doNotContact"].size() == 1);
  CHECK(alice["doNotContact"][0]["reason"] == 2);
  CHECK(alice["doNotContact"][0]["comments"] == "Bounced");
  CHECK(alice["doNotContact"][0]["channel"] == "email");
  CHECK(alice["doNotContact"][0]["dateAdded"] == kNow);
  // Recent Mautic: the save whose only change is DNC does not move dateModified, so a reader
  // polling by date_modified does not see it.
  CHECK(alice["dateModified"] == "2024-05-01T10:00:00+00:00");
  CHECK(ids_of(m.get("/api/contacts?where[0][col]=date_modified&where[0][expr]=gte&where[0][val]="
                     "2024-05-20")
                   .j())
            .empty());
  CHECK(m.get("/api/contacts/1").j()["contact"]["doNotContact"][0]["reason"] == 2);

  Answer zero = m.api("POST", "/api/contacts/1/dnc/email/add", "reason=0");
  CHECK(zero.status == 400);
  CHECK(
      zero.body ==
      R"({"errors":[{"code":400,"message":"Invalid reason code given","details":["Reason code needs to be an integer and higher than 0."],"type":null}]})");

  // Without a reason: 3, manual. JSON bodies work too.
  json sms = m.api("POST", "/api/contacts/1/dnc/sms/add", "{}", "application/json").j();
  CHECK(sms["contact"]["doNotContact"][1]["reason"] == 3);
  CHECK(sms["contact"]["doNotContact"][1]["channel"] == "sms");

  Answer removed = m.api("POST", "/api/contacts/1/dnc/email/remove");
  REQUIRE(removed.status == 200);
  CHECK(removed.j()["recordFound"] == true);
  CHECK(removed.j()["contact"]["doNotContact"].size() == 1);
  CHECK(removed.j()["contact"]["dateModified"] == "2024-05-01T10:00:00+00:00");
  Answer again = m.api("POST", "/api/contacts/1/dnc/email/remove");
  CHECK(again.j()["recordFound"] == false);

  CHECK(m.api("POST", "/api/contacts/999/dnc/email/add").status == 404);
  CHECK(m.get("/api/contacts/1/dnc/email/add").status == 405);
}

TEST_CASE("dnc: the older Mautic's behaviour, where a DNC change moves dateModified") {
  Mautic m;
  m.settings({{"dnc_updates_date_modified", true}});
  json alice = m.api("POST", "/api/contacts/1/dnc/email/add", "reason=1").j()["contact"];
  CHECK(alice["dateModified"] == kNow);
  CHECK(alice["modifiedByUser"] == "Sandbox Admin");
}

// ---- segments ----------------------------------------------------------------------------------

TEST_CASE("segments: an array with an integer total; one segment; a contact's segments") {
  Mautic m;
  json all = m.get("/api/segments").j();
  CHECK(all["total"] == 2);
  REQUIRE(all["lists"].is_array());
  CHECK(all["lists"][0]["alias"] == "newsletter");
  CHECK(all["lists"][0]["filters"] == json::array());
  CHECK(m.get("/api/segments?search=cust").j()["total"] == 1);
  CHECK(m.get("/api/segments?limit=1&start=1").j()["lists"][0]["id"] == 2);

  json one = m.get("/api/segments/2").j();
  CHECK(one["list"]["name"] == "Customers");
  Answer missing = m.get("/api/segments/99");
  CHECK(missing.status == 404);
  CHECK(missing.j()["errors"][0]["code"] == 404);

  json carol = m.get("/api/contacts/3/segments").j();
  CHECK(carol["total"] == 1);
  CHECK(carol["lists"]["2"]["alias"] == "customers");
  CHECK(carol["lists"]["2"]["manuallyAdded"] == true);
  CHECK(carol["lists"]["2"]["manuallyRemoved"] == false);
  CHECK(m.get("/api/contacts/7/segments").body == R"({"total":0,"lists":[]})");
}

TEST_CASE("segments: members added and removed; the contact's dateModified stays") {
  Mautic m;
  Answer add = m.api("POST", "/api/segments/1/contact/3/add");
  CHECK(add.status == 200);
  CHECK(add.body == R"({"success":1})");
  CHECK(ids_of(m.get("/api/contacts?orderBy=id&search=segment:newsletter").j()) ==
        std::vector<int>{1, 2, 3, 5});
  CHECK(m.get("/api/contacts/3").j()["contact"]["dateModified"] == "2024-05-05T12:30:00+00:00");

  CHECK(m.api("POST", "/api/segments/1/contact/1/remove").body == R"({"success":1})");
  CHECK(ids_of(m.get("/api/contacts?orderBy=id&search=segment:newsletter").j()) ==
        std::vector<int>{2, 3, 5});

  Answer no_contact = m.api("POST", "/api/segments/1/contact/999/add");
  CHECK(no_contact.status == 404);
  CHECK(no_contact.j()["errors"][0]["message"] == "Contact not found.");
  Answer no_segment = m.api("POST", "/api/segments/99/contact/1/add");
  CHECK(no_segment.status == 404);
  CHECK(no_segment.j()["errors"][0]["message"] == "Item was not found.");

  Answer many = m.api("POST", "/api/segments/2/contacts/add", "ids[]=7&ids[]=999");
  CHECK(many.body == R"({"success":1,"details":{"7":{"success":true},"999":{"success":false}}})");
  Answer json_ids =
      m.api("POST", "/api/segments/2/contacts/add", R"({"ids":[1]})", "application/json");
  CHECK(json_ids.j()["details"]["1"]["success"] == true);
  CHECK(ids_of(m.get("/api/contacts?orderBy=id&search=segment:customers").j()) ==
        std::vector<int>{1, 3, 7});
  Answer no_ids = m.api("POST", "/api/segments/2/contacts/add");
  CHECK(no_ids.status == 400);
  CHECK(no_ids.j()["errors"][0]["message"] == "This is a bad request.");
}

// ---- the webhook entity ------------------------------------------------------------------------

TEST_CASE("hooks: create, read, edit and delete; a secret is generated when empty") {
  Mautic m;
  Answer created = m.api(
      "POST", "/api/hooks/new",
      R"({"name":"concord","webhookUrl":"https://example.org/hook","triggers":["mautic.lead_post_save_update"]})",
      "application/json");
  REQUIRE(created.status == 201);
  json hook = created.j()["hook"];
  const int id = hook["id"];
  CHECK(hook["isPublished"] == true);
  CHECK(hook["webhookUrl"] == "https://example.org/hook");
  CHECK(hook["secret"].get<std::string>().size() == 64);
  CHECK(hook["triggers"] == json{"mautic.lead_post_save_update"});
  CHECK(created.body.find(R"(https:\/\/example.org\/hook)") != std::string::npos);

  const std::string path = "/api/hooks/" + std::to_string(id);
  CHECK(m.get(path).j()["hook"]["name"] == "concord");
  json list = m.get("/api/hooks").j();
  CHECK(list["total"] == 1);
  CHECK(list["hooks"][0]["id"] == id);

  // PATCH adds triggers; PUT replaces them.
  json patched = m.api("PATCH", path + "/edit",
                       "triggers[]=mautic.lead_post_delete&secret=mine&eventsOrderbyDir=DESC")
                     .j()["hook"];
  CHECK(patched["triggers"] == json{"mautic.lead_post_save_update", "mautic.lead_post_delete"});
  CHECK(patched["secret"] == "mine");
  CHECK(patched["eventsOrderbyDir"] == "DESC");
  json put =
      m.api(
           "PUT", path + "/edit",
           R"({"name":"concord","webhookUrl":"https://example.org/hook2","triggers":["mautic.lead_list_change"]})",
           "application/json")
          .j()["hook"];
  CHECK(put["triggers"] == json{"mautic.lead_list_change"});
  CHECK(put["secret"].get<std::string>() != "mine");  // not given: a new one
  // PUT on a missing hook creates one; PATCH does not.
  CHECK(m.api("PUT", "/api/hooks/99/edit", "name=x&webhookUrl=https://example.org/x").status ==
        201);
  CHECK(m.api("PATCH", "/api/hooks/98/edit", "name=x").status == 404);

  Answer bad = m.api("POST", "/api/hooks/new", "name=x&webhookUrl=not a url");
  CHECK(bad.status == 400);
  CHECK(bad.j()["errors"][0]["details"].contains("webhookUrl"));
  CHECK(m.api("POST", "/api/hooks/new", "webhookUrl=https://example.org").status == 400);
  CHECK(m.api("POST", "/api/hooks/new",
              "name=x&webhookUrl=https://example.org&triggers[]=mautic.no_such_event")
            .status == 400);

  Answer deleted = m.api("DELETE", path + "/delete");
  CHECK(deleted.status == 200);
  CHECK(deleted.j()["hook"]["id"].is_null());
  CHECK(m.get(path).status == 404);
}

TEST_CASE("hooks: triggers lists the contact events") {
  Mautic m;
  json t = m.get("/api/hooks/triggers").j()["triggers"];
  for (const char* key : {"mautic.lead_post_save_new", "mautic.lead_post_save_update",
                          "mautic.lead_points_change", "mautic.lead_post_delete",
                          "mautic.lead_channel_subscription_changed", "mautic.lead_list_change"}) {
    CHECK(t.contains(key));
    CHECK(t[key].contains("label"));
  }
}

// ---- limits, errors, faults, the log, the state ------------------------------------------------

TEST_CASE("rate limit: N calls an hour with the headers, then 429") {
  Mautic m;
  m.settings({{"rate_limit_per_hour", 2}});
  Answer first = m.get("/api/segments");
  CHECK(first.status == 200);
  CHECK(first.header("X-RateLimit-Limit") == "2");
  CHECK(first.header("X-RateLimit-Remaining") == "1");
  CHECK(first.header("X-RateLimit-Reset") == "1717203600");  // kNow + 1 h
  CHECK(m.get("/api/segments").header("X-RateLimit-Remaining") == "0");
  Answer refused = m.get("/api/segments");
  CHECK(refused.status == 429);
  CHECK(
      refused.body ==
      R"({"errors":[{"code":429,"message":"You exceeded the rate limit of 2 API calls per hour.","details":[]}]})");
  m.advance(3600);
  CHECK(m.get("/api/segments").status == 200);
}

TEST_CASE("errors: unknown routes, other methods and bad bodies have the error shape") {
  Mautic m;
  CHECK(m.get("/api/nothing").status == 404);
  Answer method = m.api("DELETE", "/api/contacts");
  CHECK(method.status == 405);
  CHECK(method.j()["errors"][0]["code"] == 405);
  Answer body = m.api("POST", "/api/hooks/new", "{not json", "application/json");
  CHECK(body.status == 400);
  CHECK(body.j()["errors"][0]["message"] == "This is a bad request.");
  // Some installs serve the API under /index.php.
  CHECK(m.get("/index.php/api/contacts/1").status == 200);
}

TEST_CASE("faults and the request log: an injected 503, then the call logged as mautic") {
  Mautic m;
  REQUIRE(m.admin("POST", "/_sandbox/faults", {{"part", "mautic"}, {"next", {"503"}}}).status ==
          200);
  Answer faulted = m.get("/api/contacts");
  CHECK(faulted.status == 503);
  CHECK(faulted.header("Content-Type") == "text/html");
  CHECK(m.get("/api/contacts").status == 200);
  json log = m.admin("GET", "/_sandbox/requests?part=mautic").j();
  REQUIRE(log["requests"].size() == 2);
  CHECK(log["requests"][0]["fault"] == "503");
  CHECK(log["requests"][1]["path"] == "/api/contacts");
}

TEST_CASE("state: /_sandbox/state holds the mautic object, which a reset reloads exactly") {
  Mautic m;
  m.api("POST", "/api/contacts/1/dnc/email/add", "reason=1");
  m.api("POST", "/api/segments/2/contact/1/add");
  m.admin("POST", "/_sandbox/mautic/contacts", {{"fields", {{"email", "new@x.org"}}}});
  json state = m.admin("GET", "/_sandbox/state").j();
  REQUIRE(state.contains("mautic"));
  const json before = state["mautic"];
  CHECK(before["contacts"].size() == 6);
  CHECK(before["segments"][1]["members"].size() == 2);

  json reset = json::object();
  reset["mautic"] = before;
  reset["clock"] = kNow;
  Answer r = m.admin("POST", "/_sandbox/reset", reset);
  REQUIRE(r.status == 200);
  CHECK(r.j()["mautic"]["contacts"] == 6);
  CHECK(m.admin("GET", "/_sandbox/state").j()["mautic"] == before);

  const json bad = json::parse(R"({"mautic":{"contacts":[{"fields":{"all":{"emial":"x"}}}]}})");
  Answer refused = m.admin("POST", "/_sandbox/reset", bad);
  CHECK(refused.status == 400);
  CHECK(refused.j()["detail"] == "mautic.contacts[0].fields.all.emial: not a contact field");
}
