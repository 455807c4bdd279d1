#include "sandbox/civicrm/state.h"

#include <vector>

#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/times.h"

namespace concord::sandbox {

void write_site(JsonOut& o, const CiviSite& s) {
  o.begin_object();
  o.key("api_key");
  o.str(s.api_key);
  o.key("site_key");
  o.str(s.site_key);
  o.key("timezone");
  o.str(s.timezone);
  o.key("api_key_permission");
  o.boolean(s.api_key_permission);
  o.key("view_debug_output");
  o.boolean(s.view_debug_output);
  o.key("trash_bumps_modified_date");
  o.boolean(s.trash_bumps_modified_date);
  o.key("deny");
  o.begin_array();
  for (const std::string& d : s.deny)
    o.str(d);
  o.end_array();
  // Before the contacts, so that a reader converts their custom values as it reads them.
  if (!s.custom.groups.empty()) {
    o.key("custom_groups");
    o.begin_array();
    for (const CustomGroup& g : s.custom.groups) {
      o.begin_object();
      o.key("id");
      o.integer(g.id);
      o.key("name");
      o.str(g.name);
      o.key("title");
      o.str(g.title);
      o.key("extends");
      o.str("Contact");
      o.key("fields");
      o.begin_array();
      for (int fi : g.fields) {
        const CustomField& f = *s.custom.fields[static_cast<std::size_t>(fi)];
        o.begin_object();
        o.key("id");
        o.integer(f.id);
        o.key("name");
        o.str(f.name);
        o.key("label");
        o.str(f.label);
        o.key("data_type");
        o.str(f.type_def().data_type);
        if (f.time_format != 0) {
          o.key("time_format");
          o.integer(f.time_format);
        }
        o.end_object();
      }
      o.end_array();
      o.end_object();
    }
    o.end_array();
  }
  o.key("next_ids");
  o.begin_object();
  for (int e = 0; e < kEntCount; ++e) {
    o.key(kEntities[e].next_id_key);
    o.integer(s.rows(static_cast<Ent>(e)).next_id);
  }
  o.end_object();
  o.key("groups");
  o.begin_array();
  for (const GroupRow& g : s.groups.rows) {
    if (g.dead) continue;
    o.begin_object();
    o.key("id");
    o.integer(g.id);
    o.key("name");
    o.str(g.name);
    o.key("title");
    o.str(g.title);
    if (!g.description.empty()) {
      o.key("description");
      o.str(g.description);
    }
    if (!g.source.empty()) {
      o.key("source");
      o.str(g.source);
    }
    o.key("visibility");
    o.str(g.visibility);
    if (!g.frontend_title.empty()) {
      o.key("frontend_title");
      o.str(g.frontend_title);
    }
    if (!g.frontend_description.empty()) {
      o.key("frontend_description");
      o.str(g.frontend_description);
    }
    o.key("is_active");
    o.boolean(g.is_active);
    o.key("is_hidden");
    o.boolean(g.is_hidden);
    o.key("is_reserved");
    o.boolean(g.is_reserved);
    o.end_object();
  }
  o.end_array();
  auto write_email = [&](const EmailRow& e, bool with_contact) {
    o.begin_object();
    o.key("id");
    o.integer(e.id);
    if (with_contact) {
      o.key("contact_id");
      o.null();
    }
    o.key("email");
    if (e.email_null) {
      o.null();
    } else {
      o.str(e.email);
    }
    // Values that are the seed's defaults are left out (a million rows add up).
    if (e.location_type_id != 1) {
      o.key("location_type_id");
      if (e.location_type_id == kNull) {
        o.null();
      } else {
        o.integer(e.location_type_id);
      }
    }
    if (e.is_primary) {
      o.key("is_primary");
      o.boolean(true);
    }
    if (e.is_billing) {
      o.key("is_billing");
      o.boolean(true);
    }
    if (e.is_bulkmail) {
      o.key("is_bulkmail");
      o.boolean(true);
    }
    if (e.on_hold != 0) {
      o.key("on_hold");
      o.integer(e.on_hold);
    }
    if (e.hold_date != kNull) {
      o.key("hold_date");
      o.str(civil_string(e.hold_date));
    }
    if (e.reset_date != kNull) {
      o.key("reset_date");
      o.str(civil_string(e.reset_date));
    }
    o.end_object();
  };
  o.key("contacts");
  o.begin_array();
  for (const ContactRow& c : s.contacts.rows) {
    if (c.dead) continue;
    o.buf += '\n';
    o.begin_object();
    o.key("id");
    o.integer(c.id);
    if (c.type != 0) {
      o.key("contact_type");
      o.str(contact_type_name(c.type));
    }
    if (!c.first_name.empty()) {
      o.key("first_name");
      o.str(c.first_name);
    }
    if (!c.last_name.empty()) {
      o.key("last_name");
      o.str(c.last_name);
    }
    static const std::pair<int, ContactFlag> kFlags[] = {
        {C_DO_NOT_EMAIL, kDoNotEmail}, {C_DO_NOT_PHONE, kDoNotPhone}, {C_DO_NOT_MAIL, kDoNotMail},
        {C_DO_NOT_SMS, kDoNotSms},     {C_DO_NOT_TRADE, kDoNotTrade}, {C_IS_OPT_OUT, kIsOptOut},
        {C_IS_DECEASED, kIsDeceased},  {C_IS_DELETED, kIsDeleted}};
    for (const auto& [f, fl] : kFlags) {
      if (c.flag(fl)) {
        o.key(kContactFields[f].name);
        o.boolean(true);
      }
    }
    if (c.extra) {
      for (const auto& [f, v] : *c.extra) {
        if (v.k == XVal::kNull) continue;  // set_extra keeps none
        o.key(field_def(s, kContact, f).name);
        switch (v.k) {
          case XVal::kInt:
            o.integer(v.i);
            break;
          case XVal::kBool:
            o.boolean(v.i != 0);
            break;
          case XVal::kFloat:
            o.raw(pjson(float_of(v.i)).dump());
            break;
          case XVal::kDate:
            o.str(date_string(v.i));
            break;
          case XVal::kTime:
            o.str(civil_string(v.i));
            break;
          case XVal::kStr:
          case XVal::kNull:
            o.str(v.s);
            break;
        }
      }
    }
    o.key("created_date");
    o.str(civil_string(c.created));
    if (c.modified != c.created) {
      o.key("modified_date");
      o.str(civil_string(c.modified));
    }
    bool any = false;
    s.for_contact_emails(c.id, [&](std::uint32_t) { any = true; });
    if (any) {
      o.key("emails");
      o.begin_array();
      std::vector<std::uint32_t> slots;
      s.for_contact_emails(c.id, [&](std::uint32_t e) { slots.push_back(e); });
      for (std::uint32_t e : slots)
        write_email(s.emails.rows[e], false);
      o.end_array();
    }
    o.end_object();
  }
  o.end_array();
  o.key("emails");
  o.begin_array();
  for (const EmailRow& e : s.emails.rows) {
    if (!e.dead && e.contact_id == kNull) write_email(e, true);
  }
  o.end_array();
  o.key("group_contacts");
  o.begin_array();
  for (const GroupContactRow& r : s.group_contacts.rows) {
    if (r.dead) continue;
    o.buf += '\n';
    o.begin_object();
    o.key("id");
    o.integer(r.id);
    o.key("group_id");
    o.integer(r.group_id);
    o.key("contact_id");
    o.integer(r.contact_id);
    o.key("status");
    if (r.status.null) {
      o.null();
    } else {
      o.str(r.status.view());
    }
    if (r.location_id != kNull) {
      o.key("location_id");
      o.integer(r.location_id);
    }
    if (r.email_id != kNull) {
      o.key("email_id");
      o.integer(r.email_id);
    }
    o.end_object();
  }
  o.end_array();
  o.key("subscription_history");
  o.begin_array();
  for (const HistoryRow& h : s.history.rows) {
    if (h.dead) continue;
    o.buf += '\n';
    o.begin_object();
    o.key("id");
    o.integer(h.id);
    o.key("contact_id");
    o.integer(h.contact_id);
    o.key("group_id");
    if (h.group_id == kNull) {
      o.null();
    } else {
      o.integer(h.group_id);
    }
    o.key("date");
    o.str(civil_string(h.date));
    o.key("method");
    if (h.method.null) {
      o.null();
    } else {
      o.str(h.method.view());
    }
    o.key("status");
    o.str(h.status.view());
    if (!h.tracking_null) {
      o.key("tracking");
      o.str(h.tracking);
    }
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

}  // namespace concord::sandbox
