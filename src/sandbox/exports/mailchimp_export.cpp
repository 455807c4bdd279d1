#include "sandbox/exports/mailchimp_export.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "concord/email.h"
#include "sandbox/exports/ascii.h"
#include "sandbox/exports/export_times.h"
#include "sandbox/text.h"

namespace concord::sandbox::exports {

namespace {

constexpr std::array<std::string_view, 26> kSystemColumns = {"EMAIL_TYPE",
                                                             "MEMBER_RATING",
                                                             "OPTIN_TIME",
                                                             "OPTIN_IP",
                                                             "CONFIRM_TIME",
                                                             "CONFIRM_IP",
                                                             "LATITUDE",
                                                             "LONGITUDE",
                                                             "GMTOFF",
                                                             "DSTOFF",
                                                             "TIMEZONE",
                                                             "CC",
                                                             "REGION",
                                                             "LAST_CHANGED",
                                                             "UNSUB_TIME",
                                                             "UNSUB_CAMPAIGN_TITLE",
                                                             "UNSUB_CAMPAIGN_ID",
                                                             "UNSUB_REASON",
                                                             "UNSUB_REASON_OTHER",
                                                             "CLEAN_TIME",
                                                             "CLEAN_CAMPAIGN_TITLE",
                                                             "CLEAN_CAMPAIGN_ID",
                                                             "LEID",
                                                             "EUID",
                                                             "NOTES",
                                                             "TAGS"};

constexpr std::array<std::string_view, 4> kEmailHeaders = {
    "Email Address", "Email", "E-Mail Address", "Deine E-Mail Adresse"};

// A merge field of the text type holds at most this many bytes (the API's own check).
constexpr std::size_t kMaxMergeBytes = 255;

// What each column of one file is.
struct Columns {
  int email = -1;
  int email_type = -1, optin_time = -1, optin_ip = -1, confirm_time = -1, confirm_ip = -1;
  int changed = -1;  // LAST_CHANGED, UNSUB_TIME or CLEAN_TIME
  int unsub_reason = -1, unsub_reason_other = -1, leid = -1, euid = -1, tags = -1;
  std::vector<std::pair<int, std::size_t>> merges;     // column -> merge index
  std::vector<std::pair<int, std::size_t>> interests;  // column -> category index
};

std::size_t index_of(std::vector<std::string>* names, const std::string& name) {
  auto it = std::find(names->begin(), names->end(), name);
  if (it != names->end()) return static_cast<std::size_t>(it - names->begin());
  names->push_back(name);
  return names->size() - 1;
}

Columns map_columns(const CsvTable& table, const McReadOptions& options, AudienceExport* a) {
  Columns c;
  c.email = mailchimp_email_column(table);
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    const std::string& h = table.header[i];
    int col = static_cast<int>(i);
    if (col == c.email) continue;
    if (mailchimp_system_column(h)) {
      std::string u = ascii_lower(h);
      if (u == "email_type") c.email_type = col;
      if (u == "optin_time") c.optin_time = col;
      if (u == "optin_ip") c.optin_ip = col;
      if (u == "confirm_time") c.confirm_time = col;
      if (u == "confirm_ip") c.confirm_ip = col;
      if (u == "last_changed" || u == "unsub_time" || u == "clean_time") c.changed = col;
      if (u == "unsub_reason") c.unsub_reason = col;
      if (u == "unsub_reason_other") c.unsub_reason_other = col;
      if (u == "leid") c.leid = col;
      if (u == "euid") c.euid = col;
      if (u == "tags") c.tags = col;
      continue;
    }
    if (h.empty()) continue;  // no name to give a merge field
    bool interest = false;
    for (const std::string& title : options.interest_columns)
      interest = interest || equal_ascii_ci(title, h);
    if (interest) {
      std::size_t k = index_of(&a->categories, h);
      if (a->interest_names.size() < a->categories.size()) a->interest_names.emplace_back();
      c.interests.emplace_back(col, k);
    } else {
      c.merges.emplace_back(col, index_of(&a->merge_names, h));
    }
  }
  return c;
}

// Splits an interest cell: the app joins the chosen interests' names with ", ".
std::vector<std::string> interest_list(std::string_view cell) {
  std::vector<std::string> out;
  while (!cell.empty()) {
    std::size_t at = cell.find(", ");
    std::string name = trim(cell.substr(0, at));
    if (!name.empty()) out.push_back(std::move(name));
    if (at == std::string_view::npos) break;
    cell.remove_prefix(at + 2);
  }
  return out;
}

bool hex10(std::string* s) {
  if (s->size() != 10) return false;
  for (char& ch : *s) {
    ch = ascii_lower(ch);
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
  }
  return true;
}

// Reads one row into *m; returns "" or the reason the row cannot be used.
std::string read_row(const CsvTable& table, const Columns& c, const CsvRecord& row, McMember* m) {
  const auto& f = row.fields;
  auto cell = [&](int col) { return col < 0 ? std::string() : trim(f[col]); };
  m->email = cell(c.email);
  if (m->email.empty()) return "no email address";
  if (EmailProblem p = check_email(normalise_email(m->email)); p != EmailProblem::kOk) {
    return "\"" + m->email + "\" is not an address Mailchimp holds: " + std::string(describe(p));
  }
  struct TimeColumn {
    int col;
    Micros* out;
  };
  for (const TimeColumn& t :
       {TimeColumn{c.optin_time, &m->signup}, TimeColumn{c.confirm_time, &m->opt},
        TimeColumn{c.changed, &m->changed}}) {
    std::string v = cell(t.col);
    if (v.empty()) continue;
    auto parsed = parse_export_time(v);
    if (!parsed) {
      return table.header[t.col] + " \"" + v + "\" is not a time (YYYY-MM-DD HH:MM:SS)";
    }
    *t.out = *parsed;
  }
  m->email_type = ascii_lower(cell(c.email_type));
  if (!m->email_type.empty() && m->email_type != "html" && m->email_type != "text") {
    return "EMAIL_TYPE \"" + cell(c.email_type) + "\" is neither html nor text";
  }
  if (std::string v = cell(c.leid); !v.empty()) {
    auto n = parse_int64(v);
    if (!n || *n <= 0 || *n > std::numeric_limits<std::uint32_t>::max()) {
      return "LEID \"" + v + "\" is not a positive number";
    }
    m->web_id = *n;
  }
  if (std::string v = cell(c.euid); !v.empty()) {
    if (!hex10(&v)) return "EUID \"" + cell(c.euid) + "\" is not 10 hex digits";
    m->unique_email_id = v;
  }
  for (const auto& [col, k] : c.merges) {
    std::string v = cell(col);
    if (v.size() > kMaxMergeBytes) {
      return table.header[col] + ": longer than the 255 bytes a text merge field holds";
    }
    if (m->merges.size() <= k) m->merges.resize(k + 1);
    m->merges[k] = std::move(v);
  }
  for (const auto& [col, k] : c.interests) {
    if (m->interests.size() <= k) m->interests.resize(k + 1);
    m->interests[k] = interest_list(f[col]);
  }
  if (c.tags >= 0) {
    // Each tag is quoted inside the cell ("A","B"): the cell is itself a CSV line.
    std::vector<std::string> names;
    if (!split_csv_line(f[c.tags], ',', &names)) return "TAGS: a quoted tag name is not closed";
    for (std::string& n : names) {
      std::string t = trim(n);
      if (!t.empty() && std::find(m->tags.begin(), m->tags.end(), t) == m->tags.end()) {
        m->tags.push_back(std::move(t));
      }
    }
  }
  m->ip_signup = cell(c.optin_ip);
  m->ip_opt = cell(c.confirm_ip);
  std::string reason = cell(c.unsub_reason), other = cell(c.unsub_reason_other);
  m->unsubscribe_reason = reason.empty() ? other : other.empty() ? reason : reason + ": " + other;
  return "";
}

}  // namespace

bool mailchimp_system_column(std::string_view header) {
  for (std::string_view s : kSystemColumns) {
    if (equal_ascii_ci(header, s)) return true;
  }
  return false;
}

int mailchimp_email_column(const CsvTable& table) {
  for (std::string_view name : kEmailHeaders) {
    int col = table.column(name);
    if (col >= 0) return col;
  }
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    const std::string& h = table.header[i];
    if (!mailchimp_system_column(h) && ascii_lower(h).find("mail") != std::string::npos) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void read_member_file(const std::string& file, const CsvTable& table, std::string_view status,
                      const McReadOptions& options, AudienceExport* audience,
                      ExportProblems* problems) {
  Columns c = map_columns(table, options, audience);
  if (c.email < 0) {
    problems->push_back({file, 1, "no email address column (\"Email Address\")"});
    return;
  }
  for (const CsvRecord& row : table.rows) {
    McMember m;
    m.file = file;
    m.line = row.line;
    m.status = std::string(status);
    std::string why = read_row(table, c, row, &m);
    if (why.empty()) {
      auto [at, fresh] =
          audience->seen.emplace(normalise_email(m.email), std::make_pair(file, row.line));
      if (!fresh) {
        why = "\"" + m.email + "\" was read already (" + at->second.first + ":" +
              std::to_string(at->second.second) + ")";
      }
    }
    if (!why.empty()) {
      problems->push_back({file, row.line, why});
      continue;
    }
    m.merges.resize(audience->merge_names.size());
    m.interests.resize(audience->categories.size());
    for (std::size_t k = 0; k < m.interests.size(); ++k) {
      for (const std::string& name : m.interests[k]) {
        auto& known = audience->interest_names[k];
        if (std::find(known.begin(), known.end(), name) == known.end()) known.push_back(name);
      }
    }
    for (Micros t : {m.signup, m.opt, m.changed})
      audience->latest = std::max(audience->latest, t);
    audience->members.push_back(std::move(m));
  }
}

}  // namespace concord::sandbox::exports
