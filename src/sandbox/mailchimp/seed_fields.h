// Optional members of a seed's JSON objects, read with errors that name their path (the Mailchimp
// part's seed readers: seed.cpp, seed_groups.cpp). A missing or null member leaves *out as it
// is; a member of the wrong type is false with *err = "<path>.<key>: expected …".
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "concord/time.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::seed_fields {

bool get_string(const json& o, const char* key, std::string* out, std::string* err,
                const std::string& path);
bool get_int(const json& o, const char* key, std::int64_t* out, std::string* err,
             const std::string& path);
bool get_bool(const json& o, const char* key, bool* out, std::string* err, const std::string& path);
// An ISO 8601 time, to the second ("" counts as missing).
bool get_time(const json& o, const char* key, Micros* out, std::string* err,
              const std::string& path);

}  // namespace concord::sandbox::seed_fields
