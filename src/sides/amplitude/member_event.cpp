#include "sides/amplitude/member_event.h"

#include <algorithm>
#include <cassert>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "concord/email.h"
#include "concord/time.h"
#include "sides/json_answer.h"

namespace concord::amplitude {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMinName = 2;
constexpr std::size_t kMaxName = 30;

// A properties text as an object; discarded when it is not one.
json read_object(const std::string& text) {
  json j = sides::parse_answer(text);
  return j.is_object() ? j : json(json::value_t::discarded);
}

// Cuts `s` to at most `max` characters without splitting one.
std::string cut(std::string s, std::size_t max) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max) {
      s.resize(i);
      break;
    }
  }
  return s;
}

// Mailchimp takes strings only. nullopt for null: a property without a value is not sent.
std::optional<std::string> text_of(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool wanted_key(const std::vector<std::string>& wanted, const std::string& key) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), key) != wanted.end();
}

}  // namespace

Result<std::string> member_event_name(std::string_view event_type) {
  std::string name;
  bool gap = false;  // other characters since the last kept one
  for (const char c : event_type) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool kept = letter || (c >= '0' && c <= '9') || c == '-';
    if (!kept) {
      gap = true;
      continue;
    }
    if (gap && !name.empty()) name += '_';
    gap = false;
    name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (name.size() > kMaxName) name.resize(kMaxName);
  // A cut can end on a separator; a leading '-' reads as a typo.
  while (!name.empty() && (name.back() == '_' || name.back() == '-'))
    name.pop_back();
  const std::size_t lead = name.find_first_not_of('-');
  name.erase(0, lead == std::string::npos ? name.size() : lead);
  if (name.size() < kMinName) {
    return Status::invalid("the event type gives a Mailchimp event name of " +
                           std::to_string(name.size()) +
                           " characters; Mailchimp needs 2 to 30 letters, digits, '_' or '-'");
  }
  return name;
}

Result<std::map<std::string, std::string>> member_event_properties(
    const IntakeEvent& event, const MemberEventOptions& options) {
  const json props = read_object(event.event_properties);
  if (props.is_discarded()) return Status::invalid("the event's event_properties is not an object");
  std::map<std::string, std::string> out;
  // nlohmann's objects iterate in key order, which makes the cut at max_properties stable.
  for (const auto& [key, value] : props.items()) {
    if (out.size() >= options.max_properties) break;
    if (key.empty() || !wanted_key(options.event_properties, key)) continue;
    if (std::optional<std::string> text = text_of(value)) {
      out.emplace(key, cut(std::move(*text), options.max_value_length));
    }
  }
  return out;
}

std::string occurred_at(std::int64_t time_ms) {
  assert(time_ms >= 0 && time_ms <= kMaxTimeMs);
  return format_iso8601(std::clamp<std::int64_t>(time_ms, 0, kMaxTimeMs) * 1000);
}

Result<std::string> event_email(const IntakeEvent& event, std::string_view email_property) {
  const json props = read_object(event.user_properties);
  if (props.is_discarded()) return Status::invalid("the event's user_properties is not an object");
  const std::string property(email_property);

  struct Candidate {
    const char* where;
    const json* value;
  };
  const json user_id = event.user_id;
  std::vector<Candidate> candidates = {{"user_id", &user_id}};
  auto add = [&](const char* where, const json& object) {
    if (!object.is_object()) return;
    const auto it = object.find(property);
    if (it != object.end()) candidates.push_back({where, &*it});
  };
  add("user_properties", props);
  for (const char* op : {"$set", "$setOnce"}) {
    const auto it = props.find(op);
    if (it != props.end()) add(op, *it);
  }

  std::optional<Status> refused;  // the first candidate that looked like an address but is not one
  for (const Candidate& c : candidates) {
    if (!c.value->is_string()) continue;
    const std::string& text = c.value->get_ref<const std::string&>();
    if (text.find('@') == std::string::npos) continue;  // an id, not an attempt at an address
    const std::string normalised = normalise_email(text);
    const EmailProblem problem = check_email(normalised);
    if (problem == EmailProblem::kOk) return normalised;
    if (!refused) {
      std::string where = c.where;
      if (where != "user_id") where += "." + property;
      refused =
          Status::invalid(where + " is not a valid address: " + std::string(describe(problem)));
    }
  }
  if (refused) return *refused;
  return Status::not_found("no email address: user_id is not one, and user_properties has no \"" +
                           property + "\"");
}

Result<std::map<std::string, IdentifyField>> identify_fields(
    const IntakeEvent& event, const std::vector<std::string>& wanted) {
  const json props = read_object(event.user_properties);
  if (props.is_discarded()) return Status::invalid("the event's user_properties is not an object");
  std::map<std::string, IdentifyField> out;
  auto take = [&](const json& object, bool only_if_unset) {
    if (!object.is_object()) return;
    for (const auto& [key, value] : object.items()) {
      if (key.empty() || !wanted_key(wanted, key)) continue;
      std::optional<std::string> text = text_of(value);
      if (!text) continue;
      // $set is taken after $setOnce and overwrites it: it is the stronger of the two.
      out[key] = IdentifyField{std::move(*text), only_if_unset};
    }
  };
  bool operations = false;
  for (const auto& [key, value] : props.items())
    operations |= is_user_property_operation(key);
  if (!operations) {
    take(props, false);
    return out;
  }
  if (const auto it = props.find("$setOnce"); it != props.end()) take(*it, true);
  if (const auto it = props.find("$set"); it != props.end()) take(*it, false);
  return out;
}

Result<MemberEvent> member_event(const IntakeEvent& event, const MemberEventOptions& options) {
  if (event.kind != EventKind::kTrack) {
    return Status::invalid("an identify sets a member's fields; it is not a member event");
  }
  Result<std::string> name = member_event_name(event.event_type);
  if (!name.is_ok()) return name.status();
  Result<std::map<std::string, std::string>> properties = member_event_properties(event, options);
  if (!properties.is_ok()) return properties.status();
  MemberEvent out;
  out.name = std::move(name).value();
  out.properties = std::move(properties).value();
  out.occurred_at = occurred_at(event.time_ms);
  out.is_syncing = options.is_syncing;
  return out;
}

std::string member_event_body(const MemberEvent& event) {
  nlohmann::ordered_json body{{"name", event.name},
                              {"properties", json::object()},
                              {"is_syncing", event.is_syncing},
                              {"occurred_at", event.occurred_at}};
  for (const auto& [key, value] : event.properties)
    body["properties"][key] = value;
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace concord::amplitude
