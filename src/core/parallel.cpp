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
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::exception_ptr thrown;
  auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!thrown) thrown = std::current_exception();
        next = n;  // nothing more is begun
      }
    }
  };
  const std::size_t threads = n == 0 ? 0 : std::min(n, std::max<std::size_t>(1, workers)) - 1;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread& t : pool)
    t.join();
  if (thrown) std::rethrow_exception(thrown);
}

}  // namespace concord
