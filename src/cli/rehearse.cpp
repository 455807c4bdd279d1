// `concord rehearse`: the decision rules on a table of members (fixtures/flintstones.json), with
// no side reached: what a first run would do, counted by outcome, each operation with its reason,
// and the report rows.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "cli/plan_listing.h"
#include "concord/diff.h"
#include "concord/email.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "concord/time.h"

namespace concord::cli {
namespace {

using nlohmann::json;

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

void print_plan(const DiffResult& plan, const PlanListing& listing, const GuardVerdict& guard,
                const std::string& table) {
  std::printf("Rehearsal of %s%s\n\n", table.c_str(),
              plan.first_run ? " (first run: no base yet)" : "");
  print_counts(plan.counts, stdout);
  std::printf("\nOperations\n");
  listing.print_operations(stdout);
  std::printf("\nFor a person to look at\n");
  listing.print_report_rows(stdout);
  if (guard.stop) {
    std::printf("\nA sync would stop here (exit status 3), changing nothing:\n");
    for (const auto& why : guard.reasons)
      std::printf("  - %s\n", why.c_str());
  }
}

}  // namespace

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
  // A rehearsal prints every operation: the text listing keeps them all.
  PlanListing listing(o.json ? 0 : SIZE_MAX, /*spool=*/o.json);
  Result<DiffResult> plan = diff(**store, *pair, options, listing);
  if (!plan) {
    std::fprintf(stderr, "concord: %s\n", plan.status().to_string().c_str());
    return kExitError;
  }
  // A rehearsal has no runs: its table's base says whether the pair was synced before.
  GuardVerdict guard = check_guards(plan->counts, options, plan->first_run);
  if (o.json) {
    json j = plan_json(plan->counts, plan->first_run, "rehearsal");
    j["guard"] = {{"stop", guard.stop}, {"reasons", guard.reasons}};
    Status s = print_plan_json(j, listing, stdout);
    std::fputs("\n", stdout);
    if (!s) {
      std::fprintf(stderr, "concord: %s\n", s.to_string().c_str());
      return kExitError;
    }
  } else {
    print_plan(*plan, listing, guard, o.table);
  }
  return 0;
}

}  // namespace concord::cli
