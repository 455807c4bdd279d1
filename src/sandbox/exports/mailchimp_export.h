// Reading Mailchimp's audience export (the web app's "Export Audience": one CSV per status) into
// an audience's members, as docs/sandbox.md "Starting from exports" describes. The layout:
//
//   <email column>, <merge fields by display name>, <one column per interest category>,
//   [EMAIL_TYPE], MEMBER_RATING, OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP, LATITUDE,
//   LONGITUDE, GMTOFF, DSTOFF, TIMEZONE, CC, REGION, <status block>, LEID, EUID, NOTES, [TAGS]
//
// where the status block is LAST_CHANGED (subscribed), UNSUB_TIME… (unsubscribed) or
// CLEAN_TIME… (cleaned). Columns are found by their header, never by position: the email column
// has been seen third, and older exports have no TAGS. Nothing in a header tells an interest
// category from a merge field, so the categories are named by the caller (--interest-column).
//
// Thread-safety: pure functions over the caller's values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/time.h"
#include "sandbox/exports/csv.h"
#include "sandbox/exports/problems.h"

namespace concord::sandbox::exports {

// Whether `header` is one of the export's own upper-case columns (MEMBER_RATING, LEID, …),
// ASCII case ignored.
bool mailchimp_system_column(std::string_view header);
// The column of the email address: "Email Address", "Email", "E-Mail Address" or
// "Deine E-Mail Adresse" (the EMAIL merge field's label, which an audience may rename); failing
// those, the first column that is not a system column and whose header holds "mail". -1 if none.
int mailchimp_email_column(const CsvTable& table);

struct McMember {
  std::string file;
  std::int64_t line = 0;
  std::string email;                // trimmed, as written
  std::string status;               // the API's: subscribed, unsubscribed, cleaned, transactional
  std::vector<std::string> merges;  // by AudienceExport::merge_names index
  std::vector<std::vector<std::string>> interests;  // by category index: interest names
  std::vector<std::string> tags;
  std::string email_type;    // "html", "text", or "" when the file has no EMAIL_TYPE
  Micros signup = kNoTime;   // OPTIN_TIME
  Micros opt = kNoTime;      // CONFIRM_TIME
  Micros changed = kNoTime;  // the status block's time: LAST_CHANGED, UNSUB_TIME or CLEAN_TIME
  std::string ip_signup, ip_opt;
  std::string unsubscribe_reason;  // UNSUB_REASON, with UNSUB_REASON_OTHER
  std::int64_t web_id = 0;         // LEID; 0 when empty
  std::string unique_email_id;     // EUID; "" when empty
};

// The members of one export (the files sharing one export id).
struct AudienceExport {
  std::string export_id;  // the 10 hex of the file names, "" when they carry none
  std::string zip_stem;   // the archive's name without ".zip" when the files came in one
  std::vector<std::string> merge_names;  // merge field columns, in the order first seen
  std::vector<std::string> categories;   // interest category titles, in the order first seen
  std::vector<std::vector<std::string>> interest_names;  // per category, in the order first seen
  std::vector<McMember> members;
  Micros latest = kNoTime;  // the latest time in any column of any of its rows
  // Lower-cased address -> where it was read, to report an address seen twice.
  std::map<std::string, std::pair<std::string, std::int64_t>> seen;
};

struct McReadOptions {
  // Headers of the columns that are interest categories (compared without regard to case).
  std::vector<std::string> interest_columns;
};

// Reads the rows of one status file into `audience`. A row that cannot be used (no valid
// address, an address already read, a time, EMAIL_TYPE, LEID or EUID that does not parse, a
// merge value over 255 bytes, an unclosed TAGS list) is added to `problems` with its line.
void read_member_file(const std::string& file, const CsvTable& table, std::string_view status,
                      const McReadOptions& options, AudienceExport* audience,
                      ExportProblems* problems);

}  // namespace concord::sandbox::exports
