// Independent calls spread over a few threads: the writes and reads a side's API allows to run at
// once (Mailchimp's connections per account, a CiviCRM budget).
//
// Thread-safety: `task` runs on several threads at once; it must only touch what its index owns,
// or guard the rest.
#pragma once

#include <cstddef>
#include <functional>

namespace concord {

// Runs task(0) … task(n - 1), at most `workers` at a time (the calling thread is one of them,
// and runs task(0)), each index once, and returns when all have returned. Indexes are taken in
// order. (Task 0 may count on what is the caller's own: its thread-local scopes, such as a
// FetchProgress.) concord's
// code does not throw; should a task throw all the same, the tasks not yet begun are skipped and
// the first exception is thrown again here, in the caller's thread, once the others ended (an
// exception must not end the process from a worker thread).
void run_in_parallel(std::size_t n, std::size_t workers,
                     const std::function<void(std::size_t)>& task);

}  // namespace concord
