#include "concord/time.h"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <cstdio>
#include <exception>

namespace concord {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::seconds;

bool digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

Status bad_time(std::string_view text, std::string_view expected) {
  std::string msg = "cannot read time \"";
  msg.append(text.substr(0, 40));
  msg += "\" (expected ";
  msg += expected;
  msg += ")";
  return Status::invalid(std::move(msg));
}

// Reads "YYYY-MM-DD?HH:MM:SS" starting at 0 where ? is `sep`; returns civil micros as UTC.
bool read_civil(std::string_view s, char sep, Micros* out) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || (s[10] != sep) || !digits(s, 11, 2, &h) ||
      s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' || !digits(s, 17, 2, &se)) {
    return false;
  }
  date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                           date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return false;
  auto tp = date::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + seconds(se);
  *out = duration_cast<microseconds>(tp.time_since_epoch()).count();
  return true;
}

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

class IanaZone final : public TimeZone {
 public:
  explicit IanaZone(const date::time_zone* tz) : tz_(tz), name_(tz->name()) {}
  const std::string& name() const override { return name_; }

  Micros local_to_utc(Micros local_civil) const override {
    if (local_civil == kNoTime) return kNoTime;
    date::local_time<microseconds> lt{microseconds(local_civil)};
    date::local_info info = tz_->get_info(date::floor<seconds>(lt));
    switch (info.result) {
      case date::local_info::unique:
        return local_civil - duration_cast<microseconds>(info.first.offset).count();
      case date::local_info::ambiguous:  // clocks went back: the earlier instant
        return local_civil - duration_cast<microseconds>(info.first.offset).count();
      case date::local_info::nonexistent:  // clocks went forward: the instant the gap ends
        return duration_cast<microseconds>(info.second.begin.time_since_epoch()).count();
    }
    return local_civil;
  }

  Micros utc_to_local(Micros utc) const override {
    if (utc == kNoTime) return kNoTime;
    date::sys_time<microseconds> st{microseconds(utc)};
    date::sys_info info = tz_->get_info(st);
    return utc + duration_cast<microseconds>(info.offset).count();
  }

 private:
  const date::time_zone* tz_;
  std::string name_;
};

class SystemClock final : public Clock {
 public:
  Micros now() const override {
    return duration_cast<microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

Result<Micros> parse_iso8601(std::string_view text) {
  if (text.empty()) return kNoTime;
  Micros t;
  if (!read_civil(text, 'T', &t)) return bad_time(text, "YYYY-MM-DDTHH:MM:SS+00:00");
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {  // fractional seconds: keep microseconds
    ++pos;
    Micros frac = 0;
    int ndig = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (ndig < 6) {
        frac = frac * 10 + (text[pos] - '0');
        ++ndig;
      }
      ++pos;
    }
    if (ndig == 0) return bad_time(text, "digits after the decimal point");
    while (ndig < 6) {
      frac *= 10;
      ++ndig;
    }
    t += frac;
  }
  if (pos == text.size()) return bad_time(text, "a zone such as +00:00 or Z");
  if (text[pos] == 'Z' && pos + 1 == text.size()) return t;
  int oh, om;
  if ((text[pos] != '+' && text[pos] != '-') || text.size() != pos + 6 ||
      !digits(text, pos + 1, 2, &oh) || text[pos + 3] != ':' || !digits(text, pos + 4, 2, &om)) {
    return bad_time(text, "a zone such as +00:00 or Z");
  }
  Micros offset = (static_cast<Micros>(oh) * 3600 + om * 60) * kMicrosPerSecond;
  return text[pos] == '+' ? t - offset : t + offset;
}

std::string format_civil(Micros t) {
  if (t == kNoTime) return "";
  date::sys_time<microseconds> tp{microseconds(t)};
  auto secs = date::floor<seconds>(tp);
  auto day = date::floor<date::days>(secs);
  date::year_month_day ymd{day};
  date::hh_mm_ss<seconds> hms{secs - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d", year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
  }
  // Digit by digit: a backup formats two times per member, and snprintf was most of that.
  std::string out = "0000-00-00 00:00:00";
  auto two = [&](std::size_t at, unsigned v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, static_cast<unsigned>(year) / 100);
  two(2, static_cast<unsigned>(year) % 100);
  two(5, static_cast<unsigned>(ymd.month()));
  two(8, static_cast<unsigned>(ymd.day()));
  two(11, static_cast<unsigned>(hms.hours().count()));
  two(14, static_cast<unsigned>(hms.minutes().count()));
  two(17, static_cast<unsigned>(hms.seconds().count()));
  return out;
}

std::string format_iso8601(Micros t) {
  if (t == kNoTime) return "";
  std::string s = format_civil(t);
  s[10] = 'T';
  s += "+00:00";
  return s;
}

Result<Micros> parse_civil(std::string_view text) {
  Micros t;
  if (text.size() != 19 || !read_civil(text, ' ', &t)) {
    return bad_time(text, "YYYY-MM-DD HH:MM:SS");
  }
  return t;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::load(std::string_view iana_name) {
  try {
    const date::time_zone* tz = date::locate_zone(iana_name);
    return std::shared_ptr<const TimeZone>(std::make_shared<IanaZone>(tz));
  } catch (const std::exception&) {
    std::string msg = "unknown time zone \"";
    msg += iana_name;
    msg += "\" (expected an IANA name such as Europe/London)";
    return Status::invalid(std::move(msg));
  }
}

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

std::string format_http_date(Micros t) {
  const date::sys_seconds tp{duration_cast<seconds>(microseconds(t))};
  const date::sys_days day = date::floor<date::days>(tp);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<seconds> hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                kWeekdays[date::weekday{day}.c_encoding()], static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

Result<Micros> parse_http_date(std::string_view s) {
  // "Mon, 23 Nov 2026 16:23:09 GMT": rewritten as "2026-11-23 16:23:09" for read_civil.
  if (s.size() != 29 || s[3] != ',' || s.substr(25) != " GMT") {
    return bad_time(s, "an HTTP date like \"Mon, 23 Nov 2026 16:23:09 GMT\"");
  }
  int month = 0;
  for (int m = 0; m < 12; ++m) {
    if (s.substr(8, 3) == kMonths[m]) month = m + 1;
  }
  if (month == 0) return bad_time(s, "an HTTP date with an English month");
  char civil[48];
  std::snprintf(civil, sizeof civil, "%.4s-%02d-%.2s %.8s", s.data() + 12, month, s.data() + 5,
                s.data() + 17);
  Micros out = 0;
  if (!read_civil(std::string_view(civil, 19), ' ', &out)) {
    return bad_time(s, "an HTTP date like \"Mon, 23 Nov 2026 16:23:09 GMT\"");
  }
  return out;
}

}  // namespace concord
