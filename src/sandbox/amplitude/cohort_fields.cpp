#include "sandbox/amplitude/cohort_fields.h"

#include <set>

namespace concord::sandbox::amplitude {

// The order and defaults of the Behavioral Cohorts API's COHORT_OBJECT and its sample listing.
// The definition's default is the sample's shape with no clauses.
const CohortField kCohortFields[] = {
    {"appId", FieldKind::kInt, ""},
    {"archived", FieldKind::kBool, "false"},
    {"definition", FieldKind::kAny,
     R"({"version":3,"countGroup":{"name":"User","is_computed":false},"cohortType":"UNIQUES",)"
     R"("andClauses":[],"referenceFrameTimeParams":{}})"},
    {"description", FieldKind::kText, "\"\""},
    {"finished", FieldKind::kBool, "true"},
    {"id", FieldKind::kId, ""},
    {"name", FieldKind::kName, ""},
    {"owners", FieldKind::kStrings, "[]"},
    {"viewers", FieldKind::kStrings, "[]"},
    {"published", FieldKind::kBool, "true"},
    {"size", FieldKind::kSize, ""},
    {"type", FieldKind::kText, "\"redshift\""},
    {"lastMod", FieldKind::kSeconds, ""},
    {"createdAt", FieldKind::kSeconds, ""},
    {"lastComputed", FieldKind::kSeconds, ""},
    {"hidden", FieldKind::kBool, "false"},
    {"metadata", FieldKind::kAny, "null"},
    {"view_count", FieldKind::kAny, "null"},
    {"popularity", FieldKind::kAny, "null"},
    {"last_viewed", FieldKind::kAny, "null"},
    {"chart_id", FieldKind::kAny, "null"},
    {"edit_id", FieldKind::kAny, "null"},
    {"is_predictive", FieldKind::kBool, "false"},
    {"is_official_content", FieldKind::kBool, "false"},
    {"location_id", FieldKind::kAny, "null"},
    {"shortcut_ids", FieldKind::kAny, "[]"},
    {"syncMetadata", FieldKind::kSyncMetadata, "[]"},
};
const std::size_t kCohortFieldCount = std::size(kCohortFields);

namespace {

bool is_field(std::string_view key) {
  for (const CohortField& f : kCohortFields) {
    if (f.key == key) return true;
  }
  return false;
}

// "" or what is wrong with `v` as a value of `kind`.
std::string check_kind(FieldKind kind, const ojson& v) {
  switch (kind) {
    case FieldKind::kId:
      return v.is_string() && !v.get<std::string>().empty() ? "" : "expected a non-empty string";
    case FieldKind::kName:
      return v.is_string() ? "" : "expected a string";
    case FieldKind::kText:
      return v.is_string() || v.is_null() ? "" : "expected a string or null";
    case FieldKind::kBool:
      return v.is_boolean() ? "" : "expected true or false";
    case FieldKind::kInt:
      return v.is_number_integer() ? "" : "expected an integer";
    case FieldKind::kSeconds:
      return v.is_number_integer() && v.get<std::int64_t>() >= 0
                 ? ""
                 : "expected epoch seconds (an integer)";
    case FieldKind::kStrings:
      if (!v.is_array()) return "expected an array of strings";
      for (const auto& s : v) {
        if (!s.is_string()) return "expected an array of strings";
      }
      return "";
    case FieldKind::kSyncMetadata:
      if (!v.is_array()) return "expected an array of objects";
      for (const auto& s : v) {
        if (!s.is_object()) return "expected an array of objects";
      }
      return "";
    case FieldKind::kAny:
    case FieldKind::kSize:
      return "";
  }
  return "";
}

}  // namespace

std::string read_cohort(const ojson& j, std::string_view path, const Project& project,
                        std::int64_t now, bool generate_id, std::mt19937_64* rng, Cohort* out) {
  const std::string at = std::string(path);
  if (!j.is_object()) return at + ": expected an object";
  Cohort c;
  for (const CohortField& f : kCohortFields) {
    const std::string key(f.key);
    auto it = j.find(key);
    if (f.kind == FieldKind::kSize) continue;  // checked against the members below
    if (it == j.end()) {
      switch (f.kind) {
        case FieldKind::kId: {
          if (!generate_id || rng == nullptr) return at + ".id: required";
          std::string id;
          do {
            id = random_id(*rng, 7, kCohortIdChars);
          } while (project.cohort(id) != nullptr);
          c.api[key] = id;
          break;
        }
        case FieldKind::kName:
          return at + ".name: required";
        case FieldKind::kInt:
          c.api[key] = project.app_id;
          break;
        case FieldKind::kSeconds:
          c.api[key] = now;
          break;
        default:
          c.api[key] = ojson::parse(f.default_json);
      }
      continue;
    }
    if (std::string err = check_kind(f.kind, *it); !err.empty()) return at + "." + key + ": " + err;
    if (f.kind == FieldKind::kId && project.cohort(it->get<std::string>()) != nullptr) {
      return at + ".id: \"" + it->get<std::string>() + "\" is already the id of another cohort";
    }
    c.api[key] = *it;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "members" && !is_field(it.key())) c.api[it.key()] = it.value();
  }
  if (auto it = j.find("members"); it != j.end()) {
    if (!it->is_array()) return at + ".members: expected an array of amplitude ids";
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const ojson& m = (*it)[i];
      const std::string mat = at + ".members[" + std::to_string(i) + "]";
      if (!m.is_number_integer()) return mat + ": expected an amplitude id (an integer)";
      std::int64_t id = m.get<std::int64_t>();
      if (project.users.count(id) == 0) {
        return mat + ": " + std::to_string(id) + " is not the amplitude_id of a user";
      }
      if (!seen.insert(id).second) return mat + ": " + std::to_string(id) + " is listed twice";
      c.members.push_back(id);
    }
  }
  if (auto it = j.find("size"); it != j.end()) {
    if (!it->is_number_integer() ||
        it->get<std::int64_t>() != static_cast<std::int64_t>(c.members.size())) {
      return at + ".size: " + it->dump() + ", but the cohort has " +
             std::to_string(c.members.size()) + " members (size is their count)";
    }
  }
  *out = std::move(c);
  return "";
}

void write_cohort(JsonOut& o, const Cohort& c, bool sync_info, bool with_members) {
  o.begin_object();
  for (auto it = c.api.begin(); it != c.api.end(); ++it) {
    if (it.key() == "syncMetadata" && !sync_info) continue;
    o.key(it.key());
    o.value(it.value());
    // The listing's order puts the derived size after "published".
    if (it.key() == "published") {
      o.key("size");
      o.integer(static_cast<std::int64_t>(c.members.size()));
    }
  }
  if (with_members) {
    o.key("members");
    o.begin_array();
    for (std::int64_t m : c.members)
      o.integer(m);
    o.end_array();
  }
  o.end_object();
}

}  // namespace concord::sandbox::amplitude
