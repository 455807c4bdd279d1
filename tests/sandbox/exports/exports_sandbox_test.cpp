// The real concord-sandbox (CONCORD_SANDBOX_BIN) started with --from-exports on
// fixtures/exports/bedrock, checked through the APIs a client uses: the Mailchimp members, their
// statuses, merge fields, tags and interests; the CiviCRM contacts, emails, groups, memberships
// and SubscriptionHistory dates; and the unread rows in its ready line. Then the start-up
// failures: a folder without exports, and --seed beside --from-exports.
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "concord/http.h"
#include "sandbox/sandbox_call.h"
#include "sandbox_process.h"

using namespace concord;
using concord::testing::sandbox_call;
using concord::testing::SandboxProcess;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kListId = "4c1f0e2a9b";
// The keys a site built from exports has (the sandbox's defaults: the exports carry none).
constexpr const char* kMailchimpKey = "0123456789abcdef0123456789abcdef-us6";
constexpr const char* kCiviKey = "sandbox-civicrm-api-key";
constexpr const char* kCiviSiteKey = "sandbox-civicrm-site-key";

fs::path fixtures() {
  const char* root = std::getenv("CONCORD_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  return fs::path(root) / "fixtures" / "exports";
}

json call(const std::string& base, const std::string& ca, const std::string& method,
          const std::string& target, const std::string& body, std::vector<http::Header> headers,
          const std::string& content_type) {
  http::Response resp =
      sandbox_call(base, ca, method, target, body, std::move(headers), content_type);
  INFO(target << " " << resp.body);
  REQUIRE(resp.status == 200);
  return json::parse(resp.body);
}

json mailchimp(const SandboxProcess& s, const std::string& target) {
  return call(s.mailchimp_url(), s.ca_file(), "GET", target, "",
              {{"Authorization", std::string("Bearer ") + kMailchimpKey}}, "");
}

// An APIv4 call's values.
json civicrm(const SandboxProcess& s, const std::string& entity, const json& params) {
  json answer =
      call(s.ready.at("civicrm_url"), s.ca_file(), "POST", "/civicrm/ajax/api4/" + entity + "/get",
           "params=" + http::url_encode(params.dump()),
           {{"X-Civi-Auth", std::string("Bearer ") + kCiviKey}, {"X-Civi-Key", kCiviSiteKey}},
           "application/x-www-form-urlencoded");
  return answer.at("values");
}

// Runs the binary to its end; returns its exit status and what it wrote on stderr.
std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
  const char* bin = std::getenv("CONCORD_SANDBOX_BIN");
  REQUIRE(bin != nullptr);
  fs::path err =
      fs::temp_directory_path() / ("concord-exports-stderr-" + std::to_string(::getpid()) + ".txt");
  std::string cmd = std::string("'") + bin + "'";
  for (const std::string& a : args)
    cmd += " '" + a + "'";
  cmd += " >/dev/null 2>'" + err.string() + "'";
  int status = std::system(cmd.c_str());
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(err);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

}  // namespace

TEST_CASE("--from-exports: the sandbox serves what the export files say") {
  SandboxProcess sbx(
      "", {"--from-exports", (fixtures() / "bedrock").string(), "--interest-column", "Topics"});

  // The ready line: what was read, and every row that was not, with its file, line and reason.
  const json& ex = sbx.ready.at("exports");
  CHECK(ex["audience_id"] == kListId);
  CHECK(ex["group_title"] == "Newsletter");
  CHECK(ex["contacts"] == 10);
  CHECK(ex["history_rows"] == 10);
  CHECK(ex["unreadable_count"] == 9);
  REQUIRE(ex["unreadable"].size() == 9);
  std::vector<std::string> unread;
  for (const json& p : ex["unreadable"]) {
    unread.push_back(p["file"].get<std::string>() + ":" + std::to_string(p["line"].get<int>()));
  }
  const std::string zip =
      std::string("audience_export_") + kListId + ".zip/audience_export_" + kListId + "/";
  CHECK(unread ==
        std::vector<std::string>{"CiviCRM_Contact_Search.csv:4", "CiviCRM_Contact_Search.csv:7",
                                 "CiviCRM_Contact_Search.csv:13", "Group Membership History.csv:10",
                                 "Group Membership History.csv:12",
                                 zip + "subscribed_email_audience_export_" + kListId + ".csv:7",
                                 zip + "subscribed_email_audience_export_" + kListId + ".csv:8",
                                 zip + "subscribed_email_audience_export_" + kListId + ".csv:9",
                                 zip + "unsubscribed_email_audience_export_" + kListId + ".csv:4"});
  CHECK(ex["unreadable"][6]["reason"] == "has 3 fields where the header has 22");

  SECTION("Mailchimp: the audience, its merge fields, members, statuses, tags and interests") {
    json lists = mailchimp(sbx, "/lists");
    REQUIRE(lists["lists"].size() == 1);
    CHECK(lists["lists"][0]["id"] == kListId);
    CHECK(lists["lists"][0]["name"] == std::string("audience_export_") + kListId);
    json fields = mailchimp(sbx, std::string("/lists/") + kListId + "/merge-fields");
    std::vector<std::string> tags;
    for (const json& f : fields["merge_fields"])
      tags.push_back(f["tag"].get<std::string>() + "=" + f["name"].get<std::string>());
    CHECK(tags ==
          std::vector<std::string>{"FNAME=First Name", "LNAME=Last Name", "COMPANY=Company"});
    json categories = mailchimp(sbx, std::string("/lists/") + kListId + "/interest-categories");
    REQUIRE(categories["categories"].size() == 1);
    CHECK(categories["categories"][0]["title"] == "Topics");
    std::string category = categories["categories"][0]["id"];
    json interests = mailchimp(
        sbx, std::string("/lists/") + kListId + "/interest-categories/" + category + "/interests");
    std::map<std::string, std::string> interest_id;
    for (const json& i : interests["interests"])
      interest_id[i["name"]] = i["id"];
    REQUIRE(interest_id.size() == 2);

    json page = mailchimp(sbx, std::string("/lists/") + kListId + "/members?count=100");
    CHECK(page["total_items"] == 12);
    std::map<std::string, json> by_email;
    for (const json& m : page["members"])
      by_email[m["email_address"]] = m;
    REQUIRE(by_email.size() == 12);
    std::map<std::string, std::string> statuses;
    for (const auto& [email, m] : by_email)
      statuses[email] = m["status"];
    CHECK(statuses == std::map<std::string, std::string>{
                          {"arnold@quarrynews.org", "cleaned"},
                          {"bamm-bamm@quarrynews.org", "subscribed"},
                          {"barney@quarrynews.org", "unsubscribed"},
                          {"dino@quarrynews.org", "cleaned"},
                          {"fred@quarrynews.org", "subscribed"},
                          {"hoppy@quarrynews.org", "subscribed"},
                          {"joe@quarrynews.org", "subscribed"},
                          {"orders@slaterock.net", "transactional"},
                          {"pebbles@quarrynews.org", "subscribed"},
                          {"slate@quarrynews.org", "unsubscribed"},
                          {"tex.hardrock@slaterock.net", "unsubscribed"},
                          {"wilma@quarrynews.org", "subscribed"},
                      });
    const json& fred = by_email["fred@quarrynews.org"];
    CHECK(fred["merge_fields"]["FNAME"] == "Fred");
    CHECK(fred["merge_fields"]["COMPANY"] == "Slate Rock and Gravel");
    CHECK(fred["timestamp_signup"] == "2025-12-30T09:00:00+00:00");
    CHECK(fred["timestamp_opt"] == "2025-12-30T09:05:00+00:00");
    CHECK(fred["last_changed"] == "2026-01-03T12:00:00+00:00");
    CHECK(fred["ip_signup"] == "198.51.100.7");
    CHECK(fred["unique_email_id"] == "b2c3d4e5f6");
    CHECK(fred["web_id"] == 100002);
    std::vector<std::string> fred_tags;
    for (const json& t : fred["tags"])
      fred_tags.push_back(t["name"]);
    CHECK(fred_tags == std::vector<std::string>{"volunteer", "donor"});
    CHECK(fred["interests"][interest_id["News"]] == true);
    CHECK(fred["interests"][interest_id["Events"]] == false);
    const json& bamm = by_email["bamm-bamm@quarrynews.org"];
    CHECK(bamm["merge_fields"]["COMPANY"] == "Rubble, Rubble & \"Sons\"");
    CHECK(bamm["interests"][interest_id["Events"]] == true);
    const json& slate = by_email["slate@quarrynews.org"];
    CHECK(slate["unsubscribe_reason"] == "N/A (Unsubscribed by admin)");
    CHECK(slate["last_changed"] == "2026-02-20T18:00:00+00:00");  // the export's latest time
    CHECK(by_email["barney@quarrynews.org"]["unsubscribe_reason"] == "No longer interested");
    CHECK(by_email["barney@quarrynews.org"]["last_changed"] == "2026-01-02T12:00:00+00:00");
    CHECK(by_email["dino@quarrynews.org"]["last_changed"] == "2026-02-01T08:00:00+00:00");
    CHECK(by_email["joe@quarrynews.org"]["last_changed"] == "2026-01-10T12:00:00+00:00");
    CHECK(by_email.count("gazoo@quarrynews.org") == 0);  // its LAST_CHANGED is no date
  }

  SECTION("CiviCRM: contacts, emails, groups, memberships and history dates") {
    json contacts =
        civicrm(sbx, "Contact",
                {{"select", {"id", "display_name", "do_not_email", "is_opt_out", "created_date"}},
                 {"orderBy", {{"id", "ASC"}}}});
    std::vector<std::string> names;
    for (const json& c : contacts)
      names.push_back(std::to_string(c["id"].get<int>()) + " " +
                      c["display_name"].get<std::string>());
    CHECK(names == std::vector<std::string>{"101 Wilma Flintstone", "102 Barney Rubble",
                                            "103 Fred Flintstone", "104 Betty Rubble",
                                            "105 Pebbles Flintstone", "107 Bamm-Bamm Rubble",
                                            "108 Joe Rockhead", "110 Tex Hardrock",
                                            "111 Arnold Paperboy", "112 George Slate"});
    CHECK(contacts[5]["do_not_email"] == true);
    CHECK(contacts[9]["is_opt_out"] == true);
    CHECK(contacts[0]["created_date"] == "2025-06-01 09:00:00");

    json emails = civicrm(
        sbx, "Email",
        {{"select",
          {"contact_id", "email", "location_type_id", "on_hold", "is_bulkmail", "is_primary"}},
         {"where", {{"contact_id", "IN", {110, 111}}}},
         {"orderBy", {{"contact_id", "ASC"}}}});
    REQUIRE(emails.size() == 2);
    CHECK(emails[0]["email"] == "tex.hardrock@slaterock.net");
    CHECK(emails[0]["location_type_id"] == 2);
    CHECK(emails[0]["is_bulkmail"] == true);
    CHECK(emails[1]["on_hold"] == 1);

    json groups =
        civicrm(sbx, "Group", {{"select", {"id", "title"}}, {"orderBy", {{"id", "ASC"}}}});
    REQUIRE(groups.size() == 3);
    CHECK(groups[0]["title"] == "Newsletter");
    CHECK(groups[2]["title"] == "Rock, Paper, Scissors Club");

    json members = civicrm(sbx, "GroupContact",
                           {{"select", {"contact_id", "status"}},
                            {"where", {{"group_id", "=", 1}}},
                            {"orderBy", {{"contact_id", "ASC"}}}});
    std::vector<std::string> in_group;
    for (const json& m : members)
      in_group.push_back(std::to_string(m["contact_id"].get<int>()) + " " +
                         m["status"].get<std::string>());
    CHECK(in_group == std::vector<std::string>{"101 Added", "102 Added", "103 Removed", "104 Added",
                                               "107 Added", "110 Added", "111 Added", "112 Added"});

    json history =
        civicrm(sbx, "SubscriptionHistory",
                {{"select", {"id", "contact_id", "group_id", "status", "date", "method"}},
                 {"orderBy", {{"id", "ASC"}}}});
    REQUIRE(history.size() == 10);
    // Numbered in the order the rows happened, whatever the download's order.
    CHECK(history[0]["date"] == "2025-09-01 10:00:00");  // "September 1st, 2025 10:00 AM"
    CHECK(history[0]["contact_id"] == 101);
    CHECK(history[0]["group_id"] == 2);
    std::map<int, std::vector<std::string>> of_contact;
    for (const json& h : history) {
      if (h["group_id"] != 1) continue;
      of_contact[h["contact_id"].get<int>()].push_back(h["status"].get<std::string>() + " " +
                                                       h["date"].get<std::string>() + " " +
                                                       h["method"].get<std::string>());
    }
    CHECK(of_contact[103] == std::vector<std::string>{"Added 2025-11-01 10:00:00 Web",
                                                      "Removed 2026-01-04 12:00:00 Admin"});
    CHECK(of_contact[101] == std::vector<std::string>{"Added 2026-01-05 12:00:00 Admin"});
    // Bamm-Bamm is in the group by Group(s) alone: a membership without any date.
    CHECK(of_contact.count(107) == 0);
  }
}

TEST_CASE("--from-exports: a folder without any export stops the start, naming the folder") {
  fs::path state =
      fs::temp_directory_path() / ("concord-exports-state-" + std::to_string(::getpid()));
  fs::path empty =
      fs::temp_directory_path() / ("concord-exports-empty-" + std::to_string(::getpid()));
  fs::remove_all(state);
  fs::remove_all(empty);
  fs::create_directories(empty);
  auto [code, err] = run_to_exit({"--state-dir", state.string(), "--from-exports", empty.string()});
  CHECK(code == 1);
  CHECK(err.find("concord-sandbox: " + empty.string() + ": no Mailchimp audience export") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(state / "state.json"));

  auto [code2, err2] = run_to_exit({"--state-dir", state.string(), "--from-exports",
                                    (fixtures() / "bedrock").string(), "--seed", "x.json"});
  CHECK(code2 != 0);
  CHECK(err2.find("--from-exports") != std::string::npos);
  fs::remove_all(state);
  fs::remove_all(empty);
}
