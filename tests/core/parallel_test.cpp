// run_in_parallel's ordered sibling: results produced on several threads, consumed in order.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "concord/parallel.h"

using namespace concord;

namespace {

// A produce that takes longer for some indexes, so that later ones finish first.
std::chrono::milliseconds delay_of(std::size_t i) {
  return std::chrono::milliseconds((i * 7) % 5);
}

}  // namespace

TEST_CASE("produce_in_order: results come in index order while several are produced at once") {
  std::atomic<int> running{0}, most_running{0};
  std::vector<std::size_t> seen;
  produce_in_order<std::size_t>(
      40, 4, 8,
      [&](std::size_t i) {
        const int now = ++running;
        for (int most = most_running; now > most;) {
          if (most_running.compare_exchange_weak(most, now)) break;
        }
        std::this_thread::sleep_for(delay_of(i));
        --running;
        return i * 10;
      },
      [&](std::size_t i, std::size_t& v) {
        CHECK(v == i * 10);
        seen.push_back(i);
        return true;
      });
  REQUIRE(seen.size() == 40);
  for (std::size_t i = 0; i < seen.size(); ++i)
    CHECK(seen[i] == i);
  CHECK(most_running > 1);   // concurrent
  CHECK(most_running <= 4);  // within the workers
}

TEST_CASE("produce_in_order: no more than `ahead` results wait to be consumed") {
  std::mutex mu;
  std::size_t produced = 0, consumed = 0, most_ahead = 0;
  produce_in_order<int>(
      30, 4, 3,
      [&](std::size_t) {
        std::lock_guard<std::mutex> lock(mu);
        ++produced;
        most_ahead = std::max(most_ahead, produced - consumed);
        return 1;
      },
      [&](std::size_t, int&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow consumer
        std::lock_guard<std::mutex> lock(mu);
        ++consumed;
        return true;
      });
  CHECK(consumed == 30);
  CHECK(most_ahead <= 3);
}

TEST_CASE("produce_in_order: a consumer that stops it ends the producing") {
  std::atomic<std::size_t> produced{0};
  std::vector<std::size_t> seen;
  produce_in_order<std::size_t>(
      1000, 4, 4,
      [&](std::size_t i) {
        ++produced;
        return i;
      },
      [&](std::size_t i, std::size_t&) {
        seen.push_back(i);
        return i < 9;  // the tenth is the last consumed
      });
  CHECK(seen.size() == 10);
  CHECK(produced <= 10 + 4);  // at most `ahead` beyond the last consumed
}

TEST_CASE("produce_in_order: nothing to produce, and an exception is thrown in the caller") {
  bool called = false;
  produce_in_order<int>(
      0, 4, 4,
      [&](std::size_t) {
        called = true;
        return 0;
      },
      [&](std::size_t, int&) {
        called = true;
        return true;
      });
  CHECK_FALSE(called);
  std::atomic<int> consumed{0};
  CHECK_THROWS_AS(produce_in_order<int>(
                      20, 3, 6,
                      [&](std::size_t i) -> int {
                        if (i == 5) throw std::runtime_error("page 5");
                        return 0;
                      },
                      [&](std::size_t, int&) {
                        ++consumed;
                        return true;
                      }),
                  std::runtime_error);
  CHECK(consumed <= 5);  // none past the page that threw
}
