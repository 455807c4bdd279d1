// /api/hooks: the webhook entity (the reference's §5.1): list, one, new, edit (PATCH adds
// triggers, PUT replaces them and creates a missing hook), delete, and the events a hook can
// subscribe to. A save without a secret gets a generated one.
#include <mutex>
#include <utility>

#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/events.h"
#include "sandbox/mautic/hook_body.h"
#include "sandbox/mautic/listing.h"
#include "sandbox/mautic/replies.h"
#include "sandbox/mautic/routing.h"

namespace concord::sandbox::mautic {
namespace {

// Mautic's EncryptionHelper::generateKey(): 64 hex digits.
void ensure_secret(Hook* h) {
  if (h->secret.empty()) h->secret = random_hex(32);
}

}  // namespace

http::Reply MauticSandbox::list_hooks(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto body =
      listing(site_.hooks, call.params, "hooks", [](const Hook& h) { return hook_json(h); });
  if (!body.is_ok()) return bad_request(body.status().message());
  return json_reply(200, *body);
}

http::Reply MauticSandbox::hook_triggers(const Call&) {
  ojson triggers = ojson::object();
  for (const EventInfo& e : kEvents)
    triggers[std::string(e.key)] = {{"label", e.label}, {"description", e.description}};
  return json_reply(200, {{"triggers", std::move(triggers)}});
}

http::Reply MauticSandbox::get_hook(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return entity_answer(site_.hooks, call.id(0), "hook", [](const Hook& h) { return hook_json(h); });
}

http::Reply MauticSandbox::new_hook(const Call& call) {
  Hook h;
  if (auto err = read_hook_body(call.params.all(), true, &h)) {
    return form_error(err->field, err->message);
  }
  ensure_secret(&h);
  std::unique_lock<std::shared_mutex> lock(mu_);
  const Micros t = now();
  h.id = site_.next.hooks++;
  h.created_at(t);
  ojson body = {{"hook", hook_json(h)}};
  site_.hooks.emplace(h.id, std::move(h));
  generation_.fetch_add(1);
  return json_reply(201, body);
}

http::Reply MauticSandbox::edit_hook(const Call& call) {
  const bool put = call.request.method == "PUT";
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = site_.hooks.find(call.id(0));
  if (it == site_.hooks.end()) {
    if (!put) return not_found();
    lock.unlock();
    return new_hook(call);  // PUT creates a missing entity, with a new id
  }
  Hook h = it->second;
  if (auto err = read_hook_body(call.params.all(), put, &h)) {
    return form_error(err->field, err->message);
  }
  ensure_secret(&h);
  h.modified_at(now());
  it->second = std::move(h);
  generation_.fetch_add(1);
  return json_reply(200, {{"hook", hook_json(it->second)}});
}

http::Reply MauticSandbox::delete_hook(const Call& call) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = site_.hooks.find(call.id(0));
  if (it == site_.hooks.end()) return not_found();
  ojson body = {{"hook", hook_json(it->second, true)}};
  const std::int64_t id = it->first;
  site_.hooks.erase(it);
  // Its queue rows go with it (a foreign key with ON DELETE CASCADE).
  std::erase_if(site_.queue, [id](const QueueRow& r) { return r.hook_id == id; });
  generation_.fetch_add(1);
  return json_reply(200, body);
}

}  // namespace concord::sandbox::mautic
