// The Mautic part's admin routes (docs/sandbox.md "The Mautic API", Admin routes): what a person
// does in Mautic's pages, which fires the webhook events the same change fires there (a contact
// created, edited or deleted, do-not-contact set or lifted, segment members added or removed, a
// segment created), the settings, the webhook queue's processing (Mautic's cron command), the
// delivery log, and the knobs of tokens and the rate limit.
#include <chrono>
#include <mutex>
#include <optional>
#include <utility>

#include "sandbox/mautic/auth.h"
#include "sandbox/mautic/changes.h"
#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/routing.h"
#include "sandbox/mautic/seed.h"
#include "sandbox/mautic/settings.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

// The JSON body of an admin request (an object), or the problem answer.
std::optional<ojson> read_body(const http::Request& req, http::Reply* problem) {
  ojson j = is_blank(req.body) ? ojson::object() : ojson::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    *problem = admin_problem(400, "JSON Parse Exception", "The request body is not valid JSON.");
    return std::nullopt;
  }
  if (!j.is_object()) {
    *problem = admin_problem(400, "Invalid Resource", "expected a JSON object");
    return std::nullopt;
  }
  return j;
}

// An admin answer. Values the API took from query strings or forms may hold bytes that are not
// UTF-8: they are written as U+FFFD rather than failing the answer.
http::Reply answer(const ojson& body) {
  return plain_reply(200, body.dump(-1, ' ', false, ojson::error_handler_t::replace),
                     "application/json; charset=utf-8");
}

http::Reply invalid(const std::string& detail) {
  return admin_problem(400, "Invalid Resource", detail);
}

http::Reply not_allowed(const char* methods) {
  return admin_problem(405, "Method Not Allowed", std::string("Use ") + methods + ".");
}

http::Reply no_route() {
  return admin_problem(404, "Resource Not Found", "No such route under /_sandbox/mautic.");
}

// {"fields":{alias:value},"points":n,"tags":[…]}. Returns "" or the problem.
std::string read_edit(const ojson& body, const Site& site, ContactEdit* edit) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "fields" && it.key() != "points" && it.key() != "tags") {
      return it.key() + ": unknown field";
    }
  }
  if (auto f = body.find("fields"); f != body.end()) {
    if (!f->is_object()) return "fields: expected an object of field aliases and values";
    for (auto it = f->begin(); it != f->end(); ++it) {
      if (!site.field(it.key())) return "fields." + it.key() + ": not a contact field";
      if (it->is_array() || it->is_object()) return "fields." + it.key() + ": expected a value";
      if (it.key() == "points") {
        if (!it->is_number_integer()) return "fields.points: expected an integer";
        edit->points = it->get<std::int64_t>();
      } else {
        edit->fields[it.key()] = *it;
      }
    }
  }
  if (auto p = body.find("points"); p != body.end()) {
    if (!p->is_number_integer()) return "points: expected an integer";
    edit->points = p->get<std::int64_t>();
  }
  if (auto t = body.find("tags"); t != body.end()) {
    if (!t->is_array()) return "tags: expected an array of tag names";
    std::vector<std::string> tags;
    for (const ojson& name : *t) {
      if (!name.is_string() || name.get_ref<const std::string&>().empty()) {
        return "tags: expected an array of tag names";
      }
      tags.push_back(name.get<std::string>());
    }
    edit->tags = std::move(tags);
  }
  return "";
}

ojson event_keys(const std::vector<Fired>& fired) {
  ojson keys = ojson::array();
  for (const Fired& f : fired)
    keys.push_back(event_key(f.type));
  return keys;
}

// {"contact":{…},"events":[…]}: what an admin change of a contact answers.
http::Reply contact_changed(const Site& site, const Contact* c, const std::vector<Fired>& fired) {
  ojson j = ojson::object();
  if (c) j["contact"] = contact_json(site, *c, ContactView::kFull);
  j["events"] = event_keys(fired);
  return answer(j);
}

}  // namespace

http::Reply MauticSandbox::admin(const http::Request& req, std::string_view path,
                                 const http::Peer& peer) {
  if (!peer.loopback) return admin_forbidden();
  if (path == "/_sandbox/faults") return admin_faults(req);
  std::vector<std::string> segs = path_segments(path);
  if (segs.size() >= 3 && segs[0] == "_sandbox" && segs[1] == "mautic") {
    const std::string& what = segs[2];
    if (what == "contacts") return admin_contacts(req, segs);
    if (what == "segments") return admin_segments(req, segs);
    if (segs.size() == 3 && what == "settings") return admin_settings(req);
    if (segs.size() == 4 && what == "webhooks" && segs[3] == "process") return admin_process(req);
    if (segs.size() == 3 && what == "deliveries") {
      return admin_deliveries(req, split_target(req.target).query);
    }
    if (segs.size() == 4 && what == "tokens" && segs[3] == "expire") return admin_tokens(req);
    if (segs.size() == 4 && what == "rate-limit" && segs[3] == "reset") {
      return admin_rate_limit(req);
    }
  }
  return admin_problem(404, "Resource Not Found",
                       "The requested resource could not be found: " + std::string(path));
}

http::Reply MauticSandbox::admin_faults(const http::Request& req) {
  if (req.method == "POST") {
    http::Reply problem;
    std::optional<ojson> body = read_body(req, &problem);
    if (!body) return problem;
    std::string err = faults_.configure(*body);
    if (!err.empty()) return invalid(err);
  } else if (req.method != "GET") {
    return not_allowed("GET or POST");
  }
  return answer(faults_.to_json());
}

http::Reply MauticSandbox::admin_contacts(const http::Request& req,
                                          const std::vector<std::string>& segs) {
  http::Reply problem;
  std::vector<Fired> fired;
  // POST /_sandbox/mautic/contacts: a person creates a contact.
  if (segs.size() == 3) {
    if (req.method != "POST") return not_allowed("POST");
    std::optional<ojson> body = read_body(req, &problem);
    if (!body) return problem;
    std::unique_lock<std::shared_mutex> lock(mu_);
    ContactEdit edit;
    if (std::string err = read_edit(*body, site_, &edit); !err.empty()) return invalid(err);
    Contact& c = create_contact(site_, edit, now(), &fired);
    changed(fired);
    return contact_changed(site_, &c, fired);
  }
  const std::optional<std::int64_t> id = parse_int64(segs[3]);
  const bool dnc = segs.size() >= 5 && segs[4] == "dnc";
  if (!id || segs.size() > 6 || (segs.size() >= 5 && !dnc)) return no_route();
  std::optional<ojson> body;
  if (req.method == "POST" || req.method == "PATCH") {
    body = read_body(req, &problem);
    if (!body) return problem;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = site_.contacts.find(*id);
  if (it == site_.contacts.end()) {
    return admin_problem(404, "Resource Not Found", "No contact " + segs[3] + ".");
  }
  Contact& c = it->second;
  if (!dnc) {
    // DELETE /_sandbox/mautic/contacts/{id}: deleted in Mautic's pages.
    if (req.method == "DELETE") {
      delete_contact(site_, *id, now(), &fired);
      changed(fired);
      return contact_changed(site_, nullptr, fired);
    }
    // PATCH (or POST) /_sandbox/mautic/contacts/{id}: edited in Mautic's pages.
    if (!body) return not_allowed("PATCH, POST or DELETE");
    ContactEdit edit;
    if (std::string err = read_edit(*body, site_, &edit); !err.empty()) return invalid(err);
    edit_contact(site_, c, edit, now(), &fired);
  } else if (segs.size() == 5) {
    // POST /_sandbox/mautic/contacts/{id}/dnc {"channel","reason","comments","channelId"}: the
    // contact unsubscribes, bounces, or is set do-not-contact by hand.
    if (req.method != "POST") return not_allowed("POST");
    DncAdd add;
    if (auto ch = body->find("channel"); ch != body->end()) {
      if (!ch->is_string() || ch->get_ref<const std::string&>().empty()) {
        return invalid("channel: expected a channel name, e.g. \"email\"");
      }
      add.channel = ch->get<std::string>();
    }
    if (auto r = body->find("reason"); r != body->end()) {
      if (!r->is_number_integer() || r->get<int>() < 1) {
        return invalid("reason: expected 1 (unsubscribed), 2 (bounced) or 3 (manual)");
      }
      add.reason = r->get<int>();
    }
    if (auto cm = body->find("comments"); cm != body->end()) {
      if (!cm->is_string()) return invalid("comments: expected a string");
      add.comments = cm->get<std::string>();
    }
    if (auto ci = body->find("channelId"); ci != body->end()) add.channel_id = *ci;
    add_dnc(site_, c, add, now(), &fired);
  } else {
    // DELETE /_sandbox/mautic/contacts/{id}/dnc/{channel}: do-not-contact lifted.
    if (req.method != "DELETE") return not_allowed("DELETE");
    remove_dnc(site_, c, segs[5], now(), &fired);
  }
  // An anonymous contact's edit fires nothing and is a change all the same.
  changed(fired);
  return contact_changed(site_, &c, fired);
}

http::Reply MauticSandbox::admin_segments(const http::Request& req,
                                          const std::vector<std::string>& segs) {
  http::Reply problem;
  if (req.method != "POST") return not_allowed("POST");
  std::optional<ojson> body = read_body(req, &problem);
  if (!body) return problem;
  // POST /_sandbox/mautic/segments: a person creates a segment.
  if (segs.size() == 3) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    Segment s;
    s.created_at(now());
    if (body->contains("members")) return invalid("members: use …/segments/{id}/members");
    if (std::string err = read_segment(*body, site_, &s); !err.empty()) return invalid(err);
    if (s.id == 0) s.id = site_.next.segments;
    if (site_.segments.count(s.id)) return invalid("id: " + std::to_string(s.id) + " is used");
    site_.next.segments = std::max(site_.next.segments, s.id + 1);
    ojson out = {{"list", segment_json(s)}};
    site_.segments.emplace(s.id, std::move(s));
    generation_.fetch_add(1);
    return answer(out);
  }
  // POST /_sandbox/mautic/segments/{id}/members {"add":[ids],"remove":[ids]}: a person adds or
  // removes members (or a segment rebuild does).
  const std::optional<std::int64_t> id = parse_int64(segs[3]);
  if (!id || segs.size() != 5 || segs[4] != "members") return no_route();
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = site_.segments.find(*id);
  if (it == site_.segments.end()) {
    return admin_problem(404, "Resource Not Found", "No segment " + segs[3] + ".");
  }
  std::vector<std::pair<const Contact*, bool>> changes;  // (contact, add)
  for (auto it2 = body->begin(); it2 != body->end(); ++it2) {
    if (it2.key() != "add" && it2.key() != "remove") return invalid(it2.key() + ": unknown field");
    if (!it2->is_array()) return invalid(it2.key() + ": expected an array of contact ids");
    for (const ojson& v : *it2) {
      auto c =
          v.is_number_integer() ? site_.contacts.find(v.get<std::int64_t>()) : site_.contacts.end();
      if (c == site_.contacts.end()) return invalid(it2.key() + ": " + v.dump() + " is no contact");
      changes.emplace_back(&c->second, it2.key() == "add");
    }
  }
  std::vector<Fired> fired;
  for (auto [c, add] : changes) {
    if (add) {
      add_to_segment(site_, it->second, *c, now(), &fired);
    } else {
      remove_from_segment(site_, it->second, *c, now(), &fired);
    }
  }
  if (!fired.empty()) changed(fired);
  ojson out = {{"list", segment_json(it->second)}, {"events", event_keys(fired)}};
  ojson members = ojson::array();
  for (const auto& [cid, m] : it->second.members)
    members.push_back(cid);
  out["members"] = std::move(members);
  return answer(out);
}

http::Reply MauticSandbox::admin_settings(const http::Request& req) {
  // GET or POST /_sandbox/mautic/settings {…}: Mautic's Configuration pages.
  if (req.method == "POST") {
    http::Reply problem;
    std::optional<ojson> body = read_body(req, &problem);
    if (!body) return problem;
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (std::string err = read_settings(*body, &site_.settings); !err.empty()) return invalid(err);
    generation_.fetch_add(1);
  } else if (req.method != "GET") {
    return not_allowed("GET or POST");
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  return answer(settings_json(site_.settings));
}

http::Reply MauticSandbox::admin_process(const http::Request& req) {
  // POST /_sandbox/mautic/webhooks/process {"webhook_id":N}: the cron command
  // mautic:webhooks:process [--webhook-id=N].
  if (req.method != "POST") return not_allowed("POST");
  http::Reply problem;
  std::optional<ojson> body = read_body(req, &problem);
  if (!body) return problem;
  std::optional<std::int64_t> only;
  if (auto it = body->find("webhook_id"); it != body->end()) {
    if (!it->is_number_integer()) return invalid("webhook_id: expected an integer");
    only = it->get<std::int64_t>();
  }
  return answer(process_queue(only));
}

http::Reply MauticSandbox::admin_deliveries(const http::Request& req, std::string_view query) {
  // DELETE /_sandbox/mautic/deliveries: forgets the log.
  if (req.method == "DELETE") {
    outbox_.clear_log();
    http::Reply r;
    r.response.status = 204;
    return r;
  }
  if (req.method != "GET") return not_allowed("GET or DELETE");
  // GET /_sandbox/mautic/deliveries?wait=true: once the immediate deliveries were sent (10 s at
  // the most), the log.
  if (member_text(php_query(query), "wait") == "true") {
    outbox_.wait_idle(std::chrono::seconds(10));
  }
  ojson j = outbox_.to_json();
  std::shared_lock<std::shared_mutex> lock(mu_);
  ojson queue = ojson::array();
  for (const QueueRow& r : site_.queue) {
    queue.push_back({{"id", r.id},
                     {"webhook_id", r.hook_id},
                     {"event", r.event},
                     {"dateAdded", time_json(r.date_added)}});
  }
  j["queue"] = std::move(queue);
  return answer(j);
}

http::Reply MauticSandbox::admin_tokens(const http::Request& req) {
  // POST /_sandbox/mautic/tokens/expire: every access token expires now.
  if (req.method != "POST") return not_allowed("POST");
  std::unique_lock<std::shared_mutex> lock(mu_);
  const std::size_t n = expire_tokens(site_, now());
  generation_.fetch_add(1);
  return answer(ojson{{"expired", n}});
}

http::Reply MauticSandbox::admin_rate_limit(const http::Request& req) {
  // POST /_sandbox/mautic/rate-limit/reset: a new hour.
  if (req.method != "POST") return not_allowed("POST");
  limiter_.reset();
  return answer(ojson::object());
}

}  // namespace concord::sandbox::mautic
