// The sandbox's emulator of the Auth0 Management API v2 (and of the Authentication API's token
// endpoint), as a part of the sandbox (part.h), written from the reference's reading of Auth0's
// documentation, API definition and recorded traffic, not from concord's client:
//   * POST /oauth/token: the client-credentials grant;
//   * GET /api/v2/connections[/{id}], GET /api/v2/users[/{id}] (search, paging, the 1 000
//     cap), POST /api/v2/jobs/users-exports, GET /api/v2/jobs/{id}, and the export file's
//     signed download URL, with bearer tokens, scopes, rate limits and Auth0's error shapes;
//   * the admin routes /_sandbox/faults (part=auth0) and /_sandbox/auth0/… (users, tokens, jobs,
//     settings), from loopback peers only.
// docs/sandbox.md ("The Auth0 API") describes what is emulated and the known gaps.
//
// Thread-safety: every method of the part may be called from many threads at once.
#pragma once

#include <memory>
#include <string>

#include "sandbox/clock.h"
#include "sandbox/part.h"

namespace concord::sandbox {

struct Auth0Options {
  // The scheme of the URLs the part writes to itself (an export job's `location`): the sandbox
  // serves https unless it was started with --no-tls.
  std::string scheme = "https";
};

// An Auth0 part without a seed (the default domain and client, no users), dated by `clock`
// (REQUIRES: outlives the part).
std::unique_ptr<Part> make_auth0_sandbox(SandboxClock* clock, Auth0Options options = {});

}  // namespace concord::sandbox
