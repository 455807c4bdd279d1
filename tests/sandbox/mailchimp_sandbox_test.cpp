// The sandbox's Mailchimp emulator: driven through its handler (fast, table-driven for the member
// state machine), then over real sockets with TLS. The expected statuses, titles and details are
// those of the live Marketing API; docs/sandbox.md "The member state machine" has the table
// the state machine follows.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "concord/email.h"
#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/mailchimp/state.h"
#include "sandbox/persister.h"
#include "sandbox_fixture.h"

namespace http = concord::http;
namespace sb = concord::sandbox;
using concord::Micros;
using concord::Result;
using concord::Status;
using concord::testing::fixture;
using concord::testing::TempDir;
using json = nlohmann::json;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";
constexpr const char* kListId = "b3d1c0ffee";
const std::string kMembers = std::string("/3.0/lists/") + kListId + "/members";

Micros T(const char* iso) {
  auto t = concord::parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

std::string b64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(val >> bits) & 0x3f]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kAlphabet[((val << 8) >> (bits + 8)) & 0x3f]);
  while (out.size() % 4)
    out.push_back('=');
  return out;
}

std::string basic(std::string_view key, std::string_view user = "anystring") {
  return "Basic " + b64(std::string(user) + ":" + std::string(key));
}

std::string hash(std::string_view email) {
  return concord::subscriber_hash(concord::normalise_email(email));
}
std::string member_path(std::string_view email) {
  return kMembers + "/" + hash(email);
}

// A stand-in for the web: records the webhook validation GETs and deliveries.
struct FakeWeb {
  std::mutex mu;
  std::vector<std::pair<std::string, http::Request>> calls;
  std::atomic<int> validation_status{200};
  std::atomic<int> delivery_status{200};

  sb::UrlTransport transport() {
    return [this](const std::string& url, const http::Request& r) -> Result<http::Response> {
      std::lock_guard<std::mutex> lock(mu);
      calls.emplace_back(url, r);
      if (url.find("unreachable") != std::string::npos) return Status::unavailable("refused");
      http::Response resp;
      resp.status = r.method == "GET" ? validation_status.load() : delivery_status.load();
      return resp;
    };
  }
  std::vector<std::pair<std::string, http::Request>> posts() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::pair<std::string, http::Request>> out;
    for (const auto& c : calls) {
      if (c.second.method == "POST") out.push_back(c);
    }
    return out;
  }
};

// Form body to a map (the last value of a repeated key wins).
std::map<std::string, std::string> form(const std::string& body) {
  std::map<std::string, std::string> m;
  for (auto& [k, v] : http::parse_query(body))
    m[k] = v;
  return m;
}

struct Box {
  sb::SandboxClock clock;
  std::shared_ptr<FakeWeb> web = std::make_shared<FakeWeb>();
  std::unique_ptr<sb::MailchimpSandbox> mc;

  explicit Box(const std::string& seed = fixture()) {
    clock.fix(T("2026-03-01T00:00:00+00:00"));
    auto loaded = sb::parse_seed(seed, clock.now());
    INFO(loaded.status().to_string());
    REQUIRE(loaded.is_ok());
    sb::MailchimpOptions o;
    o.transport = web->transport();
    o.delivery_retry_delay = std::chrono::milliseconds(1);
    mc = std::make_unique<sb::MailchimpSandbox>(std::move(loaded->account), &clock, o);
  }

  http::Response call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& auth = basic(kKey),
                      std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    if (!auth.empty()) r.headers.push_back({"Authorization", auth});
    r.headers.push_back({"Host", "127.0.0.1:8443"});
    for (auto& h : headers)
      r.headers.push_back(h);
    r.body = body;
    http::Peer peer{"127.0.0.1", true};
    http::Reply reply = mc->handle(r, peer);
    return reply.response;
  }
  json get(const std::string& target) {
    auto r = call("GET", target);
    INFO(target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  void advance(int seconds) { clock.fix(clock.now() + seconds * concord::kMicrosPerSecond); }
};

json body_of(const http::Response& r) {
  return json::parse(r.body, nullptr, false);
}

void check_problem(const http::Response& r, int status, const std::string& title,
                   const std::string& detail, bool with_type = true) {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(r.header("Content-Type") == "application/problem+json; charset=utf-8");
  json b = body_of(r);
  REQUIRE(b.is_object());
  CHECK(b["title"] == title);
  CHECK(b["status"] == status);
  CHECK(b["detail"] == detail);
  CHECK(b["instance"] == std::string(r.header("X-Request-Id")));
  CHECK(b.contains("type") == with_type);
  if (with_type) CHECK(b["type"] == "https://mailchimp.com/developer/marketing/docs/errors/");
}

}  // namespace

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

// ---- webhooks -----------------------------------------------------------------------------------

TEST_CASE("webhooks: registration is validated by a GET; failures are 400") {
  Box box;
  std::string hooks = std::string("/3.0/lists/") + kListId + "/webhooks";
  auto r = box.call(
      "POST", hooks,
      R"({"url":"https://crm.bedrock.org/hooks/mc?key=s3cr3t","events":{"subscribe":true,"unsubscribe":true},"sources":{"user":true,"admin":true,"api":false}})");
  REQUIRE(r.status == 200);
  json w = body_of(r);
  CHECK(w["id"].get<std::string>().size() == 10);
  CHECK(w["events"] == json{{"subscribe", true},
                            {"unsubscribe", true},
                            {"profile", false},
                            {"cleaned", false},
                            {"upemail", false},
                            {"campaign", false}});
  CHECK(w["sources"] == json{{"user", true}, {"admin", true}, {"api", false}});
  {
    std::lock_guard<std::mutex> lock(box.web->mu);
    REQUIRE(box.web->calls.size() == 1);
    CHECK(box.web->calls[0].first == "https://crm.bedrock.org/hooks/mc?key=s3cr3t");
    CHECK(box.web->calls[0].second.method == "GET");
    CHECK(box.web->calls[0].second.header("User-Agent") == "MailChimp.com WebHook Validator");
  }
  CHECK(
      box.call("POST", hooks, R"({"url":"https://crm.bedrock.org/hooks/mc?key=s3cr3t"})").status ==
      400);  // the same URL twice
  box.web->validation_status = 404;
  check_problem(box.call("POST", hooks, R"({"url":"https://other.bedrock.org/x"})"), 400,
                "Invalid Resource",
                "We couldn't verify the URL is working. Please double check and try again. HTTP "
                "Code: 404");
  auto bad = box.call("POST", hooks, R"({"url":"not a url"})");
  CHECK(body_of(bad)["errors"][0] == json{{"field", "url"}, {"message", "Invalid URL"}});
  json list = box.get(hooks);
  CHECK(list["total_items"] == 1);
  CHECK(box.call("DELETE", hooks + "/" + w["id"].get<std::string>()).status == 204);
  CHECK(box.get(hooks)["total_items"] == 0);
}

TEST_CASE("webhooks: deliveries are form-encoded POSTs filtered by events and sources") {
  Box box;
  std::string hooks = std::string("/3.0/lists/") + kListId + "/webhooks";
  REQUIRE(
      box.call(
             "POST", hooks,
             R"({"url":"https://crm.bedrock.org/all","events":{"subscribe":true,"unsubscribe":true,"profile":true,"cleaned":true,"upemail":true},"sources":{"user":true,"admin":true,"api":true}})")
          .status == 200);
  REQUIRE(
      box.call(
             "POST", hooks,
             R"({"url":"https://crm.bedrock.org/noapi","events":{"subscribe":true,"unsubscribe":true,"profile":true,"cleaned":true,"upemail":true},"sources":{"user":true,"admin":true,"api":false}})")
          .status == 200);
  box.advance(60);
  // An API write: only the webhook with sources.api hears it.
  REQUIRE(
      box.call(
             "POST", kMembers,
             R"({"email_address":"betty@bedrock.org","status":"subscribed","merge_fields":{"FNAME":"Betty"}})")
          .status == 200);
  // The contact unsubscribes themself: both hear it.
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"unsubscribe","email_address":"wilma@bedrock.org"})", "")
              .status == 200);
  // A bounce.
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"clean","email_address":"fred@bedrock.org","reason":"hard"})", "")
              .status == 200);
  // An admin edit of a profile, then an email change through the API.
  REQUIRE(
      box.call(
             "POST", "/_sandbox/mailchimp/members",
             R"({"action":"update","source":"admin","email_address":"pebbles@bedrock.org","merge_fields":{"LNAME":"Rubble"}})",
             "")
          .status == 200);
  REQUIRE(box.call("PATCH", member_path("bamm-bamm@bedrock.org"),
                   R"({"email_address":"bammbamm@bedrock.org"})")
              .status == 200);
  box.mc->drain_webhooks();
  auto posts = box.web->posts();
  std::vector<std::string> seen;
  for (const auto& [url, req] : posts) {
    CHECK(req.header("Content-Type") == "application/x-www-form-urlencoded");
    CHECK(req.header("User-Agent") == "MailChimp.com");
    auto f = form(req.body);
    seen.push_back(url.substr(url.rfind('/') + 1) + ":" + f["type"]);
    CHECK(f["fired_at"] == "2026-03-01 00:01:00");
    if (f["type"] == "subscribe") {
      CHECK(f["data[email]"] == "betty@bedrock.org");
      CHECK(f["data[merges][FNAME]"] == "Betty");
      CHECK(f["data[merges][EMAIL]"] == "betty@bedrock.org");
      CHECK(f["data[list_id]"] == kListId);
      CHECK(f["data[id]"].size() == 10);
    }
    if (f["type"] == "unsubscribe") {
      CHECK(f["data[action]"] == "unsub");
      CHECK(f["data[reason]"] == "manual");
      CHECK(f["data[email]"] == "wilma@bedrock.org");
    }
    if (f["type"] == "cleaned") {
      CHECK(f["data[reason]"] == "hard");
      CHECK(f["data[email]"] == "fred@bedrock.org");
    }
    if (f["type"] == "upemail") {
      CHECK(f["data[old_email]"] == "bamm-bamm@bedrock.org");
      CHECK(f["data[new_email]"] == "bammbamm@bedrock.org");
    }
    if (f["type"] == "profile") CHECK(f["data[merges][LNAME]"] == "Rubble");
  }
  CHECK(seen == std::vector<std::string>{"all:subscribe", "all:unsubscribe", "noapi:unsubscribe",
                                         "all:cleaned", "noapi:cleaned", "all:profile",
                                         "noapi:profile", "all:upemail"});
  json log = box.get("/_sandbox/mailchimp/deliveries");
  CHECK(log["deliveries"].size() == 8);
  CHECK(log["deliveries"][0]["status"] == 200);
}

TEST_CASE("member hooks: self-unsubscribe and bounce put members in compliance state") {
  Box box;
  auto w = member_path("wilma@bedrock.org");
  auto r = box.call(
      "POST", "/_sandbox/mailchimp/members",
      R"({"action":"unsubscribe","email_address":"wilma@bedrock.org","reason":"Too many emails"})",
      "");
  REQUIRE(r.status == 200);
  CHECK(body_of(r)["unsubscribe_reason"] == "Too many emails");
  CHECK(box.call("PUT", w, R"({"status":"subscribed"})").status == 400);
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"clean","email_address":"tex@bedrock.org"})", "")
              .status == 200);
  CHECK(box.get(member_path("tex@bedrock.org"))["status"] == "cleaned");
  CHECK(box.call("PUT", member_path("tex@bedrock.org"), R"({"status":"subscribed"})").status ==
        400);
  REQUIRE(box.call("POST", "/_sandbox/mailchimp/members",
                   R"({"action":"confirm","email_address":"hoppy@bedrock.org"})", "")
              .status == 200);
  json h = box.get(member_path("hoppy@bedrock.org"));
  CHECK(h["status"] == "subscribed");
  CHECK(h["timestamp_opt"] == "2026-03-01T00:00:00+00:00");
  CHECK(box.call("POST", "/_sandbox/mailchimp/members",
                 R"({"action":"dance","email_address":"hoppy@bedrock.org"})", "")
            .status == 400);
  // Admin routes answer only loopback peers.
  http::Request req;
  req.method = "GET";
  req.target = "/_sandbox/state";
  CHECK(box.mc->handle(req, http::Peer{"10.0.0.1", false}).response.status == 403);
}

// ---- seed, state, clock, persistence ----------------------------------------------------------

TEST_CASE("state: GET /_sandbox/state round-trips through POST /_sandbox/reset") {
  Box box;
  REQUIRE(box.call("DELETE", member_path("fred@bedrock.org")).status == 204);
  REQUIRE(
      box.call("POST", member_path("barney@bedrock.org") + "/actions/delete-permanent").status ==
      204);
  auto state = box.call("GET", "/_sandbox/state", "", "");
  REQUIRE(state.status == 200);
  json s1 = json::parse(state.body);
  CHECK(s1["clock"] == "2026-03-01T00:00:00+00:00");
  CHECK(s1["mailchimp"]["lists"][0]["forgotten"] == json::array({hash("barney@bedrock.org")}));
  Box other;
  auto reset = other.call("POST", "/_sandbox/reset", state.body, "");
  REQUIRE(reset.status == 200);
  CHECK(body_of(reset)["members"] == 10);
  CHECK(json::parse(other.call("GET", "/_sandbox/state", "", "").body) == s1);
  CHECK(other.get(member_path("fred@bedrock.org"))["status"] == "archived");
  CHECK(other.call("POST", kMembers, R"({"email_address":"barney@bedrock.org","status":"pending"})")
            .status == 400);
  // A bad seed changes nothing.
  auto bad = other.call(
      "POST", "/_sandbox/reset",
      R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","status":"gone"}]}]}})", "");
  CHECK(bad.status == 400);
  CHECK(body_of(bad)["detail"].get<std::string>().find("mailchimp.lists[0].members[0].status") !=
        std::string::npos);
  CHECK(other.get(kMembers)["total_items"] == 10);
  // An empty body resets to an empty account.
  REQUIRE(other.call("POST", "/_sandbox/reset", "", "").status == 200);
  CHECK(other.get("/3.0/lists")["total_items"] == 0);
}

TEST_CASE("seed: problems are reported with their path") {
  struct Row {
    const char* seed;
    const char* expect;
  };
  const Row rows[] = {
      {R"({"mailchimp":{"api_key":"nodc"}})", "mailchimp.api_key"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"nope"}]}]}})",
       "mailchimp.lists[0].members[0].email_address"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org"},{"email_address":"A@b.org"}]}]}})",
       "appears twice"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","merge_fields":{"LTV":"1"}}]}]}})",
       "mailchimp.lists[0].members[0].merge_fields.LTV"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","unsubscribe_origin":"cat"}]}]}})",
       "unsubscribe_origin"},
      {R"({"mailchimp":{"lists":[{"members":[{"email_address":"a@b.org","last_changed":"yesterday"}]}]}})",
       "last_changed"},
      {R"({"mailchimp":{"lists":[{"id":"x"},{"id":"x"}]}})", "appears twice"},
      {R"({"clock":"soon"})", "clock"},
      {R"([1,2])", "expected a JSON object"},
      {R"({"mailchimp":)", "not valid JSON"},
  };
  for (const Row& r : rows) {
    DYNAMIC_SECTION(r.seed) {
      auto s = sb::parse_seed(r.seed, 0);
      REQUIRE_FALSE(s.is_ok());
      CHECK(s.status().code() == Status::Code::kInvalid);
      CHECK_THAT(s.status().message(), Catch::Contains(r.expect));
    }
  }
  // Unknown top-level keys are ignored; merge_fields may come after members; defaults apply.
  auto ok = sb::parse_seed(
      R"({"civicrm":{"x":1},"mailchimp":{"lists":[{"name":"N","members":[{"email_address":"a@b.org","merge_fields":{"LTV":"2"}}],"merge_fields":[{"tag":"LTV","type":"number"}]},{"members":[{"email_address":"c@d.org","merge_fields":{"FNAME":"C"}}]}]}})",
      0);
  INFO(ok.status().to_string());
  REQUIRE(ok.is_ok());
  CHECK(ok->account->api_key == sb::kDefaultApiKey);
  REQUIRE(ok->account->lists.size() == 2);
  CHECK(ok->account->lists[0]->merge_fields.size() == 1);
  CHECK(ok->account->lists[1]->merge_fields.size() == 4);
  CHECK(ok->account->lists[1]->members.size() == 1);
}

TEST_CASE("clock: fixed, advanced, and back to real time") {
  Box box;
  json c = body_of(box.call("POST", "/_sandbox/clock", R"({"now":"2026-05-01T10:00:00Z"})", ""));
  CHECK(c == json{{"now", "2026-05-01T10:00:00+00:00"}, {"fixed", true}});
  c = body_of(box.call("POST", "/_sandbox/clock", R"({"advance_seconds":90})", ""));
  CHECK(c["now"] == "2026-05-01T10:01:30+00:00");
  REQUIRE(
      box.call("POST", kMembers, R"({"email_address":"betty@bedrock.org","status":"subscribed"})")
          .status == 200);
  CHECK(box.get(member_path("betty@bedrock.org"))["last_changed"] == "2026-05-01T10:01:30+00:00");
  c = body_of(box.call("POST", "/_sandbox/clock", R"({"now":null})", ""));
  CHECK(c["fixed"] == false);
  CHECK(box.call("POST", "/_sandbox/clock", R"({"now":"later"})", "").status == 400);
}

TEST_CASE("persistence: the state file is written atomically, debounced, and reloads") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "concord-sandbox-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  std::string path = tmpl + "/state.json";
  {
    Box box;
    sb::Persister p(
        path, [&] { return box.mc->generation(); }, [&] { return box.mc->state_document(); },
        std::chrono::milliseconds(20));
    REQUIRE(box.call("DELETE", member_path("wilma@bedrock.org")).status == 204);
    for (int i = 0; i < 200 && !std::filesystem::exists(path); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(std::filesystem::exists(path));
    REQUIRE(box.call("DELETE", member_path("fred@bedrock.org")).status == 204);
    p.stop();  // the final save
  }
  auto text = sb::read_file(path);
  REQUIRE(text.is_ok());
  auto loaded = sb::parse_seed(*text, 0);
  REQUIRE(loaded.is_ok());
  CHECK(loaded->clock == T("2026-03-01T00:00:00+00:00"));
  const sb::List& l = *loaded->account->lists[0];
  CHECK(l.find(concord::member_key("wilma@bedrock.org"))->status == sb::MemberStatus::kArchived);
  CHECK(l.find(concord::member_key("fred@bedrock.org"))->status == sb::MemberStatus::kArchived);
  for (const auto& e : std::filesystem::directory_iterator(tmpl)) {
    CHECK(e.path().filename() == "state.json");  // no temporary file left behind
  }
  std::filesystem::remove_all(tmpl);
}

// ---- performance -------------------------------------------------------------------------------

namespace {
std::string big_seed(int n) {
  std::string s =
      R"({"mailchimp":{"api_key":")" + std::string(kKey) +
      R"(","lists":[{"id":"big0000001","name":"Big","merge_fields":[{"tag":"FNAME"},{"tag":"LNAME"}],"members":[)";
  s.reserve(static_cast<std::size_t>(n) * 200);
  for (int i = 0; i < n; ++i) {
    if (i) s += ',';
    char buf[320];
    std::snprintf(
        buf, sizeof buf,
        R"({"email_address":"member%07d@bedrock.org","status":"%s","timestamp_opt":"2025-%02d-%02dT10:00:00+00:00","last_changed":"2026-01-%02dT%02d:%02d:00+00:00","merge_fields":{"FNAME":"First%d","LNAME":"Last%d"}})",
        i, i % 10 == 0 ? "unsubscribed" : "subscribed", i % 12 + 1, i % 28 + 1, i % 28 + 1, i % 24,
        i % 60, i, i);
    s += buf;
  }
  s += "]}]}}";
  return s;
}
}  // namespace

TEST_CASE("performance: a page of 1000 members with the benchmark's fields") {
  const int n = 200000;
  std::string seed = big_seed(n);
  sb::SandboxClock clock;
  clock.fix(T("2026-03-01T00:00:00+00:00"));
  auto t0 = std::chrono::steady_clock::now();
  auto loaded = sb::parse_seed(seed, clock.now());
  auto t1 = std::chrono::steady_clock::now();
  REQUIRE(loaded.is_ok());
  sb::MailchimpSandbox mc(std::move(loaded->account), &clock);
  auto page = [&](const std::string& q) {
    http::Request r;
    r.target = "/3.0/lists/big0000001/members?count=1000&" + q;
    r.headers.push_back({"Authorization", basic(kKey)});
    return mc.handle(r, http::Peer{"127.0.0.1", true}).response;
  };
  const std::string fields =
      "fields=members.email_address,members.status,members.unsubscribe_reason,"
      "members.timestamp_opt,members.last_changed,members.merge_fields,total_items";
  auto first = page(fields + "&offset=0");  // builds the member order
  REQUIRE(first.status == 200);
  auto t2 = std::chrono::steady_clock::now();
  const int pages = 50;
  std::size_t bytes = 0;
  for (int i = 1; i <= pages; ++i) {
    auto r = page(fields + "&offset=" + std::to_string(i * 3000));
    REQUIRE(r.status == 200);
    bytes += r.body.size();
  }
  auto t3 = std::chrono::steady_clock::now();
  auto incremental =
      page(fields +
           "&since_last_changed=2026-01-27T00:00:00%2B00:00&sort_field=last_changed&offset=1000");
  REQUIRE(incremental.status == 200);
  auto full = page("offset=5000");
  auto t4 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  double per_page = ms(t2, t3) / pages;
  WARN("seed " << n << " members: " << ms(t0, t1)
               << " ms; first page (builds the order): " << ms(t1, t2) << " ms; then " << per_page
               << " ms per 1000-member page (" << bytes / pages
               << " bytes); incremental + full-shape pages: " << ms(t3, t4) << " ms");
  json j = json::parse(full.body);
  CHECK(j["members"].size() == 1000);
  CHECK(json::parse(incremental.body)["members"].size() == 1000);
  CHECK(per_page < 100);  // a few ms in an optimised build; generous for debug and sanitizers
}

// ---- over real sockets --------------------------------------------------------------------------

TEST_CASE("sockets: the API over TLS, with a webhook receiver over plain HTTP") {
  TempDir dir;
  Status certs = http::write_test_certificates(dir.path.string());
  INFO(certs.to_string());
  REQUIRE(certs.is_ok());

  // The CRM's webhook endpoint: answers the validation GET and records the POSTs.
  std::mutex mu;
  std::vector<http::Request> received;
  auto receiver =
      http::Server::start(http::ServerOptions{}, [&](const http::Request& r, const http::Peer&) {
        std::lock_guard<std::mutex> lock(mu);
        received.push_back(r);
        http::Reply reply;
        reply.response.status = 200;
        return reply;
      });
  REQUIRE(receiver.is_ok());

  sb::SandboxClock clock;
  auto loaded = sb::parse_seed(fixture(), clock.now());
  REQUIRE(loaded.is_ok());
  sb::MailchimpOptions o;
  o.delivery_retry_delay = std::chrono::milliseconds(10);
  sb::MailchimpSandbox mc(std::move(loaded->account), &clock, o);
  http::ServerOptions so;
  so.cert_file = dir.file("server.pem");
  so.key_file = dir.file("server.key");
  auto server = http::Server::start(
      so, [&](const http::Request& r, const http::Peer& p) { return mc.handle(r, p); });
  INFO(server.status().to_string());
  REQUIRE(server.is_ok());

  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string((*server)->port()));
  REQUIRE(url.is_ok());
  http::ClientOptions co;
  co.ca_file = dir.file("ca.pem");
  co.retry.max_attempts = 1;
  auto client = http::Client::create(*url, co);
  INFO(client.status().to_string());
  REQUIRE(client.is_ok());
  auto send = [&](std::string method, std::string target, std::string body = "") {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers.push_back({"Authorization", basic(kKey)});
    if (!r.body.empty()) r.headers.push_back({"Content-Type", "application/json"});
    auto resp = (*client)->send(r);
    INFO(resp.status().to_string());
    REQUIRE(resp.is_ok());
    return std::move(resp).value();
  };

  auto ping = send("GET", "/3.0/ping");
  CHECK(ping.status == 200);
  CHECK(json::parse(ping.body)["health_status"] == "Everything's Chimpy!");
  auto hook = send("POST", std::string("/3.0/lists/") + kListId + "/webhooks",
                   R"({"url":"http://127.0.0.1:)" + std::to_string((*receiver)->port()) +
                       R"(/hooks/mc?key=s3cr3t","sources":{"user":true,"admin":true,"api":true}})");
  INFO(hook.body);
  REQUIRE(hook.status == 200);
  auto created =
      send("POST", kMembers, R"({"email_address":"betty@bedrock.org","status":"subscribed"})");
  CHECK(created.status == 200);
  auto del = send("DELETE", member_path("betty@bedrock.org"));
  CHECK(del.status == 204);
  CHECK(del.body.empty());
  auto page = send("GET", kMembers + "?count=1000&fields=members.email_address,total_items");
  CHECK(json::parse(page.body)["total_items"] == 12);
  mc.drain_webhooks();
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(received.size() == 3);
  CHECK(received[0].method == "GET");
  CHECK(received[0].target == "/hooks/mc?key=s3cr3t");
  CHECK(received[1].method == "POST");
  CHECK(form(received[1].body)["type"] == "subscribe");
  CHECK(form(received[2].body)["type"] == "unsubscribe");
  CHECK(form(received[2].body)["data[action]"] == "delete");
  (*server)->stop();
  (*receiver)->stop();
}

TEST_CASE("sockets: a reset fault and a truncated body reach the client as failures") {
  TempDir dir;
  REQUIRE(http::write_test_certificates(dir.path.string()).is_ok());
  sb::SandboxClock clock;
  sb::MailchimpSandbox mc(sb::empty_account(), &clock);
  http::ServerOptions so;
  so.cert_file = dir.file("server.pem");
  so.key_file = dir.file("server.key");
  auto server = http::Server::start(
      so, [&](const http::Request& r, const http::Peer& p) { return mc.handle(r, p); });
  REQUIRE(server.is_ok());
  auto url = http::Url::parse("https://127.0.0.1:" + std::to_string((*server)->port()));
  http::ClientOptions co;
  co.ca_file = dir.file("ca.pem");
  co.retry.max_attempts = 3;
  co.retry.base_delay = std::chrono::milliseconds(1);
  co.retry.max_delay = std::chrono::milliseconds(2);
  auto client = http::Client::create(*url, co);
  REQUIRE(client.is_ok());
  http::Request admin;
  admin.method = "POST";
  admin.target = "/_sandbox/faults";
  admin.body = R"({"next":["reset","truncate"]})";
  REQUIRE((*client)->send(admin)->status == 200);
  http::Request ping;
  ping.target = "/3.0/lists";
  ping.headers.push_back({"Authorization", basic(sb::kDefaultApiKey)});
  auto r = (*client)->send(ping);  // reset, truncated, then the real answer
  INFO(r.status().to_string());
  REQUIRE(r.is_ok());
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["total_items"] == 0);
  CHECK((*client)->attempts() == 4);  // the admin call, then three attempts
  (*server)->stop();
}
