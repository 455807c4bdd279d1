#include "sandbox/part.h"

namespace concord::sandbox {
namespace {

// A cursor over a JSON document that can step over values without building them. It checks
// only what it needs to find the ends of values; the part that receives a value parses it fully.
class Skipper {
 public:
  explicit Skipper(std::string_view text) : s_(text) {}

  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  bool eat(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool at(char c) {
    space();
    return i_ < s_.size() && s_[i_] == c;
  }
  std::size_t pos() const { return i_; }

  // A string, returned without its quotes and with escapes left as written (keys compared
  // against plain names need no decoding).
  std::optional<std::string_view> string() {
    if (!eat('"')) return std::nullopt;
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      i_ += s_[i_] == '\\' ? 2 : 1;
    }
    if (i_ >= s_.size()) return std::nullopt;
    return s_.substr(start, i_++ - start);
  }

  // Steps over one value; false when the text ends first.
  bool value() {
    space();
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '"') return string().has_value();
    if (s_[i_] != '{' && s_[i_] != '[') {
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']')
        ++i_;
      return true;
    }
    int depth = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '"') {
        if (!string()) return false;
        continue;
      }
      ++i_;
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return true;
    }
    return false;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

Result<std::optional<std::string>> seed_object(std::string_view document, std::string_view key) {
  Skipper p(document);
  if (!p.eat('{')) return Status::invalid("the document is not a JSON object");
  if (p.eat('}')) return std::optional<std::string>();
  for (;;) {
    std::optional<std::string_view> name = p.string();
    if (!name || !p.eat(':')) return Status::invalid("the document is not a JSON object");
    p.space();
    const std::size_t start = p.pos();
    if (!p.value())
      return Status::invalid("the document ends inside \"" + std::string(*name) + "\"");
    if (*name == key) {
      return std::optional<std::string>(std::string(document.substr(start, p.pos() - start)));
    }
    if (p.eat('}')) return std::optional<std::string>();
    if (!p.eat(',')) return Status::invalid("the document is not a JSON object");
  }
}

}  // namespace concord::sandbox
