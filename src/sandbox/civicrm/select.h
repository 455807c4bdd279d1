// The select clause of the CiviCRM part's gets, and how a row is written in a get's answer.
//
// Thread-safety: pure functions; the caller holds the site's lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/civicrm/entities.h"
#include "sandbox/civicrm/paths.h"
#include "sandbox/civicrm/values.h"

namespace concord::sandbox {

// Whether a select item names a key: '*' in it matches any run of characters
// (SelectUtil::getMatchingFields).
bool select_matches(std::string_view pattern, std::string_view name);

// Appends a value as CiviCRM's JSON shows it.
void append_value(std::string* out, const V& v);

// One selected field, under the key the request named it by.
struct SelectItem {
  std::string key;
  PathRef path;
};

// The select clause as DAOGetAction and Api4SelectQuery read it: wildcards expanded, "id" first,
// unknown fields dropped silently. Wildcards without a dot ("*", "is_*") match core fields only;
// custom fields are named, or matched by "custom.*" (all of them) or "Group.*" (also after joins:
// "contact_id.Group.*"). `row_count` is noted, not selected: *get_count says whether it was asked
// for, *only_count whether nothing else was.
std::vector<SelectItem> parse_select(const CiviSite& site, Ent ent, const pjson& select,
                                     bool* get_count, bool* only_count);

// Fields that do not apply to a contact type (FormattingUtil::contactFieldsToRemove).
bool inapplicable(std::string_view contact_type, int field);

// Appends one row of a get: the selected fields, without those inapplicable to the contact type.
void render_row(const CiviSite& site, const std::vector<SelectItem>& sel, std::uint32_t slot,
                std::string* out, std::string* scratch);

}  // namespace concord::sandbox
