// The Part methods of the Mixpanel part that concern its whole state: the state document's
// "mixpanel" object, and installing or checking a seed's.
#include "sandbox/mixpanel/sandbox.h"

#include <mutex>
#include <utility>

#include "sandbox/mixpanel/routing.h"
#include "sandbox/mixpanel/seed.h"

namespace concord::sandbox {

std::unique_ptr<Part> make_mixpanel_sandbox(SandboxClock* clock) {
  return std::make_unique<mixpanel::MixpanelSandbox>(clock);
}

namespace mixpanel {

std::string MixpanelSandbox::state_part() const {
  JsonOut o;
  std::shared_lock<std::shared_mutex> lock(mu_);
  write_project(o, project_);
  return std::move(o.buf);
}

Result<std::string> MixpanelSandbox::install(std::optional<std::string_view> object) {
  auto parsed = parse_project(object, now_civil());
  if (!parsed.is_ok()) return parsed.status();
  Project fresh = std::move(parsed).value();
  std::string counts = project_counts(fresh);
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::swap(project_, fresh);
    generation_.fetch_add(1);
  }
  // A new project: the old one's sessions, counters and faults go with it.
  sessions_.clear();
  limiter_.reset_hour();
  faults_.clear();
  return counts;
}

Status MixpanelSandbox::check(std::optional<std::string_view> object) const {
  return parse_project(object, now_civil()).status();
}

}  // namespace mixpanel
}  // namespace concord::sandbox
