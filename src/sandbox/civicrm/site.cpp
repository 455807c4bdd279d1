#include "sandbox/civicrm/site.h"

#include "net/ascii.h"

namespace concord::sandbox {

std::string_view rtrim_spaces(std::string_view s) {
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

std::int64_t email_key(std::string_view email) {
  std::string_view s = rtrim_spaces(email);
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(http::ascii::lower(c));
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(h);
}

int CustomSchema::find(Ent e, std::string_view api_name) const {
  if (e != kContact) return -1;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i]->api_name == api_name) return C_COUNT + static_cast<int>(i);
  }
  return -1;
}

int CustomSchema::add_group(CustomGroup g) {
  g.fields.clear();
  groups.push_back(std::move(g));
  return static_cast<int>(groups.size()) - 1;
}

void CustomSchema::add_field(int group, CustomField f) {
  auto p = std::make_unique<CustomField>(std::move(f));
  p->group = group;
  p->api_name = groups[static_cast<std::size_t>(group)].name + "." + p->name;
  p->def = FieldDef{p->api_name, p->time_format != 0 ? Ty::kTime : p->type_def().ty};
  groups[static_cast<std::size_t>(group)].fields.push_back(static_cast<int>(fields.size()));
  fields.push_back(std::move(p));
}

}  // namespace concord::sandbox
