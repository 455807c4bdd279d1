#include "sandbox/exports/exports.h"

#include <algorithm>
#include <map>

#include "sandbox/exports/civicrm_export.h"
#include "sandbox/exports/civicrm_links.h"
#include "sandbox/exports/csv.h"
#include "sandbox/exports/export_files.h"
#include "sandbox/exports/file_kinds.h"
#include "sandbox/exports/mailchimp_export.h"
#include "sandbox/exports/seed_builder.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::exports {

namespace {

// Mailchimp's cap on the interests of one audience (the seed reader enforces it too).
constexpr std::size_t kMaxInterests = 60;

Status check_interests(const std::string& dir, const AudienceExport& a) {
  std::size_t n = 0;
  for (const auto& names : a.interest_names)
    n += names.size();
  if (n <= kMaxInterests) return Status::ok();
  std::string columns;
  for (const std::string& c : a.categories)
    columns += (columns.empty() ? "\"" : ", \"") + c + "\"";
  return Status::invalid(dir + ": the interest columns " + columns + " hold " + std::to_string(n) +
                         " different names, and an audience has at most 60 interests: is one of "
                         "them a merge field?");
}

}  // namespace

Result<LoadedExports> load_exports(const std::string& dir, const ExportsOptions& options) {
  LoadedExports out;
  auto files = collect_export_files(dir, &out.problems);
  if (!files.is_ok()) return files.status();
  std::vector<AudienceExport> audiences;
  std::map<std::string, std::size_t> audience_of_id;
  CrmExport crm;
  McReadOptions mc_options{options.interest_columns};
  for (ExportFile& f : *files) {
    CsvTable table = read_csv(f.text);
    f.text.clear();
    f.text.shrink_to_fit();
    Recognised r = recognise(f.base_name, table);
    if (r.kind == FileKind::kNone) {
      out.problems.push_back({f.name, 0, r.reason});
      continue;
    }
    out.summary.files.push_back(f.name);
    for (const CsvProblem& p : table.problems)
      out.problems.push_back({f.name, p.line, p.reason});
    switch (r.kind) {
      case FileKind::kMailchimpMembers: {
        auto [at, fresh] = audience_of_id.emplace(r.export_id, audiences.size());
        if (fresh) {
          audiences.emplace_back();
          audiences.back().export_id = r.export_id;
        }
        AudienceExport& a = audiences[at->second];
        if (a.zip_stem.empty()) a.zip_stem = f.zip_stem;
        read_member_file(f.name, table, r.status, mc_options, &a, &out.problems);
        break;
      }
      case FileKind::kCivicrmContacts:
        read_contact_file(f.name, table, &crm, &out.problems);
        break;
      case FileKind::kCivicrmHistory:
        read_history_file(f.name, table, &crm, &out.problems);
        break;
      case FileKind::kNone:
        break;
    }
  }
  if (out.summary.files.empty()) {
    std::string found;
    for (const ExportProblem& p : out.problems)
      found += "\n  " + p.text();
    return Status::invalid(
        dir +
        ": no Mailchimp audience export, CiviCRM contact export or "
        "SubscriptionHistory download found" +
        (found.empty() ? std::string(" (the folder has no file)") : ":" + found));
  }
  for (const AudienceExport& a : audiences) {
    Status s = check_interests(dir, a);
    if (!s.is_ok()) return s;
  }
  LinkedSite site = link_civicrm(std::move(crm), &out.problems);
  out.seed = build_seed(audiences, site);

  for (const AudienceExport& a : audiences) {
    AudienceName n = audience_name(a);
    out.summary.audiences.push_back({n.id, n.name, static_cast<std::int64_t>(a.members.size())});
  }
  for (const LinkedGroup& g : site.groups) {
    out.summary.groups.push_back({g.id, g.title, g.added, g.history_rows});
    if (g.id == site.main_group) out.summary.main_group = g.title;
  }
  out.summary.contacts = static_cast<std::int64_t>(site.contacts.size());
  out.summary.history_rows = static_cast<std::int64_t>(site.history.size());
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const ExportProblem& a, const ExportProblem& b) {
                     return a.file != b.file ? a.file < b.file : a.line < b.line;
                   });
  return out;
}

std::string ready_object(const LoadedExports& loaded, std::size_t max_problems) {
  const ExportSummary& s = loaded.summary;
  JsonOut o;
  o.begin_object();
  // The first audience and the main group, as the quickstart's configuration names them.
  if (!s.audiences.empty()) {
    o.key("audience_id");
    o.str(s.audiences.front().id);
  }
  if (!s.main_group.empty()) {
    o.key("group_title");
    o.str(s.main_group);
  }
  o.key("audiences");
  o.begin_array();
  for (const auto& a : s.audiences) {
    o.begin_object();
    o.key("id");
    o.str(a.id);
    o.key("name");
    o.str(a.name);
    o.key("members");
    o.integer(a.members);
    o.end_object();
  }
  o.end_array();
  o.key("groups");
  o.begin_array();
  for (const auto& g : s.groups) {
    o.begin_object();
    o.key("id");
    o.integer(g.id);
    o.key("title");
    o.str(g.title);
    o.key("added");
    o.integer(g.added);
    o.key("history_rows");
    o.integer(g.history_rows);
    o.end_object();
  }
  o.end_array();
  o.key("contacts");
  o.integer(s.contacts);
  o.key("history_rows");
  o.integer(s.history_rows);
  o.key("files");
  o.begin_array();
  for (const std::string& f : s.files)
    o.str(f);
  o.end_array();
  o.key("unreadable_count");
  o.integer(static_cast<std::int64_t>(loaded.problems.size()));
  o.key("unreadable");
  o.begin_array();
  for (std::size_t i = 0; i < loaded.problems.size() && i < max_problems; ++i) {
    const ExportProblem& p = loaded.problems[i];
    o.begin_object();
    o.key("file");
    o.str(p.file);
    o.key("line");
    o.integer(p.line);
    o.key("reason");
    o.str(p.reason);
    o.end_object();
  }
  o.end_array();
  o.end_object();
  return std::move(o.buf);
}

}  // namespace concord::sandbox::exports
