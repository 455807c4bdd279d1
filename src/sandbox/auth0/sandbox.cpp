#include "sandbox/auth0/sandbox.h"

#include "sandbox/auth0/routing.h"

namespace concord::sandbox {

std::unique_ptr<Part> make_auth0_sandbox(SandboxClock* clock, Auth0Options options) {
  return std::make_unique<auth0::Auth0Part>(clock, std::move(options));
}

}  // namespace concord::sandbox
