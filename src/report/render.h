// Internal to src/report: the columns of a report and the renderers of each format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/report.h"

namespace concord::report_internal {

// One column of a report. Exactly one of `text` and `time` is set.
struct Column {
  std::string_view name;    // CSV header and JSON key, e.g. "mailchimp_changed_at"
  std::string_view title;   // the header a person reads (Markdown, HTML)
  std::string_view stored;  // the key in encode_entry's object, e.g. "mt"
  std::string ReportEntry::*text = nullptr;
  Micros ReportEntry::*time = nullptr;
  bool in_csv = true;  // the CSV header is fixed (docs/reports.md); `side` is not in it
};

// Every column, in display order.
std::span<const Column> report_columns();

// format_iso8601, "" for kNoTime.
std::string iso_time(Micros t);
// The column's value as text (times as iso_time).
std::string cell_text(const Column& c, const ReportEntry& e);

// The summary's scalar facts as (label, value) for a person: Result, Started, Ended, First run,
// Trust. Unknown times read "unknown".
std::vector<std::pair<std::string, std::string>> summary_facts(const ReportSummary& summary);

// The rows per class: the classes of decide.h in their order, then any others in order of
// appearance. Classes with no rows are left out. One pass over the rows.
Result<std::vector<std::pair<std::string, std::uint64_t>>> class_counts(const ReportRows& rows);
// The number of rows in `counts`.
std::uint64_t total_rows(const std::vector<std::pair<std::string, std::uint64_t>>& counts);

// "concord — conflict report: <sync> run <id>" (not escaped).
std::string report_title(const ReportSummary& summary);

inline constexpr std::string_view kNothingToReport = "Nothing needs a person's eye in this run.";

// Each writes its format to `out` as it reads the rows; an error of the source stops it.
Status write_csv(const ReportRows& rows, std::ostream& out);
Status write_json(const ReportSummary& summary, const ReportRows& rows, std::ostream& out);
Status write_markdown(const ReportSummary& summary, const ReportRows& rows, std::ostream& out);
Status write_html(const ReportSummary& summary, const ReportRows& rows, std::ostream& out);

}  // namespace concord::report_internal
