#include "concord/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace concord {

void run_in_parallel(std::size_t n, std::size_t workers,
                     const std::function<void(std::size_t)>& task) {
  if (n == 0) return;
  std::atomic<std::size_t> next{1};  // 0 is the calling thread's
  std::mutex mu;
  std::exception_ptr thrown;
  auto run = [&](std::size_t i) {
    try {
      task(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!thrown) thrown = std::current_exception();
      next = n;  // nothing more is begun
    }
  };
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++)
      run(i);
  };
  const std::size_t threads = std::min(n, std::max<std::size_t>(1, workers)) - 1;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back(work);
  run(0);
  work();
  for (std::thread& t : pool)
    t.join();
  if (thrown) std::rethrow_exception(thrown);
}

}  // namespace concord
