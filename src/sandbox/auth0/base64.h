// Base64 (RFC 4648): the url-safe alphabet without padding for a JWT's parts, the standard one
// for the export files the state document carries.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace concord::sandbox::auth0 {

// §5, without padding.
std::string base64url(std::string_view bytes);
// §4, with padding.
std::string base64(std::string_view bytes);
// §4, padding required; nullopt for anything else.
std::optional<std::string> unbase64(std::string_view text);

}  // namespace concord::sandbox::auth0
