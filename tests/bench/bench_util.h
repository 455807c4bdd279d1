// Small helpers shared by the benchmarks: arguments, timing, memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "concord/store.h"

namespace concord::bench {

struct Args {
  std::string dir;            // --dir: where the benchmark's store lives (required)
  std::uint64_t members = 0;  // --members: overrides the benchmark's default size
};
Args parse_args(int argc, char** argv, std::uint64_t default_members);

// Peak resident set size of this process so far, in MB.
double peak_rss_mb();
// CPU time (user + system) this process has used so far, in seconds.
double cpu_seconds();

class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// A new, empty store in `dir` (anything there is removed first); dies on failure.
std::unique_ptr<Store> fresh_store(const std::string& dir);

// Prints "name: value" on stdout, flushed.
void print(const char* name, double value, int decimals = 3);
void print(const char* name, std::uint64_t value);

// Stops the benchmark with a message on stderr when a step fails.
[[noreturn]] void die(const std::string& what);

}  // namespace concord::bench
