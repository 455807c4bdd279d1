// Address changes end to end (docs/decision-rules.md, "Address changes"): a person whose address
// changed on one side is the same member moving, on the other side too, never unsubscribe-old plus
// subscribe-new; with or without webhooks; an address already taken is reported, nothing merged.
#include <catch2/catch.hpp>

#include <string>

#include "two_way_harness.h"

using namespace concord;
using namespace concord::testing;
using namespace concord::testing::two_way;

namespace {

void change_crm_email(int contact_id, const std::string& from, const std::string& to) {
  sandbox().civicrm("Email", "update",
                    {{"where", json::array({json::array({"contact_id", "=", contact_id}),
                                            json::array({"email", "=", from})})},
                     {"values", {{"email", to}}}});
}

std::vector<std::string> actions(const json& run) {
  std::vector<std::string> out;
  for (const json& op : run["operations"])
    out.push_back(op["action"].get<std::string>() + " " + op["email"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("addresses: a CRM address change moves the Mailchimp member, history kept",
          "[addresses]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  const json before = *sandbox().mailchimp_member(kList, "wilma@bedrock.org");
  const std::size_t contacts = now_state().civicrm()["contacts"].size();

  change_crm_email(101, "wilma@bedrock.org", "wilma.flintstone@bedrock.org");
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(actions(run.pair_json()) ==
        std::vector<std::string>{"change_email_in_mailchimp wilma.flintstone@bedrock.org"});
  // The same member (contact_id, web_id, opt-in time) at the new address; the old one is gone.
  const std::optional<json> after =
      sandbox().mailchimp_member(kList, "wilma.flintstone@bedrock.org");
  REQUIRE(after.has_value());
  CHECK((*after)["contact_id"] == before["contact_id"]);
  CHECK((*after)["status"] == "subscribed");
  CHECK((*after)["timestamp_opt"] == before["timestamp_opt"]);
  CHECK_FALSE(sandbox().mailchimp_member(kList, "wilma@bedrock.org").has_value());
  CHECK(now_state().group_status(101) == "Added");
  CHECK(now_state().civicrm()["contacts"].size() == contacts);

  // Nothing echoes, and a full read agrees.
  run = next_run(w);
  INFO(run.text());
  CHECK(run.code == 0);
  CHECK(run.pair_json()["operations"].empty());
  Command full = w.concord({"sync", "--full", "--json"});
  INFO(full.text());
  CHECK(full.code == 0);
  CHECK(full.pair_json()["operations"].empty());

  // explain shows the change.
  Command why = w.concord({"explain", "wilma.flintstone@bedrock.org", "--json"});
  INFO(why.text());
  bool shown = false;
  const json explained = why.json();
  for (const json& op : explained["operations"]) {
    shown |=
        op["action"] == "change_email_in_mailchimp" && op.value("from", "") == "wilma@bedrock.org";
  }
  CHECK(shown);
}

TEST_CASE("addresses: a Mailchimp address change reaches the CRM contact without webhooks",
          "[addresses]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  // (Betty was added by the migration: the run read her back, so she is known by her contact_id
  // although no run has read the audience since.)
  const std::size_t contacts = now_state().civicrm()["contacts"].size();
  // An admin changes Betty's address in Mailchimp's pages; no daemon listens.
  sandbox().member_hook({{"email_address", "betty@bedrock.org"},
                         {"action", "update"},
                         {"source", "admin"},
                         {"new_email_address", "betty.rubble@bedrock.org"}});
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(actions(run.pair_json()) ==
        std::vector<std::string>{"change_email_in_crm betty.rubble@bedrock.org"});
  CHECK(now_state().contacts_with("betty.rubble@bedrock.org") == std::vector<int>{104});
  CHECK(now_state().contacts_with("betty@bedrock.org").empty());
  CHECK(now_state().group_status(104) == "Added");
  CHECK(now_state().civicrm()["contacts"].size() == contacts);
  CHECK(now_state().mc_status("betty.rubble@bedrock.org") == "subscribed");
  run = next_run(w);
  INFO(run.text());
  CHECK(run.pair_json()["operations"].empty());
}

TEST_CASE("addresses: a new address another member has is reported, nothing merged",
          "[addresses]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  // Wilma's contact takes Dino's address, which Mailchimp has as another (cleaned) member.
  change_crm_email(101, "wilma@bedrock.org", "dino@bedrock.org");
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  bool reported = false;
  const json result = run.pair_json();
  for (const json& r : result["report"]) {
    reported |= r["class"] == "address-change" && r["email"] == "dino@bedrock.org";
  }
  CHECK(reported);
  for (const json& op : result["operations"]) {
    CHECK(op["email"] != "wilma@bedrock.org");
    CHECK(op["email"] != "dino@bedrock.org");
  }
  // Both members stay as they were, and so it is on the next run.
  CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");
  CHECK(now_state().mc_status("dino@bedrock.org") == "cleaned");
  run = next_run(w);
  INFO(run.text());
  CHECK(run.pair_json()["operations"].empty());
  CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");
}

TEST_CASE("addresses: a new address another CRM contact has is reported, nobody unsubscribed",
          "[addresses]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  // Wilma's contact (101) takes the address of Pebbles' contact (105).
  change_crm_email(101, "wilma@bedrock.org", "pebbles@bedrock.org");
  for (const char* args : {"sync --json", "sync --full --json"}) {
    sandbox().advance_clock(60);
    Command run = w.concord(std::string(args) == "sync --json"
                                ? std::vector<std::string>{"sync", "--json"}
                                : std::vector<std::string>{"sync", "--full", "--json"});
    INFO(run.text());
    REQUIRE(run.code == 0);
    const json result = run.pair_json();
    bool reported = false;
    for (const json& r : result["report"]) {
      reported |= r["class"] == "address-change" && r["email"] == "pebbles@bedrock.org";
    }
    CHECK(reported);
    CHECK(result["operations"].empty());
    CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");
    CHECK(now_state().mc_status("pebbles@bedrock.org") == "subscribed");
  }
  // explain of the old address shows the change waiting for a person.
  Command why = w.concord({"explain", "wilma@bedrock.org", "--json"});
  INFO(why.text());
  const json explained = why.json();
  REQUIRE(explained["address_changes"].size() == 1);
  CHECK(explained["address_changes"][0]["to"] == "pebbles@bedrock.org");
  CHECK(explained["address_changes"][0]["state"] == "new address taken");
}
