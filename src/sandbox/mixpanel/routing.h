// The Mixpanel part behind make_mixpanel_sandbox(): its state, the way an API request comes in
// (faults, the route, authentication, the rate limits) in routing.cpp, the admin routes in
// admin.cpp, and the Part methods (state, install, check) in sandbox.cpp.
//
// The project lives behind one shared mutex: queries share it, admin changes and installs take it
// alone. Sessions and the rate limiter have their own locks.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "sandbox/clock.h"
#include "sandbox/faults.h"
#include "sandbox/http_helpers.h"
#include "sandbox/mixpanel/engage.h"
#include "sandbox/mixpanel/project.h"
#include "sandbox/mixpanel/rate_limiter.h"
#include "sandbox/mixpanel/sessions.h"
#include "sandbox/part.h"

namespace concord::sandbox::mixpanel {

// The part's fault settings: the common ones, answered with the part's name.
struct MixpanelFaults : FaultConfig {
  void write(ojson& j) const;
};

class MixpanelSandbox final : public Part {
 public:
  // `clock` must outlive the part.
  explicit MixpanelSandbox(SandboxClock* clock) : clock_(clock), project_(default_project()) {}

  std::string_view name() const override { return "mixpanel"; }
  http::Reply handle(const http::Request& request, const http::Peer& peer,
                     std::string* injected_fault) override;
  std::uint64_t generation() const override { return generation_.load(); }
  std::string state_part() const override;
  Result<std::string> install(std::optional<std::string_view> object) override;
  Status check(std::optional<std::string_view> object) const override;

 private:
  // routing.cpp: the API.
  http::Reply api(const http::Request& req, std::string_view path, const Pairs& query,
                  std::string* fault_out);
  // cohorts/list takes no parameters beyond project_id (and workspace_id).
  http::Reply cohorts_list();
  http::Reply engage(const http::Request& req, std::string_view query);

  // admin.cpp: /_sandbox/faults and /_sandbox/mixpanel/….
  http::Reply admin(const http::Request& req, std::string_view path, const http::Peer& peer);
  http::Reply admin_faults(const http::Request& req);
  http::Reply admin_cohorts(const http::Request& req, const std::vector<std::string>& segs);
  http::Reply admin_profiles(const http::Request& req);
  http::Reply admin_limits(const http::Request& req, const std::vector<std::string>& segs);
  http::Reply admin_sessions(const http::Request& req);

  Micros now() const { return clock_->now(); }
  // "YYYY-MM-DD HH:MM:SS" of now, as cohorts' `created` is written.
  std::string now_civil() const;

  SandboxClock* clock_;
  mutable std::shared_mutex mu_;
  Project project_;
  std::atomic<std::uint64_t> generation_{0};
  FaultInjector<MixpanelFaults> faults_;
  RateLimiter limiter_;
  SessionStore sessions_;
};

}  // namespace concord::sandbox::mixpanel
