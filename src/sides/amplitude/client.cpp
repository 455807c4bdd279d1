#include "concord/amplitude_client.h"

#include "sides/answer_text.h"
#include "sides/json_answer.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "concord/parse.h"
#include "concord/time.h"
#include "sides/amplitude/csv_reader.h"

namespace concord {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kSinkBatch = 1000;  // people handed to the sink per call

using sides::find;

std::string string_or_empty(const json* v) {
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The transports' retries: connection failures and 5xx only. 429s are the client's to wait out;
// a 403 is an answer (wrong keys; an expired download URL), not a proxy's hiccup.
http::ClientOptions transport_options(http::ClientOptions http, std::size_t max_file_bytes) {
  auto inner = http.retry.retry_response ? http.retry.retry_response
                                         : std::function(http::default_retry_response);
  http.retry.retry_response = [inner](const http::Response& r) {
    return r.status >= 500 && r.status <= 599 && inner(r);
  };
  http.max_body_bytes = std::max(http.max_body_bytes, max_file_bytes);
  return http;
}

}  // namespace

struct AmplitudeClient::Impl {
  AmplitudeOptions options;
  std::unique_ptr<http::Client> http;
  http::Url api;     // the site root
  std::string auth;  // "Basic …"; never logged

  std::mutex mu;
  std::map<std::string, std::unique_ptr<http::Client>> downloads;  // by origin; guarded by mu

  std::uint64_t requests() {
    std::lock_guard<std::mutex> lock(mu);
    std::uint64_t n = http->attempts();
    for (const auto& [origin, c] : downloads)
      n += c->attempts();
    return n;
  }

  // Removes the keys from a text about to leave the client (a server could echo them).
  std::string redact(std::string text) const {
    return sides::redact(std::move(text), {&options.api_key, &options.secret_key, &auth});
  }

  // The answer's words: error.metadata.details (the one error shape on record), else the start of
  // the body.
  std::string error_text(const http::Response& r) const {
    json j = sides::parse_answer(r.body);
    const json* e = find(j, "error");
    std::string text;
    if (e != nullptr && e->is_string()) {
      text = e->get<std::string>();
    } else if (const json* d = e != nullptr ? find(*e, "metadata") : nullptr) {
      text = string_or_empty(find(*d, "details"));
    }
    if (text.empty()) text = r.body.substr(0, 200);
    if (text.size() > 400) text.resize(400);
    return redact(text);
  }

  Status api_error(const http::Response& r, const std::string& what) const {
    const std::string text = error_text(r);
    const std::string msg = what + ": HTTP " + std::to_string(r.status) + ": " + text;
    if (r.status == 401 || r.status == 403) {
      return Status::invalid(what + ": Amplitude refused the API key and secret key (HTTP " +
                             std::to_string(r.status) + ": " + text + ")");
    }
    if (r.status == 404) return Status::not_found(msg);
    if (r.status >= 500 || r.status == 429) return Status::unavailable(msg);
    return Status::invalid(msg);
  }

  // One GET of the API, 429s waited out as the options say; any other answer is returned.
  Result<http::Response> get(const std::string& target, const std::string& what) {
    http::Request req;
    req.method = "GET";
    req.target = api.path + target;
    req.headers.push_back({"Authorization", auth});
    req.headers.push_back({"Accept", "application/json, text/csv"});
    milliseconds waited{0};
    for (int attempt = 1;; ++attempt) {
      Result<http::Response> r = http->send(req);
      if (!r) return Status(r.status()).with_context(what);
      if (r->status != 429) return r;
      if (attempt >= options.rate_limit_attempts) {
        return Status::unavailable(
            what + ": Amplitude's limits refused it (HTTP 429) " + std::to_string(attempt) +
            " times, " + std::to_string(waited.count() / 1000) + " s waited: " + error_text(*r) +
            " (60 cohort exports per 10 minutes, 500 a month)");
      }
      milliseconds wait = options.rate_base_delay * (1 << std::min(attempt - 1, 10));
      if (Result<std::int64_t> s = parse_int64(r->header("Retry-After")); s && *s >= 0) {
        wait = std::max<milliseconds>(wait, std::chrono::seconds(*s));
      }
      std::this_thread::sleep_for(wait);
      waited += wait;
    }
  }

  // The client for a download URL's origin (made once per origin).
  Result<http::Client*> download_client(const http::Url& origin) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = downloads.find(origin.origin());
    if (it != downloads.end()) return it->second.get();
    Result<std::unique_ptr<http::Client>> c =
        http::Client::create(origin, transport_options(options.http, options.max_file_bytes));
    if (!c) return c.status().with_context("Amplitude download URL");
    http::Client* out = c->get();
    downloads.emplace(origin.origin(), std::move(*c));
    return out;
  }

  // GET of a download URL (absolute, or a path on the API's origin), without credentials: a
  // pre-signed URL carries its own, and S3 refuses a second. The URL's query (its signature) is
  // never quoted.
  Result<http::Response> download(std::string_view location) {
    std::string origin_text, target;
    const std::size_t scheme_end = location.find("://");
    if (scheme_end == std::string_view::npos) {
      if (location.empty() || location.front() != '/') {
        return Status::unavailable("Amplitude /file: the redirect's Location is not a URL");
      }
      origin_text = api.origin();
      target = std::string(location);
    } else {
      const std::size_t path = location.find_first_of("/?#", scheme_end + 3);
      origin_text = std::string(location.substr(0, path));
      target = path == std::string_view::npos ? "/" : std::string(location.substr(path));
      if (target.front() != '/') target.insert(0, "/");
    }
    const std::size_t hash = target.find('#');
    if (hash != std::string::npos) target.resize(hash);
    Result<http::Url> url = http::Url::parse(origin_text);
    if (!url) return url.status().with_context("Amplitude /file: the redirect's Location");
    Result<http::Client*> c = download_client(*url);
    if (!c) return c.status();
    http::Request req;
    req.method = "GET";
    req.target = target;
    Result<http::Response> r = (*c)->send(req);
    if (!r) return Status::unavailable(redact(r.status().message()));
    return r;
  }
};

// ---- the reader ---------------------------------------------------------------------------------

class AmplitudeClient::Reader final : public SourceReader {
 public:
  Reader(AmplitudeClient::Impl& im, std::string cohort, std::vector<std::string> fields)
      : im_(im), cohort_(std::move(cohort)), fields_(std::move(fields)) {}

  Status resolve() override;
  std::string set_name() const override { return name_; }
  Result<SideRead> read_all(SourceSink& sink) override;
  bool incremental() const override { return false; }
  Result<SideRead> read_since(Micros, SourceSink&) override {
    assert(false && "REQUIRES: incremental()");
    return Status::failed_precondition("an Amplitude cohort is read whole, not since a watermark");
  }
  std::uint64_t requests() const override { return im_.requests(); }

 private:
  // Asks for the export; its request id. *server_time gets the answer's Date (kNoTime: none).
  Result<std::string> request_export(Micros* server_time);
  // Polls until the export is done (OK), failed or too slow (errors).
  Status wait_for(const std::string& request_id);
  // The file's text, inline or downloaded.
  Result<std::string> file(const std::string& request_id);
  // Reads the CSV and hands its people to `sink`.
  Status read_csv(std::string_view text, SourceSink& sink, SideRead& read) const;

  AmplitudeClient::Impl& im_;
  std::string cohort_;
  std::vector<std::string> fields_;
  bool resolved_ = false;
  std::string id_;
  std::string name_;
};

Status AmplitudeClient::Reader::resolve() {
  if (resolved_) return Status::ok();
  const std::string what = "Amplitude /api/3/cohorts";
  Result<http::Response> r = im_.get("/api/3/cohorts", what);
  if (!r) return r.status();
  if (r->status != 200) return im_.api_error(*r, what);
  json answer = sides::parse_answer(r->body);
  const json* list = find(answer, "cohorts");
  if (list == nullptr || !list->is_array()) {
    return Status::unavailable(what + ": the answer has no cohorts list");
  }
  std::vector<sides::Named> cohorts;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& c = (*list)[i];
    const json* id = find(c, "id");
    const json* name = find(c, "name");
    const std::string at = what + ": cohorts[" + std::to_string(i) + "]";
    if (id == nullptr || !id->is_string() || id->get<std::string>().empty()) {
      return Status::unavailable(at + ".id is not a string");
    }
    if (name == nullptr || !name->is_string()) {
      return Status::unavailable(at + ".name is not a string");
    }
    cohorts.push_back({id->get<std::string>(), name->get<std::string>()});
  }
  Result<std::size_t> chosen =
      sides::choose_by_id_or_name(cohorts, cohort_, "Amplitude cohort", "Amplitude cohorts");
  if (!chosen) return chosen.status();
  id_ = cohorts[*chosen].id;
  name_ = cohorts[*chosen].name;
  resolved_ = true;
  return Status::ok();
}

Result<std::string> AmplitudeClient::Reader::request_export(Micros* server_time) {
  const std::string what = "Amplitude export request (cohort " + id_ + ")";
  std::string target = "/api/5/cohorts/request/" + http::url_encode(id_) +
                       "?props=1&propKeys=" + http::url_encode(im_.options.email_property);
  for (const std::string& f : fields_) {
    if (f != im_.options.email_property) target += "&propKeys=" + http::url_encode(f);
  }
  Result<http::Response> r = im_.get(target, what);
  if (!r) return r.status();
  Result<Micros> t = parse_http_date(r->header("Date"));
  *server_time = t ? *t : kNoTime;
  if (r->status != 202 && r->status != 200) return im_.api_error(*r, what);
  json answer = sides::parse_answer(r->body);
  const std::string id = string_or_empty(find(answer, "request_id"));
  if (id.empty()) return Status::unavailable(what + ": request_id is not a string");
  return id;
}

Status AmplitudeClient::Reader::wait_for(const std::string& request_id) {
  const std::string what = "Amplitude export status (cohort " + id_ + ")";
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + im_.options.export_timeout;
  milliseconds interval = im_.options.poll_interval;
  for (int polls = 1;; ++polls) {
    Result<http::Response> r =
        im_.get("/api/5/cohorts/request-status/" + http::url_encode(request_id), what);
    if (!r) return r.status();
    json answer = sides::parse_answer(r->body);
    const std::string state = string_or_empty(find(answer, "async_status"));
    if (r->status == 200 && state == "JOB COMPLETED") return Status::ok();
    if (r->status == 200) {
      return Status::unavailable(what + ": async_status is \"" + im_.redact(state) +
                                 "\", not \"JOB COMPLETED\"");
    }
    if (r->status != 202) {
      if (!state.empty()) {
        return Status::unavailable(what + ": the export failed (HTTP " + std::to_string(r->status) +
                                   ", async_status \"" + im_.redact(state) + "\")");
      }
      return im_.api_error(*r, what);
    }
    if (std::chrono::steady_clock::now() + interval > deadline) {
      return Status::unavailable(what + ": the export was not finished after " +
                                 std::to_string(polls) + " polls in " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                    std::chrono::steady_clock::now() - start)
                                                    .count()) +
                                 " s (export_timeout)");
    }
    std::this_thread::sleep_for(interval);
    interval = std::min(im_.options.max_poll_interval, interval * 3 / 2);
  }
}

Result<std::string> AmplitudeClient::Reader::file(const std::string& request_id) {
  const std::string what = "Amplitude export file (cohort " + id_ + ")";
  const std::string target = "/api/5/cohorts/request/" + http::url_encode(request_id) + "/file";
  for (int fresh = 1;; ++fresh) {
    Result<http::Response> r = im_.get(target, what);
    if (!r) return r.status();
    if (r->status == 200) return std::move(r->body);
    if (!is_redirect(r->status)) return im_.api_error(*r, what);
    const std::string location(r->header("Location"));
    if (location.empty()) {
      return Status::unavailable(what + ": HTTP " + std::to_string(r->status) +
                                 " without a Location");
    }
    Result<http::Response> d = im_.download(location);
    if (!d) return d.status().with_context(what + ": the download URL");
    if (d->status == 200) return std::move(d->body);
    // S3's pre-signed URL lives a minute: an expired one is asked for again through /file.
    const bool expired = d->status == 403 && d->body.find("expired") != std::string::npos;
    const std::string words = im_.redact(d->body.substr(0, 300));
    if (expired && fresh < im_.options.download_attempts) continue;
    const std::string msg =
        what + ": the download URL answered HTTP " + std::to_string(d->status) +
        (expired ? " (expired, " + std::to_string(fresh) + " URLs tried)" : "") + ": " + words;
    if (expired || d->status >= 500) return Status::unavailable(msg);
    return Status::invalid(msg);
  }
}

Status AmplitudeClient::Reader::read_csv(std::string_view text, SourceSink& sink,
                                         SideRead& read) const {
  const std::string what = "Amplitude export file (cohort " + id_ + ")";
  CsvReader csv(text);
  std::vector<std::string> row;
  Result<bool> got = csv.next(&row);
  if (!got) return Status::unavailable(what + ": " + got.status().message());
  if (!*got) return Status::unavailable(what + ": the file is empty (no header row)");
  const std::vector<std::string> header = row;
  auto column = [&header](const std::string& name) -> std::ptrdiff_t {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : it - header.begin();
  };
  auto missing = [&](const std::string& name) {
    std::string cols;
    for (const std::string& h : header)
      cols += (cols.empty() ? "" : ", ") + h;
    return Status::unavailable(what + ": the file has no \"" + name +
                               "\" column (columns: " + im_.redact(cols.substr(0, 300)) + ")");
  };
  const std::ptrdiff_t id_col = column(im_.options.id_column);
  if (id_col < 0) return missing(im_.options.id_column);
  const std::ptrdiff_t email_col = column(im_.options.email_property);
  if (email_col < 0) return missing(im_.options.email_property);
  std::vector<std::ptrdiff_t> field_cols;
  for (const std::string& f : fields_) {
    field_cols.push_back(column(f));
    if (field_cols.back() < 0) return missing(f);
  }
  std::vector<SourcePerson> page;
  page.reserve(kSinkBatch);
  auto hand_over = [&]() -> Status {
    if (page.empty()) return Status::ok();
    ++read.pages;
    Status s = sink.records(page);
    page.clear();
    return s;
  };
  for (;;) {
    got = csv.next(&row);
    if (!got) return Status::unavailable(what + ": " + got.status().message());
    if (!*got) break;
    const std::string line = "line " + std::to_string(csv.line());
    if (row.size() != header.size()) {
      sink.reject({line, "", "row",
                   "the row has " + std::to_string(row.size()) + " values, the header " +
                       std::to_string(header.size())});
      continue;
    }
    SourcePerson p;
    p.id = std::move(row[static_cast<std::size_t>(id_col)]);
    if (p.id.empty()) {
      sink.reject({line, row[static_cast<std::size_t>(email_col)], im_.options.id_column,
                   "the row has no " + im_.options.id_column});
      continue;
    }
    p.email = row[static_cast<std::size_t>(email_col)];
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      p.fields.emplace_back(fields_[i], row[static_cast<std::size_t>(field_cols[i])]);
    }
    page.push_back(std::move(p));
    if (page.size() >= kSinkBatch) {
      if (Status s = hand_over(); !s) return s;
    }
  }
  return hand_over();
}

Result<SideRead> AmplitudeClient::Reader::read_all(SourceSink& sink) {
  if (Status s = resolve(); !s) return s;
  const Micros local_start = system_clock().now();
  Micros server_start = kNoTime;
  Result<std::string> request_id = request_export(&server_start);
  if (!request_id) return request_id.status();
  if (Status s = wait_for(*request_id); !s) return s;
  Result<std::string> text = file(*request_id);
  if (!text) return text.status();
  SideRead read;
  if (Status s = read_csv(*text, sink, read); !s) return s;
  read.watermark = server_start != kNoTime ? server_start : local_start;
  return read;
}

// ---- the client ---------------------------------------------------------------------------------

AmplitudeClient::AmplitudeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AmplitudeClient::~AmplitudeClient() = default;

Result<std::unique_ptr<AmplitudeClient>> AmplitudeClient::create(
    AmplitudeOptions options, std::unique_ptr<http::Client> transport) {
  if (options.api_key.empty()) return Status::invalid("the Amplitude API key is empty");
  if (options.secret_key.empty()) return Status::invalid("the Amplitude secret key is empty");
  if (options.id_column != "amplitude_id" && options.id_column != "user_id") {
    return Status::invalid("the Amplitude id column \"" + options.id_column +
                           "\" is not amplitude_id or user_id");
  }
  if (options.email_property.empty()) {
    return Status::invalid("the Amplitude email property is empty");
  }
  std::string base = options.base_url;
  if (base.empty()) {
    if (options.region == "us") {
      base = "https://amplitude.com";
    } else if (options.region == "eu") {
      base = "https://analytics.eu.amplitude.com";
    } else {
      return Status::invalid("Amplitude region \"" + options.region + "\" is not us or eu");
    }
  }
  Result<http::Url> url = http::Url::parse(base);
  if (!url) return url.status().with_context("Amplitude base_url");
  options.rate_limit_attempts = std::max(1, options.rate_limit_attempts);
  options.download_attempts = std::max(1, options.download_attempts);
  if (options.poll_interval.count() < 1) options.poll_interval = milliseconds(1);
  options.max_poll_interval = std::max(options.max_poll_interval, options.poll_interval);
  auto impl = std::make_unique<Impl>();
  impl->api = *url;
  impl->auth = http::basic_authorization(options.api_key, options.secret_key);
  if (!transport) {
    Result<std::unique_ptr<http::Client>> c =
        http::Client::create(*url, transport_options(options.http, options.max_file_bytes));
    if (!c) return c.status().with_context("Amplitude connection");
    transport = std::move(*c);
  }
  impl->http = std::move(transport);
  impl->options = std::move(options);
  return std::unique_ptr<AmplitudeClient>(new AmplitudeClient(std::move(impl)));
}

std::unique_ptr<SourceReader> AmplitudeClient::reader(std::string cohort,
                                                      std::vector<std::string> fields) {
  return std::make_unique<Reader>(*impl_, std::move(cohort), std::move(fields));
}

std::uint64_t AmplitudeClient::requests() const {
  return impl_->requests();
}

}  // namespace concord
