// /api/segments: the list, one segment, and its members added and removed (the reference's
// §3.6). Membership changes fire lead_list_change and leave the contact's dateModified alone.
#include <mutex>
#include <utility>

#include "sandbox/mautic/changes.h"
#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/listing.h"
#include "sandbox/mautic/replies.h"
#include "sandbox/mautic/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

ojson success() {
  return {{"success", 1}};
}

}  // namespace

http::Reply MauticSandbox::list_segments(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto body = listing(site_.segments, call.params, "lists", segment_json);
  if (!body.is_ok()) return bad_request(body.status().message());
  return json_reply(200, *body);
}

http::Reply MauticSandbox::get_segment(const Call& call) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return entity_answer(site_.segments, call.id(0), "list", segment_json);
}

http::Reply MauticSandbox::segment_add(const Call& call) {
  return segment_member(call, true);
}

http::Reply MauticSandbox::segment_remove(const Call& call) {
  return segment_member(call, false);
}

http::Reply MauticSandbox::segment_member(const Call& call, bool add) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto s = site_.segments.find(call.id(0));
  if (s == site_.segments.end()) return not_found();
  auto c = site_.contacts.find(call.id(1));
  if (c == site_.contacts.end()) return not_found(kContactNotFound);
  std::vector<Fired> fired;
  const bool moved = add ? add_to_segment(site_, s->second, c->second, now(), &fired)
                         : remove_from_segment(site_, s->second, c->second, now(), &fired);
  if (moved) changed(std::move(fired));
  return json_reply(200, success());
}

http::Reply MauticSandbox::segment_add_many(const Call& call) {
  const ojson* ids = call.params.find("ids");
  const std::vector<ojson> given = ids ? php_elements(*ids) : std::vector<ojson>();
  if (given.empty()) return bad_request();
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto s = site_.segments.find(call.id(0));
  if (s == site_.segments.end()) return not_found();
  std::vector<Fired> fired;
  ojson details = ojson::object();
  for (const ojson& v : given) {
    const std::string text = scalar_text(v);
    std::optional<std::int64_t> id = parse_int64(text);
    auto c = id ? site_.contacts.find(*id) : site_.contacts.end();
    const bool found = c != site_.contacts.end();
    if (found) add_to_segment(site_, s->second, c->second, now(), &fired);
    details[text] = {{"success", found}};
  }
  if (!fired.empty()) changed(std::move(fired));
  ojson body = success();
  body["details"] = std::move(details);
  return json_reply(200, body);
}

}  // namespace concord::sandbox::mautic
