// The `concord` command.
//
// Today it has one command, `rehearse`, which runs the decision engine on a table of members
// (fixtures/flintstones.json is an example) and prints the plan: what a first run would do, counted
// by outcome, each operation with its reason, and the report rows. The commands that reach the
// real sides (init, check, plan, sync, report, status, backup, serve) arrive with the end-to-end
// issue.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "concord/diff.h"
#include "concord/email.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "concord/store.h"
#include "concord/time.h"

using namespace concord;
using nlohmann::json;

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct RehearseOptions {
  std::string table;
  std::string state_dir;
  std::string trust;
  std::string tie = "crm";
  bool json = false;
};

// Reads one member of the table into the two snapshot writers. Errors name the row and field.
Status load_member(const json& m, std::size_t row, const TimeZone& zone, SnapshotWriter& mc_w,
                   SnapshotWriter& crm_w, std::vector<SnapshotEntry>& mc_page,
                   std::vector<SnapshotEntry>& crm_page) {
  const std::string where = "member #" + std::to_string(row);
  if (!m.is_object() || !m.contains("email") || !m["email"].is_string()) {
    return Status::invalid(where + ": \"email\" is missing or not a string");
  }
  const std::string raw = m["email"].get<std::string>();
  std::string email = normalise_email(raw);
  if (EmailProblem p = check_email(email); p != EmailProblem::kOk) {
    RejectedRow r{raw, raw, "email", std::string(describe(p))};
    if (m.contains("crm")) crm_w.reject(r);
    if (m.contains("mailchimp")) mc_w.reject(r);
    return Status::ok();
  }
  const MemberKey key = member_key(email);
  json names = {{"first_name", m.value("first_name", "")}, {"last_name", m.value("last_name", "")}};

  if (auto it = m.find("mailchimp"); it != m.end()) {
    const json& mc = *it;
    MailchimpState s;
    auto status = parse_mailchimp_status(mc.value("status", ""));
    if (!status)
      return Status::invalid(where + " (" + email +
                             "): mailchimp.status is not a Mailchimp status");
    s.status = *status;
    std::string reason = mc.value("unsubscribe_reason", "");
    if (s.status == MailchimpStatus::kUnsubscribed)
      s.unsubscribe_origin = unsubscribe_origin(reason);
    Result<Micros> t = parse_iso8601(mc.value("changed", ""));
    if (!t) return t.status().with_context(where + " (" + email + "): mailchimp.changed");
    s.changed_at = *t;
    json body = {{"merge_fields", {{"FNAME", names["first_name"]}, {"LNAME", names["last_name"]}}}};
    std::string b = body.dump();
    SnapshotEntry e{key, {}};
    encode_snapshot(mailchimp_header(s, content_hash(b, content_hash(email))), email, b, &e.value);
    mc_page.push_back(std::move(e));
  }
  if (auto it = m.find("crm"); it != m.end()) {
    const json& c = *it;
    CrmState s;
    std::string st = c.value("status", "");
    if (!st.empty()) {
      auto status = parse_crm_status(st);
      if (!status)
        return Status::invalid(where + " (" + email + "): crm.status \"" + st +
                               "\" is not Added, Removed, Pending or Deleted");
      s.status = *status;
      Result<Micros> local = parse_civil(c.value("date", ""));
      if (!local) return local.status().with_context(where + " (" + email + "): crm.date");
      s.changed_at = zone.local_to_utc(*local);
    }
    s.contact_known = c.contains("contact_id");
    s.trashed = c.value("is_deleted", false);
    s.do_not_email = c.value("do_not_email", false);
    s.is_opt_out = c.value("is_opt_out", false);
    s.email_on_hold = c.value("on_hold", false);
    s.duplicate = c.value("duplicate", false);
    json body = names;
    if (s.contact_known) body["contact_id"] = c["contact_id"];
    std::string b = body.dump();
    SnapshotEntry e{key, {}};
    encode_snapshot(crm_header(s, content_hash(b, content_hash(email))), email, b, &e.value);
    crm_page.push_back(std::move(e));
  }
  return Status::ok();
}

json plan_json(const Plan& plan, const std::string& name) {
  const PlanCounts& c = plan.counts;
  json ops = json::array();
  for (const Operation& op : plan.operations) {
    ops.push_back({{"email", op.email},
                   {"side", side_name(side_of(op.kind))},
                   {"action", op_kind_name(op.kind)},
                   {"reason", reason_name(op.reason)}});
  }
  json reports = json::array();
  for (const ReportRow& r : plan.reports) {
    reports.push_back(
        {{"email", r.email}, {"class", conflict_name(r.conflict)}, {"reason", r.reason}});
  }
  return {{"sync", name},
          {"first_run", plan.first_run},
          {"counts",
           {{"add_to_mailchimp", c.add_to_mailchimp},
            {"unsubscribe_in_mailchimp", c.unsubscribe_in_mailchimp},
            {"archive_in_mailchimp", c.archive_in_mailchimp},
            {"pending_in_mailchimp", c.pending_in_mailchimp},
            {"add_to_crm", c.add_to_crm},
            {"remove_from_crm", c.remove_from_crm},
            {"create_crm_contact", c.create_crm_contact},
            {"hold_crm_email", c.hold_crm_email},
            {"unchanged", c.unchanged},
            {"report_rows", c.report_rows}}},
          {"operations", ops},
          {"report", reports}};
}

void print_plan(const Plan& plan, const GuardVerdict& guard, const std::string& table) {
  const PlanCounts& c = plan.counts;
  std::printf("Rehearsal of %s%s\n\n", table.c_str(),
              plan.first_run ? " (first run: no base yet)" : "");
  const std::pair<const char*, std::uint64_t> outcomes[] = {
      {"stays subscribed", c.unchanged_in},
      {"removed from the CRM group", c.remove_from_crm},
      {"unsubscribed in Mailchimp", c.unsubscribe_in_mailchimp},
      {"added to Mailchimp", c.add_to_mailchimp},
      {"added to the CRM group", c.add_to_crm + c.create_crm_contact},
      {"  of which new CRM contacts", c.create_crm_contact},
      {"sent a confirmation (pending)", c.pending_in_mailchimp},
      {"archived in Mailchimp", c.archive_in_mailchimp},
      {"CRM email put on hold", c.hold_crm_email},
      {"report rows", c.report_rows},
  };
  for (const auto& [label, n] : outcomes) {
    std::printf("  %-34s %6llu\n", label, static_cast<unsigned long long>(n));
  }
  std::printf("\nOperations\n");
  for (const Operation& op : plan.operations) {
    std::printf("  %-9s %-26s %-28s %s\n", std::string(side_name(side_of(op.kind))).c_str(),
                std::string(op_kind_name(op.kind)).c_str(), op.email.c_str(),
                std::string(reason_name(op.reason)).c_str());
  }
  std::printf("\nFor a person to look at\n");
  for (const ReportRow& r : plan.reports) {
    std::printf("  %-14s %-28s %s\n", std::string(conflict_name(r.conflict)).c_str(),
                r.email.c_str(), r.reason.c_str());
  }
  if (guard.stop) {
    std::printf("\nA sync would stop here (exit status 3), changing nothing:\n");
    for (const auto& why : guard.reasons)
      std::printf("  - %s\n", why.c_str());
  }
}

int rehearse(const RehearseOptions& o) {
  std::ifstream in(o.table);
  if (!in) {
    std::fprintf(stderr, "concord: cannot read %s\n", o.table.c_str());
    return kExitUsage;
  }
  json table = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (table.is_discarded() || !table.is_object() || !table.contains("members") ||
      !table["members"].is_array()) {
    std::fprintf(stderr,
                 "concord: %s is not a member table (a JSON object with a \"members\" array)\n",
                 o.table.c_str());
    return kExitUsage;
  }
  auto zone = TimeZone::load(table.value("timezone", "UTC"));
  if (!zone) {
    std::fprintf(stderr, "concord: %s: timezone: %s\n", o.table.c_str(),
                 zone.status().message().c_str());
    return kExitUsage;
  }
  SyncOptions options;
  if (o.trust == "crm") options.trust = Trust::kCrm;
  if (o.trust == "mailchimp") options.trust = Trust::kMailchimp;
  if (o.tie == "mailchimp") options.tie = TieRule::kMailchimp;
  if (o.tie == "out") options.tie = TieRule::kOut;

  std::filesystem::path dir = o.state_dir;
  std::error_code ec;
  std::filesystem::remove_all(dir / "rehearsal-store", ec);
  auto store = Store::open(dir / "rehearsal-store");
  if (!store) {
    std::fprintf(stderr, "concord: %s\n", store.status().to_string().c_str());
    return kExitError;
  }
  const PairHandle* pair = (*store)->pair("rehearsal").value();
  SnapshotWriter mc_w(**store, *pair, Side::kMailchimp, SnapshotWriter::Mode::kFull);
  SnapshotWriter crm_w(**store, *pair, Side::kCrm, SnapshotWriter::Mode::kFull);
  std::vector<SnapshotEntry> mc_page, crm_page;
  std::size_t row = 0;
  for (const json& m : table["members"]) {
    Status s = load_member(m, ++row, **zone, mc_w, crm_w, mc_page, crm_page);
    if (!s) {
      std::fprintf(stderr, "concord: %s: %s\n", o.table.c_str(), s.message().c_str());
      return kExitUsage;
    }
  }
  for (auto [w, page] : {std::pair{&mc_w, &mc_page}, std::pair{&crm_w, &crm_page}}) {
    Status s = w->write_page(*page);
    if (s) s = w->finish();
    if (!s) {
      std::fprintf(stderr, "concord: %s\n", s.to_string().c_str());
      return kExitError;
    }
  }
  Result<Plan> plan = make_plan(**store, *pair, options);
  if (!plan) {
    std::fprintf(stderr, "concord: %s\n", plan.status().to_string().c_str());
    return kExitError;
  }
  GuardVerdict guard = check_guards(plan->counts, options);
  if (o.json) {
    json j = plan_json(*plan, "rehearsal");
    j["guard"] = {{"stop", guard.stop}, {"reasons", guard.reasons}};
    std::cout << j.dump(2) << "\n";
  } else {
    print_plan(*plan, guard, o.table);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"concord keeps a CRM group and a Mailchimp audience in agreement"};
  app.require_subcommand(1);
  RehearseOptions r;
  r.state_dir = "state";
  CLI::App* reh = app.add_subcommand("rehearse",
                                     "Run the decision rules on a table of members and show the "
                                     "plan (changes nothing outside the state directory)");
  reh->add_option("--table", r.table, "member table (JSON), e.g. fixtures/flintstones.json")
      ->required();
  reh->add_option("--state-dir", r.state_dir, "where the rehearsal store is kept")
      ->capture_default_str();
  reh->add_option("--trust", r.trust, "the side that wins every disagreement in this run")
      ->check(CLI::IsMember({"crm", "mailchimp"}));
  reh->add_option("--tie", r.tie, "who wins equal change times")
      ->check(CLI::IsMember({"crm", "mailchimp", "out"}))
      ->capture_default_str();
  reh->add_flag("--json", r.json, "print the plan as JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return rehearse(r);
}
