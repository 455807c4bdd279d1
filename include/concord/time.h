// Times: microseconds since the Unix epoch, UTC.
//
// Every change time in concord is a `Micros`. The sides report times to the second; the store keeps
// microseconds so that a later side may be finer. A missing time is kNoTime, which compares older
// than every real time ("a missing time is older than any time", docs/decision-rules.md).
//
// Thread-safety: the parsing and formatting functions are pure. A TimeZone may be shared between
// threads once constructed.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "concord/status.h"

namespace concord {

using Micros = std::int64_t;
inline constexpr Micros kNoTime = std::numeric_limits<Micros>::min();
inline constexpr Micros kMicrosPerSecond = 1'000'000;

// Parses an ISO 8601 time with a zone as the Mailchimp API writes it ("2021-11-23T22:51:56+00:00",
// also "Z" and fractional seconds). An empty string (Mailchimp's "unset") gives kNoTime.
// Returns kInvalid naming the text when it cannot be read.
Result<Micros> parse_iso8601(std::string_view text);

// "2021-11-23T22:51:56+00:00" (seconds precision; sub-second digits are dropped). kNoTime gives "".
std::string format_iso8601(Micros t);

// Parses a bare "YYYY-MM-DD HH:MM:SS" (no zone): the fields of a local or UTC civil time.
// Returns the civil time read as if it were UTC; use TimeZone to interpret it.
Result<Micros> parse_civil(std::string_view text);
// "YYYY-MM-DD HH:MM:SS" of `t` read as UTC civil time.
std::string format_civil(Micros t);

// HTTP's Date header (RFC 9110 IMF-fixdate): "Mon, 23 Nov 2026 16:23:09 GMT". parse_http_date
// accepts only that form (what servers send today); kInvalid otherwise.
std::string format_http_date(Micros t);
Result<Micros> parse_http_date(std::string_view text);

// An IANA time zone (e.g. "Europe/London"), from the operating system's zoneinfo database.
// CiviCRM reports times in its site's zone without saying which; each connection names it.
class TimeZone {
 public:
  // Returns kInvalid when the zone is unknown.
  static Result<std::shared_ptr<const TimeZone>> load(std::string_view iana_name);
  virtual ~TimeZone() = default;

  virtual const std::string& name() const = 0;
  // Site-local civil time (as parse_civil returns it) to UTC. A local time that does not exist (the
  // hour skipped when clocks go forward) is read as the time just after the gap; an ambiguous one
  // (the hour repeated when clocks go back) as the earlier of the two.
  virtual Micros local_to_utc(Micros local_civil) const = 0;
  // UTC to site-local civil time (to format with format_civil).
  virtual Micros utc_to_local(Micros utc) const = 0;
};

// The source of "now", injected so that tests control it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros now() const = 0;
};

// The real clock (system_clock).
const Clock& system_clock();

}  // namespace concord
