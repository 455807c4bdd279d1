#include "sandbox/clock.h"

namespace concord::sandbox {

Micros SandboxClock::now() const {
  Micros f = fixed_.load();
  return f != kNoTime ? f : system_clock().now();
}

}  // namespace concord::sandbox
