// A plan as `concord plan`, `sync` and `rehearse` print it, gathered while the engine makes it.
//
// A migration's plan can hold a million operations, so it is never kept whole: the listing
// keeps the first few of each list for the text output, and for --json spools every operation
// and report row to an unlinked temporary file (created 0600 by tmpfile(3), gone when closed),
// then copies them into the JSON document once the run is over.
//
// Thread-safety: one listing per run, used from one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "concord/plan.h"
#include "concord/status.h"

namespace concord::cli {

class PlanListing final : public PlanSink {
 public:
  // `keep`: operations and report rows kept for print_*(); `spool`: also spool all of them for
  // write_json_lists().
  PlanListing(std::size_t keep, bool spool);
  ~PlanListing() override;

  void operation(Operation&& op) override;
  void report(ReportRow&& row) override;
  void base_update(const MemberKey&, const std::optional<BaseRecord>&) override {}

  std::uint64_t operations() const { return operations_; }
  std::uint64_t report_rows() const { return report_rows_; }

  // The kept rows, then "… and N more" when there were more.
  void print_operations(std::FILE* out) const;
  void print_report_rows(std::FILE* out) const;

  // Writes `,\n  "operations": [...],\n  "report": [...]` (each element on its own line) to
  // `out`. kIoError when the spool could not be written or read.
  Status write_json_lists(std::FILE* out);

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const;
  };
  using File = std::unique_ptr<std::FILE, FileCloser>;

  static Status copy_list(std::FILE* from, std::uint64_t n, std::FILE* out);

  std::size_t keep_;
  std::vector<Operation> kept_ops_;
  std::vector<ReportRow> kept_rows_;
  std::uint64_t operations_ = 0, report_rows_ = 0;
  File ops_spool_, rows_spool_;
  bool spool_failed_ = false;
};

// The counts by outcome, as the five-people table names them.
void print_counts(const PlanCounts& counts, std::FILE* out);

}  // namespace concord::cli
