// The Mailchimp part's member events (reference §5.7, §16.5): POST …/members/{x}/events records
// an event (204), GET …/members/{x}/events lists them. Both take a subscriber hash, an email or
// a contact_id (§16.6). Events have no id and change nothing else about the member.
#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "sandbox/mailchimp/routing.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

// Reads an event body: `name` (2 to 30 characters), `properties` (string values only),
// `is_syncing`, `occurred_at`.
std::optional<Problem> read_event(const json& b, MemberEvent* e) {
  ojson errors = ojson::array();
  if (!b.is_object()) return schema_problem(ojson::array({type_error("", "object", b)}));
  auto name = b.find("name");
  if (name == b.end() || name->is_null()) {
    errors.push_back(missing_fields_error({"name"}));
  } else if (!name->is_string()) {
    errors.push_back(type_error("name", "string", *name));
  } else {
    e->name = name->get<std::string>();
    if (e->name.size() < 2 || e->name.size() > 30) {
      errors.push_back(field_error("name", "Must be 2-30 characters in length"));
    }
  }
  if (auto p = b.find("properties"); p != b.end() && !p->is_null()) {
    if (!p->is_object()) {
      errors.push_back(type_error("properties", "object", *p));
    } else {
      for (auto kv = p->begin(); kv != p->end(); ++kv) {
        if (!kv->is_string()) {
          errors.push_back(type_error("properties." + kv.key(), "string", *kv));
          continue;
        }
        e->properties.emplace_back(kv.key(), kv->get<std::string>());
      }
    }
  }
  if (auto s = b.find("is_syncing"); s != b.end() && !s->is_null() && !s->is_boolean()) {
    errors.push_back(type_error("is_syncing", "boolean", *s));
  }
  if (auto t = b.find("occurred_at"); t != b.end() && !t->is_null()) {
    auto when = t->is_string() ? parse_iso8601(t->get<std::string>()) : Result<Micros>(kNoTime);
    if (!when.is_ok() || *when == kNoTime) {
      errors.push_back(field_error("occurred_at", "This value is not a valid datetime."));
    } else {
      e->occurred_at = to_seconds(*when);
    }
  }
  if (!errors.empty()) return schema_problem(std::move(errors));
  return std::nullopt;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::member_events(Ctx& c, const std::string& list_id,
                                                  const std::string& seg) {
  if (c.method == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Member* m = resolve(l, seg);
    if (m == nullptr) return problem_reply(c, not_found());
    // Newest first (by occurred_at; among equal times, the later posted first).
    std::vector<const MemberEvent*> events;
    if (m->extra) {
      for (auto it = m->extra->events.rbegin(); it != m->extra->events.rend(); ++it)
        events.push_back(&*it);
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const auto* a, const auto* b) { return a->occurred_at > b->occurred_at; });
    std::int64_t count = c.count(), offset = c.offset();
    ojson arr = ojson::array();
    for (std::int64_t i = offset;
         i < static_cast<std::int64_t>(events.size()) && i < offset + count; ++i) {
      const MemberEvent& e = *events[static_cast<std::size_t>(i)];
      ojson j = ojson::object();
      j["occurred_at"] = time_text(e.occurred_at);
      j["name"] = e.name;
      ojson props = ojson::object();
      for (const auto& [k, v] : e.properties)
        props[k] = v;
      j["properties"] = std::move(props);
      arr.push_back(std::move(j));
    }
    std::string self = c.base() + "/lists/" + l.id + "/members/" + hash_hex(m->key) + "/events";
    std::string def = c.schema() + "/Definitions/Lists/Members/Events";
    ojson j = ojson::object();
    j["events"] = std::move(arr);
    j["total_items"] = events.size();
    j["_links"] = ojson::array({link("self", self, "GET", def + "/CollectionResponse.json",
                                     c.schema() + "/Paths/Lists/Members/Events/Collection.json"),
                                link("create", self, "POST", "", def + "/POST.json")});
    return ojson_reply(c, std::move(j), "Lists/Members/Events/CollectionResponse.json");
  }
  if (c.method != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
  json body = c.body();
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  MemberEvent e;
  if (auto p = read_event(body, &e)) return problem_reply(c, *p);
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  Member* m = resolve(l, seg);
  if (m == nullptr) return problem_reply(c, not_found());
  if (e.occurred_at == kNoTime) e.occurred_at = now();  // "defaults to now"
  m->ext().events.push_back(std::move(e));
  changed();
  return no_content(c);
}

}  // namespace concord::sandbox
