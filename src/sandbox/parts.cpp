#include "sandbox/parts.h"

#include "sandbox/amplitude/sandbox.h"
#include "sandbox/auth0/sandbox.h"
#include "sandbox/mixpanel/sandbox.h"

namespace concord::sandbox {

std::vector<std::unique_ptr<Part>> make_parts(SandboxClock* clock, bool tls) {
  std::vector<std::unique_ptr<Part>> parts;
  Auth0Options auth0;
  auth0.scheme = tls ? "https" : "http";
  parts.push_back(make_auth0_sandbox(clock, auth0));
  parts.push_back(make_mixpanel_sandbox(clock));
  parts.push_back(make_amplitude_sandbox(clock));
  return parts;
}

}  // namespace concord::sandbox
