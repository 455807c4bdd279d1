// Authentication (the reference's §3.2): HTTP Basic with the API user's name and password, and
// OAuth2 bearer tokens from the client-credentials grant at POST /oauth/v2/token; the refusals
// in the shape Mautic's ApiSubscriber rewrites them into.
//
// Thread-safety: the caller holds the part's lock (shared for authenticate(), alone for the
// functions that change the site).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// How many tokens the site remembers; beyond it the oldest are forgotten.
inline constexpr std::size_t kMaxTokens = 1000;

// Checks an API request's credentials: `Authorization: Basic …` or `Bearer …`, or an
// `access_token` parameter (query string or form body). nullopt when they are good, else the
// 401/403 answer.
std::optional<http::Reply> authenticate(const Site& site, const http::Request& request,
                                        std::string_view query, Micros now);

// Answers POST /oauth/v2/token; a granted token is added to `site` and *changed set.
http::Reply grant_token(Site& site, const http::Request& request, std::string_view query,
                        Micros now, bool* changed);

// Makes every token that is still valid expire at `now`. Returns how many did.
std::size_t expire_tokens(Site& site, Micros now);

}  // namespace concord::sandbox::mautic
