// The sandbox's Mailchimp emulator, driven through its handler (fast, table-driven for the member
// state machine): transport, reads, the state machine, merge fields, batches, tags, limits and
// faults. The expected statuses, titles and details are those of the live Marketing API;
// docs/sandbox.md "The member state machine" has the table the state machine follows.
#include "mailchimp_site.h"

using namespace concord::testing::mailchimp_site;

// ---- transport, auth, conventions --------------------------------------------------------------

TEST_CASE("auth: Basic with any user, Bearer and apikey pass; a missing or wrong key is a 401") {
  Box box;
  struct Row {
    std::string auth;
    std::string host;
    int status;
    std::string title;
  };
  const Row rows[] = {
      {basic(kKey), "127.0.0.1", 200, ""},
      {basic(kKey, ""), "127.0.0.1", 200, ""},
      {"Bearer " + std::string(kKey), "127.0.0.1", 200, ""},
      {"OAuth " + std::string(kKey), "127.0.0.1", 200, ""},
      {"apikey " + std::string(kKey), "127.0.0.1", 200, ""},
      {"", "127.0.0.1", 401, "API Key Missing"},
      {"Basic " + b64("user:"), "127.0.0.1", 401, "API Key Missing"},
      {basic("ffffffffffffffffffffffffffffffff-us6"), "127.0.0.1", 401, "API Key Invalid"},
      // The right secret with another datacenter is another key.
      {basic("0123456789abcdef0123456789abcdef-us7"), "127.0.0.1", 401, "API Key Invalid"},
      {basic(kKey), "us6.api.mailchimp.com", 200, ""},
      {basic(kKey), "us7.api.mailchimp.com", 401, "API Key Invalid"},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.auth << " @ " << row.host) {
      http::Request r;
      r.method = "GET";
      r.target = "/3.0/ping";
      if (!row.auth.empty()) r.headers.push_back({"Authorization", row.auth});
      r.headers.push_back({"Host", row.host});
      auto resp = box.mc->handle(r, http::Peer{"127.0.0.1", true}).response;
      CHECK(resp.status == row.status);
      if (row.status == 401) {
        check_problem(resp, 401, row.title,
                      row.title == "API Key Missing"
                          ? "Your request did not include an API key."
                          : "Your API key may be invalid, or you've attempted to access the "
                            "wrong datacenter.");
      } else {
        CHECK(body_of(resp) == json{{"health_status", "Everything's Chimpy!"}});
        CHECK(resp.header("Content-Type") == "application/json; charset=utf-8");
        CHECK(resp.header("X-Request-Id").size() == 36);
      }
    }
  }
}

TEST_CASE("unknown paths are 404 Resource Not Found; known paths with another method are 405") {
  Box box;
  check_problem(box.call("GET", "/3.0/nothing"), 404, "Resource Not Found",
                "The requested resource could not be found.");
  check_problem(box.call("GET", "/lists"), 404, "Resource Not Found",
                "The requested resource could not be found.");
  check_problem(box.call("GET", "/3.0/lists/nolist/members"), 404, "Resource Not Found",
                "The requested resource could not be found.");
  auto r = box.call("DELETE", kMembers);
  check_problem(r, 405, "Method Not Allowed",
                "The requested method and resource are not compatible. See the Allow header for "
                "this resource's available methods.");
  CHECK(r.header("Allow") == "GET, POST");
  check_problem(box.call("PUT", kMembers, "{}", basic(kKey), {{"X-HTTP-Method-Override", "GET"}}),
                422, "Invalid Method Override",
                "You can only use the X-HTTP-Method-Override header with the POST method.");
  CHECK(
      box.call("POST", "/3.0/ping", "", basic(kKey), {{"X-HTTP-Method-Override", "GET"}}).status ==
      200);
}

TEST_CASE("lists: the seeded audience with counts by status") {
  Box box;
  json lists = box.get("/3.0/lists?fields=lists.id,lists.name,lists.stats,total_items");
  CHECK(lists["total_items"] == 1);
  REQUIRE(lists["lists"].size() == 1);
  json l = lists["lists"][0];
  CHECK(l["id"] == kListId);
  CHECK(l["name"] == "Newsletter");
  CHECK(l.size() == 3);
  CHECK(l["stats"]["member_count"] == 4);
  CHECK(l["stats"]["unsubscribe_count"] == 3);
  CHECK(l["stats"]["cleaned_count"] == 1);
  CHECK(l["stats"]["campaign_last_sent"] == "");
  json one = box.get(std::string("/3.0/lists/") + kListId + "?include_total_contacts=true");
  CHECK(one["stats"]["total_contacts"] == 11);
  CHECK(one["date_created"] == "2025-06-01T09:00:00+00:00");
  CHECK(box.get("/3.0/lists?email=wilma%40bedrock.org")["total_items"] == 1);
  CHECK(box.get("/3.0/lists?email=betty%40bedrock.org")["total_items"] == 0);
}

// ---- reading members ----------------------------------------------------------------------------

TEST_CASE("members: default count 10, cap 1000, offset, total_items") {
  Box box;
  json page = box.get(kMembers);
  CHECK(page["members"].size() == 10);
  CHECK(page["total_items"] == 11);
  CHECK(page["list_id"] == kListId);
  CHECK(page["_links"].size() == 3);
  CHECK(box.get(kMembers + "?count=5000")["members"].size() == 11);
  json p2 = box.get(kMembers + "?count=4&offset=8");
  CHECK(p2["members"].size() == 3);
  CHECK(p2["members"][0]["email_address"] == "hoppy@bedrock.org");
  CHECK(box.get(kMembers + "?count=0")["members"].empty());
  CHECK(box.get(kMembers + "?count=10&offset=100")["members"].empty());
  CHECK(box.get(kMembers + "?count=1000&no_such_param=1")["members"].size() == 11);
}

TEST_CASE("members: a member object has the live API's shape") {
  Box box;
  json m = box.get(member_path("barney@bedrock.org"));
  CHECK(m["id"] == hash("barney@bedrock.org"));
  CHECK(m["email_address"] == "barney@bedrock.org");
  CHECK(m["status"] == "unsubscribed");
  CHECK(m["unsubscribe_reason"] == "No longer interested");
  CHECK(m["unique_email_id"].get<std::string>().size() == 10);
  CHECK(m["contact_id"].get<std::string>().size() == 32);
  CHECK(m["full_name"] == "Barney Rubble");
  CHECK(m["merge_fields"] ==
        json{{"FNAME", "Barney"}, {"LNAME", "Rubble"}, {"ADDRESS", ""}, {"PHONE", ""}});
  CHECK(m["timestamp_signup"] == "");
  CHECK(m["timestamp_opt"] == "2025-09-01T10:00:00+00:00");
  CHECK(m["last_changed"] == "2026-01-02T12:00:00+00:00");
  CHECK(m["email_type"] == "html");
  CHECK(m["list_id"] == kListId);
  CHECK(m["tags"].is_array());
  CHECK(m["_links"].size() == 10);
  CHECK(m["_links"][0]["href"] ==
        "https://us6.api.mailchimp.com/3.0/lists/b3d1c0ffee/members/" + hash("barney@bedrock.org"));
  // Subscribed members have no unsubscribe_reason.
  json w = box.get(member_path("wilma@bedrock.org"));
  CHECK_FALSE(w.contains("unsubscribe_reason"));
  CHECK(w["tags"] == json::array({{{"id", w["tags"][0]["id"]}, {"name", "volunteer"}}}));
  CHECK(w["tags_count"] == 1);
  // The path also accepts the raw email and the contact_id.
  CHECK(box.get(kMembers + "/Wilma%40Bedrock.org")["id"] == w["id"]);
  CHECK(box.get(kMembers + "/" + w["contact_id"].get<std::string>())["id"] == w["id"]);
  check_problem(box.call("GET", member_path("betty@bedrock.org")), 404, "Resource Not Found",
                "The requested resource could not be found.");
}

TEST_CASE("members: fields and exclude_fields with dot paths") {
  Box box;
  json page = box.get(kMembers +
                      "?count=1000&fields=members.email_address,members.status,"
                      "members.unsubscribe_reason,members.timestamp_opt,members.last_changed,"
                      "members.merge_fields,total_items");
  CHECK(page.size() == 2);
  CHECK(page["total_items"] == 11);
  for (const json& m : page["members"]) {
    for (auto it = m.begin(); it != m.end(); ++it) {
      CHECK((it.key() == "email_address" || it.key() == "status" ||
             it.key() == "unsubscribe_reason" || it.key() == "timestamp_opt" ||
             it.key() == "last_changed" || it.key() == "merge_fields"));
    }
    CHECK(m.contains("merge_fields"));
  }
  json sub = box.get(kMembers + "?fields=members.merge_fields.FNAME,members.id&count=1");
  CHECK(sub["members"][0] ==
        json{{"id", hash("wilma@bedrock.org")}, {"merge_fields", {{"FNAME", "Wilma"}}}});
  json ex =
      box.get(kMembers + "?exclude_fields=_links,members._links,members.merge_fields&count=2");
  CHECK_FALSE(ex.contains("_links"));
  CHECK_FALSE(ex["members"][0].contains("_links"));
  CHECK_FALSE(ex["members"][0].contains("merge_fields"));
  CHECK(ex["members"][0].contains("email_address"));
  json one = box.get(member_path("wilma@bedrock.org") + "?fields=email_address,status");
  CHECK(one == json{{"email_address", "wilma@bedrock.org"}, {"status", "subscribed"}});
  // Unknown fields select nothing; they are not an error.
  CHECK(box.get(kMembers + "?fields=members.nothing,total_items")["total_items"] == 11);
  CHECK(box.get("/3.0/lists?fields=lists.name")["lists"][0] == json{{"name", "Newsletter"}});
}

TEST_CASE("members: status filter, time filters and sorting") {
  Box box;
  auto emails = [&](const std::string& q) {
    std::vector<std::string> out;
    json page =
        box.get(kMembers + "?" + q + "&count=1000&fields=members.email_address,total_items");
    for (const json& m : page["members"])
      out.push_back(m["email_address"]);
    return out;
  };
  CHECK(emails("status=unsubscribed") ==
        std::vector<std::string>{"barney@bedrock.org", "slate@bedrock.org", "tex@bedrock.org"});
  CHECK(emails("status=archived") == std::vector<std::string>{"arnold@bedrock.org"});
  CHECK(emails("status=transactional") ==
        std::vector<std::string>{"orders@slaterockandgravel.com"});
  // since_last_changed is exclusive ("changed after"); before_last_changed too.
  CHECK(emails("since_last_changed=2026-01-20T12:00:00%2B00:00&sort_field=last_changed") ==
        std::vector<std::string>{"dino@bedrock.org", "hoppy@bedrock.org", "arnold@bedrock.org"});
  CHECK(emails("since_last_changed=2026-01-20T11:59:59Z&sort_field=last_changed&sort_dir=ASC") ==
        std::vector<std::string>{"bamm-bamm@bedrock.org", "dino@bedrock.org", "hoppy@bedrock.org",
                                 "arnold@bedrock.org"});
  CHECK(emails("before_last_changed=2026-01-02T12:00:00%2B00:00") ==
        std::vector<std::string>{"wilma@bedrock.org", "pebbles@bedrock.org"});
  CHECK(emails("sort_field=last_changed&sort_dir=DESC&count=2") ==
        std::vector<std::string>{"arnold@bedrock.org", "hoppy@bedrock.org"});
  CHECK(emails("since_timestamp_opt=2026-01-02T00:00:00%2B00:00") ==
        std::vector<std::string>{"fred@bedrock.org", "bamm-bamm@bedrock.org"});
  // A time the API cannot read is ignored (MailChimp.Net#525: every member comes back).
  CHECK(emails("since_last_changed=yesterday").size() == 11);
  // Archived members are listed unless the switch says otherwise.
  REQUIRE(box.call("POST", "/_sandbox/faults", R"({"archived_in_listing": false})").status == 200);
  CHECK(emails("").size() == 10);
  CHECK(emails("status=archived").size() == 1);
}

TEST_CASE("members: bad query values are 400 Invalid Resource") {
  Box box;
  auto r = box.call("GET", kMembers + "?status=gone");
  check_problem(r, 400, "Invalid Resource",
                "The resource submitted could not be validated. For field-specific details, see "
                "the 'errors' array.");
  CHECK(body_of(r)["errors"][0]["field"] == "status");
  CHECK(box.call("GET", kMembers + "?sort_field=email").status == 400);
  CHECK(box.call("GET", kMembers + "?sort_dir=down").status == 400);
  auto slc = box.call("GET", kMembers + "?since_last_campaign=False");
  check_problem(slc, 400, "Invalid Resource",
                "Status is required when using since_last_campaign filter.");
  CHECK(body_of(slc)["errors"] == json::array());
  CHECK(box.call("GET", kMembers + "?since_last_campaign=true&status=subscribed").status == 200);
  CHECK(box.call("GET", kMembers + "?unsubscribed_since=2026-01-01T00:00:00Z").status == 400);
  CHECK(box.call("GET", kMembers + "?unsubscribed_since=2026-01-01T00:00:00Z&status=unsubscribed")
            .status == 200);
}

// ---- the state machine --------------------------------------------------------------------------

namespace {
struct Transition {
  const char* name;
  std::string method;
  std::string email;  // the member addressed (path) or added (POST)
  std::string body;
  int status;
  std::string title;   // for errors
  std::string detail;  // for errors
  bool with_type = true;
  std::string new_status = {};  // for successes: the member's status afterwards
};
}  // namespace

TEST_CASE("state machine: every transition of the reference's table, exact status/title/detail") {
  const std::string kSchema =
      "The resource submitted could not be validated. For field-specific details, see the "
      "'errors' array.";
  const std::vector<Transition> rows = {
      {"POST a new address", "POST", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org","status":"subscribed"})", 200, "", "", true,
       "subscribed"},
      {"POST a new pending address", "POST", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org","status":"pending"})", 200, "", "", true, "pending"},
      {"POST a present member (subscribed)", "POST", "wilma@bedrock.org",
       R"({"email_address":"Wilma@bedrock.org","status":"subscribed"})", 400, "Member Exists",
       "Wilma@bedrock.org is already a list member. Use PUT to insert or update list members.",
       false},
      {"POST a present member (unsubscribed)", "POST", "barney@bedrock.org",
       R"({"email_address":"barney@bedrock.org","status":"subscribed"})", 400, "Member Exists",
       "barney@bedrock.org is already a list member. Use PUT to insert or update list members.",
       false},
      {"POST an archived member restores it", "POST", "arnold@bedrock.org",
       R"({"email_address":"arnold@bedrock.org","status":"subscribed"})", 200, "", "", true,
       "subscribed"},
      {"POST a malformed address", "POST", "AAAAA",
       R"({"email_address":"AAAAA","status":"subscribed"})", 400, "Invalid Resource",
       "Please provide a valid email address."},
      {"POST a fake domain", "POST", "foo@example.com",
       R"({"email_address":"foo@example.com","status":"subscribed"})", 400, "Invalid Resource",
       "foo@example.com looks fake or invalid, please enter a real email address."},
      {"POST without status", "POST", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org"})", 400, "Invalid Resource", kSchema},
      {"POST with a bad status", "POST", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org","status":"bogus"})", 400, "Invalid Resource",
       kSchema},
      {"POST archived as a status", "POST", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org","status":"archived"})", 400, "Invalid Resource",
       kSchema},
      {"POST malformed JSON", "POST", "betty@bedrock.org", R"({"email_address":)", 400,
       "JSON Parse Exception", "We encountered an unspecified JSON parsing error."},
      {"PUT subscribed on a self-unsubscribed member", "PUT", "barney@bedrock.org",
       R"({"status":"subscribed"})", 400, "Member In Compliance State",
       "barney@bedrock.org is in a compliance state due to unsubscribe, bounce, or compliance "
       "review and cannot be subscribed.",
       false},
      {"PATCH subscribed on a self-unsubscribed member", "PATCH", "slate@bedrock.org",
       R"({"status":"subscribed"})", 400, "Member In Compliance State",
       "slate@bedrock.org is in a compliance state due to unsubscribe, bounce, or compliance "
       "review and cannot be subscribed.",
       false},
      {"PUT pending on a self-unsubscribed member", "PUT", "barney@bedrock.org",
       R"({"status":"pending"})", 200, "", "", true, "pending"},
      {"PUT subscribed on a cleaned member", "PUT", "dino@bedrock.org",
       R"({"email_address":"dino@bedrock.org","status_if_new":"subscribed","status":"subscribed"})",
       400, "Member In Compliance State",
       "dino@bedrock.org is in a compliance state due to unsubscribe, bounce, or compliance review "
       "and cannot be subscribed.",
       false},
      {"PUT pending on a cleaned member", "PUT", "dino@bedrock.org", R"({"status":"pending"})", 200,
       "", "", true, "pending"},
      {"PUT subscribed on an admin-unsubscribed member", "PUT", "tex@bedrock.org",
       R"({"status":"subscribed"})", 200, "", "", true, "subscribed"},
      {"PUT unsubscribed on a subscribed member", "PUT", "wilma@bedrock.org",
       R"({"status":"unsubscribed"})", 200, "", "", true, "unsubscribed"},
      {"PUT status_if_new does not touch an existing member", "PUT", "wilma@bedrock.org",
       R"({"email_address":"wilma@bedrock.org","status_if_new":"unsubscribed"})", 200, "", "", true,
       "subscribed"},
      {"PUT creates an absent member", "PUT", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org","status_if_new":"subscribed"})", 200, "", "", true,
       "subscribed"},
      {"PUT on an absent member without email_address", "PUT", "betty@bedrock.org",
       R"({"status_if_new":"subscribed"})", 400, "Invalid Resource", kSchema},
      {"PUT on an absent member without a status", "PUT", "betty@bedrock.org",
       R"({"email_address":"betty@bedrock.org"})", 400, "Invalid Resource", kSchema},
      {"PUT to an absent hash with an email that is a member", "PUT", "betty@bedrock.org",
       R"({"email_address":"fred@bedrock.org","status":"subscribed"})", 400, "Member Exists",
       "fred@bedrock.org is already a list member. Use PUT to insert or update list members.",
       false},
      {"PUT unarchives", "PUT", "arnold@bedrock.org", R"({"status":"unsubscribed"})", 200, "", "",
       true, "unsubscribed"},
      {"PATCH an absent member", "PATCH", "betty@bedrock.org", R"({"status":"subscribed"})", 404,
       "Resource Not Found", "The requested resource could not be found."},
      {"PATCH transactional (not in PATCH's enum)", "PATCH", "wilma@bedrock.org",
       R"({"status":"transactional"})", 400, "Invalid Resource", kSchema},
      {"PATCH confirms a pending member", "PATCH", "hoppy@bedrock.org",
       R"({"status":"subscribed"})", 200, "", "", true, "subscribed"},
      {"DELETE archives", "DELETE", "wilma@bedrock.org", "", 204, "", "", true, "archived"},
      {"DELETE an archived member", "DELETE", "arnold@bedrock.org", "", 405, "Method Not Allowed",
       "This list member cannot be removed. Can not archive a contact that is bounced, pending or "
       "archived"},
      {"DELETE a pending member", "DELETE", "hoppy@bedrock.org", "", 405, "Method Not Allowed",
       "This list member cannot be removed. Can not archive a contact that is bounced, pending or "
       "archived"},
      {"DELETE a cleaned member", "DELETE", "dino@bedrock.org", "", 405, "Method Not Allowed",
       "This list member cannot be removed. Can not archive a contact that is bounced, pending or "
       "archived"},
      {"DELETE an unsubscribed member archives it", "DELETE", "barney@bedrock.org", "", 204, "", "",
       true, "archived"},
      {"DELETE an absent member", "DELETE", "betty@bedrock.org", "", 404, "Resource Not Found",
       "The requested resource could not be found."},
      {"delete-permanent", "FORGET", "fred@bedrock.org", "", 204, "", "", true, ""},
      {"delete-permanent of an absent member", "FORGET", "betty@bedrock.org", "", 404,
       "Resource Not Found", "The requested resource could not be found."},
  };
  for (const Transition& t : rows) {
    DYNAMIC_SECTION(t.name) {
      Box box;
      std::string target = t.method == "POST" ? kMembers : member_path(t.email);
      std::string method = t.method;
      if (method == "FORGET") {
        method = "POST";
        target += "/actions/delete-permanent";
      }
      auto r = box.call(method, target, t.body);
      INFO(r.body);
      if (t.status >= 400) {
        check_problem(r, t.status, t.title, t.detail, t.with_type);
        if (t.status == 405) CHECK(r.header("Allow") == "GET, PUT");
      } else {
        CHECK(r.status == t.status);
        CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
        if (t.status == 204) CHECK(r.body.empty());
        if (!t.new_status.empty()) {
          json m = box.get(member_path(t.email));
          CHECK(m["status"] == t.new_status);
        } else {
          CHECK(box.call("GET", member_path(t.email)).status == 404);
        }
      }
    }
  }
}

TEST_CASE("state machine: archive, API unsubscribe and resubscribe, and the forgotten email") {
  Box box;
  auto w = member_path("wilma@bedrock.org");
  REQUIRE(box.call("DELETE", w).status == 204);
  CHECK(box.get(w)["status"] == "archived");
  auto again = box.call("DELETE", w);
  CHECK(again.status == 405);
  CHECK(again.header("Allow") == "GET, PUT");
  REQUIRE(box.call("PUT", w, R"({"status":"subscribed"})").status == 200);
  auto u = box.call("PUT", w, R"({"status":"unsubscribed"})");
  REQUIRE(u.status == 200);
  CHECK(body_of(u)["unsubscribe_reason"] == "N/A (Unsubscribed by admin)");
  CHECK(box.call("PATCH", w, R"({"status":"subscribed"})").status == 200);

  auto f = member_path("fred@bedrock.org");
  REQUIRE(box.call("POST", f + "/actions/delete-permanent").status == 204);
  CHECK(box.call("GET", f).status == 404);
  check_problem(
      box.call("POST", kMembers, R"({"email_address":"fred@bedrock.org","status":"pending"})"), 400,
      "Forgotten Email Not Subscribed",
      "fred@bedrock.org was permanently deleted and cannot be re-imported. The contact "
      "must re-subscribe to get back on the list.",
      false);
  check_problem(
      box.call("PUT", f, R"({"email_address":"fred@bedrock.org","status_if_new":"subscribed"})"),
      400, "Forgotten Email Not Subscribed",
      "fred@bedrock.org was permanently deleted and cannot be re-imported. The contact "
      "must re-subscribe to get back on the list.",
      false);
  // Only the contact can bring themself back (the sandbox's signup hook).
  auto hook = box.call("POST", "/_sandbox/mailchimp/members",
                       R"({"action":"subscribe","email_address":"fred@bedrock.org"})", "");
  CHECK(hook.status == 200);
  CHECK(box.get(f)["status"] == "subscribed");
  // An archived member who had unsubscribed themself is still in compliance state.
  auto b = member_path("barney@bedrock.org");
  REQUIRE(box.call("DELETE", b).status == 204);
  CHECK(
      box.call("POST", kMembers, R"({"email_address":"barney@bedrock.org","status":"subscribed"})")
          .status == 400);
  CHECK(box.call("POST", kMembers, R"({"email_address":"barney@bedrock.org","status":"pending"})")
            .status == 200);
}

TEST_CASE("email change keeps contact_id and web_id, moves id and unique_email_id") {
  Box box;
  json before = box.get(member_path("pebbles@bedrock.org"));
  auto r = box.call("PUT", member_path("pebbles@bedrock.org"),
                    R"({"email_address":"pebbles.rubble@bedrock.org","status":"subscribed"})");
  REQUIRE(r.status == 200);
  json after = body_of(r);
  CHECK(after["id"] == hash("pebbles.rubble@bedrock.org"));
  CHECK(after["contact_id"] == before["contact_id"]);
  CHECK(after["web_id"] == before["web_id"]);
  CHECK(after["unique_email_id"] != before["unique_email_id"]);
  CHECK(box.call("GET", member_path("pebbles@bedrock.org")).status == 404);
  CHECK(box.get(member_path("pebbles.rubble@bedrock.org"))["email_address"] ==
        "pebbles.rubble@bedrock.org");

  auto taken = box.call("PATCH", member_path("wilma@bedrock.org"),
                        R"({"email_address":"fred@bedrock.org"})");
  check_problem(taken, 400, "Invalid Resource",
                "The resource submitted could not be validated. For field-specific details, see "
                "the 'errors' array.");
  CHECK(body_of(taken)["errors"][0] ==
        json{{"field", "email address"},
             {"message",
              "\"fred@bedrock.org\" is already in this list with a status of \"Subscribed\"."}});
  auto unsub =
      box.call("PATCH", member_path("tex@bedrock.org"), R"({"email_address":"tex2@bedrock.org"})");
  CHECK(unsub.status == 400);
  CHECK(body_of(unsub)["errors"][0]["message"] ==
        "This member's status is \"unsubscribed.\" You can only update email addresses for "
        "members with a status of \"subscribed.\"");
}

TEST_CASE("merge fields: type validation, unknown tags ignored, required fields") {
  Box box;
  auto add = box.call("POST", std::string("/3.0/lists/") + kListId + "/merge-fields",
                      R"({"tag":"LTV","name":"Lifetime value","type":"number"})");
  REQUIRE(add.status == 200);
  CHECK(body_of(add)["merge_id"] == 5);
  auto w = member_path("wilma@bedrock.org");
  auto bad = box.call("PATCH", w, R"({"merge_fields":{"LTV":"lots"}})");
  check_problem(bad, 400, "Invalid Resource", "Your merge fields were invalid.");
  CHECK(body_of(bad)["errors"] ==
        json::array({{{"field", "LTV"}, {"message", "Please enter a number"}}}));
  auto ok = box.call("PATCH", w,
                     R"({"merge_fields":{"LTV":"15.5","NOSUCH":"x","email_address":"x@y.org"}})");
  REQUIRE(ok.status == 200);
  CHECK(body_of(ok)["merge_fields"]["LTV"] == 15.5);
  CHECK_FALSE(body_of(ok)["merge_fields"].contains("NOSUCH"));
  CHECK(body_of(ok)["merge_fields"].size() == 5);
  auto boolean = box.call("PATCH", w, R"({"merge_fields":{"FNAME":true}})");
  CHECK(boolean.status == 400);
  CHECK(body_of(boolean)["errors"][0] ==
        json{{"field", "merge_fields.FNAME"},
             {"message", "Data did not match any of the schemas described in anyOf."}});
  auto arr = box.call("PATCH", w, R"({"merge_fields":[]})");
  CHECK(
      body_of(arr)["errors"][0] ==
      json{{"field", "merge_fields"}, {"message", "Schema describes object, array found instead"}});
  auto addr = box.call("PATCH", w,
                       R"({"merge_fields":{"ADDRESS":{"addr1":"1 Cave St","city":"Bedrock"}}})");
  CHECK(body_of(addr)["errors"][0]["message"] == "Please enter a complete address");
  auto full = box.call(
      "PATCH", w,
      R"({"merge_fields":{"ADDRESS":{"addr1":"1 Cave St","city":"Bedrock","state":"CA","zip":"70777"}}})");
  REQUIRE(full.status == 200);
  CHECK(body_of(full)["merge_fields"]["ADDRESS"]["city"] == "Bedrock");
  CHECK(body_of(box.call("PATCH", w,
                         R"({"merge_fields":{"ADDRESS":""}})"))["merge_fields"]["ADDRESS"] == "");

  REQUIRE(box.call("POST", std::string("/3.0/lists/") + kListId + "/merge-fields",
                   R"({"tag":"MEMBERNO","name":"Member number","type":"text","required":true})")
              .status == 200);
  auto missing =
      box.call("POST", kMembers, R"({"email_address":"betty@bedrock.org","status":"subscribed"})");
  CHECK(body_of(missing)["errors"] ==
        json::array({{{"field", "MEMBERNO"}, {"message", "Please enter a value"}}}));
  CHECK(box.call("POST", kMembers + "?skip_merge_validation=true",
                 R"({"email_address":"betty@bedrock.org","status":"subscribed"})")
            .status == 200);
  json fields = box.get(std::string("/3.0/lists/") + kListId + "/merge-fields?count=100");
  CHECK(fields["total_items"] == 6);
  CHECK(fields["merge_fields"][4]["tag"] == "LTV");
}

TEST_CASE("last_changed moves on every change and only then") {
  Box box;
  auto w = member_path("wilma@bedrock.org");
  box.advance(10);
  REQUIRE(box.call("PATCH", w, R"({"merge_fields":{"FNAME":"Wilma"}})").status == 200);
  CHECK(box.get(w)["last_changed"] == "2026-01-01T12:00:00+00:00");  // nothing changed
  REQUIRE(box.call("PATCH", w, R"({"merge_fields":{"LNAME":"Slaghoople"}})").status == 200);
  CHECK(box.get(w)["last_changed"] == "2026-03-01T00:00:10+00:00");
  box.advance(5);
  REQUIRE(box.call("POST", w + "/tags", R"({"tags":[{"name":"vip","status":"active"}]})").status ==
          204);
  CHECK(box.get(w)["last_changed"] == "2026-03-01T00:00:15+00:00");
  box.advance(5);
  REQUIRE(box.call("DELETE", w).status == 204);
  CHECK(box.get(w)["last_changed"] == "2026-03-01T00:00:20+00:00");
  // Incremental fetch sees exactly that member.
  json page =
      box.get(kMembers + "?since_last_changed=2026-03-01T00:00:00%2B00:00&sort_field=last_changed");
  REQUIRE(page["total_items"] == 1);
  CHECK(page["members"][0]["email_address"] == "wilma@bedrock.org");
}

TEST_CASE("batch subscribe: inline errors, HTTP 200, update_existing") {
  Box box;
  std::string body = R"({"members":[
      {"email_address":"betty@bedrock.org","status":"subscribed","merge_fields":{"FNAME":"Betty"}},
      {"email_address":"wilma@bedrock.org","status":"unsubscribed"},
      {"email_address":"AAAAA","status":"subscribed"},
      {"email_address":"x@example.com","status":"subscribed"},
      {"email_address":"betty@bedrock.org","status":"subscribed"}
    ]})";
  auto r = box.call("POST", std::string("/3.0/lists/") + kListId, body);
  REQUIRE(r.status == 200);
  json j = body_of(r);
  CHECK(j["total_created"] == 1);
  CHECK(j["total_updated"] == 0);
  CHECK(j["error_count"] == 4);
  CHECK(j["new_members"][0]["email_address"] == "betty@bedrock.org");
  CHECK_FALSE(j["new_members"][0].contains("contact_id"));  // the batch shape
  CHECK(j["errors"][0] ==
        json{{"email_address", "wilma@bedrock.org"},
             {"error",
              "wilma@bedrock.org is already a list member, do you want to update? please "
              "provide update_existing:true in the request body"},
             {"error_code", "ERROR_CONTACT_EXISTS"}});
  CHECK(j["errors"][1]["error"] == "Please provide a valid email address.");
  CHECK(j["errors"][1]["error_code"] == "ERROR_GENERIC");
  CHECK(j["errors"][2]["error"] ==
        "x@example.com looks fake or invalid, please enter a real email address.");

  std::string upd = R"({"update_existing":true,"members":[
      {"email_address":"wilma@bedrock.org","status":"unsubscribed"},
      {"email_address":"barney@bedrock.org","status":"subscribed"},
      {"email_address":"arnold@bedrock.org","status":"subscribed"}]})";
  json u = body_of(box.call("POST", std::string("/3.0/lists/") + kListId, upd));
  CHECK(u["total_updated"] == 1);
  CHECK(u["total_created"] == 1);  // the archived contact comes back as new
  CHECK(u["updated_members"][0]["status"] == "unsubscribed");
  CHECK(u["errors"][0]["error"] ==
        "barney@bedrock.org is in a compliance state due to unsubscribe, bounce, or compliance "
        "review and cannot be subscribed.");
  auto too_many = json{{"members", json::array()}};
  for (int i = 0; i < 501; ++i) {
    too_many["members"].push_back(
        {{"email_address", "p" + std::to_string(i) + "@bedrock.org"}, {"status", "subscribed"}});
  }
  CHECK(box.call("POST", std::string("/3.0/lists/") + kListId, too_many.dump()).status == 400);
}

TEST_CASE("batch subscribe: fields and exclude_fields shape the answer") {
  Box box;
  std::string body = R"({"update_existing":true,"members":[
      {"email_address":"betty@bedrock.org","status":"subscribed","merge_fields":{"FNAME":"Betty"}},
      {"email_address":"wilma@bedrock.org","status":"unsubscribed"},
      {"email_address":"AAAAA","status":"subscribed"}]})";
  json j = body_of(box.call("POST",
                            std::string("/3.0/lists/") + kListId +
                                "?fields=new_members.email_address,new_members.status,"
                                "updated_members.email_address,errors,error_count",
                            body));
  CHECK(j ==
        json{{"new_members", {{{"email_address", "betty@bedrock.org"}, {"status", "subscribed"}}}},
             {"updated_members", {{{"email_address", "wilma@bedrock.org"}}}},
             {"errors",
              {{{"email_address", "AAAAA"},
                {"error", "Please provide a valid email address."},
                {"error_code", "ERROR_GENERIC"}}}},
             {"error_count", 1}});
  json x = body_of(box.call(
      "POST",
      std::string("/3.0/lists/") + kListId + "?exclude_fields=new_members,updated_members,_links",
      body));
  CHECK_FALSE(x.contains("new_members"));
  CHECK_FALSE(x.contains("_links"));
  CHECK(x["total_updated"] == 2);  // both are members now: the same two again
  CHECK(x["error_count"] == 1);
}

TEST_CASE("tags: POST is 204 with an empty body; GET lists them; unknown members are 404") {
  Box box;
  auto w = member_path("wilma@bedrock.org");
  auto r = box.call(
      "POST", w + "/tags",
      R"({"tags":[{"name":"VIP","status":"active"},{"name":"volunteer","status":"inactive"}],"is_syncing":false})");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
  json tags = box.get(w + "/tags");
  REQUIRE(tags["total_items"] == 1);
  CHECK(tags["tags"][0]["name"] == "VIP");
  CHECK(tags["tags"][0]["date_added"] == "2026-03-01T00:00:00+00:00");
  CHECK(box.call("POST", w + "/tags", R"({"tags":[{"name":"vip","status":"on"}]})").status == 400);
  CHECK(box.call("POST", member_path("betty@bedrock.org") + "/tags", R"({"tags":[]})").status ==
        404);
  CHECK(box.call("POST", w + "/tags", R"({"tags":[]})").status == 204);
  CHECK(box.get(std::string("/3.0/lists/") + kListId + "/tag-search?name=v")["total_items"] == 2);
}

TEST_CASE("concurrency: more than 10 simultaneous requests for one key get 429") {
  Box box;
  REQUIRE(box.call("POST", "/_sandbox/faults", R"({"latency_ms": 300})").status == 200);
  std::atomic<int> ok{0}, limited{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 13; ++i) {
    threads.emplace_back([&] {
      auto r = box.call("GET", "/3.0/ping");
      if (r.status == 200) ++ok;
      if (r.status == 429) {
        ++limited;
        json b = body_of(r);
        CHECK(b["title"] == "Too Many Requests");
        CHECK(b["detail"] == "You have exceeded the limit of 10 simultaneous connections.");
      }
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(ok == 10);
  CHECK(limited == 3);
}

TEST_CASE("faults: scripted answers, resets, truncation") {
  Box box;
  REQUIRE(box.call("POST", "/_sandbox/faults",
                   R"({"next":["503","reset","truncate","403","429","500","reset_after"]})")
              .status == 200);
  http::Request r;
  r.method = "GET";
  r.target = kMembers;
  r.headers.push_back({"Authorization", basic(kKey)});
  http::Peer peer{"127.0.0.1", true};
  auto a = box.mc->handle(r, peer);
  CHECK(a.response.status == 503);
  CHECK(a.response.header("Content-Type") == "text/html");
  CHECK(box.mc->handle(r, peer).reset_without_response);
  auto t = box.mc->handle(r, peer);
  CHECK(t.response.status == 200);
  CHECK(t.truncate_body_at < t.response.body.size());
  auto bare = box.mc->handle(r, peer);
  CHECK(bare.response.status == 403);
  CHECK(bare.response.body.empty());
  CHECK(box.mc->handle(r, peer).response.status == 429);
  CHECK(box.mc->handle(r, peer).response.status == 500);
  // reset_after: the request is carried out, then the connection is cut.
  http::Request del = r;
  del.method = "DELETE";
  del.target = member_path("wilma@bedrock.org");
  CHECK(box.mc->handle(del, peer).reset_without_response);
  CHECK(box.get(member_path("wilma@bedrock.org"))["status"] == "archived");
  CHECK(box.mc->handle(r, peer).response.status == 200);
  // Rates, and a path prefix that limits them.
  REQUIRE(box.call("POST", "/_sandbox/faults",
                   R"({"error_rates":{"503":1.0},"path_prefix":"/3.0/lists"})")
              .status == 200);
  CHECK(box.call("GET", "/3.0/ping").status == 200);
  CHECK(box.call("GET", kMembers).status == 503);
  json f = box.get("/_sandbox/faults");
  CHECK(f["error_rates"]["503"] == 1.0);
  CHECK(box.call("POST", "/_sandbox/faults", "{}").status == 200);
  CHECK(box.call("GET", kMembers).status == 200);
  CHECK(box.call("POST", "/_sandbox/faults", R"({"next":["oops"]})").status == 400);
}
