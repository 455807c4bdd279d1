// The Mautic side: a one-way source reading the contacts of one segment through Mautic's REST API
// (so that the engine can mirror them into a Mailchimp audience), the webhooks Mautic sends when a
// contact changes, and the pure functions that check and read those deliveries.
//
// The API is at {base_url}/api/ (a site installed as …/index.php keeps it in base_url). Requests
// carry either HTTP Basic credentials (username, password: Basic must be enabled in Mautic's API
// settings) or an OAuth2 bearer token from the client-credentials grant (POST
// {base_url}/oauth/v2/token, form-encoded), cached until shortly before its expires_in runs out and
// fetched again once when the API answers 401. Secrets (the password, the client secret, the token,
// a webhook's secret) are sent only where they belong and never appear in a Status message.
//
// Contacts of a segment are GET /api/contacts?search=segment:<alias>, paged by key set on the
// contact id (where id > the last id read, orderBy=id ASC, start=0, limit=page_size): offset
// paging would skip contacts when others leave the segment while we page. The full serialisation
// is always asked for (never `minimal`, which drops doNotContact). Mautic answers `contacts` as
// an object keyed by id and `total` as a string (an empty result is {}; [] and an integer total
// are read too).
//
// What an incremental read cannot see: joining or leaving a segment does not move a contact's
// dateModified, nor, on Mautic 5.2 and later, does a change of Do-Not-Contact alone. The engine
// therefore compares MauticSegmentReader::member_ids() with the ids it holds, reads the newcomers
// (and the contacts webhooks name) with read_contacts(), and takes the ones no longer there out.
//
// Errors leaving the client carry Origin::kMautic. A 429 is waited out (X-RateLimit-Reset or
// Retry-After), within bounds; beyond them the call fails with kUnavailable.
//
// Thread-safety: a MauticClient may be used from several threads; each reader from one thread at
// a time. The delivery functions at the end are pure.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/side.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord {

struct MauticOptions {
  // REQUIRED: the site, e.g. "https://mautic.example.com" (or "https://host/mautic/index.php").
  std::string base_url;
  // Basic authentication: both set, and client_id/client_secret empty.
  std::string username;
  std::string password;  // secret
  // OAuth2 client credentials: both set, and username/password empty.
  std::string client_id;
  std::string client_secret;  // secret
  // ca_file, timeouts, max_body_bytes, retry.max_attempts/base_delay/max_delay. The retried
  // answers are replaced by 5xx only (and lost connections): Mautic's 403s are answers (the API or
  // Basic auth disabled), and 429s are waited out here, by their reset time.
  http::ClientOptions http;
  // Contacts asked for a page (Mautic has no maximum). 1..100000.
  int page_size = 500;
  // Ids asked for a page by member_ids() (an id-only answer is small). 1..100000.
  int id_page_size = 5000;
  // read_since() asks for contacts modified this long before the watermark it is handed, to catch
  // saves committed late. Default 5 minutes.
  Micros incremental_overlap = 300 * kMicrosPerSecond;
  // A token is fetched again this long before its expires_in runs out (at most a tenth of it).
  Micros token_margin = 60 * kMicrosPerSecond;
  // 429: wait until X-RateLimit-Reset (or Retry-After), at most this long a time and this many
  // times a request; a longer wait fails the call with kUnavailable (Mautic's limit is per hour:
  // the next run goes on).
  std::chrono::milliseconds max_rate_limit_wait{60000};
  int rate_limit_retries = 5;
  // Injected for tests: the clock (token expiry, the local watermark, rate-limit resets without a
  // Date) and the sleep (rate limits). Default: the system's.
  const Clock* clock = nullptr;
  std::function<void(std::chrono::milliseconds)> sleep;
};

// A Mautic webhook ("hook") as the API lists it. Its secret is not kept here: whoever created it
// knows it, and it is not something to pass around.
struct MauticHook {
  std::int64_t id = 0;
  std::string name;
  std::string url;                    // webhookUrl
  std::vector<std::string> triggers;  // event names ("mautic.lead_post_save_update", …)
  bool published = false;    // only a published hook is sent events; Mautic unpublishes a hook
                             // on a 410 answer, or after 100 failed deliveries in a row
  std::string events_order;  // eventsOrderbyDir: "ASC", "DESC" or "" (the global setting)
};

// What MauticSegmentReader::read_contacts() found.
struct MauticContactsRead {
  SideRead read;  // pages: requests made; watermark: kNoTime (targeted reads never move it)
  // The ids asked for that are not in the segment now (they left it, were deleted, or never
  // were), ascending. Those that are were handed to the sink (or rejected there).
  std::vector<std::int64_t> not_in_segment;
};

namespace mautic {
class Session;  // the connection and its credentials (src/sides/mautic/session.h)
}

// A reader of one segment's contacts: the SourceReader of side.h, and the two reads an incremental
// mirror of a segment needs besides (see the file comment).
class MauticSegmentReader final : public SourceReader {
 public:
  ~MauticSegmentReader() override;

  // The segment by id (digits), alias or name (in that order), from GET /api/segments (every page).
  // kNotFound listing the segments that exist; kInvalid when several have the name (give the id).
  Status resolve() override;
  // The segment's name. REQUIRES: resolve() succeeded.
  std::string set_name() const override;
  // Every contact of the segment. Each becomes a SourcePerson: id = the contact id, email =
  // fields.all.email, updated_at = dateModified, do_not_contact = an email-channel doNotContact
  // entry with a reason other than 0 (contactable), fields = each asked-for alias from fields.all.
  // A contact that cannot be read (no id, a field of the wrong type, no doNotContact list: its
  // consent would be unknown) is sink.reject()ed naming the contact and the field; a page that
  // cannot be read is kUnavailable naming it. The watermark is the server's time (Date) when the
  // read began, else the local time.
  Result<SideRead> read_all(SourceSink& sink) override;
  bool incremental() const override { return true; }
  // The segment's contacts whose date_modified is at or after `watermark` less
  // incremental_overlap (UTC), read as read_all() reads. The watermark is the server's time when
  // the read began (never before `watermark`), else the local time. Contacts that only joined the
  // segment, or whose Do-Not-Contact alone changed, are not among them: see member_ids().
  Result<SideRead> read_since(Micros watermark, SourceSink& sink) override;
  std::uint64_t requests() const override;

  // The segment as resolved: its id and alias. REQUIRES: resolve() succeeded.
  std::int64_t segment_id() const;
  const std::string& segment_alias() const;

  // The ids of every contact in the segment, ascending, each once, read cheaply (id_page_size at a
  // time, only the id asked for). Any id that cannot be read fails the call (kUnavailable): a
  // missing one would look like a contact that left.
  Result<std::vector<std::int64_t>> member_ids();

  // These contacts (each once; ids < 1 are skipped), a few hundred per request: those in the
  // segment go to the sink as read_all() hands them; the others are listed as not in the segment.
  // For contacts a webhook names and those that joined. On failure, what was handed stays handed.
  Result<MauticContactsRead> read_contacts(const std::vector<std::int64_t>& contact_ids,
                                           SourceSink& sink);

  // The two reads above as the engine asks for them (side.h): ids as text. An id that is not a
  // contact id (not a positive number) is absent.
  bool lists_ids() const override { return true; }
  Result<std::vector<std::string>> list_ids() override;
  Result<SideRead> read_ids(const std::vector<std::string>& ids, SourceSink& sink,
                            std::vector<std::string>* absent) override;

 private:
  friend class MauticClient;
  struct State;
  explicit MauticSegmentReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class MauticClient {
 public:
  // Checks the options: kInvalid naming the option (a missing base_url, neither or both
  // authentication modes, half of one, a page size out of range); a secret is never quoted.
  // `transport`, when given, replaces the HTTP client of the site (tests).
  static Result<std::unique_ptr<MauticClient>> create(
      MauticOptions options, std::unique_ptr<http::Client> transport = nullptr);
  ~MauticClient();

  // A reader of one segment (its id, alias or name), putting these contact fields (aliases of
  // fields.all, e.g. "firstname", "company") into SourcePerson::fields. The reader uses this
  // client and must not outlive it.
  std::unique_ptr<MauticSegmentReader> reader(std::string segment, std::vector<std::string> fields);

  // ---- webhooks (GET|POST|DELETE /api/hooks…) ----

  // Every hook the API user may see.
  Result<std::vector<MauticHook>> list_hooks();
  // Creates a published hook (POST /api/hooks/new) sending `triggers` (empty: kMauticHookTriggers)
  // to `url`, signed with `secret` (REQUIRES: not empty), oldest event first. The POST creates, so
  // it is never sent twice blindly: after a lost answer or a 5xx the hooks are listed and one with
  // this url and name is returned if the POST made it.
  Result<MauticHook> create_hook(const std::string& name, const std::string& url,
                                 const std::string& secret,
                                 const std::vector<std::string>& triggers = {});
  // One hook (GET /api/hooks/{id}): kNotFound when it is gone. Check `published`: Mautic
  // unpublishes a hook that keeps failing, and events that happen meanwhile are lost.
  Result<MauticHook> hook(std::int64_t id);
  // Deletes a hook (DELETE /api/hooks/{id}/delete); one already gone (404) is done.
  Status delete_hook(std::int64_t id);

  // Makes sure a token is cached (OAuth2; Basic: nothing to do). For tests; never log the token.
  Status ensure_token();
  // HTTP requests sent so far (retries and token requests included).
  std::uint64_t requests() const;
  // Tokens fetched so far, and 429 answers waited out so far.
  std::uint64_t tokens_fetched() const;
  std::uint64_t rate_limited() const;

 private:
  explicit MauticClient(std::unique_ptr<mautic::Session> session);
  std::unique_ptr<mautic::Session> session_;
};

// ---- webhook deliveries -------------------------------------------------------------------------

// The contact events concord acts on: each means a contact changed. (A company's events, and
// other bundles' (email opened, form submitted), name no change of a contact.) The value indexes
// kMauticEvents.
enum class MauticEvent : std::uint8_t {
  kIdentified = 0,  // mautic.lead_post_save_new: created with an identifying field, or identified
  kUpdated,         // mautic.lead_post_save_update: any other save that changed something
  kPointsChanged,   // mautic.lead_points_change
  kDncChanged,      // mautic.lead_channel_subscription_changed: a Do-Not-Contact entry came or went
  kSegmentChanged,  // mautic.lead_list_change: added to or removed from a segment
  kDeleted,         // mautic.lead_post_delete
};
inline constexpr std::size_t kMauticEventCount = 6;

// Mautic's name of each event, indexed by MauticEvent. A delivery's items are ordered by this
// table where their timestamps are equal (a delete last).
inline constexpr std::array<std::string_view, kMauticEventCount> kMauticEvents = {
    "mautic.lead_post_save_new", "mautic.lead_post_save_update",
    "mautic.lead_points_change", "mautic.lead_channel_subscription_changed",
    "mautic.lead_list_change",   "mautic.lead_post_delete",
};
constexpr std::string_view mautic_event_name(MauticEvent e) {
  return kMauticEvents[static_cast<std::size_t>(e)];
}
// The triggers concord registers: every event above (each one means a contact changed).
inline constexpr const std::array<std::string_view, kMauticEventCount>& kMauticHookTriggers =
    kMauticEvents;

// A delivery larger than this, or holding more items than this, is refused whole (Mautic sends at
// most 10 items a request: webhook_limit).
inline constexpr std::size_t kMauticDeliveryMaxBytes = 64 * 1024;
inline constexpr std::size_t kMauticDeliveryMaxItems = 100;

// One item of a delivery: which contact changed, and how.
struct MauticChange {
  MauticEvent event = MauticEvent::kUpdated;
  std::int64_t contact_id = 0;  // contact.id (a delete: the item's id); always > 0
  std::string email;            // contact.fields.core.email.value; "" when none
  Micros timestamp = kNoTime;   // the item's timestamp (UTC); kNoTime when it has none
  // kSegmentChanged: the segment (its id, and its alias when sent) and whether the contact was
  // added (true) or removed (false).
  std::int64_t segment_id = 0;
  std::string segment_alias;
  bool added = false;
  // kDncChanged: the channel ("email", "sms", …) and the statuses before and after ("contactable",
  // "unsubscribed", "bounced", "manual"; an added entry's old status is always "contactable").
  std::string channel;
  std::string old_status;
  std::string new_status;

  bool operator==(const MauticChange&) const = default;
};

struct MauticDelivery {
  // The items, ordered by timestamp, then by event (kMauticEvents' order), then by position in
  // their event's list; an item equal to an earlier one (a redelivery) is kept once.
  std::vector<MauticChange> changes;
  std::size_t duplicates = 0;  // items dropped as equal to an earlier one
  // Top-level keys that are not events concord acts on (a company event, another bundle's event,
  // the test payload's "timestamp"), sorted: left alone, not errors.
  std::vector<std::string> ignored;
};

// Reads a delivery's raw body. kInvalid, naming what is wrong, when the body is over
// kMauticDeliveryMaxBytes, is not a JSON object, holds more than kMauticDeliveryMaxItems items, or
// has a malformed item (not an object, no readable contact id, a timestamp that is not a time, a
// segment change without a segment or an action, a DNC change without its channel and statuses):
// the error names each such item ("mautic.lead_list_change[2]: action is …"), up to ten. Never
// throws. Empty groups written as [] and odd values elsewhere in a contact are read past.
Result<MauticDelivery> parse_mautic_delivery(std::string_view raw_body);

// Whether `header_value` (the Webhook-Signature header) is base64(HMAC-SHA256(secret, raw_body)),
// compared in constant time. Surrounding spaces are ignored; an empty secret matches nothing.
bool mautic_signature_ok(std::string_view secret, std::string_view raw_body,
                         std::string_view header_value);
// base64(HMAC-SHA256(secret, raw_body)): what Mautic sends (for tests and relays).
std::string mautic_signature(std::string_view secret, std::string_view raw_body);

}  // namespace concord
