// What the export readers could not use, each named by its file and line (docs/sandbox.md
// "Starting from exports"): the sandbox starts with the rows it could read, and lists these on
// stderr and in its ready line, so that no row is dropped without a word.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace concord::sandbox::exports {

struct ExportProblem {
  std::string file;       // relative to the exports folder; "x.zip/y.csv" for a ZIP's entry
  std::int64_t line = 0;  // 1-based; 0 when the problem is the file as a whole
  std::string reason;

  // "file:line: reason", or "file: reason" for a whole file.
  std::string text() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + reason : file + ": " + reason;
  }
};

using ExportProblems = std::vector<ExportProblem>;

}  // namespace concord::sandbox::exports
