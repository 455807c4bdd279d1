// The Amplitude-shaped intake: what concord answers on POST /2/httpapi, /batch and /identify, so
// that Amplitude SDKs (or any sender) pointed at concord work unchanged. It reads one request and
// returns the HTTP reply and the events it accepted; it does no I/O and keeps no state. The daemon
// routes requests here, queues the accepted events durably and only then sends the reply (when it
// cannot queue them, it sends unavailable_reply() instead: nothing accepted, safe to retry).
//
// Requests (the reference's Amplitude §4.2, §4.5, §4.6):
//   /2/httpapi, /batch   a JSON body {"api_key","events":[…],"options":{"min_id_length"}}, read
//                        whatever its Content-Type says (the browser SDK's sendBeacon sends
//                        text/plain). Unknown top-level and event keys are accepted and ignored.
//   /identify            a form (application/x-www-form-urlencoded, or multipart/form-data) with
//                        `api_key` and `identification` (one JSON object or an array of them);
//                        fields missing from the body are looked for in the query string (GET).
//   Any of them may be gzip (`Content-Encoding: gzip`); limits are measured after gunzip, and
//   gunzip stops one byte past the route's limit, so a small gzip bomb costs no more memory than
//   an honest body of the limit's size. No parsed document is ever built: the body is read as a
//   stream of tokens, and only the fields below are kept, so memory stays near the body's size
//   however the JSON is nested.
//
// Replies (§4.3). JSON bodies always carry "code" equal to the HTTP status, because the SDKs read
// the code, not the status:
//   200 {"code":200,"events_ingested":N,"payload_size_bytes":B,"server_upload_time":ms}
//       B is the body's size after gunzip; ms is `now` in milliseconds.
//   400 {"code":400,"error":E} with E one of the reference's texts:
//       "Invalid request path"         not one of the three routes
//       "Missing request body"         an empty body (after gunzip)
//       "Invalid JSON request body"    not JSON, not an object, an unknown Content-Encoding or gzip
//                                      data that is corrupt or cut short
//       "Request missing required field" and "missing_field":"api_key" or "events"
//       "Invalid API key"              a key that is not the stream's. Neither key is ever echoed
//                                      (Amplitude appends the sent key; concord does not).
//       "Invalid event JSON"           `events` is not an array
//   400 per event, with all three maps, field → ascending indexes into `events`, each listing
//       every offending event (not only the first):
//       {"code":400,"error":E,"events_with_invalid_fields":{…},"events_with_missing_fields":{…},
//        "events_with_invalid_id_lengths":{…}}
//       E is "Invalid event JSON" when an element of `events` is not an object (listed under the
//       field "event"), else "Invalid field values on some events" when any field is invalid,
//       else "Request missing required field" (no "missing_field" key: the SDKs fail the whole
//       batch when it is set).
//   413 {"code":413,"error":"Payload too large"}: a body over the route's size, or more events
//       than max_events. The SDKs halve the batch and retry.
//   429 throttled_reply() (the daemon throttles; this module only builds the body).
//   /identify answers text/plain: 200 "success"; 400 "invalid_api_key" (missing or wrong key);
//       400 "missing_event" when `identification` is missing, is not a JSON object or array, is
//       empty, or any identification in it is invalid; 413 "Payload too large".
//
// The checks run in this order, the first that fails giving the reply: the path; the encoding and
// the size; an empty body; JSON (reading stops at max_events + 1 events: 413); api_key; events;
// each event. So a wrong key learns nothing about the events' validity.
//
// Validation of each event (§4.2), in the reference's words where it has them:
//   * user_id / device_id, each when present (null counts as absent): a string (a number is
//     refused explicitly: Amplitude has been seen to drop numeric user ids silently); not one of
//     the reference's invalid ids (anonymous, nil, none, null, n/a, na, undefined, unknown, "",
//     00000000-0000-0000-0000-000000000000, {}, lmy47d, 0, -1; compared ignoring ASCII case); at
//     most max_string_length characters. Each breach → events_with_invalid_fields[field].
//     An id shorter than min_id_length (options.min_id_length when the request sends an integer
//     from 1 to max_string_length, else IntakeOptions::min_id_length) is removed from the event;
//     an event left with no id → events_with_invalid_id_lengths[each short id], or, when it never
//     had one, events_with_missing_fields["user_id"] and ["device_id"].
//   * event_type: required (events_with_missing_fields); a non-empty string of at most
//     max_string_length characters that is not one of Amplitude's reserved types
//     ("[Amplitude] Start Session", "[Amplitude] End Session", "[Amplitude] Merged User",
//     "[Amplitude] Revenue…") (events_with_invalid_fields).
//   * time: absent or null → the upload time (`now`); else an integer number of milliseconds from
//     0 to kMaxTimeMs (year 9999). ISO strings, fractions (1.5, 1e3) and integers out of that
//     range (20-digit numbers included) are invalid.
//   * insert_id: a string of at most max_string_length characters ("" counts as absent).
//   * event_properties, user_properties: JSON objects; every key and string in them at most
//     max_string_length characters; nested at most max_property_depth deep (the object itself is
//     depth 1). For an identify ($identify events, /identify identifications) user_properties is
//     either operations ($set, $setOnce, $add, $append, $prepend, $unset, $preInsert,
//     $postInsert, $remove, $clearAll; each but $clearAll an object) or plain keys, never both.
//   * ip: "$remote" becomes the request's peer address; another string is kept; anything else is
//     ignored (concord does not use it).
//   Keys concord does not read are not validated: they are dropped with the rest of the event.
//
// Accepting: all or nothing. A request is accepted whole (200) or not at all: a 400 that names
// invalid indexes accepts none of the events, valid ones included. That is what makes an SDK's
// retry exact: it drops the named indexes, resends the rest, and those are accepted once, by the
// retry. Accepting the valid part of a 400 would have them accepted twice.
// Retries after a 200 that was lost on the way (a timeout, a reset) resend accepted events;
// Amplitude ignores the same insert_id on the same device within 7 days, and so must the daemon:
// dedup_key() gives the key to keep for 7 days. Events without an insert_id cannot be told apart
// and are accepted again (as Amplitude does).
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "concord/time.h"

namespace concord::amplitude {

// The largest `time` accepted: 9999-12-31T23:59:59.999Z, in milliseconds since the epoch.
inline constexpr std::int64_t kMaxTimeMs = 253402300799999;

struct IntakeOptions {
  // The key senders must send. Compared without a timing leak (but its length); never written into
  // a reply or a message. An empty key accepts no request.
  std::string api_key;
  // Events in one request (identifications in one /identify); one more → 413.
  std::size_t max_events = 2000;
  // Body sizes after gunzip; one byte more → 413 (gunzip stops there).
  std::size_t max_httpapi_bytes = 1 << 20;   // /2/httpapi: 1 MB
  std::size_t max_batch_bytes = 20 << 20;    // /batch: 20 MB
  std::size_t max_identify_bytes = 1 << 20;  // /identify's form
  // The shortest user_id/device_id kept, unless the request's options.min_id_length says otherwise.
  int min_id_length = 5;
  // The longest id, event_type, insert_id, property key or property string, in characters
  // (Unicode code points, not bytes).
  std::size_t max_string_length = 1024;
  // How deep event_properties and user_properties may nest (the object itself is depth 1).
  int max_property_depth = 40;
};

// What the daemon received.
struct IntakeRequest {
  std::string_view path;              // the target's path without the query: "/2/httpapi", …
  std::string_view query;             // the target's query without '?' ("" when none)
  std::string_view content_type;      // the Content-Type header ("" when absent)
  std::string_view content_encoding;  // the Content-Encoding header ("" when absent)
  std::string_view body;              // as received (gzip included)
  std::string_view peer_address;      // the client's IP, for "ip":"$remote"
  Micros now = 0;                     // when it arrived (the server's clock; after 1970)
};

enum class EventKind : std::uint8_t {
  kTrack = 0,      // an ordinary event: a Mailchimp member event candidate
  kIdentify,       // "$identify", or an /identify identification: user properties only
  kGroupIdentify,  // "$groupidentify": a group's properties, about no person
};

// An accepted event. Strings are valid UTF-8 (the JSON reader refuses anything else).
struct IntakeEvent {
  std::size_t index = 0;  // its position in the request's `events` (or identification array)
  EventKind kind = EventKind::kTrack;
  std::string user_id;       // "" when absent, or removed as shorter than min_id_length
  std::string device_id;     // likewise; at least one of the two is set
  std::string event_type;    // "$identify" for an /identify identification
  std::int64_t time_ms = 0;  // milliseconds since the epoch; the upload time when not sent
  std::string insert_id;     // "" when not sent
  std::string ip;            // "" when not sent; the peer's address for "$remote"
  // The properties as compact JSON text of an object ("{}" when not sent): JSON text rather than
  // a typed map because values are any JSON (numbers, arrays, nested objects), the daemon queues
  // the event as it came, and the mapping to Mailchimp (member_event.h) decides what to keep.
  std::string event_properties = "{}";
  std::string user_properties = "{}";
};

struct IntakeReply {
  int status = 200;          // the HTTP status; equal to "code" in JSON bodies
  std::string content_type;  // "application/json", or "text/plain; charset=utf-8" (/identify)
  std::string body;
  // Refused for its key alone ("Invalid API key", "invalid_api_key"): the daemon asks the next
  // stream, whose key it may be.
  bool wrong_key = false;
  // The accepted events, in request order. Empty unless status is 200.
  std::vector<IntakeEvent> events;
};

// Routes by path to one of the three below; another path → 400 "Invalid request path".
IntakeReply handle_intake(const IntakeRequest& request, const IntakeOptions& options);
// POST /2/httpapi (max_httpapi_bytes).
IntakeReply intake_httpapi(const IntakeRequest& request, const IntakeOptions& options);
// POST /batch: the same as /2/httpapi with max_batch_bytes.
IntakeReply intake_batch(const IntakeRequest& request, const IntakeOptions& options);
// POST (or GET) /identify. Each identification becomes a kIdentify event whose event_type is
// "$identify" and whose time is `now`.
IntakeReply intake_identify(const IntakeRequest& request, const IntakeOptions& options);

// The key under which the daemon remembers an accepted event for 7 days, to ignore it when it
// comes again (Amplitude: the same insert_id on the same device). "" when the event has no
// insert_id (it cannot be told apart from a new one). Events of one stream only: the daemon keeps
// one set per stream (Amplitude's "same app").
std::string dedup_key(const IntakeEvent& event);

// Whether a user_properties key is one of an identify's operations ("$set", "$setOnce", "$add",
// "$append", "$prepend", "$unset", "$preInsert", "$postInsert", "$remove", "$clearAll").
bool is_user_property_operation(std::string_view key);

// What the daemon's throttle found (§4.3's 429).
struct Throttled {
  int eps_threshold = 30;                             // events per second allowed per id
  std::map<std::string, std::int64_t> devices;        // device_id → its events per second
  std::map<std::string, std::int64_t> users;          // user_id → its events per second
  std::vector<std::size_t> events;                    // indexes of the throttled events
  std::map<std::string, std::int64_t> quota_devices;  // over the daily quota (sent when not empty)
  std::map<std::string, std::int64_t> quota_users;
};
// 429 {"code":429,"error":"Too many requests for some devices and users","eps_threshold":…,
// "throttled_devices":{…},"throttled_users":{…},"throttled_events":[…]}, plus
// "exceeded_daily_quota_devices"/"exceeded_daily_quota_users" when not empty. The SDKs retry the
// throttled indexes after 30 s and drop events of ids over the daily quota; nothing is accepted.
IntakeReply throttled_reply(const Throttled& throttled);

// 503 {"code":503,"error":"Service unavailable"}: nothing was accepted (the daemon could not queue
// the events); the sender may retry it all (§4.3: "503: not ingested, safe to retry").
IntakeReply unavailable_reply();

}  // namespace concord::amplitude
