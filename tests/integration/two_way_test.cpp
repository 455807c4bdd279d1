// The two-way rules end to end (docs/decision-rules.md): consent reaching Mailchimp ("Consent
// outranks the group"), and members deleted permanently in Mailchimp noticed. The real `concord`
// binary against concord-sandbox; changes made through each API as a person's script makes them,
// the outcome read back through the sandbox.
#include <catch2/catch.hpp>

#include <string>

#include "two_way_harness.h"

using namespace concord::testing;
using namespace concord::testing::two_way;

TEST_CASE("consent: a CRM opt-out unsubscribes the member in Mailchimp, and lifting it returns",
          "[consent]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");  // five people: one is 20%
  migrated(w);

  // Wilma opts out in the CRM; her group membership does not change.
  update_contact(101, {{"is_opt_out", true}});
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  CHECK(run.pair_json()["full_fetch"] == false);  // seen by the incremental fetch (modified_date)
  REQUIRE(ops_for(run.pair_json(), "wilma@bedrock.org").size() == 1);
  CHECK(ops_for(run.pair_json(), "wilma@bedrock.org")[0]["action"] == "unsubscribe_in_mailchimp");
  CHECK(report_row(run.pair_json(), "wilma@bedrock.org")["class"] == "opt-out");
  CHECK(now_state().mc_status("wilma@bedrock.org") == "unsubscribed");
  CHECK(now_state().group_status(101) == "Added");  // she stays in the group

  // explain shows the flag and when concord first saw it.
  Command why = w.concord({"explain", "wilma@bedrock.org", "--json"});
  INFO(why.text());
  REQUIRE(why.code == 0);
  CHECK(why.json()["crm"]["is_opt_out"] == true);
  const std::string seen = why.json()["crm"]["consent_changed_at"];
  CHECK(seen == "2026-03-01T10:00:00+00:00");  // her contact's modified_date: the opt-out

  // A later edit of her name moves modified_date, not the consent time; nothing to do.
  update_contact(101, {{"first_name", "Wilhelmina"}});
  run = next_run(w);
  INFO(run.text());
  CHECK(run.code == 0);
  CHECK(ops_for(run.pair_json(), "wilma@bedrock.org").empty());
  CHECK(w.concord({"explain", "wilma@bedrock.org", "--json"}).json()["crm"]["consent_changed_at"] ==
        seen);

  // The flag is lifted: she is IN again, and concord (which unsubscribed her) subscribes her.
  update_contact(101, {{"is_opt_out", false}});
  run = next_run(w);
  INFO(run.text());
  CHECK(run.code == 0);
  REQUIRE(ops_for(run.pair_json(), "wilma@bedrock.org").size() == 1);
  CHECK(ops_for(run.pair_json(), "wilma@bedrock.org")[0]["action"] == "add_to_mailchimp");
  CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");

  // Nothing flips back and forth: the run after has nothing to do.
  run = next_run(w);
  INFO(run.text());
  CHECK(run.code == 0);
  CHECK(run.pair_json()["operations"].empty());
}

TEST_CASE("consent: deceased, do-not-email and an opt-out hold each unsubscribe", "[consent]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");  // five people: one is 20%
  migrated(w);

  update_contact(101, {{"is_deceased", true}});
  update_contact(104, {{"do_not_email", true}});
  // Wilma's … and Betty's address on hold as an opt-out: through the Email entity.
  sandbox().civicrm("Email", "update",
                    {{"where", json::array({json::array({"contact_id", "=", 101})})},
                     {"values", {{"on_hold", 2}}}});
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  for (const char* e : {"wilma@bedrock.org", "betty@bedrock.org"}) {
    INFO(e);
    CHECK(now_state().mc_status(e) == "unsubscribed");
    CHECK(report_row(run.pair_json(), e)["class"] == "opt-out");
  }
  CHECK(now_state().group_status(101) == "Added");
  CHECK(now_state().group_status(104) == "Added");
  CHECK(next_run(w).pair_json()["operations"].empty());
}

TEST_CASE("consent: respect_crm_opt_out = false leaves opted-out members subscribed", "[consent]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0\nrespect_crm_opt_out = false");
  migrated(w);
  update_contact(101, {{"is_opt_out", true}});
  Command run = next_run(w);
  INFO(run.text());
  CHECK(run.code == 0);
  CHECK(ops_for(run.pair_json(), "wilma@bedrock.org").empty());
  CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");
}

TEST_CASE("deletions: a member deleted permanently in Mailchimp is noticed", "[deletions]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);

  // Wilma is deleted permanently: Mailchimp lists no trace of her, so no incremental read shows
  // it. The audience's counts do.
  sandbox().delete_permanently(kList, "wilma@bedrock.org");
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  REQUIRE(ops_for(run.pair_json(), "wilma@bedrock.org").size() == 1);
  CHECK(ops_for(run.pair_json(), "wilma@bedrock.org")[0]["action"] == "remove_from_crm");
  CHECK(now_state().group_status(101) == "Removed");
  Command why = w.concord({"explain", "wilma@bedrock.org", "--json"});
  INFO(why.text());
  CHECK(why.json()["mailchimp"].is_null());  // the snapshot no longer keeps her
  CHECK(next_run(w).pair_json()["operations"].empty());
}

TEST_CASE("deletions: an audience emptied between runs stops the run (exit 3)", "[deletions]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  const SideState migrated_state = now_state();
  for (const json& m : migrated_state.list()["members"]) {
    sandbox().delete_permanently(kList, m["email_address"]);
  }
  const SideState before = now_state();
  REQUIRE(before.list()["members"].empty());
  for (const char* flag : {"", "--allow-mass-removal"}) {
    INFO(flag);
    sandbox().advance_clock(60);
    std::vector<std::string> args = {"sync", "--json"};
    if (*flag) args.push_back(flag);
    Command run = w.concord(args);
    INFO(run.text());
    CHECK(run.code == 3);
    CHECK(run.pair_json()["guard"]["stop"] == true);
    CHECK(now_state().by_email() == before.by_email());  // nothing changed on either side
  }
}
