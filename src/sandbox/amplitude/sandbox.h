// The sandbox's emulator of Amplitude's Behavioral Cohorts API (the cohort download side), as a
// part of the sandbox (part.h): on its own port it answers
//   * GET /api/3/cohorts, GET /api/5/cohorts/request/{cohort_id},
//     GET /api/5/cohorts/request-status/{request_id} and
//     GET /api/5/cohorts/request/{request_id}/file, with HTTP Basic api_key:secret_key, the
//     export's asynchronous life, the CSV file inline or through a 302 to a download URL that
//     expires after a minute (served on the same port, answering as S3 does), and the API's
//     limits;
//   * the admin routes /_sandbox/faults and /_sandbox/amplitude/… (loopback peers only).
// The sandbox clock is "now" for the export delays, the URLs' expiry and the limits.
// docs/sandbox.md ("The Amplitude cohort API") describes what is emulated and the known gaps.
//
// Thread-safety: the part's methods may be called from many threads at once.
#pragma once

#include <memory>

#include "sandbox/clock.h"
#include "sandbox/part.h"

namespace concord::sandbox {

// An empty Amplitude part (the default keys, no users or cohorts) on `clock`, which must outlive
// it.
std::unique_ptr<Part> make_amplitude_sandbox(SandboxClock* clock);

}  // namespace concord::sandbox
