// The file of a users-export job (docs/sandbox.md "The Auth0 API", "Export jobs"): NDJSON (one
// object a line, keyed by each field's export_as or name, fields a user lacks left out, a
// trailing newline) or CSV (a header row of the same names; strings quoted and prefixed with '
// against CSV injection, Auth0's own times left bare), gzipped.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sandbox/auth0/tenant.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

// The fields of an export that names none.
std::vector<ExportField> default_export_fields();

// The file's text for `users` in `format` ("json" or "csv").
std::string export_text(const std::vector<const ojson*>& users,
                        const std::vector<ExportField>& fields, std::string_view format);

// `data` as a gzip file (RFC 1952).
std::string gzip(std::string_view data);

}  // namespace concord::sandbox::auth0
