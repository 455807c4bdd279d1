#include "sandbox/civicrm/seed.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/times.h"

namespace concord::sandbox {
namespace {

constexpr Micros kFillNow = kNull + 1;  // "now", filled in once the site's zone is known

struct SeedError {
  std::string message;
};

[[noreturn]] void seed_fail(const std::string& path, const std::string& what) {
  throw SeedError{"seed: " + path + ": " + what};
}

// Where a value is in the document, e.g. civicrm.contacts[3].emails[0].email: built only for an
// error message (a million rows would otherwise build millions of strings).
struct Where {
  const Where* parent = nullptr;
  std::string_view key;  // ".key" after the parent (the root text without a parent)
  long index = -1;       // then "[index]"
  std::string str() const {
    std::string s = parent ? parent->str() : std::string();
    if (!key.empty()) {
      if (!s.empty()) s += '.';
      s += key;
    }
    if (index >= 0) s += "[" + std::to_string(index) + "]";
    return s;
  }
};

[[noreturn]] void seed_fail(const Where& where, const std::string& what) {
  seed_fail(where.str(), what);
}

// Contact fields by name, for the loader.
int contact_field(std::string_view name) {
  static const std::unordered_map<std::string_view, int> kByName = [] {
    std::unordered_map<std::string_view, int> m;
    for (int f = 0; f < C_COUNT; ++f)
      m.emplace(kContactFields[f].name, f);
    return m;
  }();
  auto it = kByName.find(name);
  return it == kByName.end() ? -1 : it->second;
}

// Converts the streamed rows of the "civicrm" part into a site.
class CiviLoader {
 public:
  explicit CiviLoader(CiviSite* site) : site_(site) {}

  void item(const std::string& array, std::size_t index, pjson&& v) {
    static const std::array<std::string_view, 4> kRoots = {"civicrm.contacts", "civicrm.emails",
                                                           "civicrm.subscription_history",
                                                           "civicrm.group_contacts"};
    std::string_view root = array == "contacts"               ? kRoots[0]
                            : array == "emails"               ? kRoots[1]
                            : array == "subscription_history" ? kRoots[2]
                                                              : kRoots[3];
    Where path{nullptr, root, static_cast<long>(index)};
    if (!v.is_object()) seed_fail(path, "expected an object");
    if (array == "contacts") {
      contact(path, v);
    } else if (array == "emails") {
      email(path, v, kNull, false);
    } else if (array == "subscription_history") {
      history(path, v);
    } else {
      group_contact(path, v);
    }
  }

  // After the whole document: settings, groups, ordering, references, derived memberships.
  void finish(const pjson& part, Micros now) {
    CiviSite& s = *site_;
    std::vector<std::string> known = {"api_key",
                                      "site_key",
                                      "timezone",
                                      "api_key_permission",
                                      "view_debug_output",
                                      "trash_bumps_modified_date",
                                      "deny",
                                      "custom_groups",
                                      "next_ids",
                                      "groups",
                                      "contacts",
                                      "emails",
                                      "group_contacts",
                                      "subscription_history",
                                      "comment"};
    for (auto it = part.begin(); it != part.end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
        seed_fail("civicrm." + it.key(), "unknown key");
      }
    }
    auto str = [&](const char* k, std::string* out) {
      if (auto it = part.find(k); it != part.end() && !it->is_null()) {
        if (!it->is_string()) seed_fail(std::string("civicrm.") + k, "expected a string");
        *out = it->get<std::string>();
      }
    };
    auto flag = [&](const char* k, bool* out) {
      if (auto it = part.find(k); it != part.end() && !it->is_null()) {
        if (!it->is_boolean()) seed_fail(std::string("civicrm.") + k, "expected true or false");
        *out = it->get<bool>();
      }
    };
    str("api_key", &s.api_key);
    str("site_key", &s.site_key);
    str("timezone", &s.timezone);
    flag("api_key_permission", &s.api_key_permission);
    flag("view_debug_output", &s.view_debug_output);
    flag("trash_bumps_modified_date", &s.trash_bumps_modified_date);
    auto tz = TimeZone::load(s.timezone);
    if (!tz.is_ok()) seed_fail("civicrm.timezone", "unknown time zone \"" + s.timezone + "\"");
    s.tz = *tz;
    if (auto it = part.find("deny"); it != part.end() && !it->is_null()) {
      if (!it->is_array()) seed_fail("civicrm.deny", "expected an array of \"Entity.action\"");
      for (const pjson& d : *it) {
        if (!d.is_string() || d.get<std::string>().find('.') == std::string::npos) {
          seed_fail("civicrm.deny", "expected an array of \"Entity.action\"");
        }
        s.deny.push_back(d.get<std::string>());
      }
    }
    if (!custom_defined_) {
      auto it = part.find("custom_groups");
      custom_groups(it == part.end() ? pjson() : *it);
    }
    for (const PendingValue& pv : pending_) {
      Where contacts{nullptr, "civicrm.contacts", pv.index};
      Where p{&contacts, pv.key};
      int cf = s.custom.find(kContact, pv.key);
      if (cf < 0) seed_fail(p, "unknown field");
      s.contacts.rows[pv.row].set_extra(cf, custom_value(p, s.custom.field(cf), pv.value));
    }
    pending_.clear();
    if (auto it = part.find("groups"); it != part.end() && !it->is_null()) {
      if (!it->is_array()) seed_fail("civicrm.groups", "expected an array");
      for (std::size_t i = 0; i < it->size(); ++i)
        group(Where{nullptr, "civicrm.groups", static_cast<long>(i)}, (*it)[i]);
    }
    const Micros local_now = s.tz->utc_to_local(now);
    for (ContactRow& c : s.contacts.rows) {
      if (c.created == kFillNow) c.created = local_now;
      if (c.modified == kFillNow) c.modified = c.created;
    }
    for (HistoryRow& h : s.history.rows) {
      if (h.date == kFillNow) h.date = local_now;
    }
    auto dup = [&](const char* what, std::int64_t id) {
      if (id != 0) seed_fail(std::string("civicrm.") + what, "duplicate id " + std::to_string(id));
    };
    dup("contacts", s.contacts.finish_load());
    dup("contacts[].emails", s.emails.finish_load());
    dup("groups", s.groups.finish_load());
    dup("subscription_history", s.history.finish_load());
    dup("group_contacts", s.group_contacts.finish_load());
    for (const GroupRow& g : s.groups.rows) {
      for (const GroupRow& o : s.groups.rows) {
        if (&o != &g && (o.name == g.name || o.title == g.title)) {
          seed_fail("civicrm.groups",
                    "two groups named \"" + g.name + "\" or titled \"" + g.title + "\"");
        }
      }
    }
    // References.
    for (const EmailRow& e : s.emails.rows) {
      if (e.contact_id != kNull && s.contacts.find(e.contact_id) == kNoSlot) {
        seed_fail("civicrm.emails",
                  "email " + std::to_string(e.id) + ": no contact " + std::to_string(e.contact_id));
      }
    }
    for (const HistoryRow& h : s.history.rows) {
      std::string path = "civicrm.subscription_history (id " + std::to_string(h.id) + ")";
      if (s.contacts.find(h.contact_id) == kNoSlot) {
        seed_fail(path, "no contact " + std::to_string(h.contact_id));
      }
      if (h.group_id != kNull && s.groups.find(h.group_id) == kNoSlot) {
        seed_fail(path, "no group " + std::to_string(h.group_id));
      }
    }
    for (const GroupContactRow& r : s.group_contacts.rows) {
      std::string path = "civicrm.group_contacts (id " + std::to_string(r.id) + ")";
      if (s.contacts.find(r.contact_id) == kNoSlot) {
        seed_fail(path, "no contact " + std::to_string(r.contact_id));
      }
      if (s.groups.find(r.group_id) == kNoSlot) {
        seed_fail(path, "no group " + std::to_string(r.group_id));
      }
    }
    // Memberships follow from each contact's latest history row unless given.
    if (!part.contains("group_contacts")) derive_memberships();
    // Indexes.
    std::vector<KeyIndex::Entry> a, b;
    a.reserve(s.emails.rows.size());
    b.reserve(s.emails.rows.size());
    for (std::uint32_t i = 0; i < s.emails.rows.size(); ++i) {
      const EmailRow& e = s.emails.rows[i];
      if (e.contact_id != kNull) a.push_back({e.contact_id, i});
      if (!e.email_null) b.push_back({email_key(e.email), i});
    }
    s.email_by_contact.build(std::move(a));
    s.email_by_address.build(std::move(b));
    a.clear();
    b.clear();
    for (std::uint32_t i = 0; i < s.group_contacts.rows.size(); ++i) {
      const GroupContactRow& r = s.group_contacts.rows[i];
      a.push_back({r.contact_id, i});
      b.push_back({r.group_id, i});
    }
    // Unique (contact, group).
    {
      std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
      for (const GroupContactRow& r : s.group_contacts.rows)
        pairs.emplace_back(r.contact_id, r.group_id);
      std::sort(pairs.begin(), pairs.end());
      for (std::size_t i = 1; i < pairs.size(); ++i) {
        if (pairs[i] == pairs[i - 1]) {
          seed_fail("civicrm.group_contacts", "contact " + std::to_string(pairs[i].first) +
                                                  " is in group " +
                                                  std::to_string(pairs[i].second) + " twice");
        }
      }
    }
    s.gc_by_contact.build(std::move(a));
    s.gc_by_group.build(std::move(b));
    a.clear();
    b.clear();
    for (std::uint32_t i = 0; i < s.history.rows.size(); ++i) {
      const HistoryRow& h = s.history.rows[i];
      a.push_back({h.contact_id, i});
      if (h.group_id != kNull) b.push_back({h.group_id, i});
    }
    s.hist_by_contact.build(std::move(a));
    s.hist_by_group.build(std::move(b));
    // One primary email per contact that has emails.
    std::int64_t prev = kNull;
    std::uint32_t first = kNoSlot;
    int primaries = 0;
    std::vector<std::uint32_t> by_contact(s.emails.rows.size());
    for (std::uint32_t i = 0; i < by_contact.size(); ++i)
      by_contact[i] = i;
    std::stable_sort(by_contact.begin(), by_contact.end(), [&](std::uint32_t x, std::uint32_t y) {
      return s.emails.rows[x].contact_id < s.emails.rows[y].contact_id;
    });
    auto close = [&]() {
      if (prev == kNull) return;
      if (primaries == 0) s.emails.rows[first].is_primary = true;
      if (primaries > 1) {
        seed_fail("civicrm.contacts (id " + std::to_string(prev) + ")",
                  "more than one primary email");
      }
    };
    for (std::uint32_t i : by_contact) {
      const EmailRow& e = s.emails.rows[i];
      if (e.contact_id != prev) {
        close();
        prev = e.contact_id;
        first = i;
        primaries = 0;
      }
      if (e.contact_id != kNull && e.is_primary) ++primaries;
    }
    close();
    if (auto it = part.find("next_ids"); it != part.end() && it->is_object()) {
      auto next = [&](std::string_view k, std::int64_t* out) {
        if (auto n = it->find(std::string(k)); n != it->end() && n->is_number_integer()) {
          *out = std::max(*out, n->get<std::int64_t>());
        }
      };
      for (int e = 0; e < kEntCount; ++e)
        next(kEntities[e].next_id_key, &s.rows(static_cast<Ent>(e)).next_id);
    }
  }

  // The "custom_groups" array (null: none): the site's custom groups and fields. Called once,
  // as soon as the array is read (so that the contacts after it are converted as they come), or
  // from finish().
  void custom_groups(const pjson& v) {
    custom_defined_ = true;
    if (v.is_null()) return;
    Where root{nullptr, "civicrm.custom_groups"};
    if (!v.is_array()) seed_fail(root, "expected an array");
    // Ids left out follow the highest seen so far, as for the other rows.
    std::int64_t next_group = 1, next_field = 1;
    CustomSchema& cs = site_->custom;
    for (std::size_t i = 0; i < v.size(); ++i) {
      Where path{nullptr, "civicrm.custom_groups", static_cast<long>(i)};
      const pjson& o = v[i];
      if (!o.is_object()) seed_fail(path, "expected an object");
      CustomGroup g;
      g.id = id_of(path, o, &next_group);
      std::string extends = "Contact";
      const pjson* fields = nullptr;
      for (auto it = o.begin(); it != o.end(); ++it) {
        const std::string& k = it.key();
        Where p{&path, k};
        if (k == "id") continue;
        if (k == "name") {
          g.name = str_of(p, it.value(), 64);
        } else if (k == "title") {
          g.title = str_of(p, it.value(), 64);
        } else if (k == "extends") {
          extends = str_of(p, it.value());
        } else if (k == "fields") {
          if (!it->is_array()) seed_fail(p, "expected an array");
          fields = &it.value();
        } else {
          seed_fail(p, "unknown field");
        }
      }
      if (extends != "Contact") {
        seed_fail(Where{&path, "extends"},
                  "expected \"Contact\" (only custom data of contacts is emulated)");
      }
      if (g.name.empty() && g.title.empty())
        seed_fail(path, "a custom group needs a name or a title");
      if (g.name.empty()) g.name = title_to_var(g.title);
      if (g.title.empty()) g.title = g.name;
      check_name(Where{&path, "name"}, g.name);
      // "Group.field" must not read as a join, nor as the custom.* wildcard.
      if (g.name == "custom" || find_field(kContact, g.name) >= 0) {
        seed_fail(Where{&path, "name"}, "\"" + g.name + "\" is the name of a Contact field");
      }
      for (const CustomGroup& o2 : cs.groups) {
        if (o2.name == g.name)
          seed_fail(Where{&path, "name"}, "two custom groups named \"" + g.name + "\"");
        if (o2.id == g.id) seed_fail(Where{&path, "id"}, "duplicate id " + std::to_string(g.id));
      }
      int gi = cs.add_group(std::move(g));
      for (std::size_t j = 0; fields != nullptr && j < fields->size(); ++j)
        custom_field(Where{&path, "fields", static_cast<long>(j)}, (*fields)[j], gi, &next_field);
    }
  }

 private:
  struct PendingValue {
    std::size_t row;  // in site_->contacts.rows, before they are sorted
    long index;       // in civicrm.contacts, for errors
    std::string key;
    pjson value;
  };

  // CRM_Utils_String::titleToVar: a name from a label.
  static std::string title_to_var(std::string_view title) {
    std::string out;
    for (char c : title.substr(0, 64))
      out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    return out;
  }

  static void check_name(const Where& path, const std::string& name) {
    bool ok = !name.empty();
    for (char c : name)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) seed_fail(path, "expected letters, digits and _");
  }

  void custom_field(const Where& path, const pjson& o, int group, std::int64_t* next_id) {
    if (!o.is_object()) seed_fail(path, "expected an object");
    CustomField f;
    f.id = id_of(path, o, next_id);
    bool has_type = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "name") {
        f.name = str_of(p, it.value(), 64);
      } else if (k == "label") {
        f.label = str_of(p, it.value(), 255);
      } else if (k == "data_type") {
        std::string t = str_of(p, it.value());
        has_type = false;
        for (std::size_t i = 0; i < kCustomTypes.size(); ++i) {
          if (kCustomTypes[i].data_type == t) {
            f.type = static_cast<CustomType>(i);
            has_type = true;
          }
        }
        if (!has_type) {
          seed_fail(p, "expected String, Int, Float, Money, Memo, Date, Boolean or Link");
        }
      } else if (k == "time_format") {
        std::int64_t t = int_of(p, it.value(), true);
        if (t != kNull && (t < 0 || t > 2)) seed_fail(p, "expected 0, 1 or 2");
        f.time_format = t == kNull ? 0 : static_cast<int>(t);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_type) seed_fail(Where{&path, "data_type"}, "required");
    if (f.time_format != 0 && f.type != CustomType::kDate) {
      seed_fail(Where{&path, "time_format"}, "only a Date field has one");
    }
    if (f.name.empty() && f.label.empty())
      seed_fail(path, "a custom field needs a name or a label");
    if (f.name.empty()) f.name = title_to_var(f.label);
    if (f.label.empty()) f.label = f.name;
    check_name(Where{&path, "name"}, f.name);
    CustomSchema& cs = site_->custom;
    for (const auto& other : cs.fields) {
      if (other->id == f.id) seed_fail(Where{&path, "id"}, "duplicate id " + std::to_string(f.id));
      if (other->group == group && other->name == f.name) {
        seed_fail(Where{&path, "name"}, "two fields named \"" + f.name + "\" in the group");
      }
    }
    cs.add_field(group, std::move(f));
  }

  // A custom field's value in a contact: typed as the API returns it; null or "" is no value.
  static XVal custom_value(const Where& p, const CustomField& cf, const pjson& v) {
    if (v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty())) return XVal{};
    switch (cf.type) {
      case CustomType::kString:
      case CustomType::kLink:
        return XVal::of_str(str_of(p, v, 255));
      case CustomType::kMemo:
        return XVal::of_str(str_of(p, v));
      case CustomType::kInt: {
        std::int64_t i = int_of(p, v, false);
        if (i < std::numeric_limits<std::int32_t>::min() ||
            i > std::numeric_limits<std::int32_t>::max()) {
          seed_fail(p, "out of the range of int(11)");
        }
        return XVal::of_int(i);
      }
      case CustomType::kFloat:
      case CustomType::kMoney: {
        if (!v.is_number()) seed_fail(p, "expected a number");
        double d = v.get<double>();
        if (cf.type == CustomType::kMoney) d = std::round(d * 100) / 100;
        return XVal::of_float(d);
      }
      case CustomType::kBoolean:
        return XVal::of_bool(bool_of(p, v));
      case CustomType::kDate: {
        Micros t = time_of(p, v);
        if (cf.time_format != 0) return XVal::of_time(t);
        t -= ((t % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
        return XVal::of_time(t, XVal::kDate);
      }
    }
    return XVal{};
  }

  std::int64_t id_of(const Where& path, const pjson& o, std::int64_t* next) {
    auto it = o.find("id");
    if (it == o.end() || it->is_null()) return (*next)++;
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
      seed_fail(Where{&path, "id"}, "expected a positive integer");
    }
    std::int64_t id = it->get<std::int64_t>();
    *next = std::max(*next, id + 1);
    return id;
  }

  static std::int64_t int_of(const Where& path, const pjson& v, bool nullable) {
    if (v.is_null() && nullable) return kNull;
    if (!v.is_number_integer()) seed_fail(path, "expected an integer");
    return v.get<std::int64_t>();
  }
  static bool bool_of(const Where& path, const pjson& v) {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer() && (v == 0 || v == 1)) return v == 1;
    seed_fail(path, "expected true or false");
  }
  static std::string str_of(const Where& path, const pjson& v, std::size_t max = 0) {
    if (!v.is_string()) seed_fail(path, "expected a string");
    std::string s = v.get<std::string>();
    if (max > 0 && s.size() > max) seed_fail(path, "longer than " + std::to_string(max));
    return s;
  }
  static Micros time_of(const Where& path, const pjson& v) {
    if (v.is_null()) return kNull;
    if (!v.is_string()) seed_fail(path, "expected \"YYYY-MM-DD HH:MM:SS\" (site-local)");
    auto t = parse_seed_time(v.get<std::string>());
    if (!t) seed_fail(path, "expected \"YYYY-MM-DD HH:MM:SS\" (site-local, no zone)");
    return *t;
  }

  void contact(const Where& path, const pjson& o) {
    ContactRow c;
    c.id = id_of(path, o, &next_contact_);
    c.created = c.modified = kFillNow;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id" || k == "emails") continue;
      if (k == "created_date") {
        c.created = time_of(p, v);
        continue;
      }
      if (k == "modified_date") {
        c.modified = time_of(p, v);
        continue;
      }
      if (k.find('.') != std::string::npos) {
        // A custom field: converted now when the groups are known, else once they are.
        if (custom_defined_) {
          int cf = site_->custom.find(kContact, k);
          if (cf < 0) seed_fail(p, "unknown field");
          c.set_extra(cf, custom_value(p, site_->custom.field(cf), v));
        } else {
          pending_.push_back(
              PendingValue{site_->contacts.rows.size(), static_cast<long>(path.index), k, v});
        }
        continue;
      }
      int f = contact_field(k);
      if (f < 0 || kContactFields[f].computed) seed_fail(p, "unknown field");
      const FieldDef& d = kContactFields[f];
      switch (f) {
        case C_CONTACT_TYPE: {
          std::string t = str_of(p, v);
          bool ok = false;
          const auto& types = option_items(Opt::kContactType);
          for (std::size_t i = 0; i < types.size(); ++i) {
            if (types[i].value == t) {
              c.type = static_cast<std::uint8_t>(i);
              ok = true;
            }
          }
          if (!ok) seed_fail(p, "expected Individual, Organization or Household");
          continue;
        }
        case C_FIRST_NAME:
          c.first_name = v.is_null() ? "" : str_of(p, v);
          continue;
        case C_LAST_NAME:
          c.last_name = v.is_null() ? "" : str_of(p, v);
          continue;
        default:
          break;
      }
      switch (d.ty) {
        case Ty::kBool: {
          bool b = bool_of(p, v);
          static const std::pair<int, ContactFlag> kFlags[] = {
              {C_DO_NOT_EMAIL, kDoNotEmail}, {C_DO_NOT_PHONE, kDoNotPhone},
              {C_DO_NOT_MAIL, kDoNotMail},   {C_DO_NOT_SMS, kDoNotSms},
              {C_DO_NOT_TRADE, kDoNotTrade}, {C_IS_OPT_OUT, kIsOptOut},
              {C_IS_DECEASED, kIsDeceased},  {C_IS_DELETED, kIsDeleted}};
          for (const auto& [ff, fl] : kFlags) {
            if (ff == f) c.set_flag(fl, b);
          }
          break;
        }
        case Ty::kInt:
          if (!v.is_null()) c.set_extra(f, XVal::of_int(int_of(p, v, false)));
          break;
        case Ty::kFloat:  // custom fields only
          break;
        case Ty::kStr:
          if (!v.is_null()) c.set_extra(f, XVal::of_str(str_of(p, v)));
          break;
        case Ty::kDate:
        case Ty::kTime: {
          Micros t = time_of(p, v);
          if (t != kNull) {
            t -= ((t % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
            c.set_extra(f, XVal::of_time(t, XVal::kDate));
          }
          break;
        }
      }
    }
    std::int64_t id = c.id;
    site_->contacts.rows.push_back(std::move(c));
    if (auto it = o.find("emails"); it != o.end() && !it->is_null()) {
      if (!it->is_array()) seed_fail(Where{&path, "emails"}, "expected an array");
      for (std::size_t i = 0; i < it->size(); ++i) {
        Where p{&path, "emails", static_cast<long>(i)};
        if (!(*it)[i].is_object()) seed_fail(p, "expected an object");
        email(p, (*it)[i], id, true);
      }
    }
  }

  void email(const Where& path, const pjson& o, std::int64_t contact, bool nested) {
    EmailRow e;
    e.id = id_of(path, o, &next_email_);
    e.contact_id = contact;
    e.location_type_id = 1;
    bool has_email = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "email") {
        e.email = v.is_null() ? "" : str_of(p, v, 254);
        e.email_null = v.is_null();
        has_email = true;
      } else if (k == "contact_id" && !nested) {
        e.contact_id = int_of(p, v, true);
      } else if (k == "location_type_id") {
        e.location_type_id = int_of(p, v, true);
      } else if (k == "is_primary") {
        e.is_primary = bool_of(p, v);
      } else if (k == "is_billing") {
        e.is_billing = bool_of(p, v);
      } else if (k == "is_bulkmail") {
        e.is_bulkmail = bool_of(p, v);
      } else if (k == "on_hold") {
        std::int64_t h = int_of(p, v, false);
        if (h < 0 || h > 2) seed_fail(p, "expected 0, 1 or 2");
        e.on_hold = static_cast<std::uint8_t>(h);
      } else if (k == "hold_date") {
        e.hold_date = time_of(p, v);
      } else if (k == "reset_date") {
        e.reset_date = time_of(p, v);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_email) seed_fail(Where{&path, "email"}, "required");
    site_->emails.rows.push_back(std::move(e));
  }

  void history(const Where& path, const pjson& o) {
    HistoryRow h;
    h.id = id_of(path, o, &next_history_);
    h.date = kFillNow;
    bool has_contact = false, has_status = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "contact_id") {
        h.contact_id = int_of(p, v, false);
        has_contact = true;
      } else if (k == "group_id") {
        h.group_id = int_of(p, v, true);
      } else if (k == "status") {
        std::string st = str_of(p, v);
        if (st != "Added" && st != "Removed" && st != "Pending" && st != "Deleted") {
          seed_fail(p, "expected Added, Removed, Pending or Deleted");
        }
        h.status.set(st);
        has_status = true;
      } else if (k == "date") {
        h.date = time_of(p, v);
        if (h.date == kNull) seed_fail(p, "required");
      } else if (k == "method") {
        if (!v.is_null()) h.method.set(str_of(p, v, 8));
      } else if (k == "tracking") {
        h.tracking_null = v.is_null();
        if (!v.is_null()) h.tracking = str_of(p, v, 255);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_contact) seed_fail(Where{&path, "contact_id"}, "required");
    if (!has_status) seed_fail(Where{&path, "status"}, "required");
    site_->history.rows.push_back(std::move(h));
  }

  void group_contact(const Where& path, const pjson& o) {
    GroupContactRow r;
    r.id = id_of(path, o, &next_group_contact_);
    bool has_contact = false, has_group = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "contact_id") {
        r.contact_id = int_of(p, v, false);
        has_contact = true;
      } else if (k == "group_id") {
        r.group_id = int_of(p, v, false);
        has_group = true;
      } else if (k == "status") {
        if (v.is_null()) continue;
        std::string st = str_of(p, v);
        if (st != "Added" && st != "Removed" && st != "Pending") {
          seed_fail(p, "expected Added, Removed or Pending");
        }
        r.status.set(st);
      } else if (k == "location_id") {
        r.location_id = int_of(p, v, true);
      } else if (k == "email_id") {
        r.email_id = int_of(p, v, true);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_contact) seed_fail(Where{&path, "contact_id"}, "required");
    if (!has_group) seed_fail(Where{&path, "group_id"}, "required");
    site_->group_contacts.rows.push_back(std::move(r));
  }

  void group(const Where& path, const pjson& o) {
    if (!o.is_object()) seed_fail(path, "expected an object");
    GroupRow g;
    g.id = id_of(path, o, &next_group_);
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "name") {
        g.name = str_of(p, v, 64);
      } else if (k == "title") {
        g.title = str_of(p, v, 255);
      } else if (k == "description") {
        g.description = v.is_null() ? "" : str_of(p, v);
      } else if (k == "source") {
        g.source = v.is_null() ? "" : str_of(p, v, 64);
      } else if (k == "visibility") {
        g.visibility = str_of(p, v, 24);
      } else if (k == "frontend_title") {
        g.frontend_title = v.is_null() ? "" : str_of(p, v, 255);
      } else if (k == "frontend_description") {
        g.frontend_description = v.is_null() ? "" : str_of(p, v);
      } else if (k == "is_active") {
        g.is_active = bool_of(p, v);
      } else if (k == "is_hidden") {
        g.is_hidden = bool_of(p, v);
      } else if (k == "is_reserved") {
        g.is_reserved = bool_of(p, v);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (g.name.empty() && g.title.empty()) seed_fail(path, "a group needs a name or a title");
    if (g.name.empty()) g.name = g.title;
    if (g.title.empty()) g.title = g.name;
    site_->groups.rows.push_back(std::move(g));
  }

  // A membership for each (contact, group) whose latest history row (highest id) is not
  // "Deleted", with that row's status; ids in (contact, group) order.
  void derive_memberships() {
    CiviSite& s = *site_;
    struct Latest {
      std::int64_t contact, group, id;
      std::string_view status;
    };
    std::vector<Latest> v;
    v.reserve(s.history.rows.size());
    for (const HistoryRow& h : s.history.rows) {
      if (h.group_id == kNull) continue;
      v.push_back({h.contact_id, h.group_id, h.id, h.status.view()});
    }
    std::sort(v.begin(), v.end(), [](const Latest& a, const Latest& b) {
      if (a.contact != b.contact) return a.contact < b.contact;
      if (a.group != b.group) return a.group < b.group;
      return a.id < b.id;
    });
    s.group_contacts.rows.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i + 1 < v.size() && v[i + 1].contact == v[i].contact && v[i + 1].group == v[i].group) {
        continue;
      }
      if (v[i].status == "Deleted") continue;
      GroupContactRow r;
      r.id = s.group_contacts.next_id++;
      r.contact_id = v[i].contact;
      r.group_id = v[i].group;
      r.status.set(v[i].status);
      s.group_contacts.rows.push_back(std::move(r));
    }
    s.group_contacts.finish_load();
  }

  CiviSite* site_;
  bool custom_defined_ = false;
  std::vector<PendingValue> pending_;  // custom values read before the custom groups
  std::int64_t next_contact_ = 1, next_email_ = 1, next_history_ = 1, next_group_contact_ = 1,
               next_group_ = 1;
};

// A SAX handler that skips everything but the "civicrm" part, builds a DOM of its small pieces
// and hands the rows of its large arrays to the loader as each is complete.
class CiviSax final : public nlohmann::json_sax<pjson> {
 public:
  explicit CiviSax(CiviLoader* loader) : loader_(loader) {}

  bool null() override { return add(pjson(nullptr)); }
  bool boolean(bool v) override { return add(pjson(v)); }
  bool number_integer(number_integer_t v) override { return add(pjson(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(pjson(v)); }
  bool number_float(number_float_t v, const string_t&) override { return add(pjson(v)); }
  bool string(string_t& v) override { return add(pjson(std::move(v))); }
  bool binary(binary_t&) override { return add(pjson()); }
  bool start_object(std::size_t) override { return start(pjson::object()); }
  bool start_array(std::size_t) override { return start(pjson::array()); }
  bool key(string_t& k) override {
    if (skip_ > 0) return true;
    stack_.back().pending_key = std::move(k);
    return true;
  }
  bool end_object() override { return end(); }
  bool end_array() override { return end(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error = "seed: not valid JSON at byte " + std::to_string(position) + ": " + ex.what();
    return false;
  }

  pjson part;  // the "civicrm" object without its streamed arrays
  bool present = false;
  std::string clock;  // the document's fixed clock, if any
  bool root_is_object = true;
  std::string error;

 private:
  struct Frame {
    pjson value;
    std::string key;
    std::string pending_key;
    bool streamed = false;
    std::size_t count = 0;
  };

  static bool is_streamed(const std::string& k) {
    return k == "contacts" || k == "emails" || k == "subscription_history" || k == "group_contacts";
  }

  bool deliver(Frame& array, pjson&& v) {
    try {
      loader_->item(array.key, array.count++, std::move(v));
    } catch (const SeedError& e) {
      error = e.message;
      return false;
    }
    return true;
  }

  bool add(pjson&& v) {
    if (skip_ > 0) return true;
    if (stack_.empty()) {
      root_is_object = false;
      return true;
    }
    Frame& top = stack_.back();
    if (stack_.size() == 1) {  // a scalar at the root
      if (top.pending_key == "civicrm") {
        part = std::move(v);
        present = true;
      } else if (top.pending_key == "clock" && v.is_string()) {
        clock = v.get<std::string>();
      }
      return true;
    }
    if (top.streamed) return deliver(top, std::move(v));
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
    } else {
      top.value[top.pending_key] = std::move(v);
    }
    return true;
  }

  bool start(pjson v) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (stack_.empty()) {
      if (!v.is_object()) root_is_object = false;
      stack_.push_back(Frame{std::move(v), "", "", false, 0});
      return true;
    }
    Frame& top = stack_.back();
    if (stack_.size() == 1 && top.pending_key != "civicrm") {
      skip_ = 1;
      return true;
    }
    Frame f;
    f.key = top.value.is_object() ? top.pending_key : "";
    f.streamed = stack_.size() == 2 && v.is_array() && is_streamed(f.key);
    f.value = std::move(v);
    stack_.push_back(std::move(f));
    return true;
  }

  bool end() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (stack_.empty()) return true;  // the root
    if (stack_.size() == 1) {
      part = std::move(f.value);
      present = true;
      return true;
    }
    Frame& top = stack_.back();
    if (f.streamed) {
      top.value[f.key] = pjson::array();  // present, rows already delivered
      return true;
    }
    if (stack_.size() == 2 && f.key == "custom_groups") {
      try {
        loader_->custom_groups(f.value);
      } catch (const SeedError& e) {
        error = e.message;
        return false;
      }
    }
    if (top.streamed) return deliver(top, std::move(f.value));
    if (top.value.is_array()) {
      top.value.push_back(std::move(f.value));
    } else {
      top.value[top.pending_key] = std::move(f.value);
    }
    return true;
  }

  CiviLoader* loader_;
  std::vector<Frame> stack_;
  int skip_ = 0;
};

}  // namespace

void CiviSiteDeleter::operator()(CiviSite* site) const {
  delete site;
}

Result<CiviSitePtr> parse_civicrm_seed(std::string_view document, Micros now) {
  CiviSitePtr site(new CiviSite());
  CiviLoader loader(site.get());
  CiviSax sax(&loader);
  // Rows read before "clock" (or without one) get `now`; the document's clock wins when given.
  bool ok = false;
  try {
    ok = pjson::sax_parse(document.begin(), document.end(), &sax);
  } catch (const std::exception& e) {
    return Status::invalid(std::string("seed: ") + e.what());
  }
  if (!ok) return Status::invalid(sax.error.empty() ? "seed: cannot parse" : sax.error);
  if (!sax.root_is_object) return Status::invalid("seed: expected a JSON object");
  pjson part = sax.present ? sax.part : pjson::object();
  if (part.is_null()) part = pjson::object();
  if (!part.is_object()) return Status::invalid("seed: civicrm: expected an object");
  if (!sax.clock.empty()) {
    auto t = parse_iso8601(sax.clock);
    if (t.is_ok() && *t != kNoTime) now = *t;
  }
  try {
    loader.finish(part, now);
  } catch (const SeedError& e) {
    return Status::invalid(e.message);
  }
  return site;
}

CiviSitePtr empty_civicrm_site() {
  auto r = parse_civicrm_seed("{}", system_clock().now());
  return std::move(r).value();
}

}  // namespace concord::sandbox
