// Mapped fields end to end (docs/decision-rules.md, "Fields"): a change on either side reaches the
// other on the next run, the later change wins when both changed, a blank never overwrites, a value
// Mailchimp would refuse is reported and never sent; explain shows each field. The real `concord`
// binary against concord-sandbox; changes made through each API as a person's script makes them.
#include <catch2/catch.hpp>

#include <string>

#include "two_way_harness.h"

using namespace concord;
using namespace concord::testing;
using namespace concord::testing::two_way;
using nlohmann::json;

namespace {

std::vector<std::string> actions(const json& run, const std::string& email) {
  std::vector<std::string> out;
  for (const json& op : ops_for(run, email))
    out.push_back(op["action"]);
  return out;
}

}  // namespace

TEST_CASE("fields: a change on either side reaches the other, and nothing echoes", "[fields]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  // Betty was only in the CRM: her subscribe carried her names.
  CHECK(merge_fields("betty@bedrock.org")["FNAME"] == "Betty");
  CHECK(merge_fields("betty@bedrock.org")["LNAME"] == "Rubble");

  // The CRM renames Wilma: Mailchimp's member gets the name, without any membership write.
  update_contact(101, {{"first_name", "Wilhelmina"}});
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(actions(run.pair_json(), "wilma@bedrock.org") ==
        std::vector<std::string>{"update_mailchimp_fields"});
  CHECK(run.pair_json()["counts"]["update_mailchimp_fields"] == 1);
  CHECK(merge_fields("wilma@bedrock.org")["FNAME"] == "Wilhelmina");
  CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");

  run = next_run(w);
  INFO(run.text());
  CHECK(run.code == 0);
  CHECK(run.pair_json()["operations"].empty());  // concord's own write does not come back

  // Mailchimp changes her last name: the CRM contact gets it.
  update_member("wilma@bedrock.org", {{"LNAME", "Slaghoople"}});
  run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(actions(run.pair_json(), "wilma@bedrock.org") ==
        std::vector<std::string>{"update_crm_fields"});
  CHECK(contact_field(101, "last_name") == "Slaghoople");
  CHECK(now_state().group_status(101) == "Added");
  run = next_run(w);
  INFO(run.text());
  CHECK(run.pair_json()["operations"].empty());

  // Both change her first name, Mailchimp later: Mailchimp's value wins on both sides.
  update_contact(101, {{"first_name", "Willa"}});
  sandbox().advance_clock(120);
  update_member("wilma@bedrock.org", {{"FNAME", "Wil"}});
  run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(contact_field(101, "first_name") == "Wil");
  CHECK(merge_fields("wilma@bedrock.org")["FNAME"] == "Wil");

  // A blank never overwrites: Mailchimp's blanked name is filled from the CRM.
  update_member("wilma@bedrock.org", {{"FNAME", ""}});
  run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(contact_field(101, "first_name") == "Wil");
  CHECK(merge_fields("wilma@bedrock.org")["FNAME"] == "Wil");

  // explain shows each mapped field on both sides, its base and the decision.
  Command why = w.concord({"explain", "wilma@bedrock.org", "--json"});
  INFO(why.text());
  REQUIRE(why.code == 0);
  const json explained = why.json();
  const json f = explained["fields"];
  REQUIRE(f.size() == 2);
  CHECK(f[0]["tag"] == "FNAME");
  CHECK(f[0]["crm_field"] == "first_name");
  CHECK(f[0]["crm"] == "Wil");
  CHECK(f[0]["base"] == "Wil");
  bool journaled = false;  // the field writes are in her journal, with their values
  for (const json& op : explained["operations"]) {
    if (op["action"] == "update_crm_fields" && op["fields"].value("LNAME", "") == "Slaghoople") {
      journaled = true;
    }
  }
  CHECK(journaled);
}

TEST_CASE("fields: a value Mailchimp would refuse is reported and never sent", "[fields]") {
  reset_to_fixture();
  Workdir w(
      sandbox(), "max_removal_fraction = 1.0",
      R"({ FNAME = "first_name", ADDRESS = { crm = "job_title", direction = "to_mailchimp" } })");
  migrated(w);

  update_contact(101, {{"job_title", "Quarry"}});
  const std::uint64_t mark = sandbox().log_mark();
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);  // informs; the membership is in agreement
  CHECK(actions(run.pair_json(), "wilma@bedrock.org").empty());
  const json row = report_row(run.pair_json(), "wilma@bedrock.org");
  CHECK(row["class"] == "invalid-field");
  CHECK_THAT(row["reason"].get<std::string>(),
             Catch::Matchers::Contains("ADDRESS") &&
                 Catch::Matchers::Contains("Please enter a complete address"));
  for (const json& r : sandbox().requests_since(mark))
    CHECK_FALSE(Sandbox::is_write(r));

  // A complete address goes, as Mailchimp's address object, and stays put.
  update_contact(101, {{"job_title", "1 Cobblestone Way  Bedrock  CA  90210"}});
  run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(actions(run.pair_json(), "wilma@bedrock.org") ==
        std::vector<std::string>{"update_mailchimp_fields"});
  const json address = merge_fields("wilma@bedrock.org")["ADDRESS"];
  INFO(address.dump());
  CHECK(address.value("addr1", "") == "1 Cobblestone Way");
  CHECK(address.value("city", "") == "Bedrock");
  CHECK(address.value("zip", "") == "90210");
  run = next_run(w);
  INFO(run.text());
  CHECK(run.pair_json()["operations"].empty());
}

TEST_CASE("fields: plan shows the field updates sync then makes", "[fields]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  update_contact(104, {{"first_name", "Elizabeth"}});
  update_member("pebbles@bedrock.org", {{"LNAME", "Flintstone-Rubble"}});
  sandbox().advance_clock(60);
  Command plan = w.concord({"plan", "--json"});
  INFO(plan.text());
  REQUIRE(plan.code == 0);
  CHECK(plan.pair_json()["counts"]["update_mailchimp_fields"] == 1);
  CHECK(plan.pair_json()["counts"]["update_crm_fields"] == 1);
  Command run = w.concord({"sync", "--json"});
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(run.pair_json()["counts"] == plan.pair_json()["counts"]);
  CHECK(merge_fields("betty@bedrock.org")["FNAME"] == "Elizabeth");
  CHECK(contact_field(105, "last_name") == "Flintstone-Rubble");
}

TEST_CASE("fields: a custom CRM field goes to a date merge field, and check validates the mapping",
          "[fields]") {
  json seed = fixture_seed();
  seed["clock"] = kStartClock;
  seed["civicrm"]["custom_groups"] = json::parse(R"([{"id": 1, "name": "Member_Info",
      "title": "Member info", "extends": "Contact",
      "fields": [{"name": "Member_Since", "label": "Member since", "data_type": "Date"}]}])");
  for (json& c : seed["civicrm"]["contacts"]) {
    if (c["id"] == 101) c["Member_Info.Member_Since"] = "2020-01-31";
  }
  sandbox().reset(seed);
  sandbox().mailchimp_api("POST", std::string("/lists/") + kList + "/merge-fields",
                          {{"tag", "JOINED"}, {"name", "Joined"}, {"type", "date"}});
  Workdir w(
      sandbox(), "max_removal_fraction = 1.0",
      R"({ FNAME = "first_name", JOINED = { crm = "Member_Info.Member_Since", direction = "to_mailchimp" } })");
  Command check = w.concord({"check"});
  INFO(check.text());
  CHECK(check.code == 0);
  CHECK_THAT(check.out,
             Catch::Matchers::Contains("field mapping checked against the contact fields"));

  migrated(w);
  CHECK(merge_fields("wilma@bedrock.org")["JOINED"] == "2020-01-31");

  // A later change of the custom field reaches Mailchimp.
  update_contact(101, {{"Member_Info.Member_Since", "2019-12-24"}});
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(merge_fields("wilma@bedrock.org")["JOINED"] == "2019-12-24");

  // A field CiviCRM does not have, and a read-only one mapped both ways, are named by check.
  Workdir bad(sandbox(), "", R"({ FNAME = "Member_Info.Nope", LNAME = "display_name" })");
  check = bad.concord({"check"});
  INFO(check.text());
  CHECK(check.code == 1);
  CHECK_THAT(check.text(),
             Catch::Matchers::Contains("Member_Info.Nope\": CiviCRM contacts have no such field"));
  CHECK_THAT(check.text(), Catch::Matchers::Contains("display_name\" is read-only in CiviCRM"));
}
