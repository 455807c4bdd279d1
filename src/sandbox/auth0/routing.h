// The Auth0 part behind make_auth0_sandbox(): its state (one tenant behind one mutex), the way a
// request comes in (admin route or API; faults, rate limits, the route, the bearer token), and
// the admin routes (admin.cpp).
//
// Thread-safety: every method may be called from many threads at once; the tenant and the rate
// limiter are used under mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "sandbox/auth0/dates.h"
#include "sandbox/auth0/rate_limits.h"
#include "sandbox/auth0/sandbox.h"
#include "sandbox/auth0/tenant.h"
#include "sandbox/clock.h"
#include "sandbox/faults.h"

namespace concord::sandbox::auth0 {

// The part's fault settings: the common ones, and fail_export_jobs (export jobs created while it
// is set end "failed").
struct Auth0Faults : FaultConfig {
  bool fail_export_jobs = false;

  template <typename Json>
  std::string read(const Json& body) {
    std::string err = FaultConfig::read(body);
    if (!err.empty()) return err;
    if (auto it = body.find("fail_export_jobs"); it != body.end()) {
      if (!it->is_boolean()) return "fail_export_jobs: expected true or false";
      fail_export_jobs = it->template get<bool>();
    }
    return "";
  }
  void write(ojson& j) const;
};

class Auth0Part final : public Part {
 public:
  Auth0Part(SandboxClock* clock, Auth0Options options);

  std::string_view name() const override { return "auth0"; }
  http::Reply handle(const http::Request& request, const http::Peer& peer,
                     std::string* injected_fault) override;
  std::uint64_t generation() const override { return generation_.load(); }
  std::string state_part() const override;
  Result<std::string> install(std::optional<std::string_view> object) override;
  Status check(std::optional<std::string_view> object) const override;

 private:
  // "Now" for the tenant: the sandbox clock, to the millisecond Auth0 keeps.
  Micros now() const { return to_ms(clock_->now()); }
  void changed() { generation_.fetch_add(1); }
  // "https://host:port" of the request (the start of the URLs the part hands out).
  std::string origin(const http::Request& request) const;

  // The API, after the faults: rate limits, then the route.
  http::Reply api(const http::Request& request, std::string_view path, std::string_view query);
  http::Reply route(const http::Request& request, std::string_view path, std::string_view query,
                    Micros now);
  // The answer of a status injected by a fault, in the shape of the path's API.
  http::Reply injected(int status, std::string_view path) const;

  // admin.cpp
  http::Reply admin(const http::Request& request, std::string_view path);
  http::Reply admin_faults(const http::Request& request);
  http::Reply admin_users(const http::Request& request, const std::vector<std::string>& segs);
  http::Reply admin_jobs(const http::Request& request, const std::vector<std::string>& segs);
  http::Reply admin_settings(const http::Request& request);

  SandboxClock* clock_;
  Auth0Options options_;
  mutable std::mutex mu_;
  Tenant tenant_;
  RateLimiter limiter_;
  std::atomic<std::uint64_t> generation_{0};
  FaultInjector<Auth0Faults> faults_;
};

}  // namespace concord::sandbox::auth0
