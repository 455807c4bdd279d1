#include "sandbox/civicrm/entities.h"

#include <algorithm>
#include <cctype>

#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/writes.h"

namespace concord::sandbox {

const std::vector<OptItem>& option_items(Opt o) {
  static const std::vector<OptItem> kNoItems;
  static const std::vector<OptItem> kContactTypes = {
      {0, "Individual", "Individual", "Individual"},
      {0, "Organization", "Organization", "Organization"},
      {0, "Household", "Household", "Household"}};
  static const std::vector<OptItem> kLocationTypes = {{1, "", "Home", "Home"},
                                                      {2, "", "Work", "Work"},
                                                      {3, "", "Main", "Main"},
                                                      {4, "", "Other", "Other"},
                                                      {5, "", "Billing", "Billing"}};
  static const std::vector<OptItem> kOnHold = {{0, "", "No", "No"},
                                               {1, "", "On Hold Bounce", "On Hold Bounce"},
                                               {2, "", "On Hold Opt Out", "On Hold Opt Out"}};
  static const std::vector<OptItem> kGroupStatus = {{0, "Added", "Added", "Added"},
                                                    {0, "Removed", "Removed", "Removed"},
                                                    {0, "Pending", "Pending", "Pending"}};
  static const std::vector<OptItem> kHistoryStatus = {{0, "Added", "Added", "Added"},
                                                      {0, "Removed", "Removed", "Removed"},
                                                      {0, "Pending", "Pending", "Pending"},
                                                      {0, "Deleted", "Deleted", "Deleted"}};
  static const std::vector<OptItem> kMethods = {{0, "Admin", "Admin", "Admin"},
                                                {0, "Email", "Email", "Email"},
                                                {0, "Web", "Web", "Web"},
                                                {0, "API", "API", "API"},
                                                {0, "Form", "Form", "Form"}};
  static const std::vector<OptItem> kGender = {
      {1, "", "Female", "Female"}, {2, "", "Male", "Male"}, {3, "", "Other", "Other"}};
  static const std::vector<OptItem> kPrefix = {
      {1, "", "Mrs.", "Mrs."}, {2, "", "Ms.", "Ms."}, {3, "", "Mr.", "Mr."}, {4, "", "Dr.", "Dr."}};
  static const std::vector<OptItem> kSuffix = {
      {1, "", "Jr.", "Jr."}, {2, "", "Sr.", "Sr."}, {3, "", "II", "II"}, {4, "", "III", "III"}};
  static const std::vector<OptItem> kVisibility = {
      {0, "User and User Admin Only", "User and User Admin Only", "User and User Admin Only"},
      {0, "Public Pages", "Public Pages", "Public Pages"}};
  switch (o) {
    case Opt::kContactType:
      return kContactTypes;
    case Opt::kLocationType:
      return kLocationTypes;
    case Opt::kOnHold:
      return kOnHold;
    case Opt::kGroupStatus:
      return kGroupStatus;
    case Opt::kHistoryStatus:
      return kHistoryStatus;
    case Opt::kHistoryMethod:
      return kMethods;
    case Opt::kGender:
      return kGender;
    case Opt::kPrefix:
      return kPrefix;
    case Opt::kSuffix:
      return kSuffix;
    case Opt::kVisibility:
      return kVisibility;
    default:
      return kNoItems;
  }
}

std::string_view option_name_of(Opt o, std::int64_t id) {
  for (const OptItem& it : option_items(o)) {
    if (it.id == id) return it.name;
  }
  return {};
}

std::string_view contact_type_name(std::uint8_t t) {
  return option_items(Opt::kContactType)[t].value;
}

namespace {

void append_name(std::string* out, std::string_view part, std::string_view sep) {
  if (part.empty()) return;
  if (!out->empty()) out->append(sep);
  out->append(part);
}

std::string_view extra_str(const ContactRow& c, int field) {
  const XVal* v = c.extra_value(field);
  return v && v->k == XVal::kStr ? std::string_view(v->s) : std::string_view();
}

// display_name and sort_name as CiviCRM's default formats build them.
void contact_names(const CiviSite& site, const ContactRow& c, bool sort, std::string* out) {
  out->clear();
  std::string_view type = contact_type_name(c.type);
  if (type == "Organization") {
    out->assign(extra_str(c, C_ORGANIZATION_NAME));
  } else if (type == "Household") {
    out->assign(extra_str(c, C_HOUSEHOLD_NAME));
  } else if (sort) {
    append_name(out, c.last_name, ", ");
    append_name(out, c.first_name, ", ");
  } else {
    const XVal* p = c.extra_value(C_PREFIX_ID);
    const XVal* s = c.extra_value(C_SUFFIX_ID);
    if (p && p->k == XVal::kInt) append_name(out, option_name_of(Opt::kPrefix, p->i), " ");
    append_name(out, c.first_name, " ");
    append_name(out, c.last_name, " ");
    if (s && s->k == XVal::kInt) append_name(out, option_name_of(Opt::kSuffix, s->i), " ");
  }
  if (out->empty()) {
    std::uint32_t e = site.primary_email(c.id);
    if (e != kNoSlot) out->assign(site.emails.rows[e].email);
  }
}

V extra_v(const ContactRow& c, int field) {
  const XVal* x = c.extra_value(field);
  if (x == nullptr) return V{};
  V v;
  v.k = x->k;
  v.i = x->i;
  v.s = x->s;
  return v;
}

V get_contact(const CiviSite& site, const ContactRow& c, int f, std::string* scratch) {
  switch (f) {
    case C_ID:
      return V::of_int(c.id);
    case C_CONTACT_TYPE:
      return V::of_str(contact_type_name(c.type));
    case C_DO_NOT_EMAIL:
      return V::of_bool(c.flag(kDoNotEmail));
    case C_DO_NOT_PHONE:
      return V::of_bool(c.flag(kDoNotPhone));
    case C_DO_NOT_MAIL:
      return V::of_bool(c.flag(kDoNotMail));
    case C_DO_NOT_SMS:
      return V::of_bool(c.flag(kDoNotSms));
    case C_DO_NOT_TRADE:
      return V::of_bool(c.flag(kDoNotTrade));
    case C_IS_OPT_OUT:
      return V::of_bool(c.flag(kIsOptOut));
    case C_IS_DECEASED:
      return V::of_bool(c.flag(kIsDeceased));
    case C_IS_DELETED:
      return V::of_bool(c.flag(kIsDeleted));
    case C_FIRST_NAME:
      return c.first_name.empty() ? V{} : V::of_str(c.first_name);
    case C_LAST_NAME:
      return c.last_name.empty() ? V{} : V::of_str(c.last_name);
    case C_SORT_NAME:
    case C_DISPLAY_NAME:
      contact_names(site, c, f == C_SORT_NAME, scratch);
      return V::of_str(*scratch);
    case C_CREATED_DATE:
      return V::of_time(c.created);
    case C_MODIFIED_DATE:
      return V::of_time(c.modified);
    case C_EMAIL_PRIMARY: {
      std::uint32_t e = site.primary_email(c.id);
      return e == kNoSlot ? V{} : V::of_int(site.emails.rows[e].id);
    }
    default:
      return extra_v(c, f);
  }
}

V get_email(const EmailRow& e, int f) {
  switch (f) {
    case E_ID:
      return V::of_int(e.id);
    case E_CONTACT_ID:
      return V::of_int(e.contact_id);
    case E_LOCATION_TYPE_ID:
      return V::of_int(e.location_type_id);
    case E_EMAIL:
      return e.email_null ? V{} : V::of_str(e.email);
    case E_IS_PRIMARY:
      return V::of_bool(e.is_primary);
    case E_IS_BILLING:
      return V::of_bool(e.is_billing);
    case E_ON_HOLD:
      return V::of_int(e.on_hold);
    case E_IS_BULKMAIL:
      return V::of_bool(e.is_bulkmail);
    case E_HOLD_DATE:
      return V::of_time(e.hold_date);
    case E_RESET_DATE:
      return V::of_time(e.reset_date);
  }
  return V{};
}

V opt_str(const std::string& s) {
  return s.empty() ? V{} : V::of_str(s);
}

V get_group(const GroupRow& g, int f) {
  switch (f) {
    case G_ID:
      return V::of_int(g.id);
    case G_NAME:
      return opt_str(g.name);
    case G_TITLE:
      return opt_str(g.title);
    case G_DESCRIPTION:
      return opt_str(g.description);
    case G_SOURCE:
      return opt_str(g.source);
    case G_SAVED_SEARCH_ID:
      return V{};
    case G_IS_ACTIVE:
      return V::of_bool(g.is_active);
    case G_VISIBILITY:
      return opt_str(g.visibility);
    case G_IS_HIDDEN:
      return V::of_bool(g.is_hidden);
    case G_IS_RESERVED:
      return V::of_bool(g.is_reserved);
    case G_FRONTEND_TITLE:
      return opt_str(g.frontend_title);
    case G_FRONTEND_DESCRIPTION:
      return opt_str(g.frontend_description);
  }
  return V{};
}

V str8(const Str8& s) {
  return s.null ? V{} : V::of_str(s.view());
}

V get_group_contact(const GroupContactRow& r, int f) {
  switch (f) {
    case GC_ID:
      return V::of_int(r.id);
    case GC_GROUP_ID:
      return V::of_int(r.group_id);
    case GC_CONTACT_ID:
      return V::of_int(r.contact_id);
    case GC_STATUS:
      return str8(r.status);
    case GC_LOCATION_ID:
      return V::of_int(r.location_id);
    case GC_EMAIL_ID:
      return V::of_int(r.email_id);
  }
  return V{};
}

V get_history(const HistoryRow& r, int f) {
  switch (f) {
    case H_ID:
      return V::of_int(r.id);
    case H_CONTACT_ID:
      return V::of_int(r.contact_id);
    case H_GROUP_ID:
      return V::of_int(r.group_id);
    case H_DATE:
      return V::of_time(r.date);
    case H_METHOD:
      return str8(r.method);
    case H_STATUS:
      return str8(r.status);
    case H_TRACKING:
      return r.tracking_null ? V{} : V::of_str(r.tracking);
  }
  return V{};
}

const TableBase& contact_rows(const CiviSite& s) {
  return s.contacts;
}
const TableBase& email_rows(const CiviSite& s) {
  return s.emails;
}
const TableBase& group_rows(const CiviSite& s) {
  return s.groups;
}
const TableBase& group_contact_rows(const CiviSite& s) {
  return s.group_contacts;
}
const TableBase& history_rows(const CiviSite& s) {
  return s.history;
}

V contact_field(const CiviSite& s, std::uint32_t slot, int f, std::string* scratch) {
  return get_contact(s, s.contacts.rows[slot], f, scratch);
}
V email_field(const CiviSite& s, std::uint32_t slot, int f, std::string*) {
  return get_email(s.emails.rows[slot], f);
}
V group_field(const CiviSite& s, std::uint32_t slot, int f, std::string*) {
  return get_group(s.groups.rows[slot], f);
}
V group_contact_field(const CiviSite& s, std::uint32_t slot, int f, std::string*) {
  return get_group_contact(s.group_contacts.rows[slot], f);
}
V history_field(const CiviSite& s, std::uint32_t slot, int f, std::string*) {
  return get_history(s.history.rows[slot], f);
}

}  // namespace

const std::array<EntityDef, kEntCount> kEntities = {{
    {"Contact",
     "contact",
     kContactFields.data(),
     C_COUNT,
     contact_rows,
     contact_field,
     {},
     &RowWriter::insert_contact,
     &RowWriter::update_contact,
     &RowWriter::delete_contact},
    {"Email",
     "email",
     kEmailFields.data(),
     E_COUNT,
     email_rows,
     email_field,
     {{{E_CONTACT_ID, &CiviSite::email_by_contact}, {E_EMAIL, &CiviSite::email_by_address}}},
     &RowWriter::insert_email,
     &RowWriter::update_email,
     &RowWriter::delete_email},
    {"Group",
     "group",
     kGroupFields.data(),
     G_COUNT,
     group_rows,
     group_field,
     {},
     &RowWriter::insert_group,
     &RowWriter::update_group,
     &RowWriter::delete_group},
    {"GroupContact",
     "group_contact",
     kGroupContactFields.data(),
     GC_COUNT,
     group_contact_rows,
     group_contact_field,
     {{{GC_CONTACT_ID, &CiviSite::gc_by_contact}, {GC_GROUP_ID, &CiviSite::gc_by_group}}},
     &RowWriter::insert_group_contact,
     &RowWriter::update_group_contact,
     &RowWriter::delete_group_contact},
    {"SubscriptionHistory",
     "subscription_history",
     kHistoryFields.data(),
     H_COUNT,
     history_rows,
     history_field,
     {{{H_CONTACT_ID, &CiviSite::hist_by_contact}, {H_GROUP_ID, &CiviSite::hist_by_group}}},
     &RowWriter::insert_history,
     &RowWriter::update_history,
     &RowWriter::delete_history},
}};

Ent entity_by_name(std::string_view name) {
  for (int e = 0; e < kEntCount; ++e) {
    if (kEntities[e].name == name) return static_cast<Ent>(e);
  }
  return kNoEnt;
}

int find_field(Ent e, std::string_view name) {
  const EntityDef& d = kEntities[e];
  for (int i = 0; i < d.field_count; ++i) {
    if (d.fields[i].name == name) return i;
  }
  return -1;
}

const FieldDef& field_def(const CiviSite& site, Ent e, int f) {
  return is_custom(e, f) ? site.custom.field(f).def : field_def(e, f);
}

// ---- getFields

namespace {

// What getFields says of a core field beyond what FieldDef holds; "" where it follows from the
// field (title from the name, label from the title, data and input types from its type).
struct FieldMeta {
  Ent ent;
  std::string_view name;
  std::string_view title;
  std::string_view label = {};
  std::string_view data_type = {};
  std::string_view input_type = {};
  bool readonly = false;  // beyond id and the derived fields
};

// Titles and labels from CiviCRM's schema files where the reference records them (export titles,
// SearchKit labels), else CiviCRM's style; "Extra" for email_primary, the calculated join.
constexpr FieldMeta kFieldMeta[] = {
    {kContact, "id", "Contact ID"},
    {kContact, "is_opt_out", "No Bulk Emails (User Opt Out)", "Is Opt Out"},
    {kContact, "nick_name", "Nickname"},
    {kContact, "source", "Contact Source"},
    {kContact, "prefix_id", "Individual Prefix", "Prefix"},
    {kContact, "suffix_id", "Individual Suffix", "Suffix"},
    {kContact, "gender_id", "Gender ID", "Gender"},
    {kContact, "is_deceased", "Deceased", "Is Deceased"},
    {kContact, "employer_id", "Current Employer ID", "Current Employer"},
    {kContact, "is_deleted", "Contact is in Trash", "Deleted"},
    {kContact, "email_primary", "Primary Email", "Primary Email", {}, "EntityRef"},
    {kEmail, "id", "Email ID"},
    {kEmail, "contact_id", "Contact ID", "Contact"},
    {kEmail, "location_type_id", "Email Location Type", "Location Type"},
    {kEmail, "email", "Email", {}, {}, "Email"},
    {kEmail, "is_bulkmail", "Use for Bulk Mail"},
    {kEmail, "hold_date", "Hold Date", {}, {}, {}, true},
    {kGroup, "id", "Group ID"},
    {kGroup, "name", "Group Name"},
    {kGroup, "title", "Group Title"},
    {kGroup, "description", "Group Description", {}, "Text", "TextArea"},
    {kGroup, "source", "Group Source"},
    {kGroup, "is_active", "Group Enabled"},
    {kGroup, "visibility", "Group Visibility Setting"},
    {kGroup, "is_hidden", "Group is Hidden"},
    {kGroup, "is_reserved", "Group is Reserved"},
    {kGroup, "frontend_title", "Public Group Title"},
    {kGroup, "frontend_description", "Public Group Description", {}, "Text", "TextArea"},
    {kGroupContact, "id", "Group Contact ID"},
    {kGroupContact, "group_id", "Group ID", "Group"},
    {kGroupContact, "contact_id", "Contact ID", "Contact"},
    {kGroupContact, "status", "Group Contact Status", "Status"},
    {kHistory, "id", "Group Membership History ID"},
    {kHistory, "contact_id", "Contact ID", "Contact"},
    {kHistory, "group_id", "Group ID", "Group"},
    {kHistory, "date", "Group Membership Action Date"},
    {kHistory, "method", "Group Membership Action"},
    {kHistory, "status", "Group Membership Status"},
    {kHistory, "tracking", "Group Membership Tracking"},
};

// The table of each entity, by Ent.
constexpr std::array<std::string_view, kEntCount> kTables = {
    "civicrm_contact", "civicrm_email", "civicrm_group", "civicrm_group_contact",
    "civicrm_subscription_history"};

const FieldMeta* meta_of(Ent e, std::string_view name) {
  for (const FieldMeta& m : kFieldMeta) {
    if (m.ent == e && m.name == name) return &m;
  }
  return nullptr;
}

// BasicGetFieldsAction's default title: the name's words capitalised ("Id" as "ID").
std::string title_of(std::string_view name) {
  std::string t;
  bool start = true;
  for (char c : name) {
    if (c == '_') {
      t.push_back(' ');
      start = true;
      continue;
    }
    t.push_back(start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    start = false;
  }
  if (t.size() >= 3 && t.compare(t.size() - 3, 3, " Id") == 0) t.replace(t.size() - 2, 2, "ID");
  return t == "Id" ? "ID" : t;
}

std::string_view data_type_of(Ty ty) {
  switch (ty) {
    case Ty::kInt:
      return "Integer";
    case Ty::kBool:
      return "Boolean";
    case Ty::kStr:
      return "String";
    case Ty::kTime:
      return "Timestamp";
    case Ty::kDate:
      return "Date";
    case Ty::kFloat:
      return "Float";
  }
  return "String";
}

std::string_view input_type_of(const FieldDef& d) {
  if (d.opt != Opt::kNone) return "Select";
  if (d.fk != kNoEnt) return "EntityRef";
  switch (d.ty) {
    case Ty::kBool:
      return "CheckBox";
    case Ty::kInt:
    case Ty::kFloat:
      return "Number";
    case Ty::kTime:
    case Ty::kDate:
      return "Date";
    case Ty::kStr:
      break;
  }
  return "Text";
}

// One option of a list, as loadOptions shows it.
struct OptionOut {
  pjson id;
  std::string name;
  std::string label;
};

std::vector<OptionOut> options_of(const CiviSite& site, Opt o) {
  std::vector<OptionOut> out;
  if (o == Opt::kGroupRef) {
    for (const GroupRow& g : site.groups.rows) {
      if (!g.dead) out.push_back(OptionOut{g.id, g.name, g.title});
    }
    return out;
  }
  for (const OptItem& it : option_items(o)) {
    pjson id = it.value.empty() ? pjson(it.id) : pjson(std::string(it.value));
    out.push_back(OptionOut{std::move(id), std::string(it.name), std::string(it.label)});
  }
  return out;
}

// CoreUtil::formatOptionList: a flat {id: label}, which PHP encodes as a list when the ids are
// 0, 1, …; or a list of objects with the requested properties among id, name and label.
pjson format_options(const std::vector<OptionOut>& items, const FieldSpecOptions& o) {
  if (o.option_props.empty()) {
    bool sequential = true;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].id.is_number_integer() &&
            items[i].id.get<std::int64_t>() == static_cast<std::int64_t>(i))) {
        sequential = false;
      }
    }
    pjson flat = sequential ? pjson::array() : pjson::object();
    for (const OptionOut& it : items) {
      if (sequential) {
        flat.push_back(it.label);
      } else {
        flat[it.id.is_string() ? it.id.get<std::string>() : it.id.dump()] = it.label;
      }
    }
    return flat;
  }
  auto wants = [&](std::string_view p) {
    return std::find(o.option_props.begin(), o.option_props.end(), p) != o.option_props.end();
  };
  pjson list = pjson::array();
  for (const OptionOut& it : items) {
    pjson one = pjson::object();
    if (wants("id")) one["id"] = it.id;
    if (wants("name")) one["name"] = it.name;
    if (wants("label")) one["label"] = it.label;
    list.push_back(std::move(one));
  }
  return list;
}

// The keys every field has, in the order the answer gives them.
pjson blank_spec(Ent e) {
  pjson f = pjson::object();
  for (const char* k : {"name",
                        "title",
                        "label",
                        "description",
                        "type",
                        "entity",
                        "default_value",
                        "required",
                        "nullable",
                        "readonly",
                        "data_type",
                        "input_type",
                        "options",
                        "suffixes",
                        "operators",
                        "fk_entity",
                        "serialize",
                        "table_name",
                        "column_name",
                        "custom_field_id",
                        "custom_group_id",
                        "custom_group"}) {
    f[k] = nullptr;
  }
  f["entity"] = kEntities[e].name;
  f["required"] = false;
  f["nullable"] = true;
  f["readonly"] = false;
  f["options"] = false;
  return f;
}

pjson core_spec(const CiviSite& site, Ent e, int fi, const FieldSpecOptions& o) {
  const FieldDef& d = field_def(e, fi);
  const FieldMeta* m = meta_of(e, d.name);
  pjson f = blank_spec(e);
  std::string title = m != nullptr ? std::string(m->title) : title_of(d.name);
  f["name"] = d.name;
  f["title"] = title;
  f["label"] = m != nullptr && !m->label.empty() ? std::string(m->label) : title;
  bool extra = e == kContact && fi == C_EMAIL_PRIMARY;
  f["type"] = extra ? "Extra" : "Field";
  if (d.ty == Ty::kBool) f["default_value"] = e == kGroup && fi == G_IS_ACTIVE;
  f["required"] = d.required;
  f["nullable"] = !(fi == 0 || d.required || d.ty == Ty::kBool);
  f["readonly"] = fi == 0 || d.computed || (m != nullptr && m->readonly);
  f["data_type"] = m != nullptr && !m->data_type.empty() ? m->data_type : data_type_of(d.ty);
  f["input_type"] = m != nullptr && !m->input_type.empty() ? m->input_type : input_type_of(d);
  if (d.opt != Opt::kNone) {
    f["options"] = o.load_options ? format_options(options_of(site, d.opt), o) : pjson(true);
    f["suffixes"] = pjson::array({"name", "label"});
  }
  if (d.fk != kNoEnt) f["fk_entity"] = kEntities[d.fk].name;
  f["table_name"] = kTables[e];
  if (!extra) f["column_name"] = d.name;
  return f;
}

// Lower case, as CiviCRM derives table and column names.
std::string lower_name(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// SpecFormatter::arrayToField for a custom field: the field's label is the title, the label is
// "Group title: label". A Boolean field has the options Yes (1) and No (0).
pjson custom_spec(const CiviSite& site, int fi, const FieldSpecOptions& o) {
  const CustomField& cf = site.custom.field(fi);
  const CustomGroup& g = site.custom.groups[static_cast<std::size_t>(cf.group)];
  pjson f = blank_spec(kContact);
  f["name"] = cf.api_name;
  f["title"] = cf.label;
  f["label"] = g.title + ": " + cf.label;
  f["type"] = "Custom";
  f["data_type"] = cf.api_type();
  f["input_type"] = cf.type_def().input_type;
  if (cf.type == CustomType::kBoolean) {
    std::vector<OptionOut> yes_no = {{1, "1", "Yes"}, {0, "0", "No"}};
    f["options"] = o.load_options ? format_options(yes_no, o) : pjson(true);
    f["suffixes"] = pjson::array({"name", "label"});
  }
  f["table_name"] = "civicrm_value_" + lower_name(g.name) + "_" + std::to_string(g.id);
  f["column_name"] = lower_name(cf.name) + "_" + std::to_string(cf.id);
  f["custom_field_id"] = cf.id;
  f["custom_group_id"] = g.id;
  f["custom_group"] = g.name;
  return f;
}

}  // namespace

std::vector<pjson> field_specs(const CiviSite& site, Ent e, const FieldSpecOptions& o) {
  std::vector<pjson> out;
  for (int f = 0; f < kEntities[e].field_count; ++f)
    out.push_back(core_spec(site, e, f, o));
  if (e == kContact && o.include_custom) {
    for (std::size_t i = 0; i < site.custom.fields.size(); ++i)
      out.push_back(custom_spec(site, C_COUNT + static_cast<int>(i), o));
  }
  // BasicGetFieldsAction::formatResults: a readonly field cannot be input when creating.
  if (o.action == "create" || o.action == "save") {
    for (pjson& f : out) {
      if (f["readonly"] == true) f["input_type"] = "DisplayOnly";
    }
  }
  return out;
}

}  // namespace concord::sandbox
