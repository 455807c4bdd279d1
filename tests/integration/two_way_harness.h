// What the two-way tests (two_way_test.cpp, fields_test.cpp: one binary) share: one sandbox
// holding the fixture's lists, and the changes a person's script makes on either side.
#pragma once

#include <string>

#include "e2e_harness.h"

namespace concord::testing::two_way {

using nlohmann::json;

inline constexpr const char* kList = "b3d1c0ffee";  // the fixture's audience "Newsletter"

// One sandbox for the binary.
inline Sandbox& sandbox() {
  static Sandbox s;
  return s;
}

inline SideState now_state() {
  return SideState(sandbox().state());
}

// The sandbox back to the fixture's lists, its clock at kStartClock.
inline void reset_to_fixture() {
  json seed = fixture_seed();
  seed["clock"] = kStartClock;
  sandbox().reset(seed);
}

// The fixture's five people migrated; the clock an hour later.
inline void migrated(Workdir& w) {
  Command first = w.concord({"sync", "--allow-mass-removal"});
  INFO(first.text());
  REQUIRE(first.code == 0);
  REQUIRE(now_state().mc_status("wilma@bedrock.org") == "subscribed");
  REQUIRE(now_state().mc_status("betty@bedrock.org") == "subscribed");
  sandbox().advance_clock(3600);
}

inline void update_contact(int id, const json& values) {
  sandbox().civicrm("Contact", "update",
                    {{"where", json::array({json::array({"id", "=", id})})}, {"values", values}});
}

// A person edits a member's merge fields in Mailchimp.
inline void update_member(const std::string& email, const json& merge_fields) {
  sandbox().mailchimp_api(
      "PATCH",
      std::string("/lists/") + kList + "/members/" + subscriber_hash(normalise_email(email)),
      {{"merge_fields", merge_fields}});
}

inline json merge_fields(const std::string& email) {
  return now_state().member(email).value("merge_fields", json::object());
}

// A contact's field ("" when absent or not text).
inline std::string contact_field(int id, const std::string& field) {
  json c = now_state().contact(id);
  return c.contains(field) && c[field].is_string() ? c[field].get<std::string>() : "";
}

inline json report_row(const json& run, const std::string& email) {
  for (const json& r : run["report"]) {
    if (r["email"] == email) return r;
  }
  return json();
}

// A scheduled run, a minute after the change.
inline Command next_run(Workdir& w) {
  sandbox().advance_clock(60);
  return w.concord({"sync", "--json"});
}

}  // namespace concord::testing::two_way
