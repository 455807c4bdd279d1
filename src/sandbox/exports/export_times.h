// The times of the export files. Both Mailchimp's audience export and CiviCRM's downloads write
// "YYYY-MM-DD HH:MM:SS" without a zone (Mailchimp's is taken as UTC, CiviCRM's as the site's
// wall clock); SearchKit downloads made before mid-2023 (civicrm-core PR 26211) wrote the site's
// "Complete Date and Time" display format instead, whose default reads "May 1st, 2024 10:00 AM".
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "concord/time.h"

namespace concord::sandbox::exports {

// "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD HH:MM", "YYYY-MM-DD", or the display format above (month
// names in English, full or three letters; the day's "st"/"nd"/"rd"/"th" optional; 12-hour time
// with AM/PM, or none) as a civil time: seconds since 1970-01-01 00:00 of the same wall clock,
// in Micros. nullopt for anything else, or a date that does not exist.
std::optional<Micros> parse_export_time(std::string_view text);

}  // namespace concord::sandbox::exports
