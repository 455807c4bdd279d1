// The file of a cohort export (GET /api/5/cohorts/request/{request_id}/file): CSV with a header
// row, RFC 4180 quoting. Columns: amplitude_id, user_id, then, with props=1, one column per user
// property (the propKeys asked for, in their order, else every property any member has, sorted by
// name). Every value is quoted, as in the reference's example; a header name only when it must be.
// An anonymous user's user_id, and a property a user does not have, are "".
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/amplitude/project.h"

namespace concord::sandbox::amplitude {

// The property columns of an export of `cohort` (after amplitude_id and user_id).
std::vector<std::string> property_columns(const Project& project, const Cohort& cohort,
                                          const Columns& columns);

// The whole file; *rows (when given) is set to the number of members written.
std::string cohort_csv(const Project& project, const Cohort& cohort, const Columns& columns,
                       bool crlf, std::int64_t* rows = nullptr);

// Appends `v` as a quoted CSV field ("" doubled).
void append_csv_quoted(std::string* out, std::string_view v);

// A user property's value as a CSV cell: strings as they are, numbers and booleans as JSON writes
// them, arrays and objects as JSON text, null as "".
std::string property_text(const ojson& v);

}  // namespace concord::sandbox::amplitude
