// The HTML report: one self-contained page (inline CSS and script, no external assets) that a
// person reads on a desktop or a phone. Every text from the data is escaped: emails and reasons
// come from outside.
#include <openssl/evp.h>

#include <array>

#include "report/render.h"

namespace concord::report_internal {
namespace {

constexpr std::string_view kStyle = R"CSS(
:root{color-scheme:light;--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--head:#f3f4f6}
*{box-sizing:border-box}
body{margin:0 auto;max-width:110rem;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
h1{font-size:1.35rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.summary{display:flex;flex-wrap:wrap;gap:1rem 3rem;align-items:flex-start}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:0}
dt{color:var(--muted)}
dd{margin:0}
table{border-collapse:collapse}
caption{text-align:left;color:var(--muted)}
.counts th,.counts td{padding:.15rem .6rem;border-bottom:1px solid var(--line);text-align:left;font-weight:normal}
.counts td{text-align:right;font-variant-numeric:tabular-nums}
.notes{border-left:4px solid #b91c1c;background:#fef2f2;padding:.5rem 1rem;margin:1rem 0}
.notes h2{margin:.25rem 0;color:#991b1b}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.85em;white-space:nowrap;background:#e5e7eb;color:#111827}
.b-both-changed{background:#dbeafe;color:#1e3a8a}
.b-compliance{background:#fef3c7;color:#78350f}
.b-cleaned{background:#ffedd5;color:#7c2d12}
.b-forgotten{background:#d1d5db;color:#111827}
.b-invalid-email{background:#fce7f3;color:#831843}
.b-duplicate{background:#ede9fe;color:#4c1d95}
.b-opt-out{background:#d1fae5;color:#064e3b}
.b-failed-write{background:#fee2e2;color:#7f1d1d}
.b-guard{background:#b91c1c;color:#fff}
.r-done{background:#dcfce7;color:#14532d}
.r-done-with-failures{background:#fef3c7;color:#78350f}
.r-stopped-by-guard,.r-failed{background:#b91c1c;color:#fff}
.r-planned{background:#dbeafe;color:#1e3a8a}
.chip{border:2px solid transparent;cursor:pointer;font:inherit;margin:0 .4rem .4rem 0}
.chip[aria-pressed=true]{border-color:currentColor}
.tools{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
input[type=search]{font:inherit;padding:.35rem .5rem;width:20rem;max-width:100%;border:1px solid #9ca3af;border-radius:4px}
#shown{color:var(--muted)}
.scroll{overflow-x:auto}
#rows{width:100%;font-size:.9rem}
#rows th,#rows td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
#rows thead th{background:var(--head);position:sticky;top:0}
#rows th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit;text-align:left}
#rows th button::after{content:" \2195";color:var(--muted)}
#rows th[aria-sort=ascending] button::after{content:" \25B2";color:inherit}
#rows th[aria-sort=descending] button::after{content:" \25BC";color:inherit}
#rows td:first-child{overflow-wrap:anywhere;min-width:12rem}
#rows tr[hidden]{display:none}
.empty{padding:1rem;background:#f0fdf4;border-left:4px solid #16a34a}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
@media (max-width:700px){
body{padding:.75rem}
#rows,#rows thead,#rows tbody,#rows tr,#rows td{display:block;width:100%}
#rows thead tr{display:flex;flex-wrap:wrap;gap:.25rem .75rem}
#rows thead th{display:block;width:auto;position:static;border:0;padding:.2rem 0;background:none}
#rows tbody tr{border:1px solid var(--line);border-radius:6px;margin:.5rem 0;padding:.25rem .6rem}
#rows td{border:0;padding:.15rem 0}
#rows td::before{content:attr(data-label) ": ";color:var(--muted)}
#rows td:empty{display:none}
}
)CSS";

// Sorts the table by the clicked header (times and numbers by their data-sort value, the rest as
// text), and filters rows by the search box and the class chips.
constexpr std::string_view kScript = R"JS(
(function () {
  'use strict';
  var table = document.getElementById('rows');
  if (!table) return;
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var box = document.getElementById('filter');
  var shown = document.getElementById('shown');
  var chips = Array.prototype.slice.call(document.querySelectorAll('.chip'));
  var only = '';
  function key(cell) {
    var s = cell.getAttribute('data-sort');
    if (s !== null) return s === '' ? -Infinity : Number(s);
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === 'number') return a < b ? -1 : a > b ? 1 : 0;
    return a.localeCompare(b, undefined, {numeric: true});
  }
  heads.forEach(function (th, i) {
    th.querySelector('button').addEventListener('click', function () {
      var up = th.getAttribute('aria-sort') !== 'ascending';
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (x, y) {
        var r = compare(key(x.cells[i]), key(y.cells[i]));
        return up ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  function filter() {
    var q = box.value.trim().toLowerCase();
    var n = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      var ok = (!only || r.getAttribute('data-class') === only) &&
               (!q || r.textContent.toLowerCase().indexOf(q) >= 0);
      r.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + ' of ' + body.rows.length + ' rows shown';
  }
  box.addEventListener('input', filter);
  chips.forEach(function (c) {
    c.addEventListener('click', function () {
      var mine = c.getAttribute('data-class');
      only = only === mine ? '' : mine;
      chips.forEach(function (o) {
        o.setAttribute('aria-pressed', String(o.getAttribute('data-class') === only));
      });
      filter();
    });
  });
})();
)JS";

std::string h(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_html_escaped(out, text);
  return out;
}

// A value usable as part of a CSS class name (lower-case letters, digits, '-'), else "other".
std::string css_ident(std::string_view value) {
  const bool ok =
      !value.empty() &&
      value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos;
  return ok ? std::string(value) : "other";
}

// The Content-Security-Policy source of the inline script: the page loads nothing and runs no
// script but its own, even if an escaping bug let markup through.
std::string script_hash_source() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(kScript.data(), kScript.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    return "'none'";  // the page still reads; only sorting and filtering are lost
  }
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
  const int n = EVP_EncodeBlock(b64.data(), digest.data(), static_cast<int>(len));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(b64.data()), n) + "'";
}

void append_head(const std::string& title, std::string& out) {
  out += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src " +
      script_hash_source() + "; base-uri 'none'; form-action 'none'\">\n";
  out += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  out += "<title>" + h(title) + "</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n";
}

void append_summary(const ReportSummary& s, std::string& out) {
  out += "<section class=\"summary\" aria-label=\"Summary\">\n<dl>\n";
  for (const auto& [label, value] : summary_facts(s)) {
    out += "<dt>" + h(label) + "</dt><dd>" + h(value) + "</dd>\n";
  }
  out += "</dl>\n";
  if (!s.counts.empty()) {
    out += "<table class=\"counts\"><caption>Counts</caption><tbody>\n";
    for (const auto& [name, n] : s.counts) {
      out += "<tr><th scope=\"row\">" + h(name) + "</th><td>" + std::to_string(n) + "</td></tr>\n";
    }
    out += "</tbody></table>\n";
  }
  out += "</section>\n";
  if (s.notes.empty()) return;
  out += "<section class=\"notes\" role=\"note\">\n<h2>Read this first</h2>\n<ul>\n";
  for (const std::string& note : s.notes)
    out += "<li>" + h(note) + "</li>\n";
  out += "</ul>\n</section>\n";
}

void append_chips(const std::vector<std::pair<std::string, std::uint64_t>>& counts,
                  std::string& out) {
  out += "<h2>By class</h2>\n<p>\n";
  for (const auto& [name, n] : counts) {
    out += "<button type=\"button\" class=\"chip badge b-" + css_ident(name) + "\" data-class=\"" +
           h(name) + "\" aria-pressed=\"false\">" + h(name) + " <b>" + std::to_string(n) +
           "</b></button>\n";
  }
  out += "</p>\n";
}

void append_cell(const Column& c, const ReportEntry& e, std::string& out) {
  out += "<td data-label=\"" + h(c.title) + "\"";
  if (c.time != nullptr) {
    const Micros t = e.*c.time;
    if (t == kNoTime) {
      out += " data-sort=\"\"></td>";
      return;
    }
    out += " data-sort=\"" + std::to_string(t) + "\"><time datetime=\"" + format_iso8601(t) +
           "\">" + format_civil(t) + " UTC</time></td>";
    return;
  }
  const std::string& text = e.*c.text;
  if (c.text == &ReportEntry::conflict) {
    out += "><span class=\"badge b-" + css_ident(text) + "\">" + h(text) + "</span></td>";
    return;
  }
  out += '>';
  out += h(text);
  out += "</td>";
}

std::string table_head(std::uint64_t rows) {
  const std::string total = std::to_string(rows);
  std::string out =
      "<p class=\"tools\"><label for=\"filter\">Filter</label> <input id=\"filter\" "
      "type=\"search\" placeholder=\"email, class, reason…\" autocomplete=\"off\"> "
      "<span id=\"shown\" aria-live=\"polite\">" +
      total + " of " + total + " rows shown</span></p>\n";
  out += "<div class=\"scroll\"><table id=\"rows\">\n<thead><tr>";
  for (const Column& c : report_columns()) {
    out += "<th scope=\"col\"><button type=\"button\">" + h(c.title) + "</button></th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  return out;
}

std::string table_row(const ReportEntry& e) {
  std::string out = "<tr data-class=\"" + h(e.conflict) + "\">";
  for (const Column& c : report_columns())
    append_cell(c, e, out);
  out += "</tr>\n";
  return out;
}

}  // namespace

Status write_html(const ReportSummary& summary, const ReportRows& rows, std::ostream& out) {
  const std::string title = report_title(summary);
  Result<std::vector<std::pair<std::string, std::uint64_t>>> counts = class_counts(rows);
  if (!counts) return counts.status();
  const std::uint64_t total = total_rows(*counts);
  std::string head;
  append_head(title, head);
  head += "<body>\n<header>\n<h1>" + h(title) + "</h1>\n<p><span class=\"badge r-" +
          css_ident(summary.result) + "\">" + h(summary.result) +
          "</span></p>\n</header>\n<main>\n";
  append_summary(summary, head);
  head += "<section aria-label=\"Members\">\n";
  if (total == 0) {
    head += "<p class=\"empty\">" + std::string(kNothingToReport) + "</p>\n";
    out << head;
  } else {
    append_chips(*counts, head);
    head += "<h2>Members (" + std::to_string(total) + ")</h2>\n";
    head += table_head(total);
    out << head;
    Status s = rows.for_each([&](const ReportEntry& e) {
      out << table_row(e);
      return Status::ok();
    });
    if (!s) return s;
    out << "</tbody>\n</table></div>\n";
  }
  out << "</section>\n</main>\n<footer>Made by concord. Click a column header to sort by it; "
         "click a class to show only its rows.</footer>\n<script>"
      << kScript << "</script>\n</body>\n</html>\n";
  return Status::ok();
}

}  // namespace concord::report_internal

namespace concord {

void append_html_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace concord
