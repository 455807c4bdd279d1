// End to end: the real `concord` binary against the real concord-sandbox binary over TLS, as a
// user runs them (tests/e2e_harness.h). Every case reads the final states back through the
// sandbox (its /_sandbox/state, the Marketing API, CiviCRM's APIv4, its request log), never
// through concord's store.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "e2e_harness.h"

using namespace concord::testing;
using nlohmann::json;

namespace {

constexpr const char* kList = "b3d1c0ffee";  // the fixture's audience "Newsletter"

// One sandbox for the whole binary: each test resets it to its seed.
Sandbox& sandbox() {
  static Sandbox s;
  return s;
}

// Resets the sandbox to `seed` (clock kStartClock unless the seed has one).
SideState fresh(const json& seed) {
  json s = seed;
  if (!s.contains("clock")) s["clock"] = kStartClock;
  sandbox().reset(s);
  return SideState(sandbox().state());
}

SideState now_state() {
  return SideState(sandbox().state());
}

// The operations a `plan --json` / `sync --json` printed (a copy: safe in a range-for).
json operations_of(const Command& c) {
  return c.pair_json().at("operations");
}

// The one operation of `email` (null when none; fails when several).
json op_for(const json& plan, const std::string& email) {
  std::vector<json> ops = ops_for(plan, email);
  INFO(email << ": " << json(ops).dump());
  REQUIRE(ops.size() <= 1);
  return ops.empty() ? json() : ops[0];
}
// The plan's report row for an address (null when none).
json plan_row(const json& plan, const std::string& email) {
  for (const json& r : plan["report"]) {
    if (r["email"] == email) return r;
  }
  return nullptr;
}
// Whether a stored conflict report (`report --format json`) has a row of class `cls` for `email`.
bool has_row(const json& report, const std::string& email, const std::string& cls) {
  for (const json& r : report["rows"]) {
    if (r.value("email", "") == email && r.value("class", "") == cls) return true;
  }
  return false;
}

json report_of(const Workdir& w, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"report", "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  Command r = w.concord(args);
  INFO(r.text());
  REQUIRE(r.code == 0);
  return r.json();
}

// Writes logged by the sandbox since `mark`, as "METHOD path body…" lines (empty without a log).
std::vector<std::string> writes_since(std::uint64_t mark) {
  std::vector<std::string> out;
  for (const json& r : sandbox().requests_since(mark)) {
    if (Sandbox::is_write(r)) {
      out.push_back(r.value("method", "") + " " + r.value("path", "") + " " +
                    r.value("body", "").substr(0, 200));
    }
  }
  return out;
}
// Writes logged since `mark` whose path or body names the address `text` (as given, URL-encoded,
// or as its subscriber hash).
std::vector<std::string> requests_mentioning(std::uint64_t mark, const std::string& text) {
  std::vector<std::string> out;
  const std::string forms[] = {text, concord::http::url_encode(text),
                               concord::subscriber_hash(concord::normalise_email(text))};
  for (const json& r : sandbox().requests_since(mark)) {
    if (!Sandbox::is_write(r)) continue;
    const std::string all = r.value("path", "") + " " + r.value("body", "");
    for (const std::string& f : forms) {
      if (all.find(f) != std::string::npos) {
        out.push_back(r.value("method", "") + " " + r.value("path", ""));
        break;
      }
    }
  }
  return out;
}

// The entries of two by_email() maps that differ, one a line.
std::string differences(const std::map<std::string, std::string>& got,
                        const std::map<std::string, std::string>& want) {
  std::string out;
  std::set<std::string> keys;
  for (const auto& [k, v] : got)
    keys.insert(k);
  for (const auto& [k, v] : want)
    keys.insert(k);
  for (const std::string& k : keys) {
    auto g = got.find(k);
    auto w = want.find(k);
    const std::string gv = g == got.end() ? "(none)" : g->second;
    const std::string wv = w == want.end() ? "(none)" : w->second;
    if (gv != wv) out += k + ": got " + gv + ", expected " + wv + "\n";
  }
  return out;
}

// Runs `sync` until a run ends with nothing left to do (exit 0 or 4 and no operation planned),
// at most `max_runs` times. Returns the runs' exit codes.
std::vector<int> sync_until_settled(const Workdir& w, const std::vector<std::string>& extra,
                                    int max_runs) {
  std::vector<int> codes;
  for (int i = 0; i < max_runs; ++i) {
    std::vector<std::string> args = {"sync", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Command r = w.concord(args);
    codes.push_back(r.code);
    if (r.code != 0 && r.code != 4) continue;  // 1: a fetch failed after its retries
    json j = r.pair_json();
    if (j["operations"].empty()) return codes;
  }
  return codes;
}

// What both sides look like (by_email) after the fixture's migration without faults.
std::map<std::string, std::string> migrated_fixture() {
  static std::map<std::string, std::string> expected;
  if (expected.empty()) {
    fresh(fixture_seed());
    Workdir w(sandbox());
    Command r = w.concord({"sync", "--allow-mass-removal"});
    INFO(r.text());
    REQUIRE(r.code == 0);
    expected = now_state().by_email();
  }
  return expected;
}

}  // namespace

// ---- 1. the initial migration of the five people ------------------------------------

// The quickstart's lists (10 000 members a side, with duplicates, opt-outs, contacts outside the
// group, invalid addresses): the plan says what the sync then does, and a second sync has nothing
// to do and exits 0 (rows that only inform are no failures).
TEST_CASE("e2e: the plan is exact on the quickstart's lists, and the next run has nothing to do",
          "[e2e]") {
  fresh(json::parse(read_file(source_root() + "/fixtures/quickstart-seed.json")));
  Workdir w(sandbox());
  Command plan = w.concord({"plan", "--allow-mass-removal", "--json"});
  INFO(plan.text().substr(0, 4000));
  REQUIRE(plan.code == 0);
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text().substr(0, 4000));
  REQUIRE((sync.code == 0 || sync.code == 4));  // 4: Mailchimp refuses some addresses
  const json pc = plan.pair_json()["counts"], sc = sync.pair_json()["counts"];
  CHECK(pc == sc);
  // Subscribers whose contacts exist outside the group are added, not created.
  CHECK(pc["add_to_crm"].get<int>() > 0);

  Command again = w.concord({"sync", "--json"});
  INFO(again.text().substr(0, 4000));
  CHECK(again.code == 0);
  CHECK(again.pair_json()["operations"].empty());
  CHECK(again.pair_json()["unsynced"] == 0);
}

TEST_CASE("e2e: initial migration of the five people", "[e2e]") {
  const SideState before = fresh(fixture_seed());
  Workdir w(sandbox());

  // plan shows the documented outcomes and changes nothing.
  std::uint64_t mark = sandbox().log_mark();
  Command guarded = w.concord({"plan", "--json"});
  INFO(guarded.text());
  // The five-person lists trip the 10% removal guard: plan says so (exit 3), as sync would.
  CHECK(guarded.code == 3);
  CHECK(guarded.pair_json()["guard"]["stop"] == true);
  // With the flag sync takes, plan shows that sync, and exits as it would.
  Command plan = w.concord({"plan", "--allow-mass-removal", "--json"});
  INFO(plan.text());
  CHECK(plan.code == 0);
  json p = plan.pair_json();
  CHECK(p["first_run"] == true);
  CHECK(op_for(p, "wilma@bedrock.org").is_null());  // stays subscribed
  CHECK(op_for(p, "barney@bedrock.org")["action"] == "remove_from_crm");
  CHECK(op_for(p, "barney@bedrock.org")["reason"] == "mailchimp-later");
  CHECK(op_for(p, "fred@bedrock.org")["action"] == "unsubscribe_in_mailchimp");
  CHECK(op_for(p, "fred@bedrock.org")["reason"] == "crm-later");
  CHECK(op_for(p, "betty@bedrock.org")["action"] == "add_to_mailchimp");
  const json pebbles = op_for(p, "pebbles@bedrock.org");
  CHECK(pebbles["side"] == "crm");
  // Pebbles' contact is in no group: the plan adds it, as the sync does (not a new contact).
  CHECK(pebbles["action"] == "add_to_crm");
  CHECK(plan_row(p, "barney@bedrock.org")["class"] == "both-changed");
  CHECK(plan_row(p, "fred@bedrock.org")["class"] == "both-changed");
  // Each count is the number of operations of its kind.
  for (const char* k : {"add_to_mailchimp", "unsubscribe_in_mailchimp", "archive_in_mailchimp",
                        "pending_in_mailchimp", "add_to_crm", "remove_from_crm",
                        "create_crm_contact", "hold_crm_email"}) {
    std::size_t n = 0;
    for (const json& op : p["operations"])
      n += op["action"] == k;
    CHECK(p["counts"][k] == n);
  }
  CHECK(now_state().doc == before.doc);
  CHECK(writes_since(mark).empty());

  // sync applies it. Exit 0: every write succeeds and no member is left in disagreement (the
  // report rows are resolved both-changed conflicts, which do not count as unsynced).
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  REQUIRE(sync.code == 0);
  CHECK(sync.pair_json()["failed"] == 0);
  // The plan was exact: the sync that followed it did what it said.
  CHECK(sync.pair_json()["counts"] == p["counts"]);

  const SideState after = now_state();
  CHECK(after.mc_status("wilma@bedrock.org") == "subscribed");
  CHECK(after.group_status(101) == "Added");
  CHECK(after.mc_status("barney@bedrock.org") == "unsubscribed");
  CHECK(after.group_status(102) == "Removed");
  CHECK(after.latest_history(102)["status"] == "Removed");
  CHECK(after.mc_status("fred@bedrock.org") == "unsubscribed");
  CHECK(after.group_status(103) == "Removed");
  CHECK(after.mc_status("betty@bedrock.org") == "subscribed");
  CHECK(after.member("betty@bedrock.org")["merge_fields"]["FNAME"] == "Betty");
  CHECK(after.member("betty@bedrock.org")["merge_fields"]["LNAME"] == "Rubble");
  CHECK(after.group_status(104) == "Added");
  CHECK(after.mc_status("pebbles@bedrock.org") == "subscribed");
  CHECK(after.group_status(105) == "Added");
  CHECK(after.contacts_with("pebbles@bedrock.org") == std::vector<int>{105});  // no new contact
  // Through the Marketing API too.
  auto fred = sandbox().mailchimp_member(kList, "fred@bedrock.org");
  REQUIRE(fred);
  CHECK((*fred)["status"] == "unsubscribed");
  auto betty = sandbox().mailchimp_member(kList, "Betty@Bedrock.org");
  REQUIRE(betty);
  CHECK((*betty)["status"] == "subscribed");

  // The backup of both sides before the first apply.
  const auto backups = w.state_dir() / "backups";
  REQUIRE(std::filesystem::is_directory(backups));
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(backups))
    dirs.push_back(e.path());
  REQUIRE(dirs.size() == 1);
  for (const char* f : {"mailchimp.csv", "mailchimp.json", "crm.csv", "crm.json"}) {
    INFO(f);
    CHECK(std::filesystem::file_size(dirs[0] / f) > 0);
  }
  // It holds the sides as they were: Fred still subscribed, Barney still in the group.
  CHECK(read_file(dirs[0] / "mailchimp.json").find("fred@bedrock.org") != std::string::npos);
  CHECK(read_file(dirs[0] / "crm.csv").find("barney@bedrock.org") != std::string::npos);
  // Each JSON backup is one array of rows, each with the stored record inside it; the CSV has a
  // line for each row, after its header.
  for (const char* side : {"mailchimp", "crm"}) {
    INFO(side);
    const std::string dir = dirs[0].string() + "/" + side;
    const json rows = json::parse(read_file(dir + ".json"), nullptr, false);
    REQUIRE(rows.is_array());
    const std::string csv = read_file(dir + ".csv");
    CHECK(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')) == rows.size() + 1);
    for (const json& row : rows) {
      INFO(row.dump());
      CHECK(row["email"].is_string());
      CHECK(row["record"].is_object());
    }
  }
  const json mc_rows = json::parse(read_file(dirs[0] / "mailchimp.json"));
  const auto fred_row = std::find_if(mc_rows.begin(), mc_rows.end(), [](const json& r) {
    return r["email"] == "fred@bedrock.org";
  });
  REQUIRE(fred_row != mc_rows.end());
  CHECK((*fred_row)["status"] == "subscribed");
  CHECK((*fred_row)["record"]["merge_fields"]["FNAME"] == "Fred");

  // A second sync has nothing to do and changes nothing.
  const SideState settled = now_state();
  mark = sandbox().log_mark();
  Command again = w.concord({"sync", "--json"});
  INFO(again.text());
  CHECK(again.code == 0);
  CHECK(again.pair_json()["operations"].empty());
  CHECK(now_state().doc == settled.doc);
  CHECK(writes_since(mark).empty());
}

// ---- 2. changes on both sides between runs ------------------------------------------------------

TEST_CASE("e2e: changes made on both sides between runs are carried the right way", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox(), "max_addition_fraction = 1.0");  // three added of the few IN members
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  REQUIRE(w.concord({"sync"}).code == 0);  // a periodic run: nothing to do

  // An hour later, people act on both sides.
  sandbox().advance_clock(3600);
  // Wilma unsubscribes herself in Mailchimp.
  sandbox().member_hook({{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}});
  // An admin takes Betty out of the group in CiviCRM, puts Fred back in, and adds a new contact.
  sandbox().set_group_status(104, "Removed");
  sandbox().set_group_status(103, "Added");
  const int slate = sandbox().create_contact("Mr", "Slate", "mr.slate@bedrock.org");
  sandbox().civicrm("GroupContact", "create",
                    {{"values", {{"group_id", 42}, {"contact_id", slate}, {"status", "Added"}}}});
  // Both sides change Joe Rockhead: Mailchimp first (an admin unsubscribes him), the CRM a
  // minute later (re-added): the CRM's change is later and wins.
  sandbox().member_hook({{"email_address", "rockhead@bedrock.org"},
                         {"action", "update"},
                         {"source", "admin"},
                         {"status", "unsubscribed"}});
  // Both sides change Pebbles: the CRM first (re-added), Mailchimp a minute later
  // (unsubscribed by an admin): Mailchimp's change is later and wins.
  sandbox().set_group_status(105, "Added");
  sandbox().advance_clock(60);
  sandbox().set_group_status(108, "Added");
  sandbox().member_hook({{"email_address", "pebbles@bedrock.org"},
                         {"action", "update"},
                         {"source", "admin"},
                         {"status", "unsubscribed"}});
  sandbox().advance_clock(60);

  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  REQUIRE(sync.code == 0);
  const json p = sync.pair_json();
  CHECK(p["first_run"] == false);
  CHECK(op_for(p, "wilma@bedrock.org")["action"] == "remove_from_crm");
  CHECK(op_for(p, "wilma@bedrock.org")["reason"] == "only-mailchimp-changed");
  CHECK(op_for(p, "betty@bedrock.org")["action"] == "unsubscribe_in_mailchimp");
  CHECK(op_for(p, "betty@bedrock.org")["reason"] == "only-crm-changed");
  CHECK(op_for(p, "fred@bedrock.org")["action"] == "add_to_mailchimp");
  CHECK(op_for(p, "mr.slate@bedrock.org")["action"] == "add_to_mailchimp");
  CHECK(op_for(p, "rockhead@bedrock.org")["action"] == "add_to_mailchimp");
  CHECK(op_for(p, "rockhead@bedrock.org")["reason"] == "crm-later");
  CHECK(op_for(p, "pebbles@bedrock.org")["action"] == "remove_from_crm");
  CHECK(op_for(p, "pebbles@bedrock.org")["reason"] == "mailchimp-later");
  CHECK(p["operations"].size() == 6);

  const SideState s = now_state();
  CHECK(s.mc_status("wilma@bedrock.org") == "unsubscribed");
  CHECK(s.group_status(101) == "Removed");
  CHECK(s.mc_status("betty@bedrock.org") == "unsubscribed");
  CHECK(s.group_status(104) == "Removed");
  CHECK(s.mc_status("fred@bedrock.org") == "subscribed");
  CHECK(s.group_status(103) == "Added");
  CHECK(s.mc_status("mr.slate@bedrock.org") == "subscribed");
  CHECK(s.member("mr.slate@bedrock.org")["merge_fields"]["LNAME"] == "Slate");
  CHECK(s.group_status(slate) == "Added");
  CHECK(s.mc_status("rockhead@bedrock.org") == "subscribed");
  CHECK(s.group_status(108) == "Added");
  CHECK(s.mc_status("pebbles@bedrock.org") == "unsubscribed");
  CHECK(s.group_status(105) == "Removed");

  // The both-changed members are in the run's report as resolved conflicts.
  const json report = report_of(w);
  CHECK(has_row(report, "rockhead@bedrock.org", "both-changed"));
  CHECK(has_row(report, "pebbles@bedrock.org", "both-changed"));
  CHECK_FALSE(has_row(report, "wilma@bedrock.org", "both-changed"));

  // And the next run has nothing left to do.
  Command again = w.concord({"sync", "--json"});
  INFO(again.text());
  CHECK(again.code == 0);
  CHECK(again.pair_json()["operations"].empty());
}

TEST_CASE("e2e: concord's own CRM writes do not count as changes made in the CRM", "[e2e]") {
  // The migration adds Pebbles to the CRM group. When she later unsubscribes in Mailchimp, only
  // Mailchimp changed: the group's history row is concord's own write, not an admin's act.
  fresh(fixture_seed());
  Workdir w(sandbox());
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  sandbox().advance_clock(3600);
  sandbox().member_hook({{"email_address", "pebbles@bedrock.org"}, {"action", "unsubscribe"}});
  sandbox().advance_clock(60);
  // (One removal among the fixture's few members is more than the guard's 10%.)
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  REQUIRE(sync.code == 0);
  const json p = sync.pair_json();
  CHECK(op_for(p, "pebbles@bedrock.org")["action"] == "remove_from_crm");
  CHECK(op_for(p, "pebbles@bedrock.org")["reason"] == "only-mailchimp-changed");
  CHECK(p["operations"].size() == 1);
  CHECK_FALSE(has_row(report_of(w), "pebbles@bedrock.org", "both-changed"));
  CHECK(now_state().group_status(105) == "Removed");
}

// ---- 3. compliance, cleaned, invalid, duplicates, opt-outs, forgotten ----

namespace {

json contact(int id, const std::string& first, const std::string& email,
             json extra = json::object(), int on_hold = 0) {
  json c = {{"id", id},
            {"first_name", first},
            {"last_name", "Test"},
            {"emails", {{{"email", email}, {"is_primary", true}, {"on_hold", on_hold}}}}};
  c.update(extra);
  return c;
}
json added(int contact_id, const std::string& date) {
  return {{"contact_id", contact_id},
          {"group_id", 42},
          {"status", "Added"},
          {"date", date},
          {"method", "Admin"}};
}

// Every edge of §2 "Applying a decision" that ends in the report.
json compliance_seed() {
  json members = {
      // Unsubscribed herself on 2 Jan; the CRM added her on 10 Jan: the CRM wins.
      {{"email_address", "sam@bedrock.org"},
       {"status", "unsubscribed"},
       {"unsubscribe_origin", "user"},
       {"timestamp_opt", "2025-09-01T10:00:00+00:00"},
       {"last_changed", "2026-01-02T12:00:00+00:00"},
       {"merge_fields", {{"FNAME", "Sam"}}}},
      // Bounced on 1 Feb; in the group since 1 Jan: Mailchimp wins (removed, email on hold).
      {{"email_address", "dino@bedrock.org"},
       {"status", "cleaned"},
       {"timestamp_opt", "2025-10-01T08:00:00+00:00"},
       {"last_changed", "2026-02-01T08:00:00+00:00"}},
      // Bounced on 1 Feb; added to the group on 10 Feb: the CRM wins, but cleaned is final.
      {{"email_address", "clean2@bedrock.org"},
       {"status", "cleaned"},
       {"timestamp_opt", "2025-10-01T08:00:00+00:00"},
       {"last_changed", "2026-02-01T08:00:00+00:00"}},
      {{"email_address", "wilma@bedrock.org"},
       {"status", "subscribed"},
       {"timestamp_opt", "2026-01-01T12:00:00+00:00"},
       {"last_changed", "2026-01-01T12:00:00+00:00"}},
  };
  json contacts = {
      contact(101, "Wilma", "wilma@bedrock.org"),
      contact(120, "Sam", "sam@bedrock.org"),
      contact(121, "Dino", "dino@bedrock.org"),
      contact(122, "Clean", "clean2@bedrock.org"),
      contact(123, "Bad", "not an email"),
      contact(124, "Twin", "twin@bedrock.org"),
      contact(125, "Twin2", "Twin@Bedrock.org"),
      contact(126, "Dne", "dne@bedrock.org", {{"do_not_email", true}}),
      contact(127, "Opt", "optout@bedrock.org", {{"is_opt_out", true}}),
      contact(128, "Held", "held@bedrock.org", json::object(), 1),
      contact(129, "Gone", "gone@bedrock.org"),
  };
  json history = {added(101, "2026-01-05 12:00:00"), added(120, "2026-01-10 12:00:00"),
                  added(121, "2026-01-01 12:00:00"), added(122, "2026-02-10 12:00:00"),
                  added(123, "2026-01-10 12:00:00"), added(124, "2026-01-10 12:00:00"),
                  added(125, "2026-01-11 12:00:00"), added(126, "2026-01-10 12:00:00"),
                  added(127, "2026-01-10 12:00:00"), added(128, "2026-01-10 12:00:00"),
                  added(129, "2026-01-10 12:00:00")};
  return {{"mailchimp",
           {{"api_key", kMailchimpKey},
            {"lists",
             {{{"id", kList},
               {"name", "Newsletter"},
               // Permanently deleted: Mailchimp answers "Forgotten Email Not Subscribed".
               {"forgotten", {"gone@bedrock.org"}},
               {"members", members}}}}}},
          {"civicrm",
           {{"api_key", kCivicrmKey},
            {"site_key", kSiteKey},
            {"timezone", "Europe/London"},
            {"groups", {{{"id", 42}, {"name", "newsletter"}, {"title", "Newsletter"}}}},
            {"contacts", contacts},
            {"subscription_history", history}}}};
}

}  // namespace

TEST_CASE("e2e: compliance, cleaned, invalid, duplicate, opt-out and forgotten members", "[e2e]") {
  const SideState before = fresh(compliance_seed());
  Workdir w(sandbox());
  std::uint64_t mark = sandbox().log_mark();
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  // 4: opted-out, cleaned, forgotten and invalid members stay in disagreement.
  REQUIRE(sync.code == 4);
  const json p = sync.pair_json();
  const SideState s = now_state();
  const json report = report_of(w);
  INFO(report.dump(1));

  // resubscribe = "pending" (the default): Sam is sent a confirmation.
  CHECK(op_for(p, "sam@bedrock.org")["action"] == "pending_in_mailchimp");
  CHECK(s.mc_status("sam@bedrock.org") == "pending");
  CHECK(has_row(report, "sam@bedrock.org", "compliance"));

  // Cleaned, Mailchimp later: out of the group and the email on hold (hold_cleaned).
  CHECK(s.group_status(121) == "Removed");
  CHECK(s.on_hold(121, "dino@bedrock.org") == 1);
  CHECK(s.mc_status("dino@bedrock.org") == "cleaned");
  CHECK(has_row(report, "dino@bedrock.org", "cleaned"));
  // Cleaned, CRM later: reported, never resubscribed, both sides untouched.
  CHECK(s.mc_status("clean2@bedrock.org") == "cleaned");
  CHECK(s.member("clean2@bedrock.org") == before.member("clean2@bedrock.org"));
  CHECK(s.group_status(122) == "Added");
  CHECK(has_row(report, "clean2@bedrock.org", "cleaned"));
  CHECK(requests_mentioning(mark, "clean2@bedrock.org").empty());

  // An address that is not an email: reported, never sent.
  CHECK(has_row(report, "not an email", "invalid-email"));
  CHECK(requests_mentioning(mark, "not an email").empty());
  CHECK(s.group_status(123) == "Added");

  // Two contacts share twin@bedrock.org: one member, subscribed once, reported as duplicate.
  CHECK(has_row(report, "twin@bedrock.org", "duplicate"));
  CHECK(s.mc_status("twin@bedrock.org") == "subscribed");
  CHECK(s.group_status(124) == "Added");
  CHECK(s.group_status(125) == "Added");

  // Opt-outs in the group are never subscribed; they are reported.
  for (const char* e : {"dne@bedrock.org", "optout@bedrock.org", "held@bedrock.org"}) {
    INFO(e);
    CHECK(s.mc_status(e) == "absent");
    CHECK(has_row(report, e, "opt-out"));
    CHECK(requests_mentioning(mark, e).empty());
    CHECK(ops_for(p, e).empty());
  }

  // Forgotten: Mailchimp refuses; reported, with both sides' states.
  CHECK(s.mc_status("gone@bedrock.org") == "absent");
  REQUIRE(has_row(report, "gone@bedrock.org", "forgotten"));
  for (const json& r : report["rows"]) {
    if (r["email"] != "gone@bedrock.org") continue;
    CHECK(r["mailchimp_status"] == "absent");
    CHECK(r["crm_status"] == "Added");
    CHECK(r["crm_changed_at"] == "2026-01-10T12:00:00+00:00");
  }

  // The next run sends none of them again, and still reports them.
  mark = sandbox().log_mark();
  Command again = w.concord({"sync", "--json"});
  INFO(again.text());
  // 0: nothing was refused or failed in this run; the rows that stay only inform.
  CHECK(again.code == 0);
  CHECK(again.pair_json()["unsynced"] == 0);
  CHECK(ops_for(again.pair_json(), "gone@bedrock.org").empty());
  CHECK(requests_mentioning(mark, "gone@bedrock.org").empty());
  CHECK(requests_mentioning(mark, "sam@bedrock.org").empty());
  CHECK(requests_mentioning(mark, "clean2@bedrock.org").empty());
  const json report2 = report_of(w);
  CHECK(has_row(report2, "gone@bedrock.org", "forgotten"));
  CHECK(has_row(report2, "clean2@bedrock.org", "cleaned"));
  CHECK(has_row(report2, "dne@bedrock.org", "opt-out"));
  CHECK(has_row(report2, "not an email", "invalid-email"));
  CHECK(now_state().mc_status("sam@bedrock.org") == "pending");
}

TEST_CASE("e2e: resubscribe = never reports a self-unsubscribed member and leaves it alone",
          "[e2e]") {
  const SideState before = fresh(compliance_seed());
  Workdir w(sandbox(), "resubscribe = \"never\"");
  std::uint64_t mark = sandbox().log_mark();
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  REQUIRE(sync.code == 4);
  CHECK(ops_for(sync.pair_json(), "sam@bedrock.org").empty());
  CHECK(now_state().member("sam@bedrock.org") == before.member("sam@bedrock.org"));
  CHECK(now_state().group_status(120) == "Added");
  CHECK(requests_mentioning(mark, "sam@bedrock.org").empty());
  CHECK(has_row(report_of(w), "sam@bedrock.org", "compliance"));
}

// An address Mailchimp refuses as invalid (concord cannot tell it is fake) is a report row, not
// a write retried on every run (invalid → report, do not retry).
TEST_CASE("e2e: an address Mailchimp refuses as invalid is not sent again", "[e2e]") {
  json seed = compliance_seed();
  seed["civicrm"]["contacts"].push_back(contact(130, "Fake", "fake@example.com"));
  seed["civicrm"]["subscription_history"].push_back(added(130, "2026-01-10 12:00:00"));
  fresh(seed);
  Workdir w(sandbox());
  Command sync = w.concord({"sync", "--allow-mass-removal"});
  INFO(sync.text());
  REQUIRE(sync.code == 4);
  CHECK(has_row(report_of(w), "fake@example.com", "invalid-email"));
  const std::uint64_t mark = sandbox().log_mark();
  Command again = w.concord({"sync"});
  INFO(again.text());
  CHECK(requests_mentioning(mark, "fake@example.com").empty());
  CHECK(has_row(report_of(w), "fake@example.com", "invalid-email"));
}

// A forgotten address stays settled after a full fetch too (which concord makes once a day).
TEST_CASE("e2e: a forgotten address is not sent again after a full fetch", "[e2e]") {
  fresh(compliance_seed());
  Workdir w(sandbox());
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 4);
  const std::uint64_t mark = sandbox().log_mark();
  Command full = w.concord({"sync", "--full", "--json"});
  INFO(full.text());
  CHECK(ops_for(full.pair_json(), "gone@bedrock.org").empty());
  CHECK(requests_mentioning(mark, "gone@bedrock.org").empty());
  CHECK(has_row(report_of(w), "gone@bedrock.org", "forgotten"));
}

// ---- 4. trust overrides ----

TEST_CASE("e2e: --trust makes one side win every disagreement of the first run", "[e2e]") {
  const SideState before = fresh(fixture_seed());
  Workdir w(sandbox());

  SECTION("--trust crm") {
    Command sync = w.concord({"sync", "--trust", "crm", "--allow-mass-removal", "--json"});
    INFO(sync.text());
    // 0: the opted-out and on-hold contacts in the group (George Slate, Arnold) stay out of
    // Mailchimp, which is no failure: the report says so.
    REQUIRE(sync.code == 0);
    for (const json& op : operations_of(sync)) {
      INFO(op.dump());
      CHECK(op["side"] == "mailchimp");
      CHECK(op["reason"] == "trust-crm");
    }
    const SideState s = now_state();
    CHECK(s.group_status(102) == "Added");  // Barney stays in the group…
    // … and, having unsubscribed himself, is sent a confirmation (resubscribe = "pending").
    CHECK(s.mc_status("barney@bedrock.org") == "pending");
    CHECK(s.mc_status("fred@bedrock.org") == "unsubscribed");
    CHECK(s.group_status(103) == "Removed");
    CHECK(s.mc_status("betty@bedrock.org") == "subscribed");
    CHECK(s.mc_status("pebbles@bedrock.org") == "unsubscribed");  // in no CRM group
    CHECK(s.group_status(105) == "");
    CHECK(s.mc_status("wilma@bedrock.org") == "subscribed");
    CHECK(s.mc_status("slate@bedrock.org") == "unsubscribed");  // opted out in the CRM
    CHECK(report_of(w)["summary"]["trust"] == "crm");
  }
  SECTION("--trust mailchimp") {
    Command sync = w.concord({"sync", "--trust", "mailchimp", "--allow-mass-removal", "--json"});
    INFO(sync.text());
    REQUIRE(sync.code == 0);
    for (const json& op : operations_of(sync)) {
      INFO(op.dump());
      CHECK(op["side"] == "crm");
      CHECK(op["reason"] == "trust-mailchimp");
    }
    const SideState s = now_state();
    CHECK(s.group_status(102) == "Removed");  // Barney
    CHECK(s.group_status(103) == "Added");    // Fred stays subscribed and joins the group
    CHECK(s.mc_status("fred@bedrock.org") == "subscribed");
    CHECK(s.group_status(104) == "Removed");  // Betty is not in Mailchimp
    CHECK(s.mc_status("betty@bedrock.org") == "absent");
    CHECK(s.group_status(105) == "Added");  // Pebbles
    CHECK(s.group_status(101) == "Added");  // Wilma
    // Mailchimp is untouched.
    CHECK(s.list()["members"] == before.list()["members"]);
    CHECK(report_of(w)["summary"]["trust"] == "mailchimp");
  }
  // For that run only: the next run, without --trust, plans nothing for the members the trusted
  // run settled; only members it left in disagreement (reported) are decided by the usual rules.
  const json trusted_report = report_of(w);
  Command again = w.concord({"plan", "--json"});
  INFO(again.text());
  CHECK(again.code != 1);
  for (const json& op : operations_of(again)) {
    INFO(op.dump());
    bool reported = false;
    for (const json& r : trusted_report["rows"])
      reported |= r.value("email", "") == op["email"];
    CHECK(reported);
  }
}

// ---- 5. guards and removal modes ----

TEST_CASE("e2e: the removal guard stops a run before anything changes", "[e2e]") {
  const SideState before = fresh(fixture_seed());
  Workdir w(sandbox());
  const std::uint64_t mark = sandbox().log_mark();
  Command sync = w.concord({"sync", "--json"});
  INFO(sync.text());
  CHECK(sync.code == 3);
  const json j = sync.pair_json();
  CHECK(j["guard"]["stop"] == true);
  CHECK(j["result"] == "stopped-by-guard");
  CHECK(now_state().doc == before.doc);
  CHECK(writes_since(mark).empty());
  const bool no_backup = !std::filesystem::exists(w.state_dir() / "backups") ||
                         std::filesystem::is_empty(w.state_dir() / "backups");
  CHECK(no_backup);
  const json report = report_of(w);
  bool guard_row = false;
  for (const json& r : report["rows"])
    guard_row |= r.value("class", "") == "guard";
  CHECK(guard_row);
  Command status = w.concord({"status", "--json"});
  INFO(status.text());
  CHECK(status.json()[0]["runs"][0]["result"] == "stopped-by-guard");

  // --allow-mass-removal lifts it for one run.
  Command allowed = w.concord({"sync", "--allow-mass-removal"});
  INFO(allowed.text());
  CHECK(allowed.code == 0);
  CHECK(now_state().group_status(102) == "Removed");
}

TEST_CASE("e2e: the addition guard stops a later run that would subscribe too many", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  // The first sync adds everyone it must: not guarded.
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  REQUIRE(w.concord({"sync"}).code == 0);
  // Someone fills the group from an import: more new members than a quarter of the audience.
  sandbox().advance_clock(3600);
  for (const char* who : {"Slate", "Gazoo", "Hoppy", "Dino", "Tex", "Arnold"}) {
    const int id = sandbox().create_contact("Mr", who, std::string(who) + "@quarry.org");
    sandbox().civicrm("GroupContact", "create",
                      {{"values", {{"group_id", 42}, {"contact_id", id}, {"status", "Added"}}}});
  }
  sandbox().advance_clock(60);
  const std::uint64_t mark = sandbox().log_mark();
  Command sync = w.concord({"sync", "--json"});
  INFO(sync.text());
  CHECK(sync.code == 3);
  const json j = sync.pair_json();
  CHECK(j["result"] == "stopped-by-guard");
  REQUIRE(j["guard"]["reasons"].size() == 1);
  const std::string reason = j["guard"]["reasons"][0];
  CHECK(reason.find("subscribes 6 members in Mailchimp") != std::string::npos);
  CHECK(reason.find("max_addition_fraction (25%)") != std::string::npos);
  CHECK(reason.find("--allow-mass-addition") != std::string::npos);
  CHECK(writes_since(mark).empty());
  CHECK(w.concord({"plan"}).code == 3);  // plan says what sync would do

  // --allow-mass-addition lifts it for one run.
  Command allowed = w.concord({"sync", "--allow-mass-addition"});
  INFO(allowed.text());
  CHECK(allowed.code == 0);
  CHECK(now_state().mc_status("slate@quarry.org") == "subscribed");
}

TEST_CASE("e2e: the state directory, backups and reports are private whatever the umask", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  const mode_t old = ::umask(0);  // concord inherits it
  Command sync = w.concord({"sync", "--allow-mass-removal"});
  Command report = w.concord({"report", "--format", "csv", "-o", "report.csv"});
  Command backup = w.concord({"backup", "-o", "mine/backups", "--json"});
  ::umask(old);
  INFO(sync.text() << report.text() << backup.text());
  REQUIRE(sync.code == 0);
  REQUIRE(report.code == 0);
  REQUIRE(backup.code == 0);
  const json backed_up = backup.json();  // docs/cli.md
  REQUIRE(backed_up.size() == 1);
  CHECK(backed_up[0]["sync"] == "newsletter");
  CHECK(backed_up[0]["mailchimp_members"].get<int>() > 0);
  CHECK(std::filesystem::exists(w.dir() / backed_up[0]["dir"].get<std::string>()));
  auto mode = [](const std::filesystem::path& p) {
    struct stat st;
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  CHECK(mode(w.state_dir()) == 0700);
  CHECK(mode(w.state_dir() / "store") == 0700);
  CHECK(mode(w.dir() / "report.csv") == 0600);
  CHECK(mode(w.dir() / "mine") == 0700);  // made by concord: it was missing
  int backups = 0;
  for (const std::filesystem::path& parent :
       {w.state_dir() / "backups", w.dir() / "mine/backups"}) {
    CHECK(mode(parent) == 0700);
    for (const auto& b : std::filesystem::directory_iterator(parent)) {
      ++backups;
      INFO(b.path());
      CHECK(b.path().extension() != ".partial");
      CHECK(mode(b.path()) == 0700);
      for (const auto& f : std::filesystem::directory_iterator(b.path()))
        CHECK(mode(f.path()) == 0600);
    }
  }
  CHECK(backups == 2);
}

TEST_CASE("e2e: an empty audience while the base had members stops the run", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  REQUIRE(w.concord({"sync", "--allow-mass-removal"}).code == 0);
  REQUIRE(w.concord({"sync"}).code == 0);

  // The audience is emptied (the CiviCRM part is left as it is).
  json emptied = sandbox().state();
  emptied["mailchimp"]["lists"][0]["members"] = json::array();
  sandbox().reset(emptied);
  const SideState before = now_state();
  const std::uint64_t mark = sandbox().log_mark();

  // A full fetch sees it (concord makes one a day; --full asks for it). --allow-mass-removal
  // does not lift this guard.
  Command sync = w.concord({"sync", "--full", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  CHECK(sync.code == 3);
  const json j = sync.pair_json();
  bool empty_reason = false;
  for (const json& r : j["guard"]["reasons"])
    empty_reason |= r.get<std::string>().find("empty") != std::string::npos;
  CHECK(empty_reason);
  // Whatever an incremental run makes of it, it does not empty the CRM group.
  Command incremental = w.concord({"sync", "--json"});
  INFO(incremental.text());
  CHECK(incremental.code != 1);
  CHECK(now_state().doc == before.doc);
  CHECK(writes_since(mark).empty());
}

TEST_CASE("e2e: removal = \"archive\" archives instead of unsubscribing", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox(), "removal = \"archive\"");
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  REQUIRE(sync.code == 0);
  CHECK(op_for(sync.pair_json(), "fred@bedrock.org")["action"] == "archive_in_mailchimp");
  const SideState s = now_state();
  CHECK(s.mc_status("fred@bedrock.org") == "archived");
  auto fred = sandbox().mailchimp_member(kList, "fred@bedrock.org");
  REQUIRE(fred);  // archived, never deleted
  CHECK((*fred)["status"] == "archived");
  Command again = w.concord({"sync", "--json"});
  INFO(again.text());
  CHECK(again.code == 0);
  CHECK(again.pair_json()["operations"].empty());
}

// ---- 6. faults ----

TEST_CASE("e2e: with 429s, 5xx, resets and truncated bodies on both sides, runs converge",
          "[e2e]") {
  const std::map<std::string, std::string> expected = migrated_fixture();  // without faults

  fresh(fixture_seed());
  Workdir w(sandbox());
  const std::uint64_t mark = sandbox().log_mark();
  // A storm of 429s first, then faults at random (about a quarter of the requests).
  sandbox().faults("mailchimp", {{"next", {"429", "429", "429"}},
                                 {"error_rates", {{"429", 0.1}, {"503", 0.08}, {"500", 0.04}}},
                                 {"reset_rate", 0.04},
                                 {"reset_after_rate", 0.04},
                                 {"truncate_rate", 0.04},
                                 {"max_concurrent", 2},
                                 {"latency_ms", 2},
                                 {"latency_jitter_ms", 10},
                                 {"seed", 7}});
  sandbox().faults("civicrm", {{"error_rates", {{"503", 0.1}, {"500", 0.05}, {"502", 0.05}}},
                               {"reset_rate", 0.05},
                               {"reset_after_rate", 0.05},
                               {"truncate_rate", 0.05},
                               {"seed", 8}});
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int> codes = sync_until_settled(w, {"--allow-mass-removal"}, 8);
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::string trail;
  for (int c : codes)
    trail += std::to_string(c) + " ";
  INFO("exit codes of the runs: " << trail << "(" << secs << " s)");
  sandbox().clear_faults();
  std::map<std::string, int> faults;  // by kind, as the request log names them
  for (const json& r : sandbox().requests_since(mark)) {
    if (r.contains("fault")) ++faults[r.value("part", "") + " " + r["fault"].get<std::string>()];
    if (r.value("status", 0) == 429 && !r.contains("fault")) ++faults["mailchimp 429 (limit)"];
  }
  std::string fault_text;
  int injected = 0;
  for (const auto& [k, n] : faults) {
    fault_text += k + ": " + std::to_string(n) + "; ";
    injected += n;
  }
  INFO("faults injected: " << fault_text);
  if (sandbox().has_request_log()) CHECK(injected >= 5);
  const std::map<std::string, std::string> got = now_state().by_email();
  INFO(differences(got, expected));
  CHECK(got == expected);
  // Settled: a run without faults has nothing to do.
  Command last = w.concord({"sync", "--json"});
  INFO(last.text());
  CHECK(last.code == 0);
  CHECK(last.pair_json()["operations"].empty());
}

// A write that fails in every attempt of a run (the connection reset each time) leaves that
// member unsynced (exit 4, a failed-write row); the next run sends it again.
TEST_CASE("e2e: a write that fails in every attempt is retried by the next run", "[e2e]") {
  const std::map<std::string, std::string> expected = migrated_fixture();
  fresh(fixture_seed());
  Workdir w(sandbox());
  // The CRM's GroupContact.save batch fails, and so does the first of the single saves concord
  // then makes (a reset of a kept-alive connection is also sent again at once, within its
  // attempt: 7 sends for 6 attempts).
  sandbox().faults("civicrm", {{"next", std::vector<std::string>(14, "reset")},
                               {"path_prefix", "/civicrm/ajax/api4/GroupContact/save"}});
  Command first = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(first.text());
  CHECK(first.code == 4);
  CHECK(first.pair_json()["failed"].get<int>() > 0);
  sandbox().clear_faults();
  const json report = report_of(w);
  std::set<std::string> failed;
  for (const json& r : report["rows"]) {
    if (r.value("class", "") == "failed-write") failed.insert(r.value("email", ""));
  }
  INFO(report.dump(1));
  REQUIRE(!failed.empty());
  CHECK(now_state().by_email() != expected);
  CHECK(now_state().mc_status("fred@bedrock.org") == "unsubscribed");  // Mailchimp went through

  // (The write that failed may be a removal: one of the group's eight is over the removal
  // guard's tenth, which the first run was allowed.)
  Command second = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(second.text());
  CHECK(second.code == 0);
  std::set<std::string> retried;
  for (const json& op : operations_of(second))
    retried.insert(op["email"].get<std::string>());
  CHECK(retried == failed);
  const std::map<std::string, std::string> got = now_state().by_email();
  INFO(differences(got, expected));
  CHECK(got == expected);
  CHECK(w.concord({"sync", "--json"}).pair_json()["operations"].empty());
}

// A Contact.save whose answer is lost (the sandbox carries it out, then resets the connection)
// must not leave a second contact behind when the write is tried again.
TEST_CASE("e2e: a contact creation whose answer was lost creates one contact", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  sandbox().faults("civicrm",
                   {{"next", {"reset_after"}}, {"path_prefix", "/civicrm/ajax/api4/Contact/save"}});
  sync_until_settled(w, {"--allow-mass-removal"}, 4);
  sandbox().clear_faults();
  const SideState s = now_state();
  CHECK(s.group_status(s.contacts_with("hoppy@bedrock.org").at(0)) == "Added");
  int hoppies = 0;
  for (const json& c : s.civicrm()["contacts"]) {
    hoppies += c.value("first_name", "") == "Hoppy";
    std::set<std::string> addresses;
    for (const json& m : c.value("emails", json::array())) {
      INFO(c.dump());
      CHECK(addresses.insert(concord::normalise_email(m.value("email", ""))).second);
    }
  }
  CHECK(hoppies == 1);
}

// ---- 7. no secret in any output ----

TEST_CASE("e2e: no secret appears in any output, report, backup or state file", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  const std::string wrong_mc = "fedcba9876543210fedcba9876543210-us6";
  const std::string wrong_civi = "wrong-civicrm-key-0123456789abcdef";
  const std::string wrong_site = "wrong-site-key-0123456789abcdef";
  std::vector<std::pair<std::string, Command>> runs;
  auto run = [&](std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::string name;
    for (const std::string& a : args)
      name += a + " ";
    for (const auto& [k, v] : env)
      name += "[" + k + "]";
    runs.emplace_back(name, w.concord(args, env));
    return runs.back().second.code;
  };

  CHECK(run({"--config", "example.toml", "init"}) == 0);
  CHECK(run({"--help"}) == 0);
  CHECK(run({"sync", "--help"}) == 0);
  CHECK(run({"check"}) == 0);
  CHECK(run({"--verbose", "plan"}) == 3);
  CHECK(run({"plan", "--json"}) == 3);
  CHECK(run({"--verbose", "sync"}) == 3);
  CHECK(run({"--verbose", "sync", "--allow-mass-removal", "--json"}) == 0);
  CHECK(run({"sync"}) == 0);
  CHECK(run({"status"}) == 0);
  CHECK(run({"status", "--json"}) == 0);
  std::filesystem::create_directories(w.state_dir() / "reports");
  for (const char* f : {"csv", "json", "md", "html"}) {
    CHECK(run({"report", "--run", "4", "--format", f}) == 0);
    CHECK(run({"report", "--run", "4", "--format", f, "-o",
               "state/reports/run4." + std::string(f)}) == 0);
    CHECK(run({"report", "--format", f, "-o", "state/reports/last." + std::string(f)}) == 0);
  }
  CHECK(run({"backup"}) == 0);
  CHECK(run({"backup", "-o", "state/manual-backup"}) == 0);
  CHECK(run({"explain", "fred@bedrock.org"}) == 0);
  CHECK(run({"explain", "barney@bedrock.org", "--json"}) == 0);
  // Failing runs: wrong, malformed and missing keys; an unreachable side.
  CHECK(run({"check"}, {{"MAILCHIMP_API_KEY", wrong_mc}}) == 1);
  CHECK(run({"sync"}, {{"MAILCHIMP_API_KEY", wrong_mc}}) == 1);
  CHECK(run({"plan"}, {{"MAILCHIMP_API_KEY", "not-a-key"}}) == 2);
  CHECK(run({"check"}, {{"CIVICRM_API_KEY", wrong_civi}}) == 1);
  CHECK(run({"sync", "--json"}, {{"CIVICRM_API_KEY", wrong_civi}}) == 1);
  CHECK(run({"--verbose", "sync"}, {{"CIVICRM_SITE_KEY", wrong_site}}) == 1);
  CHECK(run({"plan"}, {{"CIVICRM_API_KEY", ""}}) == 2);
  CHECK(run({"backup"}, {{"CIVICRM_SITE_KEY", wrong_site}}) == 1);
  // Errors the client does not retry (a 5xx storm would take its full backoff).
  sandbox().faults("mailchimp", {{"error_rates", {{"401", 1.0}}}});
  CHECK(run({"--verbose", "sync"}) == 1);
  sandbox().clear_faults();
  sandbox().faults("civicrm", {{"error_rates", {{"401", 1.0}}}});
  CHECK(run({"check"}) == 1);
  sandbox().clear_faults();

  const std::vector<std::string> secrets = {
      kMailchimpKey, std::string(kMailchimpKey).substr(0, 32),  // the key without its datacenter
      kCivicrmKey,   kSiteKey,
      wrong_mc,      wrong_mc.substr(0, 32),
      wrong_civi,    wrong_site,
  };
  for (const auto& [name, c] : runs) {
    for (const std::string& secret : secrets) {
      INFO("concord " << name << "\n" << c.text());
      CHECK(c.out.find(secret) == std::string::npos);
      CHECK(c.err.find(secret) == std::string::npos);
    }
  }
  // Every file concord wrote: the store, backups, reports; and the example config.
  std::size_t files = 0;
  std::vector<std::filesystem::path> paths = {w.dir() / "example.toml"};
  for (const auto& e : std::filesystem::recursive_directory_iterator(w.state_dir())) {
    if (e.is_regular_file()) paths.push_back(e.path());
  }
  for (const auto& path : paths) {
    const std::string content = read_file(path);
    ++files;
    for (const std::string& secret : secrets) {
      INFO(path << " holds a secret");
      CHECK(content.find(secret) == std::string::npos);
    }
  }
  CHECK(files > 20);
  CHECK(std::filesystem::exists(w.state_dir() / "reports" / "run4.html"));
  CHECK(std::filesystem::exists(w.state_dir() / "manual-backup"));
}

// ---- 8. explain ----

TEST_CASE("e2e: explain names the rule that decided and lists both runs' operations", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  // Run 1 (after the plan run that tripped the guard): Fred unsubscribed in Mailchimp.
  Command first = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(first.text());
  REQUIRE(first.code == 0);
  const std::uint64_t run1 = first.pair_json()["run"];
  REQUIRE(w.concord({"sync"}).code == 0);

  // A day later the CRM puts Fred back in the group.
  sandbox().advance_clock(86400);
  sandbox().set_group_status(103, "Added");

  // Why will concord resubscribe him? (plan fetches; explain reads what it fetched.)
  REQUIRE(w.concord({"plan"}).code == 0);
  Command why = w.concord({"explain", "fred@bedrock.org", "--json"});
  INFO(why.text());
  REQUIRE(why.code == 0);
  json e = why.json();
  CHECK(e["decision"]["winner"] == "crm");
  CHECK(e["decision"]["reason"] == "only-crm-changed");
  CHECK(e["decision"]["mailchimp_action"] == "subscribe");
  std::string rules;
  for (const json& r : e["decision"]["rules"])
    rules += r.get<std::string>() + "\n";
  CHECK(rules.find("rule 2") != std::string::npos);
  CHECK(rules.find("only the CRM changed") != std::string::npos);

  Command second = w.concord({"sync", "--json"});
  INFO(second.text());
  REQUIRE(second.code == 0);
  const std::uint64_t run2 = second.pair_json()["run"];
  CHECK(now_state().mc_status("fred@bedrock.org") == "subscribed");

  why = w.concord({"explain", "fred@bedrock.org", "--json"});
  INFO(why.text());
  REQUIRE(why.code == 0);
  e = why.json();
  const json& ops = e["operations"];
  REQUIRE(ops.size() == 2);
  CHECK(ops[0]["run"] == run1);
  CHECK(ops[0]["side"] == "mailchimp");
  CHECK(ops[0]["action"] == "unsubscribe_in_mailchimp");
  CHECK(ops[0]["reason"] == "crm-later");
  CHECK(ops[0]["result"] == "done");
  CHECK(ops[1]["run"] == run2);
  CHECK(ops[1]["action"] == "add_to_mailchimp");
  CHECK(ops[1]["reason"] == "only-crm-changed");
  CHECK(ops[1]["result"] == "done");
  // Now the sides agree: explain must not suggest undoing what run 2 did.
  CHECK(e["mailchimp"]["status"] == "subscribed");
  CHECK(e["decision"]["mailchimp_action"] == "none");
  CHECK(e["decision"]["crm_action"] == "none");
  rules.clear();
  for (const json& r : e["decision"]["rules"])
    rules += r.get<std::string>() + "\n";
  CHECK(rules.find("rule 1") != std::string::npos);

  // The text form says the same to a person.
  Command text = w.concord({"explain", "fred@bedrock.org"});
  INFO(text.text());
  CHECK(text.code == 0);
  CHECK(text.out.find("unsubscribe_in_mailchimp") != std::string::npos);
  CHECK(text.out.find("add_to_mailchimp") != std::string::npos);
  CHECK(text.out.find("only-crm-changed") != std::string::npos);
}

// ---- 9. reports ----

TEST_CASE("e2e: the first sync's report in every format", "[e2e]") {
  fresh(fixture_seed());
  Workdir w(sandbox());
  Command sync = w.concord({"sync", "--allow-mass-removal", "--json"});
  INFO(sync.text());
  REQUIRE(sync.code == 0);
  const std::string run = std::to_string(sync.pair_json()["run"].get<std::uint64_t>());
  REQUIRE(w.concord({"sync"}).code == 0);  // a later run: --run picks the first sync's

  for (const char* f : {"csv", "json", "md", "html"}) {
    const std::string file = std::string("report.") + f;
    Command r = w.concord({"report", "--run", run, "--format", f, "-o", file});
    INFO(r.text());
    REQUIRE(r.code == 0);
    const std::string text = read_file(w.dir() / file);
    INFO(file << ":\n" << text.substr(0, 4000));
    for (const char* who : {"barney@bedrock.org", "fred@bedrock.org"})
      CHECK(text.find(who) != std::string::npos);
    CHECK(text.find("both-changed") != std::string::npos);
    CHECK(text.find("wilma@bedrock.org") == std::string::npos);  // nothing to look at
  }
  const json j = json::parse(read_file(w.dir() / "report.json"));
  CHECK(j["summary"]["run"] == std::stoull(run));
  CHECK(has_row(j, "barney@bedrock.org", "both-changed"));
  CHECK(has_row(j, "fred@bedrock.org", "both-changed"));
  for (const json& r : j["rows"]) {
    if (r["email"] == "barney@bedrock.org") {
      CHECK(r["mailchimp_status"] == "unsubscribed");
      CHECK(r["crm_status"] == "Added");
    }
  }
  // The CSV: a header and one line per row.
  const std::string csv = read_file(w.dir() / "report.csv");
  CHECK(csv.rfind("email,class", 0) == 0);
  // The HTML page needs nothing from elsewhere.
  const std::string html = read_file(w.dir() / "report.html");
  CHECK(html.find("<html") != std::string::npos);
  for (const char* external : {"src=\"http", "href=\"http", "src='http", "href='http", "@import",
                               "url(http", "src=\"//", "href=\"//", "<link"}) {
    INFO(external);
    CHECK(html.find(external) == std::string::npos);
  }
}
