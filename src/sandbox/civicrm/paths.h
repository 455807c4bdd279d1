// Field paths in the CiviCRM part's requests: a field, implicit joins through foreign keys
// ("contact_id.is_deleted"), custom fields ("Member_Info.Nickname", also joined:
// "contact_id.Member_Info.Nickname"), and the option suffixes ":name" and ":label"
// ("group_id:name").
//
// Thread-safety: pure functions; the caller holds the site's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/civicrm/entities.h"
#include "sandbox/civicrm/values.h"

namespace concord::sandbox {

enum class Suffix : std::uint8_t { kNone, kName, kLabel };

struct PathRef {
  Ent base = kNoEnt;
  std::vector<int> hops;  // FK fields followed from the base
  Ent target = kNoEnt;
  int field = -1;
  Suffix suffix = Suffix::kNone;
  std::string text;  // as written, e.g. "contact_id.is_deleted" or "group_id:name"

  bool is_base_id() const { return hops.empty() && field == 0 && suffix == Suffix::kNone; }
  bool simple() const { return hops.empty() && suffix == Suffix::kNone; }
};

// Resolves "a.b.c[:suffix]" from an entity, the site's custom fields included. Returns nullopt
// for an unknown field or join.
std::optional<PathRef> resolve_path(const CiviSite& site, Ent base, std::string_view expr);
// Reads a path from a base row: NULL when a join finds no row (a LEFT JOIN).
V read_path(const CiviSite& site, const PathRef& p, std::uint32_t slot, std::string* scratch);
// Reverse lookup for input: a name or label to the stored value. nullopt when unknown.
std::optional<XVal> unsuffix(const CiviSite& site, const FieldDef& d, Suffix suffix,
                             std::string_view text);

}  // namespace concord::sandbox
