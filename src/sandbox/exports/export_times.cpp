#include "sandbox/exports/export_times.h"

#include <array>
#include <string>
#include <vector>

#include "sandbox/civicrm/times.h"
#include "sandbox/exports/ascii.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox::exports {

namespace {

std::optional<Micros> civil(int y, int mo, int d, int h, int mi, int sec) {
  if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  return (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
          h * 3600 + mi * 60 + sec) *
         kMicrosPerSecond;
}

// The words of `s`, split at spaces and commas.
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s) {
    if (c == ' ' || c == ',') {
      if (!w.empty()) out.push_back(std::move(w));
      w.clear();
    } else {
      w += ascii_lower(c);
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

int month_of(const std::string& w) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "january", "february", "march",     "april",   "may",      "june",
      "july",    "august",   "september", "october", "november", "december"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (w == kMonths[i] || (w.size() == 3 && kMonths[i].substr(0, 3) == w)) {
      return static_cast<int>(i) + 1;
    }
  }
  return 0;
}

// "May 1st, 2024 10:00 AM" and its variants (see the header).
std::optional<Micros> parse_display(std::string_view s) {
  std::vector<std::string> w = words(s);
  if (w.size() != 3 && w.size() != 5) return std::nullopt;
  int mo = month_of(w[0]);
  if (mo == 0) return std::nullopt;
  std::string day = w[1];
  for (std::string_view suffix : {"st", "nd", "rd", "th"}) {
    if (day.size() > 2 && day.ends_with(suffix)) day.resize(day.size() - 2);
  }
  auto d = parse_int64(day);
  auto y = parse_int64(w[2]);
  if (!d || !y || day.size() > 2 || w[2].size() != 4) return std::nullopt;
  int h = 0, mi = 0;
  if (w.size() == 5) {
    std::string_view t = w[3];
    std::size_t colon = t.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2 || !digits(t, 0, colon, &h) ||
        !digits(t, colon + 1, 2, &mi) || t.size() != colon + 3) {
      return std::nullopt;
    }
    if (h < 1 || h > 12) return std::nullopt;
    if (w[4] == "am") {
      if (h == 12) h = 0;
    } else if (w[4] == "pm") {
      if (h != 12) h += 12;
    } else {
      return std::nullopt;
    }
  }
  return civil(static_cast<int>(*y), mo, static_cast<int>(*d), h, mi, 0);
}

}  // namespace

std::optional<Micros> parse_export_time(std::string_view text) {
  std::string_view s = trim_view(text);
  if (s.empty()) return std::nullopt;
  if (s[0] >= '0' && s[0] <= '9')
    return parse_seed_time(s);  // "2024-05-01 10:00[:00]", as seeds write times
  return parse_display(s);
}

}  // namespace concord::sandbox::exports
