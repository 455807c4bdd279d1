// Schedules ("every 30m", cron expressions) and durations ("30s", "5m") as the configuration gives
// them. Each text is a schedule or an error; a schedule's next run is always after the time asked.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "concord/config.h"
#include "concord/time.h"
#include "config/schedule.h"

using namespace concord;

namespace {

// A zone with daylight saving: cron times skipped and repeated once a year.
std::shared_ptr<const TimeZone> london() {
  static const std::shared_ptr<const TimeZone> zone = [] {
    Result<std::shared_ptr<const TimeZone>> z = TimeZone::load("Europe/London");
    if (!z) __builtin_trap();  // tzdata is installed with the build's dependencies
    return *z;
  }();
  return zone;
}

void check(const Schedule& s) {
  // 2026-03-29 00:30 UTC: the night the clocks go forward in London.
  Micros t = 1'774'744'200'000'000;
  for (int i = 0; i < 4; ++i) {
    const Micros next = s.next_after(t);
    if (next == kNoTime) return;  // a schedule that cannot fire again (parse refuses most)
    if (next <= t) __builtin_trap();
    t = next;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (Result<Schedule> s = Schedule::parse(in)) check(*s);
  if (Result<Schedule> s = Schedule::parse(in, london())) check(*s);
  (void)parse_duration(in);
  return 0;
}
