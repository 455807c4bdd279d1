#include "concord/mixpanel_client.h"

#include "sides/answer_text.h"
#include "sides/json_answer.h"

#include <algorithm>
#include <cassert>
#include <nlohmann/json.hpp>
#include <thread>

#include "concord/parse.h"
#include "concord/time.h"

namespace concord {
namespace {

using json = nlohmann::json;

// People handed to the sink per call, at most (one answer page is 1000).
constexpr std::size_t kSinkBatch = 1000;

// A property's value as SourcePerson::fields holds it: strings unquoted, null or absent as "",
// anything else as JSON writes it.
std::string text_of(const json* v) {
  if (v == nullptr || v->is_null()) return {};
  if (v->is_string()) return v->get<std::string>();
  return v->dump(-1, ' ', false, json::error_handler_t::replace);
}

using sides::find;

// "… 1/5 queries running concurrently and 61/60 queries running in the last hour …" (§2.5 of the
// reference's recorded 429): whether the hourly count is at or over its limit.
bool hourly_budget_spent(std::string_view error) {
  const std::string_view tail = " queries running in the last hour";
  const std::size_t at = error.find(tail);
  if (at == std::string_view::npos) return false;
  std::size_t start = at;
  while (start > 0 &&
         ((error[start - 1] >= '0' && error[start - 1] <= '9') || error[start - 1] == '/')) {
    --start;
  }
  const std::string_view counts = error.substr(start, at - start);  // "61/60"
  const std::size_t slash = counts.find('/');
  if (slash == std::string_view::npos) return false;
  Result<std::int64_t> used = parse_int64(counts.substr(0, slash));
  Result<std::int64_t> limit = parse_int64(counts.substr(slash + 1));
  return used && limit && *limit > 0 && *used > *limit;
}

}  // namespace

struct MixpanelClient::Impl {
  MixpanelOptions options;
  std::unique_ptr<http::Client> http;
  std::string base_path;  // e.g. "/api/query"
  std::string auth;       // "Basic …"; never logged

  // Removes the credentials from a text about to leave the client (a server could echo them).
  std::string redact(std::string text) const {
    return sides::redact(std::move(text), {&options.secret, &auth});
  }

  // The answer's error text ({"request":…,"error":"…"}), else the start of the body.
  std::string error_text(const http::Response& r) const {
    json j = sides::parse_answer(r.body);
    const json* e = find(j, "error");
    std::string text =
        e != nullptr && e->is_string() ? e->get<std::string>() : r.body.substr(0, 200);
    if (text.size() > 400) text.resize(400);
    return redact(text);
  }

  // One query: POST {base}/{endpoint}?project_id=N with a form body. 429s are waited out as the
  // options say; any other non-200 answer is an error; a 200 answer that is not JSON is
  // kUnavailable. `server_time`, when given, receives the answer's Date (kNoTime without one).
  Result<json> query(const std::string& endpoint, const std::string& form,
                     Micros* server_time = nullptr) {
    http::Request req;
    req.method = "POST";
    req.target = base_path + "/" + endpoint + "?project_id=" + std::to_string(options.project_id);
    if (!options.workspace_id.empty()) {
      req.target += "&workspace_id=" + http::url_encode(options.workspace_id);
    }
    req.headers.push_back({"Authorization", auth});
    req.headers.push_back({"Accept", "application/json"});
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.body = form;
    const std::string what = "Mixpanel " + endpoint;
    std::chrono::milliseconds waited{0};
    for (int attempt = 1;; ++attempt) {
      Result<http::Response> r = http->send(req);
      if (!r) return Status(r.status()).with_context(what);
      if (r->status == 429) {
        const std::string text = error_text(*r);
        std::chrono::milliseconds wait = options.rate_base_delay * (1 << std::min(attempt - 1, 10));
        bool server_named_wait = false;
        if (Result<std::int64_t> s = parse_int64(r->header("Retry-After")); s && *s >= 0) {
          wait = std::chrono::seconds(*s);
          server_named_wait = true;
        }
        const bool hourly = hourly_budget_spent(text);
        if (hourly && (!server_named_wait || wait > options.max_rate_wait)) {
          return Status::unavailable(
              what + ": the project's hourly query budget is exhausted (the Query API allows " +
              "60 queries an hour per project; Mixpanel answered 429: " + text +
              "); the next run will try again");
        }
        if (attempt >= options.rate_limit_attempts || wait > options.max_rate_wait) {
          return Status::unavailable(what + ": rate limited (HTTP 429) " + std::to_string(attempt) +
                                     " times, " + std::to_string(waited.count() / 1000) +
                                     " s waited: " + text);
        }
        std::this_thread::sleep_for(wait);
        waited += wait;
        continue;
      }
      if (server_time != nullptr) {
        Result<Micros> t = parse_http_date(r->header("Date"));
        *server_time = t ? *t : kNoTime;
      }
      if (r->status != 200) {
        const std::string text = error_text(*r);
        const std::string msg = what + ": HTTP " + std::to_string(r->status) + ": " + text;
        if (r->status == 401 || text.find("Unable to authenticate request") != std::string::npos) {
          return Status::invalid(what + ": Mixpanel refused the service account's credentials " +
                                 "(HTTP " + std::to_string(r->status) + ": " + text + ")");
        }
        if (r->status >= 500) return Status::unavailable(msg);
        // A paging session that expired (its lifetime is undocumented) mid-read: the cohort is
        // read again from page 0 by the next run.
        if (r->status == 400 && text.find("session_id") != std::string::npos &&
            form.find("&session_id=") != std::string::npos) {
          return Status::unavailable(msg + " (the paging session ended before the last page)");
        }
        return Status::invalid(msg);
      }
      json j = sides::parse_answer(r->body);
      if (j.is_discarded()) {
        return Status::unavailable(what + ": the answer is not JSON (" +
                                   std::to_string(r->body.size()) + " bytes)");
      }
      return j;
    }
  }
};

// ---- the reader ---------------------------------------------------------------------------------

class MixpanelClient::Reader final : public SourceReader {
 public:
  Reader(MixpanelClient::Impl& im, std::string cohort, std::vector<std::string> fields)
      : im_(im), cohort_(std::move(cohort)), fields_(std::move(fields)) {}

  Status resolve() override;
  std::string set_name() const override { return name_; }
  Result<SideRead> read_all(SourceSink& sink) override;
  bool incremental() const override { return false; }
  Result<SideRead> read_since(Micros, SourceSink&) override {
    assert(false && "REQUIRES: incremental()");
    return Status::failed_precondition("a Mixpanel cohort is read whole, not since a watermark");
  }
  std::uint64_t requests() const override { return im_.http->attempts(); }

 private:
  // Reads one answer's results into `out`, rejecting rows that cannot be people.
  Status read_results(const json& results, std::size_t page, std::vector<SourcePerson>& out,
                      SourceSink& sink) const;

  MixpanelClient::Impl& im_;
  std::string cohort_;
  std::vector<std::string> fields_;
  bool resolved_ = false;
  std::int64_t id_ = 0;
  std::string name_;
};

Status MixpanelClient::Reader::resolve() {
  if (resolved_) return Status::ok();
  const std::string what = "Mixpanel cohorts/list";
  Result<json> list = im_.query("cohorts/list", "");
  if (!list) return list.status();
  if (!list->is_array()) return Status::unavailable(what + ": the answer is not a list of cohorts");
  std::vector<sides::Named> cohorts;
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& c = (*list)[i];
    const json* id = find(c, "id");
    const json* name = find(c, "name");
    const std::string at = what + ": cohort [" + std::to_string(i) + "]";
    if (id == nullptr || !id->is_number_integer()) {
      return Status::unavailable(at + ".id is not an integer");
    }
    if (name == nullptr || !name->is_string()) {
      return Status::unavailable(at + ".name is not a string");
    }
    ids.push_back(id->get<std::int64_t>());
    cohorts.push_back({std::to_string(ids.back()), name->get<std::string>()});
  }
  // An id written with leading zeros is still that id.
  std::string wanted = cohort_;
  if (Result<std::int64_t> n = parse_int64(cohort_); n && *n >= 0) wanted = std::to_string(*n);
  Result<std::size_t> chosen = sides::choose_by_id_or_name(
      cohorts, wanted, "Mixpanel cohort of project " + std::to_string(im_.options.project_id),
      "Mixpanel cohorts");
  if (!chosen && wanted != cohort_) {
    chosen = sides::choose_by_id_or_name(
        cohorts, cohort_, "Mixpanel cohort of project " + std::to_string(im_.options.project_id),
        "Mixpanel cohorts");
  }
  if (!chosen) return chosen.status();
  id_ = ids[*chosen];
  name_ = cohorts[*chosen].name;
  resolved_ = true;
  return Status::ok();
}

Status MixpanelClient::Reader::read_results(const json& results, std::size_t page,
                                            std::vector<SourcePerson>& out,
                                            SourceSink& sink) const {
  for (std::size_t i = 0; i < results.size(); ++i) {
    const json& row = results[i];
    const json* id = find(row, "$distinct_id");
    const std::string where = "page " + std::to_string(page) + " result " + std::to_string(i);
    std::string id_text;
    if (id != nullptr && id->is_string()) {
      id_text = id->get<std::string>();
    } else if (id != nullptr && id->is_number_integer()) {
      id_text = id->dump();  // the spec's example has integer ids
    }
    if (id_text.empty()) {
      sink.reject({where, "", "$distinct_id", "the profile has no $distinct_id string"});
      continue;
    }
    const json* props = find(row, "$properties");
    if (props != nullptr && !props->is_object() && !props->is_null()) {
      sink.reject({id_text, "", "$properties", "$properties is not an object"});
      continue;
    }
    const json* email = props != nullptr ? find(*props, "$email") : nullptr;
    if (email != nullptr && !email->is_string() && !email->is_null()) {
      sink.reject({id_text, text_of(email), "$email", "$email is not a string"});
      continue;
    }
    SourcePerson p;
    p.id = std::move(id_text);
    p.email = text_of(email);
    for (const std::string& f : fields_) {
      p.fields.emplace_back(f, text_of(props != nullptr ? find(*props, f.c_str()) : nullptr));
    }
    out.push_back(std::move(p));
  }
  return Status::ok();
}

Result<SideRead> MixpanelClient::Reader::read_all(SourceSink& sink) {
  if (Status s = resolve(); !s) return s;
  const Micros local_start = system_clock().now();
  const std::string what = "Mixpanel engage (cohort " + std::to_string(id_) + ")";
  json props = json::array({"$email"});
  for (const std::string& f : fields_) {
    if (f != "$email") props.push_back(f);
  }
  // The same filter on every page (the session is refused otherwise).
  const std::string filter =
      "filter_by_cohort=" + http::url_encode(json({{"id", id_}}).dump()) + "&output_properties=" +
      http::url_encode(props.dump(-1, ' ', false, json::error_handler_t::replace)) +
      "&include_all_users=" + (im_.options.include_all_users ? "true" : "false");
  SideRead read;
  Micros server_start = kNoTime;
  std::string session;
  std::int64_t total = -1;  // page 0's total (absent on later pages)
  std::int64_t seen = 0;
  for (std::size_t page = 0;; ++page) {
    std::string form = filter;
    if (page > 0) {
      form += "&session_id=" + http::url_encode(session) + "&page=" + std::to_string(page);
    }
    Result<json> answer = im_.query("engage", form, page == 0 ? &server_start : nullptr);
    if (!answer) return answer.status().with_context("cohort \"" + name_ + "\"");
    const std::string at = what + ": page " + std::to_string(page);
    if (!answer->is_object()) return Status::unavailable(at + ": the answer is not an object");
    const json* status = find(*answer, "status");
    if (status != nullptr && !(status->is_string() && status->get<std::string>() == "ok")) {
      return Status::unavailable(at + ": status is " + text_of(status) + ", not \"ok\"");
    }
    const json* results = find(*answer, "results");
    if (results == nullptr || !results->is_array()) {
      return Status::unavailable(at + ": results is not a list");
    }
    const json* page_size = find(*answer, "page_size");
    if (page_size == nullptr || !page_size->is_number_integer() ||
        page_size->get<std::int64_t>() < 1) {
      return Status::unavailable(at + ": page_size is not a positive integer");
    }
    if (page == 0) {
      const json* sid = find(*answer, "session_id");
      if (sid == nullptr || !sid->is_string() || sid->get<std::string>().empty()) {
        return Status::unavailable(at + ": session_id is not a string");
      }
      session = sid->get<std::string>();
      const json* t = find(*answer, "total");
      if (t != nullptr) {
        if (!t->is_number_integer() || t->get<std::int64_t>() < 0) {
          return Status::unavailable(at + ": total is not a count");
        }
        total = t->get<std::int64_t>();
      }
    }
    ++read.pages;
    seen += static_cast<std::int64_t>(results->size());
    std::vector<SourcePerson> people;
    people.reserve(std::min(results->size(), kSinkBatch));
    if (Status s = read_results(*results, page, people, sink); !s) return s;
    if (!people.empty()) {
      if (Status s = sink.records(people); !s) return s;
    }
    const bool more = results->size() >= page_size->get<std::size_t>();
    if (!more) break;
    if (total >= 0 && seen >= total + page_size->get<std::int64_t>()) {
      // Full pages beyond what page 0 announced: not a cohort being read, a server looping.
      return Status::unavailable(at + ": more full pages than the " + std::to_string(total) +
                                 " profiles page 0 announced");
    }
  }
  if (total >= 0 && seen < total) {
    return Status::unavailable(what + ": " + std::to_string(seen) + " profiles read of the " +
                               std::to_string(total) +
                               " page 0 announced; a cut-short read is not the whole cohort");
  }
  read.watermark = server_start != kNoTime ? server_start : local_start;
  return read;
}

// ---- the client ---------------------------------------------------------------------------------

MixpanelClient::MixpanelClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MixpanelClient::~MixpanelClient() = default;

Result<std::unique_ptr<MixpanelClient>> MixpanelClient::create(
    MixpanelOptions options, std::unique_ptr<http::Client> transport) {
  if (options.project_id <= 0) return Status::invalid("the Mixpanel project_id is not set");
  if (options.service_account.empty()) {
    return Status::invalid("the Mixpanel service account (username) is empty");
  }
  if (options.secret.empty())
    return Status::invalid("the Mixpanel service account secret is empty");
  std::string base = options.base_url;
  if (base.empty()) {
    if (options.region == "us") {
      base = "https://mixpanel.com/api/query";
    } else if (options.region == "eu") {
      base = "https://eu.mixpanel.com/api/query";
    } else if (options.region == "in") {
      base = "https://in.mixpanel.com/api/query";
    } else {
      return Status::invalid("Mixpanel region \"" + options.region + "\" is not one of us, eu, in");
    }
  }
  Result<http::Url> url = http::Url::parse(base);
  if (!url) return url.status().with_context("Mixpanel base_url");
  // A base_url that is only a site (a proxy, the sandbox) serves the Query API at its usual path.
  if (url->path.empty() || url->path == "/") url->path = "/api/query";
  if (options.rate_limit_attempts < 1) options.rate_limit_attempts = 1;
  auto impl = std::make_unique<Impl>();
  impl->base_path = url->path;
  impl->auth = http::basic_authorization(options.service_account, options.secret);
  if (!transport) {
    http::ClientOptions http = options.http;
    // 429s are the client's to wait out (the hourly budget is not worth six quick retries).
    auto inner = http.retry.retry_response ? http.retry.retry_response
                                           : std::function(http::default_retry_response);
    http.retry.retry_response = [inner](const http::Response& r) {
      return r.status != 429 && r.status != 403 && inner(r);
    };
    Result<std::unique_ptr<http::Client>> c = http::Client::create(*url, std::move(http));
    if (!c) return c.status().with_context("Mixpanel connection");
    transport = std::move(*c);
  }
  impl->http = std::move(transport);
  impl->options = std::move(options);
  return std::unique_ptr<MixpanelClient>(new MixpanelClient(std::move(impl)));
}

std::unique_ptr<SourceReader> MixpanelClient::reader(std::string cohort,
                                                     std::vector<std::string> fields) {
  return std::make_unique<Reader>(*impl_, std::move(cohort), std::move(fields));
}

std::uint64_t MixpanelClient::requests() const {
  return impl_->http->attempts();
}

}  // namespace concord
