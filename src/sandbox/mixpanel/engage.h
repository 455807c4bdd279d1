// POST /api/query/engage (and /api/2.0/engage): which profiles a query selects, and the page it
// answers (docs/sandbox.md "The Mixpanel API", Querying profiles and Paging).
//
// The first call (no session_id) computes the whole result and keeps it in a session; every page,
// the first included, is cut from the session's result, page_size profiles a page, pages numbered
// from 0. `total` (the whole result's size) is only on page 0. A page past the end is empty, which
// ends the reference's paging loop (`while len(results) >= page_size`). Properties are read when
// the page is written, so a profile changed meanwhile shows its new values.
//
// Thread-safety: pure functions; the caller keeps the project from changing meanwhile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "concord/status.h"
#include "sandbox/mixpanel/params.h"
#include "sandbox/mixpanel/project.h"
#include "sandbox/mixpanel/sessions.h"
#include "sandbox/mixpanel/where.h"

namespace concord::sandbox::mixpanel {

// What selects the profiles: the parameters a client repeats on every page of a session.
struct EngageFilter {
  std::optional<std::int64_t> cohort_id;  // filter_by_cohort {"id":N}
  bool include_all_users = true;          // with a cohort: members without a profile too
  std::string where_text;                 // "" for none
  std::optional<Where> where;
  std::optional<std::vector<std::string>> distinct_ids;  // distinct_id and distinct_ids, sorted

  // The filter as text, to tell whether a later page repeats the first one's.
  std::string key() const;
};

struct EngageRequest {
  EngageFilter filter;
  std::optional<std::vector<std::string>> output_properties;  // nullopt: every property
  std::string session_id;                                     // "" for none
  std::int64_t page = 0;
};

// Reads the parameters. Returns kInvalid with the text of the API's error answer.
Result<EngageRequest> read_engage(const Params& params);

// The distinct ids the filter selects, in distinct-id order. kNotFound naming the cohort when the
// project has no such cohort.
Result<std::vector<std::string>> select_profiles(const Project& project, const EngageFilter& f);

// The JSON answer of page `request.page` of `session` (whose id is `session_id`).
std::string engage_page(const Project& project, const EngageRequest& request,
                        const std::string& session_id, const EngageSession& session);

// "2021-09-23T02:07:08.189538+00:00": computed_at, to the microsecond, UTC.
std::string computed_at_text(Micros t);

}  // namespace concord::sandbox::mixpanel
