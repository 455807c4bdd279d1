#include "sandbox/auth0/routing.h"

#include <cassert>
#include <exception>

#include "sandbox/auth0/connections.h"
#include "sandbox/auth0/errors.h"
#include "sandbox/auth0/jobs.h"
#include "sandbox/auth0/seed.h"
#include "sandbox/auth0/state.h"
#include "sandbox/auth0/token.h"
#include "sandbox/auth0/user_writes.h"
#include "sandbox/auth0/users.h"
#include "sandbox/http_helpers.h"

namespace concord::sandbox::auth0 {
namespace {

// The Authentication API's token endpoint (a trailing '/' is the same route, as for the others).
bool is_token_path(std::string_view path) {
  return path == "/oauth/token" || path == "/oauth/token/";
}

bool is_download(std::string_view path) {
  return path.rfind(kExportPathPrefix, 0) == 0;
}

// The CDN's error page for the download URLs.
http::Reply cdn_error(int status) {
  const std::string code = status == 403   ? "AccessDenied"
                           : status == 503 ? "ServiceUnavailable"
                           : status >= 500 ? "InternalError"
                                           : "InvalidRequest";
  return plain_reply(status,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                         "</Code><Message>" + std::string(reason_phrase(status)) +
                         "</Message></Error>",
                     "text/xml");
}

http::Reply rate_limited(std::string_view path) {
  if (is_token_path(path)) {
    return oauth_error(429, "too_many_requests", "Global limit has been reached");
  }
  return api_error(429, "Global limit has been reached", "too_many_requests");
}

}  // namespace

void Auth0Faults::write(ojson& j) const {
  FaultConfig::write(j);
  j["fail_export_jobs"] = fail_export_jobs;
  j["part"] = "auth0";
}

Auth0Part::Auth0Part(SandboxClock* clock, Auth0Options options)
    : clock_(clock), options_(std::move(options)), tenant_(Tenant::empty()) {
  assert(clock_ != nullptr);
}

std::string Auth0Part::origin(const http::Request& req) const {
  std::string_view host = req.header("Host");
  return options_.scheme + "://" + std::string(host.empty() ? "127.0.0.1" : host);
}

http::Reply Auth0Part::handle(const http::Request& req, const http::Peer& peer,
                              std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  // Nothing thrown below (a library's exception is a bug here) may leave handle(): it is the
  // server's 500.
  try {
    Target target = split_target(req.target);
    if (is_admin_path(target.path)) {
      if (!peer.loopback) return admin_forbidden();
      return admin(req, target.path);
    }
    InjectedFault fault = faults_.pick(target.path);
    if (injected_fault) *injected_fault = fault.action;
    fault.wait();
    if (fault.reset_before()) return InjectedFault::reset_reply();
    if (int status = fault.status(); status != 0) return injected(status, target.path);
    http::Reply r = api(req, target.path, target.query);
    fault.finish(&r);
    return r;
  } catch (const std::exception&) {
    return api_error(500, "An internal server error occurred");
  }
}

http::Reply Auth0Part::injected(int status, std::string_view path) const {
  if (is_download(path)) return cdn_error(status);
  if (status == 429) {
    http::Reply r = rate_limited(path);
    RateLimiter::Verdict v;
    v.headers = RateLimiter::Verdict::Headers{0, 0, clock_->now() / kMicrosPerSecond + 1};
    RateLimiter::add_headers(v, &r);
    return r;
  }
  if (is_token_path(path)) {
    return oauth_error(status, status >= 500 ? "server_error" : "invalid_request",
                       std::string(reason_phrase(status)));
  }
  return api_error(status,
                   status == 500 ? "An internal server error occurred" : reason_phrase(status));
}

http::Reply Auth0Part::api(const http::Request& req, std::string_view path,
                           std::string_view query) {
  std::lock_guard<std::mutex> lock(mu_);
  const Micros t = now();
  bool pruned = prune_jobs(tenant_, t);
  pruned = prune_lag(tenant_, t) || pruned;
  if (pruned) changed();
  // Every request counts against the buckets it matches, whatever its answer.
  RateLimiter::Verdict verdict = limiter_.take(req.method, path, t);
  http::Reply r = verdict.allowed ? route(req, path, query, t) : rate_limited(path);
  RateLimiter::add_headers(verdict, &r);
  return r;
}

http::Reply Auth0Part::route(const http::Request& req, std::string_view path,
                             std::string_view query, Micros t) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  bool write = false;
  http::Reply r = route_not_found();
  const std::vector<std::string> segs = path_segments(path);
  if (is_token_path(path)) {
    r = post ? grant_token(tenant_, req, t, &write) : route_not_found();
  } else if (is_download(path) && segs.size() == 3 && get) {
    r = download_export(tenant_, segs[1], segs[2], query, t);
  } else if (segs.size() >= 3 && segs[0] == "api" && segs[1] == "v2") {
    const std::string& resource = segs[2];
    const std::size_t n = segs.size();
    if (resource == "connections" && get && n <= 4) {
      if (auto denied = authorize(tenant_, req, t, {"read:connections"})) return *denied;
      r = n == 3 ? list_connections(tenant_, query) : get_connection(tenant_, segs[3], query);
    } else if (resource == "users" && get && n <= 4) {
      if (auto denied = authorize(tenant_, req, t, {"read:users"})) return *denied;
      r = n == 3 ? list_users(tenant_, query, t) : get_user(tenant_, segs[3], query);
    } else if (resource == "jobs" && n == 4 && post && segs[3] == "users-exports") {
      if (auto denied = authorize(tenant_, req, t, {"read:users"})) return *denied;
      const bool fail = faults_.read([](const Auth0Faults& f) { return f.fail_export_jobs; });
      r = create_export(tenant_, req, t, fail, &write);
    } else if (resource == "jobs" && n == 4 && get) {
      if (auto denied = authorize(tenant_, req, t,
                                  {"create:users", "read:users", "create:passwords_checking_job"}))
        return *denied;
      r = poll_job(tenant_, segs[3], origin(req), t, &write);
    }
  }
  if (write) changed();
  return r;
}

std::string Auth0Part::state_part() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_object(tenant_);
}

Status Auth0Part::check(std::optional<std::string_view> object) const {
  return parse_tenant(object, now()).status();
}

Result<std::string> Auth0Part::install(std::optional<std::string_view> object) {
  const Micros t = now();
  Result<Tenant> parsed = parse_tenant(object, t);
  if (!parsed.is_ok()) return parsed.status();
  ojson counts = {{"clients", parsed->clients.size()},
                  {"connections", parsed->connections.size()},
                  {"users", parsed->users.size()}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    tenant_ = std::move(parsed).value();
    limiter_.configure(tenant_.settings.rate_limits, t);
    changed();
  }
  faults_.clear();
  return counts.dump();
}

}  // namespace concord::sandbox::auth0
