// The sandbox's emulator of Mixpanel's Query API, the part concord reads a cohort's people from
// (docs/sandbox.md "The Mixpanel API"), as a Part of the router (part.h).
//
// Its handle() answers
//   * POST (or GET) /api/query/cohorts/list and /api/query/engage, and the same under the legacy
//     prefix /api/2.0, with service-account or project-secret authentication, the engage paging
//     sessions, and the Query API's rate limits (queries per hour, queries at once) and error
//     shapes, written from the Mixpanel reference (its OpenAPI description, its docs, recorded
//     traffic), not from concord's client;
//   * from loopback peers, /_sandbox/faults and the admin routes under /_sandbox/mixpanel/
//     (cohorts and their members, profiles, limits, sessions).
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <memory>

#include "sandbox/clock.h"
#include "sandbox/part.h"

namespace concord::sandbox {

// An empty project (project 1, the default service account; no cohorts, no profiles) whose "now"
// is `clock` (REQUIRES: outlives the part).
std::unique_ptr<Part> make_mixpanel_sandbox(SandboxClock* clock);

}  // namespace concord::sandbox
