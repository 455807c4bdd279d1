#include "config/schedule.h"

#include <date/date.h>

#include <cstdint>
#include <string>
#include <utility>

namespace concord {
namespace {

constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr Micros kMicrosPerDay = 24 * 60 * kMicrosPerMinute;
constexpr Micros kMaxIntervalMinutes = 31 * 24 * 60;
// How far next_after looks before giving up. Every expression parse accepts fires at least once in
// 400 years (the Gregorian cycle), and in practice within a few decades (29 February on a given
// weekday).
constexpr int kSearchYears = 400;

Status bad(std::string_view text, std::string_view what) {
  std::string msg = "schedule \"";
  msg += text;
  msg += "\": ";
  msg += what;
  return Status::invalid(std::move(msg));
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A run of digits as a number; values too large for the callers' ranges give -1.
long long to_number(std::string_view digits) {
  long long v = 0;
  for (char c : digits) {
    v = v * 10 + (c - '0');
    if (v > 1'000'000'000) return -1;
  }
  return v;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_lower(std::string_view s, std::string_view lower_name) {
  if (s.size() != lower_name.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (lower(s[i]) != lower_name[i]) return false;
  }
  return true;
}

// --- every <N><unit> -----------------------------------------------------------------------------

// The text starts with the word "every" in any case: it is meant as an interval.
bool looks_like_every(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_space(text[i]))
    ++i;
  text.remove_prefix(i);
  return text.size() >= 5 && equals_lower(text.substr(0, 5), "every") &&
         (text.size() == 5 || is_space(text[5]));
}

Result<Micros> parse_every(std::string_view text) {
  static constexpr std::string_view kSyntax =
      "expected \"every <N>m\", \"every <N>h\" or \"every <N>d\" in lower case with one space, "
      "e.g. \"every 30m\"";
  if (text.substr(0, 6) != "every " || text.size() < 8) return bad(text, kSyntax);
  const std::string_view number = text.substr(6, text.size() - 7);
  const char unit = text.back();
  if (!all_digits(number) || (unit != 'm' && unit != 'h' && unit != 'd')) {
    return bad(text, kSyntax);
  }
  const long long n = to_number(number);
  const long long per = unit == 'm' ? 1 : unit == 'h' ? 60 : 24 * 60;
  if (n == 0) return bad(text, "the interval must be at least 1 minute");
  if (n < 0 || n > kMaxIntervalMinutes / per) {
    return bad(text, "the interval must be at most 31 days");
  }
  return static_cast<Micros>(n * per) * kMicrosPerMinute;
}

// --- cron ---------------------------------------------------------------------------------------

constexpr std::string_view kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
  std::string_view name;  // as errors say it
  int min;
  int max;
  const std::string_view* names;  // names[i] is value i + names_base; null: numbers only
  int names_count;
  int names_base;
  std::string_view names_hint;  // appended to "is not a number"
};

constexpr Field kFields[5] = {
    {"minute", 0, 59, nullptr, 0, 0, ""},
    {"hour", 0, 23, nullptr, 0, 0, ""},
    {"day", 1, 31, nullptr, 0, 0, ""},
    {"month", 1, 12, kMonthNames, 12, 1, " or a month name (jan-dec)"},
    {"weekday", 0, 7, kDayNames, 7, 0, " or a day name (sun-sat)"},
};

// One value of a field: a number in range or a name.
Result<int> parse_value(std::string_view text, const Field& f, std::string_view token) {
  if (all_digits(token)) {
    const long long v = to_number(token);
    if (v < f.min || v > f.max) {
      return bad(text, std::string(f.name) + " " + std::string(token) + " is out of range " +
                           std::to_string(f.min) + "-" + std::to_string(f.max));
    }
    return static_cast<int>(v);
  }
  for (int i = 0; i < f.names_count; ++i) {
    if (equals_lower(token, f.names[i])) return i + f.names_base;
  }
  return bad(text, std::string(f.name) + " \"" + std::string(token) + "\" is not a number" +
                       std::string(f.names_hint));
}

// One item of a field's list: `*`, `n`, `a-b`, `*/s` or `a-b/s`; sets its values in *bits.
Status parse_item(std::string_view text, const Field& f, std::string_view item,
                  std::uint64_t* bits) {
  std::string_view base = item;
  int step = 1;
  const std::size_t slash = item.find('/');
  if (slash != std::string_view::npos) {
    base = item.substr(0, slash);
    const std::string_view step_text = item.substr(slash + 1);
    if (!all_digits(step_text)) {
      return bad(text,
                 std::string(f.name) + " step \"" + std::string(step_text) + "\" is not a number");
    }
    const long long s = to_number(step_text);
    if (s == 0) return bad(text, std::string(f.name) + " step 0 must be at least 1");
    step = (s < 0 || s > f.max) ? f.max + 1 : static_cast<int>(s);  // a larger step: first only
  }
  int lo = f.min;
  int hi = f.max;
  if (base != "*") {
    const std::size_t dash = base.find('-');
    if (dash == std::string_view::npos) {
      if (slash != std::string_view::npos) {
        return bad(text, std::string(f.name) + " \"" + std::string(item) +
                             "\": a step needs a range, as in */" +
                             std::string(item.substr(slash + 1)) + " or " + std::string(base) +
                             "-" + std::to_string(f.max) + "/" +
                             std::string(item.substr(slash + 1)));
      }
      auto v = parse_value(text, f, base);
      if (!v.is_ok()) return v.status();
      lo = hi = *v;
    } else {
      auto a = parse_value(text, f, base.substr(0, dash));
      if (!a.is_ok()) return a.status();
      auto b = parse_value(text, f, base.substr(dash + 1));
      if (!b.is_ok()) return b.status();
      if (*a > *b) {
        return bad(text, std::string(f.name) + " range " + std::string(base) +
                             " is backwards (write the smaller value first)");
      }
      lo = *a;
      hi = *b;
    }
  }
  for (int v = lo; v <= hi; v += step)
    *bits |= std::uint64_t{1} << v;
  return Status::ok();
}

// A whole field: items separated by commas.
Status parse_field(std::string_view text, const Field& f, std::string_view field,
                   std::uint64_t* bits) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = field.find(',', pos);
    const std::string_view item =
        field.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.empty()) {
      return bad(text,
                 std::string(f.name) + " field \"" + std::string(field) + "\" has an empty item");
    }
    Status s = parse_item(text, f, item, bits);
    if (!s.is_ok()) return s;
    if (comma == std::string_view::npos) return Status::ok();
    pos = comma + 1;
  }
}

unsigned max_days_in_month(unsigned month) {
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[month - 1];
}

Micros floor_div(Micros a, Micros b) {
  Micros q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

Micros local_of(const TimeZone* zone, Micros utc) {
  return zone ? zone->utc_to_local(utc) : utc;
}
Micros utc_of(const TimeZone* zone, Micros local) {
  return zone ? zone->local_to_utc(local) : local;
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view text, std::shared_ptr<const TimeZone> zone) {
  Schedule s;
  s.text_ = std::string(text);
  s.zone_ = std::move(zone);
  if (looks_like_every(text)) {
    auto interval = parse_every(text);
    if (!interval.is_ok()) return interval.status();
    s.interval_ = *interval;
    return s;
  }

  std::string_view fields[5];
  int count = 0;
  std::size_t pos = 0;
  while (true) {
    while (pos < text.size() && is_space(text[pos]))
      ++pos;
    if (pos == text.size()) break;
    std::size_t end = pos;
    while (end < text.size() && !is_space(text[end]))
      ++end;
    if (count < 5) fields[count] = text.substr(pos, end - pos);
    ++count;
    pos = end;
  }
  if (count != 5) {
    return bad(text, "a cron expression has five fields (minute hour day month weekday)");
  }
  std::uint64_t bits[5] = {};
  for (int i = 0; i < 5; ++i) {
    Status st = parse_field(text, kFields[i], fields[i], &bits[i]);
    if (!st.is_ok()) return st;
  }
  if (bits[4] & (std::uint64_t{1} << 7)) bits[4] |= 1;  // 7 is Sunday too
  s.minutes_ = bits[0];
  s.hours_ = static_cast<std::uint32_t>(bits[1]);
  s.days_ = static_cast<std::uint32_t>(bits[2]);
  s.months_ = static_cast<std::uint16_t>(bits[3]);
  s.weekdays_ = static_cast<std::uint8_t>(bits[4] & 0x7f);
  s.day_star_ = fields[2].front() == '*';
  s.weekday_star_ = fields[4].front() == '*';

  // Only "day AND weekday" with a day field naming no day of the named months can never fire:
  // every other combination meets every weekday on some date within the Gregorian cycle.
  if (s.weekday_star_ && !s.day_star_) {
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m) {
      if (!(s.months_ >> m & 1)) continue;
      for (unsigned d = 1; d <= max_days_in_month(m) && !possible; ++d) {
        possible = (s.days_ >> d & 1) != 0;
      }
    }
    if (!possible) {
      return bad(text, "it never fires (no month of the month field has a day of the day field)");
    }
  }
  return s;
}

bool Schedule::day_matches(unsigned day, unsigned weekday) const {
  const bool dom = (days_ >> day & 1) != 0;
  const bool dow = (weekdays_ >> weekday & 1) != 0;
  return (day_star_ || weekday_star_) ? (dom && dow) : (dom || dow);
}

Micros Schedule::next_after(Micros t) const {
  if (t == kNoTime) return kNoTime;
  if (is_interval()) return t + interval_;

  // Walk the local calendar from the minute holding t: skip months, then days, then hours that
  // cannot match; the first existing local time whose (first) UTC instant is after t wins. The
  // earliest UTC instant of a local time grows with the local time, so local order is UTC order.
  const TimeZone* zone = zone_.get();
  const Micros local_t = local_of(zone, t);
  Micros day = floor_div(local_t, kMicrosPerDay);
  int from_minute = static_cast<int>((local_t - day * kMicrosPerDay) / kMicrosPerMinute);
  const date::year last_year =
      date::year_month_day{date::sys_days{date::days{day}}}.year() + date::years{kSearchYears};
  while (true) {
    const date::sys_days sd{date::days{day}};
    const date::year_month_day ymd{sd};
    if (ymd.year() > last_year) return kNoTime;
    const unsigned month = static_cast<unsigned>(ymd.month());
    if (!(months_ >> month & 1)) {  // to the first of the next month
      const date::year_month next = date::year_month{ymd.year(), ymd.month()} + date::months{1};
      day = date::sys_days{next / date::day{1}}.time_since_epoch().count();
      from_minute = 0;
      continue;
    }
    if (day_matches(static_cast<unsigned>(ymd.day()), date::weekday{sd}.c_encoding())) {
      for (int h = from_minute / 60; h < 24; ++h) {
        if (!(hours_ >> h & 1)) continue;
        for (int m = h == from_minute / 60 ? from_minute % 60 : 0; m < 60; ++m) {
          if (!(minutes_ >> m & 1)) continue;
          const Micros local = day * kMicrosPerDay + (h * 60 + m) * kMicrosPerMinute;
          const Micros utc = utc_of(zone, local);
          if (utc <= t) continue;  // not after t (a repeated local time fires at its first instant)
          if (local_of(zone, utc) != local) continue;  // skipped when the clocks went forward
          return utc;
        }
      }
    }
    ++day;
    from_minute = 0;
  }
}

}  // namespace concord
