#include "sandbox/mautic/seed.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/events.h"
#include "sandbox/mautic/hook_body.h"
#include "sandbox/mautic/settings.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

// `what` found inside `element`: "name: expected …" becomes "element.name: expected …", a bare
// "expected …" becomes "element: expected …".
std::string inside(const std::string& element, const std::string& what) {
  if (what.find(": ") == std::string::npos) return element + ": " + what;
  return element + "." + what;
}

std::string unknown_keys(const ojson& j, std::initializer_list<std::string_view> keys) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
      return it.key() + ": unknown field";
    }
  }
  return "";
}

// A time key: absent keeps *out, null is kNoTime, else ISO 8601 with an offset.
std::string read_time(const ojson& j, const char* key, Micros* out) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_null()) {
    *out = kNoTime;
    return "";
  }
  if (it->is_string()) {
    auto t = parse_iso8601(it->get<std::string>());
    if (t.is_ok() && *t != kNoTime) {
      *out = *t;
      return "";
    }
  }
  return std::string(key) + ": expected an ISO 8601 time with an offset, or null";
}

// A positive integer key: absent keeps *out.
std::string read_id(const ojson& j, const char* key, std::int64_t* out) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
    return std::string(key) + ": expected a positive integer";
  }
  *out = it->get<std::int64_t>();
  return "";
}

// A string key that must not be empty: absent keeps *out.
std::string read_text(const ojson& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return std::string(key) + ": expected a non-empty string";
  }
  *out = it->get<std::string>();
  return "";
}

// createdBy, createdByUser, modifiedBy, modifiedByUser: any scalar or null, kept as given.
std::string read_authors(const ojson& j, PublishDetails* p) {
  for (auto [key, out] :
       {std::pair{"createdBy", &p->created_by}, std::pair{"createdByUser", &p->created_by_user},
        std::pair{"modifiedBy", &p->modified_by},
        std::pair{"modifiedByUser", &p->modified_by_user}}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (it->is_array() || it->is_object()) return std::string(key) + ": expected a value or null";
    *out = *it;
  }
  return "";
}

std::string read_custom_field(const ojson& j, const Site& site, Field* f) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(j, {"id", "alias", "label", "type", "group"}); !e.empty()) return e;
  f->type = "text";
  f->group = "core";
  for (auto [key, out] : {std::pair{"alias", &f->alias}, std::pair{"label", &f->label},
                          std::pair{"type", &f->type}, std::pair{"group", &f->group}}) {
    if (auto e = read_text(j, key, out); !e.empty()) return e;
  }
  if (f->alias.empty()) return "alias: expected a non-empty string";
  const bool plain = std::all_of(f->alias.begin(), f->alias.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
  if (!plain || f->alias == "id") return "alias: expected lower-case letters, digits and '_'";
  if (site.field(f->alias)) return "alias: \"" + f->alias + "\" is a field already";
  if (f->label.empty()) f->label = f->alias;
  if (std::find(std::begin(kFieldGroups), std::end(kFieldGroups), f->group) ==
      std::end(kFieldGroups)) {
    return "group: expected core, social, personal or professional";
  }
  std::int64_t id = 0;
  for (const Field& other : site.fields)
    id = std::max(id, parse_int64(other.id).value_or(0));
  if (auto e = read_id(j, "id", &id); !e.empty()) return e;
  if (!j.contains("id")) ++id;
  f->id = std::to_string(id);
  f->is_fixed = false;
  return "";
}

std::string read_dnc(const ojson& j, Micros now, DoNotContact* d) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(j, {"id", "dateAdded", "reason", "comments", "channel", "channelId"});
      !e.empty()) {
    return e;
  }
  d->date_added = now;
  if (auto e = read_id(j, "id", &d->id); !e.empty()) return e;
  if (auto e = read_time(j, "dateAdded", &d->date_added); !e.empty()) return e;
  if (d->date_added == kNoTime) return "dateAdded: expected an ISO 8601 time with an offset";
  auto reason = j.find("reason");
  if (reason == j.end() || !reason->is_number_integer() || reason->get<std::int64_t>() < 1 ||
      reason->get<std::int64_t>() > 3) {
    return "reason: expected 1 (unsubscribed), 2 (bounced) or 3 (manual)";
  }
  d->reason = reason->get<int>();
  if (auto it = j.find("comments"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return "comments: expected a string";
    d->comments = it->get<std::string>();
  }
  if (auto e = read_text(j, "channel", &d->channel); !e.empty()) return e;
  if (auto it = j.find("channelId"); it != j.end()) {
    if (!it->is_null() && !it->is_number_integer()) return "channelId: expected an integer or null";
    d->channel_id = *it;
  }
  return "";
}

std::string read_contact(const ojson& j, Site& site, Micros now, Contact* c) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(j, {"id",
                                "isPublished",
                                "dateAdded",
                                "dateModified",
                                "dateIdentified",
                                "lastActive",
                                "createdBy",
                                "createdByUser",
                                "modifiedBy",
                                "modifiedByUser",
                                "owner",
                                "points",
                                "color",
                                "tags",
                                "doNotContact",
                                "fields",
                                "preferredProfileImage",
                                "ipAddresses",
                                "stage",
                                "frequencyRules",
                                "utmtags"});
      !e.empty()) {
    return e;
  }
  if (auto e = read_id(j, "id", &c->id); !e.empty()) return e;
  if (auto it = j.find("isPublished"); it != j.end()) {
    if (!it->is_boolean()) return "isPublished: expected true or false";
    c->is_published = it->get<bool>();
  }
  c->date_added = now;
  if (auto e = read_time(j, "dateAdded", &c->date_added); !e.empty()) return e;
  if (c->date_added == kNoTime) return "dateAdded: expected an ISO 8601 time with an offset";
  c->date_modified = c->date_added;
  for (auto [key, out] :
       {std::pair{"dateModified", &c->date_modified}, std::pair{"lastActive", &c->last_active}}) {
    if (auto e = read_time(j, key, out); !e.empty()) return e;
  }
  if (auto e = read_authors(j, c); !e.empty()) return e;
  if (auto it = j.find("owner"); it != j.end()) {
    if (!it->is_null() && !it->is_object()) return "owner: expected an object or null";
    c->owner = *it;
  }
  if (auto it = j.find("points"); it != j.end()) {
    if (!it->is_number_integer()) return "points: expected an integer";
    c->points = it->get<std::int64_t>();
  }
  if (auto it = j.find("color"); it != j.end()) {
    if (!it->is_null() && !it->is_string()) return "color: expected a string or null";
    c->color = *it;
  }
  if (auto it = j.find("tags"); it != j.end()) {
    if (!it->is_array()) return "tags: expected an array";
    for (std::size_t i = 0; i < it->size(); ++i) {
      const ojson& t = (*it)[i];
      const ojson* name = t.is_object() && t.contains("tag") ? &t["tag"] : &t;
      if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
        return "tags[" + std::to_string(i) + "]: expected a tag name or {\"tag\": name}";
      }
      const std::string tag = name->get<std::string>();
      if (std::find(c->tags.begin(), c->tags.end(), tag) == c->tags.end()) c->tags.push_back(tag);
      // A tag keeps the id it is given (a state document's), else gets the next one.
      if (t.is_object() && t.contains("id") && t["id"].is_number_integer() &&
          !site.tag_ids.count(tag)) {
        const auto id = t["id"].get<std::int64_t>();
        site.tag_ids[tag] = id;
        site.next.tags = std::max(site.next.tags, id + 1);
      }
      site.tag_id(tag);
    }
  }
  if (auto it = j.find("doNotContact"); it != j.end()) {
    if (!it->is_array()) return "doNotContact: expected an array";
    for (std::size_t i = 0; i < it->size(); ++i) {
      DoNotContact d;
      const std::string at = "doNotContact[" + std::to_string(i) + "]";
      if (auto e = read_dnc((*it)[i], now, &d); !e.empty()) return inside(at, e);
      for (const DoNotContact& other : c->dnc) {
        if (other.channel == d.channel)
          return at + ".channel: \"" + d.channel + "\" is listed twice";
      }
      c->dnc.push_back(std::move(d));
    }
  }
  if (auto it = j.find("fields"); it != j.end()) {
    if (!it->is_object()) return "fields: expected {\"all\": {alias: value}}";
    auto all = it->find("all");
    if (all != it->end()) {
      if (!all->is_object()) return "fields.all: expected an object";
      for (auto f = all->begin(); f != all->end(); ++f) {
        if (f.key() == "id" || f.key() == "points") continue;  // the contact's own
        if (!site.field(f.key())) return "fields.all." + f.key() + ": not a contact field";
        if (f->is_array() || f->is_object()) {
          return "fields.all." + f.key() + ": expected a value or null";
        }
        if (!f->is_null() && !(f->is_string() && f->get_ref<const std::string&>().empty())) {
          c->values[f.key()] = *f;
        }
      }
    }
  }
  c->date_identified = identifiable(*c) ? c->date_added : kNoTime;
  return read_time(j, "dateIdentified", &c->date_identified);
}

std::string read_members(const ojson& j, const Site& site, Micros added, Segment* s) {
  if (!j.is_array()) return "members: expected an array";
  for (std::size_t i = 0; i < j.size(); ++i) {
    const ojson& m = j[i];
    const std::string at = "members[" + std::to_string(i) + "]";
    Membership ms{added, true};
    std::int64_t id = 0;
    if (m.is_number_integer()) {
      id = m.get<std::int64_t>();
    } else if (m.is_object()) {
      if (auto e = unknown_keys(m, {"contact", "dateAdded", "manuallyAdded"}); !e.empty()) {
        return inside(at, e);
      }
      if (auto e = read_id(m, "contact", &id); !e.empty()) return inside(at, e);
      if (auto e = read_time(m, "dateAdded", &ms.date_added); !e.empty()) return inside(at, e);
      if (auto it = m.find("manuallyAdded"); it != m.end()) {
        if (!it->is_boolean()) return at + ".manuallyAdded: expected true or false";
        ms.manually_added = it->get<bool>();
      }
    }
    if (!site.contacts.count(id)) {
      return at + ": expected a contact's id, or {\"contact\": id, \"dateAdded\": …}";
    }
    s->members[id] = ms;
  }
  return "";
}

std::string read_hook(const ojson& j, Micros now, Hook* h) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(
          j, {"id", "name", "description", "webhookUrl", "secret", "eventsOrderbyDir", "triggers",
              "isPublished", "category", "dateAdded", "dateModified", "createdBy", "createdByUser",
              "modifiedBy", "modifiedByUser", "responses"});
      !e.empty()) {
    return e;
  }
  if (auto err = read_hook_body(j, true, h)) return err->field + ": " + err->message;
  if (auto e = read_id(j, "id", &h->id); !e.empty()) return e;
  h->date_added = now;
  if (auto e = read_time(j, "dateAdded", &h->date_added); !e.empty()) return e;
  h->date_modified = h->date_added;
  if (auto e = read_time(j, "dateModified", &h->date_modified); !e.empty()) return e;
  if (auto e = read_authors(j, h); !e.empty()) return e;
  if (auto it = j.find("responses"); it != j.end()) {
    if (!it->is_array()) return "responses: expected an array of statuses";
    for (const ojson& r : *it) {
      if (!r.is_number_integer() || r.get<int>() < 0 || r.get<int>() > 999) {
        return "responses: expected an array of statuses (0: no answer)";
      }
      h->responses.push_back(r.get<int>());
    }
  }
  if (h->secret.empty()) h->secret = random_hex(32);
  return "";
}

std::string read_queue_row(const ojson& j, const Site& site, QueueRow* r) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(j, {"id", "hook", "event", "dateAdded", "payload"}); !e.empty()) {
    return e;
  }
  if (auto e = read_id(j, "id", &r->id); !e.empty()) return e;
  if (auto e = read_id(j, "hook", &r->hook_id); !e.empty()) return e;
  if (!site.hooks.count(r->hook_id)) return "hook: expected a webhook's id";
  auto event = j.find("event");
  r->event = event != j.end() && event->is_string() ? event->get<std::string>() : "";
  if (!event_named(r->event)) return "event: expected a webhook event's name";
  if (auto e = read_time(j, "dateAdded", &r->date_added); !e.empty()) return e;
  if (r->date_added == kNoTime) return "dateAdded: expected an ISO 8601 time with an offset";
  auto payload = j.find("payload");
  if (payload == j.end() || !payload->is_object()) return "payload: expected an object";
  r->payload = *payload;
  return "";
}

std::string read_token(const ojson& j, Token* t) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(j, {"access_token", "client_id", "expires"}); !e.empty()) return e;
  for (auto [key, out] :
       {std::pair{"access_token", &t->access_token}, std::pair{"client_id", &t->client_id}}) {
    if (auto e = read_text(j, key, out); !e.empty()) return e;
  }
  if (t->access_token.empty()) return "access_token: expected a non-empty string";
  if (auto e = read_time(j, "expires", &t->expires); !e.empty()) return e;
  if (t->expires == kNoTime) return "expires: expected an ISO 8601 time with an offset";
  return "";
}

// Reads an array of `key` whose elements `read(element, index)` turns into problems ("" for
// none), each reported as key[i].….
template <typename Read>
Status read_array(const ojson& j, const char* key, Read read) {
  auto it = j.find(key);
  if (it == j.end()) return Status::ok();
  if (!it->is_array()) return Status::invalid(std::string(key) + ": expected an array");
  for (std::size_t i = 0; i < it->size(); ++i) {
    std::string e = read((*it)[i]);
    if (!e.empty())
      return Status::invalid(inside(std::string(key) + "[" + std::to_string(i) + "]", e));
  }
  return Status::ok();
}

// Puts `e` into `all` under its id, or the next one when it has none. Returns "" or the problem.
template <typename E>
std::string place(std::map<std::int64_t, E>& all, E e, std::int64_t* next) {
  if (e.id == 0) e.id = (*next)++;
  if (all.count(e.id)) return "id: " + std::to_string(e.id) + " is used twice";
  all.emplace(e.id, std::move(e));
  return "";
}

std::string make_alias(std::string_view name) {
  std::string alias;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      alias += static_cast<char>(std::tolower(c));
    } else if (!alias.empty() && alias.back() != '-') {
      alias += '-';
    }
  }
  while (!alias.empty() && alias.back() == '-')
    alias.pop_back();
  return alias.empty() ? "segment" : alias;
}

ojson contact_state_json(const Site& site, const Contact& c) {
  ojson j = contact_json(site, c, ContactView::kFull);
  // The groups repeat `all`: only `all` is kept, which is what is read back.
  ojson all = j["fields"]["all"];
  for (auto it = all.begin(); it != all.end();) {
    it = it.value().is_null() ? all.erase(it) : std::next(it);
  }
  j["fields"] = {{"all", std::move(all)}};
  for (const char* derived :
       {"preferredProfileImage", "ipAddresses", "stage", "frequencyRules", "utmtags"}) {
    j.erase(derived);
  }
  return j;
}

}  // namespace

std::string read_segment(const ojson& j, const Site& site, Segment* s) {
  if (!j.is_object()) return "expected an object";
  if (auto e = unknown_keys(
          j, {"id", "isPublished", "dateAdded", "dateModified", "createdBy", "createdByUser",
              "modifiedBy", "modifiedByUser", "category", "name", "alias", "description", "filters",
              "isGlobal", "isPreferenceCenter", "publicName", "members"});
      !e.empty()) {
    return e;
  }
  if (auto e = read_id(j, "id", &s->id); !e.empty()) return e;
  if (auto e = read_text(j, "name", &s->name); !e.empty()) return e;
  if (s->name.empty()) return "name: expected a non-empty string";
  if (auto e = read_text(j, "alias", &s->alias); !e.empty()) return e;
  if (s->alias.empty()) {
    const std::string base = make_alias(s->name);
    s->alias = base;
    for (int n = 1; site.segment_by_alias(s->alias); ++n)
      s->alias = base + std::to_string(n);
  } else if (const Segment* other = site.segment_by_alias(s->alias); other && other->id != s->id) {
    return "alias: \"" + s->alias + "\" is another segment's";
  }
  for (auto [key, out] :
       {std::pair{"isPublished", &s->is_published}, std::pair{"isGlobal", &s->is_global},
        std::pair{"isPreferenceCenter", &s->is_preference_center}}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_boolean()) return std::string(key) + ": expected true or false";
    *out = it->get<bool>();
  }
  for (auto [key, out] :
       {std::pair{"description", &s->description}, std::pair{"publicName", &s->public_name}}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_null() && !it->is_string()) return std::string(key) + ": expected a string or null";
    *out = *it;
  }
  if (auto it = j.find("filters"); it != j.end()) {
    if (!it->is_array()) return "filters: expected an array";
    s->filters = *it;
  }
  if (auto e = read_time(j, "dateAdded", &s->date_added); !e.empty()) return e;
  if (s->date_modified == kNoTime) s->date_modified = s->date_added;
  if (auto e = read_time(j, "dateModified", &s->date_modified); !e.empty()) return e;
  return read_authors(j, s);
}

Result<Site> parse_site(std::optional<std::string_view> object, Micros now) {
  Site site = default_site();
  if (!object) return site;
  ojson j = ojson::parse(*object, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::invalid("expected a JSON object");
  if (auto e =
          unknown_keys(j, {"username", "password", "oauth2_clients", "settings", "custom_fields",
                           "contacts", "segments", "hooks", "webhook_queue", "tokens", "next_ids"});
      !e.empty()) {
    return Status::invalid(e);
  }
  for (auto [key, out] :
       {std::pair{"username", &site.username}, std::pair{"password", &site.password}}) {
    if (auto e = read_text(j, key, out); !e.empty()) return Status::invalid(e);
  }
  if (site.username.find(':') != std::string::npos) {
    return Status::invalid("username: must not contain ':'");
  }
  if (j.contains("oauth2_clients")) site.oauth_clients.clear();
  Status s = read_array(j, "oauth2_clients", [&](const ojson& c) -> std::string {
    if (!c.is_object()) return "expected an object";
    if (auto e = unknown_keys(c, {"client_id", "client_secret"}); !e.empty()) return e;
    OauthClient client;
    for (auto [key, out] : {std::pair{"client_id", &client.client_id},
                            std::pair{"client_secret", &client.client_secret}}) {
      if (auto e = read_text(c, key, out); !e.empty()) return e;
      if (out->empty()) return std::string(key) + ": expected a non-empty string";
    }
    site.oauth_clients.push_back(std::move(client));
    return "";
  });
  if (!s) return s;
  if (auto it = j.find("settings"); it != j.end()) {
    if (auto e = read_settings(*it, &site.settings); !e.empty()) {
      return Status::invalid(inside("settings", e));
    }
  }
  s = read_array(j, "custom_fields", [&](const ojson& f) -> std::string {
    Field field;
    if (auto e = read_custom_field(f, site, &field); !e.empty()) return e;
    site.fields.push_back(std::move(field));
    return "";
  });
  if (!s) return s;

  // Ids are optional in seeds: those without one come after the highest given.
  auto highest = [&](const char* key) {
    std::int64_t max = 0;
    if (auto it = j.find(key); it != j.end() && it->is_array()) {
      for (const ojson& e : *it) {
        if (e.is_object() && e.contains("id") && e["id"].is_number_integer()) {
          max = std::max(max, e["id"].get<std::int64_t>());
        }
      }
    }
    return max;
  };
  site.next.contacts = highest("contacts") + 1;
  site.next.segments = highest("segments") + 1;
  site.next.hooks = highest("hooks") + 1;
  site.next.queue = highest("webhook_queue") + 1;
  std::int64_t dnc_max = 0;
  s = read_array(j, "contacts", [&](const ojson& e) -> std::string {
    Contact c;
    if (auto err = read_contact(e, site, now, &c); !err.empty()) return err;
    for (const DoNotContact& d : c.dnc)
      dnc_max = std::max(dnc_max, d.id);
    return place(site.contacts, std::move(c), &site.next.contacts);
  });
  if (!s) return s;
  // Entries without an id get the next ones.
  site.next.dnc = dnc_max + 1;
  for (auto& [id, c] : site.contacts) {
    for (DoNotContact& d : c.dnc) {
      if (d.id == 0) d.id = site.next.dnc++;
    }
  }
  s = read_array(j, "segments", [&](const ojson& e) -> std::string {
    Segment seg;
    seg.date_added = now;
    if (auto err = read_segment(e, site, &seg); !err.empty()) return err;
    if (auto it = e.find("members"); it != e.end()) {
      if (auto err = read_members(*it, site, seg.date_added, &seg); !err.empty()) return err;
    }
    return place(site.segments, std::move(seg), &site.next.segments);
  });
  if (!s) return s;
  s = read_array(j, "hooks", [&](const ojson& e) -> std::string {
    Hook h;
    if (auto err = read_hook(e, now, &h); !err.empty()) return err;
    return place(site.hooks, std::move(h), &site.next.hooks);
  });
  if (!s) return s;
  s = read_array(j, "webhook_queue", [&](const ojson& e) -> std::string {
    QueueRow r;
    if (auto err = read_queue_row(e, site, &r); !err.empty()) return err;
    if (r.id == 0) r.id = site.next.queue++;
    for (const QueueRow& other : site.queue) {
      if (other.id == r.id) return "id: " + std::to_string(r.id) + " is used twice";
    }
    site.queue.push_back(std::move(r));
    return "";
  });
  if (!s) return s;
  std::sort(site.queue.begin(), site.queue.end(),
            [](const QueueRow& a, const QueueRow& b) { return a.id < b.id; });
  s = read_array(j, "tokens", [&](const ojson& e) -> std::string {
    Token t;
    if (auto err = read_token(e, &t); !err.empty()) return err;
    site.tokens.push_back(std::move(t));
    return "";
  });
  if (!s) return s;
  if (auto it = j.find("next_ids"); it != j.end()) {
    if (!it->is_object()) return Status::invalid("next_ids: expected an object");
    if (auto e = unknown_keys(*it, {"contacts", "segments", "hooks", "dnc", "queue", "tags"});
        !e.empty()) {
      return Status::invalid(inside("next_ids", e));
    }
    for (auto [key, out] :
         {std::pair{"contacts", &site.next.contacts}, std::pair{"segments", &site.next.segments},
          std::pair{"hooks", &site.next.hooks}, std::pair{"dnc", &site.next.dnc},
          std::pair{"queue", &site.next.queue}, std::pair{"tags", &site.next.tags}}) {
      std::int64_t given = *out;
      if (auto e = read_id(*it, key, &given); !e.empty())
        return Status::invalid(inside("next_ids", e));
      // Never below an id in use: a next id is only ever raised.
      *out = std::max(*out, given);
    }
  }
  return site;
}

ojson site_json(const Site& s) {
  ojson j = ojson::object();
  j["username"] = s.username;
  j["password"] = s.password;
  ojson clients = ojson::array();
  for (const OauthClient& c : s.oauth_clients)
    clients.push_back({{"client_id", c.client_id}, {"client_secret", c.client_secret}});
  j["oauth2_clients"] = std::move(clients);
  j["settings"] = settings_json(s.settings);
  ojson custom = ojson::array();
  for (const Field& f : s.fields) {
    if (f.is_fixed) continue;
    custom.push_back({{"id", parse_int64(f.id).value_or(0)},
                      {"alias", f.alias},
                      {"label", f.label},
                      {"type", f.type},
                      {"group", f.group}});
  }
  j["custom_fields"] = std::move(custom);
  ojson contacts = ojson::array();
  for (const auto& [id, c] : s.contacts)
    contacts.push_back(contact_state_json(s, c));
  j["contacts"] = std::move(contacts);
  ojson segments = ojson::array();
  for (const auto& [id, seg] : s.segments) {
    ojson e = segment_json(seg);
    ojson members = ojson::array();
    for (const auto& [cid, m] : seg.members) {
      members.push_back({{"contact", cid},
                         {"dateAdded", time_json(m.date_added)},
                         {"manuallyAdded", m.manually_added}});
    }
    e["members"] = std::move(members);
    segments.push_back(std::move(e));
  }
  j["segments"] = std::move(segments);
  ojson hooks = ojson::array();
  for (const auto& [id, h] : s.hooks) {
    ojson e = hook_json(h);
    e["responses"] = h.responses;
    hooks.push_back(std::move(e));
  }
  j["hooks"] = std::move(hooks);
  ojson queue = ojson::array();
  for (const QueueRow& r : s.queue) {
    queue.push_back({{"id", r.id},
                     {"hook", r.hook_id},
                     {"event", r.event},
                     {"dateAdded", time_json(r.date_added)},
                     {"payload", r.payload}});
  }
  j["webhook_queue"] = std::move(queue);
  ojson tokens = ojson::array();
  for (const Token& t : s.tokens) {
    tokens.push_back({{"access_token", t.access_token},
                      {"client_id", t.client_id},
                      {"expires", time_json(t.expires)}});
  }
  j["tokens"] = std::move(tokens);
  j["next_ids"] = {{"contacts", s.next.contacts}, {"segments", s.next.segments},
                   {"hooks", s.next.hooks},       {"dnc", s.next.dnc},
                   {"queue", s.next.queue},       {"tags", s.next.tags}};
  return j;
}

std::string site_counts(const Site& s) {
  return "{\"contacts\":" + std::to_string(s.contacts.size()) +
         ",\"segments\":" + std::to_string(s.segments.size()) +
         ",\"hooks\":" + std::to_string(s.hooks.size()) + "}";
}

}  // namespace concord::sandbox::mautic
