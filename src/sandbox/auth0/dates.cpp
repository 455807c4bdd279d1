#include "sandbox/auth0/dates.h"

#include "sandbox/times.h"

namespace concord::sandbox::auth0 {
namespace {

constexpr Micros kMicrosPerDay = 86400 * kMicrosPerSecond;

// Reads n digits at text[pos..]; false when they are not all digits or the text is too short.
bool digits(std::string_view text, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

Micros day_start(int y, int m, int d) {
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * kMicrosPerDay;
}

}  // namespace

Micros to_ms(Micros t) {
  constexpr Micros kMs = 1000;
  return t - ((t % kMs) + kMs) % kMs;
}

std::string ms_text(Micros t) {
  const Micros ms = to_ms(t);
  std::string s = civil_text(ms);
  s[10] = 'T';
  const auto frac = static_cast<int>((ms / 1000 % 1000 + 1000) % 1000);
  s += '.';
  s += static_cast<char>('0' + frac / 100);
  s += static_cast<char>('0' + frac / 10 % 10);
  s += static_cast<char>('0' + frac % 10);
  s += 'Z';
  return s;
}

std::optional<Micros> parse_time(std::string_view text) {
  if (text.size() < 20) return std::nullopt;
  auto t = parse_iso8601(text);
  if (!t.is_ok()) return std::nullopt;
  return *t;
}

std::optional<Span> parse_span(std::string_view text) {
  int y = 0, m = 1, d = 1;
  if (!digits(text, 0, 4, &y)) return std::nullopt;
  if (text.size() == 4) {
    if (!valid_ymd(y, 1, 1)) return std::nullopt;
    return Span{day_start(y, 1, 1), day_start(y + 1, 1, 1)};
  }
  if (text.size() < 7 || text[4] != '-' || !digits(text, 5, 2, &m)) return std::nullopt;
  if (text.size() == 7) {
    if (!valid_ymd(y, m, 1)) return std::nullopt;
    return Span{day_start(y, m, 1), m == 12 ? day_start(y + 1, 1, 1) : day_start(y, m + 1, 1)};
  }
  if (text.size() < 10 || text[7] != '-' || !digits(text, 8, 2, &d) || !valid_ymd(y, m, d)) {
    return std::nullopt;
  }
  if (text.size() == 10) return Span{day_start(y, m, d), day_start(y, m, d) + kMicrosPerDay};
  if (text[10] != 'T') return std::nullopt;
  // A time without a zone is read as UTC.
  const char last = text.back();
  const bool zoned =
      last == 'Z' ||
      (text.size() > 19 && (text[text.size() - 6] == '+' || text[text.size() - 6] == '-'));
  auto t = parse_iso8601(zoned ? std::string(text) : std::string(text) + "Z");
  if (!t.is_ok()) return std::nullopt;
  return Span{*t, *t + 1};
}

}  // namespace concord::sandbox::auth0
