// The sandbox's clock, shared by both parts and the request log: real time, or a time fixed
// through /_sandbox/clock (or by a seed's "clock"), so that tests control what "now" is.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <atomic>

#include "concord/time.h"

namespace concord::sandbox {

class SandboxClock final : public Clock {
 public:
  Micros now() const override;
  void fix(Micros t) { fixed_.store(t); }
  void unfix() { fixed_.store(kNoTime); }
  // kNoTime when the clock follows real time.
  Micros fixed() const { return fixed_.load(); }

 private:
  std::atomic<Micros> fixed_{kNoTime};
};

}  // namespace concord::sandbox
