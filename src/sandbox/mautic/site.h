// The Mautic part's data: one Mautic install as its REST API and its webhooks see it
// (docs/sandbox.md "The Mautic API"): the API user and OAuth2 clients, the settings that change
// how it answers, the contact fields, the contacts with their do-not-contact entries and tags, the
// segments with their members, the webhooks with their recent responses and their queue.
//
// Thread-safety: plain data; the part keeps a Site behind its mutex. The functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/time.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mautic {

// Who changes things in the sandbox: the API user, or a person in Mautic's pages (createdBy,
// modifiedBy of what they change).
inline constexpr std::int64_t kActingUserId = 1;
inline constexpr std::string_view kActingUserName = "Sandbox Admin";

// The credentials of a sandbox started without a "mautic" object in its seed.
inline constexpr std::string_view kDefaultUsername = "sandbox";
inline constexpr std::string_view kDefaultPassword = "sandbox-mautic-password";
inline constexpr std::string_view kDefaultClientId = "1_sandbox-mautic-client";
inline constexpr std::string_view kDefaultClientSecret = "sandbox-mautic-secret";

// Mautic's `queue_mode` (the reference's §5.4).
enum class QueueMode : std::uint8_t { kImmediate, kCommand };
// "immediate_process", "command_process".
std::string_view queue_mode_name(QueueMode m);
std::optional<QueueMode> queue_mode_named(std::string_view name);

// Configuration → API and Webhook settings, and the sandbox's own switches.
struct Settings {
  bool api_enabled = true;  // Mautic's default is off; the sandbox's on (a test turns it off)
  bool basic_auth_enabled = true;                       // likewise
  std::string version = "5.1.1";                        // the Mautic-Version header
  std::string site_url = "https://mautic.example.com";  // X-Origin-Base-URL of deliveries
  int rate_limit_per_hour = 0;                          // api_rate_limiter_limit; 0: off
  int access_token_lifetime = 3600;                     // seconds
  QueueMode queue_mode = QueueMode::kImmediate;
  std::string events_orderby_dir = "ASC";  // the queue's order when a webhook does not say
  int webhook_limit = 10;                  // queue rows per queued delivery
  int webhook_disable_limit = 100;         // responses looked at before unpublishing a webhook
  // Whether a save whose only change is do-not-contact moves dateModified: false since Mautic's
  // PR #13994 (after 5.1.1), true before it.
  bool dnc_updates_date_modified = false;
};

struct OauthClient {
  std::string client_id;
  std::string client_secret;
};

struct Token {
  std::string access_token;
  std::string client_id;
  Micros expires = kNoTime;
};

// A contact field. Ids are strings in the API, as Mautic writes them.
struct Field {
  std::string id;
  std::string alias;
  std::string label;
  std::string type;
  std::string group;  // core, social, personal, professional
  bool is_fixed = false;
};
// Mautic's field groups, in the order the API writes them.
inline constexpr std::string_view kFieldGroups[] = {"core", "social", "personal", "professional"};
// The fields of a fresh install.
std::vector<Field> default_fields();

// The reasons of a do-not-contact entry (0 is "contactable": no entry).
inline constexpr int kReasonUnsubscribed = 1;
inline constexpr int kReasonBounced = 2;
inline constexpr int kReasonManual = 3;

struct DoNotContact {
  std::int64_t id = 0;
  Micros date_added = kNoTime;
  int reason = kReasonManual;
  std::string comments;
  std::string channel = "email";
  ojson channel_id;  // null, or the id of what caused it (an email's id)
};

// What every Mautic entity has (FormEntity's publish details): its publish flag, when it was
// added and last modified, and by whom (null, or a user's id and name).
struct PublishDetails {
  std::int64_t id = 0;
  bool is_published = true;
  Micros date_added = kNoTime;
  Micros date_modified = kNoTime;
  ojson created_by;
  ojson created_by_user;
  ojson modified_by;
  ojson modified_by_user;

  // Made by the acting user at `now` (dateModified too, as Mautic sets it on creation).
  void created_at(Micros now);
  // Saved with changes by the acting user at `now`.
  void modified_at(Micros now);
};

struct Contact : PublishDetails {
  Micros date_identified = kNoTime;  // kNoTime: an anonymous visitor
  Micros last_active = kNoTime;
  ojson owner;  // null, or {"id","username","firstName","lastName"}
  std::int64_t points = 0;
  ojson color;                          // null or "ab5959"
  std::vector<std::string> tags;        // in the order they were added
  std::vector<DoNotContact> dnc;        // at most one per channel
  std::map<std::string, ojson> values;  // field alias -> value (absent: null); not "points"
};

struct Membership {
  Micros date_added = kNoTime;
  bool manually_added = true;
};

struct Segment : PublishDetails {
  std::string name;
  std::string alias;
  ojson description;  // null or text
  ojson filters = ojson::array();
  bool is_global = true;
  bool is_preference_center = false;
  ojson public_name;
  std::map<std::int64_t, Membership> members;  // by contact id
};

struct Hook : PublishDetails {
  std::string name;
  ojson description;  // null or text
  std::string webhook_url;
  std::string secret;
  std::string events_orderby_dir;  // "" (the setting's), "ASC" or "DESC"
  std::vector<std::string> triggers;
  // The statuses of its latest deliveries, oldest first (0: no answer), at most
  // Settings::webhook_disable_limit: Mautic's webhook log, which decides auto-disabling.
  std::vector<int> responses;
};

// A row of Mautic's webhook_queue (queued mode): one event for one webhook.
struct QueueRow {
  std::int64_t id = 0;
  std::int64_t hook_id = 0;
  std::string event;  // its key, e.g. "mautic.lead_post_save_update"
  Micros date_added = kNoTime;
  ojson payload;  // the event's item, without its timestamp
};

// The next id of each table (auto-increment: ids are not reused after a delete).
struct NextIds {
  std::int64_t contacts = 1;
  std::int64_t segments = 1;
  std::int64_t hooks = 1;
  std::int64_t dnc = 1;
  std::int64_t queue = 1;
  std::int64_t tags = 1;
};

struct Site {
  std::string username = std::string(kDefaultUsername);
  std::string password = std::string(kDefaultPassword);
  std::vector<OauthClient> oauth_clients;
  std::vector<Token> tokens;
  Settings settings;
  std::vector<Field> fields = default_fields();
  std::map<std::int64_t, Contact> contacts;
  std::map<std::int64_t, Segment> segments;
  std::map<std::int64_t, Hook> hooks;
  std::vector<QueueRow> queue;  // by id
  std::map<std::string, std::int64_t> tag_ids;
  NextIds next;

  // The field of that alias, or null.
  const Field* field(std::string_view alias) const;
  // The segment of that alias, or null.
  const Segment* segment_by_alias(std::string_view alias) const;
  // The id of a tag, given one when new.
  std::int64_t tag_id(const std::string& tag);
};

// The install of an empty seed: the default credentials and OAuth2 client, no data.
Site default_site();

// A contact's value of a field (null when unset); "points" is the contact's points.
ojson field_value(const Contact& c, std::string_view alias);
// `n` random bytes as lower-case hex (tokens, webhook secrets).
std::string random_hex(std::size_t n);

// Whether the contact is identified, as Mautic decides it: a name, a company or an email.
bool identifiable(const Contact& c);

}  // namespace concord::sandbox::mautic
