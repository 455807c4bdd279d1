#include "sandbox/civicrm/routing.h"

#include <mutex>
#include <random>

#include "net/ascii.h"
#include "sandbox/civicrm/actions.h"
#include "sandbox/civicrm/api_error.h"
#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/state.h"
#include "sandbox/text.h"

namespace concord::sandbox {
namespace {

constexpr auto lower = http::ascii::to_lower;
constexpr std::string_view kJson = "application/json";

// A random error id as CiviCRM writes it: 12 letters and digits in groups of four.
std::string error_id() {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  for (int i = 0; i < 12; ++i) {
    if (i > 0 && i % 4 == 0) s.push_back('-');
    s.push_back(kChars[rng() % (sizeof kChars - 1)]);
  }
  return s;
}

// The page a CMS shows an anonymous visitor of a page that needs "access CiviCRM".
http::Reply access_denied() {
  return plain_reply(
      403,
      "<!DOCTYPE html>\n<html><head><title>Access denied</title></head><body><h1>Access "
      "denied</h1><p>You are not authorized to access this page.</p></body></html>\n",
      "text/html; charset=utf-8");
}

http::Reply page_not_found() {
  return plain_reply(
      404,
      "<!DOCTYPE html>\n<html><head><title>Page not found</title></head><body><h1>Page "
      "not found</h1><p>The requested page could not be found.</p></body></html>\n",
      "text/html; charset=utf-8");
}

// What PHP answers when the API dies on a TypeError (e.g. `params` that is not a JSON object).
http::Reply fatal_error() {
  return plain_reply(500,
                     "<!DOCTYPE html>\n<html><head><title>Error</title></head><body><p>The website "
                     "encountered an unexpected error. Please try again later.</p></body></html>\n",
                     "text/html; charset=utf-8");
}

std::string php_quoted(std::string_view s) {
  return json_quoted(s, JsonEscape::kPhp);
}

}  // namespace

void CivicrmFaults::write(ojson& j) const {
  FaultConfig::write(j);
  j["part"] = "civicrm";
}

http::Reply CivicrmSandbox::Impl::handle(const http::Request& req, const http::Peer& peer,
                                         std::string* fault_out) {
  Target target = split_target(req.target);
  std::string path(target.path);
  if (is_admin_path(path)) return admin(req, path, peer);

  // Faults, before the request is handled.
  InjectedFault fault = faults.pick(path);
  if (fault_out) *fault_out = fault.action;
  fault.wait();
  if (fault.reset_before()) return InjectedFault::reset_reply();
  if (int status = fault.status(); status != 0) return injected(status);
  http::Reply r = api(req, path, http::parse_query(target.query));
  fault.finish(&r);
  return r;
}

http::Reply CivicrmSandbox::Impl::injected(int status) {
  std::string generic =
      "Sorry an error occurred and your request was not completed. (Error ID: " + error_id() + ")";
  switch (status) {
    case 401:
      return plain_reply(401, "HTTP 401 Invalid credential", "text/plain");
    case 403:
      return plain_reply(
          403, "{\"error_code\":0,\"error_message\":\"Authorization failed\",\"status\":403}",
          kJson);
    case 500:
      return plain_reply(
          500,
          "{\"error_code\":\"1\",\"error_message\":" + php_quoted(generic) + ",\"status\":500}",
          kJson);
    case 503:
      // CiviCRM in maintenance mode.
      return plain_reply(503,
                         "{\"status_code\":503,\"status_message\":\"Temporarily unavailable for "
                         "maintenance.\"}",
                         kJson);
    case 502:
    case 504: {
      std::string t = status == 502 ? "502 Bad Gateway" : "504 Gateway Time-out";
      return plain_reply(
          status,
          "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" + t +
              "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
          "text/html");
    }
    case 429:
      return plain_reply(429, "<html><body><h1>429 Too Many Requests</h1></body></html>\n",
                         "text/html");
    default:
      return plain_reply(status,
                         "{\"error_code\":\"1\",\"error_message\":" + php_quoted(generic) +
                             ",\"status\":" + std::to_string(status) + "}",
                         kJson);
  }
}

http::Reply CivicrmSandbox::Impl::admin(const http::Request& req, const std::string& path,
                                        const http::Peer& peer) {
  if (!peer.loopback) return admin_forbidden();
  if (path == "/_sandbox/faults") return admin_faults(req);
  if (path == "/_sandbox/state") {
    if (req.method != "GET") return admin_problem(405, "Method Not Allowed", "Use GET.");
    std::shared_lock<std::shared_mutex> lock(mu);
    JsonOut o;
    o.begin_object();
    o.key("civicrm");
    write_site(o, *site);
    o.end_object();
    return plain_reply(200, std::move(o.buf), "application/json; charset=utf-8");
  }
  if (path == "/_sandbox/reset") {
    if (req.method != "POST") return admin_problem(405, "Method Not Allowed", "Use POST.");
    std::string_view body = req.body;
    auto parsed = parse_civicrm_seed(is_blank(body) ? std::string_view("{}") : body, clock->now());
    if (!parsed.is_ok()) return admin_problem(400, "Invalid Seed", parsed.status().message());
    CiviCounts c = install(std::move(parsed).value());
    return admin_json(200, {{"civicrm",
                             {{"contacts", c.contacts},
                              {"emails", c.emails},
                              {"groups", c.groups},
                              {"group_contacts", c.group_contacts},
                              {"subscription_history", c.subscription_history}}}});
  }
  return admin_problem(404, "Resource Not Found",
                       "The requested resource could not be found: " + path);
}

http::Reply CivicrmSandbox::Impl::admin_faults(const http::Request& req) {
  if (req.method == "POST") {
    pjson body = req.body.empty() ? pjson::object() : pjson::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return admin_problem(400, "JSON Parse Exception",
                           "We encountered an unspecified JSON parsing error.");
    }
    std::string err = faults.configure(body);
    if (!err.empty()) return admin_problem(400, "Invalid Resource", err);
  } else if (req.method != "GET") {
    return admin_problem(405, "Method Not Allowed", "Use GET or POST.");
  }
  return admin_json(200, faults.to_json());
}

CiviCounts CivicrmSandbox::Impl::install(CiviSitePtr fresh) {
  CiviCounts c = civicrm_counts(*fresh);
  {
    std::unique_lock<std::shared_mutex> lock(mu);
    site.swap(fresh);
    version.fetch_add(1);
    generation.fetch_add(1);
  }
  cache.clear();
  faults.clear();
  fresh.reset();  // the old site, freed outside the lock
  return c;
}

std::pair<int, std::string> CivicrmSandbox::Impl::execute(const std::string& entity,
                                                          const std::string& action,
                                                          const pjson& params, const pjson& index,
                                                          bool view_debug) {
  const Micros t = now();
  bool write = writes(action, params);
  std::unique_lock<std::shared_mutex> wlock(mu, std::defer_lock);
  std::shared_lock<std::shared_mutex> rlock(mu, std::defer_lock);
  if (write) {
    wlock.lock();
  } else {
    rlock.lock();
  }
  Engine engine(*site, t, &cache, &version);
  try {
    CallOutput out = engine.call(entity, action, params, index);
    std::optional<std::string> keyed = std::move(engine.keyed_values);
    if (engine.changed()) generation.fetch_add(1);
    std::string s = "{\"values\":";
    s += Engine::values_json(out, keyed ? pjson() : index, keyed ? &*keyed : nullptr);
    s += ",\"entity\":";
    append_json_string(&s, kEntities[out.ent].name, JsonEscape::kPhp);
    s += ",\"action\":";
    append_json_string(&s, out.action, JsonEscape::kPhp);
    s += ",\"debug\":";
    if (out.debug && view_debug) {
      s += "{\"actionClass\":";
      append_json_string(&s, action_class(out.ent, out.action), JsonEscape::kPhp);
      s += "}";
    } else {
      s += "null";
    }
    s += ",\"version\":4,\"count\":" + std::to_string(out.count) +
         ",\"countFetched\":" + std::to_string(out.fetched);
    if (out.matched) s += ",\"countMatched\":" + std::to_string(*out.matched);
    s += "}";
    return {200, std::move(s)};
  } catch (const std::exception& ex) {
    // A value of an unexpected type deep in the params: PHP would die on a TypeError.
    if (engine.changed()) generation.fetch_add(1);
    std::string s = view_debug ? "{\"error_code\":0,\"error_message\":" +
                                     php_quoted(std::string("Invalid parameters: ") + ex.what())
                               : "{\"error_code\":\"1\",\"error_message\":" +
                                     php_quoted(
                                         "Sorry an error occurred and your request was not "
                                         "completed. (Error ID: " +
                                         error_id() + ")");
    s += ",\"status\":500}";
    return {500, std::move(s)};
  } catch (const ApiError& e) {
    if (engine.changed()) generation.fetch_add(1);
    std::string s;
    if (view_debug) {
      s = "{\"error_code\":0,\"error_message\":" + php_quoted(e.message);
    } else {
      s = "{\"error_code\":\"1\",\"error_message\":" +
          php_quoted("Sorry an error occurred and your request was not completed. (Error ID: " +
                     error_id() + ")");
    }
    s += ",\"status\":" + std::to_string(e.status) + "}";
    return {e.status, std::move(s)};
  }
}

http::Reply CivicrmSandbox::Impl::api(const http::Request& req, const std::string& raw_path,
                                      const Pairs& query) {
  // The route: /civicrm/ajax/api4[/Entity/action], or the same in ?q= (CMS paths without clean
  // URLs).
  std::string route = raw_path;
  if ((raw_path == "/" || raw_path == "/index.php") && !pair_value(query, "q").empty()) {
    route = "/" + std::string(pair_value(query, "q"));
  }
  std::vector<std::string> segs = path_segments(route);
  if (segs.size() < 3 || segs[0] != "civicrm" || segs[1] != "ajax" || segs[2] != "api4") {
    return page_not_found();
  }
  const bool multi = segs.size() == 3;
  const std::string entity = segs.size() > 3 ? segs[3] : "";
  const std::string action = segs.size() > 4 ? segs[4] : "";
  const bool is_get = req.method == "GET" || req.method == "HEAD";

  // $_POST: only a form-encoded POST body is read; a JSON body is ignored.
  Pairs post;
  if (req.method == "POST" &&
      lower(req.header("Content-Type")).rfind("application/x-www-form-urlencoded", 0) == 0) {
    post = http::parse_query(req.body);
  }
  // $_REQUEST: the query, then the body's fields over it.
  auto request_param = [&](std::string_view name, bool* found) -> std::string {
    bool in_post = false, in_query = false;
    std::string_view p = pair_value(post, name, &in_post);
    std::string_view q = pair_value(query, name, &in_query);
    *found = in_post || in_query;
    return std::string(in_post ? p : q);
  };

  // Authentication (authx), before the page runs.
  std::string api_key, site_key;
  bool key_perm = false, view_debug = true;
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    api_key = site->api_key;
    site_key = site->site_key;
    key_perm = site->api_key_permission;
    view_debug = site->view_debug_output;
  }
  const Pairs& authx_params = is_get ? query : post;
  std::string given_site_key(req.header("X-Civi-Key"));
  if (given_site_key.empty())
    given_site_key = std::string(pair_value(authx_params, "_authxSiteKey"));
  std::string flow, cred;
  if (!req.header("X-Civi-Auth").empty()) {
    flow = "xheader";
    cred = std::string(req.header("X-Civi-Auth"));
  } else if (std::string_view a = req.header("Authorization");
             !a.empty() && (a.rfind("Bearer ", 0) == 0 || a.rfind("Basic ", 0) == 0)) {
    flow = "header";
    cred = std::string(a);
  } else if (!pair_value(authx_params, "_authx").empty()) {
    flow = "param";
    cred = std::string(pair_value(authx_params, "_authx"));
  }
  if (!flow.empty()) {
    auto reject = [](const std::string& why) {
      return plain_reply(401, "HTTP 401 " + why, "text/plain");
    };
    auto sp = cred.find(' ');
    std::string format = sp == std::string::npos ? cred : cred.substr(0, sp);
    std::string value = sp == std::string::npos ? "" : cred.substr(sp + 1);
    bool valid = format == "Bearer" && !value.empty() && value == api_key;
    if (!valid) return reject("Invalid credential");
    bool site_key_ok = !site_key.empty() && given_site_key == site_key;
    if (!site_key_ok && !key_perm) {
      return reject("Login not permitted. Must satisfy guard (site_key, perm).");
    }
  } else {
    return access_denied();  // anonymous: no "access CiviCRM"
  }

  // CRM_Api4_Page_AJAX::checkRequestMethod().
  bool web_service = req.header("X-Requested-With") == "XMLHttpRequest" || flow == "xheader" ||
                     flow == "param" || req.method == "OPTIONS";
  if (!web_service) {
    return plain_reply(
        400,
        "{\"error_code\":400,\"error_message\":\"SECURITY ALERT: Ajax requests can only "
        "be issued by javascript clients, eg. CRM.api4().\"}",
        kJson);
  }
  if (is_get && action != "autocomplete" && lower(action.substr(0, 3)) != "get") {
    return plain_reply(
        405,
        "{\"error_code\":405,\"error_message\":\"SECURITY: All requests that modify the "
        "database must be http POST, not GET.\"}",
        kJson);
  }

  if (multi) {
    std::string_view calls_text = pair_value(post, "calls");
    pjson calls = calls_text.empty() ? pjson() : pjson::parse(calls_text, nullptr, false);
    if (calls.is_discarded() || !(calls.is_object() || calls.is_array())) {
      return plain_reply(200, "[]", kJson);
    }
    int status = 0;
    std::string body = calls.is_array() ? "[" : "{";
    bool first = true;
    for (auto it = calls.begin(); it != calls.end(); ++it) {
      const pjson& c = it.value();
      std::string e =
          c.is_array() && c.size() > 0 && c[0].is_string() ? c[0].get<std::string>() : "";
      std::string a =
          c.is_array() && c.size() > 1 && c[1].is_string() ? c[1].get<std::string>() : "";
      pjson p = c.is_array() && c.size() > 2 ? c[2] : pjson::object();
      pjson idx = c.is_array() && c.size() > 3 ? c[3] : pjson();
      if (p.is_null()) p = pjson::object();
      auto [st, out] = execute(e, a, p, idx, view_debug);
      if (st == 200) {
        status = 200;
      } else if (status == 0) {
        status = st;
      }
      if (!first) body.push_back(',');
      first = false;
      if (calls.is_object()) {
        append_json_string(&body, it.key(), JsonEscape::kPhp);
        body.push_back(':');
      }
      body += out;
    }
    body.push_back(calls.is_array() ? ']' : '}');
    return plain_reply(status == 0 ? 200 : status, std::move(body), kJson);
  }

  bool found = false;
  std::string params_text = request_param("params", &found);
  pjson params = pjson::object();
  if (!params_text.empty() && params_text != "0") {
    params = pjson::parse(params_text, nullptr, false);
    if (params.is_discarded() || !(params.is_object() || params.is_array())) return fatal_error();
  }
  bool has_index = false;
  std::string index_text = request_param("index", &has_index);
  pjson index;
  if (has_index && !index_text.empty()) index = index_text;
  auto [status, body] = execute(entity, action, params, index, view_debug);
  return plain_reply(status, std::move(body), kJson);
}

}  // namespace concord::sandbox
