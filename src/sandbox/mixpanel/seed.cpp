#include "sandbox/mixpanel/seed.h"

#include <algorithm>
#include <utility>

namespace concord::sandbox::mixpanel {
namespace {

// A problem found inside an element: `what` is relative to it ("name: expected …", or "expected
// an object" for the element itself).
Status bad_in(const std::string& element, const std::string& what) {
  if (what.find(": ") == std::string::npos) return Status::invalid(element + ": " + what);
  return Status::invalid(element + "." + what);
}

}  // namespace

Result<Project> parse_project(std::optional<std::string_view> object, std::string_view now_civil) {
  Project p = default_project();
  if (!object) return p;
  ojson j = ojson::parse(*object, nullptr, false);
  if (j.is_discarded()) return Status::invalid("expected a JSON object");
  if (!j.is_object()) return Status::invalid("expected an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    static constexpr std::string_view kKeys[] = {
        "project_id", "service_accounts", "api_secret", "auth_error_status",
        "limits",     "cohorts",          "profiles"};
    bool known = false;
    for (std::string_view k : kKeys)
      known = known || it.key() == k;
    if (!known) return Status::invalid(it.key() + ": unknown field");
  }

  if (auto it = j.find("project_id"); it != j.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
      return Status::invalid("project_id: expected a positive integer");
    }
    p.project_id = it->get<std::int64_t>();
  }
  if (auto it = j.find("service_accounts"); it != j.end()) {
    if (!it->is_array()) return Status::invalid("service_accounts: expected an array");
    p.service_accounts.clear();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const ojson& a = (*it)[i];
      const std::string at = "service_accounts[" + std::to_string(i) + "]";
      if (!a.is_object()) return Status::invalid(at + ": expected an object");
      for (auto k = a.begin(); k != a.end(); ++k) {
        if (k.key() != "username" && k.key() != "secret") {
          return Status::invalid(at + "." + k.key() + ": unknown field");
        }
      }
      ServiceAccount sa;
      for (auto [key, out] :
           {std::pair{"username", &sa.username}, std::pair{"secret", &sa.secret}}) {
        auto v = a.find(key);
        if (v == a.end() || !v->is_string() || v->get_ref<const std::string&>().empty()) {
          return Status::invalid(at + "." + key + ": expected a non-empty string");
        }
        *out = v->get<std::string>();
      }
      // A colon would make "username:secret" ambiguous in the Basic credentials.
      if (sa.username.find(':') != std::string::npos) {
        return Status::invalid(at + ".username: must not contain ':'");
      }
      for (const ServiceAccount& other : p.service_accounts) {
        if (other.username == sa.username) {
          return Status::invalid(at + ".username: \"" + sa.username + "\" is listed twice");
        }
      }
      p.service_accounts.push_back(std::move(sa));
    }
  }
  if (auto it = j.find("api_secret"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
        it->get_ref<const std::string&>().find(':') != std::string::npos) {
      return Status::invalid("api_secret: expected a non-empty string without ':', or null");
    }
    p.api_secret = it->get<std::string>();
  }
  if (auto it = j.find("auth_error_status"); it != j.end()) {
    if (!it->is_number_integer() ||
        (it->get<std::int64_t>() != 400 && it->get<std::int64_t>() != 401)) {
      return Status::invalid("auth_error_status: expected 400 or 401");
    }
    p.auth_error_status = it->get<int>();
  }
  if (auto it = j.find("limits"); it != j.end()) {
    std::string err = read_limits(*it, &p.limits);
    if (!err.empty()) return bad_in("limits", err);
  }
  if (auto it = j.find("cohorts"); it != j.end()) {
    if (!it->is_array()) return Status::invalid("cohorts: expected an array");
    std::int64_t next_id = 1;
    for (const ojson& c : *it) {
      if (c.is_object() && c.contains("id") && c["id"].is_number_integer()) {
        next_id = std::max(next_id, c["id"].get<std::int64_t>() + 1);
      }
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string at = "cohorts[" + std::to_string(i) + "]";
      Cohort c;
      c.id = 0;
      std::string err = read_cohort((*it)[i], p.project_id, now_civil, &c);
      if (!err.empty()) return bad_in(at, err);
      if (c.id == 0) c.id = next_id++;  // ids are optional, as in the other parts' seeds
      if (p.cohorts.count(c.id)) {
        return Status::invalid(at + ".id: " + std::to_string(c.id) + " is used twice");
      }
      p.cohorts.emplace(c.id, std::move(c));
    }
  }
  if (auto it = j.find("profiles"); it != j.end()) {
    if (!it->is_array()) return Status::invalid("profiles: expected an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string at = "profiles[" + std::to_string(i) + "]";
      std::string id;
      ojson props;
      std::string err = read_profile((*it)[i], &id, &props);
      if (!err.empty()) return bad_in(at, err);
      if (!p.profiles.emplace(id, std::move(props)).second) {
        return Status::invalid(at + ".$distinct_id: \"" + id + "\" is used twice");
      }
    }
  }
  return p;
}

void write_project(JsonOut& o, const Project& p) {
  o.begin_object();
  o.key("project_id");
  o.integer(p.project_id);
  o.key("service_accounts");
  o.begin_array();
  for (const ServiceAccount& sa : p.service_accounts) {
    o.begin_object();
    o.key("username");
    o.str(sa.username);
    o.key("secret");
    o.str(sa.secret);
    o.end_object();
  }
  o.end_array();
  o.key("api_secret");
  if (p.api_secret.empty()) {
    o.null();
  } else {
    o.str(p.api_secret);
  }
  o.key("auth_error_status");
  o.integer(p.auth_error_status);
  o.key("limits");
  write_limits(o, p.limits);
  o.key("cohorts");
  o.begin_array();
  for (const auto& [id, c] : p.cohorts)
    write_cohort(o, c, p.project_id, true);
  o.end_array();
  o.key("profiles");
  o.begin_array();
  for (const auto& [id, props] : p.profiles) {
    o.begin_object();
    o.key("$distinct_id");
    o.str(id);
    o.key("$properties");
    o.value(props);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

std::string project_counts(const Project& p) {
  return "{\"cohorts\":" + std::to_string(p.cohorts.size()) +
         ",\"profiles\":" + std::to_string(p.profiles.size()) + "}";
}

}  // namespace concord::sandbox::mixpanel
