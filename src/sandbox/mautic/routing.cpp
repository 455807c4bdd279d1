#include "sandbox/mautic/routing.h"

#include <mutex>
#include <utility>

#include "sandbox/mautic/auth.h"
#include "sandbox/mautic/replies.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

constexpr std::string_view kApiDisabled =
    "API disabled. You need to enable the API in the API settings of Mautic's Configuration.";

struct Route {
  std::string_view method;
  // Segments after /api; "{id}" matches digits, "{name}" any segment.
  std::string_view pattern;
  MauticSandbox::Handler handler;
};
const Route kRoutes[] = {
    {"GET", "contacts", &MauticSandbox::list_contacts},
    {"GET", "contacts/{id}", &MauticSandbox::get_contact},
    {"GET", "contacts/{id}/segments", &MauticSandbox::contact_segments},
    {"POST", "contacts/{id}/dnc/{name}/add", &MauticSandbox::dnc_add},
    {"POST", "contacts/{id}/dnc/{name}/remove", &MauticSandbox::dnc_remove},
    {"GET", "segments", &MauticSandbox::list_segments},
    {"GET", "segments/{id}", &MauticSandbox::get_segment},
    {"POST", "segments/{id}/contact/{id}/add", &MauticSandbox::segment_add},
    {"POST", "segments/{id}/contact/{id}/remove", &MauticSandbox::segment_remove},
    {"POST", "segments/{id}/contacts/add", &MauticSandbox::segment_add_many},
    {"GET", "hooks", &MauticSandbox::list_hooks},
    {"GET", "hooks/triggers", &MauticSandbox::hook_triggers},
    {"GET", "hooks/{id}", &MauticSandbox::get_hook},
    {"POST", "hooks/new", &MauticSandbox::new_hook},
    {"PATCH", "hooks/{id}/edit", &MauticSandbox::edit_hook},
    {"PUT", "hooks/{id}/edit", &MauticSandbox::edit_hook},
    {"DELETE", "hooks/{id}/delete", &MauticSandbox::delete_hook},
};

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 &&
         s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Whether `segs` (the path after /api) matches `pattern`; the placeholders' values go to *args.
bool matches(std::string_view pattern, const std::vector<std::string>& segs,
             std::vector<std::string>* args) {
  args->clear();
  std::size_t i = 0, pos = 0;
  while (pos <= pattern.size()) {
    std::size_t slash = pattern.find('/', pos);
    if (slash == std::string_view::npos) slash = pattern.size();
    const std::string_view p = pattern.substr(pos, slash - pos);
    pos = slash + 1;
    if (i >= segs.size()) return false;
    const std::string& s = segs[i++];
    if (p == "{id}") {
      if (!all_digits(s)) return false;
      args->push_back(s);
    } else if (p == "{name}") {
      args->push_back(s);
    } else if (p != s) {
      return false;
    }
  }
  return i == segs.size();
}

// Some installs serve the API under /index.php/api/.
std::string_view without_front_controller(std::string_view path) {
  constexpr std::string_view kIndex = "/index.php";
  if (path.rfind(kIndex, 0) == 0 && path.size() > kIndex.size() && path[kIndex.size()] == '/') {
    path.remove_prefix(kIndex.size());
  }
  return path;
}

}  // namespace

void MauticFaults::write(ojson& j) const {
  FaultConfig::write(j);
  j["part"] = "mautic";
}

std::int64_t Call::id(std::size_t i) const {
  return parse_int64(args.at(i)).value_or(0);
}

MauticSandbox::MauticSandbox(SandboxClock* clock, MauticOptions options)
    : clock_(clock),
      site_(default_site()),
      outbox_(options.transport ? std::move(options.transport)
                                : default_url_transport(options.webhook_ca_file),
              [this](const Delivery& d) { on_answer(d); }) {}

http::Reply MauticSandbox::handle(const http::Request& request, const http::Peer& peer,
                                  std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  Target target = split_target(request.target);
  if (is_admin_path(target.path)) return admin(request, target.path, peer);
  return api(request, without_front_controller(target.path), target.query, injected_fault);
}

http::Reply MauticSandbox::api(const http::Request& req, std::string_view path,
                               std::string_view query, std::string* fault_out) {
  InjectedFault fault = faults_.pick(path);
  if (fault_out) *fault_out = fault.action;
  fault.wait();
  Settings settings;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    settings = site_.settings;
  }
  // An injected status or reset stands for what is in front of Mautic: nothing is checked or
  // counted.
  if (fault.reset_before()) return InjectedFault::reset_reply();
  if (int status = fault.status(); status != 0) {
    return injected_status(status, settings.rate_limit_per_hour);
  }

  std::optional<RateLimiter::Count> counted;
  http::Reply r = [&]() -> http::Reply {
    const bool token_route = path == "/oauth/v2/token";
    if (!token_route && path != "/api" && path.rfind("/api/", 0) != 0) return not_found();
    if (!settings.api_enabled) return auth_error(403, kApiDisabled, "api_disabled");
    if (token_route) {
      if (req.method != "POST" && req.method != "GET") return api_error(405, "Method Not Allowed");
      bool changed = false;
      std::unique_lock<std::shared_mutex> lock(mu_);
      http::Reply granted = grant_token(site_, req, query, now(), &changed);
      if (changed) generation_.fetch_add(1);
      return granted;
    }
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      if (auto refused = authenticate(site_, req, query, now())) return std::move(*refused);
    }
    if (settings.rate_limit_per_hour > 0) {
      counted = limiter_.count(now(), settings.rate_limit_per_hour);
      if (!counted->allowed) return rate_limited(settings.rate_limit_per_hour);
    }
    return dispatch_route(req, path, query);
  }();
  if (counted) counted->stamp(&r);
  r.response.headers.push_back({"Mautic-Version", settings.version});
  fault.finish(&r);
  return r;
}

http::Reply MauticSandbox::dispatch_route(const http::Request& req, std::string_view path,
                                          std::string_view query) {
  std::vector<std::string> segs = path_segments(path);
  segs.erase(segs.begin());  // "api"
  std::vector<std::string> args;
  std::string allow;
  for (const Route& route : kRoutes) {
    if (!matches(route.pattern, segs, &args)) continue;
    if (route.method != req.method) {
      allow += (allow.empty() ? "" : ", ") + std::string(route.method);
      continue;
    }
    auto params = Params::read(req, query);
    if (!params.is_ok()) return bad_request(params.status().message());
    return (this->*route.handler)(Call{req, *params, std::move(args)});
  }
  if (allow.empty()) return not_found();
  http::Reply r = api_error(405, "Method Not Allowed");
  r.response.headers.push_back({"Allow", allow});
  return r;
}

}  // namespace concord::sandbox::mautic
