#include "sides/amplitude/csv_reader.h"

namespace concord {

CsvReader::CsvReader(std::string_view text) : text_(text) {
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
}

Result<bool> CsvReader::next(std::vector<std::string>* fields) {
  for (;;) {
    fields->clear();
    if (pos_ >= text_.size()) return false;
    record_line_ = line_;
    for (;;) {  // one field a turn
      std::string value;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ++pos_;
        for (;;) {
          const std::size_t quote = text_.find('"', pos_);
          if (quote == std::string_view::npos) {
            return Status::invalid("line " + std::to_string(record_line_) +
                                   ": a quoted value is not closed before the end of the file");
          }
          const std::string_view part = text_.substr(pos_, quote - pos_);
          for (char c : part) {
            if (c == '\n') ++line_;
          }
          value.append(part);
          pos_ = quote + 1;
          if (pos_ < text_.size() && text_[pos_] == '"') {  // "" inside quotes: one quote
            value.push_back('"');
            ++pos_;
            continue;
          }
          break;
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
            !(text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') &&
            !(text_[pos_] == '\r' && pos_ + 1 == text_.size())) {
          return Status::invalid("line " + std::to_string(line_) +
                                 ": text after the closing quote of a value");
        }
      } else {
        std::size_t end = text_.find_first_of(",\n", pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::size_t stop = end;
        if (stop > pos_ && text_[stop - 1] == '\r' &&
            (stop == text_.size() || text_[stop] == '\n')) {
          --stop;  // CRLF
        }
        value.assign(text_.substr(pos_, stop - pos_));
        pos_ = end;
      }
      fields->push_back(std::move(value));
      if (pos_ >= text_.size()) break;
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '\r') ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '\n') {
        ++pos_;
        ++line_;
      }
      break;
    }
    if (fields->size() == 1 && (*fields)[0].empty()) continue;  // a blank line
    return true;
  }
}

}  // namespace concord
