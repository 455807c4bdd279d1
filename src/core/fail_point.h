// Fail points: places where a test build can kill concord on purpose, to prove what survives a
// crash at exactly that place (tests/integration/crash_test.cpp).
//
// A build configured with `-Dfail_points=true` (scripts/test's builds) reads CONCORD_FAIL_POINT
// = "<name>:<n>" once, and the n-th time (1-based) the point `name` is reached the process kills
// itself with SIGKILL — no destructor, flush or journal write runs after it, as in a real crash.
// In every other build (release, the quickstart, benchmarks) fail_point() does nothing and the
// variable is never read. (It is a call rather than an inline no-op so that the option
// recompiles one file; the points are reached once per batch of writes.)
//
// Thread-safety: fail_point() may be called from several threads at once.
#pragma once

#include <string_view>

namespace concord {

// The points there are:
//   "after-send"    a side has answered a batch of writes; their outcomes are not journaled yet
//   "before-send"   a batch's journal entries are stored; the batch is not sent yet
//   "single-pass"   a first sync's one pass of the diff has journaled its plan and written the
//                   bases it settled; the run has not gone on to apply
void fail_point(std::string_view name);

}  // namespace concord
