// The engine (run_sync) over fake sides: the journal, resuming after a kill at every point, failed
// and refused writes, guards, stop requests and the first backup.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include <map>
#include <set>
#include <stdexcept>

#include "concord/engine.h"
#include "concord/meta_keys.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;

namespace {

Micros day(int d) {
  return parse_iso8601("2026-01-0" + std::to_string(d) + "T12:00:00Z").value();
}

class FakeClock : public Clock {
 public:
  Micros now() const override { return t; }
  Micros t = parse_iso8601("2026-03-01T00:00:00Z").value();
};

// Thrown by a fake side to simulate the process dying right after a write took effect, before
// its answer was journaled.
struct Killed : std::runtime_error {
  Killed() : std::runtime_error("killed") {}
};

// What both fakes share: a write log, a kill switch and a failure list.
class FakeBase : public SyncSide {
 public:
  explicit FakeBase(FakeClock& clock) : clock_(clock) {}
  Status resolve() override { return Status::ok(); }
  std::uint64_t requests() const override { return requests_; }
  std::size_t batch_size() const override { return batch; }

  std::size_t batch = 2;
  std::function<void()> before_apply;  // called as apply() begins, when set
  std::vector<std::string> writes;     // "<email> <kind>" of every write that took effect
  int kill_after = -1;                 // die after this many more writes took effect
  std::set<std::string> failing;       // emails whose writes fail (kFailed)
  Status fetch_error;                  // when not OK, fetch() fails with it

 protected:
  // Returns false when the write must fail; throws Killed when the kill switch fires.
  bool take(const SideWrite& w) {
    ++requests_;
    if (failing.count(w.email)) return false;
    writes.push_back(w.email + " " + std::string(op_kind_name(w.kind)));
    return true;
  }
  // Stores one page as the side's whole snapshot (full) or as changes.
  static Result<FetchStats> store_page(Store& store, const PairHandle& pair, Side side, bool full,
                                       std::vector<SnapshotEntry>& page) {
    SnapshotWriter w(store, pair, side,
                     full ? SnapshotWriter::Mode::kFull : SnapshotWriter::Mode::kIncremental);
    if (Status s = w.write_page(page); !s) return s;
    if (Status s = w.finish(); !s) return s;
    return FetchStats{};
  }
  // Stores these members' entries (from `entry_of`, nullopt: absent) as a targeted re-read does.
  template <typename EntryOf>
  static Result<FetchStats> store_members(Store& store, const PairHandle& pair, Side side,
                                          const std::vector<std::string>& emails,
                                          EntryOf entry_of) {
    Batch b;
    const Family f = side == Side::kMailchimp ? Family::kMailchimp : Family::kCrm;
    for (const std::string& email : emails) {
      std::optional<std::string> v = entry_of(email);
      if (v) {
        b.put(pair, f, member_key(email).view(), *v);
      } else {
        b.del(pair, f, member_key(email).view());
      }
    }
    if (Status s = store.write(b); !s) return s;
    return FetchStats{};
  }
  void maybe_die() {
    if (kill_after == 0) throw Killed();
    if (kill_after > 0) --kill_after;
  }
  FakeClock& clock_;
  std::uint64_t requests_ = 0;
};

class FakeMailchimp final : public FakeBase {
 public:
  using FakeBase::FakeBase;
  Side side() const override { return Side::kMailchimp; }

  std::map<std::string, MailchimpState> members;
  std::set<std::string> forgotten;  // subscribes refused as "Forgotten Email Not Subscribed"

  std::string entry(const std::string& email, const MailchimpState& st) const {
    std::string v;
    encode_snapshot(mailchimp_header(st, 1), email, R"({"merge_fields":{"FNAME":"X"}})", &v);
    return v;
  }

  Result<FetchStats> fetch(bool full, Store& store, const PairHandle& pair) override {
    ++requests_;
    std::vector<SnapshotEntry> page;
    for (const auto& [email, st] : members)
      page.push_back(SnapshotEntry{member_key(email), entry(email, st)});
    return store_page(store, pair, Side::kMailchimp, full, page);
  }

  Result<FetchStats> refresh(const std::vector<std::string>& emails, Store& store,
                             const PairHandle& pair) override {
    requests_ += emails.size();
    ++refreshes;
    return store_members(store, pair, Side::kMailchimp, emails,
                         [&](const std::string& email) -> std::optional<std::string> {
                           auto it = members.find(email);
                           if (it == members.end()) return std::nullopt;
                           return entry(email, it->second);
                         });
  }
  int refreshes = 0;

  std::vector<SideOutcome> apply(const std::vector<SideWrite>& ws) override {
    if (before_apply) before_apply();
    std::vector<SideOutcome> out;
    for (const SideWrite& w : ws) {
      SideOutcome o;
      if (forgotten.count(w.email)) {
        o.code = SideOutcome::Code::kRefused;
        o.conflict = Conflict::kForgotten;
        o.message = "Forgotten Email Not Subscribed";
        ++requests_;
      } else if (!take(w)) {
        o.code = SideOutcome::Code::kFailed;
        o.message = "503 Service Unavailable";
      } else {
        MailchimpState& m = members[w.email];
        m.status = w.kind == OpKind::kMailchimpSubscribe     ? MailchimpStatus::kSubscribed
                   : w.kind == OpKind::kMailchimpPending     ? MailchimpStatus::kPending
                   : w.kind == OpKind::kMailchimpUnsubscribe ? MailchimpStatus::kUnsubscribed
                                                             : MailchimpStatus::kArchived;
        m.unsubscribe_origin = UnsubscribeOrigin::kAdmin;
        m.changed_at = clock_.now();
        o.code = SideOutcome::Code::kDone;
        o.changed_at = m.changed_at;
        maybe_die();
      }
      out.push_back(o);
    }
    return out;
  }
};

class FakeCrm final : public FakeBase {
 public:
  using FakeBase::FakeBase;
  Side side() const override { return Side::kCrm; }

  std::map<std::string, CrmState> contacts;

  std::string entry(const std::string& email, const CrmState& st) const {
    int id = 100;
    for (const auto& [e, c] : contacts) {
      ++id;
      if (e == email) break;
    }
    std::string v;
    const std::string body = R"({"contact_id":)" + std::to_string(id) +
                             R"(,"first_name":"F","last_name":"L","duplicates":[]})";
    encode_snapshot(crm_header(st, 2), email, body, &v);
    return v;
  }

  Result<FetchStats> fetch(bool full, Store& store, const PairHandle& pair) override {
    ++requests_;
    if (!fetch_error.is_ok()) return fetch_error;
    std::vector<SnapshotEntry> page;
    for (const auto& [email, st] : contacts)
      page.push_back(SnapshotEntry{member_key(email), entry(email, st)});
    return store_page(store, pair, Side::kCrm, full, page);
  }

  Result<FetchStats> refresh(const std::vector<std::string>& emails, Store& store,
                             const PairHandle& pair) override {
    requests_ += emails.size();
    return store_members(store, pair, Side::kCrm, emails,
                         [&](const std::string& email) -> std::optional<std::string> {
                           auto it = contacts.find(email);
                           if (it == contacts.end()) return std::nullopt;
                           return entry(email, it->second);
                         });
  }

  std::vector<SideOutcome> apply(const std::vector<SideWrite>& ws) override {
    if (before_apply) before_apply();
    std::vector<SideOutcome> out;
    for (const SideWrite& w : ws) {
      SideOutcome o;
      if (!take(w)) {
        o.code = SideOutcome::Code::kFailed;
        o.message = "500";
      } else {
        CrmState& c = contacts[w.email];
        if (w.kind == OpKind::kCrmHoldEmail) {
          c.email_on_hold = true;
        } else {
          c.status = w.kind == OpKind::kCrmRemove ? CrmStatus::kRemoved : CrmStatus::kAdded;
          c.changed_at = clock_.now();
          c.contact_known = true;
        }
        o.code = SideOutcome::Code::kDone;
        maybe_die();
      }
      out.push_back(o);
    }
    return out;
  }
};

MailchimpState mc(MailchimpStatus s, Micros t) {
  MailchimpState m;
  m.status = s;
  m.changed_at = t;
  if (s == MailchimpStatus::kUnsubscribed) m.unsubscribe_origin = UnsubscribeOrigin::kAdmin;
  return m;
}

CrmState crm(CrmStatus s, Micros t) {
  CrmState c;
  c.status = s;
  c.changed_at = t;
  c.contact_known = true;
  return c;
}

// The five people of docs/decision-rules.md, and the world a test runs in.
struct World {
  DiskFaults disk;  // before ts: the store uses it
  TempStore ts{"engine", &disk};
  FakeClock clock;
  FakeMailchimp mailchimp{clock};
  FakeCrm crm_side{clock};
  SyncConfig config;
  Plan plan;  // what the last run planned

  World() {
    config.name = "newsletter";
    config.options.allow_mass_removal = false;
    config.options.max_removal_fraction = 1.0;  // five people: no guard unless a test asks
    config.options.max_addition_fraction = 1.0;
    mailchimp.members["wilma@bedrock.org"] = mc(MailchimpStatus::kSubscribed, day(1));
    mailchimp.members["barney@bedrock.org"] = mc(MailchimpStatus::kUnsubscribed, day(2));
    mailchimp.members["fred@bedrock.org"] = mc(MailchimpStatus::kSubscribed, day(3));
    mailchimp.members["pebbles@bedrock.org"] = mc(MailchimpStatus::kSubscribed, day(1));
    crm_side.contacts["wilma@bedrock.org"] = crm(CrmStatus::kAdded, day(5));
    crm_side.contacts["barney@bedrock.org"] = crm(CrmStatus::kAdded, day(1));
    crm_side.contacts["fred@bedrock.org"] = crm(CrmStatus::kRemoved, day(4));
    crm_side.contacts["betty@bedrock.org"] = crm(CrmStatus::kAdded, day(4));
  }

  // Runs once; `plan` holds what the run planned (the engine's observer).
  Result<RunOutcome> run(RunRequest rq = {}) {
    rq.backup_dir = ts.dir / "backups";
    plan = Plan{};
    if (rq.observer == nullptr) rq.observer = &plan;
    SyncPair p{*ts.store, *ts.pair, config, mailchimp, crm_side, clock};
    clock.t += kMicrosPerSecond;
    return run_sync(p, rq);
  }

  // The conflict report the run stored.
  std::vector<ReportEntry> report_of(const RunOutcome& r) {
    Result<std::vector<ReportEntry>> rows = RunLog(*ts.store, *ts.pair).report_rows(r.record.id);
    REQUIRE(rows.is_ok());
    return *rows;
  }

  Membership mc_of(const std::string& e) { return mailchimp.members[e].membership(); }
  Membership crm_of(const std::string& e) { return crm_side.contacts[e].membership(); }

  // The outcomes docs/decision-rules.md documents for the five people.
  void check_five_people() {
    for (const char* e : {"wilma@bedrock.org", "betty@bedrock.org", "pebbles@bedrock.org"}) {
      INFO(e);
      CHECK(mc_of(e) == Membership::kIn);
      CHECK(crm_of(e) == Membership::kIn);
    }
    CHECK(mc_of("barney@bedrock.org") == Membership::kOut);
    CHECK(crm_of("barney@bedrock.org") == Membership::kOut);
    CHECK(mc_of("fred@bedrock.org") == Membership::kOut);
    CHECK(crm_of("fred@bedrock.org") == Membership::kOut);
  }

  std::vector<std::string> all_writes() const {
    std::vector<std::string> w = mailchimp.writes;
    w.insert(w.end(), crm_side.writes.begin(), crm_side.writes.end());
    return w;
  }
};

std::size_t open_entries(World& w) {
  RunLog log(*w.ts.store, *w.ts.pair);
  return log.open_entries().value().size();
}

}  // namespace

TEST_CASE("a first sync applies the five people's outcomes; the second run does nothing") {
  World w;
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kDone);
  CHECK(r->exit_code() == 0);
  CHECK(r->record.first_run);
  CHECK(r->record.applied == 4);  // Barney, Fred, Betty, Pebbles
  w.check_five_people();
  CHECK(open_entries(w) == 0);
  CHECK_FALSE(r->backup.empty());
  CHECK(std::filesystem::exists(r->backup / "mailchimp.csv"));
  CHECK(std::filesystem::exists(r->backup / "crm.json"));

  const auto writes = w.all_writes();
  Result<RunOutcome> again = w.run();
  REQUIRE(again.is_ok());
  CHECK(w.plan.operations.empty());
  CHECK(again->record.state == RunState::kDone);
  CHECK(again->backup.empty());  // only before the first apply
  CHECK(w.all_writes() == writes);
}

TEST_CASE("the first backup is private whatever the umask, and whole before it is recorded") {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    DYNAMIC_SECTION("umask " << std::oct << mask) {
      World w;
      const mode_t old = ::umask(mask);
      Result<RunOutcome> r = w.run();
      ::umask(old);
      REQUIRE(r.is_ok());
      REQUIRE_FALSE(r->backup.empty());
      auto mode = [](const std::filesystem::path& p) {
        struct stat st;
        REQUIRE(::stat(p.c_str(), &st) == 0);
        return st.st_mode & 07777;
      };
      CHECK(mode(r->backup.parent_path()) == 0700);  // made by the engine: it was missing
      CHECK(mode(r->backup) == 0700);
      for (const char* f : {"mailchimp.csv", "mailchimp.json", "crm.csv", "crm.json"}) {
        INFO(f);
        CHECK(mode(r->backup / f) == 0600);
      }
      // Recorded as taken only once complete: no .partial directory beside it.
      std::vector<std::string> names;
      for (const auto& e : std::filesystem::directory_iterator(r->backup.parent_path()))
        names.push_back(e.path().filename().string());
      CHECK(names == std::vector<std::string>{r->backup.filename().string()});
      Result<std::optional<std::string>> recorded =
          w.ts.store->get(*w.ts.pair, Family::kMeta, meta::kFirstBackup);
      REQUIRE(recorded.is_ok());
      CHECK(recorded->value_or("") == r->backup.string());
    }
  }
}

TEST_CASE("plan changes neither side nor the base") {
  World w;
  RunRequest rq;
  rq.apply = false;
  rq.command = "plan";
  Result<RunOutcome> r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kPlanned);
  CHECK(w.plan.operations.size() == 4);
  CHECK(w.all_writes().empty());
  Cursor base = w.ts.store->scan(*w.ts.pair, Family::kBase);
  base.seek_to_first();
  CHECK_FALSE(base.valid());
  Result<RunOutcome> again = w.run(rq);
  REQUIRE(again.is_ok());
  CHECK(again->record.first_run);
}

TEST_CASE("killed after any write, the next run ends in the planned state and repeats no write") {
  // The plan has 4 writes; a kill after the k-th write took effect, before its answer was
  // journaled, is the worst moment to die.
  // Also when no guard can stop the first sync (mass removal allowed): its pass journals while
  // both sides send.
  for (int k = 0; k < 8; ++k) {
    const bool streams = k >= 4;
    DYNAMIC_SECTION("killed after write " << k % 4 + 1
                                          << (streams ? ", sent while planning" : "")) {
      World w;
      RunRequest rq;
      rq.allow_mass_removal = streams;
      // Mailchimp's two writes come first (Fred, Betty), then the CRM's (Barney, Pebbles).
      if (k % 4 < 2) {
        w.mailchimp.kill_after = k % 4;
      } else {
        w.crm_side.kill_after = k % 4 - 2;
      }
      CHECK_THROWS_AS(w.run(rq), Killed);
      CHECK(open_entries(w) > 0);
      w.mailchimp.kill_after = w.crm_side.kill_after = -1;
      Result<RunOutcome> r = w.run(rq);
      REQUIRE(r.is_ok());
      CHECK(r->record.resumed_from == 1);
      CHECK(r->record.state == RunState::kDone);
      w.check_five_people();
      CHECK(open_entries(w) == 0);
      // No write twice.
      auto writes = w.all_writes();
      std::set<std::string> unique(writes.begin(), writes.end());
      CHECK(unique.size() == writes.size());
      CHECK(writes.size() == 4);
      // The dead run is marked, and its entries say how they were resolved.
      RunLog log(*w.ts.store, *w.ts.pair);
      CHECK(log.get_run(1).value()->state == RunState::kInterrupted);
      Result<RunOutcome> third = w.run();
      REQUIRE(third.is_ok());
      CHECK(w.plan.operations.empty());
    }
  }
}

TEST_CASE("finding open journal entries reads only the runs after the last resolved one") {
  World w;
  w.mailchimp.kill_after = 0;
  CHECK_THROWS_AS(w.run(), Killed);  // run 1 dies with entries open
  w.mailchimp.kill_after = -1;
  REQUIRE(w.run().is_ok());  // run 2 resolves them
  RunLog log(*w.ts.store, *w.ts.pair);
  CHECK(w.ts.store->get(*w.ts.pair, Family::kMeta, meta::kJournalOpenFrom).value() == "2");
  // An entry left open in run 1 (as no resume would leave it) is behind the mark: not read.
  JournalEntry stale;
  stale.run_id = 1;
  stale.seq = 0;
  stale.state = JournalState::kPlanned;
  stale.op.key = member_key("wilma@bedrock.org");
  stale.op.email = "wilma@bedrock.org";
  REQUIRE(
      w.ts.store->put(*w.ts.pair, Family::kJournal, journal_key(1, 0), encode_journal_entry(stale))
          .is_ok());
  CHECK(open_entries(w) == 0);
  REQUIRE(w.run().is_ok());
  CHECK(w.ts.store->get(*w.ts.pair, Family::kMeta, meta::kJournalOpenFrom).value() == "3");
}

TEST_CASE("retention drops old runs' journals and reports, never an open entry") {
  World w;
  REQUIRE(w.run().is_ok());  // run 1: the migration, 4 writes journaled, report rows
  RunLog log(*w.ts.store, *w.ts.pair);
  auto entries = [&](Family f) {
    std::size_t n = 0;
    Cursor c = w.ts.store->scan(*w.ts.pair, f);
    for (c.seek_to_first(); c.valid(); c.next())
      ++n;
    return n;
  };
  const std::size_t journal = entries(Family::kJournal);
  REQUIRE(journal >= 4);
  for (int i = 0; i < 3; ++i)
    REQUIRE(w.run().is_ok());  // runs 2-4
  // Keep 2 runs, 1 day: runs 1 and 2 are older than both (the World's clock is fixed, so their
  // age is what `now` says).
  const Micros later = w.clock.now() + 2 * 86400 * kMicrosPerSecond;
  Result<RunLog::Pruned> p = log.prune(2, 1, later);
  REQUIRE(p.is_ok());
  CHECK(p->runs == 2);
  CHECK(p->journal_entries == journal);
  CHECK(entries(Family::kJournal) == 0);
  CHECK(log.report_rows(1).value().empty());
  CHECK(log.get_run(1).value().has_value());  // the record stays
  CHECK(log.get_run(1).value()->notes.back() == "journal and report pruned (retention)");
  // Within keep_days nothing goes; and a second pass has nothing left to do.
  CHECK(log.prune(1, 1, w.clock.now()).value().runs == 0);
  CHECK(log.prune(2, 1, later).value().runs == 0);
}

TEST_CASE("a failed write leaves the base alone, is reported, and is retried by the next run") {
  World w;
  w.mailchimp.failing.insert("betty@bedrock.org");
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kDoneWithFailures);
  CHECK(r->exit_code() == 4);
  CHECK(r->record.failed == 1);
  bool reported = false;
  for (const ReportEntry& e : w.report_of(*r)) {
    if (e.email == "betty@bedrock.org") {
      reported = true;
      CHECK(e.conflict == "failed-write");
      CHECK(e.reason.find("503") != std::string::npos);
    }
  }
  CHECK(reported);
  CHECK(w.mc_of("betty@bedrock.org") == Membership::kOut);

  w.mailchimp.failing.clear();
  Result<RunOutcome> again = w.run();
  REQUIRE(again.is_ok());
  CHECK(w.plan.operations.size() == 1);
  CHECK(again->record.state == RunState::kDone);
  w.check_five_people();
}

TEST_CASE("a write refused for good is reported and not sent again") {
  World w;
  w.mailchimp.forgotten.insert("betty@bedrock.org");
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.refused == 1);
  CHECK(r->exit_code() == 4);
  const auto requests = w.mailchimp.requests();
  Result<RunOutcome> again = w.run();
  REQUIRE(again.is_ok());
  CHECK(w.plan.operations.empty());
  CHECK(w.mailchimp.requests() == requests + 1);  // the fetch only
  bool forgotten = false;
  for (const ReportEntry& e : w.report_of(*again))
    forgotten |= e.conflict == "forgotten";
  CHECK(forgotten);
}

TEST_CASE("a guard stops the run before anything is journaled or written") {
  World w;
  w.config.options.max_removal_fraction = 0.10;
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kStoppedByGuard);
  CHECK(r->exit_code() == 3);
  CHECK(w.all_writes().empty());
  CHECK(open_entries(w) == 0);
  CHECK_FALSE(r->record.notes.empty());
  // The first sync's one pass wrote bases for the members the sides agreed on; stopped, it
  // removed them with its journal: the base is empty, as before the run.
  Cursor base = w.ts.store->scan(*w.ts.pair, Family::kBase);
  base.seek_to_first();
  CHECK_FALSE(base.valid());
  Cursor journal = w.ts.store->scan(*w.ts.pair, Family::kJournal);
  journal.seek_to_first();
  CHECK_FALSE(journal.valid());
  CHECK_FALSE(w.ts.store->get(*w.ts.pair, Family::kMeta, meta::kSinglePassRun).value());
  RunRequest rq;
  rq.allow_mass_removal = true;
  Result<RunOutcome> lifted = w.run(rq);
  REQUIRE(lifted.is_ok());
  CHECK(lifted->record.state == RunState::kDone);
  w.check_five_people();
}

// Hands the plan on to `plan` and, at the operation numbered `wait_at`, waits (up to ten
// seconds) until `sent` says a side was written: only a run that sends while it plans gets there
// in time.
class WaitingObserver final : public PlanSink {
 public:
  WaitingObserver(Plan& plan, std::atomic<bool>& sent, std::size_t wait_at)
      : plan_(plan), sent_(sent), wait_at_(wait_at) {}
  void operation(Operation&& op) override {
    if (++seen_ == wait_at_) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!sent_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      sent_before_planned = sent_.load();
    }
    plan_.operation(std::move(op));
  }
  void report(ReportRow&& row) override { plan_.report(std::move(row)); }
  void base_update(const MemberKey& k, const std::optional<BaseRecord>& b) override {
    plan_.base_update(k, b);
  }
  bool sent_before_planned = false;

 private:
  Plan& plan_;
  std::atomic<bool>& sent_;
  const std::size_t wait_at_;
  std::size_t seen_ = 0;
};

TEST_CASE("a first sync that no guard can stop sends while it plans, and ends as planned") {
  // 3 000 Mailchimp subscribers the CRM does not have (each a contact to create), beside the
  // five people: the pass journals them a batch at a time, and the CRM's writes begin before
  // the plan's last operation is made.
  World w;
  for (int i = 0; i < 3000; ++i)
    w.mailchimp.members["new" + std::to_string(i) + "@example.org"] =
        mc(MailchimpStatus::kSubscribed, day(1));
  std::atomic<bool> sent{false};
  w.crm_side.before_apply = [&] { sent = true; };
  w.crm_side.batch = 100;
  RunRequest rq;
  rq.allow_mass_removal = true;
  Plan plan;
  WaitingObserver observer(plan, sent, 2900);
  rq.observer = &observer;
  Result<RunOutcome> r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK(observer.sent_before_planned);
  CHECK(r->record.state == RunState::kDone);
  CHECK(r->record.first_run);
  CHECK(r->record.counts.create_crm_contact + r->record.counts.add_to_crm == 3001);
  CHECK(r->record.applied == 3004);
  CHECK(plan.operations.size() == 3004);
  w.check_five_people();
  for (int i = 0; i < 3000; i += 499)
    CHECK(w.crm_of("new" + std::to_string(i) + "@example.org") == Membership::kIn);
  CHECK(open_entries(w) == 0);
  CHECK_FALSE(r->backup.empty());
  // Every write once, and the report holds the plan's rows and nothing twice.
  const auto writes = w.all_writes();
  CHECK(std::set<std::string>(writes.begin(), writes.end()).size() == writes.size());
  CHECK(writes.size() == 3004);
  CHECK(w.report_of(*r).size() == r->record.counts.report_rows);
  // No marker of a single pass is left, and the next run has nothing to do.
  CHECK_FALSE(w.ts.store->get(*w.ts.pair, Family::kMeta, meta::kSinglePassRun).value());
  Result<RunOutcome> again = w.run(rq);
  REQUIRE(again.is_ok());
  CHECK(w.plan.operations.empty());
  CHECK(w.all_writes() == writes);
}

TEST_CASE("a store that cannot write (a full disk) stops the run before anything is sent") {
  World w;
  w.disk.full = true;
  Result<RunOutcome> r = w.run();
  CHECK_FALSE(r.is_ok());
  CHECK(w.all_writes().empty());
  CHECK_FALSE(w.ts.store->check_writable().is_ok());
  CHECK(open_entries(w) == 0);
  // Room again: the next run finds the store writable (it reopens itself) and syncs, with no
  // restart in between.
  w.disk.full = false;
  Result<RunOutcome> after = w.run();
  REQUIRE(after.is_ok());
  CHECK(after->record.state == RunState::kDone);
  w.check_five_people();
}

TEST_CASE("the addition guard stops a later run that subscribes too many, not the first") {
  World w;
  w.config.options.max_addition_fraction = 0.25;  // the default
  Result<RunOutcome> first = w.run();  // adds Betty and Pebbles: a first run adds everyone
  REQUIRE(first.is_ok());
  REQUIRE(first->record.state == RunState::kDone);
  // A group imported into the CRM: two new members against Mailchimp's three IN members.
  w.crm_side.contacts["dino@bedrock.org"] = crm(CrmStatus::kAdded, day(6));
  w.crm_side.contacts["hoppy@bedrock.org"] = crm(CrmStatus::kAdded, day(6));
  const auto writes = w.all_writes();
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kStoppedByGuard);
  CHECK(r->exit_code() == 3);
  CHECK(w.all_writes() == writes);
  CHECK(open_entries(w) == 0);
  REQUIRE(r->guard.reasons.size() == 1);
  CHECK_THAT(r->guard.reasons[0], Catch::Matchers::Contains("subscribes 2 members in Mailchimp") &&
                                      Catch::Matchers::Contains("max_addition_fraction (25%)") &&
                                      Catch::Matchers::Contains("--allow-mass-addition"));
  RunRequest rq;
  rq.allow_mass_addition = true;
  Result<RunOutcome> lifted = w.run(rq);
  REQUIRE(lifted.is_ok());
  CHECK(lifted->record.state == RunState::kDone);
  CHECK(w.mc_of("dino@bedrock.org") == Membership::kIn);
  CHECK(w.mc_of("hoppy@bedrock.org") == Membership::kIn);
}

TEST_CASE("a first migration killed and resumed is still the first run for the addition guard") {
  // Regression: the resumed run found a base (the agreements the dead run stored) and was taken
  // for a later run, so the addition guard stopped the migration halfway.
  World w;
  w.config.options.max_addition_fraction = 0.25;  // the default
  const std::vector<std::string> group = {"dino@bedrock.org", "hoppy@bedrock.org",
                                          "bamm-bamm@bedrock.org", "gazoo@bedrock.org"};
  for (const std::string& e : group)
    w.crm_side.contacts[e] = crm(CrmStatus::kAdded, day(5));
  w.mailchimp.kill_after = 0;  // dies after the first Mailchimp write: four subscribes remain
  CHECK_THROWS_AS(w.run(), Killed);
  w.mailchimp.kill_after = -1;
  Result<RunOutcome> resumed = w.run();
  REQUIRE(resumed.is_ok());
  CHECK(resumed->record.resumed_from == 1);
  CHECK_FALSE(resumed->record.first_run);           // its base is not empty …
  CHECK(resumed->record.state == RunState::kDone);  // … yet no run had completed: not guarded
  w.check_five_people();
  for (const std::string& e : group)
    CHECK(w.mc_of(e) == Membership::kIn);
  // Once a run completed, the guard applies: two more against seven IN members.
  w.crm_side.contacts["slate@bedrock.org"] = crm(CrmStatus::kAdded, day(6));
  w.crm_side.contacts["rockhead@bedrock.org"] = crm(CrmStatus::kAdded, day(6));
  Result<RunOutcome> later = w.run();
  REQUIRE(later.is_ok());
  CHECK(later->record.state == RunState::kStoppedByGuard);
}

TEST_CASE("a CRM read cut short fails the run before anything is planned") {
  World w;
  REQUIRE(w.run().is_ok());
  const auto writes = w.all_writes();
  // What the CiviCRM client answers for a page cut short before its announced count: were it
  // taken for the end of the group, every contact after it would look removed.
  w.crm_side.fetch_error = Status::unavailable(
      "CiviCRM group 42: the page of history rows at offset 3 had 1 row (of 3 asked), 6 "
      "announced beyond it (countMatched 10); a truncated read is not the end of the group");
  Result<RunOutcome> r = w.run();
  REQUIRE_FALSE(r.is_ok());
  CHECK_THAT(r.status().message(), Catch::Matchers::Contains("a truncated read"));
  CHECK(w.plan.operations.empty());
  CHECK(w.all_writes() == writes);
  RunLog log(*w.ts.store, *w.ts.pair);
  Result<std::optional<RunRecord>> last = log.last_run();
  REQUIRE(last.is_ok());
  REQUIRE(last->has_value());
  CHECK((*last)->state == RunState::kFailed);
  CHECK((*last)->counts.operations() == 0);
}

TEST_CASE("a stop request ends the run between batches; the next run finishes the work") {
  World w;
  std::atomic<bool> stop{false};
  RunRequest rq;
  rq.stop = &stop;
  // Batches of one: two on each side. Both sides send at once; the stop comes while each sends
  // its first batch.
  w.mailchimp.batch = 1;
  w.crm_side.batch = 1;
  std::atomic<bool> crm_sending{false};
  auto wait_for = [](const std::atomic<bool>& flag) {
    while (!flag)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  w.mailchimp.before_apply = [&] {
    wait_for(crm_sending);
    stop = true;
  };
  w.crm_side.before_apply = [&] {
    crm_sending = true;
    wait_for(stop);
  };
  Result<RunOutcome> r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK(r->record.state == RunState::kInterrupted);
  CHECK(r->record.applied == 2);  // the batch each side was sending
  w.mailchimp.before_apply = nullptr;
  w.crm_side.before_apply = nullptr;
  Result<RunOutcome> next = w.run();
  REQUIRE(next.is_ok());
  CHECK(next->record.resumed_from == 1);
  CHECK(next->record.state == RunState::kDone);
  w.check_five_people();
  auto writes = w.all_writes();
  CHECK(writes.size() == 4);
}

TEST_CASE("changes on both sides after the first sync are carried the right way") {
  World w;
  REQUIRE(w.run().is_ok());
  w.clock.t += 3600 * kMicrosPerSecond;
  // Wilma unsubscribes in Mailchimp; Barney is added back to the group in the CRM.
  w.mailchimp.members["wilma@bedrock.org"] = mc(MailchimpStatus::kUnsubscribed, w.clock.t);
  w.crm_side.contacts["barney@bedrock.org"] = crm(CrmStatus::kAdded, w.clock.t);
  Result<RunOutcome> r = w.run();
  REQUIRE(r.is_ok());
  CHECK(w.plan.operations.size() == 2);
  CHECK(w.crm_of("wilma@bedrock.org") == Membership::kOut);
  CHECK(w.mc_of("barney@bedrock.org") == Membership::kIn);
  CHECK(r->record.state == RunState::kDone);
}

TEST_CASE("a run for some members reads only them again, and carries their changes") {
  World w;
  REQUIRE(w.run().is_ok());
  w.clock.t += 3600 * kMicrosPerSecond;
  // Wilma unsubscribes in Mailchimp (a webhook names her); Barney is added back in the CRM,
  // which no one names.
  w.mailchimp.members["wilma@bedrock.org"] = mc(MailchimpStatus::kUnsubscribed, w.clock.t);
  w.crm_side.contacts["barney@bedrock.org"] = crm(CrmStatus::kAdded, w.clock.t);
  RunRequest rq;
  rq.refresh = {"wilma@bedrock.org"};
  const int full_reads = w.mailchimp.refreshes;
  Result<RunOutcome> r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK(w.mailchimp.refreshes == full_reads + 1);
  REQUIRE(w.plan.operations.size() == 1);
  CHECK(w.plan.operations[0].email == "wilma@bedrock.org");
  CHECK(w.crm_of("wilma@bedrock.org") == Membership::kOut);
  CHECK(w.mc_of("barney@bedrock.org") == Membership::kOut);  // not read: left to the next run
  CHECK_FALSE(r->record.full_fetch);
  // The next scheduled run reads everything and carries Barney.
  Result<RunOutcome> next = w.run();
  REQUIRE(next.is_ok());
  CHECK(w.mc_of("barney@bedrock.org") == Membership::kIn);

  // A member who left a side entirely is removed from that side's snapshot by the re-read.
  w.clock.t += 3600 * kMicrosPerSecond;
  w.mailchimp.members.erase("betty@bedrock.org");
  rq.refresh = {"betty@bedrock.org"};
  Result<RunOutcome> gone = w.run(rq);
  REQUIRE(gone.is_ok());
  auto v = w.ts.store->get(*w.ts.pair, Family::kMailchimp, member_key("betty@bedrock.org").view());
  REQUIRE(v.is_ok());
  CHECK_FALSE(v->has_value());
}

TEST_CASE("a clock stepped back or a bogus watermark does not put the full fetch off") {
  World w;
  REQUIRE(w.run().is_ok());
  RunRequest rq;
  rq.full_fetch_every = 86400 * kMicrosPerSecond;
  Result<RunOutcome> r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK_FALSE(r->record.full_fetch);  // the last full fetch was a second ago
  // The clock steps back two days: the stored time of the last full fetch is in the future.
  w.clock.t -= 2 * 86400 * kMicrosPerSecond;
  r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK(r->record.full_fetch);
  r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK_FALSE(r->record.full_fetch);  // written afresh
  // A watermark a year ahead (a bogus Date header) is read past with a full fetch.
  const std::string year_ahead = std::to_string(w.clock.now() + 365 * 86400 * kMicrosPerSecond);
  REQUIRE(
      w.ts.store->put(*w.ts.pair, Family::kMeta, civicrm_watermark_key(42), year_ahead).is_ok());
  r = w.run(rq);
  REQUIRE(r.is_ok());
  CHECK(r->record.full_fetch);
}
