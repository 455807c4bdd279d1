// The text formats of a report: CSV, JSON and Markdown.
#include <nlohmann/json.hpp>

#include <ostream>

#include "report/render.h"

namespace concord::report_internal {
namespace {

// ---- CSV (RFC 4180)

// A spreadsheet runs a cell starting with one of these as a formula; emails come from outside.
bool starts_like_formula(std::string_view field) {
  return !field.empty() &&
         std::string_view("=+-@\t\r").find(field.front()) != std::string_view::npos;
}

void append_csv_field(std::string_view field, std::string& out) {
  std::string value = starts_like_formula(field) ? "'" : "";
  value += field;
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

template <typename CellOf>
void append_csv_line(CellOf cell_of, std::string& out) {
  bool first = true;
  for (const Column& c : report_columns()) {
    if (!c.in_csv) continue;
    if (!first) out += ',';
    first = false;
    append_csv_field(cell_of(c), out);
  }
  out += "\r\n";
}

// ---- JSON

using ojson = nlohmann::ordered_json;

ojson time_json(Micros t) {
  return t == kNoTime ? ojson(nullptr) : ojson(format_iso8601(t));
}

ojson summary_json(const ReportSummary& s) {
  ojson counts = ojson::object();
  for (const auto& [name, n] : s.counts)
    counts[name] = n;
  return {{"sync", s.sync},
          {"run", s.run_id},
          {"started_at", time_json(s.started_at)},
          {"ended_at", time_json(s.ended_at)},
          {"result", s.result},
          {"first_run", s.first_run},
          {"trust", s.trust},
          {"counts", counts},
          {"notes", s.notes}};
}

ojson row_json(const ReportEntry& e) {
  ojson row = ojson::object();
  for (const Column& c : report_columns()) {
    row[std::string(c.name)] = c.text != nullptr ? ojson(e.*c.text) : time_json(e.*c.time);
  }
  return row;
}

// ---- Markdown

// Backslash-escapes what Markdown would read as markup (pipes end a table cell; < starts HTML);
// a line break inside a cell becomes <br>.
std::string md(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "<br>";
      continue;
    }
    if (std::string_view("\\`*_[]<>|~&#!").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

void append_md_summary(const ReportSummary& s, std::string& out) {
  for (const auto& [label, value] : summary_facts(s)) {
    out += "- **" + label + ":** " + md(value) + "\n";
  }
  std::string counts;
  for (const auto& [name, n] : s.counts) {
    counts += (counts.empty() ? "" : ", ") + md(name) + " " + std::to_string(n);
  }
  if (!counts.empty()) out += "- **Counts:** " + counts + "\n";
  for (const std::string& note : s.notes)
    out += "\n> **Note:** " + md(note) + "\n";
}

std::string md_table_header() {
  std::string header = "|";
  std::string rule = "|";
  for (const Column& c : report_columns()) {
    // (Appended piece by piece: GCC 12 at -O3 warns falsely on `" " + string&&`.)
    header += ' ';
    header += md(c.title);
    header += " |";
    rule += "---|";
  }
  return header + "\n" + rule + "\n";
}

std::string md_table_row(const ReportEntry& e) {
  std::string out = "|";
  for (const Column& c : report_columns()) {
    out += ' ';
    out += md(cell_text(c, e));
    out += " |";
  }
  out += "\n";
  return out;
}

}  // namespace

Status write_csv(const ReportRows& rows, std::ostream& out) {
  std::string line;
  append_csv_line([](const Column& c) { return std::string(c.name); }, line);
  out << line;
  return rows.for_each([&](const ReportEntry& e) {
    line.clear();
    append_csv_line([&](const Column& c) { return cell_text(c, e); }, line);
    out << line;
    return Status::ok();
  });
}

Status write_json(const ReportSummary& summary, const ReportRows& rows, std::ostream& out) {
  // The document is {"summary": …, "rows": [ … ]}, written a row at a time. Text from the sides
  // may not be UTF-8: replace what is not, rather than throw.
  const std::string head =
      ojson(summary_json(summary)).dump(2, ' ', false, ojson::error_handler_t::replace);
  std::string indented;
  for (char c : head) {
    indented += c;
    if (c == '\n') indented += "  ";
  }
  out << "{\n  \"summary\": " << indented << ",\n  \"rows\": [";
  bool first = true;
  Status s = rows.for_each([&](const ReportEntry& e) {
    std::string row = row_json(e).dump(2, ' ', false, ojson::error_handler_t::replace);
    std::string shifted;
    for (char c : row) {
      shifted += c;
      if (c == '\n') shifted += "    ";
    }
    out << (first ? "\n    " : ",\n    ") << shifted;
    first = false;
    return Status::ok();
  });
  if (!s) return s;
  out << (first ? "]\n}\n" : "\n  ]\n}\n");
  return Status::ok();
}

Status write_markdown(const ReportSummary& summary, const ReportRows& rows, std::ostream& out) {
  std::string head = "# " + md(report_title(summary)) + "\n\n";
  append_md_summary(summary, head);
  out << head;
  Result<std::vector<std::pair<std::string, std::uint64_t>>> counts = class_counts(rows);
  if (!counts) return counts.status();
  if (total_rows(*counts) == 0) {
    out << "\n" << kNothingToReport << "\n";
    return Status::ok();
  }
  out << "\n## By class\n\n";
  for (const auto& [name, n] : *counts) {
    out << "- " << md(name) << ": " << n << "\n";
  }
  out << "\n## Members\n\n" << md_table_header();
  return rows.for_each([&](const ReportEntry& e) {
    out << md_table_row(e);
    return Status::ok();
  });
}

}  // namespace concord::report_internal
