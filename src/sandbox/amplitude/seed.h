// Reading and writing the Amplitude part's object of a seed or state document (docs/sandbox.md
// "Seed format", the "amplitude" object): one codec, so that what write_project() writes,
// read_project() reads back to the same project.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "concord/status.h"
#include "sandbox/amplitude/project.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::amplitude {

// Builds a project from the JSON text of an "amplitude" object (nullopt or null: an empty
// project with the default keys). `now` (epoch seconds) stands in for missing cohort times.
// Returns kInvalid naming the field of the first problem, e.g. "amplitude.cohorts[1].members[0]:
// 7 is not the amplitude_id of a user".
Result<Project> read_project(std::optional<std::string_view> object, std::int64_t now);

// Writes the project as its "amplitude" object: keys, settings, users, cohorts with their
// members, and what the API has been asked (exports, download URLs, usage), so that a restart
// resumes where it was.
void write_project(JsonOut& o, const Project& p);

}  // namespace concord::sandbox::amplitude
