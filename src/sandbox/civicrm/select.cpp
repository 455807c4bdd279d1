#include "sandbox/civicrm/select.h"

#include <algorithm>

#include "sandbox/civicrm/api_error.h"
#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/times.h"

namespace concord::sandbox {
namespace {

// '*' matches any run of characters (SelectUtil::getMatchingFields).
bool glob(std::string_view pattern, std::string_view name) {
  std::size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == name;
  std::string_view head = pattern.substr(0, star);
  std::string_view tail = pattern.substr(star + 1);
  if (name.substr(0, head.size()) != head) return false;
  name.remove_prefix(head.size());
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (glob(tail, name.substr(i))) return true;
  }
  return false;
}

}  // namespace

bool select_matches(std::string_view pattern, std::string_view name) {
  return glob(pattern, name);
}

void append_value(std::string* out, const V& v) {
  switch (v.k) {
    case XVal::kNull:
      out->append("null");
      break;
    case XVal::kInt:
      out->append(std::to_string(v.i));
      break;
    case XVal::kFloat:
      // As PHP's json_encode writes a float: the shortest form that reads back, "12.0" for 12.
      out->append(pjson(float_of(v.i)).dump());
      break;
    case XVal::kBool:
      out->append(v.i ? "true" : "false");
      break;
    case XVal::kStr:
      append_json_string(out, v.s, JsonEscape::kPhp);
      break;
    case XVal::kTime:
      append_json_string(out, civil_string(v.i), JsonEscape::kPhp);
      break;
    case XVal::kDate:
      append_json_string(out, date_string(v.i), JsonEscape::kPhp);
      break;
  }
}

std::vector<SelectItem> parse_select(const CiviSite& site, Ent ent, const pjson& select,
                                     bool* get_count, bool* only_count) {
  std::vector<std::string> items;
  for (const pjson& s : select) {
    if (!s.is_string()) fail("Invalid field in select");
    items.push_back(s.get<std::string>());
  }
  *get_count = std::find(items.begin(), items.end(), "row_count") != items.end();
  *only_count = items.size() == 1 && items[0] == "row_count";
  const EntityDef& fl = kEntities[ent];
  // Wildcards without a join: replaced by the matching fields, which go last.
  std::vector<std::string> expanded;
  std::vector<std::string> matched;
  for (const std::string& it : items) {
    if (it == "custom.*") {
      // Api4SelectQuery's "superstar": every custom field of the entity, in place.
      if (ent == kContact) {
        for (const auto& cf : site.custom.fields)
          expanded.push_back(cf->api_name);
      }
    } else if (it.find('*') != std::string::npos && it.find('.') == std::string::npos) {
      for (int f = 0; f < fl.field_count; ++f) {
        if (glob(it, fl.fields[f].name)) matched.emplace_back(fl.fields[f].name);
      }
    } else if (it != "row_count") {
      expanded.push_back(it);
    }
  }
  for (auto& m : matched) {
    if (std::find(expanded.begin(), expanded.end(), m) == expanded.end()) expanded.push_back(m);
  }
  std::vector<std::string> final_items;
  if (expanded.empty()) {
    for (int f = 0; f < fl.field_count; ++f)
      final_items.emplace_back(fl.fields[f].name);
  } else {
    final_items.push_back("id");
    for (const std::string& it : expanded) {
      auto star = it.find('*');
      if (star != std::string::npos && it.find('.') != std::string::npos &&
          it.find('(') == std::string::npos && it.find(' ') == std::string::npos) {
        // A join wildcard: "contact_id.*", "contact_id.is_*".
        auto dot = it.rfind('.');
        std::string prefix = it.substr(0, dot + 1);
        std::string pattern = it.substr(dot + 1);
        if (auto base = resolve_path(site, ent, it.substr(0, dot) + ".id")) {
          const EntityDef& tl = kEntities[base->target];
          for (int f = 0; f < tl.field_count; ++f) {
            if (glob(pattern, tl.fields[f].name))
              final_items.push_back(prefix + std::string(tl.fields[f].name));
          }
          continue;
        }
        // A custom group's fields: "Group.*", "contact_id.Group.*" (the joins before the group
        // are kept in front of each field's name).
        if (dot == 0) continue;
        auto gdot = it.rfind('.', dot - 1);
        std::string hops = gdot == std::string::npos ? "" : it.substr(0, gdot + 1);
        Ent target = ent;
        if (!hops.empty()) {
          auto joined = resolve_path(site, ent, hops + "id");
          target = joined ? joined->target : kNoEnt;
        }
        if (target != kContact) continue;
        std::string group = it.substr(hops.size(), dot - hops.size());
        for (const auto& cf : site.custom.fields) {
          const CustomGroup& g = site.custom.groups[static_cast<std::size_t>(cf->group)];
          if (g.name == group && glob(pattern, cf->name))
            final_items.push_back(hops + cf->api_name);
        }
        continue;
      }
      final_items.push_back(it);
    }
  }
  std::vector<SelectItem> out;
  for (const std::string& it : final_items) {
    bool dup = false;
    for (const SelectItem& o : out) {
      if (o.key == it) dup = true;
    }
    if (dup) continue;
    if (it.find('(') != std::string::npos || it.find(' ') != std::string::npos) {
      fail("concord-sandbox does not emulate SQL expressions in select: " + it);
    }
    auto p = resolve_path(site, ent, it);
    if (!p) continue;  // unknown fields are dropped without an error
    out.push_back(SelectItem{it, std::move(*p)});
  }
  return out;
}

// Fields that do not apply to a contact type (FormattingUtil::contactFieldsToRemove).
bool inapplicable(std::string_view contact_type, int field) {
  static constexpr int kIndividualOnly[] = {
      C_FIRST_NAME, C_MIDDLE_NAME, C_LAST_NAME,   C_PREFIX_ID,     C_SUFFIX_ID, C_FORMAL_TITLE,
      C_GENDER_ID,  C_BIRTH_DATE,  C_IS_DECEASED, C_DECEASED_DATE, C_JOB_TITLE, C_EMPLOYER_ID};
  if (contact_type == "Individual") {
    return field == C_HOUSEHOLD_NAME || field == C_ORGANIZATION_NAME || field == C_LEGAL_NAME;
  }
  for (int f : kIndividualOnly) {
    if (f == field) return true;
  }
  if (contact_type == "Organization") return field == C_HOUSEHOLD_NAME;
  if (contact_type == "Household") return field == C_ORGANIZATION_NAME || field == C_LEGAL_NAME;
  return false;
}

// Renders one row of a get.
void render_row(const CiviSite& site, const std::vector<SelectItem>& sel, std::uint32_t slot,
                std::string* out, std::string* scratch) {
  // The contact type of each contact reached (the base, or through joins), when selected.
  std::vector<std::pair<std::vector<int>, std::string>> types;
  for (const SelectItem& it : sel) {
    if (it.path.target == kContact && it.path.field == C_CONTACT_TYPE &&
        it.path.suffix == Suffix::kNone) {
      V v = read_path(site, it.path, slot, scratch);
      if (v.k == XVal::kStr) types.emplace_back(it.path.hops, std::string(v.s));
    }
  }
  out->push_back('{');
  bool first = true;
  for (const SelectItem& it : sel) {
    if (it.path.target == kContact && !types.empty()) {
      bool skip = false;
      for (const auto& [hops, type] : types) {
        if (hops == it.path.hops && inapplicable(type, it.path.field)) skip = true;
      }
      if (skip) continue;
    }
    if (!first) out->push_back(',');
    first = false;
    append_json_string(out, it.key, JsonEscape::kPhp);
    out->push_back(':');
    append_value(out, read_path(site, it.path, slot, scratch));
  }
  out->push_back('}');
}

}  // namespace concord::sandbox
