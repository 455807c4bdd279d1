#include "sandbox/mixpanel/project.h"

#include <initializer_list>

#include "concord/time.h"

namespace concord::sandbox::mixpanel {
namespace {

// Whether `j` has only keys among `known`; else the first other key, as "name: unknown field".
std::string unknown_key(const ojson& j, std::initializer_list<std::string_view> known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (std::string_view k : known)
      ok = ok || it.key() == k;
    if (!ok) return it.key() + ": unknown field";
  }
  return "";
}

// "YYYY-MM-DD<sep>HH:MM:SS" exactly, a real date and time.
bool civil_text_ok(std::string_view s, char sep) {
  if (s.size() != 19 || s[10] != sep) return false;
  std::string spaced(s);
  spaced[10] = ' ';
  auto t = parse_civil(spaced);
  return t.is_ok() && format_civil(*t) == spaced;
}

// An integer of int's range, or the problem.
std::string read_int(const ojson& j, const char* key, int lo, int hi, int* out) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (!it->is_number_integer() || it->get<std::int64_t>() < lo || it->get<std::int64_t>() > hi) {
    return std::string(key) + ": expected an integer " + std::to_string(lo) + "-" +
           std::to_string(hi);
  }
  *out = it->get<int>();
  return "";
}

}  // namespace

Project default_project() {
  Project p;
  p.service_accounts.push_back({std::string(kDefaultUsername), std::string(kDefaultSecret)});
  return p;
}

std::string read_cohort(const ojson& j, std::int64_t project_id, std::string_view created_default,
                        Cohort* out) {
  if (!j.is_object()) return "expected an object";
  std::string err = unknown_key(
      j, {"id", "name", "description", "created", "is_visible", "count", "project_id", "members"});
  if (!err.empty()) return err;
  if (auto it = j.find("id"); it != j.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
      return "id: expected a positive integer";
    }
    out->id = it->get<std::int64_t>();
  }
  auto it = j.find("name");
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return "name: expected a non-empty string";
  }
  out->name = it->get<std::string>();
  if (it = j.find("description"); it != j.end()) {
    if (!it->is_string()) return "description: expected a string";
    out->description = it->get<std::string>();
  }
  out->created = std::string(created_default);
  if (it = j.find("created"); it != j.end()) {
    if (!it->is_string() || !civil_text_ok(it->get_ref<const std::string&>(), ' ')) {
      return "created: expected \"YYYY-MM-DD HH:MM:SS\" (no zone)";
    }
    out->created = it->get<std::string>();
  }
  if (it = j.find("is_visible"); it != j.end()) {
    // The API writes 0 or 1; a seed may say true or false.
    if (it->is_boolean()) {
      out->is_visible = it->get<bool>() ? 1 : 0;
    } else if (it->is_number_integer() &&
               (it->get<std::int64_t>() == 0 || it->get<std::int64_t>() == 1)) {
      out->is_visible = it->get<int>();
    } else {
      return "is_visible: expected 0 or 1";
    }
  }
  if (it = j.find("project_id"); it != j.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() != project_id) {
      return "project_id: expected the project's id, " + std::to_string(project_id);
    }
  }
  out->members.clear();
  if (it = j.find("members"); it != j.end()) {
    if (!it->is_array()) return "members: expected an array of distinct ids";
    for (std::size_t i = 0; i < it->size(); ++i) {
      const ojson& m = (*it)[i];
      if (!m.is_string() || !valid_distinct_id(m.get_ref<const std::string&>())) {
        return "members[" + std::to_string(i) + "]: expected a non-empty string";
      }
      if (!out->members.insert(m.get<std::string>()).second) {
        return "members[" + std::to_string(i) + "]: " + m.dump() + " is listed twice";
      }
    }
  }
  // `count` is the API's view of the members: a seed that gives both must agree with itself.
  if (it = j.find("count"); it != j.end()) {
    if (!it->is_number_integer() ||
        it->get<std::int64_t>() != static_cast<std::int64_t>(out->members.size())) {
      return "count: expected the number of members, " + std::to_string(out->members.size());
    }
  }
  return "";
}

std::string check_properties(const ojson& properties) {
  if (!properties.is_object()) return "expected an object";
  if (auto it = properties.find("$email"); it != properties.end() && !it->is_string()) {
    return "$email: expected a string";
  }
  for (const char* k : {"$created", "$last_seen"}) {
    auto it = properties.find(k);
    if (it == properties.end()) continue;
    if (!it->is_string() || !civil_text_ok(it->get_ref<const std::string&>(), 'T')) {
      return std::string(k) + ": expected \"YYYY-MM-DDTHH:MM:SS\" (project time, no zone)";
    }
  }
  return "";
}

std::string read_profile(const ojson& j, std::string* distinct_id, ojson* properties) {
  if (!j.is_object()) return "expected an object";
  std::string err = unknown_key(j, {"$distinct_id", "$properties"});
  if (!err.empty()) return err;
  auto it = j.find("$distinct_id");
  if (it == j.end() || !it->is_string() || !valid_distinct_id(it->get_ref<const std::string&>())) {
    return "$distinct_id: expected a non-empty string";
  }
  *distinct_id = it->get<std::string>();
  *properties = ojson::object();
  if (it = j.find("$properties"); it != j.end()) {
    err = check_properties(*it);
    if (!err.empty()) return "$properties" + std::string(err[0] == '$' ? "." : ": ") + err;
    *properties = *it;
  }
  return "";
}

std::string read_limits(const ojson& j, Limits* out) {
  if (!j.is_object()) return "expected an object";
  std::string err = unknown_key(j, {"queries_per_hour", "concurrent_queries", "retry_after",
                                    "page_size", "session_ttl_seconds"});
  if (!err.empty()) return err;
  Limits l = *out;
  for (const std::string& e :
       {read_int(j, "queries_per_hour", 0, 1000000, &l.queries_per_hour),
        read_int(j, "concurrent_queries", 0, 100000, &l.concurrent_queries),
        read_int(j, "page_size", 1, 1000000, &l.page_size),
        read_int(j, "session_ttl_seconds", 1, 100000000, &l.session_ttl_seconds)}) {
    if (!e.empty()) return e;
  }
  if (auto it = j.find("retry_after"); it != j.end()) {
    if (!it->is_boolean()) return "retry_after: expected true or false";
    l.retry_after = it->get<bool>();
  }
  *out = l;
  return "";
}

void write_cohort(JsonOut& o, const Cohort& c, std::int64_t project_id, bool with_members) {
  o.begin_object();
  o.key("count");
  o.integer(static_cast<std::int64_t>(c.members.size()));
  o.key("is_visible");
  o.integer(c.is_visible);
  o.key("description");
  o.str(c.description);
  o.key("created");
  o.str(c.created);
  o.key("project_id");
  o.integer(project_id);
  o.key("id");
  o.integer(c.id);
  o.key("name");
  o.str(c.name);
  if (with_members) {
    o.key("members");
    o.begin_array();
    for (const std::string& m : c.members)
      o.str(m);
    o.end_array();
  }
  o.end_object();
}

ojson limits_json(const Limits& l) {
  ojson j = ojson::object();
  j["queries_per_hour"] = l.queries_per_hour;
  j["concurrent_queries"] = l.concurrent_queries;
  j["retry_after"] = l.retry_after;
  j["page_size"] = l.page_size;
  j["session_ttl_seconds"] = l.session_ttl_seconds;
  return j;
}

void write_limits(JsonOut& o, const Limits& l) {
  o.value(limits_json(l));
}

}  // namespace concord::sandbox::mixpanel
