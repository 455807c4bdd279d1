// When each sync pair of `concord serve` runs: a state machine over Schedules (schedule.h).
//
// The daemon tells the Scheduler what happens (a pair was added, a run finished, a person pressed
// "run now", a pair was disabled) with the time it happened, and asks it which pairs to start
// now (take_due) and how long it may sleep (next_wakeup). The Scheduler reads no clock, starts no
// thread and never sleeps, so every rule below is tested with made-up times.
//
// The rules:
//   - One run of a pair at a time: take_due marks the pairs it returns running, and a running
//     pair is never returned again until finished() is called for it.
//   - Runs are planned from the START of the last run, never from its end:
//       every N:  next = last start + N;
//       cron:     next = the first cron time after the last start.
//   - Missed runs collapse into one. A run that falls due while the pair is running (it overran
//     its slot), or while the daemon was down, starts once, at the first take_due at or after the
//     finish (or at startup); the following run is planned from that run's start, so there is no
//     burst of catch-up runs. E.g. "*/5 * * * *": a run 10:00-10:12 is followed by one at 10:12,
//     then by 10:15.
//   - A pair that never ran (last start kNoTime) is due at once when added or enabled.
//   - Disabled pairs are never due by schedule. Enabling one plans from its last start, so a pair
//     that is overdue when enabled runs once, at once.
//   - run_now() asks for one run whatever the schedule, also of a disabled pair: at the next
//     take_due, or right after the current run when one is running. Several requests before that
//     run starts give one run. The run it causes counts as the pair's last start like any other.
//   - A last start after `now` (the clock was set back) counts as `now`.
//   - Pairs are independent of each other.
//
// Use: call take_due(now) at start-up, whenever next_wakeup() comes, after every finished(),
// run_now() and set_enabled(), and after add(). Running pairs are left out of next_wakeup(): their
// finished() is the event after which to call take_due again.
//
// Thread-safety: none; the daemon holds a mutex around it.
#pragma once

#include <string>
#include <vector>

#include "concord/time.h"
#include "config/schedule.h"

namespace concord {

class Scheduler {
 public:
  // Adds a pair: its schedule, whether it is enabled, and when its last run started (kNoTime:
  // it never ran). Adding a name again (a configuration reload) replaces its schedule, enabled
  // flag and last start (the later of the one known and the one given) and keeps its running
  // state and pending request.
  void add(std::string name, Schedule schedule, bool enabled, Micros last_start, Micros now);
  // Forgets a pair (a later finished() for it is ignored). False when there is no such pair.
  bool remove(const std::string& name);

  // The pairs to start now, in the order they were added, each marked running with `now` as its
  // last start. A pair is due when it is not running and either it is enabled and its planned
  // time is at or before `now`, or a run was requested (run_now).
  std::vector<std::string> take_due(Micros now);

  // A run of `name` that began at `start` ended at `end`: the pair is no longer running and its
  // next run is planned from the later of `start` and the start take_due recorded. Also records a
  // run the Scheduler did not start (e.g. a manual `concord sync`). Unknown names are ignored.
  void finished(const std::string& name, Micros start, Micros end);

  // Asks for one run of `name` now (see the rules above). False when there is no such pair.
  bool run_now(const std::string& name);

  // Enables or disables `name` (a run in progress is not stopped, a pending run_now stays).
  // Enabling plans the next run from the last start as of `now`. False when there is no such pair.
  bool set_enabled(const std::string& name, bool enabled, Micros now);

  // False for unknown names.
  bool enabled(const std::string& name) const;
  bool running(const std::string& name) const;
  bool run_requested(const std::string& name) const;

  // When `name` runs next: its planned time when enabled, or the time of a pending run_now
  // request if earlier (the latest time the Scheduler had been told when run_now was called).
  // A time at or before now means "at once", or "as soon as the current run ends" when running.
  // kNoTime when disabled with nothing requested, or unknown.
  Micros next_run(const std::string& name) const;

  // The earliest time take_due could return something: the earliest next_run of the pairs that are
  // not running. kNoTime when nothing is planned.
  Micros next_wakeup() const;

 private:
  struct Pair {
    std::string name;
    Schedule schedule;
    bool enabled = false;
    bool running = false;
    bool requested = false;
    Micros last_start = kNoTime;
    Micros planned = kNoTime;       // the next run by schedule (meaningful when enabled)
    Micros requested_at = kNoTime;  // when `requested`
  };

  Pair* find(const std::string& name);
  const Pair* find(const std::string& name) const;
  static Micros next_run(const Pair& p);
  // The next run by schedule after a last start, as of `now` (a last start after now counts as
  // now; a pair that never ran is due at `now`).
  static Micros plan(const Pair& p, Micros now);
  void saw(Micros t);

  std::vector<Pair> pairs_;  // in the order added; few, so looked up by scanning
  Micros latest_ = kNoTime;  // the latest time passed in
};

}  // namespace concord
