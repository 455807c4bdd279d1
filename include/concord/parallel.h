// Independent calls spread over a few threads: the writes and reads a side's API allows to run at
// once (Mailchimp's connections per account, a CiviCRM budget).
//
// Thread-safety: `task` runs on several threads at once; it must only touch what its index owns,
// or guard the rest.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

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

// Runs produce(0) … produce(n - 1) on up to `workers` threads of their own, and hands their
// results over in index order on the calling thread, while later ones are produced: a paged read
// whose pages are fetched a few at once and consumed in order. produce(i) begins only once
// fewer than `ahead` results (produced or being produced) wait for consume, so memory stays
// bounded. consume returning false stops it: no produce begins after that, and the call returns
// once those running have returned. An exception from either is thrown again here once every
// thread has ended (as run_in_parallel does).
void run_ordered(std::size_t n, std::size_t workers, std::size_t ahead,
                 const std::function<void(std::size_t)>& produce,
                 const std::function<bool(std::size_t)>& consume);

// The same, with the results of type T passed from produce to consume.
template <typename T, typename Produce, typename Consume>
void produce_in_order(std::size_t n, std::size_t workers, std::size_t ahead, Produce&& produce,
                      Consume&& consume) {
  std::vector<std::optional<T>> slots(n);  // each written by one produce, read once it is done
  run_ordered(
      n, workers, ahead, [&](std::size_t i) { slots[i].emplace(produce(i)); },
      [&](std::size_t i) {
        T result = std::move(*slots[i]);
        slots[i].reset();
        return consume(i, result);
      });
}

}  // namespace concord
