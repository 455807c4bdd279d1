// The Mixpanel part's admin routes (docs/sandbox.md "The Mixpanel API", Admin routes): what
// people's behaviour and Mixpanel's own pages do to a project, which the Query API cannot (a cohort
// grows or shrinks, a profile's email changes, a cohort is created), and the knobs of the limits
// and sessions.
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "sandbox/mixpanel/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox::mixpanel {
namespace {

// The JSON body of an admin request, or the problem answer.
std::optional<ojson> read_body(const http::Request& req, http::Reply* problem) {
  ojson j = is_blank(req.body) ? ojson::object() : ojson::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    *problem = admin_problem(400, "JSON Parse Exception", "The request body is not valid JSON.");
    return std::nullopt;
  }
  return j;
}

http::Reply invalid(const std::string& detail) {
  return admin_problem(400, "Invalid Resource", detail);
}

http::Reply not_allowed(const char* methods) {
  return admin_problem(405, "Method Not Allowed", std::string("Use ") + methods + ".");
}

// The profile as /engage shows it, or {"$distinct_id":…,"deleted":true}.
void write_profile_result(JsonOut& o, const std::string& id, const std::optional<ojson>& props) {
  o.begin_object();
  o.key("$distinct_id");
  o.str(id);
  if (props) {
    o.key("$properties");
    o.value(*props);
  } else {
    o.key("deleted");
    o.boolean(true);
  }
  o.end_object();
}

}  // namespace

http::Reply MixpanelSandbox::admin(const http::Request& req, std::string_view path,
                                   const http::Peer& peer) {
  if (!peer.loopback) return admin_forbidden();
  if (path == "/_sandbox/faults") return admin_faults(req);
  std::vector<std::string> segs = path_segments(path);
  if (segs.size() >= 3 && segs[0] == "_sandbox" && segs[1] == "mixpanel") {
    if (segs[2] == "cohorts") return admin_cohorts(req, segs);
    if (segs[2] == "profiles" && segs.size() == 3) return admin_profiles(req);
    if (segs[2] == "limits") return admin_limits(req, segs);
    if (segs[2] == "sessions" && segs.size() == 3) return admin_sessions(req);
  }
  return admin_problem(404, "Resource Not Found",
                       "The requested resource could not be found: " + std::string(path));
}

http::Reply MixpanelSandbox::admin_faults(const http::Request& req) {
  if (req.method == "POST") {
    http::Reply problem;
    std::optional<ojson> body = read_body(req, &problem);
    if (!body) return problem;
    if (!body->is_object()) return invalid("expected a JSON object");
    std::string err = faults_.configure(*body);
    if (!err.empty()) return invalid(err);
  } else if (req.method != "GET") {
    return not_allowed("GET or POST");
  }
  return admin_json(200, faults_.to_json());
}

http::Reply MixpanelSandbox::admin_cohorts(const http::Request& req,
                                           const std::vector<std::string>& segs) {
  http::Reply problem;
  // POST /_sandbox/mixpanel/cohorts: a new cohort.
  if (segs.size() == 3) {
    if (req.method != "POST") return not_allowed("POST");
    std::optional<ojson> body = read_body(req, &problem);
    if (!body) return problem;
    const std::string created = now_civil();
    std::unique_lock<std::shared_mutex> lock(mu_);
    Cohort c;
    c.id = project_.cohorts.empty() ? 1 : project_.cohorts.rbegin()->first + 1;
    std::string err = read_cohort(*body, project_.project_id, created, &c);
    if (!err.empty()) return invalid(err);
    if (project_.cohorts.count(c.id)) {
      return invalid("id: " + std::to_string(c.id) + " is used already");
    }
    JsonOut o;
    write_cohort(o, c, project_.project_id, true);
    project_.cohorts.emplace(c.id, std::move(c));
    generation_.fetch_add(1);
    return plain_reply(200, std::move(o.buf), "application/json; charset=utf-8");
  }

  auto id = parse_int64(segs[3]);
  const bool members = segs.size() == 5 && segs[4] == "members";
  if (!id || (segs.size() != 4 && !members)) {
    return admin_problem(404, "Resource Not Found", "No such route under /_sandbox/mixpanel.");
  }
  std::optional<ojson> body;
  if (members) {
    if (req.method != "POST") return not_allowed("POST");
    body = read_body(req, &problem);
    if (!body) return problem;
  } else if (req.method != "DELETE") {
    return not_allowed("DELETE");
  }

  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = project_.cohorts.find(*id);
  if (it == project_.cohorts.end()) {
    return admin_problem(404, "Resource Not Found", "No cohort " + segs[3] + ".");
  }
  // DELETE /_sandbox/mixpanel/cohorts/{id}: the cohort is deleted in Mixpanel's pages.
  if (!members) {
    project_.cohorts.erase(it);
    generation_.fetch_add(1);
    http::Reply r;
    r.response.status = 204;
    return r;
  }
  // POST /_sandbox/mixpanel/cohorts/{id}/members {"add":[…],"remove":[…]}: people enter or leave
  // the cohort as their behaviour changes.
  if (!body->is_object()) return invalid("expected {\"add\": [distinct ids], \"remove\": […]}");
  std::vector<std::string> add, remove;
  for (auto [key, out] : {std::pair{"add", &add}, std::pair{"remove", &remove}}) {
    auto v = body->find(key);
    if (v == body->end()) continue;
    if (!v->is_array()) return invalid(std::string(key) + ": expected an array of distinct ids");
    for (std::size_t i = 0; i < v->size(); ++i) {
      const ojson& e = (*v)[i];
      if (!e.is_string() || !valid_distinct_id(e.get_ref<const std::string&>())) {
        return invalid(std::string(key) + "[" + std::to_string(i) +
                       "]: expected a non-empty string");
      }
      out->push_back(e.get<std::string>());
    }
  }
  for (auto k = body->begin(); k != body->end(); ++k) {
    if (k.key() != "add" && k.key() != "remove") return invalid(k.key() + ": unknown field");
  }
  Cohort& c = it->second;
  for (const std::string& m : remove)
    c.members.erase(m);
  for (std::string& m : add)
    c.members.insert(std::move(m));
  generation_.fetch_add(1);
  JsonOut o;
  write_cohort(o, c, project_.project_id, false);
  return plain_reply(200, std::move(o.buf), "application/json; charset=utf-8");
}

http::Reply MixpanelSandbox::admin_profiles(const http::Request& req) {
  // POST /_sandbox/mixpanel/profiles: an update, or a list of them, in the vocabulary of Mixpanel's
  // profile updates: {"$distinct_id", "$set": {…}, "$unset": […], "$delete": true}.
  if (req.method != "POST") return not_allowed("POST");
  http::Reply problem;
  std::optional<ojson> body = read_body(req, &problem);
  if (!body) return problem;
  const bool list = body->is_array();
  const ojson updates = list ? *body : ojson::array({*body});

  std::unique_lock<std::shared_mutex> lock(mu_);
  // Every update is checked before any is applied: a bad one changes nothing.
  std::map<std::string, std::optional<ojson>> staged;
  for (std::size_t i = 0; i < updates.size(); ++i) {
    const ojson& u = updates[i];
    const std::string at = list ? "[" + std::to_string(i) + "]" : "";
    auto bad = [&](const std::string& what) {
      return invalid(at.empty() ? what : at + (what.rfind("expected", 0) == 0 ? ": " : ".") + what);
    };
    if (!u.is_object()) return bad("expected an object");
    for (auto k = u.begin(); k != u.end(); ++k) {
      if (k.key() != "$distinct_id" && k.key() != "$set" && k.key() != "$unset" &&
          k.key() != "$delete") {
        return bad(k.key() + ": unknown field");
      }
    }
    auto idv = u.find("$distinct_id");
    if (idv == u.end() || !idv->is_string() ||
        !valid_distinct_id(idv->get_ref<const std::string&>())) {
      return bad("$distinct_id: expected a non-empty string");
    }
    const std::string id = idv->get<std::string>();
    std::optional<ojson> props;
    if (auto s = staged.find(id); s != staged.end()) {
      props = s->second;
    } else if (auto p = project_.profiles.find(id); p != project_.profiles.end()) {
      props = p->second;
    }
    if (u.contains("$delete")) {
      if (u.contains("$set") || u.contains("$unset")) {
        return bad("$delete: cannot be combined with $set or $unset");
      }
      props.reset();
    } else {
      if (!props) props = ojson::object();
      if (auto set = u.find("$set"); set != u.end()) {
        if (!set->is_object()) return bad("$set: expected an object");
        for (auto kv = set->begin(); kv != set->end(); ++kv)
          (*props)[kv.key()] = kv.value();
      }
      if (auto unset = u.find("$unset"); unset != u.end()) {
        if (!unset->is_array()) return bad("$unset: expected an array of property names");
        for (const ojson& name : *unset) {
          if (!name.is_string()) return bad("$unset: expected an array of property names");
          props->erase(name.get<std::string>());
        }
      }
      std::string err = check_properties(*props);
      if (!err.empty()) return bad("$set." + err);
    }
    staged[id] = std::move(props);
  }
  for (auto& [id, props] : staged) {
    if (props) {
      project_.profiles[id] = *props;
    } else {
      project_.profiles.erase(id);
    }
  }
  generation_.fetch_add(1);

  JsonOut o;
  if (list) o.begin_array();
  // Each update's answer: the profile after the whole request.
  for (std::size_t i = 0; i < updates.size(); ++i) {
    const std::string id = updates[i]["$distinct_id"].get<std::string>();
    write_profile_result(o, id, staged[id]);
  }
  if (list) o.end_array();
  return plain_reply(200, std::move(o.buf), "application/json; charset=utf-8");
}

http::Reply MixpanelSandbox::admin_limits(const http::Request& req,
                                          const std::vector<std::string>& segs) {
  const bool reset = segs.size() == 4 && segs[3] == "reset";
  if (segs.size() != 3 && !reset) {
    return admin_problem(404, "Resource Not Found", "No such route under /_sandbox/mixpanel.");
  }
  if (reset) {
    // POST /_sandbox/mixpanel/limits/reset: a new hour (the running queries keep running).
    if (req.method != "POST") return not_allowed("POST");
    limiter_.reset_hour();
  } else if (req.method == "POST") {
    // POST /_sandbox/mixpanel/limits {…}: changes the given limits (part of the state).
    http::Reply problem;
    std::optional<ojson> body = read_body(req, &problem);
    if (!body) return problem;
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::string err = read_limits(*body, &project_.limits);
    if (!err.empty()) return invalid(err);
    generation_.fetch_add(1);
  } else if (req.method != "GET") {
    return not_allowed("GET or POST");
  }
  RateLimiter::Refusal counts = limiter_.counts(now());
  ojson j = ojson::object();
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    j["limits"] = limits_json(project_.limits);
  }
  j["running"] = counts.running;
  j["last_hour"] = counts.last_hour;
  return admin_json(200, j);
}

http::Reply MixpanelSandbox::admin_sessions(const http::Request& req) {
  // DELETE /_sandbox/mixpanel/sessions: every /engage session expires now.
  if (req.method != "DELETE") return not_allowed("DELETE");
  const std::size_t n = sessions_.clear();
  return admin_json(200, ojson{{"expired", n}});
}

}  // namespace concord::sandbox::mixpanel
