// The CiviCRM part's handler behind CivicrmSandbox: its state, the way a request comes in
// (faults, the route, authx authentication, the web-service check), the admin routes, and the
// envelope of an API call's answer around the engine (actions.h).
//
// The site lives behind one shared mutex: gets share it, writes take it alone. The matches of a
// query are cached until the site changes.
//
// Thread-safety: handle() may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <utility>

#include "concord/http.h"
#include "sandbox/civicrm/query.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/civicrm/values.h"
#include "sandbox/clock.h"
#include "sandbox/faults.h"
#include "sandbox/http_helpers.h"
#include "sandbox/times.h"

namespace concord::sandbox {

// The CiviCRM part's fault settings: the common ones, answered with the part's name.
struct CivicrmFaults : FaultConfig {
  void write(ojson& j) const;
};

struct CivicrmSandbox::Impl {
  Impl(CiviSitePtr s, SandboxClock* c) : site(std::move(s)), clock(c) {}

  mutable std::shared_mutex mu;
  CiviSitePtr site;
  SandboxClock* clock;
  std::atomic<std::uint64_t> version{0};  // moves on every data change (query cache)
  std::atomic<std::uint64_t> generation{0};
  QueryCache cache;
  FaultInjector<CivicrmFaults> faults;

  Micros now() const { return to_seconds(clock->now()); }

  http::Reply handle(const http::Request& req, const http::Peer& peer, std::string* fault_out);
  http::Reply admin(const http::Request& req, const std::string& path, const http::Peer& peer);
  http::Reply admin_faults(const http::Request& req);
  http::Reply api(const http::Request& req, const std::string& path, const Pairs& query);
  // The answer of a status injected by a fault.
  http::Reply injected(int status);
  // Replaces the site and forgets the faults and the cache. Returns the new site's counts.
  CiviCounts install(CiviSitePtr fresh);

  // One API call: the JSON answer (success envelope or error) and its HTTP status.
  std::pair<int, std::string> execute(const std::string& entity, const std::string& action,
                                      const pjson& params, const pjson& index, bool view_debug);
};

}  // namespace concord::sandbox
