#include "sandbox/civicrm/entities.h"

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

}  // namespace concord::sandbox
