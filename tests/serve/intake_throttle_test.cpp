// The intake's per-user and per-device rate limit: bursts within the allowance pass, a request
// beyond it is refused whole and names the ids, their rate and their events; allowance comes
// back with time and is used only by requests that were taken.
#include <catch2/catch.hpp>

#include "serve/intake_throttle.h"

using namespace concord;
using namespace concord::serve;

namespace {

constexpr Micros kNow = 1790000000 * kMicrosPerSecond;

std::vector<amplitude::IntakeEvent> events(std::size_t n, const std::string& user,
                                           const std::string& device) {
  std::vector<amplitude::IntakeEvent> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].index = i;
    out[i].user_id = user;
    out[i].device_id = device;
  }
  return out;
}

}  // namespace

TEST_CASE("throttle: an id may burst 30 s of its rate, then waits for the rate to refill") {
  IntakeThrottle t(/*eps=*/10, /*burst_seconds=*/30);  // 300 events at once, 10 a second after
  CHECK_FALSE(t.take(events(200, "ann", "dev-1"), kNow));
  CHECK_FALSE(t.take(events(100, "ann", "dev-1"), kNow));
  std::optional<amplitude::Throttled> over = t.take(events(5, "ann", "dev-2"), kNow);
  REQUIRE(over.has_value());
  CHECK(over->eps_threshold == 10);
  CHECK(over->users.count("ann") == 1);
  CHECK(over->users.at("ann") >= 10);
  CHECK(over->devices.empty());  // dev-2 has room; only ann is over
  CHECK(over->events == std::vector<std::size_t>{0, 1, 2, 3, 4});
  // A refused request used nothing; after a second, ten more fit.
  CHECK(t.take(events(10, "ann", "dev-2"), kNow + kMicrosPerSecond / 2));
  CHECK_FALSE(t.take(events(10, "ann", "dev-2"), kNow + kMicrosPerSecond));
  // Other ids are not held back by ann.
  CHECK_FALSE(t.take(events(300, "bob", "dev-3"), kNow + kMicrosPerSecond));
}

TEST_CASE("throttle: the 429 names only the events of the ids over their rate") {
  IntakeThrottle t(30, 30);
  CHECK_FALSE(t.take(events(900, "", "busy-device"), kNow));
  std::vector<amplitude::IntakeEvent> mixed = events(4, "", "quiet-device");
  mixed[1].device_id = "busy-device";
  mixed[3].device_id = "busy-device";
  std::optional<amplitude::Throttled> over = t.take(mixed, kNow);
  REQUIRE(over.has_value());
  CHECK(over->events == std::vector<std::size_t>{1, 3});
  CHECK(over->devices.count("busy-device") == 1);
  CHECK(over->users.empty());
  amplitude::IntakeReply r = amplitude::throttled_reply(*over);
  CHECK(r.status == 429);
  CHECK(r.body.find("\"throttled_events\":[1,3]") != std::string::npos);
  // The quiet device's events alone are taken.
  CHECK_FALSE(t.take(events(2, "", "quiet-device"), kNow));
}
