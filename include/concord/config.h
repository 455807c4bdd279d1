// concord's configuration: a TOML file (docs/configuration.md).
//
// Secrets never appear in it: it names the environment variables that hold them. Unknown keys
// are errors naming the key and its line, so that a misspelt option is never silently ignored.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/decide.h"
#include "concord/field_rule.h"
#include "concord/status.h"

namespace concord {

struct MailchimpAccountConfig {
  std::string name;
  std::string api_key_env = "MAILCHIMP_API_KEY";
  std::string base_url;  // optional; default from the key's datacenter
  std::string ca_file;   // optional; default: the system store
  int max_connections = 8;
};

struct CiviCrmConfig {
  std::string name;
  std::string url;
  std::string api_key_env = "CIVICRM_API_KEY";
  std::string site_key_env;  // optional
  std::string timezone = "UTC";
  std::string ca_file;
  // Requests sent to the site at once (reads and writes of every pair on it): what its web
  // server can take beside its users.
  int max_connections = 4;
};

// An Auth0 tenant (`[auth0.NAME]`): its users are read through the Management API with a
// machine-to-machine application's client credentials.
struct Auth0Config {
  std::string name;
  std::string domain;  // the tenant host, e.g. acme.eu.auth0.com
  std::string client_id;
  std::string client_secret_env = "AUTH0_CLIENT_SECRET";
  std::string base_url;  // optional; default https://{domain}
  std::string ca_file;
};

// A Mixpanel project (`[mixpanel.NAME]`), read with a service account.
struct MixpanelConfig {
  std::string name;
  std::int64_t project_id = 0;
  std::string service_account;  // the service account's username
  std::string secret_env = "MIXPANEL_SECRET";
  std::string region = "us";  // us | eu | in: the data residency, which picks the host
  std::string base_url;       // optional; default from the region
  std::string ca_file;
};

// An Amplitude project (`[amplitude.NAME]`), read with its API and secret keys.
struct AmplitudeConfig {
  std::string name;
  std::string api_key_env = "AMPLITUDE_API_KEY";
  std::string secret_key_env = "AMPLITUDE_SECRET_KEY";
  std::string region = "us";  // us | eu
  std::string base_url;       // optional; default from the region
  std::string ca_file;
};

// A Mautic instance (`[mautic.NAME]`), read through its REST API with Basic credentials (a Mautic
// user's name and password) or an OAuth2 client's credentials: exactly one of the two.
struct MauticConfig {
  std::string name;
  std::string url;  // the site, e.g. https://mautic.example.com (the API is at {url}/api/)
  std::string username;
  std::string password_env = "MAUTIC_PASSWORD";
  std::string client_id;
  std::string client_secret_env = "MAUTIC_CLIENT_SECRET";
  std::string ca_file;
  bool oauth() const { return !client_id.empty(); }
};

// The system a pair's people come from: CiviCRM (two-way) or a one-way source.
enum class PeopleKind : std::uint8_t {
  kCivicrm = 0,
  kAuth0 = 1,
  kMixpanel = 2,
  kAmplitude = 3,
  kMautic = 4,
};
// "civicrm", "auth0", "mixpanel", "amplitude", "mautic": the key that names it in a [[sync]].
std::string_view people_kind_name(PeopleKind kind);

// TargetKind (decide.h): the audience's membership, a tag, or an interest.

// A cohort mirror runs on its schedule (dynamic) or once and then stays disabled (one-time).
enum class CohortMode : std::uint8_t { kDynamic = 0, kOneTime = 1 };

// One merge field ↔ CRM field.
struct FieldMapping {
  using Direction = FieldDirection;  // both | to_mailchimp | to_crm (field_rule.h)
  std::string tag;                   // Mailchimp merge tag, e.g. FNAME
  std::string crm_field;             // e.g. first_name
  Direction direction = Direction::kBoth;
};

struct SyncConfig {
  std::string name;
  std::string mailchimp;  // account name
  // The people side: its kind, and the name of its section ([civicrm.NAME], [auth0.NAME], …).
  PeopleKind people = PeopleKind::kCivicrm;
  std::string civicrm;         // connection name (people = kCivicrm)
  std::string source;          // [auth0|mixpanel|amplitude|mautic.NAME] (the one-way kinds)
  std::string audience;        // id or name
  std::string group;           // CiviCRM: id, name or title
  std::string connection;      // Auth0: the connection's name
  bool verified_only = false;  // Auth0: only users whose email is verified
  std::string cohort;          // Mixpanel, Amplitude: the cohort's id or name
  std::string segment;         // Mautic: the segment's id, alias or name
  CohortMode mode = CohortMode::kDynamic;
  // The Mailchimp target: the audience's membership, the tag `tag` (default for cohorts: the
  // cohort's name, filled in when it is resolved), or the interest `interest` written
  // "Category: Interest".
  TargetKind target = TargetKind::kAudience;
  std::string tag;
  std::string interest;
  // Whether the pair mirrors its people side into Mailchimp (every kind but CiviCRM).
  bool one_way() const { return people != PeopleKind::kCivicrm; }
  SyncOptions options;  // tie, skew_margin, resubscribe, double_opt_in, removal, …
  std::vector<FieldMapping> fields;
  // `concord serve`: "every 5m" … "every 1d" or a five-field cron expression (in [serve]
  // timezone); checked by Schedule::parse (schedule.h) when the file is read.
  std::string schedule = "every 1h";
  // Retention: the journal entries and report rows of a run are dropped (its record stays) once it
  // is neither among the last keep_runs runs nor ended within keep_days days (`concord prune`,
  // and after every run).
  std::int64_t keep_runs = 100;
  std::int64_t keep_days = 90;
};

// What a [[stream]] takes events from.
enum class StreamKind : std::uint8_t {
  kAmplitude = 0,  // an Amplitude HTTP V2-shaped intake (POST /2/httpapi, /batch, /identify)
};

// A stream (`[[stream]]`): events and users sent to `concord serve` are forwarded to an audience as
// they come (docs/configuration.md, "Streams").
struct StreamConfig {
  std::string name;
  StreamKind kind = StreamKind::kAmplitude;
  std::string api_key_env;          // the variable holding the key senders must send (required)
  std::string mailchimp;            // account name
  std::string audience;             // id or name
  bool send_events = true;          // ordinary events → member events
  bool send_users = true;           // identify calls → members upserted, merge fields set
  std::vector<std::string> events;  // event types forwarded (exact); empty: all
  std::vector<std::string> event_properties;  // event properties forwarded; empty: all
  std::vector<std::string> user_properties;   // user properties made merge fields; empty: all
  bool status_if_new_pending = false;         // status_if_new = "pending": double opt-in
  std::string email_property = "email";       // the user property holding the address
  // Events per second each user_id and each device_id may send, on average over 30 s; a request
  // beyond it is answered 429 (Amplitude's throttle: 30 for HTTP V2, 1 000 for its Batch API).
  double max_events_per_second = 1000;
};

// The daemon's listener (`[serve]`).
struct ServeConfig {
  std::string listen = "127.0.0.1:8080";  // address:port (IPv6 as [::1]:8080)
  // The variable holding the token the status page and API require. Without one, a listener on
  // loopback only needs none; any other gets a random token made at first start (printed once,
  // kept in state_dir/serve.token).
  std::string token_env;
  // Optional: a header carrying the hex HMAC-SHA256 of each webhook body under the secret in
  // signature_secret_env (for a relay or proxy that signs deliveries); when set, unsigned or
  // wrongly signed deliveries are refused.
  std::string signature_header;
  std::string signature_secret_env;
  std::string public_url;        // what `concord webhooks install` registers, when not given there
  std::string timezone = "UTC";  // the IANA zone cron schedules are read in
};

struct Config {
  std::filesystem::path path;       // the file it was read from
  std::filesystem::path state_dir;  // relative paths are relative to the file's directory
  std::map<std::string, MailchimpAccountConfig> mailchimp;
  std::map<std::string, CiviCrmConfig> civicrm;
  std::map<std::string, Auth0Config> auth0;
  std::map<std::string, MixpanelConfig> mixpanel;
  std::map<std::string, AmplitudeConfig> amplitude;
  std::map<std::string, MauticConfig> mautic;
  std::vector<SyncConfig> syncs;
  std::vector<StreamConfig> streams;
  ServeConfig serve;

  // The sync named `name`, or the only one when `name` is empty. kInvalid otherwise.
  Result<const SyncConfig*> sync(std::string_view name) const;
};

class Schedule;
// An interest target as written, "Category: Interest": the category's title and the interest's
// name, each without surrounding spaces (load_config checks the shape).
std::pair<std::string, std::string> split_interest(std::string_view written);

// A pair's schedule, read in the [serve] time zone.
Result<Schedule> schedule_of(const Config& config, const SyncConfig& sync);

// Reads and validates a configuration file. Errors name the file, the line and the key.
Result<Config> load_config(const std::filesystem::path& path);
// The same from text (`origin` names it in errors).
Result<Config> parse_config(std::string_view text, const std::filesystem::path& origin);

// The value of the environment variable `env` that holds a secret. The error names the variable,
// and what needs it, never a value.
Result<std::string> read_secret(std::string_view env, std::string_view what);

// "30s", "5m", "1h", "0" → microseconds. kInvalid otherwise.
Result<Micros> parse_duration(std::string_view text);

// A commented example configuration (what `concord init` writes).
std::string example_config();

}  // namespace concord
