// From an accepted Amplitude event (intake.h) to what Mailchimp takes: a member event
// (POST /lists/{list_id}/members/{hash}/events, {"name","properties","is_syncing","occurred_at"})
// for an ordinary event, merge-field candidates for an identify, and the member's address for
// both (the reference's Amplitude §4.7 and Mailchimp §5.7, §16.5).
//
// Mailchimp's rules: a name of 2 to 30 characters (concord keeps to [a-z0-9_-], the conservative
// set); properties a map of strings; occurred_at ISO 8601. Mailchimp documents no bound on the
// number of properties or their length, so concord sets its own (MemberEventOptions).
//
// The functions read the event's JSON texts again; an event from intake always reads, and one
// that does not (a damaged queue record) gives kInvalid rather than a guess.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"
#include "sides/amplitude/intake.h"

namespace concord::amplitude {

struct MemberEventOptions {
  // The event_properties keys forwarded (exact, case-sensitive); empty forwards all of them.
  std::vector<std::string> event_properties;
  // At most this many properties, the first in key order; the rest are dropped.
  std::size_t max_properties = 100;
  // Longer values (only arrays and objects written as JSON can be: intake bounds strings at 1024)
  // are cut to this many characters, on a character boundary.
  std::size_t max_value_length = 1024;
  // Sent as is_syncing: true keeps the event from starting Mailchimp automations.
  bool is_syncing = false;
};

// Mailchimp's name for an event_type: ASCII letters lower-cased, digits and '-' kept, every run of
// other characters ('_', spaces, punctuation, non-ASCII) one '_' between kept characters, cut to
// 30 characters; "Order Completed" → "order_completed", "[Amplitude] Page Viewed" →
// "amplitude_page_viewed". kInvalid when fewer than 2 characters remain ("A", "!?", a name of emoji
// only).
Result<std::string> member_event_name(std::string_view event_type);

// The event's event_properties as Mailchimp's string map, filtered by options.event_properties
// and bounded by options: strings as they are, numbers as written in JSON (42, 42.5), booleans
// "true"/"false", arrays and objects as compact JSON; null values and empty keys are dropped.
// kInvalid when event_properties is not a JSON object.
Result<std::map<std::string, std::string>> member_event_properties(
    const IntakeEvent& event, const MemberEventOptions& options);

// occurred_at for a `time` in milliseconds: "2026-11-05T10:06:10+00:00" (seconds; Mailchimp's
// form). REQUIRES: 0 <= time_ms <= kMaxTimeMs (intake guarantees it); others are clamped into
// range.
std::string occurred_at(std::int64_t time_ms);

// The member's address (normalised: trimmed, lower-cased): user_id when it is an email address,
// else user_properties[email_property], else user_properties.$set[email_property], else
// user_properties.$setOnce[email_property]. kNotFound when none of them holds anything like an
// address (the daemon counts the event as anonymous); kInvalid naming the place and the problem
// (never the text) when the only candidates are not valid addresses, or user_properties does not
// read.
Result<std::string> event_email(const IntakeEvent& event,
                                std::string_view email_property = "email");

// One merge-field candidate of an identify.
struct IdentifyField {
  std::string value;           // as member_event_properties writes values
  bool only_if_unset = false;  // from $setOnce: fill the field only when it is empty
};

// The user properties an identify sets, name → value, filtered by `wanted` (exact names; empty
// keeps all): $set's and $setOnce's entries ($set wins a name both give), or the plain keys when
// user_properties holds no operation. Other operations ($add, $unset, …) set nothing here; null
// values are dropped. Works on any event's user_properties (Amplitude treats an ordinary event's
// plain user_properties as $set too). The daemon keeps the names that are existing merge tags.
// kInvalid when user_properties is not a JSON object.
Result<std::map<std::string, IdentifyField>> identify_fields(
    const IntakeEvent& event, const std::vector<std::string>& wanted);

// A member event ready to send.
struct MemberEvent {
  std::string name;
  std::map<std::string, std::string> properties;
  std::string occurred_at;
  bool is_syncing = false;
};

// The member event of an ordinary (kTrack) event. kInvalid for an identify or group identify (they
// are not member events), a name that member_event_name refuses, or unreadable properties.
Result<MemberEvent> member_event(const IntakeEvent& event, const MemberEventOptions& options);

// The JSON body of POST …/members/{hash}/events.
std::string member_event_body(const MemberEvent& event);

}  // namespace concord::amplitude
