// The sandbox's parts beyond Mailchimp and CiviCRM (part.h), in the order their ports are
// started and their objects written into the state document.
#pragma once

#include <memory>
#include <vector>

#include "sandbox/clock.h"
#include "sandbox/part.h"

namespace concord::sandbox {

// One of each part, empty (no seed installed yet), sharing `clock` (REQUIRES: outlives them).
// `tls`: the sandbox serves https (the scheme of the URLs a part writes to itself).
std::vector<std::unique_ptr<Part>> make_parts(SandboxClock* clock, bool tls);

}  // namespace concord::sandbox
