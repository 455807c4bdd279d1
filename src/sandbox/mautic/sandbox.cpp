// The Part methods of the Mautic part that concern its whole state: the state document's
// "mautic" object, and installing or checking a seed's.
#include "sandbox/mautic/sandbox.h"

#include <mutex>
#include <utility>

#include "sandbox/mautic/routing.h"
#include "sandbox/mautic/seed.h"

namespace concord::sandbox {

std::unique_ptr<Part> make_mautic_sandbox(SandboxClock* clock, MauticOptions options) {
  return std::make_unique<mautic::MauticSandbox>(clock, std::move(options));
}

namespace mautic {

std::string MauticSandbox::state_part() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return site_json(site_).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

Result<std::string> MauticSandbox::install(std::optional<std::string_view> object) {
  auto parsed = parse_site(object, now());
  if (!parsed.is_ok()) return parsed.status();
  Site fresh = std::move(parsed).value();
  std::string counts = site_counts(fresh);
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::swap(site_, fresh);
    // Answers still coming for the old hooks are dropped.
    epoch_.fetch_add(1);
    generation_.fetch_add(1);
  }
  outbox_.clear();
  limiter_.reset();
  faults_.clear();
  return counts;
}

Status MauticSandbox::check(std::optional<std::string_view> object) const {
  return parse_site(object, now()).status();
}

}  // namespace mautic
}  // namespace concord::sandbox
