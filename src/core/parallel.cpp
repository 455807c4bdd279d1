#include "concord/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
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

void run_ordered(std::size_t n, std::size_t workers, std::size_t ahead,
                 const std::function<void(std::size_t)>& produce,
                 const std::function<bool(std::size_t)>& consume) {
  if (n == 0) return;
  ahead = std::max<std::size_t>(1, ahead);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> done(n, false);
  std::size_t next = 0;      // the next index to produce
  std::size_t consumed = 0;  // indexes below it were consumed
  bool stop = false;
  std::exception_ptr thrown;
  auto worker = [&] {
    while (true) {
      std::size_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || next >= n || next < consumed + ahead; });
        if (stop || next >= n) return;
        i = next++;
      }
      try {
        produce(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!thrown) thrown = std::current_exception();
        stop = true;
      }
      std::lock_guard<std::mutex> lock(mu);
      done[i] = true;
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  const std::size_t threads = std::min(n, std::max<std::size_t>(1, workers));
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back(worker);
  for (std::size_t i = 0; i < n; ++i) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done[i] || thrown; });
      if (thrown) break;
    }
    bool more = false;
    try {
      more = consume(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!thrown) thrown = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!more) break;
    consumed = i + 1;
    cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  }
  for (std::thread& t : pool)
    t.join();
  if (thrown) std::rethrow_exception(thrown);
}

}  // namespace concord
