// The sandbox's Mailchimp emulator: interest categories and interests (groups), on members, in
// batch subscribe, in member filters and in webhooks; static segments, which are the list's tags,
// with their bulk add and remove; member events; the operations that take a subscriber hash only;
// and the seed and state of all of these (reference §8, §15, §16; docs/sandbox.md).
#include "mailchimp_site.h"

using namespace concord::testing::mailchimp_site;

namespace {

using ojson = nlohmann::ordered_json;

const std::string kList = std::string("/3.0/lists/") + kListId;
const std::string kCategories = kList + "/interest-categories";
const std::string kSegments = kList + "/segments";
constexpr const char* kSchemaDetail =
    "The resource submitted could not be validated. For field-specific details, see the 'errors' "
    "array.";

json post_ok(Box& box, const std::string& target, const std::string& body) {
  auto r = box.call("POST", target, body);
  INFO(target << " " << body << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

// A category with interests named `names`; returns {category id, interest ids...}.
std::vector<std::string> make_group(Box& box, const std::string& title,
                                    const std::vector<std::string>& names,
                                    const std::string& type = "checkboxes") {
  json cat = post_ok(box, kCategories, json{{"title", title}, {"type", type}}.dump());
  std::vector<std::string> ids{cat["id"].get<std::string>()};
  for (const std::string& n : names) {
    json in = post_ok(box, kCategories + "/" + ids[0] + "/interests", json{{"name", n}}.dump());
    ids.push_back(in["id"]);
  }
  return ids;
}

// The fixture with `n` more subscribed members, member0@quarry.org … member<n-1>@quarry.org.
std::string seed_with_members(int n) {
  json seed = json::parse(fixture());
  json& members = seed["mailchimp"]["lists"][0]["members"];
  for (int i = 0; i < n; ++i) {
    members.push_back({{"email_address", "member" + std::to_string(i) + "@quarry.org"},
                       {"status", "subscribed"},
                       {"last_changed", "2026-01-01T00:00:00+00:00"}});
  }
  return seed.dump();
}

std::vector<std::string> emails_of(const json& members) {
  std::vector<std::string> out;
  for (const json& m : members)
    out.push_back(m["email_address"]);
  return out;
}

std::vector<std::string> quarry(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i)
    v.push_back("member" + std::to_string(i) + "@quarry.org");
  return v;
}

}  // namespace

// ---- interest categories and interests
// -----------------------------------------------------------

TEST_CASE("interest categories: create, read, update, delete, with the API's fields and errors") {
  Box box;
  json cat =
      post_ok(box, kCategories, R"({"title":"Topics","type":"checkboxes","display_order":3})");
  std::string id = cat["id"];
  CHECK(id.size() == 10);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(cat["list_id"] == kListId);
  CHECK(cat["title"] == "Topics");
  CHECK(cat["display_order"] == 3);
  CHECK(cat["type"] == "checkboxes");
  CHECK(cat["_links"][0]["href"] ==
        "https://us6.api.mailchimp.com/3.0/lists/b3d1c0ffee/interest-categories/" + id);
  // The keys in the spec's order.
  std::vector<std::string> keys;
  ojson ordered = ojson::parse(box.call("GET", kCategories + "/" + id).body);
  for (auto it = ordered.begin(); it != ordered.end(); ++it)
    keys.push_back(it.key());
  CHECK(keys ==
        std::vector<std::string>{"list_id", "id", "title", "display_order", "type", "_links"});
  CHECK(json::parse(box.call("GET", kCategories + "/" + id).body) == cat);

  // Both schemas require title and type.
  auto missing = box.call("POST", kCategories, R"({"title":"Colours"})");
  check_problem(missing, 400, "Invalid Resource", kSchemaDetail);
  CHECK(body_of(missing)["errors"][0] ==
        json{{"field", ""}, {"message", "Required fields were not provided: type"}});
  auto bad_type = box.call("POST", kCategories, R"({"title":"Colours","type":"list"})");
  CHECK(body_of(bad_type)["errors"][0]["field"] == "type");
  CHECK(body_of(bad_type)["errors"][0]["message"] ==
        "Data presented is not one of the accepted values: checkboxes, dropdown, radio, hidden.");
  CHECK(box.call("POST", kCategories, R"({"title":"Colours","type":"radio","display_order":"1"})")
            .status == 400);
  CHECK(box.call("POST", kCategories, "{not json").status == 400);
  CHECK(body_of(box.call("POST", kCategories, R"({"title":"  ","type":"radio"})"))["errors"][0] ==
        json{{"field", "title"}, {"message", "This value should not be blank."}});
  check_problem(box.call("POST", kCategories, R"({"title":"topics","type":"hidden"})"), 400,
                "Invalid Resource", "Cannot add \"topics\" because it already exists on the list.");

  auto patched =
      box.call("PATCH", kCategories + "/" + id, R"({"title":"Subjects","type":"hidden"})");
  REQUIRE(patched.status == 200);
  CHECK(body_of(patched)["title"] == "Subjects");
  CHECK(body_of(patched)["type"] == "hidden");
  CHECK(body_of(patched)["display_order"] == 3);
  CHECK(box.call("PATCH", kCategories + "/" + id, R"({"title":"Only a title"})").status == 400);
  CHECK(box.get(kCategories + "/" + id)["title"] == "Subjects");
  check_problem(box.call("GET", kCategories + "/0123456789"), 404, "Resource Not Found",
                "The requested resource could not be found.");
  auto put = box.call("PUT", kCategories + "/" + id, "{}");
  CHECK(put.status == 405);
  CHECK(put.header("Allow") == "GET, PATCH, DELETE");
  auto del = box.call("DELETE", kCategories + "/" + id);
  CHECK(del.status == 204);
  CHECK(del.body.empty());
  CHECK(box.call("GET", kCategories + "/" + id).status == 404);
  CHECK(box.call("DELETE", kCategories + "/" + id).status == 404);
}

TEST_CASE("interest categories: count defaults to 10, offset, total_items, type filter") {
  Box box;
  for (int i = 0; i < 12; ++i) {
    post_ok(box, kCategories,
            json{{"title", "Q" + std::to_string(i)},
                 {"type", i % 3 == 0 ? "radio" : "checkboxes"},
                 {"display_order", 12 - i}}
                .dump());
  }
  json page = box.get(kCategories);
  CHECK(page["list_id"] == kListId);
  CHECK(page["total_items"] == 12);
  REQUIRE(page["categories"].size() == 10);
  // Listed by display_order.
  CHECK(page["categories"][0]["title"] == "Q11");
  CHECK(page["categories"][9]["title"] == "Q2");
  json rest = box.get(kCategories + "?count=5&offset=10");
  REQUIRE(rest["categories"].size() == 2);
  CHECK(rest["categories"][1]["title"] == "Q0");
  CHECK(box.get(kCategories + "?count=0")["categories"].empty());
  json radios = box.get(kCategories + "?type=radio&fields=categories.title,total_items");
  CHECK(radios ==
        json{{"categories",
              {{{"title", "Q9"}}, {{"title", "Q6"}}, {{"title", "Q3"}}, {{"title", "Q0"}}}},
             {"total_items", 4}});
}

TEST_CASE("interests: create, read, update, delete, paging, subscriber_count as a string") {
  Box box;
  std::string cat = post_ok(box, kCategories, R"({"title":"Topics","type":"checkboxes"})")["id"];
  std::string coll = kCategories + "/" + cat + "/interests";
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    json in = post_ok(box, coll, json{{"name", "Topic " + std::to_string(i)}}.dump());
    ids.push_back(in["id"]);
    if (i == 0) {
      CHECK(in["category_id"] == cat);
      CHECK(in["list_id"] == kListId);
      CHECK(in["name"] == "Topic 0");
      CHECK(in["subscriber_count"] == "0");
      CHECK(in["display_order"] == 0);
      CHECK(in["id"].get<std::string>().size() == 10);
    }
  }
  json page = box.get(coll);
  CHECK(page["total_items"] == 12);
  CHECK(page["category_id"] == cat);
  CHECK(page["list_id"] == kListId);
  CHECK(page["interests"].size() == 10);
  CHECK(box.get(coll + "?offset=10&count=10")["interests"].size() == 2);
  CHECK(box.get(coll + "?count=1000")["interests"].size() == 12);

  // subscriber_count counts subscribed members in the group, written as text.
  REQUIRE(box.call("PATCH", member_path("wilma@bedrock.org"),
                   json{{"interests", {{ids[0], true}, {ids[1], true}}}}.dump())
              .status == 200);
  REQUIRE(box.call("PATCH", member_path("fred@bedrock.org"),
                   json{{"interests", {{ids[0], true}}}}.dump())
              .status == 200);
  REQUIRE(box.call("PATCH", member_path("barney@bedrock.org"),
                   json{{"interests", {{ids[0], true}}}}.dump())
              .status == 200);  // unsubscribed: not counted
  CHECK(box.get(coll + "/" + ids[0])["subscriber_count"] == "2");
  CHECK(box.get(coll + "/" + ids[1])["subscriber_count"] == "1");
  CHECK(box.get(coll + "?count=1")["interests"][0]["subscriber_count"] == "2");

  auto renamed = box.call("PATCH", coll + "/" + ids[1], R"({"name":"Events","display_order":7})");
  REQUIRE(renamed.status == 200);
  CHECK(body_of(renamed)["name"] == "Events");
  CHECK(body_of(renamed)["display_order"] == 7);
  CHECK(box.call("PATCH", coll + "/" + ids[1], R"({"display_order":1})").status == 400);
  check_problem(box.call("POST", coll, R"({"name":"events"})"), 400, "Invalid Resource",
                "Cannot add \"events\" because it already exists on the list.");
  CHECK(body_of(box.call("POST", coll, R"({"name":""})"))["errors"][0]["field"] == "name");
  auto missing = box.call("POST", coll, R"({"display_order":1})");
  CHECK(body_of(missing)["errors"][0]["message"] == "Required fields were not provided: name");

  // Deleting an interest takes it off the members.
  CHECK(box.call("DELETE", coll + "/" + ids[0]).status == 204);
  CHECK(box.call("GET", coll + "/" + ids[0]).status == 404);
  json w = box.get(member_path("wilma@bedrock.org"));
  CHECK_FALSE(w["interests"].contains(ids[0]));
  CHECK(w["interests"][ids[1]] == true);
  CHECK(box.get(coll)["total_items"] == 11);
  // An interest is addressed under its own category only.
  std::string other = post_ok(box, kCategories, R"({"title":"Other","type":"radio"})")["id"];
  CHECK(box.call("GET", kCategories + "/" + other + "/interests/" + ids[1]).status == 404);
  CHECK(box.call("GET", kCategories + "/nocategory/interests").status == 404);
  CHECK(box.call("POST", kCategories + "/nocategory/interests", R"({"name":"x"})").status == 404);
  // Deleting a category deletes its interests; without any, members have no `interests`.
  CHECK(box.call("DELETE", kCategories + "/" + cat).status == 204);
  CHECK(box.call("GET", coll.substr(0, coll.size() - 10)).status == 404);
  CHECK_FALSE(box.get(member_path("wilma@bedrock.org")).contains("interests"));
}

TEST_CASE("interests: at most 60 per list, across all categories") {
  Box box;
  std::string a = post_ok(box, kCategories, R"({"title":"A","type":"checkboxes"})")["id"];
  std::string b = post_ok(box, kCategories, R"({"title":"B","type":"checkboxes"})")["id"];
  std::string last;
  for (int i = 0; i < 60; ++i) {
    last = post_ok(box, kCategories + "/" + (i < 30 ? a : b) + "/interests",
                   json{{"name", "I" + std::to_string(i)}}.dump())["id"];
  }
  check_problem(box.call("POST", kCategories + "/" + a + "/interests", R"({"name":"one more"})"),
                400, "Invalid Resource",
                "Cannot have more than 60 interests per list (Across all categories)");
  // A freed place can be used again, and members do not inherit the old interest.
  REQUIRE(box.call("PATCH", member_path("wilma@bedrock.org"),
                   json{{"interests", {{last, true}}}}.dump())
              .status == 200);
  CHECK(box.call("DELETE", kCategories + "/" + b + "/interests/" + last).status == 204);
  std::string fresh =
      post_ok(box, kCategories + "/" + a + "/interests", R"({"name":"one more"})")["id"];
  CHECK(box.get(member_path("wilma@bedrock.org"))["interests"][fresh] == false);
}

// ---- interests on members
// --------------------------------------------------------------------------

TEST_CASE("member interests: absent without groups; every interest shown; PUT and PATCH write") {
  Box box;
  CHECK_FALSE(box.get(member_path("wilma@bedrock.org")).contains("interests"));
  auto g = make_group(box, "Topics", {"News", "Events", "Offers"});
  json w = box.get(member_path("wilma@bedrock.org"));
  CHECK(w["interests"] == json{{g[1], false}, {g[2], false}, {g[3], false}});

  // PUT creates a member in groups.
  auto put = box.call("PUT", member_path("betty@bedrock.org"),
                      json{{"email_address", "betty@bedrock.org"},
                           {"status_if_new", "subscribed"},
                           {"interests", {{g[1], true}, {g[3], true}}}}
                          .dump());
  REQUIRE(put.status == 200);
  CHECK(body_of(put)["interests"] == json{{g[1], true}, {g[2], false}, {g[3], true}});
  // PATCH changes the groups it names and leaves the others.
  box.advance(60);
  auto patch = box.call("PATCH", member_path("betty@bedrock.org"),
                        json{{"interests", {{g[1], false}, {g[2], true}}}}.dump());
  REQUIRE(patch.status == 200);
  CHECK(body_of(patch)["interests"] == json{{g[1], false}, {g[2], true}, {g[3], true}});
  CHECK(body_of(patch)["last_changed"] == "2026-03-01T00:01:00+00:00");
  // The same groups again change nothing, so last_changed stays.
  box.advance(60);
  auto same = box.call("PATCH", member_path("betty@bedrock.org"),
                       json{{"interests", {{g[2], true}}}}.dump());
  CHECK(body_of(same)["last_changed"] == "2026-03-01T00:01:00+00:00");
  // POST too, and `fields` reaches into the map.
  auto post = box.call("POST", kMembers,
                       json{{"email_address", "gazoo@bedrock.org"},
                            {"status", "subscribed"},
                            {"interests", {{g[2], true}}}}
                           .dump());
  REQUIRE(post.status == 200);
  CHECK(body_of(post)["interests"][g[2]] == true);
  CHECK(box.get(member_path("gazoo@bedrock.org") + "?fields=interests." + g[2]) ==
        json{{"interests", {{g[2], true}}}});
  json page = box.get(kMembers + "?count=1000&fields=members.email_address,members.interests");
  CHECK(page["members"][0]["interests"].size() == 3);
}

TEST_CASE("member interests: an unknown id and a wrong shape are 400 as the reference says") {
  Box box;
  auto g = make_group(box, "Topics", {"News"});
  auto r =
      box.call("PATCH", member_path("wilma@bedrock.org"), R"({"interests":{"c06bb4b529":true}})");
  check_problem(r, 400, "Invalid Resource", "Invalid interest ID: 'c06bb4b529'.");
  CHECK_FALSE(body_of(r).contains("errors"));
  // A category id is not an interest id.
  check_problem(
      box.call("PUT", member_path("wilma@bedrock.org"), json{{"interests", {{g[0], true}}}}.dump()),
      400, "Invalid Resource", "Invalid interest ID: '" + g[0] + "'.");
  auto arr = box.call("PATCH", member_path("wilma@bedrock.org"), R"({"interests":["x"]})");
  check_problem(arr, 400, "Invalid Resource", kSchemaDetail);
  CHECK(body_of(arr)["errors"][0] ==
        json{{"field", "interests"}, {"message", "Schema describes object, array found instead"}});
  auto str = box.call("PATCH", member_path("wilma@bedrock.org"),
                      json{{"interests", {{g[1], "yes"}}}}.dump());
  CHECK(body_of(str)["errors"][0]["field"] == "interests." + g[1]);
  // Nothing was written.
  CHECK(box.get(member_path("wilma@bedrock.org"))["interests"][g[1]] == false);
  CHECK(
      box.call(
             "POST", kMembers,
             R"({"email_address":"betty@bedrock.org","status":"subscribed","interests":{"nope":true}})")
          .status == 400);
  CHECK(box.call("GET", member_path("betty@bedrock.org")).status == 404);
}

TEST_CASE("member interests: batch subscribe writes them; an unknown id is an item error") {
  Box box;
  auto g = make_group(box, "Topics", {"News", "Events"});
  json body = {{"members",
                {{{"email_address", "betty@bedrock.org"},
                  {"status", "subscribed"},
                  {"interests", {{g[1], true}}}},
                 {{"email_address", "gazoo@bedrock.org"},
                  {"status", "subscribed"},
                  {"interests", {{"0000000000", true}}}},
                 {{"email_address", "wilma@bedrock.org"}, {"interests", {{g[2], true}}}}}},
               {"update_existing", true}};
  json r = post_ok(box, kList, body.dump());
  CHECK(r["total_created"] == 1);
  CHECK(r["total_updated"] == 1);
  REQUIRE(r["errors"].size() == 1);
  CHECK(r["errors"][0]["email_address"] == "gazoo@bedrock.org");
  CHECK(r["errors"][0]["error"] == "Invalid interest ID: '0000000000'.");
  CHECK(r["errors"][0]["error_code"] == "ERROR_GENERIC");
  CHECK(r["new_members"][0]["interests"] == json{{g[1], true}, {g[2], false}});
  CHECK(r["updated_members"][0]["interests"] == json{{g[1], false}, {g[2], true}});
  CHECK(box.call("GET", member_path("gazoo@bedrock.org")).status == 404);
}

TEST_CASE("members filter: interest_category_id + interest_ids + interest_match any/all/none") {
  Box box;
  auto g = make_group(box, "Topics", {"News", "Events"});
  auto other = make_group(box, "Other", {"Misc"});
  auto set = [&](const char* email, json interests) {
    REQUIRE(box.call("PATCH", member_path(email), json{{"interests", interests}}.dump()).status ==
            200);
  };
  set("wilma@bedrock.org", {{g[1], true}, {g[2], true}});
  set("fred@bedrock.org", {{g[1], true}});
  set("pebbles@bedrock.org", {{g[2], true}});
  auto emails = [&](const std::string& ids, const std::string& match) {
    json page = box.get(kMembers + "?status=subscribed&interest_category_id=" + g[0] +
                        "&interest_ids=" + ids + "&interest_match=" + match +
                        "&fields=members.email_address,total_items");
    CHECK(page["total_items"] == page["members"].size());
    return emails_of(page["members"]);
  };
  using V = std::vector<std::string>;
  CHECK(emails(g[1] + "," + g[2], "any") ==
        V{"wilma@bedrock.org", "fred@bedrock.org", "pebbles@bedrock.org"});
  CHECK(emails(g[1] + "," + g[2], "all") == V{"wilma@bedrock.org"});
  CHECK(emails(g[1], "none") == V{"pebbles@bedrock.org", "bamm-bamm@bedrock.org"});
  // The three go together; ids must belong to the category; the match is an enum.
  check_problem(box.call("GET", kMembers + "?interest_ids=" + g[1] + "&interest_match=any"), 400,
                "Invalid Resource",
                "interest_category_id, interest_ids and interest_match must be used together.");
  check_problem(box.call("GET", kMembers + "?interest_category_id=" + g[0] +
                                    "&interest_ids=" + other[1] + "&interest_match=any"),
                400, "Invalid Resource", "Invalid interest ID: '" + other[1] + "'.");
  auto bad = box.call("GET", kMembers + "?interest_category_id=" + g[0] + "&interest_ids=" + g[1] +
                                 "&interest_match=some");
  CHECK(body_of(bad)["errors"][0]["field"] == "interest_match");
}

TEST_CASE("webhooks: deliveries carry the member's groups by name (GROUPINGS, INTERESTS)") {
  Box box;
  auto topics = make_group(box, "Topics", {"News", "Events, talks", "Offers"});
  auto region = make_group(box, "Region", {"North", "South"}, "radio");
  REQUIRE(
      box.call(
             "POST", kList + "/webhooks",
             R"({"url":"https://crm.bedrock.org/mc","events":{"subscribe":true,"profile":true},"sources":{"user":true,"admin":true,"api":true}})")
          .status == 200);
  // A new member in groups: the subscribe delivery names them.
  REQUIRE(box.call("POST", kMembers,
                   json{{"email_address", "betty@bedrock.org"},
                        {"status", "subscribed"},
                        {"interests", {{topics[1], true}, {topics[2], true}, {region[2], true}}}}
                       .dump())
              .status == 200);
  // A change of groups in the preference centre is a profile change from the user.
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   json{{"action", "update"},
                        {"source", "user"},
                        {"email_address", "betty@bedrock.org"},
                        {"interests", {{topics[1], false}, {topics[3], true}}}}
                       .dump(),
                   "")
              .status == 200);
  // Admin-set groups through the same hook, on a member without any.
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   json{{"action", "update"},
                        {"email_address", "fred@bedrock.org"},
                        {"interests", {{region[1], true}}}}
                       .dump(),
                   "")
              .status == 200);
  box.mc->drain_webhooks();
  auto posts = box.web->posts();
  REQUIRE(posts.size() == 3);
  auto sub = form(posts[0].second.body);
  CHECK(sub["type"] == "subscribe");
  json cats = box.get(kCategories);
  std::string g0 = "data[merges][GROUPINGS][0]", g1 = "data[merges][GROUPINGS][1]";
  CHECK(sub[g0 + "[unique_id]"] == topics[0]);
  CHECK(sub[g0 + "[name]"] == "Topics");
  CHECK(sub[g0 + "[groups]"] == "News, Events, talks");
  CHECK(sub[g0 + "[id]"].find_first_not_of("0123456789") == std::string::npos);
  CHECK_FALSE(sub[g0 + "[id]"].empty());
  CHECK(sub[g1 + "[unique_id]"] == region[0]);
  CHECK(sub[g1 + "[name]"] == "Region");
  CHECK(sub[g1 + "[groups]"] == "South");
  CHECK(sub[g1 + "[id]"] != sub[g0 + "[id]"]);
  CHECK(sub["data[merges][INTERESTS]"] == "News, Events, talks");
  // The groups come after the merge fields, before the IPs, as in Mailchimp's samples.
  std::string body = posts[0].second.body;
  CHECK(body.find("GROUPINGS") > body.find("data%5Bmerges%5D%5BPHONE%5D"));
  CHECK(body.find("GROUPINGS") < body.find("data%5Bip_opt%5D"));
  auto profile = form(posts[1].second.body);
  CHECK(profile["type"] == "profile");
  CHECK(profile[g0 + "[groups]"] == "Events, talks, Offers");
  CHECK(profile[g1 + "[groups]"] == "South");
  json log = box.get("/_sandbox/mailchimp/deliveries");
  CHECK(log["deliveries"][1]["source"] == "user");
  CHECK(log["deliveries"][2]["source"] == "admin");
  auto fred = form(posts[2].second.body);
  CHECK(fred[g0 + "[groups]"] == "");
  CHECK(fred["data[merges][INTERESTS]"] == "");
  CHECK(fred[g1 + "[groups]"] == "North");
  CHECK(box.get(member_path("fred@bedrock.org"))["interests"][region[1]] == true);
}

TEST_CASE("webhooks: a list without groups sends no GROUPINGS") {
  Box box;
  REQUIRE(box.call("POST", kList + "/webhooks", R"({"url":"https://crm.bedrock.org/mc"})").status ==
          200);
  REQUIRE(
      box.call("POST", kMembers, R"({"email_address":"betty@bedrock.org","status":"subscribed"})")
          .status == 200);
  box.mc->drain_webhooks();
  auto posts = box.web->posts();
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].second.body.find("GROUPINGS") == std::string::npos);
  CHECK(posts[0].second.body.find("INTERESTS") == std::string::npos);
}

// ---- static segments (tags)
// ----------------------------------------------------------------------

TEST_CASE("segments: create with static_segment, read, list, rename, replace, delete") {
  Box box;
  box.advance(3600);
  json s = post_ok(
      box, kSegments,
      R"({"name":"CRM cohort 2024-Q2","static_segment":["wilma@bedrock.org","FRED@bedrock.org","nobody@bedrock.org","barney@bedrock.org"]})");
  CHECK(s["id"].is_number_integer());
  CHECK(s["name"] == "CRM cohort 2024-Q2");
  CHECK(s["type"] == "static");
  // member_count counts active subscribers: barney (unsubscribed) is in it but not counted.
  CHECK(s["member_count"] == 2);
  CHECK(s["created_at"] == "2026-03-01T01:00:00+00:00");
  CHECK(s["updated_at"] == "2026-03-01T01:00:00+00:00");
  CHECK(s["options"] == json{{"match", "any"}, {"conditions", json::array()}});
  CHECK(s["list_id"] == kListId);
  std::string self = kSegments + "/" + std::to_string(s["id"].get<int>());
  CHECK(box.get(self) == s);
  CHECK(box.get(self + "?include_unsubscribed=true")["member_count"] == 3);
  // The collection: the fixture's tag "volunteer" is a segment too.
  json all =
      box.get(kSegments + "?type=static&fields=segments.name,segments.member_count,total_items");
  CHECK(all == json{{"segments",
                     {{{"name", "volunteer"}, {"member_count", 1}},
                      {{"name", "CRM cohort 2024-Q2"}, {"member_count", 2}}}},
                    {"total_items", 2}});
  CHECK(box.get(kSegments + "?type=saved")["total_items"] == 0);
  CHECK(box.get(kSegments + "?since_created_at=2026-03-01T00:30:00Z")["total_items"] == 1);
  CHECK(box.get(kSegments + "?before_created_at=2026-03-01T00:30:00Z")["total_items"] == 1);
  CHECK(box.call("GET", kSegments + "?type=smart").status == 400);

  // PATCH renames and, with static_segment, replaces the members.
  box.advance(60);
  auto p = box.call(
      "PATCH", self,
      R"({"name":"Cohort Q2","static_segment":["pebbles@bedrock.org","wilma@bedrock.org"]})");
  REQUIRE(p.status == 200);
  CHECK(body_of(p)["name"] == "Cohort Q2");
  CHECK(body_of(p)["member_count"] == 2);
  CHECK(body_of(p)["updated_at"] == "2026-03-01T01:01:00+00:00");
  CHECK(body_of(p)["created_at"] == "2026-03-01T01:00:00+00:00");
  json members = box.get(self + "/members?include_unsubscribed=true");
  CHECK(emails_of(members["members"]) ==
        std::vector<std::string>{"wilma@bedrock.org", "pebbles@bedrock.org"});
  CHECK(box.get(member_path("fred@bedrock.org"))["tags"] == json::array());
  // An empty array empties it; the name is required by the PATCH schema.
  CHECK(box.call("PATCH", self, R"({"static_segment":[]})").status == 400);
  CHECK(box.call("PATCH", self, R"({"name":"Cohort Q2","static_segment":[]})").status == 200);
  CHECK(box.get(self)["member_count"] == 0);

  // DELETE removes the tag from the list and from its members.
  REQUIRE(box.call("PATCH", self, R"({"name":"Cohort Q2","static_segment":["wilma@bedrock.org"]})")
              .status == 200);
  CHECK(box.call("DELETE", self).status == 204);
  CHECK(box.call("GET", self).status == 404);
  CHECK(box.get(member_path("wilma@bedrock.org"))["tags_count"] == 1);  // volunteer only
  CHECK(box.call("DELETE", self).status == 404);
  CHECK(box.call("GET", kSegments + "/notanumber").status == 404);
  auto put = box.call("PUT", kSegments + "/1", "{}");
  CHECK(put.status == 405);
  CHECK(put.header("Allow") == "GET, POST, PATCH, DELETE");
}

TEST_CASE("segments: the create errors of the reference") {
  Box box;
  check_problem(box.call("POST", kSegments, R"({"name":"crm-vip"})"), 400, "Invalid Resource",
                "Must provide either an \"options\" field or a \"static_segment\" field");
  auto no_name = box.call("POST", kSegments, R"({"static_segment":[]})");
  check_problem(no_name, 400, "Invalid Resource", kSchemaDetail);
  CHECK(body_of(no_name)["errors"][0]["message"] == "Required fields were not provided: name");
  auto not_array = box.call("POST", kSegments, R"({"name":"x","static_segment":"a@b.org"})");
  CHECK(body_of(not_array)["errors"][0] ==
        json{{"field", "static_segment"},
             {"message", "Schema describes array, string found instead"}});
  // Saved segments (conditions) are not emulated: never a made-up success.
  auto saved =
      box.call("POST", kSegments, R"({"name":"x","options":{"match":"any","conditions":[]}})");
  CHECK(saved.status == 400);
  CHECK(body_of(saved)["detail"].get<std::string>().find("does not emulate") != std::string::npos);
  CHECK(box.call("POST", kSegments, R"({"name":"x","options":{},"static_segment":[]})").status ==
        400);
  // An empty segment; its name is then taken, whatever the case.
  json empty = post_ok(box, kSegments, R"({"name":"crm-vip","static_segment":[]})");
  CHECK(empty["member_count"] == 0);
  check_problem(box.call("POST", kSegments, R"({"name":"CRM-VIP","static_segment":[]})"), 400,
                "Invalid Resource",
                "A tag or segment named \"CRM-VIP\" already exists for this list.");
  CHECK(box.call("POST", kSegments, R"({"name":"Volunteer","static_segment":[]})").status == 400);
  CHECK(box.call("POST", kSegments, "[1]").status == 400);
  CHECK(body_of(box.call("POST", kSegments, R"({"name":" ","static_segment":[]})"))["errors"][0] ==
        json{{"field", "name"}, {"message", "This value should not be blank."}});
}

TEST_CASE("segments: members_to_add and members_to_remove, 500 of each at most") {
  Box box(seed_with_members(600));
  json seg = post_ok(box, kSegments, R"({"name":"bulk","static_segment":[]})");
  std::string self = kSegments + "/" + std::to_string(seg["id"].get<int>());
  box.advance(60);
  json r = post_ok(box, self, json{{"members_to_add", quarry(0, 500)}}.dump());
  CHECK(r["total_added"] == 500);
  CHECK(r["total_removed"] == 0);
  CHECK(r["error_count"] == 0);
  CHECK(r["errors"] == json::array());
  REQUIRE(r["members_added"].size() == 500);
  CHECK(r["members_removed"] == json::array());
  // Full member objects in the batch shape (List Members_5): tags, no contact_id.
  const json& first = r["members_added"][0];
  CHECK(first["email_address"] == "member0@quarry.org");
  CHECK(first["status"] == "subscribed");
  CHECK(first["tags"] == json::array({{{"id", seg["id"]}, {"name", "bulk"}}}));
  CHECK(first["last_changed"] == "2026-03-01T00:01:00+00:00");
  CHECK_FALSE(first.contains("contact_id"));
  CHECK(first.contains("merge_fields"));
  CHECK(box.get(self)["member_count"] == 500);

  // 501 in either array is refused, and nothing changes.
  auto too_many = box.call("POST", self, json{{"members_to_add", quarry(0, 501)}}.dump());
  check_problem(too_many, 400, "Invalid Resource", kSchemaDetail);
  CHECK(body_of(too_many)["errors"][0] ==
        json{{"field", "members_to_add"}, {"message", "A maximum of 500 members can be sent."}});
  auto too_many_rm = box.call("POST", self, json{{"members_to_remove", quarry(0, 501)}}.dump());
  CHECK(body_of(too_many_rm)["errors"][0]["field"] == "members_to_remove");
  CHECK(box.get(self)["member_count"] == 500);

  // Adds and removes together; only real changes are listed.
  json both = post_ok(
      box, self,
      json{{"members_to_add", quarry(495, 505)}, {"members_to_remove", quarry(0, 3)}}.dump());
  CHECK(both["total_added"] == 5);
  CHECK(emails_of(both["members_added"]) == quarry(500, 505));
  CHECK(both["total_removed"] == 3);
  CHECK(emails_of(both["members_removed"]) == quarry(0, 3));
  CHECK(both["members_removed"][0]["tags"] == json::array());
  CHECK(box.get(self)["member_count"] == 502);
  json removed_all = post_ok(box, self, json{{"members_to_remove", quarry(0, 500)}}.dump());
  CHECK(removed_all["total_removed"] == 497);
  CHECK(post_ok(box, self, "{}")["total_added"] == 0);
  CHECK(box.call("POST", kSegments + "/999999", R"({"members_to_add":[]})").status == 404);
  CHECK(box.call("POST", self, R"({"members_to_add":[1]})").status == 400);
}

TEST_CASE("segments: addresses not in the audience are ignored, or reported when switched on") {
  Box box;
  json seg = post_ok(box, kSegments, R"({"name":"cohort","static_segment":[]})");
  std::string self = kSegments + "/" + std::to_string(seg["id"].get<int>());
  json body = {{"members_to_add",
                {"wilma@bedrock.org", "betty@bedrock.org", "arnold@bedrock.org", "AAAAA"}}};
  // The spec: "Any emails provided that are not present on the list will be ignored." An
  // archived contact is not in the audience either.
  json r = post_ok(box, self, body.dump());
  CHECK(emails_of(r["members_added"]) == std::vector<std::string>{"wilma@bedrock.org"});
  CHECK(r["total_added"] == 1);
  CHECK(r["errors"] == json::array());
  CHECK(r["error_count"] == 0);
  CHECK(box.call("GET", member_path("betty@bedrock.org")).status == 404);
  // The reference leaves open whether they also come back in `errors`: a switch says so.
  REQUIRE(box.call("POST", "/_sandbox/faults", R"({"segment_non_member_errors":true})").status ==
          200);
  body["members_to_add"][0] = "fred@bedrock.org";
  json e = post_ok(box, self, body.dump());
  CHECK(e["total_added"] == 1);
  CHECK(e["error_count"] == 1);
  REQUIRE(e["errors"].size() == 1);
  CHECK(e["errors"][0]["email_addresses"] ==
        json::array({"betty@bedrock.org", "arnold@bedrock.org", "AAAAA"}));
  CHECK(e["errors"][0]["error"].is_string());
  CHECK(box.get("/_sandbox/faults")["segment_non_member_errors"] == true);
}

TEST_CASE("segment members: paging, statuses, the List Members_3 shape, add and remove one") {
  Box box(seed_with_members(25));
  json seg =
      post_ok(box, kSegments, json{{"name", "quarry"}, {"static_segment", quarry(0, 25)}}.dump());
  std::string self = kSegments + "/" + std::to_string(seg["id"].get<int>());
  json page = box.get(self + "/members");
  CHECK(page["total_items"] == 25);
  REQUIRE(page["members"].size() == 10);
  CHECK(emails_of(page["members"]) == quarry(0, 10));
  CHECK(emails_of(box.get(self + "/members?offset=20&count=10")["members"]) == quarry(20, 25));
  CHECK(box.get(self + "/members?count=1000")["members"].size() == 25);
  CHECK(box.get(self + "/members?count=0")["members"].empty());
  const json& m = page["members"][0];
  for (const char* absent : {"tags", "tags_count", "contact_id", "full_name", "web_id", "source"})
    CHECK_FALSE(m.contains(absent));
  for (const char* present :
       {"id", "email_address", "status", "merge_fields", "last_changed", "list_id", "_links"})
    CHECK(m.contains(present));
  CHECK(box.get(self + "/members?fields=members.email_address&count=1") ==
        json{{"members", {{{"email_address", "member0@quarry.org"}}}}});

  // Statuses: cleaned, transactional and unsubscribed only with their include_* flags; pending
  // always; archived never.
  REQUIRE(
      post_ok(
          box, self,
          R"({"members_to_add":["barney@bedrock.org","dino@bedrock.org","orders@slaterockandgravel.com","hoppy@bedrock.org"]})")
          ["total_added"] == 4);
  CHECK(box.get(self + "/members")["total_items"] == 26);
  CHECK(box.get(self + "/members?include_cleaned=true&include_transactional=true&"
                       "include_unsubscribed=true")["total_items"] == 29);
  CHECK(box.get(self + "/members?include_unsubscribed=true")["total_items"] == 27);
  REQUIRE(box.call("DELETE", member_path("member3@quarry.org")).status == 204);
  CHECK(box.get(self + "/members")["total_items"] == 25);

  // POST one member (the full member answer); DELETE one by hash.
  auto added = box.call("POST", self + "/members", R"({"email_address":"wilma@bedrock.org"})");
  REQUIRE(added.status == 200);
  CHECK(body_of(added)["email_address"] == "wilma@bedrock.org");
  CHECK(body_of(added).contains("contact_id"));
  CHECK(body_of(added)["tags_count"] == 2);
  CHECK(box.call("POST", self + "/members", R"({"email_address":"betty@bedrock.org"})").status ==
        404);
  CHECK(box.call("POST", self + "/members", R"({})").status == 400);
  CHECK(box.call("DELETE", self + "/members/" + hash("wilma@bedrock.org")).status == 204);
  CHECK(box.call("DELETE", self + "/members/" + hash("wilma@bedrock.org")).status == 404);
  // Hash only: an email in the path is not a subscriber hash (reference §16.6).
  CHECK(box.call("DELETE", self + "/members/member1%40quarry.org").status == 404);
  CHECK(box.call("DELETE", self + "/members/" + hash("member1@quarry.org")).status == 204);
  CHECK(box.get(self + "/members")["total_items"] == 24);
}

TEST_CASE("tags and segments are one thing: a change on either side shows on the other") {
  Box box;
  // A tag put on a member creates a segment with that member.
  box.advance(120);
  REQUIRE(box.call("POST", member_path("fred@bedrock.org") + "/tags",
                   R"({"tags":[{"name":"crm-vip","status":"active"}]})")
              .status == 204);
  json segs = box.get(kSegments + "?count=100");
  REQUIRE(segs["total_items"] == 2);
  json vip = segs["segments"][1];
  CHECK(vip["name"] == "crm-vip");
  CHECK(vip["member_count"] == 1);
  CHECK(vip["created_at"] == "2026-03-01T00:02:00+00:00");
  std::string self = kSegments + "/" + std::to_string(vip["id"].get<int>());
  CHECK(emails_of(box.get(self + "/members")["members"]) ==
        std::vector<std::string>{"fred@bedrock.org"});
  // The segment's id is the tag's id.
  CHECK(box.get(member_path("fred@bedrock.org"))["tags"][0]["id"] == vip["id"]);
  // A member added to the segment carries the tag.
  REQUIRE(post_ok(box, self, R"({"members_to_add":["pebbles@bedrock.org"]})")["total_added"] == 1);
  json tags = box.get(member_path("pebbles@bedrock.org") + "/tags");
  CHECK(tags["total_items"] == 1);
  CHECK(tags["tags"][0]["name"] == "crm-vip");
  CHECK(tags["tags"][0]["id"] == vip["id"]);
  // Removing the tag from the member removes it from the segment, and the other way round.
  REQUIRE(box.call("POST", member_path("fred@bedrock.org") + "/tags",
                   R"({"tags":[{"name":"CRM-VIP","status":"inactive"}]})")
              .status == 204);
  REQUIRE(post_ok(box, self, R"({"members_to_remove":["pebbles@bedrock.org"]})")["total_removed"] ==
          1);
  CHECK(box.get(self)["member_count"] == 0);
  CHECK(box.get(member_path("pebbles@bedrock.org"))["tags"] == json::array());
  // A segment created through /segments is found by tag-search, and renaming it renames the tag.
  json cohort =
      post_ok(box, kSegments, R"({"name":"cohort-a","static_segment":["wilma@bedrock.org"]})");
  CHECK(box.get(kList + "/tag-search?name=coh")["tags"] ==
        json::array({{{"id", cohort["id"]}, {"name", "cohort-a"}}}));
  REQUIRE(box.call("PATCH", kSegments + "/" + std::to_string(cohort["id"].get<int>()),
                   R"({"name":"cohort-b"})")
              .status == 200);
  CHECK(box.get(member_path("wilma@bedrock.org") + "?fields=tags")["tags"] ==
        json::array({{{"id", 10001}, {"name", "volunteer"}},
                     {{"id", cohort["id"]}, {"name", "cohort-b"}}}));
  // Batch subscribe's tags are segments too; sync_tags replaces them (it needs update_existing).
  json batch = post_ok(
      box, kList,
      R"({"members":[{"email_address":"wilma@bedrock.org","tags":["cohort-c"]}],"update_existing":true,"sync_tags":true})");
  CHECK(
      batch["updated_members"][0]["tags"] ==
      json::array({{{"id", batch["updated_members"][0]["tags"][0]["id"]}, {"name", "cohort-c"}}}));
  CHECK(box.get(kSegments + "/" + std::to_string(cohort["id"].get<int>()))["member_count"] == 0);
  CHECK(box.get(kSegments + "?count=100")["total_items"] == 4);
  // The admin hook tags a member as a person in the web app would.
  REQUIRE(
      box.call(
             "POST", "/_sandbox/mailchimp/members",
             R"({"action":"update","email_address":"dino@bedrock.org","tags":[{"name":"cohort-b","status":"active"}]})",
             "")
          .status == 200);
  CHECK(box.get(kSegments + "/" + std::to_string(cohort["id"].get<int>()) +
                "?include_cleaned=true")["member_count"] == 1);
  CHECK(
      box.call(
             "POST", "/_sandbox/mailchimp/members",
             R"({"action":"update","email_address":"dino@bedrock.org","tags":[{"name":"x","status":"on"}]})",
             "")
          .status == 400);
}

TEST_CASE("tag-search pages like the other collections: 10 by default, count and offset") {
  Box box;
  for (int i = 0; i < 14; ++i) {
    post_ok(box, kSegments,
            json{{"name", "t" + std::to_string(i)}, {"static_segment", json::array()}}.dump());
  }
  json all = box.get(kList + "/tag-search");
  CHECK(all["total_items"] == 15);
  CHECK(all["tags"].size() == 10);
  json t = box.get(kList + "/tag-search?name=t&count=3&offset=12");
  CHECK(t["total_items"] == 14);
  REQUIRE(t["tags"].size() == 2);
  CHECK(t["tags"][0]["name"] == "t12");
}

// ---- member events, and the operations that take a hash only ------------------------------------

TEST_CASE("member events: POST is 204; GET lists them newest first; the checks of the spec") {
  Box box;
  auto w = member_path("wilma@bedrock.org");
  auto r = box.call(
      "POST", w + "/events",
      R"({"name":"crm_deal_won","properties":{"deal_id":"D-123","amount":"1200"},"is_syncing":false,"occurred_at":"2024-05-01T10:00:00+00:00"})");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  // An email in the path works for events (reference §16.6); occurred_at defaults to now.
  REQUIRE(
      box.call("POST", kMembers + "/wilma%40bedrock.org/events", R"({"name":"visited"})").status ==
      204);
  json ev = box.get(w + "/events");
  CHECK(ev["total_items"] == 2);
  CHECK(ev["events"][0] == json{{"occurred_at", "2026-03-01T00:00:00+00:00"},
                                {"name", "visited"},
                                {"properties", json::object()}});
  CHECK(ev["events"][1]["properties"] == json{{"deal_id", "D-123"}, {"amount", "1200"}});
  CHECK(box.get(w + "/events?count=1")["events"].size() == 1);
  CHECK(box.get(w)["last_changed"] == "2026-01-01T12:00:00+00:00");  // events change no field

  auto short_name = box.call("POST", w + "/events", R"({"name":"x"})");
  check_problem(short_name, 400, "Invalid Resource", kSchemaDetail);
  CHECK(body_of(short_name)["errors"][0] ==
        json{{"field", "name"}, {"message", "Must be 2-30 characters in length"}});
  CHECK(box.call("POST", w + "/events", json{{"name", std::string(31, 'a')}}.dump()).status == 400);
  auto number = box.call("POST", w + "/events", R"({"name":"ok","properties":{"n":1}})");
  CHECK(body_of(number)["errors"][0]["field"] == "properties.n");
  CHECK(box.call("POST", w + "/events", R"({"name":"ok","occurred_at":"soon"})").status == 400);
  CHECK(box.call("POST", w + "/events", R"({})").status == 400);
  CHECK(box.call("POST", member_path("betty@bedrock.org") + "/events", R"({"name":"ok"})").status ==
        404);
  CHECK(box.call("GET", member_path("betty@bedrock.org") + "/events").status == 404);
  CHECK(box.get(w + "/events")["total_items"] == 2);
}

TEST_CASE("POST tags and delete-permanent take a subscriber hash only (reference §16.6)") {
  Box box;
  std::string contact = box.get(member_path("wilma@bedrock.org"))["contact_id"];
  const std::string tag = R"({"tags":[{"name":"vip","status":"active"}]})";
  CHECK(box.call("POST", kMembers + "/wilma%40bedrock.org/tags", tag).status == 404);
  CHECK(box.call("POST", kMembers + "/" + contact + "/tags", tag).status == 404);
  CHECK(box.call("POST", member_path("wilma@bedrock.org") + "/tags", tag).status == 204);
  // GET tags accepts an email or a contact_id.
  CHECK(box.get(kMembers + "/wilma%40bedrock.org/tags")["total_items"] == 2);
  CHECK(box.get(kMembers + "/" + contact + "/tags")["total_items"] == 2);
  CHECK(box.call("POST", kMembers + "/fred%40bedrock.org/actions/delete-permanent").status == 404);
  CHECK(box.get(member_path("fred@bedrock.org"))["status"] == "subscribed");
  CHECK(box.call("POST", member_path("fred@bedrock.org") + "/actions/delete-permanent").status ==
        204);
}

// ---- seed and state
// ---------------------------------------------------------------------------------

namespace {

constexpr const char* kGroupsSeed = R"({
  "clock": "2026-03-01T00:00:00+00:00",
  "mailchimp": {"lists": [{
    "id": "b3d1c0ffee", "name": "Newsletter",
    "merge_fields": [{"tag": "FNAME", "type": "text"}],
    "interest_categories": [
      {"id": "458a556058", "title": "Topics", "type": "checkboxes", "display_order": 1,
       "grouping_id": 6197, "list_id": "ignored",
       "interests": [{"id": "9143cf3bd1", "name": "News", "display_order": 0, "subscriber_count": "9"},
                     {"id": "3a2a927344", "name": "Events", "display_order": 1}]},
      {"id": "f64af23d78", "title": "Region", "type": "radio",
       "interests": [{"id": "ff0295f7d1", "name": "North"}]}],
    "segments": [{"id": 49381, "name": "CRM cohort", "type": "static",
                  "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-02-01T00:00:00+00:00",
                  "member_count": 5}],
    "members": [
      {"email_address": "wilma@bedrock.org", "interests": {"9143cf3bd1": true, "3a2a927344": false},
       "tags": ["CRM cohort", "volunteer"],
       "events": [{"name": "signed_up", "properties": {"via": "fair"}, "occurred_at": "2026-01-02T00:00:00+00:00"}]},
      {"email_address": "fred@bedrock.org", "interests": {"ff0295f7d1": true}}]
  }]}})";

}  // namespace

TEST_CASE("seed: groups, segments, members' interests and events load as the API shows them") {
  Box box(kGroupsSeed);
  json cats = box.get(kCategories);
  REQUIRE(cats["total_items"] == 2);
  CHECK(cats["categories"][0]["id"] == "f64af23d78");  // display_order 0 before 1
  CHECK(cats["categories"][1]["title"] == "Topics");
  json news = box.get(kCategories + "/458a556058/interests/9143cf3bd1");
  CHECK(news["subscriber_count"] == "1");
  CHECK(news["name"] == "News");
  json w = box.get(member_path("wilma@bedrock.org"));
  CHECK(w["interests"] == json{{"9143cf3bd1", true}, {"3a2a927344", false}, {"ff0295f7d1", false}});
  CHECK(w["tags"][0] == json{{"id", 49381}, {"name", "CRM cohort"}});
  json seg = box.get(kSegments + "/49381");
  CHECK(seg["member_count"] == 1);
  CHECK(seg["created_at"] == "2026-01-01T00:00:00+00:00");
  CHECK(seg["updated_at"] == "2026-02-01T00:00:00+00:00");
  CHECK(box.get(member_path("wilma@bedrock.org") + "/events")["events"][0]["properties"] ==
        json{{"via", "fair"}});
  // The grouping id webhooks carry.
  REQUIRE(
      box.call(
             "POST", kList + "/webhooks",
             R"({"url":"https://crm.bedrock.org/mc","events":{"profile":true},"sources":{"api":true}})")
          .status == 200);
  REQUIRE(box.call("PATCH", member_path("wilma@bedrock.org"), R"({"merge_fields":{"FNAME":"W"}})")
              .status == 200);
  box.mc->drain_webhooks();
  auto f = form(box.web->posts().at(0).second.body);
  CHECK(f["data[merges][GROUPINGS][1][id]"] == "6197");
  CHECK(f["data[merges][GROUPINGS][1][groups]"] == "News");
}

TEST_CASE("state: groups, segments, interests and events survive state -> reset -> state") {
  Box box(kGroupsSeed);
  // Changes through the API, so that the state holds more than the seed did.
  auto g = make_group(box, "Colours", {"Red", "Blue"}, "dropdown");
  REQUIRE(box.call("DELETE", kCategories + "/458a556058/interests/3a2a927344").status == 204);
  std::string green =
      post_ok(box, kCategories + "/" + g[0] + "/interests", R"({"name":"Green"})")["id"];
  REQUIRE(box.call("PATCH", member_path("fred@bedrock.org"),
                   json{{"interests", {{green, true}, {g[1], true}}}}.dump())
              .status == 200);
  box.advance(30);
  json seg = post_ok(box, kSegments, R"({"name":"late","static_segment":["fred@bedrock.org"]})");
  REQUIRE(box.call("POST", member_path("fred@bedrock.org") + "/events",
                   R"({"name":"clicked","properties":{"b":"2","a":"1"}})")
              .status == 204);
  auto state = box.call("GET", "/_sandbox/state", "", "");
  REQUIRE(state.status == 200);
  json s1 = json::parse(state.body);
  const json& list = s1["mailchimp"]["lists"][0];
  CHECK(list["interest_categories"].size() == 3);
  CHECK(list["segments"].size() == 3);
  CHECK_FALSE(list.contains("tags"));

  Box other;
  REQUIRE(other.call("POST", "/_sandbox/reset", state.body, "").status == 200);
  CHECK(json::parse(other.call("GET", "/_sandbox/state", "", "").body) == s1);
  // What the API shows is the same on both.
  for (const std::string& target :
       {kCategories + "?count=100", kCategories + "/" + g[0] + "/interests",
        kSegments + "?count=100", member_path("fred@bedrock.org"), member_path("wilma@bedrock.org"),
        member_path("fred@bedrock.org") + "/events",
        kSegments + "/" + std::to_string(seg["id"].get<int>()) + "/members"}) {
    INFO(target);
    CHECK(other.get(target) == box.get(target));
  }
  // New ids do not collide with reloaded ones.
  json next = post_ok(other, kSegments, R"({"name":"after reload","static_segment":[]})");
  CHECK(next["id"].get<int>() > seg["id"].get<int>());
}

TEST_CASE("seed: segments after members take the members' tags; problems name their path") {
  // "segments" after "members": the tag wilma carries takes the declared id.
  auto late = sb::parse_seed(
      R"({"mailchimp":{"lists":[{"merge_fields":[],"members":[{"email_address":"wilma@bedrock.org","tags":["vip"],"interests":{"aaaaaaaaaa":true}}],
          "segments":[{"id":777,"name":"VIP"}],
          "interest_categories":[{"id":"cccccccccc","title":"T","interests":[{"id":"aaaaaaaaaa","name":"A"}]}]}]}})",
      0);
  INFO(late.status().to_string());
  REQUIRE(late.is_ok());
  const sb::List& l = *late->account->lists[0];
  REQUIRE(l.tags.size() == 1);
  CHECK(l.tags[0].id == 777);
  CHECK(l.tags[0].name == "VIP");
  CHECK(l.members[0].tags[0].tag_id == 777);
  CHECK(l.members[0].interests == 1);
  struct Row {
    const char* seed;
    const char* expect;
  };
  const Row rows[] = {
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","interests":{"zz":true}}]}]}})",
       "mailchimp.lists[0].members[0].interests.zz"},
      {R"({"mailchimp":{"lists":[{"interest_categories":[{"title":"T","type":"grid"}]}]}})",
       "mailchimp.lists[0].interest_categories[0].type"},
      {R"({"mailchimp":{"lists":[{"interest_categories":[{"type":"radio"}]}]}})",
       "interest_categories[0].title"},
      {R"({"mailchimp":{"lists":[{"interest_categories":[{"id":"x","title":"A"},{"id":"x","title":"B"}]}]}})",
       "interest_categories[1].id"},
      {R"({"mailchimp":{"lists":[{"interest_categories":[{"title":"A","interests":[{"name":"n"},{"name":"N"}]}]}]}})",
       "interest_categories[0].interests[1].name"},
      {R"({"mailchimp":{"lists":[{"segments":[{"name":"a","type":"saved"}]}]}})",
       "segments[0].type"},
      {R"({"mailchimp":{"lists":[{"segments":[{"name":"a"},{"name":"A"}]}]}})", "segments[1].name"},
      {R"({"mailchimp":{"lists":[{"segments":[{"id":5,"name":"a"},{"id":5,"name":"b"}]}]}})",
       "segments[1].id"},
      {R"({"mailchimp":{"lists":[{"segments":[{"name":"a","created_at":"then"}]}]}})",
       "segments[0].created_at"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","events":[{"name":"x"}]}]}]}})",
       "members[0].events[0].name"},
  };
  for (const Row& r : rows) {
    DYNAMIC_SECTION(r.seed) {
      auto s = sb::parse_seed(r.seed, 0);
      REQUIRE_FALSE(s.is_ok());
      CHECK_THAT(s.status().message(), Catch::Contains(r.expect));
    }
  }
  // More than 60 interests in a seed.
  json many = {
      {"mailchimp",
       {{"lists", {{{"interest_categories", {{{"title", "T"}, {"interests", json::array()}}}}}}}}}};
  for (int i = 0; i < 61; ++i)
    many["mailchimp"]["lists"][0]["interest_categories"][0]["interests"].push_back(
        {{"name", "I" + std::to_string(i)}});
  auto s = sb::parse_seed(many.dump(), 0);
  REQUIRE_FALSE(s.is_ok());
  CHECK_THAT(s.status().message(), Catch::Contains("interests[60]"));
}
