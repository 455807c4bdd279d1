#include "bench_util.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace concord::bench {

Args parse_args(int argc, char** argv, std::uint64_t default_members) {
  Args a;
  a.members = default_members;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      a.dir = argv[++i];
    } else if (std::strcmp(argv[i], "--members") == 0 && i + 1 < argc) {
      a.members = std::strtoull(argv[++i], nullptr, 10);
    } else {
      die(std::string("usage: ") + argv[0] + " --dir DIR [--members N]");
    }
  }
  if (a.dir.empty() || a.members == 0)
    die(std::string("usage: ") + argv[0] + " --dir DIR [--members N]");
  return a;
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void print(const char* name, double value, int decimals) {
  std::printf("%s: %.*f\n", name, decimals, value);
  std::fflush(stdout);
}

void print(const char* name, std::uint64_t value) {
  std::printf("%s: %llu\n", name, static_cast<unsigned long long>(value));
  std::fflush(stdout);
}

std::unique_ptr<Store> fresh_store(const std::string& dir) {
  std::filesystem::remove_all(dir);
  auto opened = Store::open(dir);
  if (!opened) die(opened.status().to_string());
  return std::move(opened.value());
}

void die(const std::string& what) {
  std::fprintf(stderr, "benchmark failed: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace concord::bench
