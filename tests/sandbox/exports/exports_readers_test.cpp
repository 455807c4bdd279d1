// The readers of concord-sandbox --from-exports (src/sandbox/exports/), each alone and then
// together on fixtures/exports/: the CSV reader, the times, which file is which, Mailchimp's
// audience export (loose CSVs and the ZIP), CiviCRM's contact export and SubscriptionHistory
// download, their linking, and the seed the sandbox's own seed readers then load.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sandbox/civicrm/seed.h"
#include "sandbox/exports/civicrm_export.h"
#include "sandbox/exports/civicrm_links.h"
#include "sandbox/exports/csv.h"
#include "sandbox/exports/export_files.h"
#include "sandbox/exports/export_times.h"
#include "sandbox/exports/exports.h"
#include "sandbox/exports/file_kinds.h"
#include "sandbox/exports/mailchimp_export.h"
#include "sandbox/exports/seed_builder.h"
#include "sandbox/exports/zip_reader.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/persister.h"
#include "sandbox/times.h"

using namespace concord;
using namespace concord::sandbox::exports;
namespace fs = std::filesystem;

namespace {

constexpr const char* kId = "4c1f0e2a9b";

fs::path fixtures() {
  const char* root = std::getenv("CONCORD_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  return fs::path(root) / "fixtures" / "exports";
}

std::string slurp(const fs::path& p) {
  auto text = concord::sandbox::read_file(p.string());
  REQUIRE(text.is_ok());
  return *text;
}

Micros at(const char* civil) {
  auto t = parse_export_time(civil);
  REQUIRE(t.has_value());
  return *t;
}

const McMember* member(const AudienceExport& a, const std::string& email) {
  for (const McMember& m : a.members) {
    if (m.email == email) return &m;
  }
  return nullptr;
}

// A fresh folder under the system's temporary one, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("concord-exports-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("read_csv: RFC 4180 records, their lines, and the rows it cannot use") {
  std::string text =
      "\xEF\xBB\xBF"
      "a,\"b c\",d\r\n"
      "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
      "\r\n"
      "2,\"two\nlines\",z\r\n"
      "3,short\r\n"
      "4,\"\xff\",q\r\n"
      "5,\"a\"b,\r\n"
      "6,\"never closed,x\r\n"
      "7,8,9\r\n";
  CsvTable t = read_csv(text);
  CHECK(t.had_bom);
  CHECK(t.separator == ',');
  CHECK(t.header == std::vector<std::string>{"a", "b c", "d"});
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0].line == 2);
  CHECK(t.rows[0].fields == std::vector<std::string>{"1", "x, y", "say \"hi\""});
  CHECK(t.rows[1].line == 4);  // the blank line 3 is not a row
  CHECK(t.rows[1].fields == std::vector<std::string>{"2", "two\nlines", "z"});
  CHECK(t.rows[2].line == 8);
  CHECK(t.rows[2].fields == std::vector<std::string>{"5", "ab", ""});
  REQUIRE(t.problems.size() == 3);
  CHECK(t.problems[0].line == 6);
  CHECK(t.problems[0].reason == "has 2 fields where the header has 3");
  CHECK(t.problems[1].line == 7);
  CHECK(t.problems[1].reason == "is not UTF-8 text");
  CHECK(t.problems[2].line == 9);
  CHECK(t.problems[2].reason == "a quoted field is not closed before the end of the file");
  CHECK(t.column("B C") == 1);
  CHECK(t.column("e") == -1);
}

TEST_CASE("read_csv: the separator is the header line's, and LF or CR line ends") {
  CsvTable semi = read_csv("\"Contact ID\";\"Email\";\"Group(s)\"\n\"1\";\"a@b.org\";\"X, Y\"\n");
  CHECK_FALSE(semi.had_bom);
  CHECK(semi.separator == ';');
  REQUIRE(semi.rows.size() == 1);
  CHECK(semi.rows[0].fields[2] == "X, Y");
  CsvTable tab = read_csv("a\tb\r1\t2\r");
  CHECK(tab.separator == '\t');
  REQUIRE(tab.rows.size() == 1);
  CHECK(tab.rows[0].line == 2);
  CHECK(read_csv("").header.empty());
  std::vector<std::string> names;
  CHECK(split_csv_line("\"A\",\"B, C\",D", ',', &names));
  CHECK(names == std::vector<std::string>{"A", "B, C", "D"});
  CHECK_FALSE(split_csv_line("\"A", ',', &names));
  CHECK(valid_utf8("Zoë Łukasz"));
  CHECK_FALSE(valid_utf8("\xc0\xaf"));      // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));  // a surrogate
  CHECK_FALSE(valid_utf8("\xe2\x82"));      // cut short
}

TEST_CASE("parse_export_time: the files' layouts, and what is not a time") {
  using sandbox::civil_text;
  struct Row {
    const char* text;
    const char* civil;  // "" when it is not a time
  };
  const Row rows[] = {
      {"2026-01-02 03:04:05", "2026-01-02 03:04:05"},
      {" 2026-01-02 03:04 ", "2026-01-02 03:04:00"},
      {"2026-01-02", "2026-01-02 00:00:00"},
      {"May 1st, 2024 10:00 AM", "2024-05-01 10:00:00"},
      {"September 22nd, 2025 12:30 am", "2025-09-22 00:30:00"},
      {"Dec 3, 2025 12:05 PM", "2025-12-03 12:05:00"},
      {"February 28th, 2025", "2025-02-28 00:00:00"},
      {"2026-13-01 00:00:00", ""},
      {"2025-02-29 00:00:00", ""},
      {"February 29th, 2025", ""},
      {"May 1st, 2024 13:00 PM", ""},
      {"yesterday", ""},
      {"", ""},
  };
  for (const Row& r : rows) {
    INFO(r.text);
    auto t = parse_export_time(r.text);
    if (*r.civil == '\0') {
      CHECK_FALSE(t.has_value());
    } else {
      REQUIRE(t.has_value());
      CHECK(civil_text(*t) == r.civil);
    }
  }
}

TEST_CASE("recognise: which export a file is, by its name and its header") {
  CsvTable mc = read_csv("Email Address,MEMBER_RATING,LAST_CHANGED,LEID,EUID\n");
  CsvTable mc_unsub = read_csv("Email,MEMBER_RATING,UNSUB_TIME,LEID,EUID\n");
  CsvTable mc_clean = read_csv("Email,MEMBER_RATING,CLEAN_TIME,LEID,EUID\n");
  CsvTable mc_none = read_csv("Email,MEMBER_RATING,LEID,EUID\n");
  CsvTable contacts = read_csv("\"Contact ID\",\"Email\",\"Group(s)\"\n");
  CsvTable contacts_no_groups = read_csv("\"Contact ID\",\"Work-Email\"\n");
  CsvTable history = read_csv(
      "Contact,Group,\"Group Membership Action Date\",\"Group Membership Action\","
      "\"Group Membership Status\"\n");
  CsvTable renamed_history = read_csv("Contact ID,Group,Date,Method,Status\n");
  CsvTable other = read_csv("Name,Phone\n");
  struct Row {
    const char* name;
    const CsvTable* table;
    FileKind kind;
    const char* status;
    const char* id;
  };
  const Row rows[] = {
      {"subscribed_members_export_15d17415eb.csv", &other, FileKind::kMailchimpMembers,
       "subscribed", "15d17415eb"},
      {"unsubscribed_email_audience_export_4C1F0E2A9B.csv", &other, FileKind::kMailchimpMembers,
       "unsubscribed", "4c1f0e2a9b"},
      {"nonsubscribed_email_audience_export_4c1f0e2a9b (1).csv", &other,
       FileKind::kMailchimpMembers, "transactional", "4c1f0e2a9b"},
      {"cleaned_members_export.csv", &other, FileKind::kMailchimpMembers, "cleaned", ""},
      {"subscribed_members_export_4c1f0e2a9bcd.csv", &other, FileKind::kMailchimpMembers,
       "subscribed", ""},  // not 10 hex: no id
      {"sms_only_audience_export_4c1f0e2a9b.csv", &mc, FileKind::kNone, "", ""},
      {"my audience.csv", &mc, FileKind::kMailchimpMembers, "subscribed", ""},
      {"my audience.csv", &mc_unsub, FileKind::kMailchimpMembers, "unsubscribed", ""},
      {"my audience.csv", &mc_clean, FileKind::kMailchimpMembers, "cleaned", ""},
      {"my audience.csv", &mc_none, FileKind::kNone, "", ""},
      {"CiviCRM_Contact_Search.csv", &contacts, FileKind::kCivicrmContacts, "", ""},
      {"people.csv", &contacts_no_groups, FileKind::kCivicrmContacts, "", ""},
      {"Newsletter history.csv", &history, FileKind::kCivicrmHistory, "", ""},
      {"h.csv", &renamed_history, FileKind::kCivicrmHistory, "", ""},
      {"notes.csv", &other, FileKind::kNone, "", ""},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    Recognised got = recognise(r.name, *r.table);
    CHECK(got.kind == r.kind);
    CHECK(got.status == r.status);
    CHECK(got.export_id == r.id);
    CHECK(got.reason.empty() == (r.kind != FileKind::kNone));
  }
}

TEST_CASE("Mailchimp's audience export: the loose CSV files of fixtures/exports/audience-csv") {
  AudienceExport a;
  a.export_id = kId;
  ExportProblems problems;
  McReadOptions options{{"Topics"}};
  for (const char* status : {"subscribed", "unsubscribed", "cleaned", "nonsubscribed"}) {
    std::string name = std::string(status) + "_members_export_" + kId + ".csv";
    CsvTable t = read_csv(slurp(fixtures() / "audience-csv" / name));
    CHECK_FALSE(t.had_bom);
    Recognised r = recognise(name, t);
    REQUIRE(r.kind == FileKind::kMailchimpMembers);
    CHECK(r.export_id == kId);
    for (const CsvProblem& p : t.problems)
      problems.push_back({name, p.line, p.reason});
    read_member_file(name, t, r.status, options, &a, &problems);
  }
  CHECK(a.merge_names == std::vector<std::string>{"First Name", "Last Name", "Company"});
  CHECK(merge_tags(a.merge_names) == std::vector<std::string>{"FNAME", "LNAME", "COMPANY"});
  CHECK(a.categories == std::vector<std::string>{"Topics"});
  CHECK(a.interest_names == std::vector<std::vector<std::string>>{{"News", "Events"}});
  REQUIRE(a.members.size() == 12);

  const McMember* wilma = member(a, "wilma@quarrynews.org");
  REQUIRE(wilma != nullptr);
  CHECK(wilma->status == "subscribed");
  CHECK(wilma->line == 2);
  CHECK(wilma->merges == std::vector<std::string>{"Wilma", "Flintstone", ""});
  CHECK(wilma->interests == std::vector<std::vector<std::string>>{{"News", "Events"}});
  CHECK(wilma->tags == std::vector<std::string>{"volunteer"});
  CHECK(wilma->opt == at("2026-01-01 12:00:00"));
  CHECK(wilma->signup == kNoTime);
  CHECK(wilma->changed == at("2026-01-01 12:00:00"));
  CHECK(wilma->ip_opt == "203.0.113.5");
  CHECK(wilma->web_id == 100001);
  CHECK(wilma->unique_email_id == "a1b2c3d4e5");

  const McMember* fred = member(a, "fred@quarrynews.org");
  REQUIRE(fred != nullptr);
  CHECK(fred->tags == std::vector<std::string>{"volunteer", "donor"});
  CHECK(fred->signup == at("2025-12-30 09:00:00"));
  CHECK(fred->ip_signup == "198.51.100.7");

  // A field with a comma and doubled quotes, and a record over two lines: the next row's line.
  const McMember* bamm = member(a, "bamm-bamm@quarrynews.org");
  REQUIRE(bamm != nullptr);
  CHECK(bamm->merges[2] == "Rubble, Rubble & \"Sons\"");
  CHECK(bamm->line == 5);
  CHECK(member(a, "hoppy@quarrynews.org")->line == 10);

  const McMember* slate = member(a, "slate@quarrynews.org");
  REQUIRE(slate != nullptr);
  CHECK(slate->status == "unsubscribed");
  CHECK(slate->changed == kNoTime);
  CHECK(slate->unsubscribe_reason == "N/A (Unsubscribed by admin)");
  CHECK(member(a, "tex.hardrock@slaterock.net")->unsubscribe_reason ==
        "Other: Moved to a new quarry");
  CHECK(member(a, "arnold@quarrynews.org")->status == "cleaned");
  CHECK(member(a, "orders@slaterock.net")->status == "transactional");
  CHECK(a.latest == at("2026-02-20 18:00:00"));

  const std::string sub = std::string("subscribed_members_export_") + kId + ".csv";
  const std::string unsub = std::string("unsubscribed_members_export_") + kId + ".csv";
  std::vector<std::string> got;
  for (const ExportProblem& p : problems)
    got.push_back(p.text());
  CHECK(got == std::vector<std::string>{
                   sub + ":8: has 3 fields where the header has 22",
                   sub + ":7: \"not-an-address\" is not an address Mailchimp holds: the address "
                         "has no '@'",
                   sub + ":9: LAST_CHANGED \"2026-13-01 00:00:00\" is not a time (YYYY-MM-DD "
                         "HH:MM:SS)",
                   unsub + ":4: \"Wilma@QuarryNews.org\" was read already (" + sub + ":2)",
               });
}

TEST_CASE("Mailchimp's audience export: the ZIP holds the same files") {
  auto entries = read_zip(
      (fixtures() / "bedrock" / (std::string("audience_export_") + kId + ".zip")).string());
  REQUIRE(entries.is_ok());
  REQUIRE(entries->size() == 4);  // the folder entry is left out
  const char* statuses[] = {"subscribed", "unsubscribed", "cleaned", "nonsubscribed"};
  for (std::size_t i = 0; i < 4; ++i) {
    INFO((*entries)[i].name);
    CHECK((*entries)[i].name == std::string("audience_export_") + kId + "/" + statuses[i] +
                                    "_email_audience_export_" + kId + ".csv");
    CHECK((*entries)[i].data ==
          slurp(fixtures() / "audience-csv" /
                (std::string(statuses[i]) + "_members_export_" + kId + ".csv")));
  }
  TempDir dir;
  std::ofstream(dir.path / "broken.zip") << "PK not really";
  auto broken = read_zip((dir.path / "broken.zip").string());
  REQUIRE_FALSE(broken.is_ok());
  CHECK(broken.status().message().find("broken.zip: not a readable ZIP archive") !=
        std::string::npos);
}

TEST_CASE("CiviCRM's contact export and SubscriptionHistory download, with their BOMs") {
  CsvTable contacts = read_csv(slurp(fixtures() / "bedrock" / "CiviCRM_Contact_Search.csv"));
  CsvTable history = read_csv(slurp(fixtures() / "bedrock" / "Group Membership History.csv"));
  CHECK(contacts.had_bom);
  CHECK(history.had_bom);
  CHECK(contacts.header.front() == "Contact ID");  // not "\xEF\xBB\xBF\"Contact ID\""
  CHECK(history.header.front() == "Contact");
  REQUIRE(recognise("CiviCRM_Contact_Search.csv", contacts).kind == FileKind::kCivicrmContacts);
  REQUIRE(recognise("Group Membership History.csv", history).kind == FileKind::kCivicrmHistory);
  CrmExport crm;
  ExportProblems problems;
  read_contact_file("c.csv", contacts, &crm, &problems);
  read_history_file("h.csv", history, &crm, &problems);
  REQUIRE(crm.contacts.size() == 10);
  CHECK(crm.has_groups_column);
  const CrmContact& wilma = crm.contacts[0];
  CHECK(wilma.id == 101);
  CHECK(wilma.contact_type == "Individual");
  CHECK(wilma.display_name == "Wilma Flintstone");
  CHECK(wilma.sort_name == "Flintstone, Wilma");
  CHECK(wilma.fields == std::vector<std::pair<std::string, std::string>>{
                            {"first_name", "Wilma"}, {"last_name", "Flintstone"}});
  CHECK(wilma.do_not_email == false);
  CHECK(wilma.created == at("2025-06-01 09:00:00"));
  CHECK(wilma.groups == "Newsletter, Volunteers");
  REQUIRE(wilma.emails.size() == 1);
  CHECK(wilma.emails[0].is_primary);
  const CrmContact& tex = crm.contacts[7];
  CHECK(tex.id == 110);
  REQUIRE(tex.emails.size() == 1);  // Work-Email repeats the primary address
  CHECK(tex.emails[0].location_type_id == 2);
  CHECK(tex.emails[0].is_bulkmail);
  CHECK(crm.contacts[8].emails[0].on_hold == 1);  // "On Hold Bounce"
  CHECK(crm.contacts[9].is_opt_out == true);      // "Yes"
  CHECK(crm.contacts[5].do_not_email == true);    // "1"
  REQUIRE(crm.history.size() == 11);
  CHECK(crm.history[0].contact_name == "Fred Flintstone");
  CHECK(crm.history[0].group == "Newsletter");
  CHECK(crm.history[0].method == "Web");
  CHECK(crm.history[0].status == "Added");
  CHECK(crm.history.back().date == at("2025-09-01 10:00:00"));  // the older display format
  std::vector<std::string> got;
  for (const ExportProblem& p : problems)
    got.push_back(p.text());
  CHECK(got == std::vector<std::string>{
                   "c.csv:7: Contact ID \"x12\" is not a positive number",
                   "c.csv:13: Do Not Email \"maybe\" is neither set (1, Yes) nor not (empty)",
                   "h.csv:12: Group Membership Action Date \"not a date\" is not a time "
                   "(YYYY-MM-DD HH:MM:SS)",
               });

  SECTION("linked: groups, history in the order it happened, memberships") {
    ExportProblems link_problems;
    LinkedSite site = link_civicrm(crm, &link_problems);
    REQUIRE(site.groups.size() == 3);
    CHECK(site.groups[0].title == "Newsletter");
    CHECK(site.groups[1].title == "Volunteers");
    CHECK(site.groups[2].title == "Rock, Paper, Scissors Club");  // a title with ", "
    CHECK(site.main_group == 1);
    REQUIRE(site.history.size() == 10);
    CHECK(site.history[0].date == at("2025-09-01 10:00:00"));
    CHECK(site.history[0].contact_id == 101);
    CHECK(site.history[0].group_id == 2);
    for (std::size_t i = 1; i < site.history.size(); ++i)
      CHECK(site.history[i - 1].date <= site.history[i].date);
    std::vector<std::string> members;
    for (const LinkedMembership& m : site.members) {
      members.push_back(std::to_string(m.contact_id) + "/" + std::to_string(m.group_id) + " " +
                        m.status);
    }
    CHECK(members == std::vector<std::string>{"101/1 Added", "101/2 Added", "102/1 Added",
                                              "103/1 Removed", "104/1 Added", "107/1 Added",
                                              "110/1 Added", "111/1 Added", "112/1 Added",
                                              "112/3 Added"});
    std::vector<std::string> got_links;
    for (const ExportProblem& p : link_problems)
      got_links.push_back(p.text());
    CHECK(got_links ==
          std::vector<std::string>{
              "h.csv:10: no contact \"Nobody Known\" in the contact export",
              "c.csv:4: Group(s) lists \"Newsletter\" but the latest history row for it "
              "(h.csv:8) is Removed: the membership follows the history",
          });
  }

  SECTION("without the history: memberships from Group(s), no history rows, no dates") {
    CrmExport no_history = crm;
    no_history.history.clear();
    no_history.history_files.clear();
    ExportProblems link_problems;
    LinkedSite site = link_civicrm(no_history, &link_problems);
    CHECK(link_problems.empty());
    CHECK(site.history.empty());
    CHECK(site.main_group == 1);  // the most members
    // Fred too, as Group(s) lists him; and with no history to name "Rock, Paper, Scissors
    // Club", George's cell splits at every ", " (the ambiguity docs/sandbox.md describes).
    std::vector<std::string> titles;
    for (const LinkedGroup& g : site.groups)
      titles.push_back(g.title);
    CHECK(titles ==
          std::vector<std::string>{"Newsletter", "Volunteers", "Rock", "Paper", "Scissors Club"});
    CHECK(site.members.size() == 12);
    for (const LinkedMembership& m : site.members)
      CHECK(m.status == "Added");
  }

  SECTION("a history row naming a contact by an address several contacts share") {
    CrmExport twice = crm;
    twice.contacts[1].emails[0].email = "Wilma@QuarryNews.org";
    CrmHistoryRow row;
    row.file = "h.csv";
    row.line = 99;
    row.contact_email = "wilma@quarrynews.org";
    row.group = "Newsletter";
    row.date = at("2026-01-09 00:00:00");
    row.status = "Added";
    twice.history.push_back(row);
    ExportProblems link_problems;
    link_civicrm(twice, &link_problems);
    bool found = false;
    for (const ExportProblem& p : link_problems) {
      found = found || p.text() ==
                           "h.csv:99: 2 contacts in the contact export are "
                           "\"wilma@quarrynews.org\": the row cannot say which";
    }
    CHECK(found);
  }
}

TEST_CASE("load_exports: fixtures/exports/bedrock as one seed both parts load") {
  ExportsOptions options;
  options.interest_columns = {"topics"};  // compared without regard to case
  auto loaded = load_exports((fixtures() / "bedrock").string(), options);
  REQUIRE(loaded.is_ok());
  const std::string zip =
      std::string("audience_export_") + kId + ".zip/audience_export_" + kId + "/";
  std::vector<std::string> got;
  for (const ExportProblem& p : loaded->problems)
    got.push_back(p.text());
  CHECK(got ==
        std::vector<std::string>{
            "CiviCRM_Contact_Search.csv:4: Group(s) lists \"Newsletter\" but the latest history "
            "row for it (Group Membership History.csv:8) is Removed: the membership follows the "
            "history",
            "CiviCRM_Contact_Search.csv:7: Contact ID \"x12\" is not a positive number",
            "CiviCRM_Contact_Search.csv:13: Do Not Email \"maybe\" is neither set (1, Yes) nor "
            "not (empty)",
            "Group Membership History.csv:10: no contact \"Nobody Known\" in the contact export",
            "Group Membership History.csv:12: Group Membership Action Date \"not a date\" is not "
            "a time (YYYY-MM-DD HH:MM:SS)",
            zip + "subscribed_email_audience_export_" + kId +
                ".csv:7: \"not-an-address\" is not an address Mailchimp holds: the address has "
                "no '@'",
            zip + "subscribed_email_audience_export_" + kId +
                ".csv:8: has 3 fields where the header has 22",
            zip + "subscribed_email_audience_export_" + kId +
                ".csv:9: LAST_CHANGED \"2026-13-01 00:00:00\" is not a time (YYYY-MM-DD "
                "HH:MM:SS)",
            zip + "unsubscribed_email_audience_export_" + kId +
                ".csv:4: \"Wilma@QuarryNews.org\" was read already (" + zip +
                "subscribed_email_audience_export_" + kId + ".csv:2)",
        });
  const ExportSummary& s = loaded->summary;
  REQUIRE(s.audiences.size() == 1);
  CHECK(s.audiences[0].id == kId);
  CHECK(s.audiences[0].name == std::string("audience_export_") + kId);
  CHECK(s.audiences[0].members == 12);
  CHECK(s.main_group == "Newsletter");
  CHECK(s.contacts == 10);
  CHECK(s.history_rows == 10);
  CHECK(s.files.size() == 6);

  // The seed's Mailchimp side: what the export lacks, filled in as docs/sandbox.md says.
  auto doc = nlohmann::json::parse(loaded->seed);
  const auto& list = doc["mailchimp"]["lists"][0];
  CHECK(list["id"] == kId);
  std::map<std::string, nlohmann::json> by_email;
  for (const auto& m : list["members"])
    by_email[m["email_address"]] = m;
  CHECK(by_email.at("slate@quarrynews.org")["unsubscribe_origin"] == "admin");
  CHECK(by_email.at("slate@quarrynews.org")["last_changed"] == "2026-02-20T18:00:00+00:00");
  CHECK(by_email.at("barney@quarrynews.org")["unsubscribe_origin"] == "user");
  CHECK(by_email.at("barney@quarrynews.org")["last_changed"] == "2026-01-02T12:00:00+00:00");
  CHECK(by_email.at("arnold@quarrynews.org")["last_changed"] == "2026-02-20T18:00:00+00:00");
  CHECK(by_email.at("joe@quarrynews.org")["last_changed"] == "2026-01-10T12:00:00+00:00");
  CHECK(list["interest_categories"][0]["title"] == "Topics");

  // Both parts' own seed readers accept it, as the binary's start does.
  auto mc = sandbox::parse_seed(loaded->seed, at("2026-03-01 00:00:00"));
  REQUIRE(mc.is_ok());
  auto civi = sandbox::parse_civicrm_seed(loaded->seed, at("2026-03-01 00:00:00"));
  REQUIRE(civi.is_ok());
  // The same files give the same seed.
  auto again = load_exports((fixtures() / "bedrock").string(), options);
  REQUIRE(again.is_ok());
  CHECK(again->seed == loaded->seed);

  auto ready = nlohmann::json::parse(ready_object(*loaded, 2));
  CHECK(ready["audience_id"] == kId);
  CHECK(ready["group_title"] == "Newsletter");
  CHECK(ready["unreadable_count"] == 9);
  CHECK(ready["unreadable"].size() == 2);
  CHECK(ready["unreadable"][1] ==
        nlohmann::json{{"file", "CiviCRM_Contact_Search.csv"},
                       {"line", 7},
                       {"reason", "Contact ID \"x12\" is not a positive number"}});
}

TEST_CASE("load_exports: the loose CSVs alone, without any CiviCRM file") {
  auto loaded = load_exports((fixtures() / "audience-csv").string(), {});
  REQUIRE(loaded.is_ok());
  CHECK(loaded->summary.audiences.size() == 1);
  CHECK(loaded->summary.audiences[0].name == std::string("audience_export_") + kId);
  CHECK(loaded->summary.audiences[0].members == 12);
  CHECK(loaded->summary.contacts == 0);
  CHECK(loaded->summary.main_group.empty());
  auto doc = nlohmann::json::parse(loaded->seed);
  CHECK_FALSE(doc.contains("civicrm"));
  // Without --interest-column, Topics is a merge field like the others.
  std::vector<std::string> tags;
  for (const auto& f : doc["mailchimp"]["lists"][0]["merge_fields"])
    tags.push_back(f["tag"]);
  CHECK(tags == std::vector<std::string>{"FNAME", "LNAME", "COMPANY", "TOPICS"});
}

TEST_CASE("load_exports: an archive unpacked beside itself is read once") {
  TempDir dir;
  fs::copy(fixtures() / "bedrock", dir.path);
  fs::path unpacked = dir.path / (std::string("audience_export_") + kId);
  fs::create_directories(unpacked);
  for (const char* status : {"subscribed", "unsubscribed", "cleaned", "nonsubscribed"}) {
    fs::copy_file(
        fixtures() / "audience-csv" / (std::string(status) + "_members_export_" + kId + ".csv"),
        unpacked / (std::string(status) + "_email_audience_export_" + kId + ".csv"));
  }
  std::ofstream(dir.path / "README.txt") << "notes\n";
  fs::create_directories(dir.path / "__MACOSX");
  std::ofstream(dir.path / "__MACOSX" / "._x.csv") << "\x00\x05";
  auto loaded = load_exports(dir.path.string(), {});
  REQUIRE(loaded.is_ok());
  CHECK(loaded->summary.audiences.at(0).members == 12);
  std::vector<std::string> notes;
  for (const ExportProblem& p : loaded->problems) {
    if (p.line == 0) notes.push_back(p.file + ": " + p.reason.substr(0, 40));
  }
  const std::string folder = std::string("audience_export_") + kId + "/";
  CHECK(notes == std::vector<std::string>{
                     "README.txt: not read: neither a .csv nor a .zip file",
                     folder + "cleaned_email_audience_export_" + kId +
                         ".csv: not read: a file of the same name was re",
                     folder + "nonsubscribed_email_audience_export_" + kId +
                         ".csv: not read: a file of the same name was re",
                     folder + "subscribed_email_audience_export_" + kId +
                         ".csv: not read: a file of the same name was re",
                     folder + "unsubscribed_email_audience_export_" + kId +
                         ".csv: not read: a file of the same name was re",
                 });
}

TEST_CASE("load_exports: a folder without any export fails, naming it") {
  TempDir dir;
  auto empty = load_exports(dir.path.string(), {});
  REQUIRE_FALSE(empty.is_ok());
  CHECK(empty.status().message() ==
        dir.path.string() +
            ": no Mailchimp audience export, CiviCRM contact export or SubscriptionHistory "
            "download found (the folder has no file)");
  std::ofstream(dir.path / "people.csv") << "Name,Phone\nFred,555\n";
  auto other = load_exports(dir.path.string(), {});
  REQUIRE_FALSE(other.is_ok());
  CHECK(other.status().message().find("found:\n  people.csv: not read: neither a Mailchimp") !=
        std::string::npos);
  auto missing = load_exports((dir.path / "nope").string(), {});
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().message() == (dir.path / "nope").string() + ": not a folder");
}

TEST_CASE("load_exports: interest columns that cannot be interests are refused") {
  TempDir dir;
  std::ofstream f(dir.path / "subscribed_members_export_0123456789.csv");
  f << "Email Address,City,MEMBER_RATING,LAST_CHANGED,LEID,EUID\n";
  for (int i = 0; i < 61; ++i)
    f << "p" << i << "@quarrynews.org,Town " << i << ",1,,,\n";
  f.close();
  ExportsOptions options;
  options.interest_columns = {"City"};
  auto loaded = load_exports(dir.path.string(), options);
  REQUIRE_FALSE(loaded.is_ok());
  CHECK(loaded.status().message().find("the interest columns \"City\" hold 61 different names") !=
        std::string::npos);
  CHECK(load_exports(dir.path.string(), {}).is_ok());
}

TEST_CASE("merge_tags: a new audience's tags, the name's letters, else MMERGE<n>") {
  CHECK(merge_tags({"First Name", "Last Name", "Address", "Phone Number", "Birthday"}) ==
        std::vector<std::string>{"FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY"});
  CHECK(merge_tags({"Membership number", "Membership type", "Ünï", "Email", "fname"}) ==
        std::vector<std::string>{"MEMBERSHIP", "MMERGE2", "N", "MMERGE4", "FNAME"});
  CHECK(merge_tags({"First Name", "FNAME", "—"}) ==
        std::vector<std::string>{"FNAME", "MMERGE2", "MMERGE3"});
}
