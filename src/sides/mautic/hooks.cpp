// MauticClient's webhooks: Mautic's standard entity routes under /api/hooks.
#include <cassert>

#include "concord/mautic_client.h"
#include "sides/answer_text.h"
#include "sides/mautic/numbers.h"
#include "sides/mautic/session.h"

namespace concord {
namespace {

using json = nlohmann::json;
using sides::find;

std::string text_at(const json& j, const char* key) {
  const json* v = find(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// A hook as the API writes it. kUnavailable naming `what` when it is not one (no id). Its
// triggers are `triggers` (event names), or, as some versions write them, `events` entries with
// an `eventType`.
Result<MauticHook> read_hook(const json& h, const std::string& what) {
  const std::optional<std::int64_t> id = mautic::integer_of(find(h, "id"));
  if (!id || *id < 1) return Status::unavailable(what + ": the hook has no id");
  MauticHook hook;
  hook.id = *id;
  hook.name = text_at(h, "name");
  hook.url = text_at(h, "webhookUrl");
  hook.events_order = text_at(h, "eventsOrderbyDir");
  // Published is a boolean; 1/"1" from older serialisers.
  const json* published = find(h, "isPublished");
  hook.published = published != nullptr && ((published->is_boolean() && published->get<bool>()) ||
                                            mautic::integer_of(published).value_or(0) == 1);
  const json* triggers = find(h, "triggers");
  const json* events = find(h, "events");
  for (const json* list : {triggers, events}) {
    if (list == nullptr || !(list->is_array() || list->is_object())) continue;
    for (const json& t : *list) {
      std::string name = t.is_string() ? t.get<std::string>() : text_at(t, "eventType");
      if (!name.empty()) hook.triggers.push_back(std::move(name));
    }
    if (!hook.triggers.empty()) break;
  }
  return hook;
}

// The hook of a {"hook":{…}} answer.
Result<MauticHook> hook_of(const json& body, const std::string& what) {
  const json* h = find(body, "hook");
  if (h == nullptr || !h->is_object())
    return Status::unavailable(what + ": the answer has no hook");
  return read_hook(*h, what);
}

}  // namespace

Result<std::vector<MauticHook>> MauticClient::list_hooks() {
  Result<std::vector<json>> listed = session_->list_all("hooks", "hooks");
  if (!listed) return listed.status().with_origin(Origin::kMautic);
  std::vector<MauticHook> hooks;
  for (std::size_t i = 0; i < listed->size(); ++i) {
    Result<MauticHook> h =
        read_hook((*listed)[i], "Mautic GET /api/hooks: hook [" + std::to_string(i) + "]");
    if (!h) return h.status().with_origin(Origin::kMautic);
    hooks.push_back(std::move(*h));
  }
  return hooks;
}

Result<MauticHook> MauticClient::create_hook(const std::string& name, const std::string& url,
                                             const std::string& secret,
                                             const std::vector<std::string>& triggers) {
  assert(!secret.empty() && "REQUIRES: a secret");
  if (secret.empty()) {
    return Status::invalid("a Mautic hook needs a secret to sign its deliveries")
        .with_origin(Origin::kMautic);
  }
  json events = json::array();
  if (triggers.empty()) {
    for (std::string_view t : kMauticHookTriggers)
      events.push_back(std::string(t));
  } else {
    for (const std::string& t : triggers)
      events.push_back(t);
  }
  const json body = {{"name", name},       {"webhookUrl", url},         {"secret", secret},
                     {"triggers", events}, {"eventsOrderbyDir", "ASC"}, {"isPublished", true}};
  const std::string what = "Mautic POST /api/hooks/new";
  Result<mautic::Answer> made =
      session_->call("POST", "hooks/new", body.dump(-1, ' ', false, json::error_handler_t::replace),
                     /*idempotent=*/false, secret);
  if (made) {
    Result<MauticHook> h = hook_of(made->body, what);
    if (!h) return h.status().with_origin(Origin::kMautic);
    return h;
  }
  if (!made.status().retryable()) return made.status().with_origin(Origin::kMautic);
  // The answer was lost, or a 5xx came back: the POST may still have made the hook.
  Result<std::vector<MauticHook>> hooks = list_hooks();
  if (hooks) {
    for (MauticHook& h : *hooks) {
      if (h.url == url && h.name == name) return std::move(h);
    }
  }
  return made.status().with_origin(Origin::kMautic);
}

Result<MauticHook> MauticClient::hook(std::int64_t id) {
  const std::string target = "hooks/" + std::to_string(id);
  Result<mautic::Answer> a = session_->call("GET", target);
  if (!a) return a.status().with_origin(Origin::kMautic);
  Result<MauticHook> h = hook_of(a->body, "Mautic GET /api/" + target);
  if (!h) return h.status().with_origin(Origin::kMautic);
  return h;
}

Status MauticClient::delete_hook(std::int64_t id) {
  Result<mautic::Answer> a = session_->call("DELETE", "hooks/" + std::to_string(id) + "/delete");
  if (!a && a.status().code() == Status::Code::kNotFound) return Status::ok();  // already gone
  return a.status().with_origin(Origin::kMautic);
}

}  // namespace concord
