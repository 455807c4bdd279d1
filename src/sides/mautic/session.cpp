#include "sides/mautic/session.h"

#include <algorithm>
#include <thread>

#include "concord/parse.h"
#include "sides/answer_text.h"
#include "sides/json_answer.h"
#include "sides/mautic/numbers.h"

namespace concord::mautic {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// The path of a request target, without its query (which is never quoted in errors).
std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

std::string string_at(const json& j, const char* key) {
  const json* v = sides::find(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// What an error answer says, as "HTTP 403 api_disabled: API disabled. …", and Mautic's error type
// (errors[0].type; an OAuth error's `error`). Mautic writes {"errors":[{message,code,type}]}; its
// OAuth server {"error","error_description"}; old versions {"error":{message,code}}.
std::string describe(const http::Response& r, std::string* type) {
  const json j = sides::parse_answer(r.body);
  std::string kind, message;
  if (const json* errors = sides::find(j, "errors");
      errors != nullptr && errors->is_array() && !errors->empty()) {
    kind = string_at((*errors)[0], "type");
    message = string_at((*errors)[0], "message");
    if (const json* d = sides::find((*errors)[0], "details"); d != nullptr && d->is_array()) {
      for (const json& line : *d) {
        if (line.is_string()) message += " " + line.get<std::string>();
      }
    }
  } else if (const json* e = sides::find(j, "error"); e != nullptr && e->is_string()) {
    kind = e->get<std::string>();
    message = string_at(j, "error_description");
  } else if (e != nullptr && e->is_object()) {
    message = string_at(*e, "message");
  }
  if (message.empty() && kind.empty()) message = r.body.substr(0, 200);
  if (message.size() > 400) message.resize(400);
  *type = kind;
  std::string out = "HTTP " + std::to_string(r.status);
  if (!kind.empty()) out += " " + kind;
  if (!message.empty()) out += ": " + message;
  return out;
}

bool is_5xx(const http::Response& r) {
  return r.status >= 500 && r.status <= 599;
}

}  // namespace

Session::Session(MauticOptions options, std::string base_path, std::unique_ptr<http::Client> http)
    : options_(std::move(options)),
      base_path_(std::move(base_path)),
      http_(std::move(http)),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock()) {
  if (options_.client_id.empty()) {
    basic_ = http::basic_authorization(options_.username, options_.password);
  }
}

std::string Session::scrub(std::string text, const std::string& also) const {
  std::string token, last;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    token = token_;
    last = last_token_;
  }
  return sides::redact(std::move(text), {&options_.password, &options_.client_secret, &token, &last,
                                         &basic_, &also});
}

std::string Session::who() const {
  return options_.client_id.empty() ? "user \"" + options_.username + "\""
                                    : "client id \"" + options_.client_id + "\"";
}

Result<http::Response> Session::send(const http::Request& req, const std::string& what) {
  for (int waited = 0;; ++waited) {
    Result<http::Response> r = http_->send(req);
    if (!r) return Status(r.status()).with_context("Mautic");
    if (r->status != 429) return r;
    // How long until the hourly window resets: X-RateLimit-Reset is a Unix time (compared with
    // the server's own Date, so that a skewed local clock does not matter; a small number is
    // taken as seconds from now), Retry-After seconds; the later of the two. Without either, 1 s
    // doubling.
    std::int64_t wait_ms = -1;
    if (Result<std::int64_t> reset = parse_int64(r->header("X-RateLimit-Reset")); reset) {
      constexpr std::int64_t kYear = 366 * 24 * 3600;
      if (*reset >= 0 && *reset < kYear) {
        wait_ms = *reset * 1000;
      } else if (*reset >= 0 && *reset < INT64_MAX / kMicrosPerSecond) {
        Result<Micros> date = parse_http_date(r->header("Date"));
        const Micros now = date ? *date : clock_->now();
        wait_ms = std::max<std::int64_t>(0, (*reset * kMicrosPerSecond - now) / 1000);
      }
    }
    if (Result<std::int64_t> after = parse_int64(r->header("Retry-After")); after && *after >= 0) {
      wait_ms = std::max(wait_ms, std::min<std::int64_t>(*after, INT64_MAX / 1000) * 1000);
    }
    if (wait_ms < 0) wait_ms = std::int64_t{1000} << std::min(waited, 16);
    const milliseconds wait(std::max<std::int64_t>(wait_ms, 250));
    std::string type;
    const std::string said = scrub(describe(*r, &type));
    if (waited >= options_.rate_limit_retries) {
      return Status::unavailable(what + ": Mautic's rate limit held after " +
                                 std::to_string(waited) + " waits (" + said +
                                 "); the next run goes on");
    }
    if (wait > options_.max_rate_limit_wait) {
      return Status::unavailable(what + ": Mautic's rate limit resets in " +
                                 std::to_string(wait.count() / 1000) +
                                 " s, beyond the longest wait (" +
                                 std::to_string(options_.max_rate_limit_wait.count() / 1000) +
                                 " s; " + said + "); the next run goes on");
    }
    rate_limited_.fetch_add(1);
    if (options_.sleep) {
      options_.sleep(wait);
    } else {
      std::this_thread::sleep_for(wait);
    }
  }
}

Result<std::string> Session::fetch_token_locked() {
  const std::string what = "Mautic POST /oauth/v2/token";
  http::Request req;
  req.method = "POST";
  req.target = base_path_ + "/oauth/v2/token";
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = "grant_type=client_credentials&client_id=" + http::url_encode(options_.client_id) +
             "&client_secret=" + http::url_encode(options_.client_secret);
  const Micros asked_at = clock_->now();
  Result<http::Response> r = send(req, what);
  if (!r) return Status(r.status());
  if (r->status == 200) {
    const json j = sides::parse_answer(r->body);
    std::string t = string_at(j, "access_token");
    if (t.empty()) {
      return Status::unavailable(what + " for " + who() +
                                 ": the answer (HTTP 200) has no access_token");
    }
    // expires_in: seconds (Mautic's default is 3600), an integer or digits; 3600 when unreadable.
    std::int64_t life = 3600;
    if (const std::optional<std::int64_t> n = integer_of(sides::find(j, "expires_in"));
        n && *n > 0 && *n < INT64_MAX / kMicrosPerSecond / 2) {
      life = *n;
    }
    const Micros lifetime = life * kMicrosPerSecond;
    if (!token_.empty()) last_token_ = token_;
    token_ = std::move(t);
    token_until_ = asked_at + lifetime - std::min(options_.token_margin, lifetime / 10);
    tokens_.fetch_add(1);
    return token_;
  }
  std::string type;
  const std::string detail = scrub(describe(*r, &type));
  if (is_5xx(*r)) return Status::unavailable(what + " for " + who() + ": " + detail);
  if (type == "api_disabled") {
    return Status::invalid(what + ": the Mautic API is disabled; enable it in Mautic's " +
                           "Configuration, API Settings (" + detail + ")");
  }
  if (r->status == 400 || r->status == 401 || r->status == 403) {
    return Status::invalid("Mautic refused the client credentials of " + who() +
                           " (wrong client id or secret, or the client does not allow the "
                           "client_credentials grant; " +
                           detail + ")");
  }
  return Status::invalid(what + " for " + who() + ": " + detail);
}

Result<std::string> Session::authorization(const std::string* stale) {
  if (options_.client_id.empty()) return basic_;
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (stale != nullptr && "Bearer " + token_ == *stale) token_until_ = kNoTime;
  if (token_.empty() || clock_->now() >= token_until_) {
    Result<std::string> t = fetch_token_locked();
    if (!t) return t.status();
  }
  return "Bearer " + token_;
}

Status Session::ensure_token() {
  return authorization().status();
}

Status Session::api_error(const http::Response& r, const std::string& what,
                          const std::string& body_secret) const {
  std::string type;
  const std::string detail = scrub(describe(r, &type), body_secret);
  const std::string msg = what + ": " + detail;
  if (type == "api_disabled") {
    return Status::invalid(msg + " (enable the API in Mautic's Configuration, API Settings)");
  }
  if (r.status == 401) {
    if (options_.client_id.empty()) {
      return Status::invalid(msg + "; Mautic refused the credentials of " + who() +
                             " (wrong user name or password)");
    }
    return Status::invalid(msg + "; a fresh token for " + who() + " was refused too");
  }
  if (r.status == 403) {
    return Status::invalid(
        msg + "; " + who() + " may not do this" +
        (options_.client_id.empty() ? " (or Basic authentication is disabled)" : ""));
  }
  if (r.status == 404) return Status::not_found(msg);
  if (is_5xx(r)) return Status::unavailable(msg);
  return Status::invalid(msg);
}

Result<Answer> Session::call(std::string_view method, const std::string& target,
                             const std::string& json_body, bool idempotent,
                             const std::string& body_secret) {
  const std::string what = "Mautic " + std::string(method) + " /api/" + path_of(target);
  std::string refused;  // the Authorization the API answered 401 to, once
  for (;;) {
    Result<std::string> auth = authorization(refused.empty() ? nullptr : &refused);
    if (!auth) return auth.status();
    http::Request req;
    req.method = std::string(method);
    req.target = base_path_ + "/api/" + target;
    req.idempotent = idempotent;
    req.headers = {{"Authorization", *auth}, {"Accept", "application/json"}};
    if (!json_body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    req.body = json_body;
    Result<http::Response> r = send(req, what);
    if (!r) return r.status();
    if (r->status == 401 && refused.empty() && !options_.client_id.empty()) {
      refused = *auth;  // expired or revoked: one new token, then the request again
      continue;
    }
    if (r->status < 200 || r->status > 299) return api_error(*r, what, body_secret);
    Answer a;
    a.status = r->status;
    if (Result<Micros> t = parse_http_date(r->header("Date")); t) a.server_time = *t;
    bool too_deep = false;
    a.body = sides::parse_answer(r->body, &too_deep);
    if (a.body.is_discarded()) {
      return Status::unavailable(what + ": the answer (HTTP " + std::to_string(r->status) + ", " +
                                 std::to_string(r->body.size()) + " bytes) is not " +
                                 (too_deep ? "JSON of a sane depth" : "JSON"));
    }
    return a;
  }
}

Result<std::vector<json>> Session::list_all(std::string_view path, const char* key) {
  // An install has tens of segments or hooks, rarely thousands: offset pages are fine here.
  constexpr std::size_t kPage = 200;
  std::vector<json> items;
  for (std::size_t start = 0;;) {
    const std::string what =
        "Mautic GET /api/" + std::string(path) + " (from " + std::to_string(start) + ")";
    Result<Answer> a =
        call("GET", std::string(path) + "?start=" + std::to_string(start) +
                        "&limit=" + std::to_string(kPage) + "&orderBy=id&orderByDir=ASC");
    if (!a) return a.status();
    const json* list = sides::find(a->body, key);
    if (list == nullptr || !(list->is_array() || list->is_object())) {
      return Status::unavailable(what + ": the answer has no \"" + key + "\" list");
    }
    for (const json& item : *list)
      items.push_back(item);
    start += list->size();
    const std::optional<std::int64_t> total = integer_of(sides::find(a->body, "total"));
    if (list->size() < kPage ||
        (total && *total >= 0 && start >= static_cast<std::uint64_t>(*total))) {
      return items;
    }
  }
}

}  // namespace concord::mautic
