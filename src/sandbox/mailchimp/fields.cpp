#include "sandbox/mailchimp/fields.h"

#include "sandbox/text.h"

namespace concord::sandbox {

const FieldTree* FieldTree::child(std::string_view k) const {
  for (const auto& [name, t] : kids) {
    if (name == k) return t.get();
  }
  return nullptr;
}

FieldTree* FieldTree::add(std::string_view k) {
  for (auto& [name, t] : kids) {
    if (name == k) return t.get();
  }
  kids.emplace_back(std::string(k), std::make_unique<FieldTree>());
  return kids.back().second.get();
}

bool parse_fields(std::string_view csv, FieldTree* root) {
  bool any = false;
  std::size_t pos = 0;
  while (pos <= csv.size()) {
    std::size_t comma = csv.find(',', pos);
    if (comma == std::string_view::npos) comma = csv.size();
    std::string path = trim(csv.substr(pos, comma - pos));
    pos = comma + 1;
    if (path.empty()) continue;
    FieldTree* node = root;
    std::size_t p = 0;
    bool named = false;
    while (p <= path.size()) {
      std::size_t dot = path.find('.', p);
      if (dot == std::string::npos) dot = path.size();
      std::string_view part(path.data() + p, dot - p);
      p = dot + 1;
      if (part.empty()) continue;
      node = node->add(part);
      named = true;
    }
    if (named) {
      node->terminal = true;
      any = true;
    }
  }
  return any;
}

bool Sel::child(std::string_view key, Sel* out) const {
  Sel c;
  if (exc != nullptr) {
    if (const FieldTree* e = exc->child(key)) {
      if (e->terminal) return false;
      c.exc = e;
    }
  }
  if (all) {
    c.all = true;
  } else {
    const FieldTree* i = inc->child(key);
    if (i == nullptr) return false;
    if (i->terminal) {
      c.all = true;
    } else {
      c.all = false;
      c.inc = i;
    }
  }
  *out = c;
  return true;
}

void apply_sel(ojson& v, const Sel& s) {
  if (s.passthrough()) return;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      Sel c;
      if (!s.child(it.key(), &c)) {
        it = v.erase(it);
      } else {
        apply_sel(it.value(), c);
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (auto& e : v)
      apply_sel(e, s);
  }
}
}  // namespace concord::sandbox
