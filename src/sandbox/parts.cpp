#include "sandbox/parts.h"

#include <utility>

#include "sandbox/amplitude/sandbox.h"
#include "sandbox/auth0/sandbox.h"
#include "sandbox/mautic/sandbox.h"
#include "sandbox/mixpanel/sandbox.h"

namespace concord::sandbox {

std::vector<std::unique_ptr<Part>> make_parts(SandboxClock* clock, bool tls,
                                              const std::string& webhook_ca_file) {
  std::vector<std::unique_ptr<Part>> parts;
  Auth0Options auth0;
  auth0.scheme = tls ? "https" : "http";
  parts.push_back(make_auth0_sandbox(clock, auth0));
  parts.push_back(make_mixpanel_sandbox(clock));
  parts.push_back(make_amplitude_sandbox(clock));
  MauticOptions mautic;
  mautic.webhook_ca_file = webhook_ca_file;
  parts.push_back(make_mautic_sandbox(clock, std::move(mautic)));
  return parts;
}

}  // namespace concord::sandbox
