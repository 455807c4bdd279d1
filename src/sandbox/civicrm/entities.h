// The CiviCRM part's entities: Contact, Email, Group, GroupContact and SubscriptionHistory, with
// their fields as APIv4 names them, the option lists behind ":name" and ":label", and one table,
// kEntities, that says per entity where its rows are, how a field is read and written, and which
// fields are indexed. Adding an entity is adding its fields, its row type (site.h), its writes
// (writes.h) and a row of kEntities. Also what getFields says of each field (field_specs).
//
// A site may add custom fields to Contact (site.h, CustomSchema): they are numbered after the
// core fields, so the functions that may meet one take the site.
//
// Thread-safety: constant data and pure functions.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/civicrm/values.h"

namespace concord::sandbox {

class KeyIndex;
class RowWriter;
struct CiviSite;
struct TableBase;

enum Ent : std::uint8_t {
  kContact = 0,
  kEmail,
  kGroup,
  kGroupContact,
  kHistory,
  kEntCount,
  kNoEnt = 255
};

// How a field's value is held: kFloat only for custom Float and Money fields.
enum class Ty : std::uint8_t { kInt, kBool, kStr, kTime, kDate, kFloat };

// Option lists behind the ":name" / ":label" suffixes.
enum class Opt : std::uint8_t {
  kNone,
  kContactType,
  kLocationType,
  kOnHold,
  kGroupStatus,
  kHistoryStatus,
  kHistoryMethod,
  kGender,
  kPrefix,
  kSuffix,
  kVisibility,
  kGroupRef,  // an FK to Group: name / title
};

struct FieldDef {
  std::string_view name;
  Ty ty;
  Ent fk = kNoEnt;
  Opt opt = Opt::kNone;
  bool required = false;  // on create, with no default
  bool computed = false;  // derived; writes are ignored
};

// Contact.
enum : int {
  C_ID,
  C_CONTACT_TYPE,
  C_DO_NOT_EMAIL,
  C_DO_NOT_PHONE,
  C_DO_NOT_MAIL,
  C_DO_NOT_SMS,
  C_DO_NOT_TRADE,
  C_IS_OPT_OUT,
  C_EXTERNAL_IDENTIFIER,
  C_SORT_NAME,
  C_DISPLAY_NAME,
  C_NICK_NAME,
  C_LEGAL_NAME,
  C_PREFERRED_LANGUAGE,
  C_SOURCE,
  C_FIRST_NAME,
  C_MIDDLE_NAME,
  C_LAST_NAME,
  C_PREFIX_ID,
  C_SUFFIX_ID,
  C_FORMAL_TITLE,
  C_JOB_TITLE,
  C_GENDER_ID,
  C_BIRTH_DATE,
  C_IS_DECEASED,
  C_DECEASED_DATE,
  C_HOUSEHOLD_NAME,
  C_ORGANIZATION_NAME,
  C_EMPLOYER_ID,
  C_IS_DELETED,
  C_CREATED_DATE,
  C_MODIFIED_DATE,
  C_EMAIL_PRIMARY,
  C_COUNT
};
inline constexpr std::array<FieldDef, C_COUNT> kContactFields = {{
    {"id", Ty::kInt},
    {"contact_type", Ty::kStr, kNoEnt, Opt::kContactType},
    {"do_not_email", Ty::kBool},
    {"do_not_phone", Ty::kBool},
    {"do_not_mail", Ty::kBool},
    {"do_not_sms", Ty::kBool},
    {"do_not_trade", Ty::kBool},
    {"is_opt_out", Ty::kBool},
    {"external_identifier", Ty::kStr},
    {"sort_name", Ty::kStr, kNoEnt, Opt::kNone, false, true},
    {"display_name", Ty::kStr, kNoEnt, Opt::kNone, false, true},
    {"nick_name", Ty::kStr},
    {"legal_name", Ty::kStr},
    {"preferred_language", Ty::kStr},
    {"source", Ty::kStr},
    {"first_name", Ty::kStr},
    {"middle_name", Ty::kStr},
    {"last_name", Ty::kStr},
    {"prefix_id", Ty::kInt, kNoEnt, Opt::kPrefix},
    {"suffix_id", Ty::kInt, kNoEnt, Opt::kSuffix},
    {"formal_title", Ty::kStr},
    {"job_title", Ty::kStr},
    {"gender_id", Ty::kInt, kNoEnt, Opt::kGender},
    {"birth_date", Ty::kDate},
    {"is_deceased", Ty::kBool},
    {"deceased_date", Ty::kDate},
    {"household_name", Ty::kStr},
    {"organization_name", Ty::kStr},
    {"employer_id", Ty::kInt, kContact},
    {"is_deleted", Ty::kBool},
    {"created_date", Ty::kTime, kNoEnt, Opt::kNone, false, true},
    {"modified_date", Ty::kTime, kNoEnt, Opt::kNone, false, true},
    {"email_primary", Ty::kInt, kEmail, Opt::kNone, false, true},
}};

// Email.
enum : int {
  E_ID,
  E_CONTACT_ID,
  E_LOCATION_TYPE_ID,
  E_EMAIL,
  E_IS_PRIMARY,
  E_IS_BILLING,
  E_ON_HOLD,
  E_IS_BULKMAIL,
  E_HOLD_DATE,
  E_RESET_DATE,
  E_COUNT
};
inline constexpr std::array<FieldDef, E_COUNT> kEmailFields = {{
    {"id", Ty::kInt},
    {"contact_id", Ty::kInt, kContact},
    {"location_type_id", Ty::kInt, kNoEnt, Opt::kLocationType},
    {"email", Ty::kStr, kNoEnt, Opt::kNone, true},
    {"is_primary", Ty::kBool},
    {"is_billing", Ty::kBool},
    {"on_hold", Ty::kInt, kNoEnt, Opt::kOnHold},
    {"is_bulkmail", Ty::kBool},
    {"hold_date", Ty::kTime},
    {"reset_date", Ty::kTime},
}};

// Group.
enum : int {
  G_ID,
  G_NAME,
  G_TITLE,
  G_DESCRIPTION,
  G_SOURCE,
  G_SAVED_SEARCH_ID,
  G_IS_ACTIVE,
  G_VISIBILITY,
  G_IS_HIDDEN,
  G_IS_RESERVED,
  G_FRONTEND_TITLE,
  G_FRONTEND_DESCRIPTION,
  G_COUNT
};
inline constexpr std::array<FieldDef, G_COUNT> kGroupFields = {{
    {"id", Ty::kInt},
    {"name", Ty::kStr},
    {"title", Ty::kStr, kNoEnt, Opt::kNone, true},
    {"description", Ty::kStr},
    {"source", Ty::kStr},
    {"saved_search_id", Ty::kInt, kNoEnt, Opt::kNone, false, true},
    {"is_active", Ty::kBool},
    {"visibility", Ty::kStr, kNoEnt, Opt::kVisibility},
    {"is_hidden", Ty::kBool},
    {"is_reserved", Ty::kBool},
    {"frontend_title", Ty::kStr},
    {"frontend_description", Ty::kStr},
}};

// GroupContact.
enum : int { GC_ID, GC_GROUP_ID, GC_CONTACT_ID, GC_STATUS, GC_LOCATION_ID, GC_EMAIL_ID, GC_COUNT };
inline constexpr std::array<FieldDef, GC_COUNT> kGroupContactFields = {{
    {"id", Ty::kInt},
    {"group_id", Ty::kInt, kGroup, Opt::kGroupRef, true},
    {"contact_id", Ty::kInt, kContact, Opt::kNone, true},
    {"status", Ty::kStr, kNoEnt, Opt::kGroupStatus},
    {"location_id", Ty::kInt},
    {"email_id", Ty::kInt, kEmail},
}};

// SubscriptionHistory.
enum : int { H_ID, H_CONTACT_ID, H_GROUP_ID, H_DATE, H_METHOD, H_STATUS, H_TRACKING, H_COUNT };
inline constexpr std::array<FieldDef, H_COUNT> kHistoryFields = {{
    {"id", Ty::kInt},
    {"contact_id", Ty::kInt, kContact, Opt::kNone, true},
    {"group_id", Ty::kInt, kGroup, Opt::kGroupRef},
    {"date", Ty::kTime},
    {"method", Ty::kStr, kNoEnt, Opt::kHistoryMethod},
    {"status", Ty::kStr, kNoEnt, Opt::kHistoryStatus},
    {"tracking", Ty::kStr},
}};

// A value of an option list: integer options match on `id`, string options on `value`.
struct OptItem {
  std::int64_t id;
  std::string_view value;  // the stored value ("" for integer options)
  std::string_view name;
  std::string_view label;
};
const std::vector<OptItem>& option_items(Opt o);
// The name of an integer option ("" when none has this id).
std::string_view option_name_of(Opt o, std::int64_t id);
// The name of ContactRow::type.
std::string_view contact_type_name(std::uint8_t t);

// A field that has an index, and the site's index of it.
struct IndexDef {
  int field = -1;  // -1: none
  KeyIndex CiviSite::*index = nullptr;
};

// What the engine needs to know of an entity, by Ent.
struct EntityDef {
  std::string_view name;         // as the API names it: "Contact"
  std::string_view next_id_key;  // its key in the state's "next_ids": "contact"
  const FieldDef* fields;        // by field index; field 0 is "id"
  int field_count;
  // The entity's rows in a site.
  const TableBase& (*rows)(const CiviSite& site);
  // Reads one field of the row at `slot`; `scratch` may hold the text of a derived value.
  V (*get)(const CiviSite& site, std::uint32_t slot, int field, std::string* scratch);
  // Up to two indexed fields (equality conditions on them use the index).
  std::array<IndexDef, 2> indexes;
  // The writes (writes.h): a new row (returns its slot), a change, a deletion.
  std::uint32_t (RowWriter::*insert)(const Values& vals, std::uint64_t* shown);
  void (RowWriter::*update)(std::uint32_t slot, const Values& vals, std::uint64_t* shown);
  void (RowWriter::*remove)(std::uint32_t slot, bool use_trash);
};

extern const std::array<EntityDef, kEntCount> kEntities;

// The entity of an API name ("Contact"); kNoEnt when none.
Ent entity_by_name(std::string_view name);
// A core field. REQUIRES: f < kEntities[e].field_count.
inline const FieldDef& field_def(Ent e, int f) {
  assert(f >= 0 && f < kEntities[e].field_count);
  return kEntities[e].fields[f];
}
// A core or custom field.
const FieldDef& field_def(const CiviSite& site, Ent e, int f);
// The index of a core field by name; -1 when the entity has none (custom fields:
// CustomSchema::find, site.h).
int find_field(Ent e, std::string_view name);

// What getFields is asked (BasicGetFieldsAction's params that shape each field).
struct FieldSpecOptions {
  // loadOptions: false gives `options` as a boolean; true as {id: label} (a list when the ids are
  // 0, 1, …); a list of property names (id, name, label) as a list of objects with those.
  bool load_options = false;
  std::vector<std::string> option_props;  // empty with load_options: the flat form
  std::string action = "get";             // "create" and "save" show readonly fields as DisplayOnly
  bool include_custom = true;
};
// The fields of an entity as getFields lists them: one object per field (core fields in schema
// order, then the site's custom fields), with name, title, label, description, type ("Field",
// "Custom" or "Extra"), entity, default_value, required, nullable, readonly, data_type,
// input_type, options, suffixes, operators, fk_entity, serialize, table_name, column_name,
// custom_field_id, custom_group_id and custom_group.
std::vector<pjson> field_specs(const CiviSite& site, Ent e, const FieldSpecOptions& o);
// Reads field f of the row of entity e at `slot`.
inline V get_field(const CiviSite& site, Ent e, std::uint32_t slot, int f, std::string* scratch) {
  return kEntities[e].get(site, slot, f, scratch);
}

}  // namespace concord::sandbox
