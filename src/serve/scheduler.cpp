#include "serve/scheduler.h"

#include <algorithm>
#include <utility>

namespace concord {

Scheduler::Pair* Scheduler::find(const std::string& name) {
  for (Pair& p : pairs_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Scheduler::Pair* Scheduler::find(const std::string& name) const {
  for (const Pair& p : pairs_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

void Scheduler::saw(Micros t) {
  latest_ = std::max(latest_, t);
}

Micros Scheduler::plan(const Pair& p, Micros now) {
  if (p.last_start == kNoTime) return now;
  const Micros from = now == kNoTime ? p.last_start : std::min(p.last_start, now);
  return p.schedule.next_after(from);
}

Micros Scheduler::next_run(const Pair& p) {
  Micros when = p.enabled ? p.planned : kNoTime;
  if (p.requested && (when == kNoTime || p.requested_at < when)) when = p.requested_at;
  return when;
}

void Scheduler::add(std::string name, Schedule schedule, bool enabled, Micros last_start,
                    Micros now) {
  saw(now);
  Pair* p = find(name);
  if (p == nullptr) {
    pairs_.push_back(Pair{std::move(name), std::move(schedule)});
    p = &pairs_.back();
  } else {
    p->schedule = std::move(schedule);
  }
  p->enabled = enabled;
  p->last_start = std::max(p->last_start, last_start);
  p->planned = plan(*p, now);
}

bool Scheduler::remove(const std::string& name) {
  auto it =
      std::find_if(pairs_.begin(), pairs_.end(), [&](const Pair& p) { return p.name == name; });
  if (it == pairs_.end()) return false;
  pairs_.erase(it);
  return true;
}

std::vector<std::string> Scheduler::take_due(Micros now) {
  saw(now);
  std::vector<std::string> due;
  for (Pair& p : pairs_) {
    if (p.running) continue;
    const bool scheduled = p.enabled && p.planned != kNoTime && p.planned <= now;
    if (!scheduled && !p.requested) continue;
    p.running = true;
    p.requested = false;
    p.requested_at = kNoTime;
    p.last_start = now;
    p.planned = p.schedule.next_after(now);
    due.push_back(p.name);
  }
  return due;
}

void Scheduler::finished(const std::string& name, Micros start, Micros end) {
  saw(end);
  Pair* p = find(name);
  if (p == nullptr) return;
  p->running = false;
  p->last_start = std::max(p->last_start, start);
  if (p->last_start != kNoTime) p->planned = plan(*p, end);
}

bool Scheduler::run_now(const std::string& name) {
  Pair* p = find(name);
  if (p == nullptr) return false;
  if (!p->requested) {
    p->requested = true;
    p->requested_at = latest_;
  }
  return true;
}

bool Scheduler::set_enabled(const std::string& name, bool enabled, Micros now) {
  saw(now);
  Pair* p = find(name);
  if (p == nullptr) return false;
  if (p->enabled == enabled) return true;
  p->enabled = enabled;
  if (enabled) p->planned = plan(*p, now);
  return true;
}

bool Scheduler::enabled(const std::string& name) const {
  const Pair* p = find(name);
  return p != nullptr && p->enabled;
}

bool Scheduler::running(const std::string& name) const {
  const Pair* p = find(name);
  return p != nullptr && p->running;
}

bool Scheduler::run_requested(const std::string& name) const {
  const Pair* p = find(name);
  return p != nullptr && p->requested;
}

Micros Scheduler::next_run(const std::string& name) const {
  const Pair* p = find(name);
  return p == nullptr ? kNoTime : next_run(*p);
}

Micros Scheduler::next_wakeup() const {
  Micros earliest = kNoTime;
  for (const Pair& p : pairs_) {
    if (p.running) continue;
    const Micros when = next_run(p);
    if (when != kNoTime && (earliest == kNoTime || when < earliest)) earliest = when;
  }
  return earliest;
}

}  // namespace concord
