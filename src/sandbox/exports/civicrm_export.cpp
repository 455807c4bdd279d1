#include "sandbox/exports/civicrm_export.h"

#include <algorithm>
#include <array>

#include "sandbox/exports/ascii.h"
#include "sandbox/exports/export_times.h"
#include "sandbox/text.h"

namespace concord::sandbox::exports {

namespace {

// The first of `names` that is a column, or -1.
int first_column(const CsvTable& table, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    int col = table.column(n);
    if (col >= 0) return col;
  }
  return -1;
}

// ---- the contact export ---------------------------------------------------------------------

struct StringColumn {
  std::string_view header;  // the export's title
  std::string_view field;   // the APIv4 field
};
constexpr std::array<StringColumn, 11> kStringColumns = {{
    {"First Name", "first_name"},
    {"Middle Name", "middle_name"},
    {"Last Name", "last_name"},
    {"Nickname", "nick_name"},
    {"Legal Name", "legal_name"},
    {"Formal Title", "formal_title"},
    {"Job Title", "job_title"},
    {"Organization Name", "organization_name"},
    {"Household Name", "household_name"},
    {"Contact Source", "source"},
    {"External Identifier", "external_identifier"},
}};

// CiviCRM's default location types, which prefix location-specific columns ("Work-Email").
struct LocationType {
  std::string_view name;
  std::int64_t id;
};
constexpr std::array<LocationType, 5> kLocationTypes = {
    {{"Home", 1}, {"Work", 2}, {"Main", 3}, {"Other", 4}, {"Billing", 5}}};

// The unprefixed "Email" is the primary address; "<Location Type>-Email" the others.
struct EmailColumns {
  int primary = -1, on_hold = -1, bulk = -1;
  std::vector<std::pair<int, std::int64_t>> located;  // column -> location type id
};

EmailColumns email_columns(const CsvTable& table) {
  EmailColumns e;
  e.primary = table.column("Email");
  e.on_hold = table.column("On Hold");
  e.bulk = table.column("Use for Bulk Mail");
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    const std::string& h = table.header[i];
    if (h.size() <= 6 || ascii_lower(h.substr(h.size() - 6)) != "-email") continue;
    std::string prefix = h.substr(0, h.size() - 6);
    std::int64_t type = 0;
    for (const LocationType& t : kLocationTypes) {
      if (ascii_lower(prefix) == ascii_lower(t.name)) type = t.id;
    }
    // Any other prefix (a site's own location type, a relationship) is not the contact's
    // address under a known type: left out rather than guessed.
    if (type > 0) e.located.emplace_back(static_cast<int>(i), type);
  }
  return e;
}

// Flags are written as empty cells when they are not set; how a set one is written was not
// seen, so the common spellings are read.
bool read_flag(std::string_view cell, bool* out) {
  std::string v = ascii_lower(trim(cell));
  if (v.empty() || v == "0" || v == "no" || v == "false" || v == "n") {
    *out = false;
    return true;
  }
  if (v == "1" || v == "yes" || v == "true" || v == "y") {
    *out = true;
    return true;
  }
  return false;
}

// On Hold is an option field: its label ("On Hold Bounce", "On Hold Opt Out") or its value.
bool read_on_hold(std::string_view cell, int* out) {
  std::string v = ascii_lower(trim(cell));
  if (v.empty() || v == "0" || v == "no") {
    *out = 0;
  } else if (v == "1" || v == "yes" || v == "bounce" || v == "on hold bounce" || v == "on hold") {
    *out = 1;
  } else if (v == "2" || v == "opt out" || v == "on hold opt out" || v == "opt-out") {
    *out = 2;
  } else {
    return false;
  }
  return true;
}

// A flag and the headers it goes under (the export's title first, then the SearchKit label).
struct FlagColumn {
  std::array<std::string_view, 3> headers;
  std::optional<bool> CrmContact::*flag;
};

std::string contact_row(const CsvTable& table, const CsvRecord& row, const EmailColumns& ec,
                        CrmContact* c) {
  const auto& f = row.fields;
  auto cell = [&](int col) { return col < 0 ? std::string() : trim(f[col]); };
  if (int col = table.column("Contact ID"); col >= 0) {
    auto id = parse_int64(cell(col));
    if (!id || *id <= 0) return "Contact ID \"" + cell(col) + "\" is not a positive number";
    c->id = *id;
  }
  if (int col = table.column("Contact Type"); col >= 0) {
    c->contact_type = cell(col);
    if (!c->contact_type.empty() && c->contact_type != "Individual" &&
        c->contact_type != "Organization" && c->contact_type != "Household") {
      return "Contact Type \"" + c->contact_type +
             "\" is not Individual, Organization or Household";
    }
  }
  for (const StringColumn& s : kStringColumns) {
    std::string v = cell(table.column(s.header));
    if (!v.empty()) c->fields.emplace_back(std::string(s.field), std::move(v));
  }
  c->display_name = cell(table.column("Display Name"));
  c->sort_name = cell(table.column("Sort Name"));
  const FlagColumn flags[] = {
      {{"Do Not Email", "", ""}, &CrmContact::do_not_email},
      {{"No Bulk Emails (User Opt Out)", "Is Opt Out", ""}, &CrmContact::is_opt_out},
      {{"Deceased", "Is Deceased", ""}, &CrmContact::is_deceased},
      {{"Contact is in Trash", "Is in Trash", "Deleted"}, &CrmContact::is_deleted},
  };
  for (const FlagColumn& fc : flags) {
    int col = -1;
    for (std::string_view h : fc.headers) {
      if (col < 0 && !h.empty()) col = table.column(h);
    }
    if (col < 0) continue;
    bool b = false;
    if (!read_flag(f[col], &b)) {
      return table.header[col] + " \"" + cell(col) + "\" is neither set (1, Yes) nor not (empty)";
    }
    c->*fc.flag = b;
  }
  for (auto [header, out] :
       {std::pair{"Created Date", &c->created}, std::pair{"Modified Date", &c->modified}}) {
    std::string v = cell(table.column(header));
    if (v.empty()) continue;
    auto t = parse_export_time(v);
    if (!t) return std::string(header) + " \"" + v + "\" is not a time (YYYY-MM-DD HH:MM:SS)";
    *out = *t;
  }
  CrmEmail primary;
  primary.email = cell(ec.primary);
  primary.is_primary = true;
  if (ec.on_hold >= 0 && !read_on_hold(f[ec.on_hold], &primary.on_hold)) {
    return "On Hold \"" + cell(ec.on_hold) +
           "\" is not one of empty, On Hold Bounce, On Hold Opt Out";
  }
  if (ec.bulk >= 0 && !read_flag(f[ec.bulk], &primary.is_bulkmail)) {
    return "Use for Bulk Mail \"" + cell(ec.bulk) + "\" is neither set (1, Yes) nor not (empty)";
  }
  bool primary_located = false;
  if (!primary.email.empty()) c->emails.push_back(primary);
  for (const auto& [col, type] : ec.located) {
    std::string v = cell(col);
    if (v.empty()) continue;
    bool same = false;
    for (CrmEmail& e : c->emails) {
      if (ascii_lower(e.email) != ascii_lower(v)) continue;
      same = true;
      // The primary address repeated under its location: that is where it is.
      if (e.is_primary && !primary_located) {
        e.location_type_id = type;
        primary_located = true;
      }
    }
    if (same) continue;
    CrmEmail other;
    other.email = std::move(v);
    other.location_type_id = type;
    other.is_primary = c->emails.empty();
    c->emails.push_back(std::move(other));
  }
  for (const CrmEmail& e : c->emails) {
    if (e.email.size() > 254) return "the address \"" + e.email + "\" is longer than 254 bytes";
  }
  if (int col = table.column("Group(s)"); col >= 0) c->groups = f[col];
  return "";
}

// ---- the SubscriptionHistory download --------------------------------------------------------

struct HistoryColumns {
  int contact_id = -1, contact = -1, email = -1, group = -1, date = -1, status = -1, method = -1;
};

HistoryColumns history_columns(const CsvTable& table) {
  HistoryColumns h;
  h.contact_id = table.column("Contact ID");
  h.contact = table.column("Contact");
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    std::string l = ascii_lower(table.header[i]);
    if (l == "email" || l.ends_with(": email") || l == "contact email") {
      h.email = static_cast<int>(i);
      break;
    }
  }
  h.group = first_column(table, {"Group", "Group Title"});
  h.date = first_column(table, {"Group Membership Action Date", "Date"});
  h.status = first_column(table, {"Group Membership Status", "Status"});
  h.method = first_column(table, {"Group Membership Action", "Method"});
  return h;
}

std::string history_row(const CsvTable& table, const HistoryColumns& h, const CsvRecord& row,
                        CrmHistoryRow* out) {
  const auto& f = row.fields;
  auto cell = [&](int col) { return col < 0 ? std::string() : trim(f[col]); };
  if (std::string ref = cell(h.contact_id); !ref.empty()) {
    auto id = parse_int64(ref);
    if (!id || *id <= 0) return "Contact ID \"" + ref + "\" is not a positive number";
    out->contact_id = *id;
  } else if (std::string who = cell(h.contact); !who.empty()) {
    // The Contact column shows what the display selects: the id, or a name by default.
    auto id = parse_int64(who);
    if (id && *id > 0) {
      out->contact_id = *id;
    } else if (who.find('@') != std::string::npos) {
      out->contact_email = who;
    } else {
      out->contact_name = who;
    }
  } else if (std::string email = cell(h.email); !email.empty()) {
    out->contact_email = email;
  } else {
    return "no contact";
  }
  out->group = cell(h.group);
  if (out->group.empty()) return "no group";
  std::string date = cell(h.date);
  auto t = parse_export_time(date);
  if (!t) return table.header[h.date] + " \"" + date + "\" is not a time (YYYY-MM-DD HH:MM:SS)";
  out->date = *t;
  std::string status = ascii_lower(cell(h.status));
  for (std::string_view s : {"Added", "Removed", "Pending", "Deleted"}) {
    if (status == ascii_lower(s)) out->status = std::string(s);
  }
  if (out->status.empty()) {
    return "status \"" + cell(h.status) + "\" is not Added, Removed, Pending or Deleted";
  }
  out->method = cell(h.method);
  if (out->method.size() > 8) {
    return "method \"" + out->method + "\" is longer than CiviCRM's 8 characters";
  }
  return "";
}

}  // namespace

bool is_history_header(const CsvTable& table) {
  HistoryColumns h = history_columns(table);
  return h.status >= 0 && h.date >= 0 && h.group >= 0 &&
         (h.contact_id >= 0 || h.contact >= 0 || h.email >= 0);
}

bool is_contact_header(const CsvTable& table) {
  if (table.column("Group(s)") >= 0) return true;
  EmailColumns e = email_columns(table);
  return table.column("Contact ID") >= 0 && (e.primary >= 0 || !e.located.empty());
}

void read_contact_file(const std::string& file, const CsvTable& table, CrmExport* out,
                       ExportProblems* problems) {
  out->contact_files.push_back(file);
  if (table.column("Group(s)") >= 0) out->has_groups_column = true;
  EmailColumns ec = email_columns(table);
  for (const CsvRecord& row : table.rows) {
    CrmContact c;
    c.file = file;
    c.line = row.line;
    std::string why = contact_row(table, row, ec, &c);
    if (why.empty() && c.id > 0) {
      auto [at, fresh] = out->contact_ids.emplace(c.id, out->contacts.size());
      if (!fresh) {
        const CrmContact& other = out->contacts[at->second];
        why = "Contact ID " + std::to_string(c.id) + " was read already (" + other.file + ":" +
              std::to_string(other.line) + ")";
      }
    }
    if (!why.empty()) {
      problems->push_back({file, row.line, why});
      continue;
    }
    out->contacts.push_back(std::move(c));
  }
}

void read_history_file(const std::string& file, const CsvTable& table, CrmExport* out,
                       ExportProblems* problems) {
  out->history_files.push_back(file);
  HistoryColumns h = history_columns(table);
  for (const CsvRecord& row : table.rows) {
    CrmHistoryRow r;
    r.file = file;
    r.line = row.line;
    std::string why = history_row(table, h, row, &r);
    if (!why.empty()) {
      problems->push_back({file, row.line, why});
      continue;
    }
    out->history.push_back(std::move(r));
  }
}

}  // namespace concord::sandbox::exports
