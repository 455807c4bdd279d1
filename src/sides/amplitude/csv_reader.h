// A streaming reader of CSV text (RFC 4180): one record at a time from text held elsewhere, so that
// a million-row cohort file is never held as rows.
//
// Fields are separated by ',' and records end in CRLF or LF (the last one may end the text
// instead). A field in double quotes may hold commas, quotes (doubled) and line breaks. Blank lines
// are skipped. A UTF-8 byte order mark at the start is dropped.
//
// Thread-safety: one reader per thread; the text must outlive the reader.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"

namespace concord {

class CsvReader {
 public:
  explicit CsvReader(std::string_view text);

  // Reads the next record into *fields (replacing them). Returns true with a record, false at the
  // end of the text; kInvalid naming the line for a quoted value that is not closed, or text
  // after a closing quote.
  Result<bool> next(std::vector<std::string>* fields);

  // The line (1-based) on which the record last read began.
  std::size_t line() const { return record_line_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t record_line_ = 0;
};

}  // namespace concord
