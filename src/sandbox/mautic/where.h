// The `where` parameter of GET /api/contacts (CommonRepository::buildWhereClauseFromArray):
// where[n][col], where[n][expr], where[n][val], all of which must hold. `col` is a column
// (columns.h); `expr` one of eq, neq, lt, lte, gt, gte, like, notLike, in, notIn, between,
// notBetween, isNull, isNotNull, isEmpty, isNotEmpty, and andX / orX, whose `val` is a list of
// where items. As in SQL, a comparison with a NULL column holds for nothing (neq and notIn
// included). A time column's value is "YYYY-MM-DD HH:MM:SS" (UTC), "YYYY-MM-DD", or ISO 8601 with
// an offset; `in` takes a comma-separated list or an array, `between` two values.
//
// Thread-safety: pure functions.
#pragma once

#include "concord/status.h"
#include "sandbox/json_writer.h"
#include "sandbox/mautic/search.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// The where parameter (a PHP array of items) as a Match; kInvalid with the 400's detail naming
// the item ("where[1][col]: unknown column \"foo\"").
Result<Match> parse_where(const Site& site, const ojson& where);

}  // namespace concord::sandbox::mautic
