// The sandbox's JSON writer, shared by both parts, the request log and the seed generator.
//
// Answers and state documents are written straight into a string rather than built as a DOM:
// a page of a thousand members, or a million-row state document, is then one pass. Strings are
// escaped in one of two styles: the minimal one (JSON's required escapes, UTF-8 kept as is), and
// PHP's json_encode() default, which the CiviCRM part answers in as CiviCRM does.
//
// Thread-safety: a JsonOut is used by one thread; the functions are pure.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "concord/time.h"

namespace concord::sandbox {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

enum class JsonEscape : std::uint8_t {
  kMinimal,  // '"', '\\' and control characters only
  kPhp,      // also '/', and every non-ASCII character as \uXXXX (bad UTF-8 becomes U+FFFD)
};

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string* out, std::string_view s,
                        JsonEscape escape = JsonEscape::kMinimal);
// The same, returned.
std::string json_quoted(std::string_view s, JsonEscape escape = JsonEscape::kMinimal);
// Appends a decoded JSON value as PHP re-encodes it: strings in PHP's style, and an empty object
// as [] (PHP's empty array). Object keys keep their order.
void append_php_json(std::string* out, const ojson& v);

// A streaming JSON writer: keys and commas are placed by a small stack.
class JsonOut {
 public:
  explicit JsonOut(JsonEscape escape = JsonEscape::kMinimal) : escape_(escape) {}

  std::string buf;

  void begin_object() {
    pre_value();
    buf += '{';
    stack_.push_back(0);
  }
  void end_object() {
    buf += '}';
    stack_.pop_back();
  }
  void begin_array() {
    pre_value();
    buf += '[';
    stack_.push_back(0);
  }
  void end_array() {
    buf += ']';
    stack_.pop_back();
  }
  // Writes `"k":`; the next call writes its value.
  void key(std::string_view k) {
    if (!stack_.empty() && stack_.back()++ > 0) buf += ',';
    append_json_string(&buf, k, escape_);
    buf += ':';
    after_key_ = true;
  }
  void str(std::string_view v) {
    pre_value();
    append_json_string(&buf, v, escape_);
  }
  // An ISO 8601 time (times.h append_time), "" for kNoTime.
  void time(Micros t);
  void integer(std::int64_t v) {
    pre_value();
    buf += std::to_string(v);
  }
  void boolean(bool v) {
    pre_value();
    buf += v ? "true" : "false";
  }
  void null() {
    pre_value();
    buf += "null";
  }
  // A value that is already JSON text.
  void raw(std::string_view v) {
    pre_value();
    buf += v;
  }
  // A DOM value, as nlohmann's dump() writes it.
  void value(const ojson& v) { raw(v.dump()); }
  void value(const json& v) { raw(v.dump()); }

 private:
  void pre_value() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!stack_.empty() && stack_.back()++ > 0) buf += ',';
  }
  JsonEscape escape_;
  std::vector<int> stack_;
  bool after_key_ = false;
};

}  // namespace concord::sandbox
