// The Mixpanel part's data: one project, as the Query API sees it (docs/sandbox.md "The Mixpanel
// API"): its credentials, its cohorts with their members' distinct ids, its user profiles, and the
// limits it answers under. Also the readers and writers of a cohort, a profile and the limits that
// both the seed and the admin routes use, so that both check a value the same way.
//
// Thread-safety: plain data; the part keeps a Project behind its mutex. The functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/json_writer.h"

namespace concord::sandbox::mixpanel {

// The project of a sandbox started without a "mixpanel" object in its seed.
inline constexpr std::int64_t kDefaultProjectId = 1;
inline constexpr std::string_view kDefaultUsername = "sandbox.mp-service-account";
inline constexpr std::string_view kDefaultSecret = "sandbox-mixpanel-secret";

struct ServiceAccount {
  std::string username;
  std::string secret;
};

// What the project answers under (docs/sandbox.md "Rate limits"). 0 turns a limit off.
struct Limits {
  int queries_per_hour = 60;       // queries accepted per sliding hour (the Query API's 60/h)
  int concurrent_queries = 5;      // queries being answered at once (the Query API's 5)
  bool retry_after = false;        // whether a 429 carries Retry-After (the reference: "may")
  int page_size = 1000;            // profiles per /engage page, and the answer's page_size
  int session_ttl_seconds = 3600;  // an /engage session lives this long after its last use
};

struct Cohort {
  std::int64_t id = 0;
  std::string name;
  std::string description;
  std::string created;  // "YYYY-MM-DD HH:MM:SS", no zone, as the API shows it
  int is_visible = 1;   // 0 or 1
  // Distinct ids, with or without a profile (a cohort is computed from events too), in the order
  // the API lists them.
  std::set<std::string> members;
};

struct Project {
  std::int64_t project_id = kDefaultProjectId;
  std::vector<ServiceAccount> service_accounts;
  // The deprecated project secret ("" when the project has none); accepted until it is retired.
  std::string api_secret;
  // The status of a request whose credentials are missing or wrong: 400 (what Airbyte's connector
  // sees, with "Unable to authenticate request") or 401.
  int auth_error_status = 400;
  Limits limits;
  std::map<std::int64_t, Cohort> cohorts;
  std::map<std::string, ojson> profiles;  // distinct id -> $properties (an object)
};

// The project of an empty seed: the default id and service account, nothing else.
Project default_project();

// Reads a cohort object (the API's fields plus "members") into *out. `project_id` is the project's:
// a cohort naming another is refused. Without an id, *out keeps its id; without "created",
// `created_default`. Returns "" or the problem, its path relative to the cohort ("members[2]:
// expected a non-empty string").
std::string read_cohort(const ojson& j, std::int64_t project_id, std::string_view created_default,
                        Cohort* out);
// Reads {"$distinct_id", "$properties"}. Returns "" or the problem, as read_cohort.
std::string read_profile(const ojson& j, std::string* distinct_id, ojson* properties);
// Checks a profile's $properties: an object whose reserved values have the API's types ($email a
// string; $created and $last_seen "YYYY-MM-DDTHH:MM:SS", without zone). Returns "" or the problem,
// its path relative to the properties ("$last_seen: …").
std::string check_properties(const ojson& properties);
// Reads the keys of a "limits" object over *out (absent keys are kept). Returns "" or the problem.
std::string read_limits(const ojson& j, Limits* out);
// Whether `s` is a distinct id the part keeps: a non-empty string.
inline bool valid_distinct_id(std::string_view s) {
  return !s.empty();
}

// A cohort as /cohorts/list shows it: count, is_visible, description, created, project_id, id,
// name (the spec example's order).
void write_cohort(JsonOut& o, const Cohort& c, std::int64_t project_id, bool with_members);
void write_limits(JsonOut& o, const Limits& l);
ojson limits_json(const Limits& l);

}  // namespace concord::sandbox::mixpanel
