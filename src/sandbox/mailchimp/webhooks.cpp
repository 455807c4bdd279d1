// The Mailchimp part's list webhooks: GET and POST /lists/{id}/webhooks, GET, PATCH and DELETE of
// one webhook (a new or changed URL is validated with a GET first, as Mailchimp does), and the
// events that the member state machine fires to them.
#include <mutex>
#include <shared_mutex>

#include "sandbox/mailchimp/routing.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

std::string form_encode(const Pairs& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += '&';
    out += http::url_encode(k);
    out += '=';
    out += http::url_encode(v);
  }
  return out;
}

// The member's groups as webhooks carry them (reference §15.4): names, not ids. One
// GROUPINGS[n] per category (the legacy numeric id, the category id as `unique_id`, its title,
// and the names of the member's interests in it joined by ", "), and INTERESTS, the flat list of
// the first grouping. Nothing when the list has no categories.
void groupings_form(const List& l, const Member& m, Pairs* kv) {
  std::vector<const InterestCategory*> cats = l.ordered_categories();
  if (cats.empty()) return;
  std::vector<std::string> groups;
  for (const InterestCategory* cat : cats) {
    std::string names;
    for (const Interest* i : l.ordered_interests(cat->id)) {
      if (((m.interests >> i->bit) & 1) == 0) continue;
      if (!names.empty()) names += ", ";
      names += i->name;
    }
    groups.push_back(std::move(names));
  }
  kv->emplace_back("data[merges][INTERESTS]", groups[0]);
  for (std::size_t n = 0; n < cats.size(); ++n) {
    std::string k = "data[merges][GROUPINGS][" + std::to_string(n) + "]";
    kv->emplace_back(k + "[id]", std::to_string(cats[n]->grouping_id));
    kv->emplace_back(k + "[unique_id]", cats[n]->id);
    kv->emplace_back(k + "[name]", cats[n]->title);
    kv->emplace_back(k + "[groups]", groups[n]);
  }
}

// data[...] of a member for subscribe, unsubscribe and profile deliveries.
void member_form(const List& l, const Member& m, Pairs* kv) {
  kv->emplace_back("data[id]", ueid_hex(m.unique_email_id));
  kv->emplace_back("data[list_id]", l.id);
  kv->emplace_back("data[email]", m.email);
  kv->emplace_back("data[email_type]", m.text_email ? "text" : "html");
  kv->emplace_back("data[web_id]", std::to_string(m.web_id));
  kv->emplace_back("data[merges][EMAIL]", m.email);
  std::vector<std::string> values = unpack_merges(m.merges, l.merge_fields.size());
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
    const MergeField& f = l.merge_fields[i];
    std::string k = "data[merges][" + f.tag + "]";
    if (f.type == MergeType::kAddress && !values[i].empty()) {
      json a = json::parse(values[i], nullptr, false);
      if (a.is_object()) {
        for (auto it = a.begin(); it != a.end(); ++it) {
          kv->emplace_back(k + "[" + it.key() + "]",
                           it->is_string() ? it->get<std::string>() : it->dump());
        }
        continue;
      }
    }
    kv->emplace_back(k, values[i]);
  }
  groupings_form(l, m, kv);
  kv->emplace_back("data[ip_opt]", std::string(m.ext_ip_opt()));
  kv->emplace_back("data[ip_signup]", std::string(m.ext_ip_signup()));
}

ojson webhook_json(const Ctx& c, const List& l, const Webhook& w) {
  ojson j = ojson::object();
  j["id"] = w.id;
  j["url"] = w.url;
  ojson ev = ojson::object();
  for (std::size_t e = 0; e < kWebhookEventNames.size(); ++e)
    ev[std::string(kWebhookEventNames[e])] = w.events[e];
  ojson src = ojson::object();
  for (std::size_t s = 0; s < 3; ++s) {
    // The spec's order: user, admin, api.
    static constexpr int kOrder[] = {2, 1, 0};
    src[std::string(kWebhookSourceNames[kOrder[s]])] = w.sources[kOrder[s]];
  }
  j["events"] = std::move(ev);
  j["sources"] = std::move(src);
  j["list_id"] = l.id;
  std::string self = c.base() + "/lists/" + l.id + "/webhooks/" + w.id;
  std::string def = c.schema() + "/Definitions/Lists/Webhooks";
  j["_links"] = ojson::array(
      {link("self", self, "GET", def + "/Response.json"),
       link("parent", c.base() + "/lists/" + l.id + "/webhooks", "GET",
            def + "/CollectionResponse.json", c.schema() + "/Paths/Lists/Webhooks/Collection.json"),
       link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"),
       link("delete", self, "DELETE")});
  return j;
}

bool plausible_url(const std::string& url) {
  std::string base = url.substr(0, url.find_first_of("?#"));
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) return false;
  return http::Url::parse(base).is_ok();
}

// Reads url/events/sources into w. Events and sources absent from the body keep w's values.
ojson read_webhook(const json& b, Webhook* w, bool create) {
  ojson errors = ojson::array();
  if (auto it = b.find("url"); it != b.end()) {
    if (!it->is_string() || !plausible_url(it->get<std::string>())) {
      errors.push_back(field_error("url", "Invalid URL"));
    } else {
      w->url = it->get<std::string>();
    }
  } else if (create) {
    errors.push_back(missing_fields_error({"url"}));
  }
  auto flags = [&](const char* k, auto names, bool* out, std::size_t n) {
    auto it = b.find(k);
    if (it == b.end()) return;
    if (!it->is_object()) {
      errors.push_back(type_error(k, "object", *it));
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto f = it->find(std::string(names[i]));
      if (f == it->end()) continue;
      if (!f->is_boolean()) {
        errors.push_back(type_error(std::string(k) + "." + std::string(names[i]), "boolean", *f));
        continue;
      }
      out[i] = f->template get<bool>();
    }
  };
  flags("events", kWebhookEventNames, w->events.data(), kWebhookEventNames.size());
  flags("sources", kWebhookSourceNames, w->sources.data(), kWebhookSourceNames.size());
  return errors;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::webhooks(Ctx& c, const std::string& list_id,
                                             const std::string* webhook_id) {
  const std::string& m = c.method;
  auto validate = [&](const std::string& url) -> std::optional<Problem> {
    http::Request get;
    get.method = "GET";
    get.headers.push_back({"User-Agent", "MailChimp.com WebHook Validator"});
    auto r = options.transport(url, get);
    int code = r.is_ok() ? r->status : 0;
    if (code >= 200 && code < 300) return std::nullopt;
    return invalid_resource(
        "We couldn't verify the URL is working. Please double check and try again. HTTP Code: " +
        std::to_string(code));
  };
  if (webhook_id == nullptr) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      const List& l = *account->find_list(list_id);
      ojson arr = ojson::array();
      for (const Webhook& w : l.webhooks)
        arr.push_back(webhook_json(c, l, w));
      ojson j = ojson::object();
      j["webhooks"] = std::move(arr);
      j["list_id"] = l.id;
      j["total_items"] = l.webhooks.size();
      std::string coll = c.base() + "/lists/" + l.id + "/webhooks";
      std::string def = c.schema() + "/Definitions/Lists/Webhooks";
      j["_links"] =
          ojson::array({link("self", coll, "GET", def + "/CollectionResponse.json",
                             c.schema() + "/Paths/Lists/Webhooks/Collection.json"),
                        link("parent", c.base() + "/lists/" + l.id, "GET",
                             c.schema() + "/Definitions/Lists/Response.json"),
                        link("create", coll, "POST", def + "/Response.json", def + "/POST.json")});
      return ojson_reply(c, std::move(j), "Lists/Webhooks/CollectionResponse.json");
    }
    if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    if (!body.is_object()) {
      return problem_reply(c, schema_problem(ojson::array({type_error("", "object", body)})));
    }
    Webhook w;
    // The web app's defaults for a new webhook: every event but campaign, every source.
    w.events = {true, true, true, true, true, false};
    w.sources = {true, true, true};
    if (body.contains("events")) w.events.fill(false);
    if (body.contains("sources")) w.sources.fill(false);
    ojson errors = read_webhook(body, &w, true);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    {
      std::shared_lock<std::shared_mutex> lock(mu);
      for (const Webhook& other : account->find_list(list_id)->webhooks) {
        if (other.url == w.url) {
          return problem_reply(c, schema_problem(ojson::array({field_error(
                                      "url",
                                      "A webhook using this URL already exists for this "
                                      "list.")})));
        }
      }
    }
    if (auto p = validate(w.url)) return problem_reply(c, *p);  // outside the lock
    std::unique_lock<std::shared_mutex> lock(mu);
    List* l = account->find_list(list_id);
    if (l == nullptr) return problem_reply(c, not_found());
    w.id = account->random_hex(10);
    l->webhooks.push_back(w);
    changed();
    return ojson_reply(c, webhook_json(c, *l, l->webhooks.back()), "Lists/Webhooks/Response.json");
  }
  auto find = [&](List& l) -> Webhook* {
    for (Webhook& w : l.webhooks) {
      if (w.id == *webhook_id) return &w;
    }
    return nullptr;
  };
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Webhook* w = find(l);
    if (w == nullptr) return problem_reply(c, not_found());
    return ojson_reply(c, webhook_json(c, l, *w), "Lists/Webhooks/Response.json");
  }
  if (m == "DELETE") {
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Webhook* w = find(l);
    if (w == nullptr) return problem_reply(c, not_found());
    l.webhooks.erase(l.webhooks.begin() + (w - l.webhooks.data()));
    changed();
    return no_content(c);
  }
  if (m == "PATCH") {
    json body = c.body();
    if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
    Webhook updated;
    {
      std::shared_lock<std::shared_mutex> lock(mu);
      Webhook* w = find(*account->find_list(list_id));
      if (w == nullptr) return problem_reply(c, not_found());
      updated = *w;
    }
    std::string old_url = updated.url;
    ojson errors = read_webhook(body, &updated, false);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    if (updated.url != old_url) {
      if (auto p = validate(updated.url)) return problem_reply(c, *p);
    }
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Webhook* w = find(l);
    if (w == nullptr) return problem_reply(c, not_found());
    *w = updated;
    changed();
    return ojson_reply(c, webhook_json(c, l, *w), "Lists/Webhooks/Response.json");
  }
  return problem_reply(c, method_not_allowed("GET, PATCH, DELETE"));
}

void MailchimpSandbox::Impl::fire_member(const List& l, WebhookEvent ev, Source src,
                                         const Member& m, const Pairs& extra) {
  bool any = false;
  for (const Webhook& w : l.webhooks)
    any = any || w.events[ev];
  if (!any) return;
  Pairs data;
  if (ev == kEvUnsubscribe) data = extra;
  member_form(l, m, &data);
  if (ev != kEvUnsubscribe) data.insert(data.end(), extra.begin(), extra.end());
  fire(l, ev, src, data);
}

void MailchimpSandbox::Impl::fire(const List& l, WebhookEvent ev, Source src, const Pairs& data) {
  std::string fired_at = civil_text(now());
  for (const Webhook& w : l.webhooks) {
    if (!w.events[ev]) continue;
    // A bounce comes from Mailchimp itself, not from a user, an admin or the API: it is delivered
    // whatever the webhook's sources say.
    if (ev != kEvCleaned && !w.sources[static_cast<int>(src)]) continue;
    Pairs kv;
    kv.emplace_back("type", std::string(kWebhookEventNames[ev]));
    kv.emplace_back("fired_at", fired_at);
    kv.insert(kv.end(), data.begin(), data.end());
    Delivery d;
    d.webhook_id = w.id;
    d.list_id = l.id;
    d.url = w.url;
    d.type = std::string(kWebhookEventNames[ev]);
    d.source = std::string(source_name(src));
    d.body = form_encode(kv);
    d.fired_at = fired_at;
    deliveries.enqueue(std::move(d));
  }
}

}  // namespace concord::sandbox
