// Fail points (fail_point.h): compiled in only with -Dfail_points=true.
#include "core/fail_point.h"

#ifdef CONCORD_FAIL_POINTS

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace concord {
namespace {

struct Armed {
  std::string name;        // empty: no fail point armed
  std::uint64_t when = 0;  // the hit that kills
};

const Armed& armed() {
  static const Armed a = [] {
    Armed out;
    const char* v = std::getenv("CONCORD_FAIL_POINT");
    if (v == nullptr) return out;
    const std::string_view text(v);
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return out;
    const std::string count(text.substr(colon + 1));
    char* end = nullptr;
    const unsigned long long n = std::strtoull(count.c_str(), &end, 10);
    if (count.empty() || *end != '\0' || n == 0) return out;
    out.name = std::string(text.substr(0, colon));
    out.when = n;
    return out;
  }();
  return a;
}

std::atomic<std::uint64_t> g_hits{0};

}  // namespace

void fail_point(std::string_view name) {
  const Armed& a = armed();
  if (a.name.empty() || a.name != name) return;
  if (++g_hits == a.when) ::kill(::getpid(), SIGKILL);
}

}  // namespace concord

#else

namespace concord {
void fail_point(std::string_view) {}
}  // namespace concord

#endif  // CONCORD_FAIL_POINTS
