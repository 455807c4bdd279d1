// Conflict reports: the members of a run that need a person's eye, and how they are shown.
//
// The applier stores one ReportEntry per member (encode_entry) in the run's records; `concord
// report` reads them back (decode_entry) and renders them as CSV, JSON, Markdown or a
// self-contained HTML page (render_report).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/plan.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord {

// One row of a conflict report. Times are UTC microseconds; kNoTime when unknown/absent.
struct ReportEntry {
  std::string email;
  // The class: "both-changed", "compliance", "cleaned", "forgotten", "invalid-email",
  // "duplicate", "opt-out", "failed-write", "guard".
  std::string conflict;
  std::string mailchimp_status;  // "subscribed", …, "absent" when not in the audience
  Micros mailchimp_changed_at = kNoTime;
  std::string crm_status;  // "Added", "Removed", "Pending", "Deleted", "none" (no history row)
  std::string crm_flags;   // "trashed, do-not-email, duplicate" etc.; empty when none
  Micros crm_changed_at = kNoTime;
  std::string base;  // "IN", "OUT", or "" when the sides never agreed
  Micros base_mailchimp_changed_at = kNoTime;
  Micros base_crm_changed_at = kNoTime;
  // What concord decided: "<winner> wins (<reason>): <action>; <action>" or "no change".
  std::string decision;
  std::string reason;  // one sentence a person can read
  std::string side;    // the side a row is about, when only one ("mailchimp"/"crm"); else ""
};

// The entry of a plan's report row.
ReportEntry report_entry(const ReportRow& row);

// The stored form of an entry (a JSON object); decode_entry is its inverse and names the field
// it could not read (kCorruption).
std::string encode_entry(const ReportEntry& e);
Result<ReportEntry> decode_entry(std::string_view text);

// What the report says about its run, at the top.
struct ReportSummary {
  std::string sync;
  std::uint64_t run_id = 0;
  Micros started_at = kNoTime;
  Micros ended_at = kNoTime;
  std::string result;  // "done", "done-with-failures", "stopped-by-guard", "failed", "planned"
  bool first_run = false;
  std::string trust;  // "", "crm", "mailchimp"
  // Counts in display order, e.g. {"add_to_mailchimp", 3}, …, {"report_rows", 7}.
  std::vector<std::pair<std::string, std::uint64_t>> counts;
  std::vector<std::string> notes;  // guard reasons, errors: shown above the table
};

enum class ReportFormat : std::uint8_t { kCsv, kJson, kMarkdown, kHtml };
// "csv" | "json" | "md" | "html"; kInvalid naming the accepted values otherwise.
Result<ReportFormat> parse_report_format(std::string_view name);
std::string_view report_format_extension(ReportFormat f);  // "csv", "json", "md", "html"

// The rows of a report, in order. A report can hold a row per member of a migration, so renderers
// read them from their source (the store) instead of holding them; a source may be read more than
// once (formats that count rows by class first read it twice).
class ReportRows {
 public:
  virtual ~ReportRows() = default;
  // Calls `row` for each row in order; stops at, and returns, the first error (the source's, or
  // the one `row` returned).
  virtual Status for_each(const std::function<Status(const ReportEntry&)>& row) const = 0;
};

// Rows held in memory.
class ReportRowsInMemory final : public ReportRows {
 public:
  explicit ReportRowsInMemory(const std::vector<ReportEntry>& rows) : rows_(rows) {}
  Status for_each(const std::function<Status(const ReportEntry&)>& row) const override;

 private:
  const std::vector<ReportEntry>& rows_;
};

// Writes the report in the format to `out`, row by row (see render_report for the formats). An
// error of the source stops the output where it was; kIoError when `out` failed.
Status write_report(const ReportSummary& summary, const ReportRows& rows, ReportFormat format,
                    std::ostream& out);

// The whole report as text in the format. CSV: a header row then one row per entry (RFC 4180
// quoting; times ISO 8601 UTC, empty when unknown). JSON: {"summary":{…},"rows":[…]}. Markdown: a
// summary list and a table. HTML: one self-contained page (inline CSS and script, no external
// assets): the summary at the top, counts by class, and a table sortable by clicking a header.
std::string render_report(const ReportSummary& summary, const std::vector<ReportEntry>& rows,
                          ReportFormat format);

// Appends `text` escaped for HTML text and attribute values (& < > " ').
void append_html_escaped(std::string& out, std::string_view text);

}  // namespace concord
