// How the CiviCRM part reads and shows times. CiviCRM keeps site-local civil times (what its
// MySQL session shows); the part keeps them as Micros of that civil time, and reads request times
// the way PHP's strtotime() does in the site's zone.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "concord/time.h"

namespace concord::sandbox {

inline constexpr std::int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

// Reads n decimal digits at s[pos] into *out. False when there are not n digits there.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int* out);

// "YYYY-MM-DD HH:MM:SS" and "YYYY-MM-DD" of a civil time.
std::string civil_string(Micros t);
std::string date_string(Micros t);

// Reads a time as PHP's strtotime() reads the common forms, in the site's zone: "now", "today",
// "yesterday", "tomorrow", "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.frac]]" (also with 'T'), an
// optional zone suffix ("Z", "+01:00", "+0100"), "YYYYMMDD" and "YYYYMMDDHHMMSS". Returns the
// site-local civil time, or nullopt when the text is not one of these.
std::optional<Micros> parse_time_text(std::string_view text, Micros now_utc, const TimeZone& tz);

// What PHP makes of a time it cannot read: date(format, strtotime(garbage)) is the epoch, shown
// in the site's zone.
Micros unreadable_time(const TimeZone& tz);

// A site-local time in a seed: "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD", "YYYY-MM-DD HH:MM", 'T'
// for the space). No zone: CiviCRM shows site-local times.
std::optional<Micros> parse_seed_time(std::string_view s);

}  // namespace concord::sandbox
