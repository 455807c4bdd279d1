// The sandbox's parts beyond Mailchimp and CiviCRM (part.h), in the order their ports are
// started and their objects written into the state document.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sandbox/clock.h"
#include "sandbox/part.h"

namespace concord::sandbox {

// One of each part, empty (no seed installed yet), sharing `clock` (REQUIRES: outlives them).
// `tls`: the sandbox serves https (the scheme of the URLs a part writes to itself).
// `webhook_ca_file`: the roots trusted for https webhook URLs (empty: the system's store).
std::vector<std::unique_ptr<Part>> make_parts(SandboxClock* clock, bool tls,
                                              const std::string& webhook_ca_file = "");

}  // namespace concord::sandbox
