// The Amplitude part's admin routes (docs/sandbox.md "The Amplitude cohort API", "Admin routes"):
// what happens in Amplitude's web app and in the users' apps, which the cohort API cannot do
// (cohorts recomputed, users' properties changing), and the switches tests need (download mode,
// URLs expiring, an export failing). Answers and errors are the admin routes' (http_helpers.h).
#include <algorithm>
#include <string>
#include <vector>

#include "sandbox/amplitude/cohort_fields.h"
#include "sandbox/amplitude/routing.h"

namespace concord::sandbox::amplitude {
namespace {

constexpr std::string_view kPrefix = "/_sandbox/amplitude/";

http::Reply invalid(const std::string& detail) {
  return admin_problem(400, "Invalid Resource", detail);
}

http::Reply not_found(std::string_view what) {
  return admin_problem(404, "Resource Not Found", std::string(what));
}

http::Reply method_not_allowed(std::string_view allowed) {
  return admin_problem(405, "Method Not Allowed", "Use " + std::string(allowed) + ".");
}

http::Reply json_text(int status, std::string body) {
  return plain_reply(status, std::move(body), "application/json; charset=utf-8");
}

// The request's body as a JSON object (an empty body is {}); nullopt after setting *bad.
std::optional<ojson> object_body(const http::Request& req, http::Reply* bad) {
  if (is_blank(req.body)) return ojson::object();
  ojson j = ojson::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *bad = admin_problem(400, "JSON Parse Exception", "The body is not a JSON object.");
    return std::nullopt;
  }
  return j;
}

void write_user(JsonOut& o, const User& u) {
  o.begin_object();
  o.key("amplitude_id");
  o.integer(u.amplitude_id);
  o.key("user_id");
  if (u.user_id) {
    o.str(*u.user_id);
  } else {
    o.null();
  }
  o.key("user_properties");
  o.value(u.properties);
  o.end_object();
}

void write_export(JsonOut& o, const Project& p, const Export& e, std::int64_t now) {
  o.begin_object();
  o.key("request_id");
  o.str(e.request_id);
  o.key("cohort_id");
  o.str(e.cohort_id);
  o.key("requested_at");
  o.integer(e.requested_at);
  o.key("in_progress_answers");
  o.integer(e.in_progress_answers);
  o.key("state");
  o.str(kExportStateNames[static_cast<std::size_t>(e.state)]);
  o.key("ready");
  o.boolean(p.ready(e, now));
  o.key("download");
  if (e.download) {
    o.str(download_name(*e.download));
  } else {
    o.null();
  }
  o.key("rows");
  o.integer(e.rows);
  o.key("download_urls");
  o.integer(std::count_if(p.links.begin(), p.links.end(),
                          [&](const Link& l) { return l.request_id == e.request_id; }));
  o.end_object();
}

// The amplitude id a member reference names: an integer (amplitude_id) or a string (user_id).
std::optional<std::int64_t> member_ref(const Project& p, const ojson& ref) {
  if (ref.is_number_integer()) {
    std::int64_t id = ref.get<std::int64_t>();
    if (p.users.count(id) != 0) return id;
  } else if (ref.is_string()) {
    if (const User* u = p.user_named(ref.get<std::string>())) return u->amplitude_id;
  }
  return std::nullopt;
}

// POST /_sandbox/amplitude/cohorts/{id}/members {"add":[…],"remove":[…]}
http::Reply change_members(Site& site, const std::string& cohort_id, const ojson& body) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "add" && it.key() != "remove") return invalid(it.key() + ": unknown key");
    if (!it->is_array())
      return invalid(it.key() + ": expected an array of amplitude ids or user ids");
  }
  std::lock_guard<std::mutex> lock(site.mu);
  Project& p = site.project;
  Cohort* c = p.cohort(cohort_id);
  if (c == nullptr) return not_found("No cohort with id " + cohort_id);
  std::vector<std::int64_t> members = c->members;
  for (const char* op : {"remove", "add"}) {
    auto list = body.find(op);
    if (list == body.end()) continue;
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto id = member_ref(p, (*list)[i]);
      if (!id) {
        return invalid(std::string(op) + "[" + std::to_string(i) + "]: " + (*list)[i].dump() +
                       " is not a user's amplitude_id or user_id");
      }
      auto at = std::find(members.begin(), members.end(), *id);
      if (op[0] == 'a' && at == members.end()) members.push_back(*id);
      if (op[0] == 'r' && at != members.end()) members.erase(at);
    }
  }
  p.set_members(c, std::move(members), site.now());
  site.changed();
  JsonOut o;
  write_cohort(o, *c, true, true);
  return json_text(200, std::move(o.buf));
}

// POST /_sandbox/amplitude/cohorts: a new cohort, from an object of the seed's format.
http::Reply create_cohort(Site& site, const ojson& body) {
  std::lock_guard<std::mutex> lock(site.mu);
  Project& p = site.project;
  Cohort c;
  std::string err = read_cohort(body, "cohort", p, site.now(), true, &site.rng, &c);
  if (!err.empty()) return invalid(err);
  p.cohorts.push_back(std::move(c));
  site.changed();
  JsonOut o;
  write_cohort(o, p.cohorts.back(), true, true);
  return json_text(201, std::move(o.buf));
}

// POST /_sandbox/amplitude/users: creates or updates a user (see docs/sandbox.md).
http::Reply upsert_user(Site& site, const ojson& body) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (k != "amplitude_id" && k != "user_id" && k != "user_properties" &&
        k != "replace_properties") {
      return invalid(k + ": unknown key");
    }
  }
  auto amp = body.find("amplitude_id");
  auto uid = body.find("user_id");
  auto props = body.find("user_properties");
  auto replace = body.find("replace_properties");
  if (amp != body.end() && (!amp->is_number_integer() || amp->get<std::int64_t>() < 1)) {
    return invalid("amplitude_id: expected an integer of at least 1");
  }
  if (uid != body.end() && !uid->is_string() && !uid->is_null()) {
    return invalid("user_id: expected a string or null");
  }
  if (props != body.end() && !props->is_object())
    return invalid("user_properties: expected an object");
  if (replace != body.end() && !replace->is_boolean()) {
    return invalid("replace_properties: expected true or false");
  }
  if (amp == body.end() &&
      (uid == body.end() || !uid->is_string() || uid->get<std::string>().empty())) {
    return invalid("amplitude_id: required (or a user_id to find the user by)");
  }
  std::lock_guard<std::mutex> lock(site.mu);
  Project& p = site.project;
  User* u = nullptr;
  bool created = false;
  if (amp != body.end()) {
    auto it = p.users.find(amp->get<std::int64_t>());
    if (it != p.users.end()) u = &it->second;
  } else if (const User* named = p.user_named(uid->get<std::string>())) {
    u = &p.users.at(named->amplitude_id);
  }
  std::optional<std::string> new_user_id;
  const bool sets_user_id = uid != body.end() && (amp != body.end() || u == nullptr);
  if (sets_user_id && uid->is_string() && !uid->get<std::string>().empty()) {
    new_user_id = uid->get<std::string>();
    const User* other = p.user_named(*new_user_id);
    if (other != nullptr && other != u) {
      return invalid("user_id: \"" + *new_user_id + "\" is the user_id of amplitude_id " +
                     std::to_string(other->amplitude_id));
    }
  }
  if (u == nullptr) {
    // A new user: the given amplitude id, else the next after the highest.
    std::int64_t id = amp != body.end() ? amp->get<std::int64_t>()
                      : p.users.empty() ? 100000001
                                        : p.users.rbegin()->first + 1;
    u = &p.users[id];
    u->amplitude_id = id;
    created = true;
  }
  if (sets_user_id) u->user_id = new_user_id;
  if (props != body.end()) {
    if (replace != body.end() && replace->get<bool>()) u->properties = ojson::object();
    // Amplitude's $set and $unset: a value sets the property, null removes it.
    for (auto it = props->begin(); it != props->end(); ++it) {
      if (it->is_null()) {
        u->properties.erase(it.key());
      } else {
        u->properties[it.key()] = it.value();
      }
    }
  }
  site.changed();
  JsonOut o;
  write_user(o, *u);
  return json_text(created ? 201 : 200, std::move(o.buf));
}

// POST /_sandbox/amplitude/exports/{request_id} {"download":…,"fail":true,"complete":true}
http::Reply change_export(Site& site, const std::string& request_id, const ojson& body) {
  std::optional<std::optional<Download>> download;
  bool fail = false, complete = false;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (k == "download") {
      if (it->is_null()) {
        download.emplace(std::nullopt);
      } else {
        auto d = it->is_string() ? parse_download(it->get<std::string>()) : std::nullopt;
        if (!d) return invalid("download: expected \"auto\", \"inline\", \"redirect\" or null");
        download.emplace(*d);
      }
    } else if (k == "fail" || k == "complete") {
      if (!it->is_boolean()) return invalid(k + ": expected true or false");
      (k == "fail" ? fail : complete) = it->get<bool>();
    } else {
      return invalid(k + ": unknown key");
    }
  }
  if (fail && complete) return invalid("fail, complete: only one of the two");
  std::lock_guard<std::mutex> lock(site.mu);
  Project& p = site.project;
  Export* e = p.find_export(request_id);
  if (e == nullptr) return not_found("No export with request_id " + request_id);
  if (download) e->download = *download;
  if (fail) e->state = ExportState::kFailed;
  if (complete) e->state = ExportState::kCompleted;
  site.changed();
  JsonOut o;
  write_export(o, p, *e, site.now());
  return json_text(200, std::move(o.buf));
}

http::Reply faults_route(Site& site, const http::Request& req) {
  if (req.method == "POST") {
    http::Reply bad;
    auto body = object_body(req, &bad);
    if (!body) return bad;
    std::string err = site.faults.configure(*body);
    if (!err.empty()) return invalid(err);
  } else if (req.method != "GET") {
    return method_not_allowed("GET or POST");
  }
  return admin_json(200, site.faults.to_json());
}

}  // namespace

void AmplitudeFaults::write(ojson& j) const {
  FaultConfig::write(j);
  j["part"] = "amplitude";
}

http::Reply admin(Site& site, const http::Request& req, std::string_view path) {
  if (path == "/_sandbox/faults") return faults_route(site, req);
  if (path.rfind(kPrefix, 0) != 0) {
    return not_found("The requested resource could not be found: " + std::string(path));
  }
  const std::vector<std::string> segs = path_segments(path.substr(kPrefix.size()));
  const bool get = req.method == "GET", post = req.method == "POST";
  http::Reply bad;
  std::optional<ojson> body;
  if (post) {
    body = object_body(req, &bad);
    if (!body) return bad;
  }
  const std::string route = segs.empty() ? "" : segs[0];
  if (route == "settings" && segs.size() == 1) {
    if (!get && !post) return method_not_allowed("GET or POST");
    std::lock_guard<std::mutex> lock(site.mu);
    if (post) {
      std::string err = read_settings(*body, "", &site.project.settings);
      if (!err.empty()) return invalid(err);
      site.changed();
    }
    JsonOut o;
    write_settings(o, site.project.settings);
    return json_text(200, std::move(o.buf));
  }
  if (route == "cohorts" && segs.size() == 1) {
    if (post) return create_cohort(site, *body);
    if (!get) return method_not_allowed("GET or POST");
    std::lock_guard<std::mutex> lock(site.mu);
    JsonOut o;
    o.begin_object();
    o.key("cohorts");
    o.begin_array();
    for (const Cohort& c : site.project.cohorts)
      write_cohort(o, c, true, true);
    o.end_array();
    o.end_object();
    return json_text(200, std::move(o.buf));
  }
  if (route == "cohorts" && segs.size() == 3 && segs[2] == "members") {
    if (!post) return method_not_allowed("POST");
    return change_members(site, segs[1], *body);
  }
  if (route == "users" && segs.size() == 1) {
    if (post) return upsert_user(site, *body);
    if (!get) return method_not_allowed("GET or POST");
    std::lock_guard<std::mutex> lock(site.mu);
    JsonOut o;
    o.begin_object();
    o.key("users");
    o.begin_array();
    for (const auto& [id, u] : site.project.users)
      write_user(o, u);
    o.end_array();
    o.end_object();
    return json_text(200, std::move(o.buf));
  }
  if (route == "exports" && segs.size() == 1) {
    if (!get) return method_not_allowed("GET");
    std::lock_guard<std::mutex> lock(site.mu);
    const std::int64_t now = site.now();
    JsonOut o;
    o.begin_object();
    o.key("exports");
    o.begin_array();
    for (const Export& e : site.project.exports)
      write_export(o, site.project, e, now);
    o.end_array();
    o.end_object();
    return json_text(200, std::move(o.buf));
  }
  if (route == "exports" && segs.size() == 2) {
    if (!post) return method_not_allowed("POST");
    return change_export(site, segs[1], *body);
  }
  if (route == "download-urls" && segs.size() == 2 && segs[1] == "expire") {
    if (!post) return method_not_allowed("POST");
    std::lock_guard<std::mutex> lock(site.mu);
    std::int64_t n = site.project.expire_links(site.now());
    site.changed();
    return admin_json(200, ojson{{"expired", n}});
  }
  return not_found("The requested resource could not be found: " + std::string(path));
}

}  // namespace concord::sandbox::amplitude
