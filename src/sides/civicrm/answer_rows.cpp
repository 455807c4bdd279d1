#include "sides/civicrm/answer_rows.h"

#include <charconv>

namespace concord::civicrm {

namespace dom = simdjson::dom;

bool Row::find(std::string_view key, dom::element* out) const {
  return o_.at_key(key).get(*out) == simdjson::SUCCESS;
}

std::string_view Row::str(std::string_view key) const {
  dom::element v;
  std::string_view s;
  if (!find(key, &v) || v.get_string().get(s) != simdjson::SUCCESS) return {};
  return s;
}

std::int64_t Row::id(std::string_view key) const {
  dom::element v;
  if (!find(key, &v)) return 0;
  std::int64_t n = 0;
  if (v.get_int64().get(n) == simdjson::SUCCESS) return n;
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS || s.empty()) return 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() && ptr == s.data() + s.size() ? n : 0;
}

bool Row::truthy(std::string_view key) const {
  dom::element v;
  if (!find(key, &v)) return false;
  bool b = false;
  if (v.get_bool().get(b) == simdjson::SUCCESS) return b;
  double d = 0;
  if (v.get_double().get(d) == simdjson::SUCCESS) return d != 0;
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return !s.empty() && s != "0";
  return false;
}

int Row::hold(std::string_view key) const {
  dom::element v;
  bool b = false;
  if (find(key, &v) && v.get_bool().get(b) == simdjson::SUCCESS) return b ? 1 : 0;
  return static_cast<int>(id(key));
}

std::size_t Row::rows(std::string_view key) const {
  dom::element v;
  dom::array a;
  if (!find(key, &v) || v.get_array().get(a) != simdjson::SUCCESS) return 0;
  std::size_t n = 0;
  for (dom::element e : a)
    n += e.is_object() ? 1 : 0;
  return n;
}

std::string Row::text(std::string_view key) const {
  dom::element v;
  if (!find(key, &v) || v.is_null()) return {};
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  bool b = false;
  if (v.get_bool().get(b) == simdjson::SUCCESS) return b ? "1" : "0";
  return simdjson::minify(v);
}

Status AnswerRows::parse(std::string_view body, const std::string& what, std::size_t max_depth) {
  // The depth is refused as the answer is parsed: nothing deeper is built.
  if ((parser_.capacity() < body.size() || parser_.max_depth() != max_depth) &&
      parser_.allocate(body.size(), max_depth) != simdjson::SUCCESS) {
    return Status::unavailable(what + ": the answer is too large to read");
  }
  dom::element root;
  const simdjson::error_code e = parser_.parse(body.data(), body.size()).get(root);
  if (e == simdjson::DEPTH_ERROR) {
    return Status::unavailable(what + ": the answer is nested more than " +
                               std::to_string(max_depth) + " levels deep");
  }
  if (e != simdjson::SUCCESS || root.get_object().get(answer_) != simdjson::SUCCESS ||
      answer_["values"].get_array().get(values_) != simdjson::SUCCESS) {
    return Status::unavailable(what + ": the answer is not an APIv4 result");
  }
  return Status::ok();
}

std::int64_t AnswerRows::count_matched() const {
  for (const char* key : {"countMatched", "count"}) {
    std::uint64_t n = 0;
    if (answer_[key].get_uint64().get(n) == simdjson::SUCCESS &&
        n <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(n);
    }
  }
  return -1;
}

}  // namespace concord::civicrm
