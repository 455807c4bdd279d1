// Reading CiviCRM's downloads (docs/sandbox.md "Starting from exports"):
//
// * the contact export (Search → Actions → Export contacts, "CiviCRM_Contact_Search.csv"): one
//   row per contact, columns headed by the fields' export titles ("Contact ID", "First Name",
//   "Email", "Home-Email", "Do Not Email", "No Bulk Emails (User Opt Out)", "On Hold",
//   "Group(s)", …), flags that are not set written as empty cells;
// * a SearchKit download of SubscriptionHistory ("Download Spreadsheet"): columns headed by the
//   fields' labels ("Contact", "Group", "Group Membership Action Date", "Group Membership
//   Action", "Group Membership Status"), or the names an admin gave them ("Contact ID", "Date",
//   "Method", "Status").
//
// Columns are found by their header, never by position (CiviCRM versions differ in which columns
// a "primary fields" export has). Linking the two files (which contact a history row names,
// which groups a Group(s) cell lists) is civicrm_links.h's.
//
// Thread-safety: pure functions over the caller's values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "concord/time.h"
#include "sandbox/exports/csv.h"
#include "sandbox/exports/problems.h"

namespace concord::sandbox::exports {

struct CrmEmail {
  std::string email;
  std::int64_t location_type_id = 1;  // Home
  bool is_primary = false;
  bool is_bulkmail = false;
  int on_hold = 0;  // 0 no, 1 bounce, 2 opt-out
};

struct CrmContact {
  std::string file;
  std::int64_t line = 0;
  std::int64_t id = 0;       // "Contact ID"; 0 when the file has no such column
  std::string contact_type;  // "" when the file does not say (Individual)
  // Contact fields by their APIv4 names (first_name, last_name, source, …), non-empty only.
  std::vector<std::pair<std::string, std::string>> fields;
  std::string display_name, sort_name;  // as exported, to find the contact a history row names
  std::optional<bool> do_not_email, is_opt_out, is_deceased, is_deleted;
  Micros created = kNoTime, modified = kNoTime;
  std::vector<CrmEmail> emails;  // the primary first, when there is one
  std::string groups;            // the Group(s) cell, as written
};

struct CrmHistoryRow {
  std::string file;
  std::int64_t line = 0;
  // How the row names its contact: one of these is set.
  std::int64_t contact_id = 0;
  std::string contact_email;
  std::string contact_name;
  std::string group;  // the group's title
  Micros date = kNoTime;
  std::string status;  // Added, Removed, Pending or Deleted
  std::string method;  // "" when the file has no method column
};

struct CrmExport {
  std::vector<CrmContact> contacts;
  bool has_groups_column = false;  // a contact file had Group(s)
  std::vector<std::string> contact_files;
  std::map<std::int64_t, std::size_t> contact_ids;  // Contact ID -> index in contacts
  std::vector<CrmHistoryRow> history;
  std::vector<std::string> history_files;
};

// Whether the header is a SubscriptionHistory download's: a status, a date, a group and a
// contact column, under their labels or the usual renamings.
bool is_history_header(const CsvTable& table);
// Whether the header is a contact export's: a Group(s) column, or "Contact ID" with an email
// column.
bool is_contact_header(const CsvTable& table);

// Reads a contact export's rows into `out`. A row whose Contact ID is not a positive integer,
// is read already, or whose flag, On Hold, date or Contact Type cell cannot be read is added to
// `problems` with its line. Addresses are not checked: a CRM holds invalid ones, and concord
// must see them.
void read_contact_file(const std::string& file, const CsvTable& table, CrmExport* out,
                       ExportProblems* problems);

// Reads a SubscriptionHistory download's rows into `out`. A row without a contact or group, or
// with a date or status that cannot be read, or a method longer than CiviCRM's 8 characters, is
// added to `problems` with its line.
void read_history_file(const std::string& file, const CsvTable& table, CrmExport* out,
                       ExportProblems* problems);

}  // namespace concord::sandbox::exports
