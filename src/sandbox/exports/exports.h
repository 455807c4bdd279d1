// concord-sandbox --from-exports DIR: the sandbox's starting state from the files people can
// download without an API key (docs/sandbox.md "Starting from exports"): Mailchimp's audience
// export (the ZIP, or its CSV files), CiviCRM's contact export, and a SearchKit download of the
// group's SubscriptionHistory. They are read into a seed document, which the sandbox loads as it
// loads --seed, so that `concord plan` and `concord sync` against it show what a migration of the
// real lists would do.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "concord/status.h"
#include "sandbox/exports/problems.h"

namespace concord::sandbox::exports {

struct ExportsOptions {
  // Headers of the Mailchimp columns that are interest categories (groups). The export does not
  // tell them from merge fields; columns not named here are merge fields.
  std::vector<std::string> interest_columns;
};

// What the files gave, for the ready line and the messages.
struct ExportSummary {
  struct Audience {
    std::string id, name;
    std::int64_t members = 0;
  };
  struct Group {
    std::int64_t id = 0;
    std::string title;
    std::int64_t added = 0, history_rows = 0;
  };
  std::vector<std::string> files;  // the files read, as named in problems
  std::vector<Audience> audiences;
  std::vector<Group> groups;
  std::string main_group;  // the title of the group the downloads are about, "" when none
  std::int64_t contacts = 0, history_rows = 0;
};

struct LoadedExports {
  std::string seed;         // a seed document (docs/sandbox.md "Seed format")
  ExportProblems problems;  // rows and files not used, by file and line
  ExportSummary summary;
};

// Reads the exports under `dir`. Returns kNotFound naming `dir` when it is not a folder, and
// kInvalid naming `dir` (and what was found there) when it holds no file that is one of the
// exports, or when the interest columns named hold more interests than an audience can have.
// Unreadable rows do not fail it: they are in `problems`.
Result<LoadedExports> load_exports(const std::string& dir, const ExportsOptions& options);

// The ready line's "exports" object: the summary, the first `max_problems` problems as
// {"file","line","reason"} under "unreadable", and their number under "unreadable_count".
std::string ready_object(const LoadedExports& loaded, std::size_t max_problems);

}  // namespace concord::sandbox::exports
