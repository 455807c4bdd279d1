#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <random>

#include "concord/diff.h"
#include "concord/email.h"
#include "concord/meta_keys.h"
#include "concord/record.h"
#include "concord/refusal.h"
#include "concord/snapshot.h"
#include "concord/store.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;

namespace {

Micros day(int month, int d) {
  return parse_civil((std::string("2026-") + (month < 10 ? "0" : "") + std::to_string(month) + "-" +
                      (d < 10 ? "0" : "") + std::to_string(d) + " 12:00:00"))
      .value();
}

// The in-memory sides of the property test: what each side holds, keyed by email.
struct Member {
  std::string email;
  std::optional<MailchimpState> mc;  // nullopt: not in the audience
  std::optional<CrmState> crm;       // nullopt: not in the CRM snapshot
};

void put_mc(Store& s, const PairHandle& p, const std::string& email, const MailchimpState& m) {
  std::string v;
  encode_snapshot(mailchimp_header(m, content_hash(email)), email, "{\"merge_fields\":{}}", &v);
  REQUIRE(s.put(p, Family::kMailchimp, member_key(email).view(), v).is_ok());
}

void put_crm(Store& s, const PairHandle& p, const std::string& email, const CrmState& c) {
  std::string v;
  encode_snapshot(crm_header(c, content_hash(email) ^ 1), email, "{\"contact_id\":1}", &v);
  REQUIRE(s.put(p, Family::kCrm, member_key(email).view(), v).is_ok());
}

void put_base(Store& s, const PairHandle& p, const std::string& email, const BaseRecord& b) {
  std::string v;
  encode_base(b, &v);
  REQUIRE(s.put(p, Family::kBase, member_key(email).view(), v).is_ok());
}

// Writes the sides into the snapshots (full fetches) as a fetch would.
void write_snapshots(TempStore& t, const std::map<std::string, Member>& members) {
  REQUIRE(t.store->clear(*t.pair, Family::kMailchimp).is_ok());
  REQUIRE(t.store->clear(*t.pair, Family::kCrm).is_ok());
  for (const auto& [email, m] : members) {
    if (m.mc) put_mc(*t.store, *t.pair, email, *m.mc);
    if (m.crm) put_crm(*t.store, *t.pair, email, *m.crm);
  }
}

// Applies a plan to the in-memory sides as a perfect applier would, writing the bases it would.
void apply(TempStore& t, std::map<std::string, Member>& members, const Plan& plan, Micros now) {
  std::map<std::string, BaseRecord> base_after;
  for (const Operation& op : plan.operations) {
    Member& m = members.at(op.email);
    BaseRecord b = op.base_after;
    switch (op.kind) {
      case OpKind::kMailchimpSubscribe:
      case OpKind::kMailchimpPending:
        m.mc = MailchimpState{op.kind == OpKind::kMailchimpSubscribe ? MailchimpStatus::kSubscribed
                                                                     : MailchimpStatus::kPending,
                              UnsubscribeOrigin::kUnknown, now};
        b.mailchimp_changed_at = now;
        break;
      case OpKind::kMailchimpUnsubscribe:
        m.mc = MailchimpState{MailchimpStatus::kUnsubscribed, UnsubscribeOrigin::kAdmin, now};
        b.mailchimp_changed_at = now;
        break;
      case OpKind::kMailchimpArchive:
        m.mc = MailchimpState{MailchimpStatus::kArchived, UnsubscribeOrigin::kUnknown, now};
        b.mailchimp_changed_at = now;
        break;
      case OpKind::kMailchimpAddTag:
      case OpKind::kMailchimpRemoveTag:
      case OpKind::kMailchimpAddInterest:
      case OpKind::kMailchimpRemoveInterest:
        m.mc = m.mc.value_or(MailchimpState{});
        m.mc->mark = op_info(op.kind).target;
        m.mc->changed_at = now;
        b.mailchimp_changed_at = now;
        break;
      case OpKind::kCrmAdd:
      case OpKind::kCrmCreateContact: {
        CrmState c = m.crm.value_or(CrmState{});
        if (op.kind == OpKind::kCrmCreateContact) c = CrmState{};  // a new, untrashed contact
        c.status = CrmStatus::kAdded;
        c.changed_at = now;
        c.contact_known = true;
        m.crm = c;
        b.crm_changed_at = now;
        break;
      }
      case OpKind::kCrmRemove:
        m.crm->status = CrmStatus::kRemoved;
        m.crm->changed_at = now;
        b.crm_changed_at = now;
        break;
      case OpKind::kCrmHoldEmail:
      case OpKind::kCrmReleaseHold:
        m.crm->email_on_hold = op.kind == OpKind::kCrmHoldEmail;
        continue;  // not a membership change
      case OpKind::kMailchimpUpdateFields:
      case OpKind::kCrmUpdateFields:
      case OpKind::kMailchimpChangeEmail:
      case OpKind::kCrmChangeEmail:
        continue;  // these tests map no fields and change no address
    }
    base_after[op.email] = b;
  }
  write_snapshots(t, members);
  for (const auto& [email, b] : base_after)
    put_base(*t.store, *t.pair, email, b);
  for (const auto& [key, b] : plan.base_updates) {
    if (b) {
      std::string v;
      encode_base(*b, &v);
      REQUIRE(t.store->put(*t.pair, Family::kBase, key.view(), v).is_ok());
    } else {
      Batch batch;
      batch.del(*t.pair, Family::kBase, key.view());
      REQUIRE(t.store->write(batch).is_ok());
    }
  }
}

std::map<std::string, Member> random_members(std::mt19937& rng, int n, TempStore& t) {
  std::map<std::string, Member> members;
  std::uniform_int_distribution<int> pick(0, 99);
  std::uniform_int_distribution<int> dayd(1, 28);
  auto time = [&] { return pick(rng) < 5 ? kNoTime : day(1 + pick(rng) % 6, dayd(rng)); };
  for (int i = 0; i < n; ++i) {
    Member m;
    m.email = "member" + std::to_string(i) + "@example.org";
    int r = pick(rng);
    if (r < 75) {
      static const MailchimpStatus statuses[] = {
          MailchimpStatus::kSubscribed,   MailchimpStatus::kSubscribed,
          MailchimpStatus::kPending,      MailchimpStatus::kUnsubscribed,
          MailchimpStatus::kUnsubscribed, MailchimpStatus::kCleaned,
          MailchimpStatus::kArchived,     MailchimpStatus::kTransactional,
          MailchimpStatus::kForgotten};
      MailchimpState s;
      s.status = statuses[pick(rng) % 9];
      if (s.status == MailchimpStatus::kUnsubscribed) {
        s.unsubscribe_origin = static_cast<UnsubscribeOrigin>(pick(rng) % 3);
      }
      s.changed_at = time();
      m.mc = s;
    }
    r = pick(rng);
    if (r < 75) {
      CrmState c;
      c.status = static_cast<CrmStatus>(pick(rng) % 5);
      c.changed_at = c.status == CrmStatus::kNone ? kNoTime : time();
      c.contact_known = pick(rng) < 90;
      c.trashed = c.contact_known && pick(rng) < 8;
      c.do_not_email = pick(rng) < 5;
      c.is_opt_out = pick(rng) < 5;
      c.email_on_hold = pick(rng) < 5;
      c.duplicate = pick(rng) < 5;
      m.crm = c;
    }
    if (pick(rng) < 40) {
      BaseRecord b;
      b.membership = pick(rng) < 50 ? Membership::kIn : Membership::kOut;
      b.mailchimp_changed_at = time();
      b.crm_changed_at = time();
      put_base(*t.store, *t.pair, m.email, b);
    }
    members[m.email] = m;
  }
  return members;
}

}  // namespace

TEST_CASE("the five people of the decision rules, through the store and the diff") {
  TempStore t;
  Store& s = *t.store;
  const PairHandle& p = *t.pair;
  put_mc(s, p, "wilma@bedrock.org", {MailchimpStatus::kSubscribed, {}, day(1, 1)});
  put_crm(s, p, "wilma@bedrock.org", {CrmStatus::kAdded, day(1, 5), true});
  put_mc(s, p, "barney@bedrock.org", {MailchimpStatus::kUnsubscribed, {}, day(1, 2)});
  put_crm(s, p, "barney@bedrock.org", {CrmStatus::kAdded, day(1, 1), true});
  put_mc(s, p, "fred@bedrock.org", {MailchimpStatus::kSubscribed, {}, day(1, 3)});
  put_crm(s, p, "fred@bedrock.org", {CrmStatus::kRemoved, day(1, 4), true});
  put_crm(s, p, "betty@bedrock.org", {CrmStatus::kAdded, day(1, 4), true});
  put_mc(s, p, "pebbles@bedrock.org", {MailchimpStatus::kSubscribed, {}, day(1, 1)});

  Result<Plan> plan = make_plan(s, p, SyncOptions{});
  REQUIRE(plan.is_ok());
  CHECK(plan->first_run);
  std::map<std::string, std::vector<OpKind>> ops;
  for (const Operation& op : plan->operations)
    ops[op.email].push_back(op.kind);
  CHECK(ops.count("wilma@bedrock.org") == 0);  // stays subscribed
  CHECK(ops["barney@bedrock.org"] == std::vector<OpKind>{OpKind::kCrmRemove});
  CHECK(ops["fred@bedrock.org"] == std::vector<OpKind>{OpKind::kMailchimpUnsubscribe});
  CHECK(ops["betty@bedrock.org"] == std::vector<OpKind>{OpKind::kMailchimpSubscribe});
  CHECK(ops["pebbles@bedrock.org"] == std::vector<OpKind>{OpKind::kCrmCreateContact});

  const PlanCounts& c = plan->counts;
  CHECK(c.unchanged == 1);
  CHECK(c.unchanged_in == 1);
  CHECK(c.remove_from_crm == 1);
  CHECK(c.unsubscribe_in_mailchimp == 1);
  CHECK(c.add_to_mailchimp == 1);
  CHECK(c.create_crm_contact == 1);
  CHECK(c.mailchimp_members == 4);
  CHECK(c.crm_members == 4);
  CHECK(c.mailchimp_in == 3);  // wilma, fred, pebbles
  CHECK(c.crm_in == 3);        // wilma, barney, betty
  // Barney and Fred were both-changed decisions: listed as resolved conflicts.
  CHECK(c.report_rows == 2);
  for (const ReportRow& r : plan->reports) {
    CHECK(r.conflict == Conflict::kBothChanged);
    CHECK((r.email == "barney@bedrock.org" || r.email == "fred@bedrock.org"));
    CHECK_FALSE(r.reason.empty());
  }
  // Wilma agreed: her base is recorded without any write.
  REQUIRE(plan->base_updates.size() == 1);
  CHECK(plan->base_updates[0].first == member_key("wilma@bedrock.org"));
  CHECK(plan->base_updates[0].second->membership == Membership::kIn);
}

TEST_CASE("unchanged members are skipped on their headers: their JSON is never read") {
  TempStore t;
  MailchimpState m{MailchimpStatus::kSubscribed, {}, day(2, 1)};
  CrmState c{CrmStatus::kAdded, day(2, 2), true};
  // Bodies that are not JSON: reading them would fail.
  std::string mv, cv;
  encode_snapshot(mailchimp_header(m, 11), "x@example.org", "{not json", &mv);
  encode_snapshot(crm_header(c, 22), "x@example.org", "\x01\x02", &cv);
  auto key = member_key("x@example.org");
  REQUIRE(t.store->put(*t.pair, Family::kMailchimp, key.view(), mv).is_ok());
  REQUIRE(t.store->put(*t.pair, Family::kCrm, key.view(), cv).is_ok());
  put_base(*t.store, *t.pair, "x@example.org", {Membership::kIn, day(2, 1), day(2, 2), 11, 22});
  Result<Plan> plan = make_plan(*t.store, *t.pair, SyncOptions{});
  REQUIRE(plan.is_ok());
  CHECK_FALSE(plan->first_run);
  CHECK(plan->operations.empty());
  CHECK(plan->base_updates.empty());
  CHECK(plan->counts.unchanged == 1);
}

TEST_CASE("a field edit changes only the content hash: no operation, base refreshed") {
  TempStore t;
  put_mc(*t.store, *t.pair, "x@example.org", {MailchimpStatus::kSubscribed, {}, day(2, 1)});
  put_crm(*t.store, *t.pair, "x@example.org", {CrmStatus::kAdded, day(2, 2), true});
  // The base remembers other content hashes (say FNAME changed since).
  put_base(*t.store, *t.pair, "x@example.org", {Membership::kIn, day(2, 1), day(2, 2), 1, 2});
  Result<Plan> plan = make_plan(*t.store, *t.pair, SyncOptions{});
  REQUIRE(plan.is_ok());
  CHECK(plan->operations.empty());
  REQUIRE(plan->base_updates.size() == 1);
  CHECK(plan->base_updates[0].second->mailchimp_hash == content_hash("x@example.org"));
}

TEST_CASE("a member gone from both sides has its base erased") {
  TempStore t;
  put_base(*t.store, *t.pair, "gone@example.org", {Membership::kIn, day(1, 1), day(1, 1), 0, 0});
  Result<Plan> plan = make_plan(*t.store, *t.pair, SyncOptions{});
  REQUIRE(plan.is_ok());
  REQUIRE(plan->base_updates.size() == 1);
  CHECK_FALSE(plan->base_updates[0].second.has_value());
  CHECK(plan->counts.base_in == 1);
}

TEST_CASE("a corrupt stored record stops the diff with the family and subscriber hash") {
  TempStore t;
  REQUIRE(t.store->put(*t.pair, Family::kCrm, member_key("bad@example.org").view(), "xx").is_ok());
  Result<Plan> plan = make_plan(*t.store, *t.pair, SyncOptions{});
  REQUIRE_FALSE(plan.is_ok());
  CHECK(plan.status().code() == Status::Code::kCorruption);
  CHECK(plan.status().message().find("crm record " + subscriber_hash("bad@example.org")) !=
        std::string::npos);
}

TEST_CASE("rejected rows are invalid-email report rows") {
  TempStore t;
  SnapshotWriter w(*t.store, *t.pair, Side::kCrm, SnapshotWriter::Mode::kFull);
  w.reject({"101", "fred at bedrock", "email", "the address has no '@'"});
  REQUIRE(w.finish().is_ok());
  Result<Plan> plan = make_plan(*t.store, *t.pair, SyncOptions{});
  REQUIRE(plan.is_ok());
  REQUIRE(plan->reports.size() == 1);
  const ReportRow& r = plan->reports[0];
  CHECK(r.conflict == Conflict::kInvalidEmail);
  CHECK(r.email == "fred at bedrock");
  CHECK(r.side == "crm");
  CHECK(r.reason.find("no '@'") != std::string::npos);
  CHECK(r.reason.find("101") != std::string::npos);
  CHECK(plan->operations.empty());
}

TEST_CASE("refusals stored in meta reach decide(): refused addresses are not sent again") {
  TempStore t;
  Store& s = *t.store;
  const PairHandle& p = *t.pair;
  // Three CRM members Mailchimp does not have; two were refused before, in any key order.
  for (const char* e : {"fake@example.com", "gone@example.org", "new@example.org"})
    put_crm(s, p, e, {CrmStatus::kAdded, day(1, 4), true});
  REQUIRE(s.put(p, Family::kMeta, meta::refusal_key(member_key("fake@example.com")),
                encode_refusal({Refusal::kInvalidAddress, 3, "looks fake or invalid"}))
              .is_ok());
  // A refusal stored as text by an earlier release.
  REQUIRE(s.put(p, Family::kMeta, meta::refusal_key(member_key("gone@example.org")),
                "forgotten: run 4: Forgotten Email Not Subscribed")
              .is_ok());
  // Meta keys around the refusals are not refusals.
  REQUIRE(s.put(p, Family::kMeta, "refused/not-a-hash", "x").is_ok());
  REQUIRE(s.put(p, Family::kMeta, "runs.last_id", "4").is_ok());

  Result<Plan> plan = make_plan(s, p, SyncOptions{});
  REQUIRE(plan.is_ok());
  REQUIRE(plan->operations.size() == 1);
  CHECK(plan->operations[0].email == "new@example.org");
  std::map<std::string, const ReportRow*> rows;
  for (const ReportRow& r : plan->reports)
    rows[r.email] = &r;
  REQUIRE(rows.count("fake@example.com"));
  CHECK(rows["fake@example.com"]->conflict == Conflict::kInvalidEmail);
  CHECK(rows["fake@example.com"]->reason.find("run 3: looks fake or invalid") != std::string::npos);
  REQUIRE(rows.count("gone@example.org"));
  CHECK(rows["gone@example.org"]->conflict == Conflict::kForgotten);
  CHECK(rows["gone@example.org"]->reason.find("run 4") != std::string::npos);
}

TEST_CASE("guards stop plans that remove too many, or follow an empty snapshot") {
  PlanCounts c;
  c.mailchimp_members = c.crm_members = 100;
  c.mailchimp_in = c.crm_in = 100;
  c.base_in = 100;
  SyncOptions o;
  c.unsubscribe_in_mailchimp = 10;
  CHECK_FALSE(check_guards(c, o, /*first_run=*/false).stop);  // exactly 10% is allowed
  c.unsubscribe_in_mailchimp = 11;
  GuardVerdict v = check_guards(c, o, /*first_run=*/false);
  CHECK(v.stop);
  REQUIRE(v.reasons.size() == 1);
  CHECK(v.reasons[0].find("11 of 100") != std::string::npos);
  o.allow_mass_removal = true;
  CHECK_FALSE(check_guards(c, o, /*first_run=*/false).stop);
  o.allow_mass_removal = false;
  c.unsubscribe_in_mailchimp = 0;
  c.remove_from_crm = 20;
  CHECK(check_guards(c, o, /*first_run=*/false).stop);
  c.remove_from_crm = 0;
  c.crm_members = 0;
  v = check_guards(c, o, /*first_run=*/false);
  CHECK(v.stop);
  CHECK(v.reasons.at(0).find("CRM snapshot is empty") != std::string::npos);
  o.allow_mass_removal = true;  // does not lift the empty-snapshot guard
  CHECK(check_guards(c, o, /*first_run=*/false).stop);
}

TEST_CASE("the addition guard stops a run that subscribes or creates too many, not a first one") {
  // The audience and the group have 100 IN members each; max_addition_fraction is 0.25 unless a
  // row says otherwise.
  struct Row {
    const char* name;
    std::uint64_t subscribe, pending, create;
    bool first_run = false;
    bool allow = false;
    double fraction = 0.25;
    bool stops;
    const char* names = "";  // a word the reason must hold
  };
  const std::vector<Row> rows = {
      {"nothing added", 0, 0, 0, false, false, 0.25, false},
      {"exactly the share subscribed", 25, 0, 0, false, false, 0.25, false},
      {"one subscribe too many", 26, 0, 0, false, false, 0.25, true,
       "subscribes 26 members in Mailchimp"},
      {"pending subscribes count too", 20, 6, 0, false, false, 0.25, true, "(25%) of the audience"},
      {"too many new CRM contacts", 0, 0, 26, false, false, 0.25, true,
       "creates 26 new CRM contacts"},
      {"the reason names the key and the flag", 0, 0, 30, false, false, 0.25, true,
       "max_addition_fraction (25%) of the CRM group's 100 IN members; check the plan, then rerun "
       "with --allow-mass-addition"},
      {"a first run adds everyone", 100, 0, 100, true, false, 0.25, false},
      {"--allow-mass-addition lifts it", 100, 0, 100, false, true, 0.25, false},
      {"a higher fraction allows more", 50, 0, 50, false, false, 0.5, false},
      {"zero allows none", 1, 0, 0, false, false, 0.0, true, "(0%)"},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.name) {
      PlanCounts c;
      c.mailchimp_members = c.crm_members = 120;
      c.mailchimp_in = c.crm_in = 100;
      c.base_in = 100;
      c.add_to_mailchimp = row.subscribe;
      c.pending_in_mailchimp = row.pending;
      c.create_crm_contact = row.create;
      SyncOptions o;
      CHECK(o.max_addition_fraction == Approx(0.25));  // the documented default
      o.max_addition_fraction = row.fraction;
      o.allow_mass_addition = row.allow;
      const GuardVerdict v = check_guards(c, o, row.first_run);
      CHECK(v.stop == row.stops);
      if (row.stops) {
        REQUIRE(v.reasons.size() == 1);
        CHECK_THAT(v.reasons[0], Catch::Matchers::Contains(row.names));
      }
    }
  }
}

TEST_CASE("the addition guard leaves a side with no IN members to fill up") {
  // After a first sync of an empty audience and group, the people signing up are all additions.
  PlanCounts c;
  c.mailchimp_members = 3;
  c.mailchimp_in = 3;
  c.crm_in = 0;
  c.create_crm_contact = 3;
  CHECK_FALSE(check_guards(c, SyncOptions{}, /*first_run=*/false).stop);
  // One IN member is a share to exceed.
  c.crm_in = 1;
  c.crm_members = 1;
  c.base_in = 1;
  CHECK(check_guards(c, SyncOptions{}, /*first_run=*/false).stop);
}

TEST_CASE("--allow-mass-removal does not lift the addition guard, nor the other way round") {
  PlanCounts c;
  c.mailchimp_members = c.crm_members = 100;
  c.mailchimp_in = c.crm_in = 100;
  c.add_to_mailchimp = 30;
  c.remove_from_crm = 30;
  SyncOptions o;
  o.allow_mass_removal = true;
  GuardVerdict v = check_guards(c, o, /*first_run=*/false);
  REQUIRE(v.reasons.size() == 1);
  CHECK_THAT(v.reasons[0], Catch::Matchers::Contains("--allow-mass-addition"));
  o.allow_mass_removal = false;
  o.allow_mass_addition = true;
  v = check_guards(c, o, /*first_run=*/false);
  REQUIRE(v.reasons.size() == 1);
  CHECK_THAT(v.reasons[0], Catch::Matchers::Contains("--allow-mass-removal"));
  // A first run is spared the addition guard only: removals are still guarded.
  o.allow_mass_addition = false;
  v = check_guards(c, o, /*first_run=*/true);
  REQUIRE(v.reasons.size() == 1);
  CHECK_THAT(v.reasons[0], Catch::Matchers::Contains("max_removal_fraction"));
}

TEST_CASE("property: after applying a plan, the next diff has no operations; then no-op again") {
  struct Variant {
    const char* name;
    SyncOptions options;
  };
  std::vector<Variant> variants;
  variants.push_back({"defaults", SyncOptions{}});
  SyncOptions strict;
  strict.tie = TieRule::kOut;
  strict.removal = RemovalMode::kArchive;
  strict.resubscribe = Resubscribe::kNever;
  strict.double_opt_in = true;
  strict.hold_cleaned = false;
  strict.skew_margin = 3600 * kMicrosPerSecond;
  variants.push_back({"tie out, archive, never, double opt-in, 1h skew", strict});
  SyncOptions tie_mc;
  tie_mc.tie = TieRule::kMailchimp;
  tie_mc.respect_crm_opt_out = false;
  variants.push_back({"tie mailchimp, opt-outs not respected", tie_mc});
  SyncOptions trust_crm;
  trust_crm.trust = Trust::kCrm;
  variants.push_back({"trust crm", trust_crm});
  SyncOptions trust_mc;
  trust_mc.trust = Trust::kMailchimp;
  variants.push_back({"trust mailchimp", trust_mc});

  for (const Variant& v : variants) {
    for (unsigned seed : {1u, 2u, 3u}) {
      DYNAMIC_SECTION(v.name << ", seed " << seed) {
        TempStore t;
        std::mt19937 rng(seed);
        auto members = random_members(rng, 1500, t);
        write_snapshots(t, members);

        Result<Plan> first = make_plan(*t.store, *t.pair, v.options);
        REQUIRE(first.is_ok());
        CHECK(first->operations.size() > 100);  // the random sides do disagree
        apply(t, members, *first, day(8, 1));

        Result<Plan> second = make_plan(*t.store, *t.pair, v.options);
        REQUIRE(second.is_ok());
        CHECK(second->operations.empty());
        for (const Operation& op : second->operations) {
          const Member& m = members.at(op.email);
          INFO(op.email << " " << op_kind_name(op.kind) << " " << reason_name(op.reason)
                        << " mc=" << (m.mc ? mailchimp_status_name(m.mc->status) : "-")
                        << " crm=" << (m.crm ? crm_status_name(m.crm->status) : "-")
                        << (m.crm && m.crm->trashed ? " trashed" : ""));
          CHECK(false);
        }
        apply(t, members, *second, day(8, 2));

        Result<Plan> third = make_plan(*t.store, *t.pair, v.options);
        REQUIRE(third.is_ok());
        CHECK(third->operations.empty());
        CHECK(third->base_updates.empty());
        // What could not be settled is still reported, run after run.
        CHECK(third->counts.report_rows <= second->counts.report_rows);
      }
    }
  }
}

// ---- address moves (moves.h): the diff's part, as a table ---------------------------------------

TEST_CASE("an address move is decided as the same member moving, or reported") {
  const MailchimpState mc_in{MailchimpStatus::kSubscribed, {}, day(1, 1)};
  const CrmState crm_in{CrmStatus::kAdded, day(1, 2), true};
  const BaseRecord base_in{Membership::kIn, day(1, 1), day(1, 2), 7, 8};
  struct Row {
    const char* name;
    Side moved_in;               // where the address changed
    bool other_has_old = true;   // the other side still has the old address
    bool other_has_new = false;  // the other side has the new address already
    bool other_moved = false;    // the other side recorded the same move
    std::string refused{};
    bool occupied = false;
    std::optional<OpKind> op{};  // the one operation planned
    bool reported = false;       // an address-change row for the new address
    bool settled = false;        // the move needs nothing more
  };
  const std::vector<Row> rows = {
      {"the CRM changed it: Mailchimp's member follows", Side::kCrm, true, false, false, "", false,
       OpKind::kMailchimpChangeEmail},
      {"Mailchimp changed it: the CRM contact follows", Side::kMailchimp, true, false, false, "",
       false, OpKind::kCrmChangeEmail},
      {"the new address is another member's on the other side: reported", Side::kCrm, true, true,
       false, "", false, std::nullopt, true},
      {"it was another contact's on the same side: reported", Side::kCrm, true, false, false, "",
       true, std::nullopt, true},
      {"the other side refused to follow: reported, not sent again", Side::kCrm, true, false, false,
       "This member's status is unsubscribed", false, std::nullopt, true},
      {"the other side never had the old address: settled, and the member decided as any",
       Side::kCrm, false, false, false, "", false, OpKind::kMailchimpSubscribe, false, true},
      {"both sides moved: settled, no operation", Side::kCrm, false, true, true, "", false,
       std::nullopt, false, true},
  };
  for (const Row& r : rows) {
    SECTION(r.name) {
      TempStore t;
      const std::string from = "wilma@example.org", to = "wilma.f@example.org";
      const Side other = r.moved_in == Side::kCrm ? Side::kMailchimp : Side::kCrm;
      auto put_side = [&](Side s, const std::string& email) {
        if (s == Side::kMailchimp) {
          put_mc(*t.store, *t.pair, email, mc_in);
        } else {
          put_crm(*t.store, *t.pair, email, crm_in);
        }
      };
      put_side(r.moved_in, to);
      if (r.other_has_old) put_side(other, from);
      if (r.other_has_new) put_side(other, to);
      put_base(*t.store, *t.pair, from, base_in);
      AddressMove m{r.moved_in, from, to, "101", r.refused, r.occupied};
      REQUIRE(
          t.store->put(*t.pair, Family::kMeta, move_key(m.side, m.to()), encode_move(m)).is_ok());
      if (r.other_moved) {
        AddressMove o{other, from, to, "x", "", false};
        REQUIRE(
            t.store->put(*t.pair, Family::kMeta, move_key(o.side, o.to()), encode_move(o)).is_ok());
      }
      Plan plan;
      Result<DiffResult> d = diff(*t.store, *t.pair, SyncOptions{}, plan);
      REQUIRE(d.is_ok());
      if (r.op) {
        REQUIRE(plan.operations.size() == 1);
        CHECK(plan.operations[0].kind == *r.op);
        CHECK(plan.operations[0].email == to);
        const bool change =
            *r.op == OpKind::kMailchimpChangeEmail || *r.op == OpKind::kCrmChangeEmail;
        CHECK(plan.operations[0].from_email == (change ? from : ""));
      } else {
        CHECK(plan.operations.empty());  // never unsubscribe-old plus subscribe-new
      }
      bool reported = false;
      for (const ReportRow& row : plan.reports)
        reported |= row.conflict == Conflict::kAddressChange && row.email == to;
      CHECK(reported == r.reported);
      CHECK(!d->settled_moves.empty() == r.settled);
      if (r.other_moved) {
        // The base moved to the new address with the member.
        bool moved = false;
        for (const auto& [key, b] : plan.base_updates)
          moved |= key == member_key(to) && b.has_value() && b->membership == Membership::kIn;
        CHECK(moved);
      }
    }
  }
}

TEST_CASE("a run that no guard can stop is known before its plan is made") {
  // guards_may_stop() says, before the plan, whether check_guards() could stop any plan of the
  // pair: each row's options are tried against plans that trip every guard there is.
  struct Row {
    const char* name;
    bool allow_removal, allow_addition, first_run, base_empty;
    bool may_stop;
  };
  const std::vector<Row> rows = {
      {"a first sync with removals allowed, over an empty base", true, false, true, true, false},
      {"a later run with both allowed, over an empty base", true, true, false, true, false},
      {"removals not allowed", false, true, true, true, true},
      {"a later run, additions not allowed", true, false, false, true, true},
      {"a base to compare the sides with", true, true, true, false, true},
  };
  // Plans over an empty base (base_in 0) or one of 100 IN members; each trips one guard.
  auto plans = [](bool base_empty) {
    std::vector<PlanCounts> out;
    PlanCounts c;
    c.mailchimp_members = c.crm_members = c.mailchimp_in = c.crm_in = 100;
    c.base_in = base_empty ? 0 : 100;
    PlanCounts removes = c;
    removes.unsubscribe_in_mailchimp = 90;
    PlanCounts removes_crm = c;
    removes_crm.remove_from_crm = 90;
    PlanCounts adds = c;
    adds.add_to_mailchimp = 90;
    PlanCounts creates = c;
    creates.create_crm_contact = 90;
    PlanCounts empty = c;
    empty.mailchimp_members = empty.mailchimp_in = 0;
    PlanCounts empty_crm = c;
    empty_crm.crm_members = empty_crm.crm_in = 0;
    return std::vector<PlanCounts>{removes, removes_crm, adds, creates, empty, empty_crm};
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.name) {
      SyncOptions o;
      o.allow_mass_removal = row.allow_removal;
      o.allow_mass_addition = row.allow_addition;
      CHECK(guards_may_stop(o, row.first_run, row.base_empty) == row.may_stop);
      bool some_stopped = false;
      for (const PlanCounts& c : plans(row.base_empty))
        some_stopped |= check_guards(c, o, row.first_run).stop;
      CHECK(some_stopped == row.may_stop);
    }
  }
}
