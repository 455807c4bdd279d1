// The CSV reader of the export files (docs/sandbox.md "Starting from exports"): RFC 4180 records
// (quoted fields with separators, line breaks and doubled quotes), CRLF or LF line ends, a UTF-8
// byte-order mark before the header, and the separator guessed from the header line, because
// CiviCRM's is a site setting (`,` by default, `;` on some sites).
//
// Every record knows the line it starts on, so that a row that cannot be read is reported as
// "file:line: reason". Rows the reader itself cannot use (a field count other than the header's,
// text that is not UTF-8, a quoted field never closed) are returned as problems, not as rows.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace concord::sandbox::exports {

struct CsvRecord {
  std::int64_t line = 0;  // 1-based line on which the record starts
  std::vector<std::string> fields;
};

struct CsvProblem {
  std::int64_t line = 0;
  std::string reason;
};

struct CsvTable {
  bool had_bom = false;
  char separator = ',';
  std::vector<std::string> header;  // trimmed of surrounding spaces
  std::vector<CsvRecord> rows;      // each with exactly header.size() fields
  std::vector<CsvProblem> problems;

  // The index of the column whose header is `name` (ASCII case ignored), or -1.
  int column(std::string_view name) const;
};

// Reads a whole file. Blank lines (no characters at all) are not rows. A file without a header
// line gives an empty table.
CsvTable read_csv(std::string_view text);

// Splits one line of text as a CSV record with `separator` (the same quoting rules); used for the
// cells that are themselves lists of quoted names, such as Mailchimp's TAGS. Returns false when a
// quoted field is not closed.
bool split_csv_line(std::string_view text, char separator, std::vector<std::string>* out);

// Whether `s` is valid UTF-8 (no overlong forms, no surrogates).
bool valid_utf8(std::string_view s);

}  // namespace concord::sandbox::exports
