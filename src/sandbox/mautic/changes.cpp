#include "sandbox/mautic/changes.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "sandbox/mautic/entity_json.h"

namespace concord::sandbox::mautic {
namespace {

bool blank(const ojson& v) {
  return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty());
}

void fire(std::vector<Fired>* fired, EventType type, ojson payload, Micros now) {
  fired->push_back({type, std::move(payload), now});
}

ojson with_contact(const Site& site, const Contact& c) {
  ojson p = ojson::object();
  p["contact"] = contact_json(site, c, ContactView::kWebhook);
  return p;
}

// After a save of an existing contact with changes: identifies it when it can be, and fires the
// save event. `modified`: whether the save moves dateModified.
void saved(const Site& site, Contact& c, bool modified, Micros now, std::vector<Fired>* fired) {
  if (modified) c.modified_at(now);
  if (!identifiable(c)) return;  // an anonymous visitor: no save events
  const bool identified_now = c.date_identified == kNoTime;
  if (identified_now) c.date_identified = now;
  fire(fired, identified_now ? EventType::kSaveNew : EventType::kSaveUpdate, with_contact(site, c),
       now);
}

// The changes of `edit` to `c`, applied. Returns whether there was any.
bool apply(Site& site, Contact& c, const ContactEdit& edit) {
  bool changed = false;
  for (const auto& [alias, value] : edit.fields) {
    assert(alias != "points" && site.field(alias));
    const ojson old = field_value(c, alias);
    if (blank(value)) {
      changed = changed || !blank(old);
      c.values.erase(alias);
    } else if (old != value) {
      changed = true;
      c.values[alias] = value;
    }
  }
  if (edit.points && *edit.points != c.points) {
    changed = true;
    c.points = *edit.points;
  }
  if (edit.tags && *edit.tags != c.tags) {
    changed = true;
    c.tags.clear();
    for (const std::string& t : *edit.tags) {
      if (std::find(c.tags.begin(), c.tags.end(), t) != c.tags.end()) continue;
      site.tag_id(t);
      c.tags.push_back(t);
    }
  }
  return changed;
}

}  // namespace

Contact& create_contact(Site& site, const ContactEdit& edit, Micros now,
                        std::vector<Fired>* fired) {
  Contact c;
  c.id = site.next.contacts++;
  c.created_at(now);
  apply(site, c, edit);
  Contact& stored = site.contacts.emplace(c.id, std::move(c)).first->second;
  if (identifiable(stored)) {
    stored.date_identified = now;
    fire(fired, EventType::kSaveNew, with_contact(site, stored), now);
  }
  return stored;
}

void edit_contact(Site& site, Contact& c, const ContactEdit& edit, Micros now,
                  std::vector<Fired>* fired) {
  const std::int64_t old_points = c.points;
  if (!apply(site, c, edit)) return;
  saved(site, c, true, now, fired);
  if (c.points != old_points && (old_points > 0 || c.points > 0)) {
    ojson p = with_contact(site, c);
    p["points"] = {{"old_points", old_points}, {"new_points", c.points}};
    fire(fired, EventType::kPointsChange, std::move(p), now);
  }
}

void delete_contact(Site& site, std::int64_t id, Micros now, std::vector<Fired>* fired) {
  auto it = site.contacts.find(id);
  assert(it != site.contacts.end());
  ojson p = ojson::object();
  p["id"] = id;
  p["contact"] = contact_json(site, it->second, ContactView::kDeleted);
  for (auto& [sid, s] : site.segments)
    s.members.erase(id);
  site.contacts.erase(it);
  fire(fired, EventType::kDelete, std::move(p), now);
}

bool add_dnc(Site& site, Contact& c, const DncAdd& add, Micros now, std::vector<Fired>* fired) {
  assert(add.reason >= 1);
  auto it = std::find_if(c.dnc.begin(), c.dnc.end(),
                         [&](const DoNotContact& d) { return d.channel == add.channel; });
  if (it != c.dnc.end() && it->reason == add.reason) return false;
  if (it == c.dnc.end()) {
    DoNotContact d;
    d.id = site.next.dnc++;
    d.channel = add.channel;
    it = c.dnc.insert(c.dnc.end(), std::move(d));
  }
  it->date_added = now;
  it->reason = add.reason;
  it->comments = add.comments;
  it->channel_id = add.channel_id;
  saved(site, c, site.settings.dnc_updates_date_modified, now, fired);
  // Mautic records no old reason when it adds an entry: the old status is always contactable.
  ojson p = with_contact(site, c);
  p["channel"] = add.channel;
  p["old_status"] = dnc_verb(0);
  p["new_status"] = dnc_verb(add.reason);
  fire(fired, EventType::kChannelSubscription, std::move(p), now);
  return true;
}

bool remove_dnc(Site& site, Contact& c, const std::string& channel, Micros now,
                std::vector<Fired>* fired) {
  auto it = std::find_if(c.dnc.begin(), c.dnc.end(),
                         [&](const DoNotContact& d) { return d.channel == channel; });
  if (it == c.dnc.end()) return false;
  const int old_reason = it->reason;
  c.dnc.erase(it);
  saved(site, c, site.settings.dnc_updates_date_modified, now, fired);
  ojson p = with_contact(site, c);
  p["channel"] = channel;
  p["old_status"] = dnc_verb(old_reason);
  p["new_status"] = dnc_verb(0);
  fire(fired, EventType::kChannelSubscription, std::move(p), now);
  return true;
}

namespace {

void list_changed(const Site& site, const Segment& s, const Contact& c, const char* action,
                  Micros now, std::vector<Fired>* fired) {
  ojson p = with_contact(site, c);
  p["segment"] = segment_json(s);
  p["action"] = action;
  fire(fired, EventType::kListChange, std::move(p), now);
}

}  // namespace

bool add_to_segment(Site& site, Segment& s, const Contact& c, Micros now,
                    std::vector<Fired>* fired) {
  if (!s.members.emplace(c.id, Membership{now, true}).second) return false;
  list_changed(site, s, c, "added", now, fired);
  return true;
}

bool remove_from_segment(Site& site, Segment& s, const Contact& c, Micros now,
                         std::vector<Fired>* fired) {
  if (s.members.erase(c.id) == 0) return false;
  list_changed(site, s, c, "removed", now, fired);
  return true;
}

}  // namespace concord::sandbox::mautic
