// The Auth0 part's admin routes (docs/sandbox.md "The Auth0 API", "Admin routes"): what people
// and administrators do outside the API (users), what a test needs to provoke (tokens expiring,
// job inspection) and the part's settings and faults.
#include "concord/status.h"
#include "sandbox/auth0/jobs.h"
#include "sandbox/auth0/routing.h"
#include "sandbox/auth0/seed.h"
#include "sandbox/auth0/state.h"
#include "sandbox/auth0/token.h"
#include "sandbox/auth0/user_writes.h"
#include "sandbox/http_helpers.h"

namespace concord::sandbox::auth0 {
namespace {

http::Reply not_found(std::string_view path) {
  return admin_problem(404, "Resource Not Found",
                       "The requested resource could not be found: " + std::string(path));
}

http::Reply method_not_allowed(const char* allowed) {
  return admin_problem(405, "Method Not Allowed", std::string("Use ") + allowed + ".");
}

// The body of an admin POST or PATCH: a JSON object (an empty body is {}).
std::optional<ojson> object_body(const http::Request& req) {
  if (is_blank(req.body)) return ojson::object();
  ojson body = ojson::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return std::nullopt;
  return body;
}

http::Reply bad_body() {
  return admin_problem(400, "JSON Parse Exception", "The body must be a JSON object.");
}

// The answer of a failed user write.
http::Reply write_failed(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return admin_problem(404, "Resource Not Found", s.message());
    case Status::Code::kFailedPrecondition:
      return admin_problem(409, "Conflict", s.message());
    default:
      return admin_problem(400, "Invalid Resource", s.message());
  }
}

}  // namespace

http::Reply Auth0Part::admin(const http::Request& req, std::string_view path) {
  if (path == "/_sandbox/faults") return admin_faults(req);
  constexpr std::string_view kPrefix = "/_sandbox/auth0/";
  if (path.rfind(kPrefix, 0) != 0) return not_found(path);
  const std::vector<std::string> segs = path_segments(path.substr(kPrefix.size()));
  if (segs.empty()) return not_found(path);
  if (segs[0] == "users") return admin_users(req, segs);
  if (segs[0] == "jobs") return admin_jobs(req, segs);
  if (segs[0] == "settings" && segs.size() == 1) return admin_settings(req);
  if (segs[0] == "tokens" && segs.size() == 2 && segs[1] == "expire") {
    if (req.method != "POST") return method_not_allowed("POST");
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t n = expire_tokens(tenant_, now());
    changed();
    return admin_json(200, {{"expired", n}});
  }
  return not_found(path);
}

http::Reply Auth0Part::admin_faults(const http::Request& req) {
  if (req.method == "POST") {
    std::optional<ojson> body = object_body(req);
    if (!body) return bad_body();
    std::string err = faults_.configure(*body);
    if (!err.empty()) return admin_problem(400, "Invalid Resource", err);
  } else if (req.method != "GET") {
    return method_not_allowed("GET or POST");
  }
  return admin_json(200, faults_.to_json());
}

http::Reply Auth0Part::admin_users(const http::Request& req, const std::vector<std::string>& segs) {
  if (segs.size() > 2) return admin_problem(404, "Resource Not Found", "No such route.");
  std::lock_guard<std::mutex> lock(mu_);
  const Micros t = now();
  if (segs.size() == 1) {
    if (req.method != "POST") return method_not_allowed("POST");
    std::optional<ojson> body = object_body(req);
    if (!body) return bad_body();
    Result<ojson> user = create_user(tenant_, *body, t);
    if (!user.is_ok()) return write_failed(user.status());
    changed();
    return admin_json(201, user.value());
  }
  const std::string& id = segs[1];
  if (req.method == "GET") {
    const ojson* u = tenant_.user(id);
    if (!u) return admin_problem(404, "Resource Not Found", "no user " + id);
    return admin_json(200, *u);
  }
  if (req.method == "PATCH") {
    std::optional<ojson> body = object_body(req);
    if (!body) return bad_body();
    Result<ojson> user = update_user(tenant_, id, *body, t);
    if (!user.is_ok()) return write_failed(user.status());
    changed();
    return admin_json(200, user.value());
  }
  if (req.method == "DELETE") {
    if (!delete_user(tenant_, id, t))
      return admin_problem(404, "Resource Not Found", "no user " + id);
    changed();
    http::Reply r;
    r.response.status = 204;
    return r;
  }
  return method_not_allowed("GET, PATCH or DELETE");
}

http::Reply Auth0Part::admin_jobs(const http::Request& req, const std::vector<std::string>& segs) {
  if (req.method != "GET") return method_not_allowed("GET");
  if (segs.size() > 2) return admin_problem(404, "Resource Not Found", "No such route.");
  std::lock_guard<std::mutex> lock(mu_);
  const Micros t = now();
  if (prune_jobs(tenant_, t)) changed();
  // A job as the API would show it (without counting a poll), and what only the sandbox knows.
  auto write = [&](JsonOut& o, const ExportJob& j) {
    JsonOut api;
    write_job(api, j, j.status == "completed" ? job_location(tenant_, j, origin(req)) : "",
              tenant_.settings, t);
    o.begin_object();
    o.key("job");
    o.raw(api.buf);
    o.key("polls");
    o.integer(j.polls);
    o.key("fail");
    o.boolean(j.fail);
    o.key("file_bytes");
    o.integer(static_cast<std::int64_t>(j.file.size()));
    o.key("url_expires_at");
    if (j.url_expires_at == kNoTime) {
      o.null();
    } else {
      o.str(ms_text(j.url_expires_at));
    }
    o.end_object();
  };
  JsonOut o;
  if (segs.size() == 2) {
    const ExportJob* job = tenant_.job(segs[1]);
    if (!job) return admin_problem(404, "Resource Not Found", "no job " + segs[1]);
    write(o, *job);
  } else {
    o.begin_object();
    o.key("jobs");
    o.begin_array();
    for (const ExportJob& j : tenant_.jobs)
      write(o, j);
    o.end_array();
    o.end_object();
  }
  return plain_reply(200, std::move(o.buf), "application/json; charset=utf-8");
}

http::Reply Auth0Part::admin_settings(const http::Request& req) {
  std::lock_guard<std::mutex> lock(mu_);
  if (req.method == "POST") {
    std::optional<ojson> body = object_body(req);
    if (!body) return bad_body();
    Settings next = tenant_.settings;
    std::string err = read_settings(*body, &next);
    if (!err.empty()) return admin_problem(400, "Invalid Resource", err);
    const bool limits_changed = body->contains("rate_limits");
    tenant_.settings = std::move(next);
    if (limits_changed) limiter_.configure(tenant_.settings.rate_limits, now());
    changed();
  } else if (req.method != "GET") {
    return method_not_allowed("GET or POST");
  }
  JsonOut o;
  write_settings(o, tenant_.settings);
  return plain_reply(200, std::move(o.buf), "application/json; charset=utf-8");
}

}  // namespace concord::sandbox::auth0
