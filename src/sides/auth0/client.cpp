#include "concord/auth0_client.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <variant>

#include "concord/parse.h"
#include "sides/answer_text.h"
#include "sides/auth0/export_file.h"
#include "sides/auth0/users.h"

namespace concord {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// People handed to the sink at once when reading an export file.
constexpr std::size_t kExportBatch = 1000;
// The longest line of an export file (one user with its metadata).
constexpr std::size_t kMaxExportLine = 4u << 20;

// The path of a request target, without its query (which is never quoted in errors).
std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_5xx(const http::Response& r) {
  return r.status >= 500 && r.status <= 599;
}

// The same status with another message (its code kept; none of these carry an origin yet).
Status remake(const Status& s, std::string msg) {
  switch (s.code()) {
    case Status::Code::kOk:
      return Status::ok();
    case Status::Code::kInvalid:
      return Status::invalid(std::move(msg));
    case Status::Code::kNotFound:
      return Status::not_found(std::move(msg));
    case Status::Code::kUnavailable:
      return Status::unavailable(std::move(msg));
    case Status::Code::kCorruption:
      return Status::corruption(std::move(msg));
    case Status::Code::kFailedPrecondition:
      return Status::failed_precondition(std::move(msg));
    case Status::Code::kIoError:
      return Status::io_error(std::move(msg));
    case Status::Code::kPermissionDenied:
      return Status::permission_denied(std::move(msg));
    case Status::Code::kInternal:
      break;
  }
  return Status::internal(std::move(msg));
}

// A Management API answer that was 2xx, with its parsed body and the server's time.
struct Answer {
  json body;
  Micros server_time = kNoTime;  // its Date header; kNoTime without one
};

}  // namespace

struct Auth0Client::Impl {
  Auth0Options options;
  Auth0Transport transport;
  std::unique_ptr<http::Client> api;
  std::string base_path;  // the base URL's path ("" for a tenant's root)
  std::string audience;
  const Clock* clock = nullptr;

  mutable std::recursive_mutex mu;  // the token, last (recursive: scrub() inside fetch)
  std::string token;
  Micros token_until = kNoTime;
  Auth0ReadInfo last;
  std::atomic<std::uint64_t> tokens{0};
  std::atomic<std::uint64_t> other_attempts{0};  // downloads' requests
  std::atomic<std::uint64_t> rate_limited{0};

  void sleep(milliseconds d) const {
    if (d.count() <= 0) return;
    if (options.sleep) {
      options.sleep(d);
    } else {
      std::this_thread::sleep_for(d);
    }
  }

  // The message with the secret and the current token replaced, should an answer ever echo them.
  std::string scrub(std::string msg) const {
    std::string t;
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      t = token;
    }
    return sides::redact(std::move(msg), {&options.client_secret, &t}, 6);
  }
  Status scrubbed(const Status& s) const { return s ? s : remake(s, scrub(s.message())); }

  std::string who() const { return "client id \"" + options.client_id + "\""; }

  // How long to wait after a 429: until x-ratelimit-reset (epoch seconds, compared with the
  // server's own Date so that a skewed local clock does not matter), or Retry-After, whichever is
  // later; without either, 1 s doubling. At least 250 ms.
  milliseconds rate_limit_wait(const http::Response& r, int waited) const {
    std::int64_t ms = -1;
    if (Result<std::int64_t> reset = parse_int64(r.header("x-ratelimit-reset")); reset) {
      Result<Micros> date = parse_http_date(r.header("Date"));
      const Micros now = date ? *date : clock->now();
      const Micros at =
          *reset > INT64_MAX / kMicrosPerSecond ? INT64_MAX : *reset * kMicrosPerSecond;
      ms = std::max<std::int64_t>(0, (at - now) / 1000);
    }
    if (Result<std::int64_t> after = parse_int64(r.header("Retry-After")); after && *after >= 0) {
      ms = std::max<std::int64_t>(ms, *after > INT64_MAX / 1000 ? INT64_MAX : *after * 1000);
    }
    if (ms < 0) ms = std::int64_t{1000} << std::min(waited, 20);
    return milliseconds(std::max<std::int64_t>(ms, 250));
  }

  // Sends through `client`, waiting out 429s (bounded); other answers are returned as they are.
  Result<http::Response> send_limited(http::Client& client, const http::Request& req,
                                      const std::string& what) {
    for (int waited = 0;; ++waited) {
      Result<http::Response> r = client.send(req);
      if (!r) return scrubbed(r.status());
      if (r->status != 429) return r;
      if (waited >= options.rate_limit_retries) {
        return Status::unavailable(what + ": Auth0's rate limit (429) held after " +
                                   std::to_string(waited) + " waits; the next run reads on");
      }
      const milliseconds d = rate_limit_wait(*r, waited);
      if (d > options.max_rate_limit_wait) {
        return Status::unavailable(what + ": Auth0's rate limit (429) resets in " +
                                   std::to_string(d.count() / 1000) +
                                   " s, beyond the longest wait (" +
                                   std::to_string(options.max_rate_limit_wait.count() / 1000) +
                                   " s); the next run reads on");
      }
      rate_limited.fetch_add(1);
      sleep(d);
    }
  }

  // Fetches a token (client-credentials grant). REQUIRES: mu held.
  Result<std::string> fetch_token_locked() {
    const std::string what = "Auth0 token request";
    json body = {{"grant_type", "client_credentials"},
                 {"client_id", options.client_id},
                 {"client_secret", options.client_secret},
                 {"audience", audience}};
    http::Request req;
    req.method = "POST";
    req.target = base_path + "/oauth/token";
    req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    const Micros asked_at = clock->now();
    Result<http::Response> r = send_limited(*api, req, what);
    if (!r) return r.status();
    const json j = auth0::parse_json(r->body);
    if (r->status == 200) {
      std::string t = str(j, "access_token");
      if (t.empty()) {
        return Status::unavailable(what + " for " + who() +
                                   ": the answer (HTTP 200) has no access_token");
      }
      std::int64_t life = 3600;  // when expires_in is missing or unreadable
      if (j.contains("expires_in") && j["expires_in"].is_number_integer() &&
          j["expires_in"].get<std::int64_t>() > 0 &&
          j["expires_in"].get<std::int64_t>() < INT64_MAX / kMicrosPerSecond) {
        life = j["expires_in"].get<std::int64_t>();
      }
      const Micros lifetime = life * kMicrosPerSecond;
      token = std::move(t);
      token_until = asked_at + lifetime - std::min(options.token_margin, lifetime / 10);
      tokens.fetch_add(1);
      return token;
    }
    std::string error = str(j, "error"), desc = str(j, "error_description");
    std::string detail = "HTTP " + std::to_string(r->status);
    if (!error.empty()) detail += " " + error;
    if (!desc.empty()) {
      detail += ": " + desc;
    } else if (error.empty()) {
      detail += ": " + r->body.substr(0, 200);
    }
    if (r->status == 401) {
      return Status::invalid(scrub("Auth0 refused the credentials of " + who() +
                                   " (wrong client id or secret; " + detail + ")"));
    }
    if (r->status == 403) {
      return Status::invalid(scrub("Auth0 gives " + who() + " no Management API token for " +
                                   audience + " (" + detail + ")"));
    }
    if (is_5xx(*r)) return Status::unavailable(scrub(what + " for " + who() + ": " + detail));
    return Status::invalid(scrub(what + " for " + who() + ": " + detail));
  }

  // The cached token, or a new one when none is cached, it is about to expire, or it is `stale`
  // (the one the API just refused).
  Result<std::string> current_token(const std::string* stale = nullptr) {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (stale != nullptr && token == *stale) token.clear();
    if (!token.empty() && clock->now() < token_until) return token;
    token.clear();
    return fetch_token_locked();
  }

  // One Management API call. A 401 fetches a new token once and sends again. On an error answer,
  // *error_code (when given) receives Auth0's errorCode.
  Result<Answer> call(const std::string& method, const std::string& target,
                      const std::string& body = "", std::string* error_code = nullptr) {
    const std::string what = "Auth0 " + method + " " + path_of(target);
    bool renewed = false;
    for (;;) {
      Result<std::string> tok = current_token();
      if (!tok) return tok.status();
      http::Request req;
      req.method = method;
      req.target = base_path + target;
      req.headers = {{"Authorization", "Bearer " + *tok}, {"Accept", "application/json"}};
      if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
      req.body = body;
      Result<http::Response> r = send_limited(*api, req, what);
      if (!r) return r.status();
      if (r->status == 401 && !renewed) {
        renewed = true;  // expired or revoked: one new token, then the request again
        if (Result<std::string> again = current_token(&*tok); !again) return again.status();
        continue;
      }
      Answer a;
      if (Result<Micros> t = parse_http_date(r->header("Date")); t) a.server_time = *t;
      a.body = auth0::parse_json(r->body);
      if (r->status >= 200 && r->status <= 299) {
        if (a.body.is_discarded()) {
          return Status::unavailable(what + ": the answer (HTTP " + std::to_string(r->status) +
                                     ") is not JSON");
        }
        return a;
      }
      const std::string code = str(a.body, "errorCode");
      if (error_code != nullptr) *error_code = code;
      std::string detail = "HTTP " + std::to_string(r->status);
      if (std::string e = str(a.body, "error"); !e.empty()) detail += " " + e;
      if (std::string m = str(a.body, "message"); !m.empty()) {
        detail += ": " + m;
      } else {
        detail += ": " + r->body.substr(0, 200);
      }
      if (!code.empty()) detail += " (" + code + ")";
      std::string msg = scrub(what + ": " + detail);
      if (r->status == 401) {
        return Status::invalid(msg + "; a fresh token for " + who() + " was refused too");
      }
      if (r->status == 403) return Status::invalid(msg + "; " + who() + " lacks the permission");
      if (r->status == 404) return Status::not_found(std::move(msg));
      if (is_5xx(*r)) return Status::unavailable(std::move(msg));
      return Status::invalid(std::move(msg));
    }
  }

  // GET of an export file's signed URL, on its own origin, without the token.
  Result<http::Response> download(const std::string& location) {
    const std::size_t q = location.find('?');
    Result<http::Url> url = http::Url::parse(location.substr(0, q));
    if (!url) return url.status().with_context("Auth0 export file");
    http::ClientOptions o = options.http;
    o.max_body_bytes = options.export_max_bytes;
    o.max_connections = 1;
    o.retry.retry_response = [](const http::Response& r) { return is_5xx(r); };
    Result<std::unique_ptr<http::Client>> client = transport(*url, o);
    if (!client) return client.status().with_context("Auth0 export file");
    http::Request req;
    req.target = (url->path.empty() ? "/" : url->path) +
                 (q == std::string::npos ? std::string() : location.substr(q));
    const std::string what = "Auth0 export file " + url->origin() + path_of(req.target);
    Result<http::Response> r = send_limited(**client, req, what);
    other_attempts.fetch_add((*client)->attempts());
    return r;
  }

  Status export_read(const std::string& connection_id, const std::vector<std::string>& keys,
                     const std::vector<std::string>& fields, SourceSink& sink, SideRead& read,
                     Auth0ReadInfo& info);
  Status search_read(const std::string& q, const std::vector<std::string>& keys,
                     const std::vector<std::string>& fields, SourceSink& sink, SideRead& read,
                     Auth0ReadInfo& info, Micros* server_start, bool* too_many);
};

namespace {

// Hands a batch of read users over: rejects first, then the people.
Status hand_over(std::vector<SourcePerson>& people, std::vector<RejectedRow>& rejects,
                 SourceSink& sink) {
  for (RejectedRow& r : rejects)
    sink.reject(std::move(r));
  rejects.clear();
  if (people.empty()) return Status::ok();
  Status s = sink.records(people);
  people.clear();
  return s;
}

void take(const json& user, const std::vector<std::string>& fields,
          std::vector<SourcePerson>& people, std::vector<RejectedRow>& rejects) {
  auto v = auth0::read_user(user, fields);
  if (auto* p = std::get_if<SourcePerson>(&v)) {
    people.push_back(std::move(*p));
  } else {
    rejects.push_back(std::move(std::get<RejectedRow>(v)));
  }
}

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys)
    out += (out.empty() ? "" : ",") + k;
  return out;
}

}  // namespace

Status Auth0Client::Impl::search_read(const std::string& q, const std::vector<std::string>& keys,
                                      const std::vector<std::string>& fields, SourceSink& sink,
                                      SideRead& read, Auth0ReadInfo& info, Micros* server_start,
                                      bool* too_many) {
  *too_many = false;
  const std::int64_t per_page = options.per_page;
  for (std::int64_t page = 0;; ++page) {
    // Sorted by created_at, which no change moves: a user changed while we page stays where it
    // was (one created meanwhile comes last, and the next read_since has it).
    const std::string target = "/api/v2/users?q=" + http::url_encode(q) +
                               "&search_engine=v3&page=" + std::to_string(page) +
                               "&per_page=" + std::to_string(per_page) +
                               "&include_totals=true&sort=" + http::url_encode("created_at:1") +
                               "&fields=" + http::url_encode(join(keys)) + "&include_fields=true";
    std::string code;
    Result<Answer> r = call("GET", target, "", &code);
    if (!r) {
      if (code == "invalid_paging") {  // the set grew past the cap while we paged
        *too_many = true;
        return Status::ok();
      }
      return r.status();
    }
    if (page == 0 && server_start != nullptr) *server_start = r->server_time;
    const json& body = r->body;
    const std::string what = "Auth0 GET /api/v2/users (page " + std::to_string(page) + ")";
    if (!body.is_object()) {
      return Status::unavailable(what + ": the answer is not an object but " +
                                 std::string(body.type_name()));
    }
    auto users = body.find("users");
    if (users == body.end() || !users->is_array()) {
      return Status::unavailable(what + ": the answer has no users list");
    }
    auto total_it = body.find("total");
    if (total_it == body.end() || !total_it->is_number_unsigned()) {
      return Status::unavailable(what + ": the answer's total is not a count");
    }
    const std::uint64_t total = total_it->get<std::uint64_t>();
    info.total = total;
    if (total >= static_cast<std::uint64_t>(options.search_cap)) {
      // Only the first search_cap results can be paged (and a total of exactly the cap may be
      // capped itself): the export job reads the rest.
      *too_many = true;
      return Status::ok();
    }
    ++read.pages;
    std::vector<SourcePerson> people;
    std::vector<RejectedRow> rejects;
    for (const json& u : *users)
      take(u, fields, people, rejects);
    if (Status s = hand_over(people, rejects, sink); !s) return s;
    const auto got = static_cast<std::uint64_t>(users->size());
    const auto start = static_cast<std::uint64_t>(page * per_page);
    if (got < static_cast<std::uint64_t>(per_page)) {
      if (start + got < total) {
        return Status::unavailable(what + ": " + std::to_string(got) + " users of " +
                                   std::to_string(per_page) + " asked, " +
                                   std::to_string(total - start - got) +
                                   " announced beyond them; a cut answer is not the end");
      }
      return Status::ok();
    }
    if (start + got >= total) return Status::ok();
  }
}

Status Auth0Client::Impl::export_read(const std::string& connection_id,
                                      const std::vector<std::string>& keys,
                                      const std::vector<std::string>& fields, SourceSink& sink,
                                      SideRead& read, Auth0ReadInfo& info) {
  json names = json::array();
  for (const std::string& k : keys)
    names.push_back({{"name", k}});
  const std::string body =
      json{{"connection_id", connection_id}, {"format", "json"}, {"fields", names}}.dump();
  for (int job_no = 0;; ++job_no) {
    Result<Answer> made = call("POST", "/api/v2/jobs/users-exports", body);
    if (!made) return made.status();
    const std::string id = str(made->body, "id");
    if (id.empty()) {
      return Status::unavailable("Auth0 POST /api/v2/jobs/users-exports: the answer has no job id");
    }
    const std::string what = "Auth0 export job " + id;
    // Polls until the job is done, waiting longer each time.
    std::string location;
    milliseconds delay = options.export_poll_first, waited{0};
    for (;;) {
      if (waited > options.export_timeout) {
        return Status::unavailable(what + ": not done after " +
                                   std::to_string(waited.count() / 1000) + " s");
      }
      sleep(delay);
      waited += delay;
      delay = std::min(delay * 2, options.export_poll_max);
      Result<Answer> job = call("GET", "/api/v2/jobs/" + http::url_encode(id));
      if (!job) return job.status();
      const std::string status = str(job->body, "status");
      if (status == "completed") {
        location = str(job->body, "location");
        if (location.empty()) return Status::unavailable(what + ": completed without a location");
        break;
      }
      if (status == "failed") {
        std::string details;
        if (job->body.is_object() && job->body.contains("status_details")) {
          details = ": " + job->body["status_details"].dump(-1, ' ', false,
                                                            json::error_handler_t::replace);
        }
        return Status::unavailable(what + " failed" + details.substr(0, 300));
      }
      if (status.empty()) return Status::unavailable(what + ": the answer has no status");
      // pending, processing (or a state not known yet): poll again.
    }
    Result<http::Response> file = download(location);
    if (file && file->status == 403) {
      // Expired (the URL is valid for 60 s). Auth0 does not say whether a new poll gives a new
      // URL: try one poll, and create a new job when the URL is the same.
      Result<Answer> job = call("GET", "/api/v2/jobs/" + http::url_encode(id));
      if (!job) return job.status();
      std::string fresh = str(job->body, "location");
      if (!fresh.empty() && fresh != location) file = download(fresh);
      if (file && file->status == 403) {
        if (job_no < options.export_new_jobs) continue;
        return Status::unavailable(what +
                                   ": the export file's URL had expired (403) before it "
                                   "was read, " +
                                   std::to_string(job_no + 1) + " times");
      }
    }
    if (!file) return file.status();
    if (file->status != 200) {
      return Status::unavailable(what + ": the export file answered HTTP " +
                                 std::to_string(file->status));
    }
    std::vector<SourcePerson> people;
    std::vector<RejectedRow> rejects;
    std::uint64_t lines = 0;
    Status s = auth0::read_gzip_lines(
        file->body, kMaxExportLine, [&](std::string_view line, std::uint64_t n) -> Status {
          json user = auth0::parse_json(line);
          if (user.is_discarded()) {
            return Status::unavailable(what + ": line " + std::to_string(n) +
                                       " of the export file is not JSON");
          }
          ++lines;
          take(user, fields, people, rejects);
          if (people.size() + rejects.size() >= kExportBatch) {
            ++read.pages;
            return hand_over(people, rejects, sink);
          }
          return Status::ok();
        });
    if (!s) {
      // A file that cannot be read whole would lose people (taken as removed): the read fails.
      return s.code() == Status::Code::kInvalid ? Status::unavailable(what + ": " + s.message())
                                                : s;
    }
    if (!people.empty() || !rejects.empty()) ++read.pages;
    info.total = lines;
    return hand_over(people, rejects, sink);
  }
}

// ---- the reader ---------------------------------------------------------------------------------

class Auth0Client::Reader final : public SourceReader {
 public:
  Reader(Auth0Client& client, std::string connection, std::vector<std::string> fields)
      : im_(*client.impl_),
        client_(client),
        name_(std::move(connection)),
        fields_(std::move(fields)),
        keys_(auth0::top_level_keys(fields_)) {}

  Status resolve() override;
  std::string set_name() const override { return name_; }
  Result<SideRead> read_all(SourceSink& sink) override { return read(nullptr, sink); }
  bool incremental() const override { return true; }
  Result<SideRead> read_since(Micros watermark, SourceSink& sink) override {
    return read(&watermark, sink);
  }
  std::uint64_t requests() const override { return client_.requests(); }

 private:
  Result<SideRead> read(const Micros* since, SourceSink& sink);
  std::string connection_query() const {
    return "identities.connection:" + auth0::lucene_phrase(name_);
  }

  Impl& im_;
  Auth0Client& client_;
  std::string name_;
  std::vector<std::string> fields_;
  std::vector<std::string> keys_;
  std::string connection_id_;  // once resolved
};

Status Auth0Client::Reader::resolve() {
  if (!connection_id_.empty()) return Status::ok();
  if (name_.empty()) return Status::invalid("the Auth0 connection name is empty");
  // Without paging parameters the answer is a bare array (an object with `connections` is read
  // too). A name that matches nothing is an empty list, not a 404.
  Result<Answer> r =
      im_.call("GET", "/api/v2/connections?name=" + http::url_encode(name_) +
                          "&fields=" + http::url_encode("id,name") + "&include_fields=true");
  if (!r) return r.status();
  const json* list = &r->body;
  if (list->is_object() && list->contains("connections")) list = &(*list)["connections"];
  if (!list->is_array()) {
    return Status::unavailable("Auth0 GET /api/v2/connections: the answer is not a list");
  }
  for (const json& c : *list) {
    if (str(c, "name") != name_) continue;
    std::string id = str(c, "id");
    if (id.empty()) {
      return Status::unavailable("Auth0 GET /api/v2/connections: connection \"" + name_ +
                                 "\" has no id");
    }
    connection_id_ = std::move(id);
    return Status::ok();
  }
  // Say which connections there are (the first page of them), when the tenant tells.
  std::string known;
  Result<Answer> all = im_.call("GET",
                                "/api/v2/connections?fields=name&include_fields=true"
                                "&page=0&per_page=50");
  if (all && all->body.is_array()) {
    for (const json& c : all->body) {
      if (std::string n = str(c, "name"); !n.empty()) known += (known.empty() ? "" : ", ") + n;
    }
    if (all->body.size() == 50) known += ", …";
  }
  return Status::not_found("Auth0 has no connection named \"" + name_ + "\"" +
                           (known.empty() ? std::string(" (it lists none to this client)")
                                          : " (its connections: " + known + ")"));
}

Result<SideRead> Auth0Client::Reader::read(const Micros* since, SourceSink& sink) {
  const std::uint64_t tokens_before = im_.tokens.load(), limited_before = im_.rate_limited.load();
  if (Status s = resolve(); !s) return s;
  Auth0ReadInfo info;
  SideRead read;
  const Micros local_start = im_.clock->now();
  Micros server_start = kNoTime;
  std::string q = connection_query();
  if (since != nullptr) {
    q += " AND updated_at:[" + auth0::search_time(*since - im_.options.incremental_overlap) +
         " TO *]";
  }
  bool too_many = false;
  Status s = im_.search_read(q, keys_, fields_, sink, read, info, &server_start, &too_many);
  if (s && too_many) {
    // Past the search cap: the export job reads the whole connection (for read_since too: the
    // watermark below is still the start of this read, so nothing is skipped).
    info.export_job = true;
    s = im_.export_read(connection_id_, keys_, fields_, sink, read, info);
  }
  info.full = since == nullptr || info.export_job;
  info.tokens = im_.tokens.load() - tokens_before;
  info.rate_limited = im_.rate_limited.load() - limited_before;
  {
    std::lock_guard<std::recursive_mutex> lock(im_.mu);
    im_.last = info;
  }
  if (!s) return s;
  // The server's time when the read began (Auth0's Date header), else the local time.
  read.watermark = server_start != kNoTime ? server_start : local_start;
  if (since != nullptr) read.watermark = std::max(read.watermark, *since);
  return read;
}

// ---- the client ---------------------------------------------------------------------------------

Auth0Client::Auth0Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Auth0Client::~Auth0Client() = default;

Result<std::unique_ptr<Auth0Client>> Auth0Client::create(Auth0Options options,
                                                         Auth0Transport transport) {
  if (options.client_id.empty()) return Status::invalid("the Auth0 client id is empty");
  if (options.client_secret.empty()) {
    return Status::invalid("the Auth0 client secret of client id \"" + options.client_id +
                           "\" is empty");
  }
  if (options.domain.empty() && options.base_url.empty()) {
    return Status::invalid("the Auth0 domain is empty (and no base URL is given)");
  }
  if (options.per_page < 1 || options.per_page > 100) {
    return Status::invalid("Auth0 per_page must be 1 to 100, not " +
                           std::to_string(options.per_page));
  }
  if (options.search_cap < 1) return Status::invalid("Auth0 search_cap must be positive");
  if (options.rate_limit_retries < 0 || options.export_new_jobs < 0) {
    return Status::invalid("Auth0 rate_limit_retries and export_new_jobs must not be negative");
  }
  if (options.export_poll_first.count() < 0 || options.export_poll_max.count() < 0) {
    return Status::invalid("Auth0 export poll delays must not be negative");
  }
  if (options.base_url.empty()) options.base_url = "https://" + options.domain;
  Result<http::Url> url = http::Url::parse(options.base_url);
  if (!url) return url.status().with_context("Auth0 base URL");
  if (options.domain.empty()) {
    const bool default_port = url->port == (url->tls() ? 443 : 80);
    options.domain = url->host + (default_port ? "" : ":" + std::to_string(url->port));
  }
  auto impl = std::make_unique<Impl>();
  impl->base_path = url->path;
  impl->audience = "https://" + options.domain + "/api/v2/";
  impl->clock = options.clock != nullptr ? options.clock : &system_clock();
  if (!transport) {
    transport = [](const http::Url& origin, const http::ClientOptions& o) {
      return http::Client::create(origin, o);
    };
  }
  // Auth0's 403s and 429s are answers (a missing scope; a rate limit waited for above), not a
  // proxy's: only 5xx are the transport's to retry.
  http::ClientOptions o = options.http;
  o.retry.retry_response = [](const http::Response& r) { return is_5xx(r); };
  Result<std::unique_ptr<http::Client>> api = transport(*url, o);
  if (!api) return api.status().with_context("Auth0 connection");
  impl->api = std::move(*api);
  impl->transport = std::move(transport);
  impl->options = std::move(options);
  return std::unique_ptr<Auth0Client>(new Auth0Client(std::move(impl)));
}

std::unique_ptr<SourceReader> Auth0Client::reader(std::string connection, bool verified_only,
                                                  std::vector<std::string> fields) {
  // verified_only is applied by the snapshot stage (SourceFetch), not here: see the header.
  (void)verified_only;
  return std::make_unique<Reader>(*this, std::move(connection), std::move(fields));
}

Status Auth0Client::ensure_token() {
  Result<std::string> t = impl_->current_token();
  return t.status();
}

std::uint64_t Auth0Client::requests() const {
  return impl_->api->attempts() + impl_->other_attempts.load();
}

std::uint64_t Auth0Client::tokens_fetched() const {
  return impl_->tokens.load();
}

Auth0ReadInfo Auth0Client::last_read() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->last;
}

}  // namespace concord
