// Reading the Auth0 part of a seed or state document: the "auth0" object (docs/sandbox.md
// "Seed format", "auth0"). The same reader checks a seed (check()), installs it, and checks what
// the admin routes are given (a user, the settings), so every problem is named the same way: by
// the path of the field, e.g. "users[3].email: expected a string".
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "concord/status.h"
#include "concord/time.h"
#include "sandbox/auth0/tenant.h"

namespace concord::sandbox::auth0 {

// The tenant of an "auth0" object (its JSON text); nullopt gives Tenant::empty(). `now` (UTC)
// stands in for a user's missing created_at and updated_at. Returns kInvalid naming the field of
// the first problem.
Result<Tenant> parse_tenant(std::optional<std::string_view> object, Micros now);

// A problem with a field: its path (relative to the object checked; "" for the object itself)
// and what is wrong.
struct FieldError {
  std::string field;
  std::string problem;
};

// Checks a user object against `tenant`'s connections, normalising its times to
// "YYYY-MM-DDTHH:MM:SS.mmmZ" and filling a missing created_at/updated_at with `now`. Returns
// nullopt, or the problem (e.g. {"identities[0].connection", "no connection named \"x\""}).
std::optional<FieldError> check_user(ojson* user, const Tenant& tenant, Micros now);

// The key under which a user's email must be unique: its first identity's connection and its
// email in lower case ("" for a user without an email).
std::string email_key(const ojson& user);

// Whether another user of `tenant` than users[except] has the same email_key as `user`: "" or
// the problem (for the admin routes; a seed checks with a map).
std::string email_conflict(const Tenant& tenant, const ojson& user,
                           std::optional<std::size_t> except);

// Reads the keys of a "settings" object into *settings (keys left out keep their value). Returns
// "" or "<key>: <problem>"; *settings is unchanged then.
std::string read_settings(const ojson& object, Settings* settings);

}  // namespace concord::sandbox::auth0
