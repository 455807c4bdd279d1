// When a sync pair runs under `concord serve`: "every 30m" or a five-field cron expression.
//
// A Schedule answers one question, next_after(t): the first run time strictly after t. It reads no
// clock; the caller passes the times (the Scheduler, scheduler.h, decides what to do with them).
//
// Two forms:
//
//   every <N><unit>   unit m (minutes), h (hours) or d (days); N a whole number; from 1 minute to
//                     31 days. Lower case, one space: "every 5m", "every 2h", "every 1d". The next
//                     run is t + N: no wall clock, no time zone.
//
//   cron              "minute hour day month weekday" as Vixie cron reads it:
//                       minute 0-59, hour 0-23, day (of the month) 1-31, month 1-12 or jan-dec,
//                       weekday 0-7 or sun-sat (0 and 7 are both Sunday); names are
//                       case-insensitive.
//                     Each field is a list "a,b,…" of items: `*`, a number, a range `a-b`, or a
//                     stepped `*/n` or `a-b/n`. Fields are separated by spaces or tabs.
//                     Day and weekday: a day matches when both fields match, except when both
//                     are restricted — neither field starts with `*` — and then EITHER matching is
//                     enough ("0 0 13 * 5": the 13th and every Friday). As in Vixie cron, a field
//                     that starts with `*` ("*/2" too) counts as unrestricted for this rule.
//                     An expression that can never fire ("0 0 30 2 *") is refused.
//
// Cron times are wall-clock times in the schedule's zone (UTC when none is given). Across a
// daylight-saving change:
//   - a local time skipped when the clocks go forward does not exist that day and does not fire
//     ("30 1 * * *" in Europe/London skips 29 March 2026; it is not moved to 02:00);
//   - a local time repeated when the clocks go back fires once, at its first occurrence. This
//     holds for every minute of the repeated hour, so "*/5 * * * *" in Europe/London pauses for
//     the hour that repeats (01:00-01:59 GMT on 25 October 2026). Use "every 5m" for work that
//     should run at a steady pace whatever the clocks do.
//
// Thread-safety: a Schedule is an immutable value; it may be shared between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "concord/status.h"
#include "concord/time.h"

namespace concord {

class Schedule {
 public:
  // Reads `text` (one of the forms above). `zone` gives the wall clock of cron expressions; null
  // means UTC (an `every` schedule ignores it). Returns kInvalid naming the text and what is wrong,
  // e.g. `schedule "61 * * * *": minute 61 is out of range 0-59`.
  static Result<Schedule> parse(std::string_view text,
                                std::shared_ptr<const TimeZone> zone = nullptr);

  // The first run time strictly after `t` (UTC microseconds). For `every`, t + interval(). For
  // cron, the first matching whole minute after t, as UTC microseconds. kNoTime for kNoTime.
  // Cron skips months, days and hours that cannot match, so a rare time ("0 0 29 2 *") costs a
  // few thousand steps, not one per minute.
  Micros next_after(Micros t) const;

  // The text as given to parse.
  const std::string& text() const { return text_; }
  bool is_interval() const { return interval_ > 0; }
  // The interval of an `every` schedule; 0 for cron.
  Micros interval() const { return interval_; }
  // The zone of cron times; null for UTC.
  const std::shared_ptr<const TimeZone>& zone() const { return zone_; }

 private:
  Schedule() = default;

  // Vixie's rule: day AND weekday, or day OR weekday when both fields are restricted.
  bool day_matches(unsigned day, unsigned weekday) const;

  std::string text_;
  std::shared_ptr<const TimeZone> zone_;
  Micros interval_ = 0;  // > 0: an `every` schedule
  // Cron fields as bit sets: bit i set when value i matches.
  std::uint64_t minutes_ = 0;  // 0-59
  std::uint32_t hours_ = 0;    // 0-23
  std::uint32_t days_ = 0;     // 1-31
  std::uint16_t months_ = 0;   // 1-12
  std::uint8_t weekdays_ = 0;  // 0-6, Sunday = 0
  bool day_star_ = false;      // the day field starts with '*'
  bool weekday_star_ = false;  // the weekday field starts with '*'
};

}  // namespace concord
