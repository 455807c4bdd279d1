// The CiviCRM emulator's writes: Contact (with chained and email_primary.* emails), Email, Group,
// GroupContact with its SubscriptionHistory rows, direct history writes, and multi-calls, driven
// through the handler. The expected answers are CiviCRM's (docs/sandbox.md).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "civicrm_site.h"

using namespace concord::testing::civicrm_site;

// ---- writes ------------------------------------------------------------------------------------

TEST_CASE("Contact: create, update, trash, restore, delete for good") {
  Site s;
  json created = s.values("Contact", "create",
                          {{"values",
                            {{"first_name", "Dino"},
                             {"last_name", "Flintstone"},
                             {"source", "mailchimp-sync"},
                             {"do_not_phone", true}}}});
  REQUIRE(created.size() == 1);
  std::int64_t id = created[0]["id"];
  CHECK(id == 113);
  CHECK(created[0]["contact_type"] == "Individual");  // the API's default
  CHECK(created[0]["display_name"] == "Dino Flintstone");
  CHECK(created[0]["source"] == "mailchimp-sync");
  CHECK_FALSE(created[0].contains("is_deleted"));  // only what was given or derived
  json got = s.values("Contact", "get", {{"where", {{"id", "=", id}}}})[0];
  CHECK(got["created_date"] == "2026-03-01 12:00:00");
  CHECK(got["do_not_phone"] == true);

  s.advance(60);
  json upd = s.values("Contact", "update",
                      {{"values", {{"last_name", "Rubble"}}}, {"where", {{"id", "=", id}}}});
  CHECK(upd == json::array({{{"id", id}, {"last_name", "Rubble"}}}));
  CHECK(s.values("Contact", "get", {{"where", {{"id", "=", id}}}})[0]["modified_date"] ==
        "2026-03-01 12:01:00");
  // An id in values is the where clause.
  s.values("Contact", "update", {{"values", {{"id", id}, {"nick_name", "Dino"}}}});
  CHECK(s.values("Contact", "get",
                 {{"select", {"nick_name"}}, {"where", {{"id", "=", id}}}})[0]["nick_name"] ==
        "Dino");
  s.error("Contact", "update",
          {{"values", {{"id", id}, {"nick_name", "x"}}}, {"where", {{"id", "=", 101}}}});
  // reload returns whole records.
  json reloaded = s.values(
      "Contact", "update",
      {{"values", {{"job_title", "Pet"}}}, {"where", {{"id", "=", id}}}, {"reload", true}});
  CHECK(reloaded[0]["first_name"] == "Dino");
  CHECK(reloaded[0]["job_title"] == "Pet");

  // delete moves to the trash; get no longer sees it unless asked.
  CHECK(s.values("Contact", "delete", {{"where", {{"id", "=", id}}}}) ==
        json::array({{{"id", id}}}));
  CHECK(s.values("Contact", "get", {{"where", {{"last_name", "=", "Rubble"}}}}).size() == 3);
  CHECK(s.values("Contact", "get", {{"where", {{"id", "=", id}}}})[0]["is_deleted"] == true);
  s.values("Contact", "update",
           {{"values", {{"is_deleted", false}}}, {"where", {{"id", "=", id}}}});
  CHECK(s.values("Contact", "get", {{"where", {{"last_name", "=", "Rubble"}}}}).size() == 4);

  // useTrash=false deletes the contact with its emails, memberships and history.
  s.values("Email", "create", {{"values", {{"contact_id", id}, {"email", "dino@bedrock.org"}}}});
  s.values("GroupContact", "create", {{"values", {{"contact_id", id}, {"group_id", 42}}}});
  s.values("Contact", "delete", {{"where", {{"id", "=", id}}}, {"useTrash", false}});
  CHECK(s.values("Contact", "get", {{"where", {{"id", "=", id}}}}).empty());
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}}).empty());
  CHECK(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", id}}}}).empty());
  CHECK(s.values("SubscriptionHistory", "get", {{"where", {{"contact_id", "=", id}}}}).empty());
  // Deleting nothing is not an error.
  CHECK(s.values("Contact", "delete", {{"where", {{"id", "=", id}}}}).empty());
}

TEST_CASE("Contact: create with a chained Email create, as concord adds a person") {
  Site s;
  json j = s.ok(
      "Contact", "create",
      {{"values",
        {{"contact_type", "Individual"}, {"first_name", "Hoppy"}, {"source", "mailchimp-sync"}}},
       {"chain",
        {{"email",
          {"Email",
           "create",
           {{"values",
             {{"contact_id", "$id"}, {"email", "hoppy@bedrock.org"}, {"is_primary", true}}}}}}}}});
  json row = j["values"][0];
  std::int64_t id = row["id"];
  REQUIRE(row["email"].is_array());
  REQUIRE(row["email"].size() == 1);
  CHECK(row["email"][0]["contact_id"] == id);
  CHECK(row["email"][0]["email"] == "hoppy@bedrock.org");
  CHECK(row["email"][0]["is_primary"] == true);
  CHECK(j["count"] == 1);
  CHECK(s.values("Email", "get",
                 {{"where", {{"email", "=", "hoppy@bedrock.org"}}}})[0]["contact_id"] == id);
  // Chains run for every row of a get, with $field of each row; an index picks one item.
  json g = s.values("Contact", "get",
                    {{"select", {"id"}},
                     {"where", {{"last_name", "=", "Rubble"}}},
                     {"chain",
                      {{"primary",
                        {"Email",
                         "get",
                         {{"select", {"email"}},
                          {"where", {{"contact_id", "=", "$id"}, {"is_primary", "=", true}}}},
                         0}}}}});
  REQUIRE(g.size() == 3);
  CHECK(g[0]["primary"]["email"] == "barney@bedrock.org");
  CHECK(g[2]["primary"]["email"] == "bamm-bamm@bedrock.org");
  // A failing chained call fails the whole call (the contact is already created).
  json e =
      s.error("Contact", "create",
              {{"values", {{"first_name", "Broken"}}},
               {"chain", {{"email", {"Email", "create", {{"values", {{"contact_id", "$id"}}}}}}}}});
  CHECK(e["error_message"] == "Mandatory values missing from Api4 Email::create: email");
}

TEST_CASE("Contact: create with email_primary.* writes the contact and its primary email") {
  Site s;
  json row = s.values("Contact", "create",
                      {{"values",
                        {{"contact_type", "Individual"},
                         {"first_name", "Wilma"},
                         {"last_name", "Slaghoople"},
                         {"source", "concord"},
                         {"email_primary.email", "wilma@slaghoople.org"}}}})[0];
  std::int64_t id = row["id"];
  CHECK(id == 113);
  CHECK(row["email_primary"] == 14);  // the new Email's id
  CHECK(row["email_primary.email"] == "wilma@slaghoople.org");
  CHECK(row["display_name"] == "Wilma Slaghoople");
  CHECK(row["source"] == "concord");
  // Read back through the implicit join and through Email.
  json got = s.values("Contact", "get",
                      {{"select",
                        {"email_primary", "email_primary.email", "email_primary.location_type_id",
                         "email_primary.is_primary"}},
                       {"where", {{"id", "=", id}}}});
  CHECK(got == json::array({{{"id", id},
                             {"email_primary", 14},
                             {"email_primary.email", "wilma@slaghoople.org"},
                             {"email_primary.location_type_id", 1},
                             {"email_primary.is_primary", true}}}));
  json emails = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  REQUIRE(emails.size() == 1);
  CHECK(emails[0]["id"] == 14);
  CHECK(emails[0]["email"] == "wilma@slaghoople.org");
  CHECK(emails[0]["is_primary"] == true);
  CHECK(emails[0]["location_type_id"] == 1);  // Email.create's default location type
  CHECK(ids(s.values("Contact", "get",
                     {{"where", {{"email_primary.email", "=", "WILMA@slaghoople.org"}}}})) ==
        Ids{id});

  // A contact without email_primary values gets no email.
  json plain = s.values("Contact", "create", {{"values", {{"first_name", "Pearl"}}}})[0];
  CHECK_FALSE(plain.contains("email_primary"));
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", plain["id"]}}}}).empty());
  CHECK(s.values("Contact", "get",
                 {{"select", {"email_primary"}},
                  {"where", {{"id", "=", plain["id"]}}}})[0]["email_primary"]
            .is_null());

  // Other Email fields, suffixes and the Email write's side effects; a nameless contact is
  // called by its primary email.
  json held = s.values("Contact", "create",
                       {{"values",
                         {{"email_primary.email", "anon@bedrock.org"},
                          {"email_primary.location_type_id:name", "Work"},
                          {"email_primary.on_hold", 1},
                          {"email_primary.foo", "ignored"}}}})[0];
  CHECK(held["display_name"] == "anon@bedrock.org");
  CHECK(held["email_primary.location_type_id"] == 2);
  CHECK(held["email_primary.on_hold"] == 1);
  CHECK_FALSE(held.contains("email_primary.foo"));  // an unknown field is ignored
  json e = s.values("Email", "get", {{"where", {{"id", "=", held["email_primary"]}}}})[0];
  CHECK(e["contact_id"] == held["id"]);
  CHECK(e["location_type_id"] == 2);
  CHECK(e["hold_date"] == "2026-03-01 12:00:00");

  // The email is written after the contact, without a transaction: when it fails, the contact
  // stays and the call fails.
  CHECK(
      s.error(
          "Contact", "create",
          {{"values",
            {{"first_name", "Longmail"},
             {"email_primary.email", std::string(250, 'x') + "@bedrock.org"}}}})["error_message"] ==
      "DB Error: unknown error");
  json longmail = s.values("Contact", "get", {{"where", {{"first_name", "=", "Longmail"}}}});
  REQUIRE(longmail.size() == 1);
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", longmail[0]["id"]}}}}).empty());
  // Unknown fields alone still save an email, which then lacks its address.
  CHECK(s.error("Contact", "create",
                {{"values",
                  {{"first_name", "Nomail"}, {"email_primary.foo", "x"}}}})["error_message"] ==
        "Mandatory values missing from Api4 Email::save: email");
  CHECK(s.values("Contact", "get", {{"where", {{"first_name", "=", "Nomail"}}}}).size() == 1);

  // Other entities do not know email_primary.*.
  json other = s.values("Email", "create",
                        {{"values",
                          {{"contact_id", 101},
                           {"email", "wilma@quarry.org"},
                           {"email_primary.email", "nope@bedrock.org"}}}})[0];
  CHECK_FALSE(other.contains("email_primary.email"));
  CHECK(s.values("Email", "get", {{"where", {{"email", "=", "nope@bedrock.org"}}}}).empty());
  json member = s.values(
      "GroupContact", "create",
      {{"values",
        {{"contact_id", id}, {"group_id", 42}, {"email_primary.email", "nope@bedrock.org"}}}})[0];
  CHECK_FALSE(member.contains("email_primary.email"));
  CHECK(s.values("Email", "get", {{"where", {{"email", "=", "nope@bedrock.org"}}}}).empty());
}

TEST_CASE("Contact: save of several records with email_primary.* in one call") {
  Site s;
  json j = s.ok("Contact", "save",
                {{"records", A({{{"contact_type", "Individual"},
                                 {"first_name", "Wilma"},
                                 {"last_name", "Slaghoople"},
                                 {"source", "concord"},
                                 {"email_primary.email", "wilma@slaghoople.org"}},
                                {{"first_name", "Pearl"},
                                 {"last_name", "Slaghoople"},
                                 {"email_primary.email", "pearl@slaghoople.org"},
                                 {"email_primary.location_type_id", 3}},
                                {{"first_name", "Tex"},
                                 {"last_name", "Slaghoople"},
                                 {"email_primary.email", "tex@slaghoople.org"}}})},
                 {"defaults", {{"source", "concord"}, {"email_primary.location_type_id", 2}}}});
  CHECK(j["count"] == 3);
  CHECK(j["countMatched"] == 0);
  json rows = j["values"];
  REQUIRE(rows.size() == 3);
  CHECK(ids(rows) == Ids{113, 114, 115});
  CHECK(ids(rows, "email_primary") == Ids{14, 15, 16});
  CHECK(rows[0]["email_primary.email"] == "wilma@slaghoople.org");
  CHECK(rows[0]["email_primary.location_type_id"] == 2);  // from defaults
  CHECK(rows[1]["email_primary.location_type_id"] == 3);  // the record wins
  CHECK(rows[2]["source"] == "concord");
  json emails = s.values("Email", "get",
                         {{"select", {"contact_id", "email", "is_primary", "location_type_id"}},
                          {"where", {{"contact_id", "IN", {113, 114, 115}}}},
                          {"orderBy", {{"id", "ASC"}}}});
  CHECK(emails == json::array({{{"id", 14},
                                {"contact_id", 113},
                                {"email", "wilma@slaghoople.org"},
                                {"is_primary", true},
                                {"location_type_id", 2}},
                               {{"id", 15},
                                {"contact_id", 114},
                                {"email", "pearl@slaghoople.org"},
                                {"is_primary", true},
                                {"location_type_id", 3}},
                               {{"id", 16},
                                {"contact_id", 115},
                                {"email", "tex@slaghoople.org"},
                                {"is_primary", true},
                                {"location_type_id", 2}}}));
  json got = s.values("Contact", "get",
                      {{"select", {"email_primary.email"}},
                       {"where", {{"last_name", "=", "Slaghoople"}}},
                       {"orderBy", {{"id", "ASC"}}}});
  CHECK(got[1]["email_primary.email"] == "pearl@slaghoople.org");

  // A save of an existing contact updates its primary email in place; so does one that finds it
  // through match.
  json upd =
      s.ok("Contact", "save",
           {{"records", A({{{"id", 101}, {"email_primary.email", "wilma@rockvegas.com"}}})}});
  CHECK(upd["countMatched"] == 1);
  CHECK(upd["values"][0]["email_primary"] == 1);
  CHECK(s.values("Email", "get", {{"where", {{"contact_id", "=", 101}}}}).size() == 1);
  CHECK(s.values("Email", "get", {{"where", {{"id", "=", 1}}}})[0]["email"] ==
        "wilma@rockvegas.com");
  s.values("Contact", "update",
           {{"values", {{"external_identifier", "pearl-1"}}}, {"where", {{"id", "=", 114}}}});
  json matched = s.ok(
      "Contact", "save",
      {{"records",
        A({{{"external_identifier", "pearl-1"}, {"email_primary.email", "pearl@rockvegas.com"}}})},
       {"match", {"external_identifier"}}});
  CHECK(matched["countMatched"] == 1);
  CHECK(matched["values"][0]["id"] == 114);
  CHECK(matched["values"][0]["email_primary"] == 15);
  CHECK(s.values("Email", "get", {{"where", {{"id", "=", 15}}}})[0]["email"] ==
        "pearl@rockvegas.com");
}

TEST_CASE("Contact: update writes the primary email through email_primary.*") {
  Site s;
  json upd = s.values("Contact", "update",
                      {{"values", {{"email_primary.email", "wilma@rockvegas.com"}}},
                       {"where", {{"id", "=", 101}}}});
  CHECK(upd ==
        json::array(
            {{{"id", 101}, {"email_primary", 1}, {"email_primary.email", "wilma@rockvegas.com"}}}));
  json emails = s.values("Email", "get", {{"where", {{"contact_id", "=", 101}}}});
  REQUIRE(emails.size() == 1);
  CHECK(emails[0]["id"] == 1);
  CHECK(emails[0]["email"] == "wilma@rockvegas.com");
  CHECK(emails[0]["is_primary"] == true);
  // The email index follows the change.
  CHECK(s.values("Email", "get", {{"where", {{"email", "=", "wilma@bedrock.org"}}}}).empty());
  CHECK(ids(s.values("Contact", "get",
                     {{"where", {{"email_primary.email", "=", "wilma@rockvegas.com"}}}})) ==
        Ids{101});

  // Only the primary email changes; bulk mail moves to it.
  s.values("Contact", "update", {{"values", {{"id", 110}, {"email_primary.is_bulkmail", true}}}});
  json tex = s.values("Email", "get",
                      {{"where", {{"contact_id", "=", 110}}}, {"orderBy", {{"id", "ASC"}}}});
  REQUIRE(tex.size() == 2);
  CHECK(tex[0]["is_bulkmail"] == true);
  CHECK(tex[1]["is_bulkmail"] == false);
  CHECK(tex[1]["is_primary"] == false);

  // A batch update writes each contact's own primary email.
  json rubbles = s.values("Contact", "update",
                          {{"values", {{"email_primary.location_type_id", 3}}},
                           {"where", {{"last_name", "=", "Rubble"}}}});
  REQUIRE(rubbles.size() == 3);
  for (const json& r : rubbles) {
    CHECK(r["email_primary.location_type_id"] == 3);
    json e = s.values("Email", "get", {{"where", {{"id", "=", r["email_primary"]}}}})[0];
    CHECK(e["contact_id"] == r["id"]);
    CHECK(e["location_type_id"] == 3);
  }

  // A contact without email gets a new primary one.
  std::int64_t id = s.values("Contact", "create", {{"values", {{"first_name", "Pearl"}}}})[0]["id"];
  json first = s.values("Contact", "update",
                        {{"values", {{"id", id}, {"email_primary.email", "pearl@bedrock.org"}}}});
  CHECK(first[0]["email_primary"] == 14);
  json e = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  REQUIRE(e.size() == 1);
  CHECK(e[0]["is_primary"] == true);
  CHECK(e[0]["location_type_id"] == 1);

  // id, is_primary and is_billing cannot be written this way: alone, they write nothing.
  json none = s.values("Contact", "update",
                       {{"values", {{"id", id}, {"email_primary.is_primary", false}}}});
  CHECK_FALSE(none[0].contains("email_primary"));
  CHECK(s.values("Email", "get", {{"where", {{"id", "=", 14}}}})[0]["is_primary"] == true);

  // A NULL email deletes the primary email; the contact's other email becomes primary.
  json del =
      s.values("Contact", "update", {{"values", {{"id", 110}, {"email_primary.email", nullptr}}}});
  CHECK(del[0]["email_primary"] == 11);
  CHECK_FALSE(del[0].contains("email_primary.email"));
  tex = s.values("Email", "get", {{"where", {{"contact_id", "=", 110}}}});
  REQUIRE(tex.size() == 1);
  CHECK(tex[0]["id"] == 11);
  CHECK(tex[0]["is_primary"] == true);
}

TEST_CASE("Contact: custom fields are written by create, update and save like any field") {
  Site s(custom_fixture());
  // create: the values come back as stored, typed.
  json row = s.values("Contact", "create",
                      {{"values",
                        {{"first_name", "Dino"},
                         {"Member_Info.Donations", "4"},
                         {"Member_Info.Dues", "3.14159"},
                         {"Member_Info.Volunteer", 1},
                         {"Member_Info.Member_Since", "2024-02-29"},
                         {"Member_Info.Last_Visit", "2026-03-01 11:45:00"},
                         {"Member_Info.Nope", "ignored"}}}})[0];
  std::int64_t id = row["id"];
  CHECK(id == 113);
  CHECK(row["Member_Info.Donations"] == 4);
  CHECK(row["Member_Info.Dues"] == 3.14);  // decimal(20,2)
  CHECK(row["Member_Info.Volunteer"] == true);
  CHECK(row["Member_Info.Member_Since"] == "2024-02-29");
  CHECK(row["Member_Info.Last_Visit"] == "2026-03-01 11:45:00");
  CHECK_FALSE(row.contains("Member_Info.Nope"));
  CHECK(s.values("Contact", "get",
                 {{"select", {"Member_Info.Donations", "Member_Info.Nickname"}},
                  {"where", {{"id", "=", id}}}}) ==
        json::parse(R"([{"id":113,"Member_Info.Donations":4,"Member_Info.Nickname":null}])"));

  // update: id and the values given; "" and null clear a value.
  CHECK(s.values("Contact", "update",
                 {{"values", {{"Member_Info.Nickname", "Dino"}, {"Member_Info.Score", 0.5}}},
                  {"where", {{"id", "=", id}}}}) ==
        json::parse(R"([{"id":113,"Member_Info.Nickname":"Dino","Member_Info.Score":0.5}])"));
  CHECK(s.values(
            "Contact", "update",
            {{"values",
              {{"id", 101}, {"Member_Info.Nickname", ""}, {"Member_Info.Donations", nullptr}}}}) ==
        json::parse(R"([{"id":101,"Member_Info.Nickname":null,"Member_Info.Donations":null}])"));
  // A batch update chosen by a custom field.
  CHECK(ids(s.values("Contact", "update",
                     {{"values", {{"Member_Info.Notes", "Regular"}}},
                      {"where", {{"Member_Info.Donations", ">=", 4}}}})) == Ids{103, 113});
  CHECK(ids(s.values("Contact", "get",
                     {{"select", {"id"}}, {"where", {{"Member_Info.Notes", "=", "regular"}}}})) ==
        Ids{103, 113});

  // save: records and defaults; match on a custom field finds the contact.
  json saved =
      s.ok("Contact", "save",
           {{"records", A({{{"id", 102}, {"Member_Info.Donations", 2}},
                           {{"first_name", "Pearl"}, {"Member_Info.Nickname", "Pearly"}}})},
            {"defaults", {{"Member_Info.Volunteer", true}}}});
  CHECK(saved["countMatched"] == 1);
  CHECK(saved["values"] == json::parse(R"([
    {"id":102,"Member_Info.Donations":2,"Member_Info.Volunteer":true},
    {"id":114,"contact_type":"Individual","sort_name":"Pearl","display_name":"Pearl",
     "first_name":"Pearl","Member_Info.Nickname":"Pearly","Member_Info.Volunteer":true}])"));
  json matched = s.ok("Contact", "save",
                      {{"records", A({{{"Member_Info.Nickname", "Pearly"},
                                       {"Member_Info.Home_Page", "https://bedrock.org/pearl"}}})},
                       {"match", {"Member_Info.Nickname"}}});
  CHECK(matched["countMatched"] == 1);
  CHECK(matched["values"][0]["id"] == 114);
  CHECK(s.values("Contact", "get",
                 {{"select", {"Member_Info.Home_Page"}},
                  {"where", {{"id", "=", 114}}}})[0]["Member_Info.Home_Page"] ==
        "https://bedrock.org/pearl");
}

TEST_CASE("Contact: a custom value of the wrong type is an error naming the field") {
  Site s(custom_fixture());
  struct Case {
    json values;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"Member_Info.Donations", "abc"}}, "Invalid value for Member_Info.Donations: \"abc\""},
      {{{"Member_Info.Donations", 1.5}}, "Invalid value for Member_Info.Donations: 1.5"},
      {{{"Member_Info.Score", "x"}}, "Invalid value for Member_Info.Score: \"x\""},
      {{{"Member_Info.Dues", json::array()}}, "Invalid value for Member_Info.Dues: []"},
      {{{"Member_Info.Volunteer", "maybe"}}, "Invalid value for Member_Info.Volunteer: \"maybe\""},
      {{{"Member_Info.Nickname", {{"a", 1}}}}, "Invalid value for Member_Info.Nickname: {\"a\":1}"},
      {{{"Member_Info.Nickname", std::string(256, 'x')}}, "DB Error: unknown error"},
      {{{"Member_Info.Donations", 3000000000}}, "DB Error: unknown error"},
      {{{"Member_Info.Donations:label", "x"}}, "No option list found for 'Member_Info.Donations'"},
  };
  for (const Case& c : cases) {
    INFO(c.values.dump());
    for (const char* action : {"update", "create", "save"}) {
      INFO(action);
      json params;
      if (std::string(action) == "update") {
        params = {{"values", c.values}, {"where", {{"id", "=", 102}}}};
      } else if (std::string(action) == "create") {
        params = {{"values", c.values}};
      } else {
        json rec = c.values;
        rec["id"] = 102;
        params = {{"records", json::array({rec})}};
      }
      json e = s.error("Contact", action, params);
      CHECK(e["error_code"] == 0);
      CHECK(e["error_message"] == c.message);
    }
  }
  // Nothing was written: no contact was created and Barney's values are as seeded.
  CHECK(s.ok("Contact", "get", {{"select", {"row_count"}}})["count"] == 11);
  CHECK(s.values("Contact", "get",
                 {{"select", {"Member_Info.Donations", "Member_Info.Nickname", "Member_Info.Dues"}},
                  {"where", {{"id", "=", 102}}}}) ==
        json::parse(R"([{"id":102,"Member_Info.Donations":1,"Member_Info.Nickname":null,
                         "Member_Info.Dues":12.5}])"));
}

TEST_CASE("Email: primary and bulk-mail rules, hold and reset dates") {
  Site s;
  // The first email of a contact becomes primary.
  json first =
      s.values("Email", "create", {{"values", {{"contact_id", 109}, {"email", "x@bedrock.org"}}}});
  CHECK(first[0]["is_primary"] == false);  // 109 already has a primary
  json c = s.values("Contact", "create", {{"values", {{"first_name", "New"}}}});
  std::int64_t id = c[0]["id"];
  json e1 =
      s.values("Email", "create", {{"values", {{"contact_id", id}, {"email", "new@bedrock.org"}}}});
  CHECK(e1[0]["is_primary"] == true);
  CHECK(e1[0]["location_type_id"] == 1);
  // A new primary takes over.
  json e2 = s.values(
      "Email", "create",
      {{"values", {{"contact_id", id}, {"email", "new2@bedrock.org"}, {"is_primary", true}}}});
  json all = s.values("Email", "get",
                      {{"where", {{"contact_id", "=", id}}}, {"orderBy", {{"id", "ASC"}}}});
  CHECK(all[0]["is_primary"] == false);
  CHECK(all[1]["is_primary"] == true);
  // One bulk-mail address per contact.
  s.values("Email", "update",
           {{"values", {{"is_bulkmail", true}}}, {"where", {{"id", "=", all[0]["id"]}}}});
  s.values("Email", "update",
           {{"values", {{"is_bulkmail", true}}}, {"where", {{"id", "=", all[1]["id"]}}}});
  all = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  CHECK(all[0]["is_bulkmail"] == false);
  CHECK(all[1]["is_bulkmail"] == true);
  // Deleting the primary makes the other one primary.
  s.values("Email", "delete", {{"where", {{"id", "=", all[1]["id"]}}}});
  all = s.values("Email", "get", {{"where", {{"contact_id", "=", id}}}});
  REQUIRE(all.size() == 1);
  CHECK(all[0]["is_primary"] == true);

  // Cleaned in Mailchimp: on hold, the reference's update.
  s.advance(3600);
  json held = s.values("Email", "update",
                       {{"values", {{"on_hold", 1}, {"hold_date", "now"}}},
                        {"where", {{"email", "=", "fred@bedrock.org"}, {"contact_id", "=", 103}}}});
  REQUIRE(held.size() == 1);
  CHECK(held[0]["on_hold"] == 1);
  CHECK(held[0]["hold_date"] == "2026-03-01 13:00:00");
  // Off hold: the reset date is set and the hold date cleared.
  s.advance(60);
  s.values("Email", "update", {{"values", {{"on_hold", 0}}}, {"where", {{"id", "=", 3}}}});
  json fred = s.values("Email", "get", {{"where", {{"id", "=", 3}}}})[0];
  CHECK(fred["on_hold"] == 0);
  CHECK(fred["hold_date"].is_null());
  CHECK(fred["reset_date"] == "2026-03-01 13:01:00");
  // A contact that does not exist is a foreign-key failure.
  CHECK(s.error("Email", "create",
                {{"values", {{"contact_id", 9999}, {"email", "a@b.org"}}}})["error_message"] ==
        "DB Error: constraint violation");
}

TEST_CASE("Group: create, update, delete with its memberships") {
  Site s;
  json g = s.values("Group", "create", {{"values", {{"title", "Quarry Workers"}}}});
  CHECK(g[0]["id"] == 44);
  CHECK(g[0]["name"] == "Quarry_Workers");
  CHECK(s.error("Group", "create", {{"values", {{"title", "Quarry Workers"}}}})["error_message"] ==
        "DB Error: already exists");
  CHECK(s.error("Group", "create", {{"values", {{"description", "x"}}}})["error_message"] ==
        "Mandatory values missing from Api4 Group::create: title");
  s.values("Group", "update",
           {{"values", {{"description", "Slate & co"}}}, {"where", {{"id", "=", 44}}}});
  CHECK(s.values("Group", "get",
                 {{"where", {{"name", "=", "Quarry_Workers"}}}})[0]["description"] == "Slate & co");
  s.values("GroupContact", "create", {{"values", {{"group_id", 44}, {"contact_id", 101}}}});
  s.values("Group", "delete", {{"where", {{"id", "=", 44}}}});
  CHECK(s.values("GroupContact", "get", {{"where", {{"group_id", "=", 44}}}}).empty());
  CHECK(s.values("SubscriptionHistory", "get", {{"where", {{"group_id", "=", 44}}}}).empty());
}

TEST_CASE("GroupContact: changes write SubscriptionHistory rows dated by the site's clock") {
  // Europe/London in summer is UTC+1: the history shows site-local times.
  Site s(fixture(), T("2026-07-01T11:30:00+00:00"));
  auto history = [&](std::int64_t contact) {
    return s.values("SubscriptionHistory", "get",
                    {{"select", {"status", "date", "method", "tracking"}},
                     {"where", {{"contact_id", "=", contact}, {"group_id", "=", 42}}},
                     {"orderBy", {{"id", "ASC"}}}});
  };
  // save with match: Pebbles is added (a new membership, method from the action's param).
  json saved = s.ok("GroupContact", "save",
                    {{"records", {{{"group_id", 42}, {"contact_id", 105}, {"status", "Added"}}}},
                     {"match", {"group_id", "contact_id"}},
                     {"method", "API"}});
  CHECK(saved["countMatched"] == 0);
  json h = history(105);
  REQUIRE(h.size() == 1);
  CHECK(h[0]["status"] == "Added");
  CHECK(h[0]["date"] == "2026-07-01 12:30:00");
  CHECK(h[0]["method"] == "API");
  CHECK(h[0]["tracking"] == "");

  // update: Barney removed, the row kept with status Removed.
  s.advance(60);
  json upd = s.values("GroupContact", "update",
                      {{"values", {{"status", "Removed"}}},
                       {"where", {{"group_id", "=", 42}, {"contact_id", "=", 102}}}});
  CHECK(upd == json::array({{{"id", 3}, {"status", "Removed"}}}));
  h = history(102);
  REQUIRE(h.size() == 2);
  CHECK(h[1]["status"] == "Removed");
  CHECK(h[1]["date"] == "2026-07-01 12:31:00");
  CHECK(h[1]["method"] == "API");
  CHECK(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", 102}}}})[0]["status"] ==
        "Removed");

  // save matching an existing membership updates it (countMatched 1), with a method and tracking.
  s.advance(60);
  json again = s.ok("GroupContact", "save",
                    {{"records", {{{"group_id", 42}, {"contact_id", 102}, {"status", "Added"}}}},
                     {"match", {"group_id", "contact_id"}},
                     {"method", "Email"},
                     {"tracking", "mailchimp webhook"}});
  CHECK(again["countMatched"] == 1);
  CHECK(again["values"][0]["id"] == 3);
  h = history(102);
  REQUIRE(h.size() == 3);
  CHECK(h[2]["status"] == "Added");
  CHECK(h[2]["method"] == "Email");
  CHECK(h[2]["tracking"] == "mailchimp webhook");

  // Every edit writes a row, even one that changes nothing.
  s.values("GroupContact", "update",
           {{"values", {{"status", "Added"}}}, {"where", {{"id", "=", 3}}}});
  CHECK(history(102).size() == 4);

  // create: Pending.
  s.values("GroupContact", "create",
           {{"values", {{"group_id", 43}, {"contact_id", 104}, {"status", "Pending"}}},
            {"method", "Web"}});
  json p = s.values("SubscriptionHistory", "get",
                    {{"where", {{"contact_id", "=", 104}, {"group_id", "=", 43}}}});
  REQUIRE(p.size() == 1);
  CHECK(p[0]["status"] == "Pending");
  CHECK(p[0]["method"] == "Web");

  // delete: the membership goes, the history says Deleted.
  s.values("GroupContact", "delete",
           {{"where", {{"group_id", "=", 43}, {"contact_id", "=", 104}}}});
  CHECK(s.values("GroupContact", "get",
                 {{"where", {{"group_id", "=", 43}, {"contact_id", "=", 104}}}})
            .empty());
  p = s.values(
      "SubscriptionHistory", "get",
      {{"where", {{"contact_id", "=", 104}, {"group_id", "=", 43}}}, {"orderBy", {{"id", "ASC"}}}});
  REQUIRE(p.size() == 2);
  CHECK(p[1]["status"] == "Deleted");

  // A method longer than the column (8) makes the history write fail; CiviCRM only logs it.
  s.values("GroupContact", "update",
           {{"values", {{"status", "Removed"}}},
            {"where", {{"id", "=", 3}}},
            {"method", "mailchimp-sync"}});
  CHECK(history(102).size() == 4);
  CHECK(s.values("GroupContact", "get", {{"where", {{"id", "=", 3}}}})[0]["status"] == "Removed");

  // In winter the site's zone is UTC.
  s.clock.fix(T("2026-01-15T11:30:00+00:00"));
  s.values("GroupContact", "update",
           {{"values", {{"status", "Added"}}}, {"where", {{"id", "=", 3}}}});
  CHECK(history(102).back()["date"] == "2026-01-15 11:30:00");
}

TEST_CASE("SubscriptionHistory: direct writes are dated now, whatever the values say") {
  Site s(fixture(), T("2026-07-01T11:30:00+00:00"));
  json c = s.values("SubscriptionHistory", "create",
                    {{"values",
                      {{"contact_id", 105},
                       {"group_id", 42},
                       {"status", "Added"},
                       {"method", "Admin"},
                       {"date", "2020-01-01 00:00:00"}}}});
  CHECK(c[0]["date"] == "2026-07-01 12:30:00");
  std::int64_t id = c[0]["id"];
  CHECK(id == 13);
  s.advance(30);
  json u = s.values("SubscriptionHistory", "update",
                    {{"values", {{"method", "Web"}}}, {"where", {{"id", "=", id}}}});
  CHECK(u[0]["date"] == "2026-07-01 12:30:30");
  // GroupContact is not touched by history writes.
  CHECK(s.values("GroupContact", "get", {{"where", {{"contact_id", "=", 105}}}}).empty());
  s.values("SubscriptionHistory", "delete", {{"where", {{"id", "=", id}}}});
  CHECK(s.values("SubscriptionHistory", "get", {{"where", {{"id", "=", id}}}}).empty());
  CHECK(
      s.error("SubscriptionHistory", "create", {{"values", {{"group_id", 42}}}})["error_message"] ==
      "Mandatory values missing from Api4 SubscriptionHistory::create: contact_id");
}

TEST_CASE("multi-call: POST /civicrm/ajax/api4 with calls, keyed answers") {
  Site s;
  json calls = {{"contacts", {"Contact", "get", {{"select", {"row_count"}}}}},
                {"groups", {"Group", "get", {{"select", {"name"}}}, "id"}},
                {"bad", {"Nope", "get", json::object()}}};
  auto r = s.raw("POST", "/civicrm/ajax/api4", "calls=" + http::url_encode(calls.dump()));
  REQUIRE(r.status == 200);  // one call succeeded
  json j = json::parse(r.body);
  CHECK(j["contacts"]["countMatched"] == 11);
  CHECK(j["groups"]["values"]["42"]["name"] == "newsletter");
  CHECK(j["bad"]["status"] == 500);
  auto bad = s.raw("POST", "/civicrm/ajax/api4",
                   "calls=" + http::url_encode(json({{"x", {"Nope", "get"}}}).dump()));
  CHECK(bad.status == 500);
  CHECK(s.raw("GET", "/civicrm/ajax/api4").status == 405);
}
