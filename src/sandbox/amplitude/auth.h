// The Behavioral Cohorts API's authentication: HTTP Basic with the project's API key as the user
// name and its secret key as the password.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sandbox/amplitude/project.h"

namespace concord::sandbox::amplitude {

// Decodes standard base64 (padding optional). Returns false on a character outside the alphabet.
bool base64_decode(std::string_view in, std::string* out);

// Checks an Authorization header against the keys. nullopt when it holds "Basic
// base64(api_key:secret_key)"; else 401 when there is no Basic credential at all (no header,
// another scheme, undecodable), 403 "Invalid API/Secret Key combination" when the keys are wrong.
std::optional<ApiError> check_basic_auth(std::string_view authorization, std::string_view api_key,
                                         std::string_view secret_key);

}  // namespace concord::sandbox::amplitude
