#include "sandbox/civicrm/times.h"

#include "net/ascii.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {

using http::ascii::iequals;

bool digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::string civil_string(Micros t) {
  return civil_text(t);
}

std::string date_string(Micros t) {
  return civil_text(t).substr(0, 10);
}

std::optional<Micros> parse_time_text(std::string_view text, Micros now_utc, const TimeZone& tz) {
  std::string_view s = trim_view(text);
  Micros local_now = tz.utc_to_local(now_utc);
  Micros midnight = local_now - (((local_now % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay);
  if (iequals(s, "now")) return local_now;
  if (iequals(s, "today")) return midnight;
  if (iequals(s, "yesterday")) return midnight - kMicrosPerDay;
  if (iequals(s, "tomorrow")) return midnight + kMicrosPerDay;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  std::size_t pos = 0;
  if (s.size() >= 8 && digits(s, 0, 8, &y) && (s.size() == 8 || s.size() == 14)) {
    int ymd = y;
    y = ymd / 10000;
    mo = ymd / 100 % 100;
    d = ymd % 100;
    if (s.size() == 14) {
      int hms = 0;
      if (!digits(s, 8, 6, &hms)) return std::nullopt;
      h = hms / 10000;
      mi = hms / 100 % 100;
      sec = hms % 100;
    }
    pos = s.size();
  } else {
    if (!(digits(s, 0, 4, &y) && s.size() >= 10 && s[4] == '-' && digits(s, 5, 2, &mo) &&
          s[7] == '-' && digits(s, 8, 2, &d))) {
      return std::nullopt;
    }
    pos = 10;
    if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
      if (!(digits(s, pos + 1, 2, &h) && pos + 3 < s.size() && s[pos + 3] == ':' &&
            digits(s, pos + 4, 2, &mi))) {
        return std::nullopt;
      }
      pos += 6;
      if (pos < s.size() && s[pos] == ':') {
        if (!digits(s, pos + 1, 2, &sec)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && s[pos] == '.') {
          ++pos;
          while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
            ++pos;
        }
      }
    }
  }
  if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  Micros civil = (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                  h * 3600 + mi * 60 + sec) *
                 kMicrosPerSecond;
  if (pos == s.size()) return civil;
  std::string_view zone = s.substr(pos);
  if (zone == "Z" || zone == "z" || iequals(zone, "UTC") || iequals(zone, " UTC")) {
    return tz.utc_to_local(civil);
  }
  if (zone.size() >= 5 && (zone[0] == '+' || zone[0] == '-')) {
    int zh = 0, zm = 0;
    bool ok = digits(zone, 1, 2, &zh) &&
              ((zone.size() == 6 && zone[3] == ':' && digits(zone, 4, 2, &zm)) ||
               (zone.size() == 5 && digits(zone, 3, 2, &zm)));
    if (!ok) return std::nullopt;
    Micros offset = (zh * 3600 + zm * 60) * kMicrosPerSecond;
    Micros utc = zone[0] == '+' ? civil - offset : civil + offset;
    return tz.utc_to_local(utc);
  }
  return std::nullopt;
}

// What PHP makes of a time it cannot read: date(format, strtotime(garbage)) is the epoch, shown

Micros unreadable_time(const TimeZone& tz) {
  return tz.utc_to_local(0);
}

std::optional<Micros> parse_seed_time(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!(s.size() >= 10 && digits(s, 0, 4, &y) && s[4] == '-' && digits(s, 5, 2, &mo) &&
        s[7] == '-' && digits(s, 8, 2, &d))) {
    return std::nullopt;
  }
  if (s.size() > 10) {
    if (!((s[10] == ' ' || s[10] == 'T') && digits(s, 11, 2, &h) && s.size() >= 16 &&
          s[13] == ':' && digits(s, 14, 2, &mi))) {
      return std::nullopt;
    }
    if (s.size() == 19) {
      if (!(s[16] == ':' && digits(s, 17, 2, &sec))) return std::nullopt;
    } else if (s.size() != 16) {
      return std::nullopt;
    }
  }
  if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  return (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
          h * 3600 + mi * 60 + sec) *
         kMicrosPerSecond;
}

}  // namespace concord::sandbox
