// The daemon's HTTP routes over DaemonView: webhook deliveries, the pages, the JSON API, metrics.
#include "serve/api.h"

#include "concord/parse.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "concord/report.h"
#include "serve/pages.h"

namespace concord::serve {
namespace {

using nlohmann::json;

// The pages load nothing from elsewhere and may not be framed.
constexpr const char* kPageCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'";
// The login form posts to this daemon only, and runs no script.
constexpr const char* kLoginCsp =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";
// The largest webhook delivery or login form read: Mailchimp's deliveries are a few hundred bytes
// (a profile with every merge field a few KiB).
constexpr std::uint64_t kMaxDeliveryBytes = 64 * 1024;
// The largest intake body read at all (Amplitude's /batch limit); each route's own limit, and the
// size after gunzip, are the intake's to check (sides/amplitude/intake.h).
constexpr std::uint64_t kMaxIntakeBytes = 20u << 20;

bool is_intake_path(std::string_view path) {
  return path == "/2/httpapi" || path == "/batch" || path == "/identify";
}

json iso_or_null(Micros t) {
  return t == kNoTime ? json(nullptr) : json(format_iso8601(t));
}

http::Reply reply(int status, std::string body, std::string type = "application/json") {
  http::Reply r;
  r.response.status = status;
  r.response.headers.push_back({"Content-Type", std::move(type)});
  r.response.headers.push_back({"Cache-Control", "no-store"});
  r.response.body = std::move(body);
  return r;
}
http::Reply text_reply(int status, std::string body) {
  return reply(status, std::move(body), "text/plain");
}
http::Reply html_reply(std::string body, int status = 200, const char* policy = kPageCsp) {
  http::Reply r = reply(status, std::move(body), "text/html; charset=utf-8");
  r.response.headers.push_back({"Content-Security-Policy", policy});
  return r;
}
http::Reply json_reply(int status, const json& j) {
  return reply(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
}
http::Reply error_reply(int status, const std::string& message) {
  return json_reply(status, {{"error", message}});
}

// "/a/b%20c/" → "a", "b c", "" (a segment that does not decode is kept as sent).
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string seg;
    if (!http::url_decode(path.substr(i, j - i), &seg)) seg = std::string(path.substr(i, j - i));
    out.push_back(std::move(seg));
    i = j + 1;
  }
  return out;
}

// <run> of serve/pages.h.
json run_json(const std::string& sync, const RunRecord& r) {
  json counts = {{"planned", r.counts.operations()},
                 {"applied", r.applied},
                 {"failed", r.failed},
                 {"refused", r.refused},
                 {"report_rows", r.counts.report_rows}};
  return {
      {"id", r.id},
      {"command", r.command},
      {"undoes", r.undoes == 0 ? json(nullptr) : json(r.undoes)},
      {"started", iso_or_null(r.started_at)},
      {"ended", iso_or_null(r.ended_at)},
      {"duration_s", r.ended_at == kNoTime || r.started_at == kNoTime
                         ? json(nullptr)
                         : json(static_cast<double>(r.ended_at - r.started_at) / kMicrosPerSecond)},
      {"result", run_state_name(r.state)},
      {"counts", counts},
      {"notes", r.notes},
      {"report_url",
       "/syncs/" + http::url_encode(sync) + "/runs/" + std::to_string(r.id) + "/report.html"}};
}

// <sync> of serve/pages.h.
json sync_json(const SyncView& s) {
  return {{"name", s.name},
          {"created", iso_or_null(s.created)},
          {"enabled", s.enabled},
          {"schedule", s.schedule},
          {"kind", s.kind},
          {"state", sync_state_name(s.state)},
          {"next_run", iso_or_null(s.next_run)},
          {"last_run", s.last_run ? run_json(s.name, *s.last_run) : json(nullptr)},
          {"warning", s.warning.empty() ? json(nullptr) : json(s.warning)},
          {"history_url", "/syncs/" + http::url_encode(s.name) + "/runs"}};
}

json stream_json(const StreamView& s) {
  json dropped = json::object();
  std::uint64_t total = 0;
  for (const auto& [reason, n] : s.dropped) {
    dropped[reason] = n;
    total += n;
  }
  return {{"name", s.name},
          {"kind", s.kind},
          {"audience", s.audience},
          {"accepted", s.accepted},
          {"forwarded", s.forwarded},
          {"queued", s.queued},
          {"dropped", total},
          {"dropped_by_reason", std::move(dropped)},
          {"last_error", s.last_error.empty() ? json(nullptr) : json(s.last_error)},
          {"last_error_at", iso_or_null(s.last_error_at)},
          {"unknown_properties", s.unknown_properties}};
}

}  // namespace

std::string_view sync_state_name(SyncView::State s) {
  static constexpr std::string_view kNames[] = {"idle", "running", "queued", "disabled"};
  return kNames[static_cast<std::size_t>(s)];
}

std::optional<http::Reply> Api::admit(const http::Request& head) {
  const std::string path = head.target.substr(0, head.target.find('?'));
  if (path == "/healthz") return std::nullopt;
  if (!options_.site.host_ok(head.header("Host"))) {
    http::Reply r =
        text_reply(421, "misdirected request: this daemon does not answer to that name\n");
    r.close = true;
    return r;
  }
  if (is_intake_path(path)) {
    if (Result<std::uint64_t> length = parse_uint64(head.header("Content-Length"));
        length && *length > kMaxIntakeBytes) {
      http::Reply r =
          reply(413, "{\"code\":413,\"error\":\"Payload too large\"}", "application/json");
      r.close = true;
      return r;
    }
    return std::nullopt;
  }
  if (path.rfind(kWebhookPath, 0) == 0 || path.rfind(kMauticWebhookPath, 0) == 0 ||
      path == "/login") {
    if (Result<std::uint64_t> length = parse_uint64(head.header("Content-Length"));
        length && *length > kMaxDeliveryBytes) {
      return text_reply(413, "request body too large\n");
    }
    return std::nullopt;
  }
  if (authorised(head)) return std::nullopt;
  // A browser asking for a page is sent to the login form (the URL carries no token); scripts
  // get a 401 naming what is missing.
  if ((head.method == "GET" || head.method == "HEAD") &&
      (path == "/" || path.rfind("/syncs/", 0) == 0)) {
    http::Reply r = text_reply(303, "log in first\n");
    r.response.headers.push_back({"Location", "/login"});
    return r;
  }
  http::Reply r = error_reply(401, "a token is required (Authorization: Bearer …) or a session");
  r.response.headers.push_back({"WWW-Authenticate", "Bearer"});
  return r;
}

http::Reply Api::handle(const http::Request& req, std::string_view peer_address) {
  if (std::optional<http::Reply> refused = admit(req)) return std::move(*refused);
  const std::string& target = req.target;
  const std::size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  Query query;
  if (q != std::string::npos) {
    for (auto& [k, v] : http::parse_query(std::string_view(target).substr(q + 1)))
      query.emplace(std::move(k), std::move(v));
  }
  if (is_intake_path(path)) return intake(req, peer_address);
  if ((path.rfind(kWebhookPath, 0) == 0 || path.rfind(kMauticWebhookPath, 0) == 0) &&
      req.body.size() > kMaxDeliveryBytes) {
    // A body sent in chunks has no Content-Length for admit() to refuse.
    return text_reply(413, "request body too large\n");
  }
  if (path.rfind(kWebhookPath, 0) == 0) return webhook(req, split_path(path));
  if (path.rfind(kMauticWebhookPath, 0) == 0) return people_webhook(req, split_path(path));
  if (path == "/healthz") {
    // A daemon that cannot store a delivery or journal a write is not healthy, whatever else.
    if (Status h = view_.health(); !h) return text_reply(503, "unhealthy: " + h.message() + "\n");
    return text_reply(200, "ok\n");
  }
  if (path == "/login") return login(req);
  if (path == "/logout") return logout(req);
  if (path == "/" && (req.method == "GET" || req.method == "HEAD")) {
    return html_reply(status_page_html());
  }
  if (path == "/metrics") {
    return reply(200, view_.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
  }
  const std::vector<std::string> parts = split_path(path);
  if (!parts.empty() && parts[0] == "api") return api(req, parts, query);
  if (!parts.empty() && parts[0] == "syncs" && req.method == "GET") return pages(parts);
  return text_reply(404, "not found\n");
}

// Amplitude's browser SDK posts from web pages of any site: the intake answers CORS preflights and
// lets any origin read its replies, as Amplitude's API does. Safe, because nothing but the key in
// the body authenticates a request (no cookie or token is ever taken there).
http::Reply Api::intake(const http::Request& req, std::string_view peer_address) {
  http::Reply r;
  if (req.method == "OPTIONS") {
    r.response.status = 204;
    r.response.headers = {{"Access-Control-Allow-Methods", "POST, OPTIONS"},
                          {"Access-Control-Allow-Headers",
                           "Content-Type, Content-Encoding, Accept, Cross-Origin-Resource-Policy"},
                          {"Access-Control-Max-Age", "86400"}};
  } else if (std::optional<http::Reply> answered = view_.intake(req, peer_address)) {
    r = std::move(*answered);
  } else {
    return text_reply(404, "not found: no [[stream]] is configured\n");
  }
  r.response.headers.push_back({"Access-Control-Allow-Origin", "*"});
  return r;
}

bool Api::authorised(const http::Request& req) {
  const std::string& token = options_.token;
  if (token.empty()) return false;
  std::string_view auth = req.header("Authorization");
  if (auth.rfind("Bearer ", 0) == 0 && secrets_equal(auth.substr(7), token)) return true;
  return sessions_.valid(cookie(req, kSessionCookie));
}

// GET: the form. POST: the token, from this daemon's own form; a session cookie when it is right.
http::Reply Api::login(const http::Request& req) {
  if (req.method == "GET" || req.method == "HEAD") {
    return html_reply(login_page_html(""), 200, kLoginCsp);
  }
  if (req.method != "POST") return text_reply(405, "method not allowed\n");
  if (!options_.site.same_origin(req) ||
      !content_type_is(req, "application/x-www-form-urlencoded")) {
    return text_reply(403, "log in from this daemon's own login form\n");
  }
  std::string given;
  for (auto& [k, v] : http::parse_query(req.body)) {
    if (k == "token") given = std::move(v);
  }
  if (options_.token.empty() || !secrets_equal(given, options_.token)) {
    log("a login with a wrong token was refused");
    return html_reply(login_page_html("That is not the token."), 401, kLoginCsp);
  }
  http::Reply r = text_reply(303, "logged in\n");
  r.response.headers.push_back({"Location", "/"});
  r.response.headers.push_back(
      {"Set-Cookie", session_cookie(sessions_.open(), sessions_.lifetime(), options_.site.tls)});
  return r;
}

http::Reply Api::logout(const http::Request& req) {
  if (req.method != "POST") return text_reply(405, "method not allowed\n");
  if (!options_.site.same_origin(req)) return error_reply(403, "cross-site request refused");
  sessions_.close(cookie(req, kSessionCookie));
  http::Reply r = json_reply(200, {{"logged_out", true}});
  r.response.headers.push_back({"Set-Cookie", session_cookie("", {}, options_.site.tls)});
  return r;
}

// A delivery: checked, stored durably, then answered.
http::Reply Api::webhook(const http::Request& req, const std::vector<std::string>& parts) {
  // parts: "webhooks", "mailchimp", <sync>, <secret>
  if (parts.size() != 4 || !view_.webhook_secret_ok(parts[2], parts[3])) {
    view_.webhook_rejected(Rejection::kSecret);
    return text_reply(403, "forbidden\n");
  }
  const std::string& sync = parts[2];
  // Mailchimp checks the URL with a GET when the webhook is registered.
  if (req.method == "GET" || req.method == "HEAD") return text_reply(200, "ok\n");
  if (req.method != "POST") return text_reply(405, "method not allowed\n");
  const std::string& header = options_.signature_header;
  if (!header.empty() &&
      !webhook_signature_ok(options_.signature_secret, req.body, req.header(header))) {
    view_.webhook_rejected(Rejection::kSignature);
    return text_reply(403, "forbidden\n");
  }
  Result<WebhookEvent> e = parse_mailchimp_webhook(req.body);
  if (!e) {
    view_.webhook_rejected(Rejection::kMalformed);
    log(sync + ": a webhook delivery was refused: " + e.status().message());
    return text_reply(400, e.status().message() + "\n");
  }
  if (e->type == WebhookType::kCampaign) return text_reply(200, "ignored\n");
  if (Status s = view_.deliver(sync, std::move(*e)); !s) {
    if (s.code() == Status::Code::kInvalid) {  // another audience's: nothing was stored
      view_.webhook_rejected(Rejection::kWrongList);
      log(sync + ": a webhook delivery was refused: " + s.message());
      return text_reply(400, s.message() + "\n");
    }
    log(sync + ": storing a webhook delivery: " + s.message());
    return text_reply(503, "not stored\n");
  }
  return text_reply(200, "ok\n");
}

// A people side's delivery (Mautic's): its URL secret and signature checked, the people it names
// stored durably, then answered. Mautic never sends a failed delivery again, and unpublishes a hook
// that keeps failing: only a delivery that cannot be stored gets a 5xx.
http::Reply Api::people_webhook(const http::Request& req, const std::vector<std::string>& parts) {
  // parts: "webhooks", "mautic", <sync>, <secret>
  if (parts.size() != 4 || !view_.webhook_secret_ok(parts[2], parts[3])) {
    view_.webhook_rejected(Rejection::kSecret);
    return text_reply(403, "forbidden\n");
  }
  const std::string& sync = parts[2];
  if (req.method != "POST") return text_reply(405, "method not allowed\n");
  Result<std::vector<std::string>> people =
      view_.read_people_delivery(sync, req.body, req.header("Webhook-Signature"));
  if (!people) {
    switch (people.status().code()) {
      case Status::Code::kNotFound:
        return text_reply(404, "this sync takes no Mautic deliveries\n");
      case Status::Code::kPermissionDenied:
        view_.webhook_rejected(Rejection::kSignature);
        return text_reply(403, "forbidden\n");
      default:
        view_.webhook_rejected(Rejection::kMalformed);
        log(sync + ": a Mautic delivery was refused: " + people.status().message());
        return text_reply(400, people.status().message() + "\n");
    }
  }
  if (people->empty()) return text_reply(200, "ignored\n");
  WebhookEvent e;
  e.type = WebhookType::kPeople;
  e.people = std::move(*people);
  if (Status s = view_.deliver(sync, std::move(e)); !s) {
    log(sync + ": storing a Mautic delivery: " + s.message());
    return text_reply(503, "not stored\n");
  }
  return text_reply(200, "ok\n");
}

http::Reply Api::api(const http::Request& req, const std::vector<std::string>& parts,
                     const Query& query) {
  if (parts.size() == 2 && parts[1] == "syncs" && req.method == "GET") {
    json all = json::array();
    for (const SyncView& s : view_.syncs())
      all.push_back(sync_json(s));
    return json_reply(200, {{"syncs", all}});
  }
  if (parts.size() == 2 && parts[1] == "streams" && req.method == "GET") {
    json all = json::array();
    for (const StreamView& s : view_.streams())
      all.push_back(stream_json(s));
    return json_reply(200, {{"streams", all}});
  }
  if (parts.size() == 2 && parts[1] == "runs" && req.method == "GET") {
    std::size_t limit = 50;
    if (auto l = query.find("limit"); l != query.end()) {
      Result<std::uint64_t> asked = parse_uint64(l->second);
      if (!asked) return error_reply(400, "limit: " + asked.status().message());
      limit = static_cast<std::size_t>(std::clamp<std::uint64_t>(*asked, 1, 1000));
    }
    const auto only = query.find("sync");
    json runs = json::array();
    for (const SyncView& s : view_.syncs()) {
      if (only != query.end() && only->second != s.name) continue;
      Result<std::vector<RunRecord>> rs = view_.runs(s.name, limit);
      if (!rs) return error_reply(500, rs.status().message());
      for (const RunRecord& r : *rs) {
        json j = run_json(s.name, r);
        j["sync"] = s.name;
        runs.push_back(std::move(j));
      }
    }
    return json_reply(200, {{"runs", runs}});
  }
  if (parts.size() == 4 && parts[1] == "syncs") {
    const std::string& name = parts[2];
    if (Result<SyncView> s = view_.sync(name); !s) {
      return error_reply(404, "no sync pair \"" + name + "\"");
    }
    if (req.method != "POST") return error_reply(405, "use POST");
    // A cross-site form cannot send JSON, nor a matching Origin.
    if (!options_.site.same_origin(req)) return error_reply(403, "cross-site request refused");
    if (!content_type_is(req, "application/json")) {
      return error_reply(415, "send Content-Type: application/json");
    }
    if (parts[3] == "enabled") {
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("enabled") || !body["enabled"].is_boolean()) {
        return error_reply(400, "the body must be {\"enabled\": true|false}");
      }
      const bool on = body["enabled"].get<bool>();
      Result<SyncView> updated = view_.set_enabled(name, on);
      if (!updated) return error_reply(500, updated.status().message());
      log(name + (on ? ": enabled" : ": disabled") + " from the status page");
      return json_reply(200, sync_json(*updated));
    }
    if (parts[3] == "run") {
      if (Status s = view_.run_now(name); !s) return error_reply(500, s.message());
      return json_reply(202, {{"queued", true}});
    }
  }
  return error_reply(404, "no such API route");
}

// /syncs/<name>/runs and /syncs/<name>/runs/<id>/report.html
http::Reply Api::pages(const std::vector<std::string>& parts) {
  if (parts.size() < 3 || parts[2] != "runs" || !view_.sync(parts[1])) {
    return text_reply(404, "not found\n");
  }
  const std::string& name = parts[1];
  if (parts.size() == 3) {
    Result<std::vector<RunRecord>> rs = view_.runs(name, 200);
    if (!rs) return text_reply(500, rs.status().message() + "\n");
    json runs = json::array();
    for (const RunRecord& r : *rs)
      runs.push_back(run_json(name, r));
    return html_reply(runs_page_html({{"name", name}, {"runs", runs}}));
  }
  if (parts.size() == 5 && parts[4] == "report.html") {
    Result<std::uint64_t> parsed = parse_uint64(parts[3]);
    if (!parsed) return text_reply(404, "no such run\n");
    const std::uint64_t id = *parsed;
    Result<std::optional<RunRecord>> r = view_.run(name, id);
    if (!r || !r->has_value()) return text_reply(404, "no such run\n");
    Result<std::vector<ReportEntry>> rows = view_.report_rows(name, id);
    if (!rows) return text_reply(500, rows.status().message() + "\n");
    return reply(200, render_report(report_summary(**r), *rows, ReportFormat::kHtml),
                 "text/html; charset=utf-8");
  }
  return text_reply(404, "not found\n");
}

}  // namespace concord::serve
