// Report entries (from plan rows, and their stored form), the formats, and what every renderer
// shares: the columns and the counts by class.
#include "concord/report.h"

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/render.h"

namespace concord {
namespace report_internal {

std::span<const Column> report_columns() {
  using E = ReportEntry;
  static const std::array<Column, 13> columns = {{
      {"email", "Email", "e", &E::email},
      {"class", "Class", "c", &E::conflict},
      {"mailchimp_status", "Mailchimp", "ms", &E::mailchimp_status},
      {"mailchimp_changed_at", "Mailchimp changed", "mt", nullptr, &E::mailchimp_changed_at},
      {"crm_status", "CRM", "cs", &E::crm_status},
      {"crm_flags", "CRM flags", "cf", &E::crm_flags},
      {"crm_changed_at", "CRM changed", "ct", nullptr, &E::crm_changed_at},
      {"base", "Base", "b", &E::base},
      {"base_mailchimp_changed_at", "Base: Mailchimp changed", "bm", nullptr,
       &E::base_mailchimp_changed_at},
      {"base_crm_changed_at", "Base: CRM changed", "bc", nullptr, &E::base_crm_changed_at},
      {"decision", "Decision", "d", &E::decision},
      {"reason", "Reason", "r", &E::reason},
      {"side", "Side", "s", &E::side, nullptr, /*in_csv=*/false},
  }};
  return columns;
}

std::string iso_time(Micros t) {
  return t == kNoTime ? std::string() : format_iso8601(t);
}

std::string cell_text(const Column& c, const ReportEntry& e) {
  return c.text != nullptr ? e.*c.text : iso_time(e.*c.time);
}

std::vector<std::pair<std::string, std::string>> summary_facts(const ReportSummary& summary) {
  auto when = [](Micros t) { return t == kNoTime ? std::string("unknown") : format_iso8601(t); };
  return {{"Result", summary.result},
          {"Started", when(summary.started_at)},
          {"Ended", when(summary.ended_at)},
          {"First run", summary.first_run ? "yes" : "no"},
          {"Trust", summary.trust.empty() ? "none (the rules decide)" : summary.trust}};
}

Result<std::vector<std::pair<std::string, std::uint64_t>>> class_counts(const ReportRows& rows) {
  std::vector<std::pair<std::string, std::uint64_t>> counts;
  for (std::uint8_t c = 1; c <= kConflictMax; ++c) {
    counts.emplace_back(conflict_name(static_cast<Conflict>(c)), 0);
  }
  Status s = rows.for_each([&](const ReportEntry& e) {
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& kv) { return kv.first == e.conflict; });
    if (it == counts.end()) {
      counts.emplace_back(e.conflict, 1);
    } else {
      ++it->second;
    }
    return Status::ok();
  });
  if (!s) return s;
  std::erase_if(counts, [](const auto& kv) { return kv.second == 0; });
  return counts;
}

std::uint64_t total_rows(const std::vector<std::pair<std::string, std::uint64_t>>& counts) {
  std::uint64_t n = 0;
  for (const auto& [name, k] : counts)
    n += k;
  return n;
}

std::string report_title(const ReportSummary& summary) {
  return "concord — conflict report: " + summary.sync + " run " + std::to_string(summary.run_id);
}

}  // namespace report_internal

using report_internal::Column;
using report_internal::report_columns;

namespace {

std::string crm_flags(const CrmState* crm, bool duplicate) {
  std::vector<std::string_view> flags;
  if (crm != nullptr) {
    if (crm->trashed) flags.push_back("trashed");
    if (crm->do_not_email) flags.push_back("do-not-email");
    if (crm->is_opt_out) flags.push_back("opted-out");
    if (crm->deceased) flags.push_back("deceased");
    if (crm->email_on_hold)
      flags.push_back(crm->hold_opt_out ? "email-on-hold-opt-out" : "email-on-hold");
  }
  if (duplicate) flags.push_back("duplicate");
  if (crm != nullptr && !crm->contact_known) flags.push_back("no-contact");
  std::string out;
  for (std::string_view f : flags) {
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

// "crm wins (only-crm-changed): unsubscribe in Mailchimp", or "no change".
std::string decision_text(const Decision& d) {
  std::vector<std::string> actions;
  if (d.mailchimp != MailchimpAction::kNone) {
    actions.push_back(std::string(action_name(d.mailchimp)) + " in Mailchimp");
  }
  if (d.crm != CrmAction::kNone) actions.push_back(std::string(action_name(d.crm)) + " in the CRM");
  if (d.hold_email) actions.push_back("hold email in the CRM");
  std::string body;
  for (const std::string& a : actions) {
    if (!body.empty()) body += "; ";
    body += a;
  }
  if (body.empty()) body = "no change";
  if (d.winner == Winner::kNone) return body;
  return std::string(winner_name(d.winner)) + " wins (" + std::string(reason_name(d.reason)) +
         "): " + body;
}

Status bad_field(const Column& c, std::string_view what) {
  return Status::corruption("report entry: field \"" + std::string(c.stored) + "\" (" +
                            std::string(c.name) + ") is not " + std::string(what));
}

Status decode_field(const Column& c, const nlohmann::json& v, ReportEntry& e) {
  if (c.text != nullptr) {
    if (!v.is_string()) return bad_field(c, "a string");
    e.*c.text = v.get<std::string>();
    return Status::ok();
  }
  const bool fits = v.is_number_integer() &&
                    !(v.is_number_unsigned() &&
                      v.get<std::uint64_t>() > std::uint64_t{std::numeric_limits<Micros>::max()});
  if (!fits) return bad_field(c, "a time in microseconds");
  e.*c.time = v.get<Micros>();
  return Status::ok();
}

}  // namespace

ReportEntry report_entry(const ReportRow& row) {
  ReportEntry e;
  e.email = row.email;
  const bool duplicate_only = row.conflict == Conflict::kNone && row.decision.duplicate;
  e.conflict = duplicate_only ? "duplicate" : conflict_name(row.conflict);
  e.mailchimp_status = row.mailchimp ? mailchimp_status_name(row.mailchimp->status) : "absent";
  if (row.mailchimp) e.mailchimp_changed_at = row.mailchimp->changed_at;
  e.crm_status = row.crm ? crm_status_name(row.crm->status) : "none";
  if (row.crm) e.crm_changed_at = row.crm->changed_at;
  const bool duplicate = row.decision.duplicate || (row.crm && row.crm->duplicate);
  e.crm_flags = crm_flags(row.crm ? &*row.crm : nullptr, duplicate);
  if (row.base) {
    e.base = row.base->membership == Membership::kIn ? "IN" : "OUT";
    e.base_mailchimp_changed_at = row.base->mailchimp_changed_at;
    e.base_crm_changed_at = row.base->crm_changed_at;
  }
  e.decision = decision_text(row.decision);
  e.reason = row.reason;
  e.side = row.side;
  return e;
}

std::string encode_entry(const ReportEntry& e) {
  nlohmann::json j = nlohmann::json::object();
  for (const Column& c : report_columns()) {
    if (c.text != nullptr && !(e.*c.text).empty()) j[std::string(c.stored)] = e.*c.text;
    if (c.time != nullptr && e.*c.time != kNoTime) j[std::string(c.stored)] = e.*c.time;
  }
  // Text from the sides may not be UTF-8: replace what is not, rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<ReportEntry> decode_entry(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::corruption("report entry: not a JSON object");
  ReportEntry e;
  for (const Column& c : report_columns()) {
    auto it = j.find(c.stored);
    if (it == j.end()) continue;
    if (Status s = decode_field(c, *it, e); !s) return s;
  }
  return e;
}

Result<ReportFormat> parse_report_format(std::string_view name) {
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "json") return ReportFormat::kJson;
  if (name == "md") return ReportFormat::kMarkdown;
  if (name == "html") return ReportFormat::kHtml;
  return Status::invalid("unknown report format \"" + std::string(name) +
                         "\": use csv, json, md or html");
}

std::string_view report_format_extension(ReportFormat f) {
  switch (f) {
    case ReportFormat::kCsv:
      return "csv";
    case ReportFormat::kJson:
      return "json";
    case ReportFormat::kMarkdown:
      return "md";
    case ReportFormat::kHtml:
      return "html";
  }
  return "txt";
}

Status ReportRowsInMemory::for_each(const std::function<Status(const ReportEntry&)>& row) const {
  for (const ReportEntry& e : rows_) {
    if (Status s = row(e); !s) return s;
  }
  return Status::ok();
}

Status write_report(const ReportSummary& summary, const ReportRows& rows, ReportFormat format,
                    std::ostream& out) {
  Status s;
  switch (format) {
    case ReportFormat::kCsv:
      s = report_internal::write_csv(rows, out);
      break;
    case ReportFormat::kJson:
      s = report_internal::write_json(summary, rows, out);
      break;
    case ReportFormat::kMarkdown:
      s = report_internal::write_markdown(summary, rows, out);
      break;
    case ReportFormat::kHtml:
      s = report_internal::write_html(summary, rows, out);
      break;
  }
  if (!s) return s;
  out.flush();
  if (!out) return Status::io_error("writing the report failed");
  return Status::ok();
}

std::string render_report(const ReportSummary& summary, const std::vector<ReportEntry>& rows,
                          ReportFormat format) {
  std::ostringstream out;
  // Rows in memory cannot fail to be read, and a string stream does not fail to be written.
  (void)write_report(summary, ReportRowsInMemory(rows), format, out);
  return std::move(out).str();
}

}  // namespace concord
