#include "sandbox/mautic/params.h"

#include "sandbox/http_helpers.h"
#include "sandbox/mautic/columns.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

// Splits "a[b][]" into {"a", "b", ""}; a name without brackets is one part. A '[' without its
// ']' is part of the name, as in PHP.
std::vector<std::string> name_parts(std::string_view name) {
  std::vector<std::string> parts;
  const std::size_t open = name.find('[');
  if (open == std::string_view::npos || open == 0 ||
      name.find(']', open) == std::string_view::npos) {
    parts.emplace_back(name);
    return parts;
  }
  parts.emplace_back(name.substr(0, open));
  std::size_t pos = open;
  while (pos < name.size() && name[pos] == '[') {
    const std::size_t close = name.find(']', pos);
    if (close == std::string_view::npos) break;
    parts.emplace_back(name.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  return parts;
}

void put(ojson& root, const std::vector<std::string>& parts, const std::string& value) {
  ojson* cur = &root;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const std::string& p = parts[i];
    ojson* next;
    if (p.empty() && i > 0) {  // "[]": append
      if (!cur->is_array()) *cur = ojson::array();
      cur->push_back(nullptr);
      next = &cur->back();
    } else {
      if (!cur->is_object()) *cur = ojson::object();
      next = &(*cur)[p];
    }
    if (last) {
      *next = value;
    } else if (!next->is_object() && !next->is_array()) {
      *next = ojson::object();
    }
    cur = next;
  }
}

}  // namespace

ojson php_query(std::string_view query) {
  ojson root = ojson::object();
  for (const auto& [k, v] : http::parse_query(query)) {
    if (k.empty()) continue;
    put(root, name_parts(k), v);
  }
  return root;
}

std::vector<ojson> php_elements(const ojson& v) {
  std::vector<ojson> out;
  if (v.is_array() || v.is_object()) {
    for (const ojson& e : v)
      out.push_back(e);
  } else if (!v.is_null()) {
    out.push_back(v);
  }
  return out;
}

std::string scalar_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return "";
}

std::string member_text(const ojson& obj, std::string_view key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it == obj.end() ? "" : scalar_text(*it);
}

bool php_truthy(const ojson& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return !s.empty() && s != "0";
  }
  return !v.empty();
}

Result<Params> Params::read(const http::Request& request, std::string_view query) {
  Params p;
  p.values_ = php_query(query);
  std::string_view body = request.body;
  if (is_blank(body)) return p;
  const std::string type = ascii_lower(request.header("Content-Type"));
  bool json_body = type.rfind("application/json", 0) == 0;
  if (!json_body && type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    json_body = trim_view(body).front() == '{';
  }
  if (!json_body) {
    const ojson form = php_query(body);
    for (auto it = form.begin(); it != form.end(); ++it)
      p.values_[it.key()] = it.value();
    return p;
  }
  ojson j = ojson::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::invalid("The request body is not a JSON object.");
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    p.values_[it.key()] = it.value();
  return p;
}

const ojson* Params::find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &*it;
}

Result<std::string> Params::text(std::string_view name) const {
  const ojson* v = find(name);
  if (!v || v->is_null()) return std::string();
  if (v->is_string()) return v->get<std::string>();
  if (v->is_array() || v->is_object()) {
    return Status::invalid(std::string(name) + " must not be an array.");
  }
  return v->dump();
}

Result<std::optional<std::int64_t>> Params::integer(std::string_view name) const {
  const ojson* v = find(name);
  if (!v || v->is_null() || (v->is_string() && v->get_ref<const std::string&>().empty())) {
    return std::optional<std::int64_t>();
  }
  if (v->is_number_integer()) return std::optional<std::int64_t>(v->get<std::int64_t>());
  if (v->is_string()) {
    if (auto n = parse_int64(v->get_ref<const std::string&>())) return std::optional(*n);
  }
  return Status::invalid(std::string(name) + " must be an integer.");
}

bool Params::flag(std::string_view name) const {
  const ojson* v = find(name);
  return v && php_truthy(*v);
}

}  // namespace concord::sandbox::mautic
