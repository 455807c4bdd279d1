#include <catch2/catch.hpp>

#include "concord/time.h"

using namespace concord;

namespace {
Micros utc(const char* civil) {
  return parse_civil(civil).value();
}
}  // namespace

TEST_CASE("Mailchimp ISO 8601 times parse to UTC microseconds") {
  CHECK(parse_iso8601("2021-11-23T22:51:56+00:00").value() == utc("2021-11-23 22:51:56"));
  CHECK(parse_iso8601("2021-11-23T22:51:56Z").value() == utc("2021-11-23 22:51:56"));
  CHECK(parse_iso8601("2021-11-23T23:51:56+01:00").value() == utc("2021-11-23 22:51:56"));
  CHECK(parse_iso8601("2021-11-23T17:21:56-05:30").value() == utc("2021-11-23 22:51:56"));
  CHECK(parse_iso8601("2021-11-23T22:51:56.25+00:00").value() ==
        utc("2021-11-23 22:51:56") + 250000);
}

TEST_CASE("an unset Mailchimp time (\"\") is a missing time, older than any") {
  auto t = parse_iso8601("");
  REQUIRE(t.is_ok());
  CHECK(*t == kNoTime);
  CHECK(*t < utc("1970-01-01 00:00:00"));
  CHECK(format_iso8601(kNoTime).empty());
}

TEST_CASE("malformed times are errors that quote the text") {
  for (const char* bad : {"2021-11-23", "2021-13-01T00:00:00+00:00", "2021-02-30T00:00:00Z",
                          "2021-11-23T22:51:56", "yesterday", "2021-11-23T22:51:56+0000"}) {
    DYNAMIC_SECTION(bad) {
      auto t = parse_iso8601(bad);
      REQUIRE_FALSE(t.is_ok());
      CHECK(t.status().message().find(bad) != std::string::npos);
    }
  }
}

TEST_CASE("format and parse round-trip") {
  Micros t = utc("2026-03-29 00:59:59");
  CHECK(format_iso8601(t) == "2026-03-29T00:59:59+00:00");
  CHECK(parse_iso8601(format_iso8601(t)).value() == t);
  CHECK(format_civil(t) == "2026-03-29 00:59:59");
}

TEST_CASE("format_civil writes every field zero-padded, and parse_civil reads it back") {
  for (const char* civil : {"1970-01-01 00:00:00", "0999-12-31 23:59:59", "2000-02-29 12:05:09",
                            "2026-10-25 01:30:00", "9999-12-31 23:59:59", "0001-01-01 00:00:01"}) {
    DYNAMIC_SECTION(civil) {
      const Micros t = utc(civil);
      CHECK(format_civil(t) == civil);
      CHECK(format_civil(t + 999999) == civil);  // the fraction of the second is left out
    }
  }
}

TEST_CASE("CiviCRM site-local times convert across a daylight-saving change") {
  auto zone = TimeZone::load("Europe/London");
  REQUIRE(zone.is_ok());
  const TimeZone& london = **zone;
  // Winter: GMT = UTC.
  CHECK(london.local_to_utc(utc("2026-01-15 12:00:00")) == utc("2026-01-15 12:00:00"));
  // Summer: BST = UTC+1.
  CHECK(london.local_to_utc(utc("2026-07-15 12:00:00")) == utc("2026-07-15 11:00:00"));
  // 29 March 2026: clocks go forward at 01:00 UTC. 00:30 local is GMT, 02:30 local is BST.
  CHECK(london.local_to_utc(utc("2026-03-29 00:30:00")) == utc("2026-03-29 00:30:00"));
  CHECK(london.local_to_utc(utc("2026-03-29 02:30:00")) == utc("2026-03-29 01:30:00"));
  // 01:30 local does not exist that day: read as the end of the gap.
  CHECK(london.local_to_utc(utc("2026-03-29 01:30:00")) == utc("2026-03-29 01:00:00"));
  // 25 October 2026: 01:30 local happens twice; the earlier (BST) instant is taken.
  CHECK(london.local_to_utc(utc("2026-10-25 01:30:00")) == utc("2026-10-25 00:30:00"));
  // And back.
  CHECK(london.utc_to_local(utc("2026-07-15 11:00:00")) == utc("2026-07-15 12:00:00"));
  CHECK(london.utc_to_local(utc("2026-01-15 12:00:00")) == utc("2026-01-15 12:00:00"));
}

TEST_CASE("an unknown time zone is a clear error") {
  auto zone = TimeZone::load("Europe/Atlantis");
  REQUIRE_FALSE(zone.is_ok());
  CHECK(zone.status().message().find("Europe/Atlantis") != std::string::npos);
}

TEST_CASE("HTTP Date headers (IMF-fixdate) round-trip; other forms are errors") {
  const Micros t = parse_iso8601("2026-11-23T16:23:09Z").value();
  CHECK(format_http_date(t) == "Mon, 23 Nov 2026 16:23:09 GMT");
  CHECK(format_http_date(t + 999'999) == "Mon, 23 Nov 2026 16:23:09 GMT");  // seconds
  CHECK(parse_http_date("Mon, 23 Nov 2026 16:23:09 GMT").value() == t);
  CHECK(parse_http_date("Sun, 01 Mar 2026 09:00:00 GMT").value() ==
        parse_iso8601("2026-03-01T09:00:00Z").value());
  for (const char* bad : {"", "Monday, 23-Nov-26 16:23:09 GMT", "Mon, 23 Nov 2026 16:23:09 UTC",
                          "Mon, 23 Foo 2026 16:23:09 GMT", "Mon, 31 Feb 2026 16:23:09 GMT"}) {
    INFO(bad);
    CHECK_FALSE(parse_http_date(bad).is_ok());
  }
}
