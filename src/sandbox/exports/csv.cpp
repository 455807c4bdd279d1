#include "sandbox/exports/csv.h"

#include <array>
#include <cstddef>

#include "sandbox/exports/ascii.h"
#include "sandbox/text.h"

namespace concord::sandbox::exports {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// The most frequent of `,` `;` and tab outside quotes on the first line (`,` when none is).
char guess_separator(std::string_view text) {
  constexpr std::array<char, 3> kSeparators = {',', ';', '\t'};
  std::array<int, 3> counts{};
  bool quoted = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && (c == '\n' || c == '\r')) {
      break;
    } else if (!quoted) {
      for (std::size_t i = 0; i < kSeparators.size(); ++i) {
        if (c == kSeparators[i]) ++counts[i];
      }
    }
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i < kSeparators.size(); ++i) {
    if (counts[i] > counts[best]) best = i;
  }
  return kSeparators[best];
}

enum class Step { kRecord, kBlank, kUnclosed, kEnd };

// Reads records one at a time, counting lines (a line ends at LF, CRLF or a lone CR; inside a
// quoted field only LF counts, as CR LF is one line end there too).
class Reader {
 public:
  Reader(std::string_view text, char separator) : t_(text), sep_(separator) {}

  Step next(std::vector<std::string>* fields, std::int64_t* start_line) {
    fields->clear();
    *start_line = line_;
    if (pos_ >= t_.size()) return Step::kEnd;
    if (t_[pos_] == '\n' || t_[pos_] == '\r') {
      end_line();
      return Step::kBlank;
    }
    for (;;) {
      std::string field;
      if (pos_ < t_.size() && t_[pos_] == '"') {
        ++pos_;
        bool closed = false;
        while (pos_ < t_.size()) {
          char c = t_[pos_];
          if (c == '"') {
            if (pos_ + 1 < t_.size() && t_[pos_ + 1] == '"') {
              field += '"';
              pos_ += 2;
              continue;
            }
            ++pos_;
            closed = true;
            break;
          }
          if (c == '\n') ++line_;
          field += c;
          ++pos_;
        }
        if (!closed) return Step::kUnclosed;
      }
      // Unquoted text, or what follows a closing quote before the separator (`"a"b` reads as
      // `ab`, as spreadsheet programs read it).
      while (pos_ < t_.size() && t_[pos_] != sep_ && t_[pos_] != '\n' && t_[pos_] != '\r') {
        field += t_[pos_++];
      }
      fields->push_back(std::move(field));
      if (pos_ >= t_.size()) return Step::kRecord;
      if (t_[pos_] == sep_) {
        ++pos_;
        continue;
      }
      end_line();
      return Step::kRecord;
    }
  }

 private:
  void end_line() {
    if (t_[pos_] == '\r' && pos_ + 1 < t_.size() && t_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  std::string_view t_;
  char sep_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

bool fields_utf8(const std::vector<std::string>& fields) {
  for (const std::string& f : fields) {
    if (!valid_utf8(f)) return false;
  }
  return true;
}

}  // namespace

int CsvTable::column(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (equal_ascii_ci(header[i], name)) return static_cast<int>(i);
  }
  return -1;
}

CsvTable read_csv(std::string_view text) {
  CsvTable table;
  if (text.substr(0, kBom.size()) == kBom) {
    table.had_bom = true;
    text.remove_prefix(kBom.size());
  }
  table.separator = guess_separator(text);
  Reader reader(text, table.separator);
  std::vector<std::string> fields;
  std::int64_t line = 0;
  bool have_header = false;
  for (;;) {
    Step step = reader.next(&fields, &line);
    if (step == Step::kEnd) break;
    if (step == Step::kBlank) continue;
    if (step == Step::kUnclosed) {
      table.problems.push_back({line, "a quoted field is not closed before the end of the file"});
      break;
    }
    if (!have_header) {
      have_header = true;
      if (!fields_utf8(fields)) table.problems.push_back({line, "the header is not UTF-8 text"});
      for (std::string& f : fields)
        table.header.push_back(trim(f));
      continue;
    }
    if (fields.size() != table.header.size()) {
      table.problems.push_back({line, "has " + std::to_string(fields.size()) +
                                          " fields where the header has " +
                                          std::to_string(table.header.size())});
      continue;
    }
    if (!fields_utf8(fields)) {
      table.problems.push_back({line, "is not UTF-8 text"});
      continue;
    }
    table.rows.push_back(CsvRecord{line, std::move(fields)});
    fields = {};
  }
  return table;
}

bool split_csv_line(std::string_view text, char separator, std::vector<std::string>* out) {
  out->clear();
  if (text.empty()) return true;
  Reader reader(text, separator);
  std::vector<std::string> fields;
  std::int64_t line = 0;
  for (;;) {
    Step step = reader.next(&fields, &line);
    if (step == Step::kEnd) return true;
    if (step == Step::kUnclosed) return false;
    // A line break inside an unquoted list starts another record: its names count too.
    for (std::string& f : fields)
      out->push_back(std::move(f));
  }
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace concord::sandbox::exports
