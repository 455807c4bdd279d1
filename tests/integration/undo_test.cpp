// `concord undo` end to end (docs/operations.md, "Undoing a run"): the real `concord` binary
// against concord-sandbox. A migration is undone — every member back where it was before it,
// except those a person changed since, which are left alone and reported; a killed undo resumes
// without sending anything twice; and an undo can be undone.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "two_way_harness.h"

using namespace concord::testing;
using namespace concord::testing::two_way;

namespace {

// Whether a Mailchimp status or CRM group status keeps a person IN.
bool mailchimp_in(const std::string& status) {
  return status == "subscribed" || status == "pending";
}

std::string value_of(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "" : it->second;
}

// The addresses each operation kind of a run's JSON names.
std::map<std::string, std::set<std::string>> ops_by_kind(const json& run) {
  std::map<std::string, std::set<std::string>> out;
  for (const json& op : run["operations"])
    out[op["action"].get<std::string>()].insert(op["email"].get<std::string>());
  return out;
}

// Where an address stands, as `by_email()` says it: "mailchimp", "crm" and "hold" entries.
struct Standing {
  std::string mailchimp, crm, hold;
  static Standing of(const std::map<std::string, std::string>& m, const std::string& email) {
    return {value_of(m, "mailchimp " + email), value_of(m, "crm " + email),
            value_of(m, "hold " + email)};
  }
};

// A member is back where it was before the migration: the same Mailchimp status (one who was
// not subscribed — absent, or a transactional contact — is unsubscribed, never subscribed), the
// same group membership (a contact that was in no group is "Removed" from it now), the same hold.
void check_restored(const Standing& before, const Standing& now, const std::string& email) {
  INFO(email << ": before {" << before.mailchimp << "|" << before.crm << "|" << before.hold
             << "} now {" << now.mailchimp << "|" << now.crm << "|" << now.hold << "}");
  if (before.mailchimp.empty() || before.mailchimp == "transactional") {
    CHECK_FALSE(mailchimp_in(now.mailchimp));
  } else {
    CHECK(now.mailchimp == before.mailchimp);
  }
  if (before.crm.empty()) {
    CHECK((now.crm.empty() || now.crm == "Removed"));
  } else {
    CHECK(now.crm == before.crm);
  }
  CHECK(now.hold == before.hold);
}

json report_row_of(const json& run, const std::string& email, const std::string& cls) {
  for (const json& r : run["report"]) {
    if (r["email"] == email && r["class"] == cls) return r;
  }
  return json();
}

}  // namespace

TEST_CASE("undo: a migration is undone, except the members people changed since", "[undo]") {
  json seed = generated_seed(120);
  seed["clock"] = kStartClock;
  sandbox().reset(seed);
  const std::map<std::string, std::string> before = now_state().by_email();
  Workdir w(sandbox(), "max_removal_fraction = 1.0\nmax_addition_fraction = 1.0");

  Command migration = w.concord({"sync", "--json"});
  INFO(migration.text());
  REQUIRE((migration.code == 0 || migration.code == 4));
  const json run1 = migration.pair_json();
  REQUIRE(run1["run"] == 1);
  // The writes that took effect: the planned ones but those the run's report says were refused.
  auto done = ops_by_kind(run1);
  Command report = w.concord({"report", "--run", "1", "--format", "json"});
  REQUIRE(report.code == 0);
  const json rows = report.json()["rows"];
  for (const json& row : rows) {
    const std::string cls = row.value("class", "");
    if (cls == "none" || cls == "both-changed") continue;
    for (auto& [kind, emails] : done)
      emails.erase(row.value("email", ""));
  }
  REQUIRE(done.count("add_to_mailchimp"));
  REQUIRE(done.count("unsubscribe_in_mailchimp"));
  REQUIRE(done.count("add_to_crm") + done.count("create_crm_contact") > 0);
  const std::size_t contacts_after_migration = now_state().civicrm()["contacts"].size();

  // An hour later people act: one the migration subscribed unsubscribes themself, one it
  // unsubscribed is subscribed again by an admin, and one it added to the group is taken out.
  sandbox().advance_clock(3600);
  const std::string self_unsub = *done.at("add_to_mailchimp").begin();
  const std::string resubscribed = *done.at("unsubscribe_in_mailchimp").begin();
  sandbox().member_hook({{"email_address", self_unsub}, {"action", "unsubscribe"}});
  sandbox().mailchimp_api("PATCH",
                          std::string("/lists/") + kList + "/members/" +
                              concord::subscriber_hash(concord::normalise_email(resubscribed)),
                          {{"status", "subscribed"}});
  std::string taken_out;
  for (const char* kind : {"add_to_crm", "create_crm_contact"}) {
    if (!done.count(kind)) continue;
    for (const std::string& e : done.at(kind)) {
      if (e == self_unsub || e == resubscribed) continue;
      const std::vector<int> ids = now_state().contacts_with(e);
      if (ids.size() != 1) continue;
      sandbox().set_group_status(ids[0], "Removed");
      taken_out = e;
      break;
    }
    if (!taken_out.empty()) break;
  }
  REQUIRE_FALSE(taken_out.empty());
  const std::set<std::string> changed = {self_unsub, resubscribed, taken_out};
  const std::map<std::string, std::string> changed_state = now_state().by_email();
  sandbox().advance_clock(60);

  // The plan: the inverse of every other write; the changed ones reported; nothing written.
  const std::uint64_t mark = sandbox().log_mark();
  Command plan = w.concord({"undo", "--run", "1", "--json"});
  INFO(plan.text());
  REQUIRE(plan.code == 0);
  const json p = plan.pair_json();
  CHECK(p["undoes"] == 1);
  CHECK(p["result"] == "planned");
  for (const std::string& e : changed) {
    INFO(e);
    CHECK(ops_for(p, e).empty());
    CHECK_FALSE(report_row_of(p, e, "changed-since-run").is_null());
  }
  const auto planned = ops_by_kind(p);
  for (const std::string& e : done.at("add_to_mailchimp")) {
    INFO(e);
    if (!changed.count(e)) CHECK(planned.at("unsubscribe_in_mailchimp").count(e) == 1);
  }
  for (const std::string& e : done.at("unsubscribe_in_mailchimp")) {
    if (!changed.count(e)) CHECK(planned.at("add_to_mailchimp").count(e) == 1);
  }
  if (done.count("create_crm_contact")) {
    for (const std::string& e : done.at("create_crm_contact")) {
      if (changed.count(e)) continue;
      CHECK(planned.at("remove_from_crm").count(e) == 1);
      CHECK_FALSE(report_row_of(p, e, "none").is_null());  // the contact is left, and said so
    }
  }
  for (const json& op : p["operations"])
    CHECK(op["reason"] == "undo");
  for (const json& r : sandbox().requests_since(mark)) {
    INFO(r.dump());
    CHECK_FALSE(Sandbox::is_write(r));
  }

  // Applied.
  Command undo = w.concord({"undo", "--run", "1", "--apply", "--json"});
  INFO(undo.text());
  REQUIRE(undo.code == 0);
  const json u = undo.pair_json();
  CHECK(u["counts"] == p["counts"]);
  CHECK(u["failed"] == 0);
  const std::uint64_t undo_run = u["run"].get<std::uint64_t>();

  const std::map<std::string, std::string> now = now_state().by_email();
  std::set<std::string> emails;
  for (const auto& [key, value] : before)
    emails.insert(key.substr(key.find(' ') + 1));
  for (const auto& [key, value] : now)
    emails.insert(key.substr(key.find(' ') + 1));
  for (const std::string& e : emails) {
    if (changed.count(e)) {
      const Standing kept = Standing::of(changed_state, e), s = Standing::of(now, e);
      INFO(e);
      CHECK(s.mailchimp == kept.mailchimp);
      CHECK(s.crm == kept.crm);
      continue;
    }
    check_restored(Standing::of(before, e), Standing::of(now, e), e);
  }
  // Contacts are never deleted.
  CHECK(now_state().civicrm()["contacts"].size() == contacts_after_migration);

  // The undo is a run like any other: in status, and in explain.
  Command status = w.concord({"status", "--json"});
  INFO(status.text());
  REQUIRE(status.code == 0);
  CHECK(status.out.find("\"undo\"") != std::string::npos);
  const std::string restored = *done.at("unsubscribe_in_mailchimp").rbegin();
  if (!changed.count(restored)) {
    Command why = w.concord({"explain", restored});
    INFO(why.text());
    CHECK(why.code == 0);
    CHECK(why.out.find("run " + std::to_string(undo_run)) != std::string::npos);
  }

  // Nothing is left to undo: a second undo of run 1 plans nothing.
  sandbox().advance_clock(60);
  Command again = w.concord({"undo", "--run", "1", "--json"});
  INFO(again.text());
  REQUIRE(again.code == 0);
  CHECK(again.pair_json()["operations"].empty());

  // And the undo can be undone: the members it restored are as the migration left them.
  sandbox().advance_clock(60);
  Command redo = w.concord({"undo", "--run", std::to_string(undo_run), "--apply", "--json"});
  INFO(redo.text());
  REQUIRE(redo.code == 0);
  const std::map<std::string, std::string> after_redo = now_state().by_email();
  for (const std::string& e : emails) {
    if (changed.count(e)) continue;
    INFO(e);
    const Standing m = Standing::of(changed_state, e), s = Standing::of(after_redo, e);
    CHECK(mailchimp_in(s.mailchimp) == mailchimp_in(m.mailchimp));
    CHECK((s.crm == "Added") == (m.crm == "Added"));
  }
}

TEST_CASE("undo: the fields a run overwrote on either side get their values back", "[undo]") {
  reset_to_fixture();
  Workdir w(sandbox(), "max_removal_fraction = 1.0");
  migrated(w);
  // The CRM renames Wilma and Mailchimp renames Betty; the next run carries both across.
  update_contact(101, {{"first_name", "Wilhelmina"}});
  update_member("betty@bedrock.org", {{"FNAME", "Bettina"}});
  Command run = next_run(w);
  INFO(run.text());
  REQUIRE(run.code == 0);
  const std::uint64_t renamed = run.pair_json()["run"].get<std::uint64_t>();
  REQUIRE(merge_fields("wilma@bedrock.org")["FNAME"] == "Wilhelmina");
  REQUIRE(contact_field(104, "first_name") == "Bettina");

  sandbox().advance_clock(60);
  Command undo = w.concord({"undo", "--run", std::to_string(renamed), "--apply", "--json"});
  INFO(undo.text());
  REQUIRE(undo.code == 0);
  CHECK(undo.pair_json()["counts"]["update_mailchimp_fields"] == 1);
  CHECK(undo.pair_json()["counts"]["update_crm_fields"] == 1);
  // Each written side has its value from before the run; the side the person changed keeps it.
  CHECK(merge_fields("wilma@bedrock.org")["FNAME"] == "Wilma");
  CHECK(contact_field(101, "first_name") == "Wilhelmina");
  CHECK(contact_field(104, "first_name") == "Betty");
  CHECK(merge_fields("betty@bedrock.org")["FNAME"] == "Bettina");
  CHECK(now_state().mc_status("wilma@bedrock.org") == "subscribed");
}

TEST_CASE("undo: guarded like a sync, and a killed undo resumes without sending anything twice",
          "[undo]") {
  reset_to_fixture();
  const std::map<std::string, std::string> before = now_state().by_email();
  Workdir w(sandbox());
  migrated(w);

  // Usage errors: no such run id, a run that does not exist.
  Command zero = w.concord({"undo", "--run", "0"});
  CHECK(zero.code == 2);
  CHECK(zero.err.find("run ids start at 1") != std::string::npos);
  Command missing = w.concord({"undo", "--run", "99"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("run 99 of sync \"newsletter\" does not exist") != std::string::npos);

  // Undoing the migration would unsubscribe a quarter of the audience: the removal guard stops it.
  Command guarded = w.concord({"undo", "--run", "1", "--apply"});
  INFO(guarded.text());
  CHECK(guarded.code == 3);
  CHECK(now_state().mc_status("betty@bedrock.org") == "subscribed");

  // Killed right after the first batch of writes was answered, before it was journaled.
  const std::uint64_t mark = sandbox().log_mark();
  Command killed = w.concord({"undo", "--run", "1", "--apply", "--allow-mass-removal"},
                             {{"CONCORD_FAIL_POINT", "after-send:1"}});
  INFO(killed.text());
  REQUIRE(killed.code == 128 + SIGKILL);
  Command resumed = w.concord({"undo", "--run", "1", "--apply", "--allow-mass-removal", "--json"});
  INFO(resumed.text());
  REQUIRE(resumed.code == 0);
  CHECK(resumed.pair_json()["resumed_from"].get<std::uint64_t>() > 0);

  const std::map<std::string, std::string> now = now_state().by_email();
  for (const char* e : {"wilma@bedrock.org", "barney@bedrock.org", "fred@bedrock.org",
                        "betty@bedrock.org", "pebbles@bedrock.org", "dino@bedrock.org"}) {
    check_restored(Standing::of(before, e), Standing::of(now, e), e);
  }
  // The Mailchimp writes the killed attempt sent were verified, not sent again: each member was
  // written there once by the two attempts together.
  std::map<std::string, int> writes;
  for (const json& r : sandbox().requests_since(mark)) {
    if (!Sandbox::is_write(r) || r.value("part", "") != "mailchimp") continue;
    const std::string all = r.value("path", "") + " " + r.value("body", "");
    for (const char* e : {"fred@bedrock.org", "betty@bedrock.org"}) {
      if (all.find(e) != std::string::npos ||
          all.find(concord::subscriber_hash(e)) != std::string::npos) {
        ++writes[e];
      }
    }
  }
  CHECK(writes["fred@bedrock.org"] == 1);
  CHECK(writes["betty@bedrock.org"] == 1);
}
