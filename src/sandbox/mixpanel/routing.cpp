#include "sandbox/mixpanel/routing.h"

#include <memory>
#include <mutex>
#include <utility>

#include "sandbox/mixpanel/auth.h"
#include "sandbox/mixpanel/params.h"
#include "sandbox/mixpanel/replies.h"

namespace concord::sandbox::mixpanel {
namespace {

enum class Endpoint { kNone, kEngage, kCohorts };

// The Query API's routes, on the current prefix and the legacy one, which official and
// third-party clients still use (the reference's §2.1); a trailing slash is the same route.
Endpoint endpoint(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (std::string_view prefix : {"/api/query", "/api/2.0"}) {
    if (path.rfind(prefix, 0) != 0) continue;
    std::string_view rest = path.substr(prefix.size());
    if (rest == "/engage") return Endpoint::kEngage;
    if (rest == "/cohorts/list") return Endpoint::kCohorts;
  }
  return Endpoint::kNone;
}

}  // namespace

void MixpanelFaults::write(ojson& j) const {
  FaultConfig::write(j);
  j["part"] = "mixpanel";
}

std::string MixpanelSandbox::now_civil() const {
  return format_civil(now());
}

http::Reply MixpanelSandbox::handle(const http::Request& request, const http::Peer& peer,
                                    std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  Target target = split_target(request.target);
  if (is_admin_path(target.path)) return admin(request, target.path, peer);
  return api(request, target.path, http::parse_query(target.query), injected_fault);
}

http::Reply MixpanelSandbox::api(const http::Request& req, std::string_view path,
                                 const Pairs& query, std::string* fault_out) {
  InjectedFault fault = faults_.pick(path);
  if (fault_out) *fault_out = fault.action;
  bool waited = false;
  auto wait = [&] {
    if (!waited) fault.wait();
    waited = true;
  };
  auto answer = [&](http::Reply r) {
    wait();
    fault.finish(&r);
    return r;
  };

  std::int64_t project_id;
  int auth_status;
  Limits limits;
  Auth auth;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    project_id = project_.project_id;
    auth_status = project_.auth_error_status;
    limits = project_.limits;
    auth = authenticate(project_, req.header("Authorization"), query, now());
  }

  // An injected status or reset stands for what is in front of the API (the load balancer, a lost
  // connection): nothing is checked or counted.
  if (fault.reset_before()) {
    wait();
    return InjectedFault::reset_reply();
  }
  if (int status = fault.status(); status != 0) {
    wait();
    RateLimiter::Refusal counts = limiter_.counts(now());
    ++counts.running;
    ++counts.last_hour;
    return injected_status(status, req, project_id, counts, limits);
  }

  const Endpoint ep = endpoint(path);
  if (ep == Endpoint::kNone) return answer(api_error(404, req, "Not Found"));
  if (req.method != "GET" && req.method != "POST") {
    http::Reply r = api_error(405, req, "Method Not Allowed");
    r.response.headers.push_back({"Allow", "GET, POST"});
    return answer(std::move(r));
  }

  switch (auth.outcome) {
    case AuthOutcome::kOk:
      break;
    case AuthOutcome::kUnauthenticated:
      return answer(api_error(auth_status, req, "Unable to authenticate request"));
    case AuthOutcome::kMissingProject:
      return answer(
          api_error(400, req, "project_id is required when authenticating with a service account"));
    case AuthOutcome::kBadProject:
      return answer(api_error(400, req, "project_id must be an integer"));
    case AuthOutcome::kWrongProject:
      return answer(api_error(403, req,
                              auth.who + " does not have access to project_id: " +
                                  std::string(pair_value(query, "project_id"))));
  }

  // The limits count a query from its admission to its answer: the fault's latency is spent
  // inside, as a slow query's time is.
  RateLimiter::Slot slot;
  if (auto refusal = limiter_.admit(now(), limits, &slot)) {
    return answer(rate_limited(req, project_id, *refusal, limits));
  }
  wait();
  http::Reply r =
      ep == Endpoint::kEngage ? engage(req, split_target(req.target).query) : cohorts_list();
  slot.release();
  return answer(std::move(r));
}

http::Reply MixpanelSandbox::cohorts_list() {
  JsonOut o;
  o.begin_array();
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const auto& [id, c] : project_.cohorts)
      write_cohort(o, c, project_.project_id, false);
  }
  o.end_array();
  return json_reply(200, std::move(o.buf));
}

http::Reply MixpanelSandbox::engage(const http::Request& req, std::string_view query) {
  auto params = Params::read(req, query);
  if (!params.is_ok()) return api_error(400, req, params.status().message());
  auto request = read_engage(*params);
  if (!request.is_ok()) return api_error(400, req, request.status().message());

  const Micros t = now();
  std::shared_lock<std::shared_mutex> lock(mu_);
  const Micros ttl = static_cast<Micros>(project_.limits.session_ttl_seconds) * kMicrosPerSecond;
  const std::string filter = request->filter.key();
  std::string session_id = request->session_id;
  EngageSession session;
  if (!session_id.empty()) {
    std::optional<EngageSession> found = sessions_.find(session_id, t, ttl);
    if (!found) {
      return api_error(400, req,
                       "session_id " + session_id +
                           " is unknown or has expired; query again from page 0 without it");
    }
    // The reference's paging repeats the first page's filter on every page; a client that does
    // not would be answered from another query by a real cache key.
    if (found->filter != filter) {
      return api_error(400, req,
                       "the filter parameters differ from those session_id " + session_id +
                           " was created with; repeat them on every page");
    }
    session = std::move(*found);
  } else {
    auto ids = select_profiles(project_, request->filter);
    if (!ids.is_ok()) return api_error(400, req, ids.status().message());
    auto shared = std::make_shared<const std::vector<std::string>>(std::move(ids).value());
    session_id = sessions_.create(t, filter, shared);
    session = EngageSession{filter, std::move(shared), t, t};
  }
  return json_reply(200, engage_page(project_, *request, session_id, session));
}

}  // namespace concord::sandbox::mixpanel
