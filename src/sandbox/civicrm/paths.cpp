#include "sandbox/civicrm/paths.h"

#include "sandbox/civicrm/site.h"

namespace concord::sandbox {

std::optional<PathRef> resolve_path(const CiviSite& site, Ent base, std::string_view expr) {
  PathRef p;
  p.base = base;
  p.text = std::string(expr);
  std::string_view rest = expr;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    std::string_view suf = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (suf == "name") {
      p.suffix = Suffix::kName;
    } else if (suf == "label") {
      p.suffix = Suffix::kLabel;
    } else {
      return std::nullopt;
    }
  }
  Ent cur = base;
  while (true) {
    auto dot = rest.find('.');
    std::string_view seg = rest.substr(0, dot);
    int f = find_field(cur, seg);
    if (f < 0) {
      // The rest is a custom field, "Group.field" (group names are never core field names).
      f = site.custom.find(cur, rest);
      if (f < 0) return std::nullopt;
      p.target = cur;
      p.field = f;
      break;
    }
    if (dot == std::string_view::npos) {
      p.target = cur;
      p.field = f;
      break;
    }
    const FieldDef& d = field_def(cur, f);
    if (d.fk == kNoEnt) return std::nullopt;
    p.hops.push_back(f);
    cur = d.fk;
    rest = rest.substr(dot + 1);
  }
  if (p.suffix != Suffix::kNone) {
    const FieldDef& d = field_def(site, p.target, p.field);
    if (d.opt == Opt::kNone) return std::nullopt;
  }
  return p;
}

namespace {

// Follows the joins of a path from a base row. Returns the target slot, or kNoSlot when a link is
// NULL or points at no row (a LEFT JOIN gives NULLs then).
std::uint32_t follow(const CiviSite& site, const PathRef& p, std::uint32_t slot) {
  Ent cur = p.base;
  std::string scratch;
  for (int f : p.hops) {
    V v = get_field(site, cur, slot, f, &scratch);
    if (v.k != XVal::kInt) return kNoSlot;
    cur = field_def(cur, f).fk;
    slot = site.find(cur, v.i);
    if (slot == kNoSlot) return kNoSlot;
  }
  return slot;
}

// A value through its option list: the name or label of the stored value.
V apply_suffix(const CiviSite& site, const FieldDef& d, Suffix suffix, V v) {
  if (suffix == Suffix::kNone || v.is_null()) return v;
  if (d.opt == Opt::kGroupRef) {
    std::uint32_t g = site.groups.find(v.i);
    if (g == kNoSlot) return V{};
    const GroupRow& row = site.groups.rows[g];
    return V::of_str(suffix == Suffix::kName ? row.name : row.title);
  }
  for (const OptItem& it : option_items(d.opt)) {
    bool match = v.k == XVal::kStr ? it.value == v.s : it.id == v.i;
    if (match) return V::of_str(suffix == Suffix::kName ? it.name : it.label);
  }
  return V{};
}

}  // namespace

V read_path(const CiviSite& site, const PathRef& p, std::uint32_t slot, std::string* scratch) {
  std::uint32_t t = p.hops.empty() ? slot : follow(site, p, slot);
  if (t == kNoSlot) return V{};
  V v = get_field(site, p.target, t, p.field, scratch);
  if (p.suffix != Suffix::kNone) {
    v = apply_suffix(site, field_def(site, p.target, p.field), p.suffix, v);
  }
  return v;
}

std::optional<XVal> unsuffix(const CiviSite& site, const FieldDef& d, Suffix suffix,
                             std::string_view text) {
  if (d.opt == Opt::kGroupRef) {
    for (const GroupRow& g : site.groups.rows) {
      if (!g.dead && (suffix == Suffix::kName ? g.name : g.title) == text) {
        return XVal::of_int(g.id);
      }
    }
    return std::nullopt;
  }
  for (const OptItem& it : option_items(d.opt)) {
    if ((suffix == Suffix::kName ? it.name : it.label) == text) {
      return it.value.empty() ? XVal::of_int(it.id) : XVal::of_str(std::string(it.value));
    }
  }
  return std::nullopt;
}

}  // namespace concord::sandbox
