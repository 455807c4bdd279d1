// How the sandbox writes times, and the civil-calendar arithmetic both parts read them with.
//
// Times are concord's Micros (microseconds since the epoch). The Mailchimp part shows UTC times as
// ISO 8601 text; the CiviCRM part keeps site-local civil times and shows them as "YYYY-MM-DD
// HH:MM:SS" (civil_text() formats either, it does not convert).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "concord/time.h"

namespace concord::sandbox {

// Appends "2021-11-23T22:51:56+00:00"; nothing for kNoTime. Faster than concord::format_iso8601.
void append_time(std::string* out, Micros t);
// The same as a string ("" for kNoTime).
std::string time_text(Micros t);
// "YYYY-MM-DD HH:MM:SS", as webhook deliveries write fired_at and CiviCRM shows times; "" for
// kNoTime.
std::string civil_text(Micros t);
// "Sun, 22 Nov 2026 10:00:00 GMT": an HTTP Date header (RFC 9110 IMF-fixdate).
std::string http_date_text(Micros t);

// Whole seconds: both APIs keep times to the second.
inline Micros to_seconds(Micros t) {
  return t == kNoTime ? t : t - ((t % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond;
}

// Whether y-m-d is a date of the proleptic Gregorian calendar, years 1 to 9999.
bool valid_ymd(int y, int m, int d);
// Days from 1970-01-01 to y-m-d (negative before). REQUIRES: 1 <= m <= 12.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

}  // namespace concord::sandbox
