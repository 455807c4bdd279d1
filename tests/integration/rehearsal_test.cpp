// A rehearsal on exports (docs/sandbox.md, "Starting from exports"): `concord plan` against a
// sandbox started from export files plans exactly what it plans against the same people written
// as a seed by hand — with the subscription history download, and without it (when the plan says
// that the CRM's change times are unknown).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>

#include "e2e_harness.h"

using namespace concord::testing;
using nlohmann::json;

namespace {

// The export set: a Mailchimp audience export (loose status files of audience 0a1b2c3d4e) and a
// CiviCRM contact export, with or without the SearchKit history download.
void write_exports(const std::filesystem::path& dir, bool with_history) {
  std::filesystem::create_directories(dir);
  const std::string mc_header =
      "\"Email Address\",\"First Name\",\"Last Name\",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,"
      "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,";
  std::ofstream(dir / "subscribed_members_export_0a1b2c3d4e.csv")
      << mc_header << "LAST_CHANGED,LEID,EUID,NOTES,TAGS\r\n"
      << "ann@quarry.org,Ann,Able,2,,,\"2026-01-01 12:00:00\",,,,,,,,,"
         "\"2026-01-01 12:00:00\",1,aaaaaaaaaa,,\r\n"
      << "cat@quarry.org,Cat,Cole,2,,,\"2026-01-02 12:00:00\",,,,,,,,,"
         "\"2026-01-02 12:00:00\",2,bbbbbbbbbb,,\r\n"
      << "eve@quarry.org,Eve,Eden,2,,,\"2026-01-20 12:00:00\",,,,,,,,,"
         "\"2026-01-20 12:00:00\",3,cccccccccc,,\r\n";
  std::ofstream(dir / "unsubscribed_members_export_0a1b2c3d4e.csv")
      << mc_header
      << "UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,LEID,"
         "EUID,NOTES,TAGS\r\n"
      << "bob@quarry.org,Bob,Best,2,,,\"2025-09-01 10:00:00\",,,,,,,,,"
         "\"2026-01-10 12:00:00\",,,,,4,dddddddddd,,\r\n";
  std::ofstream(dir / "CiviCRM_Contact_Search.csv")
      << "\xEF\xBB\xBF\"Contact ID\",\"Contact Type\",\"Display Name\",\"First Name\",\"Last "
         "Name\","
         "\"Do Not Email\",\"Modified Date\",\"Email\",\"Group(s)\"\r\n"
      << "\"201\",\"Individual\",\"Ann Able\",\"Ann\",\"Able\",,\"2025-06-01 09:00:00\","
         "\"ann@quarry.org\",\"Newsletter\"\r\n"
      << "\"202\",\"Individual\",\"Bob Best\",\"Bob\",\"Best\",,\"2025-06-01 09:00:00\","
         "\"bob@quarry.org\",\"Newsletter\"\r\n"
      << "\"203\",\"Individual\",\"Cat Cole\",\"Cat\",\"Cole\",,\"2025-06-01 09:00:00\","
         "\"cat@quarry.org\",\r\n"
      << "\"204\",\"Individual\",\"Dan Dunn\",\"Dan\",\"Dunn\",,\"2025-06-01 09:00:00\","
         "\"dan@quarry.org\",\"Newsletter\"\r\n";
  if (with_history) {
    std::ofstream(dir / "Group Membership History.csv")
        << "\xEF\xBB\xBF"
        << "Contact,Group,\"Group Membership Action Date\","
        << "\"Group Membership Action\",\"Group Membership Status\"\r\n"
        << "\"Ann Able\",Newsletter,\"2025-12-01 10:00:00\",Admin,Added\r\n"
        << "\"Bob Best\",Newsletter,\"2025-12-01 10:00:00\",Admin,Added\r\n"
        << "\"Cat Cole\",Newsletter,\"2025-12-01 10:00:00\",Admin,Added\r\n"
        << "\"Cat Cole\",Newsletter,\"2026-01-05 10:00:00\",Admin,Removed\r\n"
        << "\"Dan Dunn\",Newsletter,\"2026-02-01 10:00:00\",Web,Added\r\n";
  }
}

json member(const std::string& email, const std::string& status, const std::string& first,
            const std::string& last, const std::string& changed, const std::string& opt) {
  json m = {{"email_address", email},
            {"status", status},
            {"timestamp_opt", opt},
            {"last_changed", changed},
            {"merge_fields", {{"FNAME", first}, {"LNAME", last}}}};
  if (status == "unsubscribed") m["unsubscribe_origin"] = "user";
  return m;
}

json contact(int id, const std::string& first, const std::string& last, const std::string& email) {
  return {{"id", id},
          {"first_name", first},
          {"last_name", last},
          {"modified_date", "2025-06-01 09:00:00"},
          {"emails", json::array({{{"email", email}, {"is_primary", true}}})}};
}

// The same people as a seed, written from the files by hand.
json seed_of_the_exports(bool with_history) {
  json list = {
      {"id", "0a1b2c3d4e"},
      {"name", "audience_export_0a1b2c3d4e"},
      {"merge_fields",
       json::array({{{"merge_id", 1}, {"tag", "FNAME"}, {"name", "First Name"}, {"type", "text"}},
                    {{"merge_id", 2}, {"tag", "LNAME"}, {"name", "Last Name"}, {"type", "text"}}})},
      {"members", json::array({member("ann@quarry.org", "subscribed", "Ann", "Able",
                                      "2026-01-01T12:00:00+00:00", "2026-01-01T12:00:00+00:00"),
                               member("cat@quarry.org", "subscribed", "Cat", "Cole",
                                      "2026-01-02T12:00:00+00:00", "2026-01-02T12:00:00+00:00"),
                               member("eve@quarry.org", "subscribed", "Eve", "Eden",
                                      "2026-01-20T12:00:00+00:00", "2026-01-20T12:00:00+00:00"),
                               member("bob@quarry.org", "unsubscribed", "Bob", "Best",
                                      "2026-01-10T12:00:00+00:00", "2025-09-01T10:00:00+00:00")})}};
  json civicrm = {
      {"api_key", "sandbox-civicrm-api-key"},
      {"site_key", "sandbox-civicrm-site-key"},
      {"timezone", "UTC"},
      {"groups", json::array({{{"id", 1}, {"name", "Newsletter"}, {"title", "Newsletter"}}})},
      {"contacts", json::array({contact(201, "Ann", "Able", "ann@quarry.org"),
                                contact(202, "Bob", "Best", "bob@quarry.org"),
                                contact(203, "Cat", "Cole", "cat@quarry.org"),
                                contact(204, "Dan", "Dunn", "dan@quarry.org")})}};
  auto row = [](int c, const std::string& status, const std::string& date) {
    return json{{"contact_id", c}, {"group_id", 1}, {"status", status}, {"date", date}};
  };
  if (with_history) {
    civicrm["subscription_history"] = json::array(
        {row(201, "Added", "2025-12-01 10:00:00"), row(202, "Added", "2025-12-01 10:00:00"),
         row(203, "Added", "2025-12-01 10:00:00"), row(203, "Removed", "2026-01-05 10:00:00"),
         row(204, "Added", "2026-02-01 10:00:00")});
  } else {
    // The contact export's Group(s) column: memberships, and no date anywhere.
    civicrm["subscription_history"] = json::array();
    civicrm["group_contacts"] = json::array();
    for (int c : {201, 202, 204}) {
      civicrm["group_contacts"].push_back(
          {{"contact_id", c}, {"group_id", 1}, {"status", "Added"}});
    }
  }
  return {{"clock", "2026-03-01T09:00:00+00:00"},
          {"mailchimp",
           {{"api_key", "0123456789abcdef0123456789abcdef-us6"}, {"lists", json::array({list})}}},
          {"civicrm", civicrm}};
}

// `concord plan --json` of a pair of the audience export and the group "Newsletter", against
// `sandbox`, in a fresh directory.
json plan_against(const SandboxProcess& sandbox, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "concord.toml")
      << "state_dir = \"state\"\n[mailchimp.main]\napi_key_env = \"MAILCHIMP_API_KEY\"\n"
      << "base_url = \"" << sandbox.mailchimp_url() << "\"\nca_file = \"" << sandbox.ca_file()
      << "\"\n[civicrm.main]\nurl = \"" << sandbox.ready.at("civicrm_url").get<std::string>()
      << "\"\napi_key_env = \"CIVICRM_API_KEY\"\nsite_key_env = \"CIVICRM_SITE_KEY\"\n"
      << "timezone = \"UTC\"\nca_file = \"" << sandbox.ca_file() << "\"\n"
      << "[[sync]]\nname = \"rehearsal\"\naudience = \"audience_export_0a1b2c3d4e\"\n"
      << "group = \"Newsletter\"\nmax_removal_fraction = 1.0\n"
      << "fields = { FNAME = \"first_name\", LNAME = \"last_name\" }\n";
  Command plan = run_process({std::getenv("CONCORD_BIN"), "plan", "--json"},
                             {"MAILCHIMP_API_KEY=0123456789abcdef0123456789abcdef-us6",
                              "CIVICRM_API_KEY=sandbox-civicrm-api-key",
                              "CIVICRM_SITE_KEY=sandbox-civicrm-site-key", "PATH=/usr/bin:/bin"},
                             dir);
  INFO(plan.text());
  REQUIRE(plan.code == 0);
  return plan.pair_json();
}

// What a plan says, without what differs between two runs (ids, request counts).
json comparable(const json& plan) {
  std::set<std::tuple<std::string, std::string, std::string>> ops;
  for (const json& op : plan["operations"]) {
    ops.emplace(op["email"].get<std::string>(), op["action"].get<std::string>(),
                op["reason"].get<std::string>());
  }
  std::set<std::pair<std::string, std::string>> rows;
  for (const json& r : plan["report"])
    rows.emplace(r["email"].get<std::string>(), r["class"].get<std::string>());
  return {
      {"counts", plan["counts"]}, {"operations", ops}, {"report", rows}, {"notes", plan["notes"]}};
}

}  // namespace

TEST_CASE("rehearsal: the plan on exports is the plan on the same people from a seed",
          "[rehearsal]") {
  for (bool with_history : {true, false}) {
    DYNAMIC_SECTION((with_history ? "with" : "without") << " the history download") {
      const std::filesystem::path dir =
          std::filesystem::temp_directory_path() /
          ("concord-rehearsal-" + std::to_string(::getpid()) + (with_history ? "-h" : "-n"));
      std::filesystem::remove_all(dir);
      write_exports(dir / "exports", with_history);
      std::ofstream(dir / "seed.json") << seed_of_the_exports(with_history).dump(2);

      SandboxProcess from_exports("", {"--from-exports", (dir / "exports").string()});
      REQUIRE(from_exports.ready["exports"]["unreadable_count"] == 0);
      const json rehearsed = plan_against(from_exports, dir / "on-exports");
      SandboxProcess from_seed((dir / "seed.json").string());
      const json seeded = plan_against(from_seed, dir / "on-seed");

      INFO("on exports: " << rehearsed.dump(1));
      INFO("on the seed: " << seeded.dump(1));
      CHECK(comparable(rehearsed) == comparable(seeded));
      // The plan itself: Eve is new to the CRM, Dan new to Mailchimp.
      CHECK_FALSE(ops_for(rehearsed, "eve@quarry.org").empty());
      CHECK_FALSE(ops_for(rehearsed, "dan@quarry.org").empty());
      bool unknown_times = false;
      for (const json& n : rehearsed["notes"])
        unknown_times |=
            n.get<std::string>().find("change times are unknown for 3 of 3") != std::string::npos;
      CHECK(unknown_times == !with_history);
      if (with_history) {
        // Cat left the group after subscribing: the CRM's later change wins.
        REQUIRE(ops_for(rehearsed, "cat@quarry.org").size() == 1);
        CHECK(ops_for(rehearsed, "cat@quarry.org")[0]["action"] == "unsubscribe_in_mailchimp");
      } else {
        // Without dates Cat is simply not in the group (the export lists only Added), and her
        // dated subscription wins: she is added to it.
        REQUIRE(ops_for(rehearsed, "cat@quarry.org").size() == 1);
        CHECK(ops_for(rehearsed, "cat@quarry.org")[0]["action"] == "add_to_crm");
      }
      std::filesystem::remove_all(dir);
    }
  }
}
