// Mautic's webhook deliveries: the body read into the changes it names, and its signature checked.
// Pure functions: the daemon calls them on the raw body it received, before anything is stored.
//
// A delivery is a JSON object keyed by event name, each an array of items, signed with
// Webhook-Signature: {"mautic.lead_post_save_update":[{"contact":{…},
// "timestamp":"2024-05-02T14:12:03+00:00"}],…}. Queued delivery regroups items by event, so the
// order across events is lost: items are ordered by their timestamps, and a redelivered item is
// kept once.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "concord/mautic_client.h"
#include "sides/answer_text.h"
#include "sides/json_answer.h"
#include "sides/mautic/numbers.h"

namespace concord {
namespace {

using json = nlohmann::json;
using sides::find;

// Malformed items named in an error, at most.
constexpr std::size_t kProblemsNamed = 10;

std::string type_of(const json* v) {
  return v == nullptr ? "missing" : std::string(v->type_name());
}

// A string member, "" when absent or null; false when it is of another type.
bool optional_text(const json& obj, const char* key, std::string* out) {
  const json* v = find(obj, key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) return false;
  *out = v->get<std::string>();
  return true;
}

// The address of a webhook's contact: contact.fields.core.email.value (webhooks have no
// fields.all; an empty group is written []). "" when it has none, or one of another type: the
// engine reads the contact again, so the address here only helps a log.
std::string email_of(const json& contact) {
  const json* v = &contact;
  for (const char* key : {"fields", "core", "email", "value"}) {
    v = find(*v, key);
    if (v == nullptr) return {};
  }
  return v->is_string() ? v->get<std::string>() : std::string();
}

// Reads one item of `event`'s list into *c; else the reason it is malformed.
std::string read_item(MauticEvent event, const json& item, MauticChange* c) {
  if (!item.is_object()) return "the item is not an object but " + std::string(item.type_name());
  c->event = event;
  if (const json* t = find(item, "timestamp"); t != nullptr && !t->is_null()) {
    Result<Micros> at =
        t->is_string() ? parse_iso8601(t->get<std::string>()) : Result<Micros>(Status::invalid(""));
    if (!at) {
      return "timestamp " + t->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40) +
             " is not a time";
    }
    c->timestamp = *at;
  }
  const json* contact = find(item, "contact");
  if (event == MauticEvent::kDeleted) {
    // The deleted contact's own id is gone (contact.id is null): the item's id names it.
    const std::optional<std::int64_t> id = mautic::integer_of(find(item, "id"));
    if (!id || *id < 1) return "id (the deleted contact's) is " + type_of(find(item, "id"));
    c->contact_id = *id;
  } else {
    if (contact == nullptr || !contact->is_object()) {
      return "contact is not an object but " + type_of(contact);
    }
    const std::optional<std::int64_t> id = mautic::integer_of(find(*contact, "id"));
    if (!id || *id < 1) return "contact.id is not a positive integer";
    c->contact_id = *id;
  }
  if (contact != nullptr) c->email = email_of(*contact);
  if (event == MauticEvent::kSegmentChanged) {
    const json* segment = find(item, "segment");
    const std::optional<std::int64_t> id = segment != nullptr && segment->is_object()
                                               ? mautic::integer_of(find(*segment, "id"))
                                               : mautic::integer_of(segment);
    if (!id || *id < 1) return "segment has no id";
    c->segment_id = *id;
    if (segment->is_object() && !optional_text(*segment, "alias", &c->segment_alias)) {
      return "segment.alias is not a string";
    }
    std::string action;
    if (!optional_text(item, "action", &action) || (action != "added" && action != "removed")) {
      return "action is neither \"added\" nor \"removed\"";
    }
    c->added = action == "added";
  }
  if (event == MauticEvent::kDncChanged) {
    if (!optional_text(item, "channel", &c->channel) || c->channel.empty()) {
      return "channel is not a channel's name";
    }
    if (!optional_text(item, "old_status", &c->old_status)) return "old_status is not a string";
    if (!optional_text(item, "new_status", &c->new_status) || c->new_status.empty()) {
      return "new_status is not a status";
    }
  }
  return {};
}

Status refused(std::string why) {
  return Status::invalid("Mautic webhook delivery: " + std::move(why)).with_origin(Origin::kMautic);
}

}  // namespace

Result<MauticDelivery> parse_mautic_delivery(std::string_view raw_body) {
  if (raw_body.size() > kMauticDeliveryMaxBytes) {
    return refused("the body is " + std::to_string(raw_body.size()) + " bytes, over the " +
                   std::to_string(kMauticDeliveryMaxBytes) + " accepted");
  }
  bool too_deep = false;
  const json body = sides::parse_answer(raw_body, &too_deep);
  if (body.is_discarded()) {
    return refused(too_deep ? "the body is nested too deep" : "the body is not JSON");
  }
  if (!body.is_object()) return refused("the body is not an object but " + type_of(&body));
  MauticDelivery d;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(kMauticEvents.begin(), kMauticEvents.end(), it.key()) == kMauticEvents.end()) {
      d.ignored.push_back(it.key().substr(0, 100));
    }
  }
  std::vector<MauticChange> items;
  std::vector<std::string> problems;
  for (std::size_t e = 0; e < kMauticEventCount; ++e) {
    const std::string name(kMauticEvents[e]);
    const json* list = find(body, name.c_str());
    if (list == nullptr) continue;
    // A PHP list; one whose keys are not 0..n-1 is written as an object.
    if (!list->is_array() && !list->is_object()) {
      problems.push_back(name + " is not a list but " + type_of(list));
      continue;
    }
    std::size_t position = 0;
    for (const json& item : *list) {
      if (items.size() + problems.size() >= kMauticDeliveryMaxItems) {
        return refused("more than " + std::to_string(kMauticDeliveryMaxItems) + " items");
      }
      MauticChange c;
      if (std::string why = read_item(static_cast<MauticEvent>(e), item, &c); !why.empty()) {
        problems.push_back(name + "[" + std::to_string(position) + "]: " + why);
      } else {
        items.push_back(std::move(c));
      }
      ++position;
    }
  }
  if (!problems.empty()) {
    std::string named;
    for (std::size_t i = 0; i < problems.size() && i < kProblemsNamed; ++i)
      named += (i == 0 ? "" : "; ") + problems[i];
    if (problems.size() > kProblemsNamed) {
      named += "; and " + std::to_string(problems.size() - kProblemsNamed) + " more";
    }
    return refused(std::to_string(problems.size()) + " malformed item" +
                   (problems.size() == 1 ? "" : "s") + ": " + named);
  }
  // Items are in event order, then position: a stable sort by time keeps that for equal times.
  std::stable_sort(items.begin(), items.end(), [](const MauticChange& a, const MauticChange& b) {
    return a.timestamp < b.timestamp;
  });
  for (MauticChange& c : items) {
    if (std::find(d.changes.begin(), d.changes.end(), c) != d.changes.end()) {
      ++d.duplicates;
    } else {
      d.changes.push_back(std::move(c));
    }
  }
  return d;
}

std::string mautic_signature(std::string_view secret, std::string_view raw_body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(raw_body.data()), raw_body.size(), mac, &len);
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac, static_cast<int>(len));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

bool mautic_signature_ok(std::string_view secret, std::string_view raw_body,
                         std::string_view header_value) {
  if (secret.empty()) return false;
  while (!header_value.empty() && (header_value.front() == ' ' || header_value.front() == '\t')) {
    header_value.remove_prefix(1);
  }
  while (!header_value.empty() && (header_value.back() == ' ' || header_value.back() == '\t')) {
    header_value.remove_suffix(1);
  }
  const std::string expected = mautic_signature(secret, raw_body);
  return header_value.size() == expected.size() &&
         CRYPTO_memcmp(header_value.data(), expected.data(), expected.size()) == 0;
}

}  // namespace concord
