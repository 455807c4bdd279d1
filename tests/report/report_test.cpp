// Conflict reports: entries from plan rows, their stored form, and the four formats as a person
// (or a spreadsheet, or a script) would read them.
#include "concord/report.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <sstream>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "concord/decide.h"
#include "concord/member.h"
#include "concord/time.h"

namespace concord {
namespace {

Micros at(const char* iso) {
  auto t = parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size()))
    ++n;
  return n;
}

// RFC 4180, as a spreadsheet reads it: quoted fields may hold commas, quotes and line breaks;
// outside quotes a CR or LF ends the record.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\r' || c == '\n') {  // outside quotes, any line break ends the record
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      field += c;
    }
  }
  REQUIRE_FALSE(quoted);
  REQUIRE(field.empty());
  REQUIRE(rows.back().empty());  // the last line ends with CRLF
  rows.pop_back();
  return rows;
}

ReportEntry full_entry() {
  ReportEntry e;
  e.email = "fred@example.org";
  e.conflict = "both-changed";
  e.mailchimp_status = "subscribed";
  e.mailchimp_changed_at = at("2024-01-03T00:00:00Z");
  e.crm_status = "Removed";
  e.crm_flags = "duplicate";
  e.crm_changed_at = at("2024-01-04T00:00:00Z");
  e.base = "IN";
  e.base_mailchimp_changed_at = at("2023-12-01T00:00:00Z");
  e.base_crm_changed_at = kNoTime;
  e.decision = "crm wins (crm-later): unsubscribe in Mailchimp";
  e.reason = "both changed; the CRM's change is later";
  e.side = "";
  return e;
}

ReportEntry entry(std::string email, std::string cls, std::string reason) {
  ReportEntry e = full_entry();
  e.email = std::move(email);
  e.conflict = std::move(cls);
  e.reason = std::move(reason);
  return e;
}

ReportSummary summary() {
  ReportSummary s;
  s.sync = "members";
  s.run_id = 42;
  s.started_at = at("2024-01-05T10:00:00Z");
  s.ended_at = kNoTime;
  s.result = "stopped-by-guard";
  s.first_run = true;
  s.trust = "";
  s.counts = {{"unsubscribe_in_mailchimp", 30}, {"add_to_crm", 2}, {"report_rows", 3}};
  s.notes = {"planned removals in Mailchimp (30) exceed 10% of its 100 IN members"};
  return s;
}

std::string render(const std::vector<ReportEntry>& rows, ReportFormat f) {
  return render_report(summary(), rows, f);
}

MailchimpState in_mailchimp(MailchimpStatus status, const char* changed) {
  return MailchimpState{status, UnsubscribeOrigin::kUnknown, at(changed)};
}

// A known CRM contact whose latest history row for the group has `status`.
CrmState crm_contact(CrmStatus status, Micros changed) {
  CrmState crm;
  crm.status = status;
  crm.changed_at = changed;
  crm.contact_known = true;
  return crm;
}

// The rows of a plan, made by decide() from the two sides' states.
ReportRow plan_row(const MailchimpState& mc, const CrmState& crm,
                   const std::optional<BaseState>& base, const SyncOptions& options = {}) {
  ReportRow row;
  row.email = "member@example.org";
  row.mailchimp = mc;
  row.crm = crm;
  row.base = base;
  row.decision = decide(mc, crm, base ? &*base : nullptr, options);
  row.conflict = row.decision.conflict;
  row.reason = explain(row.decision);
  return row;
}

TEST_CASE("report_entry: both sides changed (Fred of the first run)") {
  MailchimpState mc = in_mailchimp(MailchimpStatus::kSubscribed, "2024-01-03T00:00:00Z");
  CrmState crm = crm_contact(CrmStatus::kRemoved, at("2024-01-04T00:00:00Z"));
  ReportEntry e = report_entry(plan_row(mc, crm, std::nullopt));
  CHECK(e.conflict == "both-changed");
  CHECK(e.decision == "crm wins (crm-later): unsubscribe in Mailchimp");
  CHECK(e.mailchimp_status == "subscribed");
  CHECK(e.mailchimp_changed_at == at("2024-01-03T00:00:00Z"));
  CHECK(e.crm_status == "Removed");
  CHECK(e.crm_changed_at == at("2024-01-04T00:00:00Z"));
  CHECK(e.crm_flags.empty());
  CHECK(e.base.empty());
  CHECK(e.base_mailchimp_changed_at == kNoTime);
  CHECK(e.reason == "both changed; the CRM's change is later");
}

TEST_CASE("report_entry: a cleaned address removed from the group and put on hold") {
  MailchimpState mc = in_mailchimp(MailchimpStatus::kCleaned, "2024-02-01T00:00:00Z");
  CrmState crm = crm_contact(CrmStatus::kAdded, at("2024-01-01T00:00:00Z"));
  BaseState base{Membership::kIn, at("2024-01-01T00:00:00Z"), at("2024-01-01T00:00:00Z")};
  ReportEntry e = report_entry(plan_row(mc, crm, base));
  CHECK(e.conflict == "cleaned");
  CHECK(e.decision ==
        "mailchimp wins (only-mailchimp-changed): remove in the CRM; hold email in the CRM");
  CHECK(e.base == "IN");
  CHECK(e.base_mailchimp_changed_at == at("2024-01-01T00:00:00Z"));
  CHECK(e.base_crm_changed_at == at("2024-01-01T00:00:00Z"));
  CHECK(e.mailchimp_status == "cleaned");
}

TEST_CASE("report_entry: a duplicate on which the sides agree") {
  MailchimpState mc = in_mailchimp(MailchimpStatus::kSubscribed, "2024-01-01T00:00:00Z");
  CrmState crm = crm_contact(CrmStatus::kAdded, kNoTime);
  crm.duplicate = true;
  crm.email_on_hold = true;  // for bounces: no reason to unsubscribe, so the sides agree
  ReportRow row = plan_row(mc, crm, std::nullopt);
  ReportEntry e = report_entry(row);
  CHECK(e.conflict == "duplicate");
  CHECK(e.decision == "no change");
  CHECK(e.crm_flags == "email-on-hold, duplicate");

  SECTION("a row whose class was left unset is still a duplicate") {
    row.conflict = Conflict::kNone;
    CHECK(report_entry(row).conflict == "duplicate");
  }
}

TEST_CASE("report_entry: CRM flags name each mark on the contact") {
  MailchimpState mc;
  CrmState crm;
  crm.status = CrmStatus::kNone;
  crm.trashed = true;
  crm.is_opt_out = true;
  crm.email_on_hold = true;
  crm.contact_known = false;
  ReportEntry e = report_entry(plan_row(mc, crm, std::nullopt));
  CHECK(e.crm_flags == "trashed, opted-out, email-on-hold, no-contact");
  CHECK(e.crm_status == "none");
  CHECK(e.mailchimp_status == "absent");
}

TEST_CASE("report_entry: an invalid address a side returned") {
  ReportRow row;
  row.email = "not-an-email";
  row.conflict = Conflict::kInvalidEmail;
  row.decision.conflict = Conflict::kInvalidEmail;
  row.side = "mailchimp";
  row.reason = "not synced: email has no @ (mailchimp record 17)";
  ReportEntry e = report_entry(row);
  CHECK(e.conflict == "invalid-email");
  CHECK(e.email == "not-an-email");
  CHECK(e.side == "mailchimp");
  CHECK(e.mailchimp_status == "absent");
  CHECK(e.crm_status == "none");
  CHECK(e.crm_flags.empty());
  CHECK(e.base.empty());
  CHECK(e.decision == "no change");
  CHECK(e.reason == row.reason);
}

bool same(const ReportEntry& a, const ReportEntry& b) {
  return a.email == b.email && a.conflict == b.conflict &&
         a.mailchimp_status == b.mailchimp_status &&
         a.mailchimp_changed_at == b.mailchimp_changed_at && a.crm_status == b.crm_status &&
         a.crm_flags == b.crm_flags && a.crm_changed_at == b.crm_changed_at && a.base == b.base &&
         a.base_mailchimp_changed_at == b.base_mailchimp_changed_at &&
         a.base_crm_changed_at == b.base_crm_changed_at && a.decision == b.decision &&
         a.reason == b.reason && a.side == b.side;
}

TEST_CASE("encode_entry/decode_entry: round trip") {
  ReportEntry e = full_entry();
  e.side = "crm";
  e.reason = "quotes \" and \\ and\nnewlines, ünïcode";
  const std::string text = encode_entry(e);
  auto j = nlohmann::json::parse(text);
  CHECK(j["mt"] == e.mailchimp_changed_at);  // times as integers (µs)
  CHECK_FALSE(j.contains("bc"));             // a missing time is left out
  auto back = decode_entry(text);
  REQUIRE(back.is_ok());
  CHECK(same(*back, e));

  ReportEntry empty;
  auto none = decode_entry(encode_entry(empty));
  REQUIRE(none.is_ok());
  CHECK(same(*none, empty));
}

TEST_CASE("decode_entry: what it cannot read is corruption naming the field") {
  auto fails_naming = [](std::string_view text, std::string_view field) {
    auto r = decode_entry(text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains(std::string(field)));
  };
  fails_naming("[1,2]", "not a JSON object");
  fails_naming("not json", "not a JSON object");
  fails_naming(R"({"e": 5})", "\"e\" (email)");
  fails_naming(R"({"e": "a@b.org", "mt": "2024-01-01"})", "\"mt\" (mailchimp_changed_at)");
  fails_naming(R"({"bc": 1.5})", "\"bc\" (base_crm_changed_at)");
  fails_naming(R"({"ct": 18446744073709551615})", "\"ct\" (crm_changed_at)");
}

TEST_CASE("report formats: names and extensions") {
  for (auto [name, f] :
       std::array<std::pair<const char*, ReportFormat>, 4>{{{"csv", ReportFormat::kCsv},
                                                            {"json", ReportFormat::kJson},
                                                            {"md", ReportFormat::kMarkdown},
                                                            {"html", ReportFormat::kHtml}}}) {
    auto parsed = parse_report_format(name);
    REQUIRE(parsed.is_ok());
    CHECK(*parsed == f);
    CHECK(report_format_extension(f) == name);
  }
  auto bad = parse_report_format("pdf");
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == Status::Code::kInvalid);
  CHECK_THAT(bad.status().message(), Catch::Contains("csv, json, md or html"));
}

TEST_CASE("CSV: a spreadsheet reads back every row and column") {
  std::vector<ReportEntry> rows = {
      entry("a@example.org", "both-changed", "plain"),
      entry("b@example.org", "cleaned", "a comma, a \"quote\" and\r\na line break"),
      entry("c@example.org", "guard", "one\nmore"),
  };
  rows[2].mailchimp_changed_at = kNoTime;
  const std::string csv = render(rows, ReportFormat::kCsv);
  CHECK(csv.find(",reason\r\na@example.org,") != std::string::npos);  // CRLF line ends
  auto table = parse_csv(csv);
  REQUIRE(table.size() == 4);
  CHECK(table[0] == std::vector<std::string>{"email", "class", "mailchimp_status",
                                             "mailchimp_changed_at", "crm_status", "crm_flags",
                                             "crm_changed_at", "base", "base_mailchimp_changed_at",
                                             "base_crm_changed_at", "decision", "reason"});
  for (const auto& r : table)
    CHECK(r.size() == 12);
  CHECK(table[2][0] == "b@example.org");
  CHECK(table[2][1] == "cleaned");
  CHECK(table[2][11] == "a comma, a \"quote\" and\r\na line break");
  CHECK(table[3][11] == "one\nmore");
  CHECK(table[1][3] == "2024-01-03T00:00:00+00:00");
  CHECK(table[3][3].empty());  // an unknown time is an empty cell
  CHECK(table[1][9].empty());
}

TEST_CASE("CSV: a cell that a spreadsheet would run as a formula is neutralised") {
  std::vector<ReportEntry> rows = {
      entry("=HYPERLINK(\"http://evil\",\"x\")@example.org", "invalid-email", "+1"),
      entry("@SUM(A1)", "invalid-email", "-2"),
  };
  auto table = parse_csv(render(rows, ReportFormat::kCsv));
  REQUIRE(table.size() == 3);
  CHECK(table[1][0] == "'=HYPERLINK(\"http://evil\",\"x\")@example.org");
  CHECK(table[1][11] == "'+1");
  CHECK(table[2][0] == "'@SUM(A1)");
  CHECK(table[2][11] == "'-2");
  CHECK(table[2][1] == "invalid-email");  // a '-' inside a value is left alone
}

TEST_CASE("JSON: the summary and every row") {
  std::vector<ReportEntry> rows = {entry("a@example.org", "both-changed", "r1"),
                                   entry("b@example.org", "guard", "r2")};
  rows[1].side = "crm";
  auto j = nlohmann::json::parse(render(rows, ReportFormat::kJson));
  const auto& s = j.at("summary");
  CHECK(s.at("sync") == "members");
  CHECK(s.at("run") == 42);
  CHECK(s.at("started_at") == "2024-01-05T10:00:00+00:00");
  CHECK(s.at("ended_at").is_null());
  CHECK(s.at("result") == "stopped-by-guard");
  CHECK(s.at("first_run") == true);
  CHECK(s.at("trust") == "");
  CHECK(s.at("counts").at("unsubscribe_in_mailchimp") == 30);
  CHECK(s.at("counts").at("report_rows") == 3);
  CHECK(s.at("notes").size() == 1);
  // The counts keep their display order.
  CHECK(nlohmann::ordered_json::parse(render(rows, ReportFormat::kJson))["summary"]["counts"]
            .begin()
            .key() == "unsubscribe_in_mailchimp");
  REQUIRE(j.at("rows").size() == 2);
  const auto& r = j.at("rows")[1];
  CHECK(r.at("email") == "b@example.org");
  CHECK(r.at("class") == "guard");
  CHECK(r.at("mailchimp_changed_at") == "2024-01-03T00:00:00+00:00");
  CHECK(r.at("base_crm_changed_at").is_null());
  CHECK(r.at("side") == "crm");
  CHECK(r.at("reason") == "r2");
}

TEST_CASE("JSON: an empty report still has its summary") {
  auto j = nlohmann::json::parse(render({}, ReportFormat::kJson));
  CHECK(j.at("rows").empty());
  CHECK(j.at("summary").at("run") == 42);
}

// The part of `page` between the first `from` and the next `to`.
std::string between(const std::string& page, std::string_view from, std::string_view to) {
  auto a = page.find(from);
  REQUIRE(a != std::string::npos);
  a += from.size();
  auto b = page.find(to, a);
  REQUIRE(b != std::string::npos);
  return page.substr(a, b - a);
}

std::string sha256_base64(const std::string& text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  REQUIRE(EVP_Digest(text.data(), text.size(), digest.data(), &len, EVP_sha256(), nullptr) == 1);
  std::array<unsigned char, 64> b64{};
  int n = EVP_EncodeBlock(b64.data(), digest.data(), static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(b64.data()), n);
}

TEST_CASE("HTML: hostile text from the sides is escaped") {
  std::vector<ReportEntry> rows = {
      entry("<script>alert(1)</script>@example.org", "invalid-email", "it's \"odd\" & <b>bold</b>"),
      entry("x@example.org", "\"><img onerror=x>", "r"),
  };
  ReportSummary s = summary();
  s.sync = "<i>sync</i>";
  s.notes = {"<b>stop</b>"};
  const std::string page = render_report(s, rows, ReportFormat::kHtml);
  CHECK(count(page, "<script") == 1);  // the page's own script only
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;@example.org") != std::string::npos);
  CHECK(page.find("it&#39;s &quot;odd&quot; &amp; &lt;b&gt;bold&lt;/b&gt;") != std::string::npos);
  CHECK(page.find("<b>stop</b>") == std::string::npos);
  CHECK(page.find("&lt;b&gt;stop&lt;/b&gt;") != std::string::npos);
  CHECK(page.find("<i>sync</i>") == std::string::npos);
  CHECK(page.find("<title>concord — conflict report: &lt;i&gt;sync&lt;/i&gt; run 42</title>") !=
        std::string::npos);
  CHECK(page.find("<img") == std::string::npos);
  // An unknown class gets the plain badge, not a class attribute made of its text.
  CHECK(page.find("class=\"badge b-other\"") != std::string::npos);
}

TEST_CASE("HTML: one self-contained page, sortable and filterable") {
  std::vector<ReportEntry> rows = {entry("a@example.org", "both-changed", "r1"),
                                   entry("b@example.org", "cleaned", "r2"),
                                   entry("c@example.org", "cleaned", "r3")};
  rows[1].crm_changed_at = kNoTime;
  const std::string page = render(rows, ReportFormat::kHtml);
  CHECK(page.rfind("<!doctype html>", 0) == 0);
  CHECK(page.find("<meta charset=\"utf-8\">") != std::string::npos);
  CHECK(page.find("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">") !=
        std::string::npos);
  for (const char* external : {"src=\"http", "href=\"http", "@import", "url(", "://"}) {
    CHECK(page.find(external) == std::string::npos);
  }
  CHECK(page.find("<title>concord — conflict report: members run 42</title>") != std::string::npos);

  // The summary: result, counts, the guard's reason highlighted.
  CHECK(page.find("<span class=\"badge r-stopped-by-guard\">stopped-by-guard</span>") !=
        std::string::npos);
  CHECK(page.find("<th scope=\"row\">unsubscribe_in_mailchimp</th><td>30</td>") !=
        std::string::npos);
  CHECK(page.find("class=\"notes\"") != std::string::npos);
  CHECK(page.find("exceed 10% of its 100 IN members") != std::string::npos);

  // Counts by class, as chips.
  CHECK(page.find("data-class=\"cleaned\" aria-pressed=\"false\">cleaned <b>2</b></button>") !=
        std::string::npos);
  CHECK(page.find("data-class=\"both-changed\" aria-pressed=\"false\">both-changed <b>1</b>") !=
        std::string::npos);

  // The table: one row per entry, a sort button per header, times sortable by their µs.
  const std::string body = between(page, "<table id=\"rows\">", "</table>");
  CHECK(count(between(body, "<tbody>", "</tbody>"), "<tr") == 3);
  CHECK(count(between(body, "<thead>", "</thead>"), "<button") == 13);
  CHECK(body.find("data-sort=\"" + std::to_string(at("2024-01-03T00:00:00Z")) + "\"") !=
        std::string::npos);
  CHECK(body.find("<td data-label=\"CRM changed\" data-sort=\"\"></td>") != std::string::npos);
  CHECK(body.find("<span class=\"badge b-both-changed\">both-changed</span>") != std::string::npos);
  CHECK(page.find("id=\"filter\"") != std::string::npos);

  // The script: it sorts, updates aria-sort, and the page's policy lets exactly it run.
  const std::string script = between(page, "<script>", "</script>");
  CHECK(script.find("aria-sort") != std::string::npos);
  CHECK(script.find("rows.sort(") != std::string::npos);
  CHECK(page.find("script-src 'sha256-" + sha256_base64(script) + "'") != std::string::npos);
}

TEST_CASE("HTML: an empty report says so instead of showing an empty table") {
  const std::string page = render({}, ReportFormat::kHtml);
  CHECK(page.find("Nothing needs a person's eye in this run.") != std::string::npos);
  CHECK(page.find("<table id=\"rows\"") == std::string::npos);
  CHECK(page.find("class=\"chip") == std::string::npos);
}

// The cells of a Markdown table line, split at the pipes that are not escaped.
std::vector<std::string> md_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      cell += line.substr(i, 2);
      ++i;
    } else if (line[i] == '|') {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  cells.push_back(cell);
  return {cells.begin() + 1, cells.end() - 1};  // outside the first and last pipe: nothing
}

TEST_CASE("Markdown: a summary, counts by class, and a table whose cells stay in place") {
  std::vector<ReportEntry> rows = {entry("a|b@example.org", "both-changed", "x | y\nz"),
                                   entry("c@example.org", "cleaned", "<em>hi</em>")};
  const std::string md = render(rows, ReportFormat::kMarkdown);
  CHECK(md.rfind("# concord — conflict report: members run 42\n", 0) == 0);
  CHECK(md.find("- **Result:** stopped-by-guard") != std::string::npos);
  CHECK(md.find("- **First run:** yes") != std::string::npos);
  CHECK(md.find("unsubscribe\\_in\\_mailchimp 30") != std::string::npos);
  CHECK(md.find("> **Note:** planned removals") != std::string::npos);
  CHECK(md.find("- both-changed: 1\n- cleaned: 1\n") != std::string::npos);

  std::vector<std::string> table;
  for (std::size_t p = md.find("\n| Email"); p != std::string::npos; p = md.find("\n|", p + 1)) {
    table.push_back(md.substr(p + 1, md.find('\n', p + 1) - p - 1));
  }
  REQUIRE(table.size() == 4);  // header, rule, two rows
  for (const auto& line : table)
    CHECK(md_cells(line).size() == 13);
  CHECK(md_cells(table[2])[0] == " a\\|b@example.org ");
  CHECK(md_cells(table[2])[11] == " x \\| y<br>z ");
  CHECK(md_cells(table[3])[11] == " \\<em\\>hi\\</em\\> ");
}

TEST_CASE("Markdown: an empty report says so") {
  const std::string md = render({}, ReportFormat::kMarkdown);
  CHECK(md.find("Nothing needs a person's eye in this run.") != std::string::npos);
  CHECK(md.find("| Email") == std::string::npos);
}

// A source that fails after its first row, as a store read can.
class FailingRows final : public ReportRows {
 public:
  Status for_each(const std::function<Status(const ReportEntry&)>& row) const override {
    if (Status s = row(entry("a@example.org", "cleaned", "first")); !s) return s;
    return Status::corruption("report row of run 42: cannot read");
  }
};

TEST_CASE("a report is written row by row, and a source that fails stops it with its error") {
  for (ReportFormat f :
       {ReportFormat::kCsv, ReportFormat::kJson, ReportFormat::kMarkdown, ReportFormat::kHtml}) {
    DYNAMIC_SECTION("format " << report_format_extension(f)) {
      std::ostringstream out;
      Status s = write_report(summary(), FailingRows(), f, out);
      CHECK(s.code() == Status::Code::kCorruption);
      CHECK(s.message().find("run 42") != std::string::npos);
    }
  }
  // The JSON document, written a row at a time, is one valid document.
  const std::vector<ReportEntry> rows = {entry("a@example.org", "cleaned", "x"),
                                         entry("b@example.org", "opt-out", "y")};
  std::ostringstream out;
  REQUIRE(write_report(summary(), ReportRowsInMemory(rows), ReportFormat::kJson, out).is_ok());
  const nlohmann::json j = nlohmann::json::parse(out.str());
  CHECK(j["rows"].size() == 2);
  CHECK(j["rows"][1]["email"] == "b@example.org");
  CHECK(j["summary"]["run"] == 42);
  std::ostringstream none;
  REQUIRE(write_report(summary(), ReportRowsInMemory({}), ReportFormat::kJson, none).is_ok());
  CHECK(nlohmann::json::parse(none.str())["rows"].empty());
}

}  // namespace
}  // namespace concord
