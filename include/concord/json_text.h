// JSON text written by hand, for the documents built once per member on a hot path (a batch
// call's body, a journal entry, a backup row): nlohmann::json builds a tree of allocated nodes
// first, which cost more than the rest of such a write.
//
// The text is what nlohmann::json's compact dump() with error_handler_t::replace writes for the
// same values: strings are UTF-8 with only `"`, `\` and control characters escaped, and invalid
// UTF-8 is replaced (U+FFFD), never an error.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace concord {

// Appends `s` as a JSON string, quotes included.
void append_json_string(std::string* out, std::string_view s);

// Builds one JSON value into a string. Members and elements are separated as they are added;
// nothing checks that keys and values alternate (the callers write fixed shapes).
class JsonText {
 public:
  JsonText& begin_object() { return open('{'); }
  JsonText& end_object() { return close('}'); }
  JsonText& begin_array() { return open('['); }
  JsonText& end_array() { return close(']'); }
  // An object member's key; the value follows.
  JsonText& key(std::string_view k) {
    separate();
    append_json_string(&out_, k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonText& string(std::string_view v) {
    separate();
    append_json_string(&out_, v);
    return *this;
  }
  JsonText& number(std::int64_t v);
  JsonText& number(std::uint64_t v);
  JsonText& boolean(bool v) { return raw(v ? "true" : "false"); }
  // JSON text written as it is (REQUIRES: valid JSON, such as a stored body).
  JsonText& raw(std::string_view json) {
    separate();
    out_.append(json);
    return *this;
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }
  void clear() {
    out_.clear();
    first_ = true;
    after_key_ = false;
  }

 private:
  void separate() {
    if (!after_key_ && !first_) out_.push_back(',');
    first_ = false;
    after_key_ = false;
  }
  JsonText& open(char c) {
    separate();
    out_.push_back(c);
    first_ = true;
    return *this;
  }
  JsonText& close(char c) {
    out_.push_back(c);
    first_ = false;
    after_key_ = false;
    return *this;
  }

  std::string out_;
  bool first_ = true;       // nothing written yet in the innermost object or array
  bool after_key_ = false;  // a key was written: its value needs no separator
};

}  // namespace concord
