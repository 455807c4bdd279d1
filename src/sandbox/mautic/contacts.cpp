// /api/contacts: the list, one contact, its segments, and its do-not-contact entries (the
// reference's §3.4, §3.5 and §3.6).
#include <mutex>
#include <utility>

#include "sandbox/mautic/changes.h"
#include "sandbox/mautic/contact_query.h"
#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/replies.h"
#include "sandbox/mautic/routing.h"

namespace concord::sandbox::mautic {
namespace {

ojson contact_answer(const Site& site, const Contact& c) {
  return {{"contact", contact_json(site, c, ContactView::kFull)}};
}

}  // namespace

http::Reply MauticSandbox::list_contacts(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto q = read_contact_query(site_, call.params);
  if (!q.is_ok()) return bad_request(q.status().message());
  const std::vector<const Contact*> all = matching_contacts(site_, *q);
  ojson contacts = ojson::object();
  for (const Contact* c : page_of(all, q->paging)) {
    contacts[std::to_string(c->id)] =
        q->select.empty() ? contact_json(site_, *c, q->view) : selected_contact_json(*c, q->select);
  }
  ojson body = ojson::object();
  body["total"] = std::to_string(all.size());  // a string here, unlike the other lists
  body["contacts"] = std::move(contacts);
  return json_reply(200, body);
}

http::Reply MauticSandbox::get_contact(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return entity_answer(site_.contacts, call.id(0), "contact", [&](const Contact& c) {
    return contact_json(site_, c, ContactView::kFull);
  });
}

http::Reply MauticSandbox::contact_segments(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const std::int64_t id = call.id(0);
  if (!site_.contacts.count(id)) return not_found();
  ojson lists = ojson::object();
  for (const auto& [sid, s] : site_.segments) {
    auto m = s.members.find(id);
    if (m == s.members.end()) continue;
    ojson e = ojson::object();
    e["id"] = s.id;
    e["name"] = s.name;
    e["alias"] = s.alias;
    e["dateAdded"] = time_json(m->second.date_added);
    e["manuallyAdded"] = m->second.manually_added;
    e["manuallyRemoved"] = false;
    lists[std::to_string(s.id)] = std::move(e);
  }
  ojson body = ojson::object();
  body["total"] = lists.size();
  // PHP's empty array.
  body["lists"] = lists.empty() ? ojson::array() : std::move(lists);
  return json_reply(200, body);
}

http::Reply MauticSandbox::dnc_add(const Call& call) {
  DncAdd add;
  add.channel = call.args.at(1);
  auto reason = call.params.integer("reason");
  if (!reason.is_ok() || (*reason && **reason < 1)) {
    return api_error(400, "Invalid reason code given",
                     ojson::array({"Reason code needs to be an integer and higher than 0."}));
  }
  if (*reason) add.reason = static_cast<int>(**reason);
  auto comments = call.params.text("comments");
  if (!comments.is_ok()) return bad_request(comments.status().message());
  add.comments = *comments;
  auto channel_id = call.params.integer("channelId");
  if (!channel_id.is_ok()) return bad_request(channel_id.status().message());
  if (*channel_id) add.channel_id = **channel_id;

  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = site_.contacts.find(call.id(0));
  if (it == site_.contacts.end()) return not_found();
  std::vector<Fired> fired;
  if (add_dnc(site_, it->second, add, now(), &fired)) changed(std::move(fired));
  return json_reply(200, contact_answer(site_, it->second));
}

http::Reply MauticSandbox::dnc_remove(const Call& call) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = site_.contacts.find(call.id(0));
  if (it == site_.contacts.end()) return not_found();
  std::vector<Fired> fired;
  const bool found = remove_dnc(site_, it->second, call.args.at(1), now(), &fired);
  if (found) changed(std::move(fired));
  ojson body = ojson::object();
  body["recordFound"] = found;
  body["contact"] = contact_json(site_, it->second, ContactView::kFull);
  return json_reply(200, body);
}

}  // namespace concord::sandbox::mautic
