// An Auth0 users-export file: gzip-compressed NDJSON, one user object a line (the reference's
// §1.6.3). Decompressed as it is read, a line at a time, so a large tenant's file is never held
// whole once inflated.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "concord/status.h"

namespace concord::auth0 {

// Calls `line` with each non-empty line of the decompressed file, in order, with its number (1 =
// the first). A non-OK status from `line` stops the read and is returned. kInvalid when the data
// is not gzip, is cut short or is corrupt (a gzip member that does not end), or a line is longer
// than `max_line` bytes. Several gzip members one after another are read as one file.
Status read_gzip_lines(
    std::string_view gz, std::size_t max_line,
    const std::function<Status(std::string_view line, std::uint64_t number)>& line);

}  // namespace concord::auth0
