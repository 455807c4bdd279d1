// The "mixpanel" object of a seed or state document (docs/sandbox.md "Seed format"): reading it
// into a Project, checking every field, and writing a Project back in the same format, complete
// enough to reload exactly.
//
// Thread-safety: pure functions; write_project's caller keeps the project from changing meanwhile.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "concord/status.h"
#include "sandbox/json_writer.h"
#include "sandbox/mixpanel/project.h"

namespace concord::sandbox::mixpanel {

// Reads the object's JSON text (nullopt: the document has none, which gives default_project()).
// `now_civil` ("YYYY-MM-DD HH:MM:SS") dates a cohort that does not say when it was created.
// Returns kInvalid naming the field, e.g. "profiles[2].$distinct_id: expected a non-empty string".
Result<Project> parse_project(std::optional<std::string_view> object, std::string_view now_civil);

// The object, in the seed's format (profiles and members in distinct-id order).
void write_project(JsonOut& o, const Project& p);

// The counts a reset answers with: {"cohorts":n,"profiles":n}.
std::string project_counts(const Project& p);

}  // namespace concord::sandbox::mixpanel
