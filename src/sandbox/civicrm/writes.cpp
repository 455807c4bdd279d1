#include "sandbox/civicrm/writes.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "sandbox/civicrm/api_error.h"

namespace concord::sandbox {
namespace {

// The stored value of a contact's field, owned, to tell whether a write changed it.
XVal contact_column(const CiviSite& site, std::uint32_t slot, int f) {
  std::string scratch;
  V v = get_field(site, kContact, slot, f, &scratch);
  XVal x;
  x.k = v.k;
  x.i = v.i;
  x.s = std::string(v.s);
  return x;
}

// MySQL compares the row images byte for byte: a change of case is a change.
bool same_value(const XVal& a, const XVal& b) {
  return a.k == b.k && a.i == b.i && a.s == b.s;
}

}  // namespace

std::string_view RowWriter::varchar(const XVal& v, std::size_t max) {
  if (v.k != XVal::kStr) return {};
  if (v.s.size() > max) fail("DB Error: unknown error");
  return v.s;
}

void RowWriter::need_row(Ent e, const XVal& id) {
  if (id.k == XVal::kNull) return;
  if (id.k != XVal::kInt || site_.find(e, id.i) == kNoSlot) {
    fail("DB Error: constraint violation");
  }
}

void RowWriter::add_history(std::int64_t contact, std::int64_t group, std::string_view status,
                            std::string_view method, std::string_view tracking) {
  if (status.size() > 8 || method.size() > 8 || tracking.size() > 255) return;
  HistoryRow h;
  h.contact_id = contact;
  h.group_id = group;
  h.date = now_local_;
  h.status.set(status);
  h.method.set(method);
  h.tracking = std::string(tracking);
  h.tracking_null = false;
  std::uint32_t slot = site_.history.append(std::move(h));
  site_.hist_by_contact.add(contact, slot);
  if (group != kNull) site_.hist_by_group.add(group, slot);
}

void RowWriter::set_contact(ContactRow& c, int f, const XVal& v) {
  switch (f) {
    case C_CONTACT_TYPE: {
      const auto& types = option_items(Opt::kContactType);
      bool ok = false;
      for (std::size_t i = 0; i < types.size(); ++i) {
        if (v.k == XVal::kStr && types[i].value == v.s) {
          c.type = static_cast<std::uint8_t>(i);
          ok = true;
        }
      }
      if (!ok) fail("DB Error: constraint violation");
      return;
    }
    case C_DO_NOT_EMAIL:
      return c.set_flag(kDoNotEmail, v.i != 0 && v.k != XVal::kNull);
    case C_DO_NOT_PHONE:
      return c.set_flag(kDoNotPhone, v.i != 0 && v.k != XVal::kNull);
    case C_DO_NOT_MAIL:
      return c.set_flag(kDoNotMail, v.i != 0 && v.k != XVal::kNull);
    case C_DO_NOT_SMS:
      return c.set_flag(kDoNotSms, v.i != 0 && v.k != XVal::kNull);
    case C_DO_NOT_TRADE:
      return c.set_flag(kDoNotTrade, v.i != 0 && v.k != XVal::kNull);
    case C_IS_OPT_OUT:
      return c.set_flag(kIsOptOut, v.i != 0 && v.k != XVal::kNull);
    case C_IS_DECEASED:
      return c.set_flag(kIsDeceased, v.i != 0 && v.k != XVal::kNull);
    case C_IS_DELETED:
      return c.set_flag(kIsDeleted, v.i != 0 && v.k != XVal::kNull);
    case C_FIRST_NAME:
      c.first_name = v.k == XVal::kStr ? v.s : std::string();
      return;
    case C_LAST_NAME:
      c.last_name = v.k == XVal::kStr ? v.s : std::string();
      return;
    case C_EMPLOYER_ID:
      need_row(kContact, v);
      c.set_extra(f, v);
      return;
    default:
      if (is_custom(kContact, f)) return set_custom(c, f, v);
      if (v.k == XVal::kStr && v.s.empty()) {
        c.set_extra(f, XVal{});
      } else {
        c.set_extra(f, v);
      }
  }
}

std::uint32_t RowWriter::insert_contact(const Values& vals, std::uint64_t* shown) {
  *shown |= (std::uint64_t{1} << C_DISPLAY_NAME) | (std::uint64_t{1} << C_SORT_NAME);
  ContactRow c;
  c.created = c.modified = now_local_;
  for (const FieldVal& fv : vals)
    set_contact(c, fv.field, fv.val);
  return site_.contacts.append(std::move(c));
}

void RowWriter::update_contact(std::uint32_t slot, const Values& vals, std::uint64_t*) {
  ContactRow& c = site_.contacts.rows[slot];
  // modified_date is ON UPDATE CURRENT_TIMESTAMP: MySQL moves it only when the UPDATE changes
  // another column, so writing the values a row already has leaves it where it was. Custom
  // values are written to their group's table, whose AFTER INSERT and UPDATE triggers set the
  // contact's modified_date to now for every row written, changed or not (as civicrm_email's).
  bool changed = false, trash_changed = false, custom_written = false;
  for (const FieldVal& fv : vals) {
    if (is_custom(kContact, fv.field)) {
      set_contact(c, fv.field, fv.val);
      custom_written = true;
      continue;
    }
    XVal before = contact_column(site_, slot, fv.field);
    set_contact(c, fv.field, fv.val);
    if (same_value(before, contact_column(site_, slot, fv.field))) continue;
    (fv.field == C_IS_DELETED ? trash_changed : changed) = true;
  }
  if (changed || custom_written || (trash_changed && site_.trash_bumps_modified_date)) {
    c.modified = now_local_;
  }
}

void RowWriter::set_custom(ContactRow& c, int f, const XVal& v) {
  const CustomField& cf = site_.custom.field(f);
  XVal x = v;
  switch (cf.type) {
    case CustomType::kString:
    case CustomType::kLink:
      varchar(v, 255);  // the column is varchar(255)
      break;
    case CustomType::kInt:
      // int(11): MySQL in strict mode refuses a value out of its range.
      if (v.k == XVal::kInt && (v.i < std::numeric_limits<std::int32_t>::min() ||
                                v.i > std::numeric_limits<std::int32_t>::max())) {
        fail("DB Error: unknown error");
      }
      break;
    case CustomType::kMoney:
      // decimal(20,2) keeps cents.
      if (v.k == XVal::kFloat) x = XVal::of_float(std::round(float_of(v.i) * 100) / 100);
      break;
    case CustomType::kFloat:
    case CustomType::kMemo:
    case CustomType::kDate:
    case CustomType::kBoolean:
      break;
  }
  // CustomValueTable stores an empty string as NULL.
  if (x.k == XVal::kStr && x.s.empty()) x = XVal{};
  c.set_extra(f, std::move(x));
}

void RowWriter::touch_contact(std::int64_t contact) {
  if (contact == kNull) return;
  std::uint32_t slot = site_.contacts.find(contact);
  if (slot != kNoSlot) site_.contacts.rows[slot].modified = now_local_;
}

void RowWriter::delete_contact(std::uint32_t slot, bool use_trash) {
  ContactRow& c = site_.contacts.rows[slot];
  if (use_trash) {
    // Before civicrm-core PR #33439 the trash code wrote the old modified_date back.
    if (!c.flag(kIsDeleted) && site_.trash_bumps_modified_date) c.modified = now_local_;
    c.set_flag(kIsDeleted, true);
    return;
  }
  std::int64_t id = c.id;
  site_.contacts.kill(slot);
  // ON DELETE CASCADE: emails, memberships and their history.
  site_.email_by_contact.scan(id, 0, [&](std::uint32_t s) {
    if (site_.emails.rows[s].contact_id == id) site_.emails.kill(s);
    return true;
  });
  site_.gc_by_contact.scan(id, 0, [&](std::uint32_t s) {
    if (site_.group_contacts.rows[s].contact_id == id) site_.group_contacts.kill(s);
    return true;
  });
  site_.hist_by_contact.scan(id, 0, [&](std::uint32_t s) {
    if (site_.history.rows[s].contact_id == id) site_.history.kill(s);
    return true;
  });
}

void RowWriter::ensure_primary(std::int64_t contact) {
  if (contact == kNull || site_.primary_email(contact) != kNoSlot) return;
  std::uint32_t first = kNoSlot;
  site_.for_contact_emails(contact, [&](std::uint32_t s) {
    if (first == kNoSlot || site_.emails.rows[s].id < site_.emails.rows[first].id) first = s;
  });
  if (first != kNoSlot) site_.emails.rows[first].is_primary = true;
}

void RowWriter::set_email(EmailRow& e, int f, const XVal& v) {
  switch (f) {
    case E_CONTACT_ID:
      need_row(kContact, v);
      e.contact_id = v.k == XVal::kInt ? v.i : kNull;
      return;
    case E_LOCATION_TYPE_ID:
      e.location_type_id = v.k == XVal::kInt ? v.i : kNull;
      return;
    case E_EMAIL:
      e.email = std::string(varchar(v, 254));
      e.email_null = v.k == XVal::kNull;
      return;
    case E_IS_PRIMARY:
      e.is_primary = v.k != XVal::kNull && v.i != 0;
      return;
    case E_IS_BILLING:
      e.is_billing = v.k != XVal::kNull && v.i != 0;
      return;
    case E_ON_HOLD:
      e.on_hold =
          static_cast<std::uint8_t>(v.k == XVal::kInt ? std::clamp<std::int64_t>(v.i, 0, 255) : 0);
      return;
    case E_IS_BULKMAIL:
      e.is_bulkmail = v.k != XVal::kNull && v.i != 0;
      return;
    case E_HOLD_DATE:
      e.hold_date = v.k == XVal::kNull ? kNull : v.i;
      return;
    case E_RESET_DATE:
      e.reset_date = v.k == XVal::kNull ? kNull : v.i;
      return;
  }
}

void RowWriter::email_rules(std::uint32_t slot, const Values& vals, bool created,
                            std::uint64_t* shown) {
  EmailRow& e = site_.emails.rows[slot];
  std::int64_t contact = e.contact_id;
  if (contact != kNull) {
    const XVal* prim = value_of(vals, E_IS_PRIMARY);
    if (e.is_primary) {
      site_.for_contact_emails(contact, [&](std::uint32_t s) {
        if (s != slot) site_.emails.rows[s].is_primary = false;
      });
    } else if (created && prim == nullptr) {
      bool other = false;
      site_.for_contact_emails(contact, [&](std::uint32_t s) {
        if (s != slot && site_.emails.rows[s].is_primary) other = true;
      });
      if (!other) e.is_primary = true;
      *shown |= std::uint64_t{1} << E_IS_PRIMARY;
    } else if (!created && prim != nullptr) {
      // Un-setting the primary: another email takes it; the only email stays primary.
      bool other = false;
      site_.for_contact_emails(contact, [&](std::uint32_t s) {
        if (s != slot && site_.emails.rows[s].is_primary) other = true;
      });
      if (!other) {
        std::uint32_t next = kNoSlot;
        site_.for_contact_emails(contact, [&](std::uint32_t s) {
          if (s != slot &&
              (next == kNoSlot || site_.emails.rows[s].id < site_.emails.rows[next].id)) {
            next = s;
          }
        });
        if (next == kNoSlot) {
          site_.emails.rows[slot].is_primary = true;
        } else {
          site_.emails.rows[next].is_primary = true;
        }
      }
    }
    if (site_.emails.rows[slot].is_bulkmail && given(vals, E_IS_BULKMAIL)) {
      site_.for_contact_emails(contact, [&](std::uint32_t s) {
        if (s != slot) site_.emails.rows[s].is_bulkmail = false;
      });
    }
  }
}

std::uint32_t RowWriter::insert_email(const Values& vals, std::uint64_t* shown) {
  EmailRow e;
  for (const FieldVal& fv : vals)
    set_email(e, fv.field, fv.val);
  if (e.on_hold != 0) {
    e.hold_date = now_local_;
    *shown |= std::uint64_t{1} << E_HOLD_DATE;
  }
  std::uint32_t slot = site_.emails.append(std::move(e));
  const EmailRow& row = site_.emails.rows[slot];
  if (row.contact_id != kNull) site_.email_by_contact.add(row.contact_id, slot);
  if (!row.email_null) site_.email_by_address.add(email_key(row.email), slot);
  email_rules(slot, vals, true, shown);
  // civicrm_email's AFTER INSERT trigger.
  touch_contact(site_.emails.rows[slot].contact_id);
  return slot;
}

void RowWriter::update_email(std::uint32_t slot, const Values& vals, std::uint64_t* shown) {
  EmailRow before = site_.emails.rows[slot];
  EmailRow& e = site_.emails.rows[slot];
  for (const FieldVal& fv : vals)
    set_email(e, fv.field, fv.val);
  // CRM_Core_BAO_Email::holdEmail.
  if (given(vals, E_ON_HOLD)) {
    if (e.on_hold != 0 && before.hold_date == kNull) {
      e.hold_date = now_local_;
      e.reset_date = kNull;
      *shown |= (std::uint64_t{1} << E_HOLD_DATE) | (std::uint64_t{1} << E_RESET_DATE);
    } else if (e.on_hold == 0 && before.hold_date != kNull && before.reset_date == kNull) {
      e.hold_date = kNull;
      e.reset_date = now_local_;
      *shown |= (std::uint64_t{1} << E_HOLD_DATE) | (std::uint64_t{1} << E_RESET_DATE);
    }
  }
  if (e.contact_id != before.contact_id && e.contact_id != kNull) {
    site_.email_by_contact.add(e.contact_id, slot);
  }
  if (!e.email_null && email_key(e.email) != email_key(before.email)) {
    site_.email_by_address.add(email_key(e.email), slot);
  }
  email_rules(slot, vals, false, shown);
  if (before.contact_id != e.contact_id) ensure_primary(before.contact_id);
  // civicrm_email's AFTER UPDATE trigger runs for every row written, changed or not, and
  // touches OLD.contact_id and NEW.contact_id.
  touch_contact(before.contact_id);
  touch_contact(site_.emails.rows[slot].contact_id);
}

void RowWriter::delete_email(std::uint32_t slot, bool) {
  std::int64_t contact = site_.emails.rows[slot].contact_id;
  site_.emails.kill(slot);
  ensure_primary(contact);
  // civicrm_email's AFTER DELETE trigger.
  touch_contact(contact);
}

void RowWriter::set_group(GroupRow& g, int f, const XVal& v) {
  auto str = [&](std::size_t max) { return std::string(varchar(v, max)); };
  switch (f) {
    case G_NAME:
      g.name = str(64);
      return;
    case G_TITLE:
      g.title = str(255);
      return;
    case G_DESCRIPTION:
      g.description = v.k == XVal::kStr ? v.s : "";
      return;
    case G_SOURCE:
      g.source = str(64);
      return;
    case G_IS_ACTIVE:
      g.is_active = v.k != XVal::kNull && v.i != 0;
      return;
    case G_VISIBILITY:
      g.visibility = str(24);
      return;
    case G_IS_HIDDEN:
      g.is_hidden = v.k != XVal::kNull && v.i != 0;
      return;
    case G_IS_RESERVED:
      g.is_reserved = v.k != XVal::kNull && v.i != 0;
      return;
    case G_FRONTEND_TITLE:
      g.frontend_title = str(255);
      return;
    case G_FRONTEND_DESCRIPTION:
      g.frontend_description = v.k == XVal::kStr ? v.s : "";
      return;
  }
}

void RowWriter::check_group_unique(const GroupRow& g, std::int64_t self) {
  for (const GroupRow& o : site_.groups.rows) {
    if (o.dead || o.id == self) continue;
    if (o.name == g.name || o.title == g.title) fail("DB Error: already exists");
  }
}

std::uint32_t RowWriter::insert_group(const Values& vals, std::uint64_t* shown) {
  GroupRow g;
  for (const FieldVal& fv : vals)
    set_group(g, fv.field, fv.val);
  if (g.name.empty()) {
    // CRM_Utils_String::titleToVar.
    for (char c : g.title.substr(0, 64)) {
      g.name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    }
    bool taken = false;
    for (const GroupRow& o : site_.groups.rows) {
      if (!o.dead && o.name == g.name) taken = true;
    }
    if (taken) g.name += "_" + std::to_string(site_.groups.next_id);
    *shown |= std::uint64_t{1} << G_NAME;
  }
  check_group_unique(g, 0);
  return site_.groups.append(std::move(g));
}

void RowWriter::update_group(std::uint32_t slot, const Values& vals, std::uint64_t*) {
  GroupRow g = site_.groups.rows[slot];
  for (const FieldVal& fv : vals)
    set_group(g, fv.field, fv.val);
  check_group_unique(g, g.id);
  site_.groups.rows[slot] = std::move(g);
}

void RowWriter::delete_group(std::uint32_t slot, bool) {
  std::int64_t id = site_.groups.rows[slot].id;
  site_.groups.kill(slot);
  site_.gc_by_group.scan(id, 0, [&](std::uint32_t s) {
    if (site_.group_contacts.rows[s].group_id == id) site_.group_contacts.kill(s);
    return true;
  });
  site_.hist_by_group.scan(id, 0, [&](std::uint32_t s) {
    if (site_.history.rows[s].group_id == id) site_.history.kill(s);
    return true;
  });
}

std::uint32_t RowWriter::find_membership(std::int64_t contact, std::int64_t group) const {
  std::uint32_t found = kNoSlot;
  site_.gc_by_contact.scan(contact, 0, [&](std::uint32_t s) {
    const GroupContactRow& r = site_.group_contacts.rows[s];
    if (!r.dead && r.contact_id == contact && r.group_id == group) {
      found = s;
      return false;
    }
    return true;
  });
  return found;
}

void RowWriter::set_group_contact(GroupContactRow& r, int f, const XVal& v) {
  switch (f) {
    case GC_GROUP_ID:
      if (v.k == XVal::kNull) fail("DB Error: constraint violation");
      need_row(kGroup, v);
      r.group_id = v.i;
      return;
    case GC_CONTACT_ID:
      if (v.k == XVal::kNull) fail("DB Error: constraint violation");
      need_row(kContact, v);
      r.contact_id = v.i;
      return;
    case GC_STATUS:
      if (v.k == XVal::kNull) {
        r.status.clear();
      } else {
        r.status.set(varchar(v, 8));
      }
      return;
    case GC_LOCATION_ID:
      r.location_id = v.k == XVal::kInt ? v.i : kNull;
      return;
    case GC_EMAIL_ID:
      need_row(kEmail, v);
      r.email_id = v.k == XVal::kInt ? v.i : kNull;
      return;
  }
}

std::uint32_t RowWriter::insert_group_contact(const Values& vals, std::uint64_t* shown) {
  GroupContactRow r;
  for (const FieldVal& fv : vals)
    set_group_contact(r, fv.field, fv.val);
  if (!given(vals, GC_STATUS)) {
    r.status.set("Added");
    *shown |= std::uint64_t{1} << GC_STATUS;
  }
  if (find_membership(r.contact_id, r.group_id) != kNoSlot) fail("DB Error: already exists");
  std::int64_t contact = r.contact_id, group = r.group_id;
  std::string status(r.status.view());
  std::uint32_t slot = site_.group_contacts.append(std::move(r));
  site_.gc_by_contact.add(contact, slot);
  site_.gc_by_group.add(group, slot);
  add_history(contact, group, status, method_, tracking_);
  return slot;
}

void RowWriter::update_group_contact(std::uint32_t slot, const Values& vals, std::uint64_t*) {
  GroupContactRow r = site_.group_contacts.rows[slot];
  for (const FieldVal& fv : vals)
    set_group_contact(r, fv.field, fv.val);
  const GroupContactRow& before = site_.group_contacts.rows[slot];
  if (r.contact_id != before.contact_id || r.group_id != before.group_id) {
    if (find_membership(r.contact_id, r.group_id) != kNoSlot) fail("DB Error: already exists");
    if (r.contact_id != before.contact_id) site_.gc_by_contact.add(r.contact_id, slot);
    if (r.group_id != before.group_id) site_.gc_by_group.add(r.group_id, slot);
  }
  site_.group_contacts.rows[slot] = r;
  // The post hook writes a history row on every edit, with the status after it.
  add_history(r.contact_id, r.group_id, r.status.view(), method_, tracking_);
}

void RowWriter::delete_group_contact(std::uint32_t slot, bool) {
  const GroupContactRow r = site_.group_contacts.rows[slot];
  site_.group_contacts.kill(slot);
  add_history(r.contact_id, r.group_id, "Deleted", method_, tracking_);
}

void RowWriter::set_history(HistoryRow& h, int f, const XVal& v) {
  switch (f) {
    case H_CONTACT_ID:
      if (v.k == XVal::kNull) fail("DB Error: constraint violation");
      need_row(kContact, v);
      h.contact_id = v.i;
      return;
    case H_GROUP_ID:
      need_row(kGroup, v);
      h.group_id = v.k == XVal::kInt ? v.i : kNull;
      return;
    case H_DATE:
      return;  // always "now": the BAO's pre hook sets it
    case H_METHOD:
      if (v.k == XVal::kNull) {
        h.method.clear();
      } else {
        h.method.set(varchar(v, 8));
      }
      return;
    case H_STATUS:
      if (v.k == XVal::kNull) {
        h.status.clear();
      } else {
        h.status.set(varchar(v, 8));
      }
      return;
    case H_TRACKING:
      h.tracking = std::string(varchar(v, 255));
      h.tracking_null = v.k == XVal::kNull;
      return;
  }
}

std::uint32_t RowWriter::insert_history(const Values& vals, std::uint64_t* shown) {
  HistoryRow h;
  for (const FieldVal& fv : vals)
    set_history(h, fv.field, fv.val);
  h.date = now_local_;
  *shown |= std::uint64_t{1} << H_DATE;
  std::int64_t contact = h.contact_id, group = h.group_id;
  std::uint32_t slot = site_.history.append(std::move(h));
  site_.hist_by_contact.add(contact, slot);
  if (group != kNull) site_.hist_by_group.add(group, slot);
  return slot;
}

void RowWriter::update_history(std::uint32_t slot, const Values& vals, std::uint64_t* shown) {
  HistoryRow h = site_.history.rows[slot];
  for (const FieldVal& fv : vals)
    set_history(h, fv.field, fv.val);
  h.date = now_local_;
  *shown |= std::uint64_t{1} << H_DATE;
  const HistoryRow& before = site_.history.rows[slot];
  if (h.contact_id != before.contact_id) site_.hist_by_contact.add(h.contact_id, slot);
  if (h.group_id != before.group_id && h.group_id != kNull)
    site_.hist_by_group.add(h.group_id, slot);
  site_.history.rows[slot] = std::move(h);
}
void RowWriter::delete_history(std::uint32_t slot, bool) {
  site_.history.kill(slot);
}

}  // namespace concord::sandbox
