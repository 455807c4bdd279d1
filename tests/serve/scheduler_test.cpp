// The Scheduler's rules, one scenario per rule: pairs are added at a time, then a script of events
// (take_due, finished, run_now, enable/disable) with what the Scheduler must answer at each step.
//
// Times are UTC on Monday 4 May 2026 unless written in full; every expected time is worked out by
// hand from the rule the scenario is about.
#include "serve/scheduler.h"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "concord/time.h"
#include "config/schedule.h"

namespace concord {
namespace {

// "HH:MM" or "HH:MM:SS" on 4 May 2026, a full "YYYY-MM-DD HH:MM:SS", or "" for kNoTime.
Micros at(const std::string& text) {
  if (text.empty()) return kNoTime;
  std::string full = text;
  if (full.size() == 5) full += ":00";
  if (full.size() == 8) full = "2026-05-04 " + full;
  auto t = parse_civil(full);
  REQUIRE(t.is_ok());
  return *t;
}

std::string show(Micros t) {
  return t == kNoTime ? "never" : format_civil(t);
}

Schedule schedule(const std::string& text) {
  auto s = Schedule::parse(text);
  REQUIRE(s.is_ok());
  return *s;
}

struct PairSpec {
  std::string name;
  std::string schedule;
  bool enabled;
  std::string last_start;  // "" never ran
};

struct Step {
  enum class Op {
    kTake,
    kFinish,
    kRunNow,
    kEnable,
    kDisable,
    kNext,
    kWakeup,
    kRunning,
    kAdd,
    kRemove
  };
  Op op = Op::kTake;
  std::string name;
  std::string at;     // take, enable, disable, add: now; finish: end; next, wakeup: expected
  std::string start;  // finish: the run's start; add: last start
  std::vector<std::string> due;  // take: the pairs returned
  bool flag = false;             // running: expected; add: enabled
  std::string schedule;          // add
};

Step make(Step::Op op, std::string name, std::string time = "") {
  Step s;
  s.op = op;
  s.name = std::move(name);
  s.at = std::move(time);
  return s;
}
Step take(std::string now, std::vector<std::string> due) {
  Step s = make(Step::Op::kTake, "", std::move(now));
  s.due = std::move(due);
  return s;
}
Step finish(std::string name, std::string start, std::string end) {
  Step s = make(Step::Op::kFinish, std::move(name), std::move(end));
  s.start = std::move(start);
  return s;
}
Step run_now(std::string name) {
  return make(Step::Op::kRunNow, std::move(name));
}
Step enable(std::string name, std::string now) {
  return make(Step::Op::kEnable, std::move(name), std::move(now));
}
Step disable(std::string name, std::string now) {
  return make(Step::Op::kDisable, std::move(name), std::move(now));
}
Step next_run(std::string name, std::string expected) {
  return make(Step::Op::kNext, std::move(name), std::move(expected));
}
Step wakeup(std::string expected) {
  return make(Step::Op::kWakeup, "", std::move(expected));
}
Step running(std::string name, bool expected) {
  Step s = make(Step::Op::kRunning, std::move(name));
  s.flag = expected;
  return s;
}
Step add(std::string name, std::string sched, bool enabled, std::string last_start,
         std::string now) {
  Step s = make(Step::Op::kAdd, std::move(name), std::move(now));
  s.start = std::move(last_start);
  s.flag = enabled;
  s.schedule = std::move(sched);
  return s;
}
Step remove(std::string name) {
  return make(Step::Op::kRemove, std::move(name));
}

std::string describe(const Step& s) {
  std::ostringstream out;
  switch (s.op) {
    case Step::Op::kTake:
      out << "take_due(" << s.at << ") == {";
      for (std::size_t i = 0; i < s.due.size(); ++i)
        out << (i ? ", " : "") << s.due[i];
      out << "}";
      break;
    case Step::Op::kFinish:
      out << "finished(" << s.name << ", " << s.start << ", " << s.at << ")";
      break;
    case Step::Op::kRunNow:
      out << "run_now(" << s.name << ")";
      break;
    case Step::Op::kEnable:
      out << "set_enabled(" << s.name << ", true, " << s.at << ")";
      break;
    case Step::Op::kDisable:
      out << "set_enabled(" << s.name << ", false, " << s.at << ")";
      break;
    case Step::Op::kNext:
      out << "next_run(" << s.name << ") == " << (s.at.empty() ? "never" : s.at);
      break;
    case Step::Op::kWakeup:
      out << "next_wakeup() == " << (s.at.empty() ? "never" : s.at);
      break;
    case Step::Op::kRunning:
      out << "running(" << s.name << ") == " << s.flag;
      break;
    case Step::Op::kAdd:
      out << "add(" << s.name << ", " << s.schedule << ", " << s.at << ")";
      break;
    case Step::Op::kRemove:
      out << "remove(" << s.name << ")";
      break;
  }
  return out.str();
}

struct Scenario {
  std::string rule;
  std::vector<PairSpec> pairs;
  std::string added_at;
  std::vector<Step> steps;
};

void run(const Scenario& sc) {
  Scheduler s;
  for (const PairSpec& p : sc.pairs) {
    s.add(p.name, schedule(p.schedule), p.enabled, at(p.last_start), at(sc.added_at));
  }
  for (std::size_t i = 0; i < sc.steps.size(); ++i) {
    const Step& step = sc.steps[i];
    INFO("step " << i + 1 << ": " << describe(step));
    switch (step.op) {
      case Step::Op::kTake:
        CHECK(s.take_due(at(step.at)) == step.due);
        break;
      case Step::Op::kFinish:
        s.finished(step.name, at(step.start), at(step.at));
        break;
      case Step::Op::kRunNow:
        CHECK(s.run_now(step.name));
        break;
      case Step::Op::kEnable:
        CHECK(s.set_enabled(step.name, true, at(step.at)));
        CHECK(s.enabled(step.name));
        break;
      case Step::Op::kDisable:
        CHECK(s.set_enabled(step.name, false, at(step.at)));
        CHECK_FALSE(s.enabled(step.name));
        break;
      case Step::Op::kNext:
        CHECK(show(s.next_run(step.name)) == show(at(step.at)));
        break;
      case Step::Op::kWakeup:
        CHECK(show(s.next_wakeup()) == show(at(step.at)));
        break;
      case Step::Op::kRunning:
        CHECK(s.running(step.name) == step.flag);
        break;
      case Step::Op::kAdd:
        s.add(step.name, schedule(step.schedule), step.flag, at(step.start), at(step.at));
        break;
      case Step::Op::kRemove:
        CHECK(s.remove(step.name));
        break;
    }
  }
}

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {
      {"a pair that never ran is due at once when added, for both kinds of schedule",
       {{"newsletter", "every 5m", true, ""}, {"members", "0 3 * * *", true, ""}},
       "10:00",
       {
           next_run("newsletter", "10:00"),
           next_run("members", "10:00"),
           wakeup("10:00"),
           take("10:00", {"newsletter", "members"}),  // in the order added
           running("newsletter", true),
           running("members", true),
           wakeup(""),
           take("10:00", {}),
           finish("newsletter", "10:00", "10:01"),
           finish("members", "10:00", "10:02"),
           next_run("newsletter", "10:05"),
           next_run("members", "2026-05-05 03:00:00"),
           wakeup("10:05"),
       }},

      {"every N: the next run is the last START + N, not the last end + N",
       {{"a", "every 5m", true, "09:58"}},
       "10:00",
       {
           next_run("a", "10:03"),
           take("10:02:59", {}),
           take("10:03", {"a"}),
           finish("a", "10:03", "10:04:30"),
           next_run("a", "10:08"),
           take("10:07:59", {}),
           take("10:08", {"a"}),
       }},

      {"never two runs of one pair at once",
       {{"a", "every 1m", true, ""}},
       "10:00",
       {
           take("10:00", {"a"}),
           take("10:01", {}),
           take("10:30", {}),
           run_now("a"),
           take("10:31", {}),
           running("a", true),
           wakeup(""),  // nothing but the running pair: wait for its finish
           finish("a", "10:00", "10:45"),
           running("a", false),
           take("10:45", {"a"}),  // 45 slots missed and a request: one run
           take("10:45", {}),
           take("10:46", {}),
       }},

      {"every N: a run that falls due while the pair runs starts once, right after it ends",
       {{"a", "every 5m", true, ""}},
       "10:00",
       {
           take("10:00", {"a"}),
           next_run("a", "10:05"),
           take("10:05", {}),
           take("10:10", {}),
           finish("a", "10:00", "10:12"),
           wakeup("10:05"),  // overdue: at once
           take("10:12", {"a"}),
           next_run("a", "10:17"),
           finish("a", "10:12", "10:13"),
           take("10:16:59", {}),
           take("10:17", {"a"}),
       }},

      {"cron: an overrun of two slots gives one run at once, then the next slot after its start",
       {{"a", "*/5 * * * *", true, "09:55"}},
       "09:58",
       {
           next_run("a", "10:00"),
           take("09:59:59", {}),
           take("10:00", {"a"}),
           take("10:05", {}),
           take("10:10", {}),
           finish("a", "10:00", "10:12"),
           take("10:12", {"a"}),
           next_run("a", "10:15"),
           finish("a", "10:12", "10:13"),
           take("10:14:59", {}),
           take("10:15", {"a"}),
       }},

      {"every N: runs missed while the daemon was down run once at startup, with no backlog",
       {{"a", "every 5m", true, "2026-05-01 09:00:00"}},
       "10:00",
       {
           next_run("a", "2026-05-01 09:05:00"),
           take("10:00", {"a"}),
           finish("a", "10:00", "10:01"),
           take("10:01", {}),
           next_run("a", "10:05"),
           take("10:04:59", {}),
           take("10:05", {"a"}),
       }},

      {"cron: runs missed while the daemon was down run once at startup, with no backlog",
       {{"a", "0 * * * *", true, "2026-05-01 09:00:00"}},
       "10:20",
       {
           next_run("a", "2026-05-01 10:00:00"),
           take("10:20", {"a"}),
           finish("a", "10:20", "10:25"),
           take("10:25", {}),
           next_run("a", "11:00"),
           take("10:59:59", {}),
           take("11:00", {"a"}),
       }},

      {"disabled pairs are never due by schedule",
       {{"a", "every 5m", false, "09:00"}, {"b", "* * * * *", false, ""}},
       "10:00",
       {
           next_run("a", ""),
           next_run("b", ""),
           wakeup(""),
           take("10:00", {}),
           take("2026-05-10 12:00:00", {}),
       }},

      {"re-enabling plans from the last start: a pair disabled for a day runs once, at once",
       {{"a", "every 1h", true, "09:00"}},
       "09:30",
       {
           next_run("a", "10:00"),
           disable("a", "09:30"),
           next_run("a", ""),
           take("10:00", {}),
           take("2026-05-05 09:00:00", {}),
           enable("a", "2026-05-05 10:00:00"),
           next_run("a", "10:00"),  // overdue since yesterday
           take("2026-05-05 10:00:00", {"a"}),
           finish("a", "2026-05-05 10:00:00", "2026-05-05 10:01:00"),
           take("2026-05-05 10:01:00", {}),
           next_run("a", "2026-05-05 11:00:00"),
       }},

      {"re-enabling before the next slot keeps that slot",
       {{"a", "every 1h", true, "09:00"}},
       "09:30",
       {
           disable("a", "09:40"),
           enable("a", "09:50"),
           next_run("a", "10:00"),
           take("09:59", {}),
           take("10:00", {"a"}),
       }},

      {"a pair that never ran is due at once when it is enabled",
       {{"a", "0 3 * * *", false, ""}},
       "10:00",
       {
           take("10:00", {}),
           enable("a", "12:00"),
           next_run("a", "12:00"),
           take("12:00", {"a"}),
           finish("a", "12:00", "12:05"),
           next_run("a", "2026-05-05 03:00:00"),
       }},

      {"run now works on a disabled pair, once",
       {{"a", "every 1h", false, "09:00"}},
       "10:00",
       {
           next_run("a", ""),
           run_now("a"),
           next_run("a", "10:00"),  // the latest time the scheduler knew of
           wakeup("10:00"),
           take("10:05", {"a"}),
           next_run("a", ""),
           finish("a", "10:05", "10:06"),
           take("12:00", {}),
           wakeup(""),
       }},

      {"run now on an enabled pair runs at once, and the schedule goes on from that run",
       {{"a", "every 1h", true, "09:30"}},
       "10:00",
       {
           next_run("a", "10:30"),
           run_now("a"),
           next_run("a", "10:00"),
           take("10:01", {"a"}),
           finish("a", "10:01", "10:02"),
           next_run("a", "11:01"),
           take("10:30", {}),
           take("11:01", {"a"}),
       }},

      {"run now during a run starts one run right after it",
       {{"a", "every 1h", true, ""}},
       "10:00",
       {
           take("10:00", {"a"}),
           run_now("a"),
           run_now("a"),
           take("10:10", {}),
           wakeup(""),
           finish("a", "10:00", "10:20"),
           take("10:20", {"a"}),
           finish("a", "10:20", "10:21"),
           take("10:21", {}),
           next_run("a", "11:20"),
       }},

      {"several pairs are independent",
       {{"a", "every 5m", true, ""}, {"b", "every 7m", true, ""}, {"c", "*/10 * * * *", false, ""}},
       "10:00",
       {
           take("10:00", {"a", "b"}),
           finish("a", "10:00", "10:03"),
           take("10:05", {"a"}),
           finish("b", "10:00", "10:09"),  // overran its 10:07 slot
           take("10:09", {"b"}),
           finish("a", "10:05", "10:06"),
           wakeup("10:10"),
           take("10:10", {"a"}),
           finish("b", "10:09", "10:10"),
           next_run("b", "10:16"),
           wakeup("10:16"),  // a is running
           next_run("c", ""),
           run_now("c"),
           take("10:11", {"c"}),
           running("a", true),
           running("b", false),
       }},

      {"a last start after now (the clock was set back) counts as now",
       {{"a", "every 1h", true, "2026-05-05 10:00:00"}},
       "10:00",
       {
           next_run("a", "11:00"),
           take("10:59", {}),
           take("11:00", {"a"}),
       }},

      {"next_wakeup is the earliest next run of the pairs not running",
       {{"a", "every 5m", true, "09:58"}, {"b", "every 1h", true, "09:30"}},
       "10:00",
       {
           wakeup("10:03"),
           take("10:03", {"a"}),
           wakeup("10:30"),
           finish("a", "10:03", "10:04"),
           wakeup("10:08"),
       }},

      {"a run the scheduler did not start still counts as the last start",
       {{"a", "every 1h", true, "09:00"}},
       "09:30",
       {
           finish("a", "09:45", "09:50"),
           next_run("a", "10:45"),
           take("10:00", {}),
           take("10:45", {"a"}),
       }},

      {"adding a pair again (a reload) changes its schedule and keeps its running state",
       {{"a", "every 5m", true, ""}},
       "10:00",
       {
           take("10:00", {"a"}),
           add("a", "every 1h", true, "", "10:01"),
           running("a", true),
           take("10:02", {}),
           finish("a", "10:00", "10:03"),
           next_run("a", "11:00"),
           take("10:05", {}),
       }},

      {"a removed pair is forgotten",
       {{"a", "every 5m", true, ""}, {"b", "every 5m", true, ""}},
       "10:00",
       {
           take("10:00", {"a", "b"}),
           remove("a"),
           finish("a", "10:00", "10:01"),  // ignored
           finish("b", "10:00", "10:01"),
           next_run("a", ""),
           take("10:05", {"b"}),
       }},
  };
  return all;
}

TEST_CASE("scheduler rules") {
  for (const Scenario& sc : scenarios()) {
    DYNAMIC_SECTION(sc.rule) {
      run(sc);
    }
  }
}

TEST_CASE("scheduler: unknown pairs") {
  Scheduler s;
  CHECK(s.next_wakeup() == kNoTime);
  CHECK(s.take_due(at("10:00")).empty());
  CHECK_FALSE(s.run_now("nope"));
  CHECK_FALSE(s.set_enabled("nope", true, at("10:00")));
  CHECK_FALSE(s.remove("nope"));
  s.finished("nope", at("10:00"), at("10:01"));
  CHECK_FALSE(s.enabled("nope"));
  CHECK_FALSE(s.running("nope"));
  CHECK_FALSE(s.run_requested("nope"));
  CHECK(s.next_run("nope") == kNoTime);
}

TEST_CASE("scheduler: run_requested until the run starts") {
  Scheduler s;
  s.add("a", schedule("every 1h"), true, at("09:30"), at("10:00"));
  CHECK_FALSE(s.run_requested("a"));
  CHECK(s.run_now("a"));
  CHECK(s.run_requested("a"));
  CHECK(s.take_due(at("10:00")) == std::vector<std::string>{"a"});
  CHECK_FALSE(s.run_requested("a"));
}

TEST_CASE("scheduler: cron in a zone across the clocks going back") {
  // "30 1 * * *" in Europe/London ran at 01:30 BST (00:30 UTC) on 25 October 2026; the repeated
  // 01:30 GMT (01:30 UTC) is not a second run.
  auto zone = TimeZone::load("Europe/London");
  REQUIRE(zone.is_ok());
  auto sched = Schedule::parse("30 1 * * *", *zone);
  REQUIRE(sched.is_ok());
  Scheduler s;
  s.add("a", *sched, true, at("2026-10-24 00:30:00"), at("2026-10-24 12:00:00"));
  CHECK(show(s.next_run("a")) == "2026-10-25 00:30:00");
  CHECK(s.take_due(at("2026-10-25 00:30:00")) == std::vector<std::string>{"a"});
  s.finished("a", at("2026-10-25 00:30:00"), at("2026-10-25 00:40:00"));
  CHECK(s.take_due(at("2026-10-25 01:30:00")).empty());
  CHECK(show(s.next_run("a")) == "2026-10-26 01:30:00");
}

}  // namespace
}  // namespace concord
