// The fields of a cohort as GET /api/3/cohorts lists them, in the listing's order (the
// Behavioral Cohorts API's COHORT_OBJECT), with what a seed may give for each and its default:
// one table, read by the seed reader, the admin route that creates cohorts and the writers of the
// listing and the state.
//
// Thread-safety: pure functions over constant data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sandbox/amplitude/project.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::amplitude {

// What a field holds.
enum class FieldKind : std::uint8_t {
  kId,            // a non-empty string, unique in the project
  kName,          // a string, required
  kText,          // a string or null
  kBool,          // true or false
  kInt,           // an integer (appId: the project's app_id by default)
  kSeconds,       // epoch seconds, at least 0 (default: now)
  kStrings,       // an array of strings
  kAny,           // any JSON value, echoed as given
  kSize,          // the members' count: derived, a seed may only repeat it
  kSyncMetadata,  // an array of objects, listed only with includeSyncInfo=true
};

struct CohortField {
  std::string_view key;
  FieldKind kind;
  std::string_view default_json;  // "" when derived or required
};

// The table (cohort_fields.cpp).
extern const CohortField kCohortFields[];
extern const std::size_t kCohortFieldCount;

// Builds a cohort from its seed object (the listed fields, any other field kept as given, and
// "members": amplitude ids of users of `project`). `path` names the object in errors, e.g.
// "amplitude.cohorts[2]". A missing "id" is an error unless `generate_id`, then it is drawn
// (unique). Returns "" or the problem naming the field; *out is set only on success. The cohort
// is not added to the project.
std::string read_cohort(const ojson& j, std::string_view path, const Project& project,
                        std::int64_t now, bool generate_id, std::mt19937_64* rng, Cohort* out);

// Writes the cohort as the listing shows it (sync metadata only when `sync_info`); with
// `with_members`, adds "members" (the state document and the admin answers).
void write_cohort(JsonOut& o, const Cohort& c, bool sync_info, bool with_members);

}  // namespace concord::sandbox::amplitude
