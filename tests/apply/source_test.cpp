// A one-way pair through the engine: a source's set (a fake SourceReader, read by the real
// source_side adapter and the snapshot stage) mirrored into a fake audience. What Auth0 users and
// cohort mirrors must do: add and update only, or mirror exactly; never resubscribe someone who
// unsubscribed themself; report people without a usable address; follow address changes; run a
// one-time mirror once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "concord/engine.h"
#include "concord/meta_keys.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "concord/undo.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;

namespace {

class FakeClock : public Clock {
 public:
  Micros now() const override { return t; }
  Micros t = parse_iso8601("2026-03-01T00:00:00Z").value();
};

// The source: a set of people, read whole (a cohort) or, when `incremental`, by updated_at; when
// `by_ids` (a Mautic segment), its members are also listed and read by id.
class FakeSource final : public SourceReader {
 public:
  std::vector<SourcePerson> people;
  bool is_incremental = false;
  bool by_ids = false;
  std::vector<Micros> read_since_calls;
  std::vector<std::vector<std::string>> read_ids_calls;
  std::uint64_t reads = 0;

  Status resolve() override { return Status::ok(); }
  std::string set_name() const override { return "Power users"; }
  bool incremental() const override { return is_incremental; }
  std::uint64_t requests() const override { return reads; }

  Result<SideRead> read_all(SourceSink& sink) override {
    ++reads;
    std::vector<SourcePerson> page = people;
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, now};
  }
  Result<SideRead> read_since(Micros watermark, SourceSink& sink) override {
    ++reads;
    read_since_calls.push_back(watermark);
    std::vector<SourcePerson> page;
    for (const SourcePerson& p : people) {
      if (p.updated_at >= watermark) page.push_back(p);
    }
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, now};
  }
  bool lists_ids() const override { return by_ids; }
  Result<std::vector<std::string>> list_ids() override {
    ++reads;
    std::vector<std::string> ids;
    for (const SourcePerson& p : people)
      ids.push_back(p.id);
    return ids;
  }
  Result<SideRead> read_ids(const std::vector<std::string>& ids, SourceSink& sink,
                            std::vector<std::string>* absent) override {
    ++reads;
    read_ids_calls.push_back(ids);
    std::vector<SourcePerson> page;
    for (const std::string& id : ids) {
      auto it = std::find_if(people.begin(), people.end(),
                             [&](const SourcePerson& p) { return p.id == id; });
      if (it == people.end()) {
        absent->push_back(id);
      } else {
        page.push_back(*it);
      }
    }
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, kNoTime};
  }
  Micros now = kNoTime;
};

SourcePerson person(std::string id, std::string email, Micros updated = kNoTime) {
  SourcePerson p;
  p.id = std::move(id);
  p.email = std::move(email);
  p.updated_at = updated;
  return p;
}

// The audience: members by address; writes change them as Mailchimp would.
class FakeAudience final : public SyncSide {
 public:
  explicit FakeAudience(FakeClock& clock) : clock_(clock) {}
  struct Member {
    MailchimpStatus status = MailchimpStatus::kSubscribed;
    UnsubscribeOrigin origin = UnsubscribeOrigin::kUnknown;
    bool tagged = false;
  };
  std::map<std::string, Member> members;
  bool tag_target = false;          // the pair's target is a tag: members are read with their mark
  std::vector<std::string> writes;  // "<email> <op>"

  Side side() const override { return Side::kMailchimp; }
  Status resolve() override { return Status::ok(); }
  std::size_t batch_size() const override { return 100; }
  std::uint64_t requests() const override { return writes.size(); }

  std::string entry(const std::string& email, const Member& m) const {
    MailchimpState st;
    st.status = m.status;
    st.unsubscribe_origin = m.origin;
    st.changed_at = parse_iso8601("2026-01-01T00:00:00Z").value();
    if (tag_target) st.mark = m.tagged ? Membership::kIn : Membership::kOut;
    std::string v;
    encode_snapshot(mailchimp_header(st, 1), email, R"({"merge_fields":{}})", &v);
    return v;
  }
  Result<FetchStats> fetch(bool, Store& store, const PairHandle& pair) override {
    SnapshotWriter w(store, pair, Side::kMailchimp, SnapshotWriter::Mode::kFull);
    std::vector<SnapshotEntry> page;
    for (const auto& [email, m] : members)
      page.push_back({member_key(email), entry(email, m)});
    if (Status s = w.write_page(page); !s) return s;
    if (Status s = w.finish(); !s) return s;
    return FetchStats{};
  }
  Result<FetchStats> refresh(const std::vector<std::string>&, Store&, const PairHandle&) override {
    return FetchStats{};
  }
  std::vector<SideOutcome> apply(const std::vector<SideWrite>& ws) override {
    std::vector<SideOutcome> out;
    for (const SideWrite& w : ws) {
      writes.push_back(w.email + " " + std::string(op_kind_name(w.kind)));
      SideOutcome o;
      o.code = SideOutcome::Code::kDone;
      o.changed_at = clock_.now();
      switch (w.kind) {
        case OpKind::kMailchimpSubscribe:
          members[w.email] = {MailchimpStatus::kSubscribed, UnsubscribeOrigin::kUnknown,
                              tag_target};
          break;
        case OpKind::kMailchimpAddTag:
        case OpKind::kMailchimpRemoveTag:
          members[w.email].tagged = w.kind == OpKind::kMailchimpAddTag;
          break;
        case OpKind::kMailchimpPending:
          members[w.email] = {MailchimpStatus::kPending, UnsubscribeOrigin::kUnknown};
          break;
        case OpKind::kMailchimpUnsubscribe:
          members[w.email] = {MailchimpStatus::kUnsubscribed, UnsubscribeOrigin::kAdmin};
          break;
        case OpKind::kMailchimpChangeEmail: {
          auto it = members.find(w.from_email);
          if (it == members.end()) {
            o.code = SideOutcome::Code::kRefused;
            o.message = "not found";
            break;
          }
          members[w.email] = it->second;
          members.erase(it);
          break;
        }
        default:
          break;
      }
      o.status = members.count(w.email) ? members[w.email].status : MailchimpStatus::kAbsent;
      out.push_back(o);
    }
    return out;
  }

 private:
  FakeClock& clock_;
};

struct World {
  TempStore ts{"source"};
  FakeClock clock;
  FakeAudience audience{clock};
  FakeSource* source = nullptr;  // owned by people
  std::unique_ptr<SyncSide> people;
  SyncConfig config;
  Plan plan;

  explicit World(PeopleKind kind = PeopleKind::kAuth0, bool verified_only = false) {
    auto s = std::make_unique<FakeSource>();
    source = s.get();
    SourceSideOptions o;
    o.origin = kind == PeopleKind::kAuth0    ? Origin::kAuth0
               : kind == PeopleKind::kMautic ? Origin::kMautic
                                             : Origin::kMixpanel;
    o.set = "Username-Password-Authentication";
    o.verified_only = verified_only;
    people = source_side(std::move(s), o, clock);
    config.name = "app-users";
    config.people = kind;
    config.source = "main";
    config.options.direction = Direction::kToMailchimp;
    config.options.resubscribe = Resubscribe::kNever;
    config.options.removal =
        kind == PeopleKind::kAuth0 ? RemovalMode::kNone : RemovalMode::kUnsubscribe;
    config.options.exact_mirror = kind == PeopleKind::kMixpanel || kind == PeopleKind::kAmplitude;
    config.options.max_removal_fraction = 1.0;
    config.options.max_addition_fraction = 1000.0;
  }

  Result<RunOutcome> run(bool apply = true, std::vector<std::string> refresh_people = {}) {
    RunRequest rq;
    rq.refresh_people = std::move(refresh_people);
    rq.apply = apply;
    rq.command = apply ? "sync" : "plan";
    rq.backup_dir = ts.dir / "backups";
    plan = Plan{};
    rq.observer = &plan;
    clock.t += kMicrosPerSecond;
    source->now = clock.t;
    SyncPair p{*ts.store, *ts.pair, config, audience, *people, clock};
    return run_sync(p, rq);
  }

  std::vector<ReportEntry> report_of(const RunOutcome& r) {
    Result<std::vector<ReportEntry>> rows = RunLog(*ts.store, *ts.pair).report_rows(r.record.id);
    REQUIRE(rows.is_ok());
    return *rows;
  }
  MailchimpStatus status(const std::string& email) {
    auto it = audience.members.find(email);
    return it == audience.members.end() ? MailchimpStatus::kAbsent : it->second.status;
  }
};

}  // namespace

TEST_CASE("a one-way source is mirrored: people with an address are subscribed, others reported") {
  World w;
  w.source->people = {person("auth0|1", "Ann@Example.org"), person("auth0|2", ""),
                      person("auth0|3", "not-an-address"), person("auth0|4", "bob@example.org")};
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kDone);
  CHECK(r->exit_code() == 0);
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.audience.members.size() == 2);
  // The two people without a usable address are rows of the report, naming the person and field.
  std::vector<ReportEntry> rows = w.report_of(*r);
  std::vector<std::string> reasons;
  for (const ReportEntry& e : rows) {
    if (e.conflict == "invalid-email") reasons.push_back(e.reason);
  }
  REQUIRE(reasons.size() == 2);
  std::sort(reasons.begin(), reasons.end());
  CAPTURE(reasons[0], reasons[1]);
  CHECK(reasons[0].find("has no '@' (Auth0 user auth0|3)") != std::string::npos);
  CHECK(reasons[1].find("no email address (Auth0 user auth0|2)") != std::string::npos);

  // Nothing changed: the second run writes nothing.
  const std::size_t writes = w.audience.writes.size();
  Result<RunOutcome> again = w.run();
  REQUIRE(again.is_ok());
  CHECK(w.audience.writes.size() == writes);
}

TEST_CASE("Auth0 (removal none): people who leave stay; nothing is written to the source") {
  World w;
  w.source->people = {person("auth0|1", "ann@example.org"), person("auth0|2", "bob@example.org")};
  w.audience.members["old@example.org"] = {};  // subscribed before concord, not an Auth0 user
  REQUIRE(w.run().is_ok());
  w.source->people.pop_back();  // Bob's user is deleted
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->exit_code() == 0);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("old@example.org") == MailchimpStatus::kSubscribed);
  for (const std::string& wr : w.audience.writes)
    CHECK(wr.find("unsubscribe") == std::string::npos);
}

TEST_CASE("removal = unsubscribe takes out those who leave, not members the source never had") {
  World w;
  w.config.options.removal = RemovalMode::kUnsubscribe;
  w.source->people = {person("auth0|1", "ann@example.org"), person("auth0|2", "bob@example.org")};
  w.audience.members["old@example.org"] = {};
  REQUIRE(w.run().is_ok());
  w.source->people.pop_back();
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(w.status("bob@example.org") == MailchimpStatus::kUnsubscribed);
  CHECK(w.status("old@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("a cohort mirror is exact: the audience holds the cohort after the run") {
  World w(PeopleKind::kMixpanel);
  w.source->people = {person("d1", "ann@example.org"), person("d2", "bob@example.org")};
  w.audience.members["old@example.org"] = {};
  REQUIRE(w.run().is_ok());
  CHECK(w.status("old@example.org") == MailchimpStatus::kUnsubscribed);
  // The cohort shrinks and grows.
  w.source->people = {person("d2", "bob@example.org"), person("d3", "cy@example.org")};
  REQUIRE(w.run().is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kUnsubscribed);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("cy@example.org") == MailchimpStatus::kSubscribed);
  // Ann comes back: concord unsubscribed her (an admin unsubscribe), so she is resubscribed.
  w.source->people.push_back(person("d1", "ann@example.org"));
  REQUIRE(w.run().is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("a cohort that comes back empty while members were mirrored stops the run") {
  World w(PeopleKind::kMixpanel);
  w.source->people = {person("d1", "ann@example.org"), person("d2", "bob@example.org")};
  REQUIRE(w.run().is_ok());
  w.source->people.clear();
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kStoppedByGuard);
  REQUIRE_FALSE(r->guard.reasons.empty());
  CHECK(r->guard.reasons[0].find("the source's set (the connection or cohort) came back empty") !=
        std::string::npos);
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("someone who unsubscribed themself is never resubscribed by a mirror, and is reported") {
  World w(PeopleKind::kMixpanel);
  w.audience.members["ann@example.org"] = {MailchimpStatus::kUnsubscribed,
                                           UnsubscribeOrigin::kSelf};
  w.source->people = {person("d1", "ann@example.org")};
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kUnsubscribed);
  CHECK(w.audience.writes.empty());
  bool reported = false;
  for (const ReportEntry& e : w.report_of(*r)) {
    if (e.conflict == "compliance" && e.email == "ann@example.org") reported = true;
  }
  CHECK(reported);
}

TEST_CASE("a person whose address changes in the source keeps their Mailchimp member") {
  World w;
  w.source->people = {person("auth0|1", "ann@example.org")};
  REQUIRE(w.run().is_ok());
  w.source->people = {person("auth0|1", "ann@new.example.org")};
  REQUIRE(w.run().is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kAbsent);
  CHECK(w.status("ann@new.example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.audience.writes.back() == "ann@new.example.org change_email_in_mailchimp");
}

TEST_CASE("verified_only mirrors only verified addresses") {
  World w(PeopleKind::kAuth0, /*verified_only=*/true);
  SourcePerson unverified = person("auth0|2", "bob@example.org");
  unverified.email_verified = false;
  w.source->people = {person("auth0|1", "ann@example.org"), unverified};
  REQUIRE(w.run().is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kAbsent);
  w.source->people[1].email_verified = true;  // Bob verifies his address
  REQUIRE(w.run().is_ok());
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("an incremental source is read from its stored watermark") {
  World w;
  w.source->is_incremental = true;
  w.source->people = {person("auth0|1", "ann@example.org", w.clock.t)};
  REQUIRE(w.run().is_ok());
  CHECK(w.source->read_since_calls.empty());  // the first read is whole
  const Micros first = w.source->now;
  w.source->people.push_back(person("auth0|2", "bob@example.org", w.clock.t + kMicrosPerSecond));
  REQUIRE(w.run().is_ok());
  REQUIRE(w.source->read_since_calls.size() == 1);
  CHECK(w.source->read_since_calls[0] == first);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
  // Ann was not read again, and stays mirrored.
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("a one-time mirror runs once, then stays disabled; plan still looks") {
  World w(PeopleKind::kMixpanel);
  w.config.mode = CohortMode::kOneTime;
  w.source->people = {person("d1", "ann@example.org")};
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kDone);
  CHECK(w.ts.store->get(*w.ts.pair, Family::kMeta, meta::kServeEnabled).value() == "0");
  w.source->people.push_back(person("d2", "bob@example.org"));
  Result<RunOutcome> again = w.run();
  REQUIRE_FALSE(again.is_ok());
  CHECK(again.status().message().find("one-time") != std::string::npos);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kAbsent);
  Result<RunOutcome> plan = w.run(/*apply=*/false);
  REQUIRE(plan.is_ok());
  CHECK(plan->record.counts.add_to_mailchimp == 1);
}

namespace {

// A cohort mirrored into a tag, with Ann subscribed and untagged and Old tagged.
void tag_mirror(World& w) {
  w.config.target = w.config.options.target = TargetKind::kTag;
  w.audience.tag_target = true;
  w.audience.members["ann@example.org"] = {};  // subscribed, untagged
  w.audience.members["old@example.org"] = {MailchimpStatus::kSubscribed,
                                           UnsubscribeOrigin::kUnknown, true};  // tagged
}

}  // namespace

TEST_CASE("a cohort mirrored into a tag: tags on and off, nobody unsubscribed") {
  World w(PeopleKind::kMixpanel);
  tag_mirror(w);
  w.audience.members["gone@example.org"] = {MailchimpStatus::kUnsubscribed,
                                            UnsubscribeOrigin::kSelf, false};
  w.source->people = {person("d1", "ann@example.org"), person("d2", "new@example.org"),
                      person("d3", "gone@example.org")};
  Result<RunOutcome> r = w.run();
  INFO((r ? std::string() : r.status().to_string()));
  REQUIRE(r.is_ok());
  INFO((r->record.notes.empty() ? std::string() : r->record.notes[0]));
  CHECK(r->record.counts.add_tag_in_mailchimp == 2);  // Ann, and Gone (who stays unsubscribed)
  CHECK(r->record.counts.add_to_mailchimp == 1);      // New joins carrying the tag
  CHECK(r->record.counts.remove_tag_in_mailchimp == 1);
  CHECK(w.audience.members["ann@example.org"].tagged);
  CHECK(w.audience.members["new@example.org"].tagged);
  CHECK(w.audience.members["gone@example.org"].tagged);
  CHECK(w.status("gone@example.org") == MailchimpStatus::kUnsubscribed);
  CHECK_FALSE(w.audience.members["old@example.org"].tagged);
  CHECK(w.status("old@example.org") == MailchimpStatus::kSubscribed);

  // Ann leaves the cohort: her tag comes off; she stays subscribed.
  w.source->people.erase(w.source->people.begin());
  REQUIRE(w.run().is_ok());
  CHECK_FALSE(w.audience.members["ann@example.org"].tagged);
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
  // Nothing changes: nothing is written.
  const std::size_t writes = w.audience.writes.size();
  REQUIRE(w.run().is_ok());
  CHECK(w.audience.writes.size() == writes);
}

TEST_CASE("a cohort mirror into a tag is undone: each tag back as it was, the new member out") {
  World w(PeopleKind::kMixpanel);
  tag_mirror(w);
  w.source->people = {person("d1", "ann@example.org"), person("d2", "new@example.org")};
  Result<RunOutcome> mirrored = w.run();
  REQUIRE(mirrored.is_ok());
  REQUIRE(w.audience.members["ann@example.org"].tagged);
  REQUIRE_FALSE(w.audience.members["old@example.org"].tagged);

  RunRequest rq;
  rq.command = "undo";
  rq.undoes = mirrored->record.id;
  rq.backup_dir = w.ts.dir / "backups";
  rq.planner = [&](PlanSink& sink, std::uint64_t run_id) {
    return plan_undo(*w.ts.store, *w.ts.pair, mirrored->record.id, run_id, sink);
  };
  w.clock.t += kMicrosPerSecond;
  SyncPair p{*w.ts.store, *w.ts.pair, w.config, w.audience, *w.people, w.clock};
  Result<RunOutcome> undone = run_sync(p, rq);
  INFO((undone ? std::string() : undone.status().to_string()));
  REQUIRE(undone.is_ok());
  CHECK(undone->record.undoes == mirrored->record.id);
  CHECK(undone->record.counts.remove_tag_in_mailchimp == 1);   // Ann
  CHECK(undone->record.counts.add_tag_in_mailchimp == 1);      // Old
  CHECK(undone->record.counts.unsubscribe_in_mailchimp == 1);  // New, who joined with the tag
  CHECK_FALSE(w.audience.members["ann@example.org"].tagged);
  CHECK(w.audience.members["old@example.org"].tagged);
  CHECK(w.status("new@example.org") == MailchimpStatus::kUnsubscribed);
  // A second undo has nothing left to do.
  w.clock.t += kMicrosPerSecond;
  Result<RunOutcome> again = run_sync(p, rq);
  REQUIRE(again.is_ok());
  CHECK(again->record.counts.operations() == 0);
}

TEST_CASE("a segment: joining and leaving it are seen without a modification time") {
  // Mautic moves no dateModified when a contact joins or leaves a segment: the incremental read
  // finds them by the segment's ids.
  World w(PeopleKind::kMautic);
  w.source->is_incremental = true;
  w.source->by_ids = true;
  const Micros long_ago = parse_iso8601("2020-01-01T00:00:00Z").value();
  w.source->people = {person("1", "ann@example.org", long_ago),
                      person("2", "bob@example.org", long_ago)};
  REQUIRE(w.run().is_ok());
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
  // Bob leaves the segment and Cat joins it (an old contact), neither modified.
  w.source->people = {person("1", "ann@example.org", long_ago),
                      person("3", "cat@example.org", long_ago)};
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->exit_code() == 0);
  REQUIRE(w.source->read_since_calls.size() == 1);
  REQUIRE(w.source->read_ids_calls.size() == 1);
  CHECK(w.source->read_ids_calls[0] == std::vector<std::string>{"3"});  // only who joined
  CHECK(w.status("cat@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kUnsubscribed);
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
  // Bob comes back: read again, subscribed again (concord unsubscribed him, not he).
  w.source->people.push_back(person("2", "bob@example.org", long_ago));
  REQUIRE(w.run().is_ok());
  CHECK(w.source->read_ids_calls.back() == std::vector<std::string>{"2"});
  CHECK(w.status("bob@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("a Do-Not-Contact person in the segment is never subscribed, and is unsubscribed") {
  World w(PeopleKind::kMautic);
  SourcePerson dnc = person("2", "bob@example.org");
  dnc.do_not_contact = true;
  w.source->people = {person("1", "ann@example.org"), dnc};
  REQUIRE(w.run().is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kAbsent);
  // Ann asks not to be contacted (in the segment still): she is unsubscribed.
  w.source->people[0].do_not_contact = true;
  REQUIRE(w.run().is_ok());
  CHECK(w.status("ann@example.org") == MailchimpStatus::kUnsubscribed);
  // removal = "none" leaves such members alone.
  World none(PeopleKind::kMautic);
  none.config.options.removal = RemovalMode::kNone;
  none.source->people = {person("1", "ann@example.org")};
  REQUIRE(none.run().is_ok());
  none.source->people[0].do_not_contact = true;
  REQUIRE(none.run().is_ok());
  CHECK(none.status("ann@example.org") == MailchimpStatus::kSubscribed);
}

TEST_CASE("a webhook run reads the people it names by id: joins, leaves and address changes") {
  World w(PeopleKind::kMautic);
  w.source->is_incremental = true;
  w.source->by_ids = true;
  w.source->people = {person("1", "ann@example.org"), person("2", "bob@example.org")};
  REQUIRE(w.run().is_ok());
  const std::uint64_t reads = w.source->reads;
  // Ann changes her address; Bob leaves; Cat joins. The delivery names 1, 2 and 3.
  w.source->people = {person("1", "ann@new.example.org"), person("3", "cat@example.org")};
  Result<RunOutcome> r = w.run(true, {"1", "2", "3"});
  REQUIRE(r.is_ok());
  CHECK(r->exit_code() == 0);
  CHECK(w.source->reads == reads + 1);  // one read by id, no fetch
  CHECK(w.status("ann@example.org") == MailchimpStatus::kAbsent);
  CHECK(w.status("ann@new.example.org") == MailchimpStatus::kSubscribed);
  CHECK(w.status("bob@example.org") == MailchimpStatus::kUnsubscribed);
  CHECK(w.status("cat@example.org") == MailchimpStatus::kSubscribed);
}
