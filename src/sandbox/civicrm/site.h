// The CiviCRM part's site: its settings, its custom fields, and the rows of each entity, kept in
// id order with compact indexes by contact, by group and by email address, so that a page of a
// million-member group costs only its own rows.
//
// Thread-safety: plain data; the handler (routing.h) guards a site with a shared mutex.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/time.h"
#include "sandbox/civicrm/entities.h"
#include "sandbox/civicrm/seed.h"
#include "sandbox/civicrm/values.h"

namespace concord::sandbox {

enum ContactFlag : std::uint16_t {
  kDoNotEmail = 1,
  kDoNotPhone = 2,
  kDoNotMail = 4,
  kDoNotSms = 8,
  kDoNotTrade = 16,
  kIsOptOut = 32,
  kIsDeceased = 64,
  kIsDeleted = 128,
};

struct ContactRow {
  std::int64_t id = 0;
  std::string first_name;  // "" = NULL (CiviCRM stores NULL for empty names)
  std::string last_name;
  std::uint16_t flags = 0;
  std::uint8_t type = 0;  // index into the contact types
  bool dead = false;
  Micros created = kNull;
  Micros modified = kNull;
  std::unique_ptr<Extras> extra;

  bool flag(ContactFlag f) const { return (flags & f) != 0; }
  void set_flag(ContactFlag f, bool on) {
    flags = static_cast<std::uint16_t>(on ? (flags | f) : (flags & ~f));
  }
  const XVal* extra_value(int field) const {
    if (!extra) return nullptr;
    for (const auto& [f, v] : *extra) {
      if (f == field) return &v;
    }
    return nullptr;
  }
  // NULL removes the field: an extra is never NULL, so the state written reads back the same.
  void set_extra(int field, XVal v) {
    if (!extra) {
      if (v.k == XVal::kNull) return;
      extra = std::make_unique<Extras>();
    }
    for (auto it = extra->begin(); it != extra->end(); ++it) {
      if (it->first != field) continue;
      if (v.k == XVal::kNull) {
        extra->erase(it);
        if (extra->empty()) extra.reset();
      } else {
        it->second = std::move(v);
      }
      return;
    }
    if (v.k != XVal::kNull) extra->emplace_back(static_cast<std::uint16_t>(field), std::move(v));
  }
};

struct EmailRow {
  std::int64_t id = 0;
  std::int64_t contact_id = kNull;
  std::int64_t location_type_id = kNull;
  std::string email;
  bool email_null = false;
  std::uint8_t on_hold = 0;
  bool is_primary = false;
  bool is_billing = false;
  bool is_bulkmail = false;
  bool dead = false;
  Micros hold_date = kNull;
  Micros reset_date = kNull;
};

struct GroupRow {
  std::int64_t id = 0;
  std::string name, title, description, source, visibility = "User and User Admin Only";
  std::string frontend_title, frontend_description;
  bool is_active = true;
  bool is_hidden = false;
  bool is_reserved = false;
  bool dead = false;
};

struct GroupContactRow {
  std::int64_t id = 0;
  std::int64_t group_id = kNull;
  std::int64_t contact_id = kNull;
  Str8 status;
  std::int64_t location_id = kNull;
  std::int64_t email_id = kNull;
  bool dead = false;
};

struct HistoryRow {
  std::int64_t id = 0;
  std::int64_t contact_id = kNull;
  std::int64_t group_id = kNull;
  Micros date = kNull;
  Str8 method;
  Str8 status;
  std::string tracking;
  bool tracking_null = true;
  bool dead = false;
};

// What every entity's rows answer, whatever the row type: the engine's view of a Table.
struct TableBase {
  std::int64_t next_id = 1;
  std::int64_t live = 0;  // rows that are not tombstones

  virtual ~TableBase() = default;
  virtual std::size_t size() const = 0;
  // The live row with this id, or kNoSlot.
  virtual std::uint32_t find(std::int64_t id) const = 0;
  virtual bool dead(std::uint32_t slot) const = 0;
  virtual std::int64_t id_at(std::uint32_t slot) const = 0;
  // The first slot whose id is >= id.
  virtual std::uint32_t lower_slot(std::int64_t id) const = 0;
};

// are dense, else a binary search. Deleted rows stay as tombstones.
template <typename Row>
struct Table final : TableBase {
  std::vector<Row> rows;
  std::vector<std::uint32_t> dense;  // id -> slot + 1 (0: none); empty when ids are sparse
  bool dense_ok = true;

  std::size_t size() const override { return rows.size(); }
  bool dead(std::uint32_t slot) const override { return rows[slot].dead; }
  std::int64_t id_at(std::uint32_t slot) const override { return rows[slot].id; }
  std::uint32_t find(std::int64_t id) const override {
    if (id <= 0) return kNoSlot;
    std::uint32_t slot = kNoSlot;
    if (dense_ok) {
      if (static_cast<std::uint64_t>(id) < dense.size() &&
          dense[static_cast<std::size_t>(id)] != 0) {
        slot = dense[static_cast<std::size_t>(id)] - 1;
      }
    } else {
      auto it = std::lower_bound(rows.begin(), rows.end(), id,
                                 [](const Row& r, std::int64_t v) { return r.id < v; });
      if (it != rows.end() && it->id == id) slot = static_cast<std::uint32_t>(it - rows.begin());
    }
    if (slot == kNoSlot || rows[slot].dead) return kNoSlot;
    return slot;
  }
  std::uint32_t lower_slot(std::int64_t id) const override {
    auto it = std::lower_bound(rows.begin(), rows.end(), id,
                               [](const Row& r, std::int64_t v) { return r.id < v; });
    return static_cast<std::uint32_t>(it - rows.begin());
  }
  void index_slot(std::uint32_t slot) {
    std::int64_t id = rows[slot].id;
    if (!dense_ok) return;
    if (id > static_cast<std::int64_t>(4 * rows.size() + 4096)) {
      dense_ok = false;
      dense.clear();
      dense.shrink_to_fit();
      return;
    }
    if (static_cast<std::uint64_t>(id) >= dense.size()) {
      dense.resize(std::max<std::size_t>(static_cast<std::size_t>(id) + 1, dense.size() * 3 / 2),
                   0);
    }
    dense[static_cast<std::size_t>(id)] = slot + 1;
  }
  // Appends a row with a new id. Returns its slot.
  std::uint32_t append(Row&& r) {
    if (r.id == 0) r.id = next_id;
    next_id = std::max(next_id, r.id + 1);
    rows.push_back(std::move(r));
    auto slot = static_cast<std::uint32_t>(rows.size() - 1);
    index_slot(slot);
    ++live;
    return slot;
  }
  void kill(std::uint32_t slot) {
    if (rows[slot].dead) return;
    rows[slot].dead = true;
    --live;
  }
  // After loading rows in any order: sorts them by id and rebuilds the lookup. Returns the first
  // duplicated id, or 0.
  std::int64_t finish_load() {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.id < b.id; });
    for (std::size_t i = 1; i < rows.size(); ++i) {
      if (rows[i].id == rows[i - 1].id) return rows[i].id;
    }
    dense.clear();
    dense_ok = true;
    live = 0;
    for (std::uint32_t s = 0; s < rows.size(); ++s) {
      index_slot(s);
      if (!rows[s].dead) ++live;
    }
    if (!rows.empty()) next_id = std::max(next_id, rows.back().id + 1);
    return 0;
  }
};

// A secondary index of int64 keys to slots: a large part sorted by (key, slot) and a small sorted
// tail of recent additions, merged when it grows. Entries are never removed: a row that changed

class KeyIndex {
 public:
  struct Entry {
    std::int64_t key;
    std::uint32_t slot;
    bool operator<(const Entry& o) const { return key != o.key ? key < o.key : slot < o.slot; }
    bool operator==(const Entry& o) const { return key == o.key && slot == o.slot; }
  };

  void clear() {
    main_.clear();
    tail_.clear();
  }
  void add(std::int64_t key, std::uint32_t slot) {
    Entry e{key, slot};
    tail_.insert(std::upper_bound(tail_.begin(), tail_.end(), e), e);
    if (tail_.size() > kTailMax) merge();
  }
  // Bulk load: entries in any order.
  void build(std::vector<Entry> entries) {
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    main_ = std::move(entries);
    tail_.clear();
  }
  // An upper bound of the number of slots with this key.
  std::size_t estimate(std::int64_t key) const {
    auto [a, b] = range(main_, key);
    return static_cast<std::size_t>(b - a) + count_tail(key);
  }
  // Calls fn(slot) for the slots with this key that are >= from, ascending, without duplicates,
  // until fn returns false.
  template <typename Fn>
  void scan(std::int64_t key, std::uint32_t from, Fn fn) const {
    auto [a, b] = range(main_, key);
    a = std::lower_bound(a, b, Entry{key, from});
    auto [ta, tb] = range(tail_, key);
    ta = std::lower_bound(ta, tb, Entry{key, from});
    std::uint32_t last = kNoSlot;
    while (a != b || ta != tb) {
      std::uint32_t s;
      if (ta == tb || (a != b && a->slot <= ta->slot)) {
        s = a->slot;
        ++a;
      } else {
        s = ta->slot;
        ++ta;
      }
      if (s == last) continue;
      last = s;
      if (!fn(s)) return;
    }
  }

 private:
  static constexpr std::size_t kTailMax = 2048;
  using It = std::vector<Entry>::const_iterator;
  static std::pair<It, It> range(const std::vector<Entry>& v, std::int64_t key) {
    auto a = std::lower_bound(v.begin(), v.end(), Entry{key, 0});
    auto b = std::lower_bound(a, v.end(), Entry{key, kNoSlot});
    if (b != v.end() && b->key == key) ++b;  // slot kNoSlot itself cannot occur
    return {a, b};
  }
  std::size_t count_tail(std::int64_t key) const {
    auto [a, b] = range(tail_, key);
    return static_cast<std::size_t>(b - a);
  }
  void merge() {
    std::vector<Entry> out;
    out.reserve(main_.size() + tail_.size());
    std::merge(main_.begin(), main_.end(), tail_.begin(), tail_.end(), std::back_inserter(out));
    out.erase(std::unique(out.begin(), out.end()), out.end());
    main_ = std::move(out);
    tail_.clear();
  }
  std::vector<Entry> main_;
  std::vector<Entry> tail_;
};

// The key of an address in the email index: a hash of its trimmed, lower-cased form (MySQL's
// comparison ignores case and trailing spaces).
std::int64_t email_key(std::string_view email);

// Trailing spaces dropped, as MySQL's comparisons drop them.
std::string_view rtrim_spaces(std::string_view s);

// ---- custom data (docs/sandbox.md, "Custom fields")
//
// Single-record custom groups that extend Contact, as the seed defines them (the API cannot add
// any). APIv4 names their fields "Group.field" (the group's and the field's names); the part
// numbers them after Contact's core fields, C_COUNT + their index in CustomSchema::fields, and
// keeps their values in each contact's extras, so a site without custom fields pays nothing.

// CustomField.data_type values the part emulates.
enum class CustomType : std::uint8_t {
  kString,
  kInt,
  kFloat,
  kMoney,
  kMemo,
  kDate,
  kBoolean,
  kLink
};

struct CustomTypeDef {
  std::string_view data_type;   // CustomField.data_type, as the seed names it
  std::string_view api_type;    // getFields' data_type (a Date with a time format: "Timestamp")
  std::string_view input_type;  // getFields' input_type (the default html_type of the type)
  Ty ty;                        // how values are held (Date: kDate, or kTime with a time format)
};
// By CustomType. Link is "Url" as FieldSpec's type aliases make it.
inline constexpr std::array<CustomTypeDef, 8> kCustomTypes = {{
    {"String", "String", "Text", Ty::kStr},
    {"Int", "Integer", "Number", Ty::kInt},
    {"Float", "Float", "Number", Ty::kFloat},
    {"Money", "Money", "Number", Ty::kFloat},
    {"Memo", "Text", "TextArea", Ty::kStr},
    {"Date", "Date", "Date", Ty::kDate},
    {"Boolean", "Boolean", "Radio", Ty::kBool},
    {"Link", "Url", "Url", Ty::kStr},
}};

struct CustomField {
  std::int64_t id = 0;
  std::string name;  // CustomField.name
  std::string label;
  CustomType type = CustomType::kString;
  int time_format = 0;         // a Date's: 0 none, 1 (12-hour) or 2 (24-hour): then a Timestamp
  int group = 0;               // index into CustomSchema::groups
  std::string api_name;        // "Group.field"
  FieldDef def{"", Ty::kStr};  // def.name views api_name

  const CustomTypeDef& type_def() const { return kCustomTypes[static_cast<int>(type)]; }
  std::string_view api_type() const { return time_format != 0 ? "Timestamp" : type_def().api_type; }
};

struct CustomGroup {
  std::int64_t id = 0;
  std::string name;
  std::string title;
  std::vector<int> fields;  // indexes into CustomSchema::fields
};

struct CustomSchema {
  std::vector<CustomGroup> groups;
  // Behind pointers: FieldDef::name views each field's api_name.
  std::vector<std::unique_ptr<CustomField>> fields;

  // The field number of "Group.field" on entity e; -1 when none.
  int find(Ent e, std::string_view api_name) const;
  // The custom field numbered f. REQUIRES: is_custom(kContact, f) and f is one of this site's.
  const CustomField& field(int f) const {
    assert(f >= C_COUNT && f - C_COUNT < static_cast<int>(fields.size()));
    return *fields[static_cast<std::size_t>(f - C_COUNT)];
  }
  // Adds a group, then its fields. Returns the group's index.
  int add_group(CustomGroup g);
  void add_field(int group, CustomField f);
};

// Whether field f of entity e is a custom field.
inline bool is_custom(Ent e, int f) {
  return e == kContact && f >= C_COUNT;
}

struct CiviSite {
  CiviSite() = default;
  CiviSite(const CiviSite&) = delete;
  CiviSite& operator=(const CiviSite&) = delete;

  std::string api_key{kDefaultCivicrmApiKey};
  std::string site_key{kDefaultCivicrmSiteKey};
  std::string timezone = "UTC";
  std::shared_ptr<const TimeZone> tz;
  bool api_key_permission = false;  // the key's contact holds "authenticate with api key"
  bool view_debug_output = true;    // ... and "view debug output" (detailed error messages)
  // Whether trashing or restoring a contact moves its modified_date: CiviCRM with civicrm-core
  // PR #33439 (2025-08) does; before it, the trash code wrote the old modified_date back.
  bool trash_bumps_modified_date = true;
  std::vector<std::string> deny;  // "Entity.action" patterns answered 403
  CustomSchema custom;

  Table<ContactRow> contacts;
  Table<EmailRow> emails;
  Table<GroupRow> groups;
  Table<GroupContactRow> group_contacts;
  Table<HistoryRow> history;

  KeyIndex email_by_contact, email_by_address;
  KeyIndex gc_by_contact, gc_by_group;
  KeyIndex hist_by_contact, hist_by_group;

  // The rows of an entity, whatever their type.
  const TableBase& rows(Ent e) const { return kEntities[e].rows(*this); }
  TableBase& rows(Ent e) { return const_cast<TableBase&>(std::as_const(*this).rows(e)); }
  std::int64_t live(Ent e) const { return rows(e).live; }
  std::size_t slots(Ent e) const { return rows(e).size(); }
  std::uint32_t find(Ent e, std::int64_t id) const { return rows(e).find(id); }
  bool dead(Ent e, std::uint32_t slot) const { return rows(e).dead(slot); }
  std::int64_t id_at(Ent e, std::uint32_t slot) const { return rows(e).id_at(slot); }
  std::uint32_t lower_slot(Ent e, std::int64_t id) const { return rows(e).lower_slot(id); }
  // The primary email's slot of a contact (else kNoSlot).
  std::uint32_t primary_email(std::int64_t contact_id) const {
    std::uint32_t found = kNoSlot;
    email_by_contact.scan(contact_id, 0, [&](std::uint32_t s) {
      const EmailRow& e = emails.rows[s];
      if (!e.dead && e.contact_id == contact_id && e.is_primary) {
        found = s;
        return false;
      }
      return true;
    });
    return found;
  }
  template <typename Fn>
  void for_contact_emails(std::int64_t contact_id, Fn fn) const {
    email_by_contact.scan(contact_id, 0, [&](std::uint32_t s) {
      const EmailRow& e = emails.rows[s];
      if (!e.dead && e.contact_id == contact_id) fn(s);
      return true;
    });
  }
};

}  // namespace concord::sandbox
