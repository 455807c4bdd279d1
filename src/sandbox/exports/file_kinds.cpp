#include "sandbox/exports/file_kinds.h"

#include <array>
#include <cctype>

#include "sandbox/exports/ascii.h"
#include "sandbox/exports/civicrm_export.h"
#include "sandbox/exports/mailchimp_export.h"

namespace concord::sandbox::exports {

namespace {

struct StatusPrefix {
  std::string_view prefix;
  std::string_view status;  // the API's
};
// Longer first: "unsubscribed_" and "nonsubscribed_" end in "subscribed_".
constexpr std::array<StatusPrefix, 4> kStatusPrefixes = {{
    {"nonsubscribed_", "transactional"},
    {"unsubscribed_", "unsubscribed"},
    {"subscribed_", "subscribed"},
    {"cleaned_", "cleaned"},
}};
constexpr std::array<std::string_view, 2> kExportWords = {"members_export",
                                                          "email_audience_export"};

// The export id after "_": 10 hex digits, then the end of the stem or a character that is not
// one (" (1)" from a second download, say).
std::string export_id_at(std::string_view rest) {
  if (rest.size() < 11 || rest[0] != '_') return "";
  for (std::size_t i = 1; i <= 10; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(rest[i]))) return "";
  }
  if (rest.size() > 11 && std::isalnum(static_cast<unsigned char>(rest[11]))) return "";
  return ascii_lower(rest.substr(1, 10));
}

bool by_name(std::string_view base_name, Recognised* out) {
  std::string name = ascii_lower(base_name);
  if (name.starts_with("sms_only_audience_export")) {
    out->reason = "not read: an SMS audience's export (the sandbox emulates email audiences)";
    return true;
  }
  for (const StatusPrefix& p : kStatusPrefixes) {
    if (!name.starts_with(p.prefix)) continue;
    std::string_view rest = std::string_view(name).substr(p.prefix.size());
    for (std::string_view word : kExportWords) {
      if (!rest.starts_with(word)) continue;
      out->kind = FileKind::kMailchimpMembers;
      out->status = std::string(p.status);
      out->export_id = export_id_at(rest.substr(word.size()));
      return true;
    }
  }
  return false;
}

bool mailchimp_header(const CsvTable& table, Recognised* out) {
  if (table.column("MEMBER_RATING") < 0 || table.column("LEID") < 0 || table.column("EUID") < 0) {
    return false;
  }
  if (table.column("UNSUB_TIME") >= 0) {
    out->status = "unsubscribed";
  } else if (table.column("CLEAN_TIME") >= 0) {
    out->status = "cleaned";
  } else if (table.column("LAST_CHANGED") >= 0) {
    out->status = "subscribed";
  } else {
    out->reason =
        "not read: a Mailchimp audience export whose status neither the file name nor a "
        "LAST_CHANGED, UNSUB_TIME or CLEAN_TIME column gives";
    return true;
  }
  out->kind = FileKind::kMailchimpMembers;
  return true;
}

}  // namespace

Recognised recognise(std::string_view base_name, const CsvTable& table) {
  Recognised r;
  if (by_name(base_name, &r)) return r;
  if (table.header.empty()) {
    r.reason = "not read: no header line";
  } else if (is_history_header(table)) {
    r.kind = FileKind::kCivicrmHistory;
  } else if (is_contact_header(table)) {
    r.kind = FileKind::kCivicrmContacts;
  } else if (!mailchimp_header(table, &r)) {
    r.reason =
        "not read: neither a Mailchimp audience export (by its name or its MEMBER_RATING, LEID "
        "and EUID columns), nor a CiviCRM contact export (Group(s), or Contact ID and Email), nor "
        "a SubscriptionHistory download (Group Membership Status, … Action Date, Group, Contact)";
  }
  return r;
}

}  // namespace concord::sandbox::exports
