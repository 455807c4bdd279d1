// Schedules: what parses (and the exact words of what does not), and the next run time of cron
// expressions across month and year ends, leap years, weekdays and daylight-saving changes.
//
// Every expected time below was worked out by hand from the calendar (1 May 2026 is a Friday;
// Europe/London goes to BST at 01:00 UTC on 29 March 2026 and back to GMT at 01:00 UTC on
// 25 October 2026), not by the code under test.
#include "config/schedule.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "concord/time.h"

namespace concord {
namespace {

// "YYYY-MM-DD HH:MM:SS" as a UTC time; "HH:MM" alone is on Monday 4 May 2026.
Micros utc(const std::string& civil) {
  std::string full = civil;
  if (full.size() == 5) full = "2026-05-04 " + full + ":00";
  auto t = parse_civil(full);
  REQUIRE(t.is_ok());
  return *t;
}

std::shared_ptr<const TimeZone> london() {
  auto zone = TimeZone::load("Europe/London");
  REQUIRE(zone.is_ok());
  return *zone;
}

Schedule parse(const std::string& text, std::shared_ptr<const TimeZone> zone = nullptr) {
  auto s = Schedule::parse(text, std::move(zone));
  INFO(s.status().to_string());
  REQUIRE(s.is_ok());
  return *s;
}

TEST_CASE("every <N><unit> schedules parse to their interval") {
  struct Row {
    const char* text;
    Micros seconds;
  };
  const std::vector<Row> rows = {
      {"every 1m", 60},           {"every 5m", 300},
      {"every 30m", 1800},        {"every 90m", 5400},
      {"every 1h", 3600},         {"every 2h", 7200},
      {"every 1d", 86400},        {"every 31d", 31 * 86400},
      {"every 744h", 31 * 86400}, {"every 44640m", 31 * 86400},
      {"every 05m", 300},
  };
  for (const Row& row : rows) {
    DYNAMIC_SECTION(row.text) {
      const Schedule s = parse(row.text);
      CHECK(s.is_interval());
      CHECK(s.interval() == row.seconds * kMicrosPerSecond);
      CHECK(s.text() == row.text);
      // The next run is one interval later, to the microsecond, whatever the zone.
      const Micros t = utc("2026-03-29 00:30:00") + 123;
      CHECK(s.next_after(t) == t + row.seconds * kMicrosPerSecond);
      CHECK(Schedule::parse(row.text, london())->next_after(t) ==
            t + row.seconds * kMicrosPerSecond);
    }
  }
}

TEST_CASE("cron expressions parse; text() is the text as given") {
  for (const char* text :
       {"* * * * *", "0 0 29 2 *", "*/5 * * * *", "0 9 * * 1-5", "0\t9  * *   1-5",
        "0 0 * JAN-Mar MON-fri", "0,30 9,17 * * *", "5-20/5 */6 1-31/2 */3 */2", "0 0 30 2 sun",
        "0 0 * * 7", "59 23 31 12 0-7"}) {
    DYNAMIC_SECTION(text) {
      const Schedule s = parse(text);
      CHECK_FALSE(s.is_interval());
      CHECK(s.interval() == 0);
      CHECK(s.text() == text);
      CHECK(s.zone() == nullptr);
    }
  }
  CHECK(parse("0 9 * * *", london()).zone()->name() == "Europe/London");
  CHECK(Schedule::parse("0 9 * * *").value().next_after(kNoTime) == kNoTime);
}

TEST_CASE("malformed schedules are refused, naming the text and what is wrong") {
  const std::string every =
      "expected \"every <N>m\", \"every <N>h\" or \"every <N>d\" in lower case with one space, "
      "e.g. \"every 30m\"";
  const std::string five = "a cron expression has five fields (minute hour day month weekday)";
  const std::string never =
      "it never fires (no month of the month field has a day of the day field)";
  const std::vector<std::pair<const char*, std::string>> rows = {
      {"every 0m", "the interval must be at least 1 minute"},
      {"every 0h", "the interval must be at least 1 minute"},
      {"every 0d", "the interval must be at least 1 minute"},
      {"every 32d", "the interval must be at most 31 days"},
      {"every 745h", "the interval must be at most 31 days"},
      {"every 44641m", "the interval must be at most 31 days"},
      {"every 99999999999999999999m", "the interval must be at most 31 days"},
      {"every", every},
      {"every 5", every},
      {"every m", every},
      {"every 5 m", every},
      {"every  5m", every},
      {"every 5m ", every},
      {" every 5m", every},
      {"Every 5m", every},
      {"EVERY 5M", every},
      {"every 5M", every},
      {"every 5s", every},
      {"every -5m", every},
      {"every +5m", every},
      {"every 1.5h", every},
      {"every 5min", every},
      {"", five},
      {"   ", five},
      {"* * *", five},
      {"* * * *", five},
      {"* * * * * *", five},
      {"@daily", five},
      {"61 * * * *", "minute 61 is out of range 0-59"},
      {"60 * * * *", "minute 60 is out of range 0-59"},
      {"0-60 * * * *", "minute 60 is out of range 0-59"},
      {"* 24 * * *", "hour 24 is out of range 0-23"},
      {"* * 0 * *", "day 0 is out of range 1-31"},
      {"* * 32 * *", "day 32 is out of range 1-31"},
      {"* * * 0 *", "month 0 is out of range 1-12"},
      {"* * * 13 *", "month 13 is out of range 1-12"},
      {"* * * * 8", "weekday 8 is out of range 0-7"},
      {"x * * * *", "minute \"x\" is not a number"},
      {"mon * * * *", "minute \"mon\" is not a number"},
      {"* * jan * *", "day \"jan\" is not a number"},
      {"* * * foo *", "month \"foo\" is not a number or a month name (jan-dec)"},
      {"* * * janu *", "month \"janu\" is not a number or a month name (jan-dec)"},
      {"* * * * funday", "weekday \"funday\" is not a number or a day name (sun-sat)"},
      {"*/0 * * * *", "minute step 0 must be at least 1"},
      {"*/x * * * *", "minute step \"x\" is not a number"},
      {"*/ * * * *", "minute step \"\" is not a number"},
      {"5/15 * * * *", "minute \"5/15\": a step needs a range, as in */15 or 5-59/15"},
      {"* 5-3 * * *", "hour range 5-3 is backwards (write the smaller value first)"},
      {"* * * dec-jan *", "month range dec-jan is backwards (write the smaller value first)"},
      {"1,,2 * * * *", "minute field \"1,,2\" has an empty item"},
      {"1, * * * *", "minute field \"1,\" has an empty item"},
      {"0 0 30 2 *", never},
      {"0 0 31 4,6,9,11 *", never},
      {"0 0 30-31 feb */2", never},
  };
  for (const auto& [text, message] : rows) {
    DYNAMIC_SECTION("\"" << text << "\"") {
      auto s = Schedule::parse(text);
      REQUIRE_FALSE(s.is_ok());
      CHECK(s.status().code() == Status::Code::kInvalid);
      CHECK(s.status().message() == "schedule \"" + std::string(text) + "\": " + message);
    }
  }
}

// A row of next_after: the first run strictly after `after`.
struct Next {
  const char* schedule;
  const char* after;
  const char* expected;
};

void check_next(const std::vector<Next>& rows, const std::shared_ptr<const TimeZone>& zone) {
  for (const Next& row : rows) {
    DYNAMIC_SECTION(row.schedule << " after " << row.after) {
      const Schedule s = parse(row.schedule, zone);
      CHECK(format_civil(s.next_after(utc(row.after))) == row.expected);
    }
  }
}

TEST_CASE("cron: the first matching minute strictly after t") {
  check_next(
      {
          {"*/15 * * * *", "10:15", "2026-05-04 10:30:00"},
          {"*/15 * * * *", "10:14", "2026-05-04 10:15:00"},
          {"* * * * *", "10:14", "2026-05-04 10:15:00"},
          {"*/15 * * * *", "2026-01-31 23:50:00", "2026-02-01 00:00:00"},
          {"0,30 9,17 * * *", "09:30", "2026-05-04 17:00:00"},
          {"0,30 9,17 * * *", "17:30", "2026-05-05 09:00:00"},
      },
      nullptr);
  const Schedule quarter = parse("*/15 * * * *");
  // Whole minutes; any part of a minute counts as that minute.
  CHECK(quarter.next_after(utc("10:15") - 1) == utc("10:15"));
  CHECK(quarter.next_after(utc("10:15") + 1) == utc("10:30"));
  CHECK(quarter.next_after(utc("10:15") + 59 * kMicrosPerSecond) == utc("10:30"));
}

TEST_CASE("cron: month and year ends") {
  check_next(
      {
          {"0 0 31 * *", "2026-04-15 12:00:00", "2026-05-31 00:00:00"},
          {"0 0 31 * *", "2026-05-31 00:00:00", "2026-07-31 00:00:00"},  // June has 30 days
          {"0 0 30 * *", "2026-01-30 00:00:00", "2026-03-30 00:00:00"},  // February has not
          {"0 0 1 * *", "2026-12-31 23:59:59", "2027-01-01 00:00:00"},
          {"59 23 31 12 *", "2026-12-31 23:59:00", "2027-12-31 23:59:00"},
          {"0 12 28-31 * *", "2026-02-27 13:00:00", "2026-02-28 12:00:00"},
          {"0 12 28-31 * *", "2026-02-28 12:00:00", "2026-03-28 12:00:00"},
      },
      nullptr);
}

TEST_CASE("cron: 29 February only in leap years") {
  check_next(
      {
          {"0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00:00"},
          {"0 0 29 2 *", "2000-01-01 00:00:00", "2000-02-29 00:00:00"},  // 2000 is a leap year
          {"0 0 29 2 *", "2096-02-29 00:00:00", "2104-02-29 00:00:00"},  // 2100 is not
          {"0 0 28,29 2 *", "2027-02-28 00:00:00", "2028-02-28 00:00:00"},
      },
      nullptr);
  // 97 leap days in the 400 years from 2000, one run on each, found quickly.
  const Schedule leap = parse("0 0 29 2 *");
  int runs = 0;
  for (Micros t = leap.next_after(utc("2000-01-01 00:00:00")); t < utc("2400-01-01 00:00:00");
       t = leap.next_after(t)) {
    CHECK(format_civil(t).substr(4) == "-02-29 00:00:00");
    ++runs;
  }
  CHECK(runs == 97);
}

TEST_CASE("cron: weekdays, with Sunday as 0 and as 7") {
  check_next(
      {
          // Monday 4 May 2026 at noon; the next Sunday is the 10th.
          {"0 9 * * 0", "12:00", "2026-05-10 09:00:00"},
          {"0 9 * * 7", "12:00", "2026-05-10 09:00:00"},
          {"0 9 * * sun", "12:00", "2026-05-10 09:00:00"},
          {"0 9 * * SUN", "12:00", "2026-05-10 09:00:00"},
          {"0 9 * * 0,7", "12:00", "2026-05-10 09:00:00"},
          {"0 9 * * 5-7", "2026-05-09 10:00:00", "2026-05-10 09:00:00"},  // Saturday → Sunday
          {"0 9 * * 5-7", "2026-05-10 09:00:00", "2026-05-15 09:00:00"},  // → Friday
          {"0 9 * * 1-5", "2026-05-08 09:00:00", "2026-05-11 09:00:00"},  // Friday → Monday
          {"0 9 * * mon-fri", "2026-05-08 09:00:00", "2026-05-11 09:00:00"},
      },
      nullptr);
}

TEST_CASE("cron: a day matches by day-of-month OR weekday when both are restricted") {
  check_next(
      {
          // The 13th, and every Friday.
          {"0 0 13 * 5", "2026-05-04 00:00:00", "2026-05-08 00:00:00"},  // Friday 8th
          {"0 0 13 * 5", "2026-05-08 00:00:00", "2026-05-13 00:00:00"},  // Wednesday 13th
          {"0 0 13 * 5", "2026-05-13 00:00:00", "2026-05-15 00:00:00"},  // Friday 15th
          {"0 0 13 * fri", "2026-05-08 00:00:00", "2026-05-13 00:00:00"},
          // Only one restricted: that one alone.
          {"0 0 13 * *", "2026-05-04 00:00:00", "2026-05-13 00:00:00"},
          {"0 0 * * 5", "2026-05-08 00:00:00", "2026-05-15 00:00:00"},
          // The 29th or a Monday, in any month.
          {"0 0 29 * mon", "2026-05-04 00:00:00", "2026-05-11 00:00:00"},
          // The month field still applies to both: 29 February or a Monday in February, and
          // 1 February 2027 is a Monday.
          {"0 0 29 2 mon", "2026-05-04 00:00:00", "2027-02-01 00:00:00"},
          // Only Sundays in February: 30 February never comes but Sundays do (1 Feb 2027 is a
          // Monday).
          {"0 0 30 2 sun", "2026-05-04 00:00:00", "2027-02-07 00:00:00"},
          // Vixie: a field starting with '*' is unrestricted, even "*/2": then BOTH must match,
          // odd days that are Mondays (11 and 25 May, 1 June 2026).
          {"0 0 */2 * 1", "2026-05-01 00:00:00", "2026-05-11 00:00:00"},
          {"0 0 */2 * 1", "2026-05-11 00:00:00", "2026-05-25 00:00:00"},
          {"0 0 */2 * 1", "2026-05-25 00:00:00", "2026-06-01 00:00:00"},
          // The same days written as a range are restricted: odd days OR Mondays.
          {"0 0 1-31/2 * 1", "2026-05-01 00:00:00", "2026-05-03 00:00:00"},
          {"0 0 1-31/2 * 1", "2026-05-03 00:00:00", "2026-05-04 00:00:00"},
      },
      nullptr);
}

TEST_CASE("cron: month and day names, ranges, lists and steps") {
  check_next(
      {
          {"0 12 * jan,jul mon-fri", "2026-05-04 00:00:00", "2026-07-01 12:00:00"},
          {"0 0 1 DEC *", "2026-05-04 00:00:00", "2026-12-01 00:00:00"},
          {"0 0 1 Feb-Mar *", "2026-02-01 00:00:00", "2026-03-01 00:00:00"},
          {"0 0 1 feb-mar *", "2026-03-01 00:00:00", "2027-02-01 00:00:00"},
          {"30 8 * * Sat", "2026-05-04 00:00:00", "2026-05-09 08:30:00"},
          {"5-20/5 * * * *", "10:05", "2026-05-04 10:10:00"},
          {"5-20/5 * * * *", "10:20", "2026-05-04 11:05:00"},
          {"10-59/25 * * * *", "10:35", "2026-05-04 11:10:00"},
          {"*/7 * * * *", "10:56", "2026-05-04 11:00:00"},
          {"0 */6 * * *", "06:00", "2026-05-04 12:00:00"},
          {"0 */6 * * *", "18:00", "2026-05-05 00:00:00"},
          {"0 0 */10 * *", "2026-05-21 00:00:00", "2026-05-31 00:00:00"},  // 1, 11, 21, 31
          {"0 0 1 */4 *", "2026-05-04 00:00:00", "2026-09-01 00:00:00"},   // Jan, May, Sep
          {"0 0 * * */2", "2026-05-04 00:00:00", "2026-05-05 00:00:00"},   // Sun Tue Thu Sat
          {"*/90 * * * *", "10:00", "2026-05-04 11:00:00"},  // a step past the range: the first
      },
      nullptr);
}

TEST_CASE("cron in a zone: wall-clock times in winter and summer") {
  check_next(
      {
          {"0 9 * * *", "2026-01-15 00:00:00", "2026-01-15 09:00:00"},  // GMT = UTC
          {"0 9 * * *", "2026-07-01 00:00:00", "2026-07-01 08:00:00"},  // BST = UTC+1
          // Local midnight of 1 July is 23:00 UTC on 30 June.
          {"0 0 1 7 *", "2026-05-04 00:00:00", "2026-06-30 23:00:00"},
      },
      london());
}

TEST_CASE("cron in a zone: a time skipped when the clocks go forward does not fire that day") {
  // 29 March 2026: 01:00 GMT becomes 02:00 BST; local 01:00-01:59 does not exist.
  check_next(
      {
          {"30 1 * * *", "2026-03-27 12:00:00", "2026-03-28 01:30:00"},
          {"30 1 * * *", "2026-03-28 01:30:00", "2026-03-30 00:30:00"},  // 01:30 BST on the 30th
          {"0 1 * * *", "2026-03-28 12:00:00", "2026-03-30 00:00:00"},
          {"0 2 * * *", "2026-03-28 12:00:00", "2026-03-29 01:00:00"},  // 02:00 BST exists
          {"59 0 * * *", "2026-03-28 12:00:00", "2026-03-29 00:59:00"},
          // Frequent schedules carry on in real time across the gap.
          {"*/15 * * * *", "2026-03-29 00:45:00", "2026-03-29 01:00:00"},  // 00:45 GMT → 02:00 BST
          {"0 * * * *", "2026-03-29 00:00:00", "2026-03-29 01:00:00"},
      },
      london());

  // Every local minute of the 23-hour day fires once, one real minute apart.
  const Schedule minutely = parse("* * * * *", london());
  const Micros start = utc("2026-03-29 00:00:00");  // local midnight (GMT)
  const Micros end = utc("2026-03-29 23:00:00");    // local midnight of the 30th (BST)
  int runs = 0;
  Micros prev = start;
  for (Micros t = minutely.next_after(start); t <= end; t = minutely.next_after(t)) {
    CHECK(t - prev == 60 * kMicrosPerSecond);
    prev = t;
    ++runs;
  }
  CHECK(runs == 23 * 60);
}

TEST_CASE("cron in a zone: a time repeated when the clocks go back fires once, the first") {
  // 25 October 2026: 02:00 BST (01:00 UTC) becomes 01:00 GMT; local 01:00-01:59 happens twice,
  // first at 00:00-00:59 UTC, then at 01:00-01:59 UTC.
  check_next(
      {
          {"30 1 * * *", "2026-10-24 12:00:00", "2026-10-25 00:30:00"},  // 01:30 BST
          {"30 1 * * *", "2026-10-25 00:30:00", "2026-10-26 01:30:00"},  // not 01:30 GMT
          {"30 1 * * *", "2026-10-25 01:00:00", "2026-10-26 01:30:00"},  // from the repeat
          {"0 2 * * *", "2026-10-24 12:00:00", "2026-10-25 02:00:00"},   // 02:00 GMT
          {"30 0 * * *", "2026-10-24 12:00:00", "2026-10-24 23:30:00"},  // 00:30 BST
          // The repeated hour does not fire again for frequent schedules either.
          {"*/30 * * * *", "2026-10-25 00:30:00", "2026-10-25 02:00:00"},
          {"0 * * * *", "2026-10-25 00:00:00", "2026-10-25 02:00:00"},
      },
      london());

  // Every local minute of the 25-hour day fires once: 1440 runs; one pause, the repeated hour.
  const Schedule minutely = parse("* * * * *", london());
  const Micros start = utc("2026-10-24 23:00:00");  // local midnight (BST)
  const Micros end = utc("2026-10-26 00:00:00");    // local midnight of the 26th (GMT)
  int runs = 0;
  int pauses = 0;
  Micros prev = start;
  for (Micros t = minutely.next_after(start); t <= end; t = minutely.next_after(t)) {
    if (t - prev != 60 * kMicrosPerSecond) {
      ++pauses;
      CHECK(format_civil(prev) == "2026-10-25 00:59:00");  // 01:59 BST
      CHECK(format_civil(t) == "2026-10-25 02:00:00");     // 02:00 GMT
    }
    prev = t;
    ++runs;
  }
  CHECK(runs == 24 * 60);
  CHECK(pauses == 1);
}

}  // namespace
}  // namespace concord
