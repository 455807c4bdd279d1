// What people and administrators do to users outside the Management API's reads — sign up, change
// their email or name, get verified or blocked, are deleted — as the admin routes ask
// (docs/sandbox.md "The Auth0 API", "Admin routes"), and what the search index sees of it: with a
// search delay, a change reaches GET /api/v2/users only that many seconds later.
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"
#include "concord/time.h"
#include "sandbox/auth0/tenant.h"

namespace concord::sandbox::auth0 {

// Adds a user from an admin body: `connection` (a connection's name; may be left out when the
// tenant has one connection), `email`, and any of user_id, email_verified, given_name,
// family_name, name, nickname, username, picture, blocked, user_metadata, app_metadata. Dated
// `now`. Returns the user, or kInvalid naming the field (kFailedPrecondition when its email is
// taken in that connection).
Result<ojson> create_user(Tenant& tenant, const ojson& body, Micros now);

// Changes a user from an admin body: any of email, email_verified, given_name, family_name,
// name, nickname, username, picture, blocked (null removes the field), user_metadata and
// app_metadata (merged key by key, null removing a key, as the API's PATCH does). A new email
// without email_verified makes it false. updated_at becomes `now`. Returns the user, or
// kNotFound, kInvalid naming the field, kFailedPrecondition for an email taken.
Result<ojson> update_user(Tenant& tenant, std::string_view user_id, const ojson& body, Micros now);

// Deletes a user. False when there is none.
bool delete_user(Tenant& tenant, std::string_view user_id, Micros now);

// The users the search index shows at `now`, in the API's default order: each user as it was
// before its pending change (none, for a new one), deleted users not yet forgotten at the end.
std::vector<const ojson*> searchable_users(const Tenant& tenant, Micros now);

// Forgets the changes the search has caught up with. Returns whether any was.
bool prune_lag(Tenant& tenant, Micros now);

}  // namespace concord::sandbox::auth0
