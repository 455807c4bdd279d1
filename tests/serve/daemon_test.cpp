// The daemon's worker with fake sides and a fake clock: scheduled runs happen when the clock
// passes the schedule, deliveries trigger webhook runs, the toggle and "run now", restarts, and
// the metrics a run feeds. step() runs what is due without a thread, so nothing here sleeps but
// the last tests, which check that a delivery wakes the real worker thread and that pairs of
// different accounts run on workers of their own.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "concord/email.h"
#include "concord/record.h"
#include "serve/daemon.h"
#include "temp_store.h"

using namespace concord;
using namespace concord::serve;
using concord::testing::TempStore;

namespace {

constexpr Micros kMinute = 60 * kMicrosPerSecond;

class FakeClock : public Clock {
 public:
  Micros now() const override { return t; }
  Micros t = parse_iso8601("2026-03-01T00:00:00Z").value();
};

// A side with no members: fetches store nothing, writes are done. It records the members it was
// asked to read again, and fails every fetch with `fail` when that is set.
class FakeSide : public SyncSide {
 public:
  explicit FakeSide(Side side) : side_(side) {}
  Side side() const override { return side_; }
  Status resolve() override { return Status::ok(); }
  Result<FetchStats> fetch(bool, Store&, const PairHandle&) override {
    ++requests_;
    if (on_fetch) on_fetch();
    if (!fail.is_ok()) return fail;
    return FetchStats{};
  }
  Result<FetchStats> refresh(const std::vector<std::string>& emails, Store& store,
                             const PairHandle& pair) override {
    ++requests_;
    refreshed.push_back(emails);
    if (!fail.is_ok()) return fail;
    // The members of `has` that were asked for are read into the snapshot, subscribed.
    for (const std::string& e : emails) {
      if (!has.count(e)) continue;
      MailchimpState st;
      st.status = MailchimpStatus::kSubscribed;
      std::string value;
      encode_snapshot(mailchimp_header(st, 1), e, "{}", &value);
      if (Status s = store.put(pair, Family::kMailchimp, member_key(e).view(), value); !s) return s;
    }
    return FetchStats{};
  }
  std::vector<SideOutcome> apply(const std::vector<SideWrite>& writes) override {
    ++requests_;
    SideOutcome done;
    done.code = SideOutcome::Code::kDone;
    return std::vector<SideOutcome>(writes.size(), done);
  }
  std::size_t batch_size() const override { return 100; }
  std::uint64_t requests() const override { return requests_; }

  Status fail;
  std::function<void()> on_fetch;  // called as fetch() begins, when set
  std::vector<std::vector<std::string>> refreshed;
  std::set<std::string> has;  // Mailchimp: the members refresh() finds

 private:
  Side side_;
  std::uint64_t requests_ = 0;
};

WebhookEvent event(WebhookType type, const std::string& email, const std::string& old = "") {
  WebhookEvent e;
  e.type = type;
  e.list_id = "L";
  e.email = email;
  e.old_email = old;
  return e;
}

// A store with the pairs "newsletter" (every 30m) and, when asked, "volunteers" (every 1h); the
// daemon over them with fake sides, a fake clock, and its log and CRM email changes kept.
struct Fixture {
  DiskFaults disk;  // before t: the store uses it
  TempStore t{"daemon", &disk};
  std::filesystem::path state = t.dir.string() + "-state";
  Config config;
  FakeClock clock;
  std::map<std::string, FakeSide*> mailchimp, crm;  // owned by the daemon
  std::vector<std::string> logged;
  std::vector<std::string> email_changes;  // "<contact> <old> <new>"
  bool fail_email_changes = false;         // change_crm_email answers 503
  std::size_t deliveries_per_run = 1000;
  std::uint64_t retried[2] = {0, 0};  // by Side

  explicit Fixture(bool two_pairs = false) {
    config.state_dir = state;
    SyncConfig s;
    s.name = "newsletter";
    s.schedule = "every 30m";
    // The fake sides hold a member or two: any addition is a large share of them.
    s.options.max_addition_fraction = 1000.0;
    config.syncs.push_back(s);
    if (two_pairs) {
      s.name = "volunteers";
      s.schedule = "every 1h";
      config.syncs.push_back(s);
    }
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(state, ec);
  }

  bool logged_line(const std::string& part) const {
    for (const std::string& l : logged) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }

  std::unique_ptr<Daemon> open() {
    std::vector<DaemonPair> pairs;
    for (const SyncConfig& s : config.syncs) {
      DaemonPair p;
      p.config = &s;
      p.handle = t.store->pair(s.name).value();
      auto mc = std::make_unique<FakeSide>(Side::kMailchimp);
      auto cr = std::make_unique<FakeSide>(Side::kCrm);
      mailchimp[s.name] = mc.get();
      crm[s.name] = cr.get();
      p.mailchimp = std::move(mc);
      p.crm = std::move(cr);
      p.change_crm_email = [this](std::int64_t contact, const std::string& old_email,
                                  const std::string& new_email) {
        if (fail_email_changes) return Status::unavailable("CiviCRM answered 503");
        email_changes.push_back(std::to_string(contact) + " " + old_email + " " + new_email);
        return Status::ok();
      };
      pairs.push_back(std::move(p));
    }
    DaemonOptions o;
    o.backup_dir = state / "backups";
    o.clock = &clock;
    o.deliveries_per_run = deliveries_per_run;
    o.log = [this](const std::string& line) { logged.push_back(line); };
    o.retried_errors = [this](Side side) { return retried[static_cast<int>(side)]; };
    Result<std::unique_ptr<Daemon>> d = Daemon::open(config, *t.store, std::move(pairs), o);
    INFO(d.status().to_string());
    REQUIRE(d.is_ok());
    return std::move(d.value());
  }

  // "<pair> <kind>" of every run logged so far, in order ("newsletter serve").
  std::vector<std::string> runs_logged() const {
    std::vector<std::string> out;
    for (const std::string& l : logged) {
      const std::size_t colon = l.find(": ");
      const std::size_t run = l.find(" run ");
      if (colon == std::string::npos || run == std::string::npos) continue;
      out.push_back(l.substr(0, colon) + " " + l.substr(colon + 2, run - colon - 2));
    }
    return out;
  }
};

double metric(const Daemon& d, const std::string& name, const Metrics::Labels& labels) {
  return d.metrics().registry().value(name, labels);
}

}  // namespace

TEST_CASE("daemon: a pair that never ran runs at once, then when the clock passes its schedule") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  const Micros t0 = f.clock.t;
  CHECK(d->sync("newsletter").value().state == SyncView::State::kIdle);
  CHECK(d->step());
  CHECK_FALSE(d->step());
  CHECK(d->next_wakeup() == t0 + 30 * kMinute);
  CHECK(d->sync("newsletter").value().next_run == t0 + 30 * kMinute);

  f.clock.t = t0 + 30 * kMinute - 1;
  CHECK_FALSE(d->step());
  f.clock.t = t0 + 30 * kMinute;
  CHECK(d->step());
  CHECK_FALSE(d->step());
  CHECK(f.runs_logged() == std::vector<std::string>{"newsletter serve", "newsletter serve"});
  std::vector<RunRecord> runs = d->runs("newsletter", 10).value();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].started_at == t0 + 30 * kMinute);
  CHECK(runs[0].command == "serve");
  CHECK(runs[0].state == RunState::kDone);
  CHECK(metric(*d, "concord_runs_total",
               {{"sync", "newsletter"}, {"kind", "serve"}, {"result", "done"}}) == 2);
  CHECK(metric(*d, "concord_last_success_timestamp_seconds", {{"sync", "newsletter"}}) ==
        static_cast<double>(t0 + 30 * kMinute) / kMicrosPerSecond);
}

TEST_CASE("daemon: a delivery triggers a webhook run that reads the members it names again") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());  // the first run
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
  REQUIRE(d->deliver("newsletter", event(WebhookType::kUpemail, "new@b.org", "old@b.org")).is_ok());
  REQUIRE(d->deliver("newsletter", event(WebhookType::kProfile, "a@b.org")).is_ok());
  CHECK(d->sync("newsletter").value().state == SyncView::State::kQueued);
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 3);
  CHECK(metric(*d, "concord_webhook_events_total", {{"sync", "newsletter"}, {"type", "upemail"}}) ==
        1);

  CHECK(d->step());
  CHECK(f.runs_logged().back() == "newsletter webhook");
  // Each address once, both of an address change; the CRM has no contact under the old address,
  // so nothing is carried over.
  const std::vector<std::string> named = {"a@b.org", "new@b.org", "old@b.org"};
  REQUIRE(f.mailchimp["newsletter"]->refreshed.size() == 1);
  CHECK(f.mailchimp["newsletter"]->refreshed[0] == named);
  CHECK(f.crm["newsletter"]->refreshed.back() == named);
  CHECK(f.email_changes.empty());
  // Reconciled: removed, and nothing more to run.
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
  CHECK(d->sync("newsletter").value().state == SyncView::State::kIdle);
  CHECK_FALSE(d->step());
  CHECK(d->runs("newsletter", 1).value()[0].command == "webhook");
}

TEST_CASE("daemon: an address change moves the CRM contact stored under the old address") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());
  // The CRM snapshot holds contact 104 under the old address.
  std::string value;
  encode_snapshot(crm_header(CrmState{}, 1), "old@b.org", R"({"contact_id":104})", &value);
  REQUIRE(f.t.store->put(*f.t.pair, Family::kCrm, member_key("old@b.org").view(), value).is_ok());
  REQUIRE(d->deliver("newsletter", event(WebhookType::kUpemail, "new@b.org", "old@b.org")).is_ok());
  // Mailchimp does not have the new address (a forged or stale delivery): the CRM is left alone.
  CHECK(d->step());
  CHECK(f.email_changes.empty());
  CHECK(f.mailchimp["newsletter"]->refreshed.front() == std::vector<std::string>{"new@b.org"});
  CHECK(f.logged_line("which the audience does not have"));
  // Once Mailchimp shows it, the contact moves.
  f.mailchimp["newsletter"]->has = {"new@b.org"};
  REQUIRE(d->deliver("newsletter", event(WebhookType::kUpemail, "new@b.org", "old@b.org")).is_ok());
  CHECK(d->step());
  CHECK(f.email_changes == std::vector<std::string>{"104 old@b.org new@b.org"});
}

// The CRM snapshot holds contact 104 under old@b.org.
void store_old_address(Fixture& f) {
  std::string value;
  encode_snapshot(crm_header(CrmState{}, 1), "old@b.org", R"({"contact_id":104})", &value);
  REQUIRE(f.t.store->put(*f.t.pair, Family::kCrm, member_key("old@b.org").view(), value).is_ok());
}

TEST_CASE("daemon: a scheduled run carries out the address changes waiting for it first") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());
  store_old_address(f);
  f.mailchimp["newsletter"]->has = {"new@b.org"};
  REQUIRE(d->set_enabled("newsletter", false).is_ok());  // deliveries wait
  REQUIRE(d->deliver("newsletter", event(WebhookType::kUpemail, "new@b.org", "old@b.org")).is_ok());
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
  f.clock.t += kMinute;
  REQUIRE(d->run_now("newsletter").is_ok());
  CHECK(d->step());
  CHECK(f.runs_logged().back() == "newsletter serve");
  CHECK(f.email_changes == std::vector<std::string>{"104 old@b.org new@b.org"});
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
}

TEST_CASE("daemon: an address change that fails stays stored and is tried again") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());
  store_old_address(f);
  f.mailchimp["newsletter"]->has = {"new@b.org"};
  f.fail_email_changes = true;
  REQUIRE(d->deliver("newsletter", event(WebhookType::kUpemail, "new@b.org", "old@b.org")).is_ok());
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
  CHECK(d->step());  // the webhook run
  CHECK(f.email_changes.empty());
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 1);  // the upemail
  // A scheduled run does not drop it either.
  f.clock.t += 31 * kMinute;
  while (d->step()) {
  }
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 1);
  // Once the CRM answers, the next run carries it out and lets it go.
  f.fail_email_changes = false;
  f.clock.t += 31 * kMinute;
  while (d->step()) {
  }
  CHECK(f.email_changes == std::vector<std::string>{"104 old@b.org new@b.org"});
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
}

TEST_CASE("daemon: a backlog larger than one run takes is worked off without new deliveries") {
  Fixture f;
  f.deliveries_per_run = 2;
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, std::to_string(i) + "@b.org"))
                .is_ok());
  }
  CHECK(d->step());
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 3);
  CHECK(d->step());
  CHECK(d->step());
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
  CHECK_FALSE(d->step());
  CHECK(f.mailchimp["newsletter"]->refreshed ==
        std::vector<std::vector<std::string>>{
            {"0@b.org", "1@b.org"}, {"2@b.org", "3@b.org"}, {"4@b.org"}});
}

TEST_CASE("daemon: deliveries whose run failed are tried again after a growing back-off") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());
  const Micros scheduled = d->next_wakeup();
  f.mailchimp["newsletter"]->fail = Status::unavailable("Mailchimp answered 503");
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
  CHECK(d->step());  // fails
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 1);
  // Not at once (a down API is not hammered), but after 30 s, then after 60 s.
  CHECK_FALSE(d->step());
  CHECK(d->next_wakeup() == f.clock.t + 30 * kMicrosPerSecond);
  // A new delivery does not cut the back-off short.
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "b@b.org")).is_ok());
  CHECK_FALSE(d->step());
  f.clock.t += 30 * kMicrosPerSecond;
  CHECK(d->step());  // fails again
  CHECK(d->next_wakeup() == f.clock.t + 60 * kMicrosPerSecond);
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 2);
  // Mailchimp is back: both are reconciled, and nothing is left to retry.
  f.mailchimp["newsletter"]->fail = Status::ok();
  f.clock.t += 60 * kMicrosPerSecond;
  CHECK(d->step());
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
  CHECK(f.mailchimp["newsletter"]->refreshed.back() ==
        std::vector<std::string>{"a@b.org", "b@b.org"});
  CHECK(d->next_wakeup() == scheduled);
  CHECK_FALSE(d->step());
}

TEST_CASE("daemon: a full disk makes it unhealthy and refuses deliveries rather than lose them") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  CHECK(d->health().is_ok());
  f.disk.full = true;
  f.clock.t += 2 * kMicrosPerSecond;  // the health check is made at most once a second
  CHECK_FALSE(d->health().is_ok());
  // Not stored, so not acknowledged: Mailchimp sends it again.
  CHECK_FALSE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
}

TEST_CASE("daemon: deliveries never run twice in a row while a scheduled run waits") {
  Fixture f(/*two_pairs=*/true);
  std::unique_ptr<Daemon> d = f.open();
  REQUIRE(d->step());  // both never ran
  REQUIRE(d->step());
  REQUIRE_FALSE(d->step());
  f.clock.t += 30 * kMinute;  // newsletter is due; volunteers is not
  REQUIRE(d->deliver("volunteers", event(WebhookType::kSubscribe, "v1@b.org")).is_ok());
  CHECK(d->step());  // deliveries first
  REQUIRE(d->deliver("volunteers", event(WebhookType::kSubscribe, "v2@b.org")).is_ok());
  CHECK(d->step());  // then the waiting scheduled run
  CHECK(d->step());  // then the next delivery
  CHECK_FALSE(d->step());
  CHECK(f.runs_logged() == std::vector<std::string>{"newsletter serve", "volunteers serve",
                                                    "volunteers webhook", "newsletter serve",
                                                    "volunteers webhook"});
  CHECK(f.mailchimp["volunteers"]->refreshed ==
        std::vector<std::vector<std::string>>{{"v1@b.org"}, {"v2@b.org"}});
}

TEST_CASE(
    "daemon: a disabled pair does not run by schedule but runs when asked; the toggle is "
    "kept") {
  Fixture f;
  {
    std::unique_ptr<Daemon> d = f.open();
    REQUIRE(d->step());
    SyncView off = d->set_enabled("newsletter", false).value();
    CHECK_FALSE(off.enabled);
    CHECK(off.state == SyncView::State::kDisabled);
    CHECK(off.next_run == kNoTime);
    f.clock.t += 120 * kMinute;
    CHECK_FALSE(d->step());
    // Its deliveries wait too.
    REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
    CHECK_FALSE(d->step());
    // "Run now" runs it; the scheduled run covers the deliveries that came before it began.
    f.clock.t += kMinute;
    REQUIRE(d->run_now("newsletter").is_ok());
    CHECK(d->sync("newsletter").value().state == SyncView::State::kQueued);
    CHECK(d->step());
    CHECK(f.runs_logged().back() == "newsletter serve");
    CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 0);
    CHECK_FALSE(d->step());
    CHECK(d->run_now("nobody").code() == Status::Code::kNotFound);
    CHECK(d->set_enabled("nobody", true).status().code() == Status::Code::kNotFound);
  }
  std::unique_ptr<Daemon> again = f.open();
  CHECK_FALSE(again->sync("newsletter").value().enabled);
  f.clock.t += 120 * kMinute;
  CHECK_FALSE(again->step());
}

TEST_CASE("daemon: deliveries stored before a restart are reconciled after it") {
  Fixture f;
  {
    std::unique_ptr<Daemon> d = f.open();
    REQUIRE(d->step());
    REQUIRE(d->deliver("newsletter", event(WebhookType::kCleaned, "gone@b.org")).is_ok());
  }
  f.clock.t += kMinute;
  std::unique_ptr<Daemon> d = f.open();
  CHECK(metric(*d, "concord_webhook_pending", {{"sync", "newsletter"}}) == 1);
  CHECK(d->sync("newsletter").value().state == SyncView::State::kQueued);
  CHECK(d->step());
  CHECK(f.runs_logged().back() == "newsletter webhook");
  CHECK(f.mailchimp["newsletter"]->refreshed ==
        std::vector<std::vector<std::string>>{{"gone@b.org"}});
  // A delivery after the restart is numbered after the ones kept, and taken alone.
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "next@b.org")).is_ok());
  CHECK(d->step());
  CHECK(f.mailchimp["newsletter"]->refreshed.back() == std::vector<std::string>{"next@b.org"});
}

TEST_CASE("daemon: a failed run is an API error of the side its Status names, not of a guess") {
  Fixture f;
  f.retried[static_cast<int>(Side::kMailchimp)] = 2;  // met by the clients before this run
  std::unique_ptr<Daemon> d = f.open();
  f.crm["newsletter"]->fail = Status::unavailable("the site is down").with_origin(Origin::kCivicrm);
  CHECK(d->step());
  const Metrics::Labels failed = {{"sync", "newsletter"}, {"kind", "serve"}, {"result", "failed"}};
  CHECK(metric(*d, "concord_runs_total", failed) == 1);
  CHECK(metric(*d, "concord_api_errors_total", {{"side", "crm"}}) == 1);
  CHECK(metric(*d, "concord_api_errors_total", {{"side", "mailchimp"}}) == 2);  // the retried
  CHECK(metric(*d, "concord_api_requests_total", {{"side", "crm"}}) >= 1);
  CHECK(f.logged.back().find("newsletter: serve run failed: ") == 0);
  CHECK(f.logged.back().find("the site is down") != std::string::npos);

  // An error of the store names no side, whatever its words say.
  f.crm["newsletter"]->fail =
      Status::io_error("CiviCRM's snapshot: disk full").with_origin(Origin::kStore);
  REQUIRE(d->run_now("newsletter").is_ok());
  CHECK(d->step());
  CHECK(metric(*d, "concord_runs_total", failed) == 2);
  CHECK(metric(*d, "concord_api_errors_total", {{"side", "crm"}}) == 1);
  CHECK(metric(*d, "concord_api_errors_total", {{"side", "mailchimp"}}) == 2);
}

TEST_CASE("daemon: the worker thread runs a delivery as soon as it is stored") {
  Fixture f;
  std::unique_ptr<Daemon> d = f.open();
  d->start();
  auto runs = [&] { return d->runs("newsletter", 10).value().size(); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (runs() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(runs() == 1);
  // The next scheduled run is 30 (fake) minutes away; the delivery wakes the worker.
  REQUIRE(d->deliver("newsletter", event(WebhookType::kSubscribe, "a@b.org")).is_ok());
  while (runs() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(runs() == 2);
  d->stop();
  CHECK(d->runs("newsletter", 1).value()[0].command == "webhook");
}

TEST_CASE("daemon: pairs of different Mailchimp accounts run at the same time") {
  // "newsletter" (account "main") fetches until the test lets it go; "volunteers" (account
  // "other") runs its first sync meanwhile. One worker for both would wait for the first.
  Fixture f(/*two_pairs=*/true);
  f.config.syncs[0].mailchimp = "main";
  f.config.syncs[1].mailchimp = "other";
  std::unique_ptr<Daemon> d = f.open();
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, held = false;
  f.mailchimp["newsletter"]->on_fetch = [&] {
    std::unique_lock<std::mutex> lock(mu);
    held = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return release; });
  };
  d->start();
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return held; }));
  }
  auto runs = [&](const char* pair) { return d->runs(pair, 10).value().size(); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (runs("volunteers") < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(runs("volunteers") == 1);  // while newsletter's run still fetches
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  while (d->runs("newsletter", 10).value().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  d->stop();
  CHECK(runs("newsletter") == 1);
}
