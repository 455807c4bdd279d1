#include "sandbox/mailchimp/seed_groups.h"

#include <algorithm>

#include "net/ascii.h"
#include "sandbox/mailchimp/seed_fields.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

using http::ascii::iequals;

using seed_fields::get_int;
using seed_fields::get_string;
using seed_fields::get_time;

// A declared group id: kept when given (it must be unused), else a new one.
bool group_id(std::string* id, Account* a, const List& l, std::string* err,
              const std::string& path) {
  if (id->empty()) {
    *id = a->new_group_id(l);
    return true;
  }
  if (l.group_id_taken(*id)) {
    *err = path + ".id: \"" + *id + "\" appears twice in this list";
    return false;
  }
  return true;
}

bool read_interests(const json& arr, const InterestCategory& cat, Account* a, List* l,
                    std::string* err, const std::string& path) {
  if (!arr.is_array()) {
    *err = path + ": expected an array";
    return false;
  }
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!o.is_object()) {
      *err = p + ": expected an object";
      return false;
    }
    Interest in;
    std::int64_t order = 0;
    if (!get_string(o, "id", &in.id, err, p) || !get_string(o, "name", &in.name, err, p) ||
        !get_int(o, "display_order", &order, err, p)) {
      return false;
    }
    if (trim(in.name).empty()) {
      *err = p + ".name: required";
      return false;
    }
    for (const Interest& other : l->interests) {
      if (other.category_id == cat.id && iequals(other.name, in.name)) {
        *err = p + ".name: \"" + in.name + "\" appears twice in this category";
        return false;
      }
    }
    if (!group_id(&in.id, a, *l, err, p)) return false;
    int bit = l->free_interest_bit();
    if (bit < 0) {
      *err = p + ": a list has at most " + std::to_string(kMaxInterests) +
             " interests (across all categories)";
      return false;
    }
    in.category_id = cat.id;
    in.display_order = static_cast<int>(order);
    in.bit = static_cast<std::uint8_t>(bit);
    l->interests.push_back(std::move(in));
  }
  return true;
}

}  // namespace

bool read_interest_categories(const json& arr, Account* a, List* l, std::string* err,
                              const std::string& path) {
  if (!arr.is_array()) {
    *err = path + ": expected an array";
    return false;
  }
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!o.is_object()) {
      *err = p + ": expected an object";
      return false;
    }
    InterestCategory cat;
    std::string type = "checkboxes";
    std::int64_t order = 0, grouping = 0;
    if (!get_string(o, "id", &cat.id, err, p) || !get_string(o, "title", &cat.title, err, p) ||
        !get_string(o, "type", &type, err, p) || !get_int(o, "display_order", &order, err, p) ||
        !get_int(o, "grouping_id", &grouping, err, p)) {
      return false;
    }
    if (trim(cat.title).empty()) {
      *err = p + ".title: required";
      return false;
    }
    for (const InterestCategory& other : l->categories) {
      if (iequals(other.title, cat.title)) {
        *err = p + ".title: \"" + cat.title + "\" appears twice in this list";
        return false;
      }
    }
    auto t = parse_category_type(type);
    if (!t) {
      *err = p + ".type: \"" + type + "\" is not one of checkboxes, dropdown, radio, hidden";
      return false;
    }
    if (grouping < 0 || grouping > 0xfffffff) {
      *err = p + ".grouping_id: out of range";
      return false;
    }
    if (!group_id(&cat.id, a, *l, err, p)) return false;
    cat.type = *t;
    cat.display_order = static_cast<int>(order);
    cat.grouping_id = grouping > 0 ? static_cast<std::uint32_t>(grouping) : a->next_grouping_id++;
    a->next_grouping_id = std::max(a->next_grouping_id, cat.grouping_id + 1);
    l->categories.push_back(cat);
    if (auto it = o.find("interests"); it != o.end() && !it->is_null()) {
      if (!read_interests(*it, cat, a, l, err, p + ".interests")) return false;
    }
  }
  return true;
}

bool read_segments(const json& arr, Account* a, List* l, std::vector<std::uint32_t>* declared,
                   std::string* err, const std::string& path) {
  if (!arr.is_array()) {
    *err = path + ": expected an array";
    return false;
  }
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!o.is_object()) {
      *err = p + ": expected an object";
      return false;
    }
    TagDef def;
    std::string type = "static";
    std::int64_t id = 0;
    if (!get_string(o, "name", &def.name, err, p) || !get_string(o, "type", &type, err, p) ||
        !get_int(o, "id", &id, err, p) || !get_time(o, "created_at", &def.created_at, err, p) ||
        !get_time(o, "updated_at", &def.updated_at, err, p)) {
      return false;
    }
    def.name = trim(def.name);
    if (def.name.empty()) {
      *err = p + ".name: required";
      return false;
    }
    if (type != "static") {
      *err = p + ".type: \"" + type + "\": only static segments (tags) are emulated";
      return false;
    }
    if (id < 0 || id > 0xfffffffe) {
      *err = p + ".id: out of range";
      return false;
    }
    def.id = static_cast<std::uint32_t>(id);
    // The list may have the name already: a member read before the segments carries the tag.
    auto same = std::find_if(l->tags.begin(), l->tags.end(),
                             [&](const TagDef& t) { return iequals(t.name, def.name); });
    if (same != l->tags.end() &&
        std::find(declared->begin(), declared->end(), same->id) != declared->end()) {
      *err = p + ".name: \"" + def.name + "\" appears twice in this list";
      return false;
    }
    if (def.id != 0) {
      const TagDef* other = l->tag_by_id(def.id);
      if (other != nullptr && (same == l->tags.end() || other != &*same)) {
        *err = p + ".id: " + std::to_string(def.id) + " appears twice in this list";
        return false;
      }
    }
    if (same == l->tags.end()) {
      if (def.id == 0) def.id = a->next_tag_id++;
      l->tags.push_back(def);
    } else {
      if (def.id != 0 && def.id != same->id) {
        // Members read earlier point at the id the tag got then.
        for (Member& m : l->members) {
          for (MemberTag& t : m.tags) {
            if (t.tag_id == same->id) t.tag_id = def.id;
          }
        }
      }
      if (def.id == 0) def.id = same->id;
      *same = def;
    }
    a->next_tag_id = std::max(a->next_tag_id, def.id + 1);
    declared->push_back(def.id);
  }
  return true;
}

bool read_member_interests(const json& obj, const List& l, std::uint64_t* out, std::string* err,
                           const std::string& path) {
  if (!obj.is_object()) {
    *err = path + ": expected an object";
    return false;
  }
  for (auto kv = obj.begin(); kv != obj.end(); ++kv) {
    if (!kv->is_boolean()) {
      *err = path + "." + kv.key() + ": expected true or false";
      return false;
    }
    const Interest* i = l.interest(kv.key());
    if (i == nullptr) {
      *err = path + "." + kv.key() +
             ": no such interest in this list (declare it in the list's interest_categories)";
      return false;
    }
    std::uint64_t bit = std::uint64_t{1} << i->bit;
    *out = kv->get<bool>() ? (*out | bit) : (*out & ~bit);
  }
  return true;
}

bool read_member_events(const json& arr, std::vector<MemberEvent>* out, std::string* err,
                        const std::string& path) {
  if (!arr.is_array()) {
    *err = path + ": expected an array";
    return false;
  }
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    MemberEvent e;
    if (!o.is_object() || !get_string(o, "name", &e.name, err, p) ||
        !get_time(o, "occurred_at", &e.occurred_at, err, p)) {
      if (err->empty()) *err = p + ": expected an object";
      return false;
    }
    if (e.name.size() < 2 || e.name.size() > 30) {
      *err = p + ".name: expected 2 to 30 characters";
      return false;
    }
    if (auto it = o.find("properties"); it != o.end() && !it->is_null()) {
      if (!it->is_object()) {
        *err = p + ".properties: expected an object";
        return false;
      }
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        if (!kv->is_string()) {
          *err = p + ".properties." + kv.key() + ": expected a string";
          return false;
        }
        e.properties.emplace_back(kv.key(), kv->get<std::string>());
      }
    }
    out->push_back(std::move(e));
  }
  return true;
}

}  // namespace concord::sandbox
