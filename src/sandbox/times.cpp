#include "sandbox/times.h"

#include <cassert>
#include <cstdio>
#include <cstring>

namespace concord::sandbox {
namespace {

// Howard Hinnant's civil_from_days: days since 1970-01-01 to y/m/d.
void civil_from_days(std::int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Days since 1970-01-01 and seconds into that day (UTC), rounding down.
std::int64_t days_and_seconds(Micros t, unsigned* rem) {
  const std::int64_t secs =
      t >= 0 ? t / kMicrosPerSecond : -((-t + kMicrosPerSecond - 1) / kMicrosPerSecond);
  const std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  *rem = static_cast<unsigned>(secs - days * 86400);
  return days;
}

// Writes "YYYY-MM-DD?HH:MM:SS" (19 chars) into p.
void format_civil_into(char* p, Micros t, char sep) {
  unsigned rem;
  const std::int64_t days = days_and_seconds(t, &rem);
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) y = 0;
  put2(p, static_cast<unsigned>(y / 100));
  put2(p + 2, static_cast<unsigned>(y % 100));
  p[4] = '-';
  put2(p + 5, m);
  p[7] = '-';
  put2(p + 8, d);
  p[10] = sep;
  put2(p + 11, rem / 3600);
  p[13] = ':';
  put2(p + 14, rem / 60 % 60);
  p[16] = ':';
  put2(p + 17, rem % 60);
}

}  // namespace

void append_time(std::string* out, Micros t) {
  if (t == kNoTime) return;
  char buf[25];
  format_civil_into(buf, t, 'T');
  std::memcpy(buf + 19, "+00:00", 6);
  out->append(buf, 25);
}

std::string time_text(Micros t) {
  std::string s;
  append_time(&s, t);
  return s;
}

std::string civil_text(Micros t) {
  if (t == kNoTime) return "";
  char buf[19];
  format_civil_into(buf, t, ' ');
  return std::string(buf, 19);
}

std::string http_date_text(Micros t) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned rem;
  const std::int64_t days = days_and_seconds(t, &rem);
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02u:%02u:%02u GMT", kDays[((days % 7) + 7) % 7],
                d, kMonths[m - 1], y, rem / 3600, rem / 60 % 60, rem % 60);
  return buf;
}

bool valid_ymd(int y, int m, int d) {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > kDays[m - 1]) return false;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
  return true;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  assert(m >= 1 && m <= 12);
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace concord::sandbox
