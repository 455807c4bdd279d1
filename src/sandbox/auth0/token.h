// Access tokens: POST /oauth/token (the client-credentials grant of the Authentication API) and
// the bearer check of every /api/v2 route (docs/sandbox.md "The Auth0 API", "Tokens").
//
// A token looks like Auth0's: a JWT (RS256 header; iss, sub, aud, iat, exp, scope, gty, azp in
// its payload; 256 random bytes as its signature). The part recognises the tokens it handed out
// by looking them up, so a token is unguessable and its payload is for clients that read `exp`.
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/auth0/tenant.h"

namespace concord::sandbox::auth0 {

// How many tokens the tenant remembers; beyond it the oldest are forgotten (and then answer
// "Invalid token"), so that a client asking for a token per request does not grow the state.
inline constexpr std::size_t kMaxTokens = 10000;

// Answers POST /oauth/token; on success the token is added to `tenant` and *changed is set.
http::Reply grant_token(Tenant& tenant, const http::Request& request, Micros now, bool* changed);

// Whether the request's bearer token may call a route that needs any of `scopes`: nullopt when
// it may, else the API's 401 (no, unknown or expired token) or 403 insufficient_scope answer.
std::optional<http::Reply> authorize(const Tenant& tenant, const http::Request& request, Micros now,
                                     std::initializer_list<std::string_view> scopes);

// Makes every token that is still valid expire at `now`. Returns how many did.
std::size_t expire_tokens(Tenant& tenant, Micros now);

}  // namespace concord::sandbox::auth0
