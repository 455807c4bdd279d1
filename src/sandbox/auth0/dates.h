// Times as the Auth0 API writes and reads them: "2023-01-25T19:00:29.893Z" (UTC, milliseconds)
// in users, jobs and tokens; dates and times of any precision in a search's ranges.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "concord/time.h"

namespace concord::sandbox::auth0 {

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (milliseconds, rounded down).
std::string ms_text(Micros t);
// `t` rounded down to the millisecond: the precision Auth0 keeps.
Micros to_ms(Micros t);

// An ISO 8601 time with a zone ("…Z", "…+02:00", with or without fractions), or nullopt.
std::optional<Micros> parse_time(std::string_view text);

// The span of time a search's range bound names: "2017" a year, "2017-12" a month, "2017-12-31"
// a day, "2017-12-31T10:00:00[.mmm][Z|±hh:mm]" an instant (a time without a zone is UTC).
// [begin, end): an instant's end is one microsecond after it.
struct Span {
  Micros begin = 0;
  Micros end = 0;
};
std::optional<Span> parse_span(std::string_view text);

}  // namespace concord::sandbox::auth0
