// The sandbox's CiviCRM emulator: what moves Contact.modified_date, as the reference's §9.9 says
// of a real site (MySQL's ON UPDATE CURRENT_TIMESTAMP on the contact row, the triggers on
// civicrm_email, nothing from memberships, history or tags, trash per CiviCRM version), and the
// incremental Contact.get that reads it as a watermark. docs/sandbox.md ("Writes") describes it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "civicrm_site.h"
#include "concord/time.h"

using namespace concord::testing::civicrm_site;

namespace {

// The modified_date of a contact, trashed or not.
std::string modified(Site& s, std::int64_t id) {
  json v =
      s.values("Contact", "get", {{"select", {"modified_date"}}, {"where", {{"id", "=", id}}}});
  REQUIRE(v.size() == 1);
  return v[0]["modified_date"];
}

// The site-local "now" as CiviCRM shows it (the fixture's zone is UTC in March).
std::string now_local(const Site& s) {
  return concord::format_iso8601(s.clock.now()).substr(0, 19).replace(10, 1, " ");
}

// The fixture's contacts were all last modified before the clock starts.
constexpr const char* kSeeded = "2025-06-01 09:00:00";

}  // namespace

TEST_CASE("modified_date: a contact update moves it only when a value of the row changes") {
  Site s;
  // Applied in order to contact 101 (Wilma Flintstone, no flags), a minute apart.
  struct Case {
    json values;
    bool moves;
  };
  const std::vector<Case> cases = {
      {{{"is_opt_out", true}}, true},
      {{{"is_opt_out", true}}, false},  // the same value: MySQL leaves the row as it is
      {{{"do_not_email", true}}, true},
      {{{"do_not_email", true}, {"is_opt_out", true}}, false},
      {{{"is_deceased", true}}, true},
      {{{"deceased_date", "2026-02-28"}}, true},
      {{{"deceased_date", "2026-02-28"}}, false},
      {{{"first_name", "Wilma"}, {"last_name", "Flintstone"}}, false},
      {{{"last_name", "Slaghoople"}}, true},
      {{{"last_name", "slaghoople"}}, true},  // a change of case is a change of the row
      {{{"source", "mailchimp-sync"}}, true},
      {{{"source", "mailchimp-sync"}}, false},
      {{{"source", ""}}, true},  // stored as NULL
      {{{"source", nullptr}}, false},
      {{{"display_name", "Someone Else"}}, false},  // derived: not written at all
  };
  std::string last = kSeeded;
  for (const Case& c : cases) {
    s.advance(60);
    s.values("Contact", "update", {{"values", c.values}, {"where", {{"id", "=", 101}}}});
    INFO(c.values.dump());
    if (c.moves) last = now_local(s);
    CHECK(modified(s, 101) == last);
  }
  // save with identical values does not move it either; with a change it does.
  s.advance(60);
  s.values("Contact", "save", {{"records", {{{"id", 101}, {"is_opt_out", true}}}}});
  CHECK(modified(s, 101) == last);
  s.values("Contact", "save", {{"records", {{{"id", 101}, {"is_opt_out", false}}}}});
  CHECK(modified(s, 101) == now_local(s));
  // Another contact is left alone.
  CHECK(modified(s, 102) == kSeeded);
}

TEST_CASE("modified_date: every custom value written moves it, as its table's triggers do") {
  Site s(custom_fixture());
  // Applied in order to Barney (102), a minute apart. A custom group's table has AFTER INSERT
  // and UPDATE triggers that set the contact's modified_date, and a trigger runs for every row
  // a statement writes, changed or not; the contact's own columns move it only on a change.
  struct Case {
    json values;
    int status;
    bool moves;
  };
  const std::vector<Case> cases = {
      {{{"Member_Info.Donations", 2}}, 200, true},
      {{{"Member_Info.Donations", 2}}, 200, true},  // the same value: the row is still written
      {{{"Member_Info.Nickname", nullptr}}, 200, true},
      {{{"first_name", "Barney"}}, 200, false},  // no custom value, no change
      {{{"first_name", "Barney"}, {"Member_Info.Score", 2.5}}, 200, true},
      {{{"Member_Info.Donations", "abc"}}, 500, false},  // refused: nothing is written
  };
  std::string last = kSeeded;
  for (const Case& c : cases) {
    s.advance(60);
    INFO(c.values.dump());
    auto r = s.post("Contact", "update", {{"values", c.values}, {"where", {{"id", "=", 102}}}});
    CHECK(r.status == c.status);
    if (c.moves) last = now_local(s);
    CHECK(modified(s, 102) == last);
  }
  // save moves it too; other contacts are left alone.
  s.advance(60);
  s.values("Contact", "save", {{"records", {{{"id", 103}, {"Member_Info.Donations", 10}}}}});
  CHECK(modified(s, 103) == now_local(s));
  CHECK(modified(s, 101) == kSeeded);
  // The incremental read of the reference sees exactly the contacts whose custom values were
  // written.
  CHECK(ids(s.values("Contact", "get",
                     {{"select", {"id"}},
                      {"where", {{"modified_date", ">=", "2026-03-01 12:00:00"}}},
                      {"orderBy", {{"modified_date", "ASC"}, {"id", "ASC"}}}})) == Ids{102, 103});
}

TEST_CASE("modified_date: every Email write moves its contact's, as civicrm_email's triggers do") {
  Site s;
  // A new email.
  s.advance(60);
  s.values("Email", "create", {{"values", {{"contact_id", 102}, {"email", "b2@bedrock.org"}}}});
  CHECK(modified(s, 102) == "2026-03-01 12:01:00");
  // A bounce puts Fred's email on hold; opting out through the email too.
  s.advance(60);
  s.values("Email", "update",
           {{"values", {{"on_hold", 2}}}, {"where", {{"contact_id", "=", 103}}}});
  CHECK(modified(s, 103) == "2026-03-01 12:02:00");
  // The trigger runs for every row the UPDATE statement writes, changed or not.
  s.advance(60);
  s.values("Email", "update",
           {{"values", {{"on_hold", 2}}}, {"where", {{"contact_id", "=", 103}}}});
  CHECK(modified(s, 103) == "2026-03-01 12:03:00");
  // Deleting an email.
  s.advance(60);
  s.values("Email", "delete", {{"where", {{"email", "=", "betty@bedrock.org"}}}});
  CHECK(modified(s, 104) == "2026-03-01 12:04:00");
  // An email moved to another contact: the trigger names both OLD and NEW contact_id.
  s.advance(60);
  s.values("Email", "update",
           {{"values", {{"contact_id", 108}}}, {"where", {{"email", "=", "pebbles@bedrock.org"}}}});
  CHECK(modified(s, 105) == "2026-03-01 12:05:00");
  CHECK(modified(s, 108) == "2026-03-01 12:05:00");
  // The contact's own row is unchanged by email_primary.*, but the email write moves it.
  s.advance(60);
  s.values("Contact", "update",
           {{"values", {{"email_primary.on_hold", 1}}}, {"where", {{"id", "=", 112}}}});
  CHECK(modified(s, 112) == "2026-03-01 12:06:00");
  // Emails of other contacts, and the other contacts, are untouched.
  CHECK(modified(s, 101) == kSeeded);
  CHECK(modified(s, 110) == kSeeded);
}

TEST_CASE("modified_date: the reference's incremental Contact.get returns exactly what moved") {
  Site s;
  // Summer: Europe/London is UTC+1, so 11:30 UTC is 12:30 on the site.
  s.clock.fix(T("2026-07-01T11:30:00+00:00"));
  // Neither memberships nor their history are in the trigger list (nor are tags, which the
  // sandbox does not have).
  s.values("GroupContact", "create", {{"values", {{"group_id", 43}, {"contact_id", 102}}}});
  s.values("GroupContact", "update",
           {{"values", {{"status", "Removed"}}}, {"where", {{"contact_id", "=", 101}}}});
  s.values("GroupContact", "save",
           {{"records", {{{"group_id", 42}, {"contact_id", 105}, {"status", "Added"}}}},
            {"match", {"group_id", "contact_id"}}});
  s.values("GroupContact", "delete", {{"where", {{"contact_id", "=", 104}}}});
  s.values("SubscriptionHistory", "create",
           {{"values", {{"contact_id", 110}, {"group_id", 42}, {"status", "Added"}}}});
  s.values("Group", "create", {{"values", {{"title", "Quarry workers"}}}});
  // Writes of values a contact already has.
  s.values("Contact", "update",
           {{"values", {{"do_not_email", true}}}, {"where", {{"id", "=", 107}}}});
  s.values("Contact", "update",
           {{"values", {{"is_opt_out", true}}}, {"where", {{"id", "=", 112}}}});
  // What does move it, in an order that differs from id order.
  s.values("Email", "update",
           {{"values", {{"on_hold", 1}}}, {"where", {{"email", "=", "slate@bedrock.org"}}}});
  s.advance(1);
  s.values("Contact", "update",
           {{"values", {{"is_deceased", true}}}, {"where", {{"id", "=", 103}}}});
  s.values("Contact", "delete", {{"where", {{"id", "=", 108}}}});  // to the trash
  s.values("Contact", "update",
           {{"values", {{"is_opt_out", true}}}, {"where", {{"id", "=", 101}}}});

  json got = s.values("Contact", "get",
                      {{"select",
                        {"id", "modified_date", "do_not_email", "is_opt_out", "is_deceased",
                         "is_deleted", "email_primary.email", "email_primary.on_hold"}},
                       {"where", {{"modified_date", ">=", "2026-07-01 12:29:59"}}},
                       {"orderBy", {{"modified_date", "ASC"}, {"id", "ASC"}}},
                       {"limit", 1000}});
  const json expected = json::parse(R"([
    {"id":112,"modified_date":"2026-07-01 12:30:00","do_not_email":false,"is_opt_out":true,
     "is_deceased":false,"is_deleted":false,"email_primary.email":"slate@bedrock.org",
     "email_primary.on_hold":1},
    {"id":101,"modified_date":"2026-07-01 12:30:01","do_not_email":false,"is_opt_out":true,
     "is_deceased":false,"is_deleted":false,"email_primary.email":"wilma@bedrock.org",
     "email_primary.on_hold":0},
    {"id":103,"modified_date":"2026-07-01 12:30:01","do_not_email":false,"is_opt_out":false,
     "is_deceased":true,"is_deleted":false,"email_primary.email":"fred@bedrock.org",
     "email_primary.on_hold":0}
  ])");
  CHECK(got == expected);
  // Like APIv4, Contact.get leaves out the trash unless the where names is_deleted: to see
  // trashing as a change, a client has to ask for both.
  CHECK(s.values("Contact", "get",
                 {{"select", {"id", "is_deleted"}},
                  {"where",
                   {{"modified_date", ">=", "2026-07-01 12:29:59"}, {"is_deleted", "IN", {0, 1}}}},
                  {"orderBy", {{"modified_date", "ASC"}, {"id", "ASC"}}}}) ==
        json::parse(R"([{"id":112,"is_deleted":false},{"id":101,"is_deleted":false},
                        {"id":103,"is_deleted":false},{"id":108,"is_deleted":true}])"));
  // concord reads a group's changed members through the join, where the trash is not left out.
  std::vector<std::int64_t> members, changed;
  for (const json& r : s.values("GroupContact", "get",
                                {{"select", {"contact_id"}},
                                 {"where", {{"group_id", "=", 42}}},
                                 {"orderBy", {{"contact_id", "ASC"}}}})) {
    std::int64_t id = r["contact_id"];
    if (id == 101 || id == 103 || id == 108 || id == 112) members.push_back(id);
  }
  for (const json& r : s.values(
           "GroupContact", "get",
           {{"select", {"contact_id"}},
            {"where",
             {{"group_id", "=", 42}, {"contact_id.modified_date", ">=", "2026-07-01 12:29:59"}}},
            {"orderBy", {{"contact_id", "ASC"}}}}))
    changed.push_back(r["contact_id"]);
  CHECK_FALSE(members.empty());
  CHECK(changed == members);
  // The watermark one second later leaves out the first change; the flags filter too.
  CHECK(s.values("Contact", "get",
                 {{"select", {"id"}},
                  {"where",
                   {{"modified_date", ">", "2026-07-01 12:30:00"},
                    {"is_deceased", "=", false},
                    {"is_deleted", "=", false}}}}) == json::parse(R"([{"id":101}])"));
  CHECK(s.values("Contact", "get",
                 {{"select", {"id"}},
                  {"where",
                   {{"email_primary.on_hold", "=", 1}, {"modified_date", ">=", "2026-07-01"}}}}) ==
        json::parse(R"([{"id":112}])"));
}

TEST_CASE("modified_date: trash moves it only on CiviCRM with PR #33439, per the site setting") {
  struct Case {
    const char* setting;  // civicrm.trash_bumps_modified_date in the seed; null: left out
    bool moves;
  };
  for (const Case c : {Case{nullptr, true}, Case{"true", true}, Case{"false", false}}) {
    json seed = json::parse(fixture());
    if (c.setting != nullptr) seed["civicrm"]["trash_bumps_modified_date"] = json::parse(c.setting);
    Site s(seed.dump());
    INFO("trash_bumps_modified_date: " << (c.setting ? c.setting : "(default)"));
    s.advance(60);
    s.values("Contact", "delete", {{"where", {{"id", "=", 105}}}});
    CHECK(s.values("Contact", "get",
                   {{"select", {"is_deleted"}}, {"where", {{"id", "=", 105}}}})[0]["is_deleted"] ==
          true);
    CHECK(modified(s, 105) == (c.moves ? "2026-03-01 12:01:00" : kSeeded));
    // Restoring is the same path.
    s.advance(60);
    s.values("Contact", "update",
             {{"values", {{"is_deleted", false}}}, {"where", {{"id", "=", 105}}}});
    CHECK(modified(s, 105) == (c.moves ? "2026-03-01 12:02:00" : kSeeded));
    // Trash through an update of is_deleted too.
    s.advance(60);
    s.values("Contact", "update",
             {{"values", {{"is_deleted", true}}}, {"where", {{"id", "=", 105}}}});
    CHECK(modified(s, 105) == (c.moves ? "2026-03-01 12:03:00" : kSeeded));
    // Another change in the same write still moves it.
    s.advance(60);
    s.values("Contact", "update",
             {{"values", {{"is_deleted", false}, {"do_not_email", true}}},
              {"where", {{"id", "=", 105}}}});
    CHECK(modified(s, 105) == "2026-03-01 12:04:00");
    // Trashing a contact already in the trash changes nothing.
    s.values("Contact", "update",
             {{"values", {{"is_deleted", true}}}, {"where", {{"id", "=", 106}}}});
    s.values("Contact", "delete", {{"where", {{"id", "=", 106}}}});
    CHECK(modified(s, 106) == kSeeded);
  }
}

TEST_CASE("modified_date: the setting and the moved dates survive the state file") {
  json seed = json::parse(fixture());
  seed["civicrm"]["trash_bumps_modified_date"] = false;
  Site s(seed.dump());
  s.advance(90);
  s.values("Contact", "update",
           {{"values", {{"is_opt_out", true}}}, {"where", {{"id", "=", 101}}}});
  s.values("Email", "update",
           {{"values", {{"on_hold", 1}}}, {"where", {{"email", "=", "barney@bedrock.org"}}}});

  json state = json::parse(s.raw("GET", "/_sandbox/state").body)["civicrm"];
  CHECK(state["trash_bumps_modified_date"] == false);
  Site t;
  reload_into(s, t);
  CHECK(modified(t, 101) == "2026-03-01 12:01:30");
  CHECK(modified(t, 102) == "2026-03-01 12:01:30");
  CHECK(modified(t, 103) == kSeeded);
  // The reloaded site keeps the old trash behaviour.
  t.advance(60);
  t.values("Contact", "delete", {{"where", {{"id", "=", 103}}}});
  CHECK(modified(t, 103) == kSeeded);

  // A reset through the admin route reads it too, and refuses a value that is not a boolean.
  seed["civicrm"]["trash_bumps_modified_date"] = "no";
  auto bad = s.raw("POST", "/_sandbox/reset", seed.dump());
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["detail"] ==
        "seed: civicrm.trash_bumps_modified_date: expected true or false");
  seed["civicrm"]["trash_bumps_modified_date"] = true;
  REQUIRE(s.raw("POST", "/_sandbox/reset", seed.dump()).status == 200);
  CHECK(json::parse(s.raw("GET", "/_sandbox/state").body)["civicrm"]["trash_bumps_modified_date"] ==
        true);
}
