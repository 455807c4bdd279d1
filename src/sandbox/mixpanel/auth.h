// Who a Query API request comes from (docs/sandbox.md "The Mixpanel API", Authentication):
//
//   * a service account: HTTP Basic username:secret, and the project in `project_id` on the query
//     string, which is then mandatory (the spec's and the docs' rule);
//   * the project secret (deprecated): Basic with the secret as the username and an empty password
//     ("secret:"), or, as Airbyte sends it, the secret alone without a colon; `project_id` is
//     optional then. It stops working when the sandbox clock reaches its retirement, 2027-03-03.
//
// The credentials may also come un-base64'd ("Basic user:secret"), which Mixpanel accepts.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "concord/time.h"
#include "sandbox/http_helpers.h"
#include "sandbox/mixpanel/project.h"

namespace concord::sandbox::mixpanel {

// 2027-03-03T00:00:00Z: the day Mixpanel retires project secrets.
inline constexpr Micros kProjectSecretRetired = 1804032000LL * kMicrosPerSecond;

enum class AuthOutcome {
  kOk,
  kUnauthenticated,  // no credentials, or none the project knows
  kMissingProject,   // a service account without project_id
  kBadProject,       // project_id that is not an integer
  kWrongProject,     // a project these credentials do not open
};

struct Auth {
  AuthOutcome outcome = AuthOutcome::kUnauthenticated;
  std::string who;  // the service account's username, or "project secret"
};

// Checks the Authorization header and the query's project_id against the project at `now`.
Auth authenticate(const Project& project, std::string_view authorization, const Pairs& query,
                  Micros now);

// Decodes standard base64 (padding optional). Returns false for other text.
bool base64_decode(std::string_view in, std::string* out);

}  // namespace concord::sandbox::mixpanel
