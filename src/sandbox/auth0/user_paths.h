// Reading a user object by a field path, as the search (`identities.connection`), the sort
// (`updated_at`) and the export job's fields (`identities[0].connection`, `user_metadata.plan`)
// name its fields.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>
#include <vector>

#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

// Appends to *out the values at `path` in `user`: segments separated by '.', each optionally
// followed by "[n]" to pick one element of an array. An array reached without an index gives
// each of its elements (so `identities.connection` is the connection of every identity). Nulls
// are left out.
void values_at(const ojson& user, std::string_view path, std::vector<const ojson*>* out);

// The value at `path` as it stands (an array or object whole), or null when there is none: the
// export job's reading, where an array's element is picked by "[n]".
const ojson* value_at(const ojson& user, std::string_view path);

// The first value at `path`, or null when there is none.
const ojson* first_value_at(const ojson& user, std::string_view path);

}  // namespace concord::sandbox::auth0
