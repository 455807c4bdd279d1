// The Amplitude part behind its Part (sandbox.cpp): the project, its lock, the clock, the faults,
// and the three kinds of route a request may take: the API (api.cpp), the download URLs that
// stand in for S3 (storage.cpp), and the admin routes (admin.cpp).
//
// Thread-safety: the routes may be called from many threads at once; they take `mu` for as long
// as they read or change the project, never while a fault delays a request.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string_view>

#include "concord/http.h"
#include "sandbox/amplitude/project.h"
#include "sandbox/clock.h"
#include "sandbox/faults.h"
#include "sandbox/http_helpers.h"

namespace concord::sandbox::amplitude {

// The part's fault settings: the common ones (faults.h), answered with the part's name.
struct AmplitudeFaults : FaultConfig {
  void write(ojson& j) const;
};

struct Site {
  explicit Site(SandboxClock* c) : clock(c), rng(std::random_device{}()) {}

  mutable std::mutex mu;
  Project project;  // under mu
  SandboxClock* clock;
  std::mt19937_64 rng;  // under mu: request ids, cohort ids, signatures
  std::atomic<std::uint64_t> generation{0};
  std::atomic<std::int64_t> in_flight{0};  // API requests being answered (max_concurrent)
  FaultInjector<AmplitudeFaults> faults;

  // The sandbox clock in whole epoch seconds.
  std::int64_t now() const;
  void changed() { generation.fetch_add(1); }
};

// The download URLs' path prefix: /cohort-exports/{app_id}/{request_id}.csv?X-Amz-…
inline constexpr std::string_view kStoragePrefix = "/cohort-exports/";
inline bool is_storage_path(std::string_view path) {
  return path.rfind(kStoragePrefix, 0) == 0;
}

// The Behavioral Cohorts API (after faults): authentication, then GET /api/3/cohorts,
// /api/5/cohorts/request/{cohort_id}, /api/5/cohorts/request-status/{request_id} and
// /api/5/cohorts/request/{request_id}/file.
http::Reply api(Site& site, const http::Request& req, std::string_view path, const Pairs& query);

// A download URL, answered as S3 answers a pre-signed GET.
http::Reply storage(Site& site, const http::Request& req, std::string_view path,
                    const Pairs& query);

// The download URL of a new link for `request_id`, for a request that came with this Host
// header (the scheme and host follow the settings).
std::string link_url(const Project& p, const Link& link, std::string_view request_host);

// /_sandbox/faults and /_sandbox/amplitude/… (the caller has checked the peer).
http::Reply admin(Site& site, const http::Request& req, std::string_view path);

}  // namespace concord::sandbox::amplitude
