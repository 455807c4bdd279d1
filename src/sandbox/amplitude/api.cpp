// The Behavioral Cohorts API's routes (docs/sandbox.md "The Amplitude cohort API").
#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "net/ascii.h"
#include "sandbox/amplitude/auth.h"
#include "sandbox/amplitude/cohort_fields.h"
#include "sandbox/amplitude/replies.h"
#include "sandbox/amplitude/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox::amplitude {
namespace {

// The value of every pair named `name`, in order.
std::vector<std::string> pair_values(const Pairs& pairs, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : pairs) {
    if (k == name) out.push_back(v);
  }
  return out;
}

// GET /api/3/cohorts[?includeSyncInfo=true][&cohortIds=a,b]
http::Reply list_cohorts(Site& site, const Pairs& query) {
  const bool sync_info = http::ascii::iequals(pair_value(query, "includeSyncInfo"), "true");
  // Amplitude's own SDK filters with cohortIds, joined by ", ".
  std::vector<std::string> only;
  for (const std::string& v : pair_values(query, "cohortIds")) {
    std::size_t pos = 0;
    while (pos <= v.size()) {
      std::size_t comma = v.find(',', pos);
      if (comma == std::string::npos) comma = v.size();
      std::string id = trim(std::string_view(v).substr(pos, comma - pos));
      if (!id.empty()) only.push_back(std::move(id));
      pos = comma + 1;
    }
  }
  JsonOut o;
  o.begin_object();
  o.key("cohorts");
  o.begin_array();
  {
    std::lock_guard<std::mutex> lock(site.mu);
    for (const Cohort& c : site.project.cohorts) {
      if (!only.empty() && std::find(only.begin(), only.end(), c.id()) == only.end()) continue;
      write_cohort(o, c, sync_info, false);
    }
  }
  o.end_array();
  o.end_object();
  return api_json(200, std::move(o.buf));
}

// GET /api/5/cohorts/request/{cohort_id}[?props=1][&propKeys=email…]
http::Reply request_export(Site& site, const std::string& cohort_id, const Pairs& query) {
  bool has_props = false;
  std::string_view props = pair_value(query, "props", &has_props);
  if (has_props && props != "0" && props != "1") {
    return api_error({400, "Invalid value for props: expected 0 or 1"});
  }
  Columns columns;
  columns.props = props == "1";
  // propKeys choose among the properties that props=1 includes; without props they add nothing.
  if (columns.props) columns.keys = pair_values(query, "propKeys");
  // `lastComputed` (sent by Amplitude's SDK) does not change the answer: ignored.
  std::lock_guard<std::mutex> lock(site.mu);
  auto r = site.project.request_export(cohort_id, columns, site.now(), site.rng);
  if (const ApiError* e = std::get_if<ApiError>(&r)) return api_error(*e);
  site.changed();
  const Export& e = *std::get<Export*>(r);
  JsonOut o;
  o.begin_object();
  o.key("request_id");
  o.str(e.request_id);
  o.key("cohort_id");
  o.str(e.cohort_id);
  o.end_object();
  return api_json(202, std::move(o.buf));
}

http::Reply status_answer(int status, const Export& e, std::string_view async_status) {
  JsonOut o;
  o.begin_object();
  o.key("request_id");
  o.str(e.request_id);
  o.key("cohort_id");
  o.str(e.cohort_id);
  o.key("async_status");
  o.str(async_status);
  o.end_object();
  return api_json(status, std::move(o.buf));
}

ApiError unknown_request(std::string_view request_id) {
  return {404, "Request " + std::string(request_id) + " not found"};
}

// GET /api/5/cohorts/request-status/{request_id}
http::Reply request_status(Site& site, const std::string& request_id) {
  std::lock_guard<std::mutex> lock(site.mu);
  const Export* e = site.project.poll(request_id, site.now());
  if (e == nullptr) return api_error(unknown_request(request_id));
  site.changed();
  switch (e->state) {
    case ExportState::kCompleted:
      return status_answer(200, *e, "JOB COMPLETED");
    case ExportState::kFailed:
      // Not a documented status: "any other status is an error", so the SDK gives up.
      return status_answer(500, *e, "JOB FAILED");
    case ExportState::kInProgress:
      break;
  }
  return status_answer(202, *e, "JOB INPROGRESS");
}

// GET /api/5/cohorts/request/{request_id}/file
http::Reply download_file(Site& site, const http::Request& req, const std::string& request_id) {
  std::lock_guard<std::mutex> lock(site.mu);
  Project& p = site.project;
  const std::int64_t now = site.now();
  Export* e = p.find_export(request_id);
  if (e == nullptr || !p.file_valid(*e, now)) return api_error(unknown_request(request_id));
  if (e->state == ExportState::kFailed) {
    return api_error({500, "Cohort request " + request_id + " failed"});
  }
  if (!p.ready(*e, now)) {
    return api_error({400, "Cohort request " + request_id + " is not complete: JOB INPROGRESS"});
  }
  if (e->state != ExportState::kCompleted) {
    e->state = ExportState::kCompleted;
    site.changed();
  }
  Download mode = e->download.value_or(p.settings.download);
  if (mode == Download::kAuto) {
    mode = static_cast<std::int64_t>(e->csv.size()) <= p.settings.inline_max_bytes
               ? Download::kInline
               : Download::kRedirect;
  }
  if (mode == Download::kInline) return plain_reply(200, e->csv, "text/csv");
  const Link& link = p.issue_link(*e, now, site.rng);
  site.changed();
  http::Reply r = plain_reply(302, "", "text/plain");
  r.response.headers.push_back({"Location", link_url(p, link, req.header("Host"))});
  return r;
}

}  // namespace

http::Reply api(Site& site, const http::Request& req, std::string_view path, const Pairs& query) {
  const std::vector<std::string> segs = path_segments(path);
  if (segs.empty() || segs[0] != "api") return api_error({404, "Not found"});
  std::string api_key, secret_key;
  {
    std::lock_guard<std::mutex> lock(site.mu);
    api_key = site.project.api_key;
    secret_key = site.project.secret_key;
  }
  if (auto err = check_basic_auth(req.header("Authorization"), api_key, secret_key)) {
    return api_error(*err);
  }
  const bool cohorts5 = segs.size() >= 5 && segs[1] == "5" && segs[2] == "cohorts";
  const bool known =
      (segs.size() == 3 && segs[1] == "3" && segs[2] == "cohorts") ||
      (cohorts5 && segs.size() == 5 && (segs[3] == "request" || segs[3] == "request-status")) ||
      (cohorts5 && segs.size() == 6 && segs[3] == "request" && segs[5] == "file");
  if (!known) return api_error({404, "Not found"});
  if (req.method != "GET" && req.method != "HEAD") {
    return api_error({405, "Method " + req.method + " not allowed"});
  }
  if (segs.size() == 3) return list_cohorts(site, query);
  if (segs.size() == 6) return download_file(site, req, segs[4]);
  if (segs[3] == "request") return request_export(site, segs[4], query);
  return request_status(site, segs[4]);
}

}  // namespace concord::sandbox::amplitude
