// Writing the Auth0 part of the state document: the "auth0" object, in the seed's format
// (seed.h reads it back), complete enough to reload exactly: besides what a seed gives, the
// tokens handed out, the export jobs (with their file while its URL is valid) and the changes
// the search has not seen yet.
//
// Thread-safety: the caller keeps the tenant from changing meanwhile.
#pragma once

#include <string>

#include "sandbox/auth0/tenant.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

// The "auth0" object.
std::string state_object(const Tenant& tenant);

// The "settings" object (also the answer of /_sandbox/auth0/settings).
void write_settings(JsonOut& o, const Settings& s);

}  // namespace concord::sandbox::auth0
