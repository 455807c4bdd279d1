#include "sandbox/auth0/user_paths.h"

#include <cstdint>
#include <optional>

#include "sandbox/text.h"

namespace concord::sandbox::auth0 {
namespace {

// Walks `rest` from `v`, appending what it reaches.
void walk(const ojson& v, std::string_view rest, std::vector<const ojson*>* out) {
  if (v.is_null()) return;
  if (rest.empty()) {
    if (v.is_array()) {
      for (const ojson& e : v) {
        if (!e.is_null()) out->push_back(&e);
      }
    } else {
      out->push_back(&v);
    }
    return;
  }
  if (v.is_array()) {
    for (const ojson& e : v)
      walk(e, rest, out);
    return;
  }
  if (!v.is_object()) return;
  const std::size_t dot = rest.find('.');
  std::string_view seg = rest.substr(0, dot);
  std::string_view after =
      dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  std::optional<std::int64_t> index;
  if (const std::size_t br = seg.find('['); br != std::string_view::npos && seg.back() == ']') {
    index = parse_int64(seg.substr(br + 1, seg.size() - br - 2));
    if (!index || *index < 0) return;
    seg = seg.substr(0, br);
  }
  auto it = v.find(std::string(seg));
  if (it == v.end()) return;
  if (index) {
    if (!it->is_array() || static_cast<std::size_t>(*index) >= it->size()) return;
    walk((*it)[static_cast<std::size_t>(*index)], after, out);
    return;
  }
  walk(*it, after, out);
}

}  // namespace

void values_at(const ojson& user, std::string_view path, std::vector<const ojson*>* out) {
  walk(user, path, out);
}

const ojson* value_at(const ojson& user, std::string_view path) {
  const ojson* v = &user;
  while (!path.empty()) {
    const std::size_t dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    std::optional<std::int64_t> index;
    if (const std::size_t br = seg.find('['); br != std::string_view::npos && seg.back() == ']') {
      index = parse_int64(seg.substr(br + 1, seg.size() - br - 2));
      if (!index || *index < 0) return nullptr;
      seg = seg.substr(0, br);
    }
    if (!v->is_object()) return nullptr;
    auto it = v->find(std::string(seg));
    if (it == v->end()) return nullptr;
    v = &*it;
    if (index) {
      if (!v->is_array() || static_cast<std::size_t>(*index) >= v->size()) return nullptr;
      v = &(*v)[static_cast<std::size_t>(*index)];
    }
  }
  return v->is_null() ? nullptr : v;
}

const ojson* first_value_at(const ojson& user, std::string_view path) {
  std::vector<const ojson*> values;
  walk(user, path, &values);
  return values.empty() ? nullptr : values.front();
}

}  // namespace concord::sandbox::auth0
