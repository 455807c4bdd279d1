// Auth0 user objects as concord reads them: one user (from a search page or an export line) to a
// SourcePerson, the field paths it is asked for, and the search query's pieces (docs/sandbox.md,
// "The Auth0 API", describes the user object).
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "concord/record.h"
#include "concord/side.h"
#include "concord/time.h"

namespace concord::auth0 {

// The top-level keys a read must ask for: user_id, email, email_verified, updated_at, then the
// first segment of each asked-for field (a path into user_metadata asks for the whole object:
// an export names the root, whose key spelling is documented), each once.
std::vector<std::string> top_level_keys(const std::vector<std::string>& fields);

// One user object to a person, or the row to reject naming the field: not an object, no user_id
// (or not a string), an email or updated_at of the wrong type, an updated_at that is not a time.
// A missing email is "" (the snapshot stage reports it); a missing email_verified is false.
std::variant<SourcePerson, RejectedRow> read_user(const nlohmann::json& user,
                                                  const std::vector<std::string>& fields);

// A field's value by a dotted path ("user_metadata.plan"): strings unquoted, numbers and
// booleans as JSON writes them, objects and arrays as compact JSON, null or missing "".
std::string field_text(const nlohmann::json& user, std::string_view path);

// A Lucene phrase: the text in double quotes, '"' and '\' escaped with '\'.
std::string lucene_phrase(std::string_view text);

// A time as the search compares it: "2024-05-01T00:00:00.000Z".
std::string search_time(Micros t);

// Parses a JSON answer without exceptions, refusing (discarded) one nested deeper than 64 levels
// (a value thousands of levels deep would overflow the stack when copied or printed).
nlohmann::json parse_json(std::string_view body);

}  // namespace concord::auth0
