// What the one-way benchmarks (auth0, cohort) share: a run of the real `concord` binary
// (CONCORD_BIN) measured from outside, and the admin routes of a concord-sandbox started from a
// seed file (large seeds are streamed to a file by the benchmark, never held as one JSON value).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "concord/http.h"

namespace concord::bench {

struct ConcordRun {
  int code = -1;              // exit status; 128 + N when killed by signal N
  double wall_s = 0;          // from fork to exit
  double peak_rss_mb = 0;     // ru_maxrss of the child (wait4)
  nlohmann::json summary;     // the pair's `--json` object without its operation and report lists
  std::filesystem::path out;  // the whole stdout, kept beside the stderr (err) of a failed run
  std::filesystem::path err;
};

// Starts `CONCORD_BIN ARGS` in `dir` with exactly `env` ("NAME=value"; PATH is added), its
// stdout and stderr into the files named (the same file for both when they are equal); it is
// killed when this process dies. Dies when it cannot be started.
pid_t spawn_concord(const std::filesystem::path& dir, const std::vector<std::string>& args,
                    const std::vector<std::string>& env, const std::filesystem::path& out_file,
                    const std::filesystem::path& err_file);

// Runs `CONCORD_BIN ARGS` in `dir` with exactly `env` ("NAME=value"; PATH is added).
//
// The child's ru_maxrss also counts what it held before exec (a forked copy of this process), so
// the caller keeps itself small when it runs concord (streamed seeds, malloc_trim after parsing).
ConcordRun run_concord(const std::filesystem::path& dir, const std::vector<std::string>& args,
                       const std::vector<std::string>& env);

// The admin routes (docs/sandbox.md "Admin routes"), on the port of `url` (any part's).
class SandboxAdmin {
 public:
  SandboxAdmin(const std::string& url, const std::string& ca_file);

  // Sends `method target` with a JSON body (empty: none); dies unless the answer is 2xx.
  nlohmann::json call(const std::string& method, const std::string& target,
                      const std::string& body = "");
  void advance_clock(int seconds);

  // The next_seq of the request log: requests logged after it are counted from it.
  std::uint64_t log_mark();
  // The requests logged after `mark` that match `filter` ("part=auth0&method=POST&…", docs/
  // sandbox.md "The request log"), counted by the sandbox.
  std::uint64_t count_since(std::uint64_t mark, const std::string& filter);
  // Writes the requests logged after `mark` to stderr, counted by part, method, status and path
  // (without its query; a segment with a digit in it, an id, as `*`): where a run's calls went.
  void dump_log(std::uint64_t mark);

 private:
  std::unique_ptr<http::Client> client_;
};

}  // namespace concord::bench
