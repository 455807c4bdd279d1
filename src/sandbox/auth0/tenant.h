// The Auth0 part's data: one tenant (docs/sandbox.md "The Auth0 API"): its domain, the
// machine-to-machine clients that may ask for Management API tokens, the connections and users the
// API shows, the settings a test tunes (token lifetime, export job pace, rate limits, search lag),
// and what the API has handed out since (tokens, export jobs).
//
// Users and connections are kept as the JSON objects the API answers (the user object is open:
// any key a seed gives is shown), with their times normalised to Auth0's
// "YYYY-MM-DDTHH:MM:SS.mmmZ".
//
// Thread-safety: plain data; the part keeps it behind its mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "concord/time.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

// What a tenant without a seed has, so that a fresh sandbox can be used at once.
inline constexpr std::string_view kDefaultDomain = "sandbox.eu.auth0.com";
inline constexpr std::string_view kDefaultClientId = "sandbox-auth0-client-id";
inline constexpr std::string_view kDefaultClientSecret = "sandbox-auth0-client-secret";

// A machine-to-machine application.
struct Client {
  std::string client_id;
  std::string client_secret;
  // The Management API permissions its client grant gives.
  std::vector<std::string> scopes;
  // false: the application has no client grant on the Management API (a token request is 403).
  bool client_grant = true;
  // The grant types enabled on the application; without "client_credentials" a token request is
  // 403 unauthorized_client.
  std::vector<std::string> grant_types = {"client_credentials"};
};

// An access token handed out by POST /oauth/token.
struct Token {
  std::string access_token;
  std::string client_id;
  std::vector<std::string> scopes;
  Micros issued_at = 0;
  Micros expires_at = 0;  // valid while now < expires_at
};

// One bucket of the Management API's rate limits: `limit` requests at once, refilled at
// limit / window_seconds a second. It counts the requests whose method (empty: any) and path
// match: `path` exactly, or `path_prefix` as a prefix (neither: every path).
struct RateBucket {
  std::string method;
  std::string path;
  std::string path_prefix;
  std::int64_t limit = 0;
  std::int64_t window_seconds = 1;

  bool matches(std::string_view request_method, std::string_view request_path) const;
};

// The knobs of a tenant (seed "settings"; POST /_sandbox/auth0/settings).
struct Settings {
  std::int64_t token_lifetime_seconds = 86400;  // Auth0's default expires_in
  // A user created, changed or deleted is seen by GET /api/v2/users (the search index) only this
  // many seconds later (Auth0's search is eventually consistent); 0: at once.
  std::int64_t search_delay_seconds = 0;
  // An export job answers "pending" to its first pending_polls polls, then "processing" until it
  // has been polled processing_polls more times and processing_seconds have passed since it was
  // created (sandbox clock), then "completed".
  std::int64_t export_pending_polls = 1;
  std::int64_t export_processing_polls = 1;
  std::int64_t export_processing_seconds = 0;
  std::int64_t download_ttl_seconds = 60;      // the signed download URL's lifetime
  std::int64_t job_retention_seconds = 86400;  // a job is 404 this long after it was created
  std::vector<RateBucket> rate_limits;         // none: no limits (the default)
};

// One field of an export job: `name` is a path into the user ("email",
// "identities[0].connection", "user_metadata.plan"); the file's key is export_as, else name.
struct ExportField {
  std::string name;
  std::optional<std::string> export_as;
};

// A users-export job.
struct ExportJob {
  std::string id;             // job_ + 16 letters and digits
  std::string connection_id;  // "" when the whole tenant is exported
  std::string connection;     // the connection's name
  std::string format;         // "json" or "csv"
  std::optional<std::int64_t> limit;
  std::vector<ExportField> fields;
  Micros created_at = 0;
  std::int64_t polls = 0;
  bool fail = false;               // ends "failed" instead of "completed" (fault fail_export_jobs)
  std::string status = "pending";  // pending, processing, completed, failed
  // Once completed: the gzipped file, the signature its URL carries, and when the URL expires.
  Micros completed_at = kNoTime;
  std::string signature;
  std::string file;  // gzip bytes; dropped once the URL has expired
  Micros url_expires_at = kNoTime;
};

// A user whose change the search index has not seen yet: until changed_at + the search delay,
// GET /api/v2/users shows `previous` (nullopt: the user is not there) in its place.
struct LagEntry {
  std::string user_id;
  Micros changed_at = 0;
  std::optional<ojson> previous;
};

struct Tenant {
  std::string domain = std::string(kDefaultDomain);
  std::vector<Client> clients;
  std::vector<ojson> connections;
  std::vector<ojson> users;  // in creation order (the API's default order)
  std::unordered_map<std::string, std::size_t> user_index;  // user_id -> users[i]
  Settings settings;
  std::vector<Token> tokens;
  std::unordered_map<std::string, std::size_t> token_index;  // access_token -> tokens[i]
  std::vector<ExportJob> jobs;
  std::vector<LagEntry> lag;

  // The tenant of a sandbox without a seed: the default domain and client, nothing else.
  static Tenant empty();

  // Rebuilds user_index and token_index from the vectors.
  void reindex();

  const Client* client(std::string_view client_id) const;
  const ojson* connection_by_id(std::string_view id) const;
  const ojson* connection_by_name(std::string_view name) const;
  // The user, or null.
  ojson* user(std::string_view user_id);
  const ojson* user(std::string_view user_id) const;
  ExportJob* job(std::string_view id);

  // "https://{domain}/api/v2/": the audience of the Management API.
  std::string audience() const { return "https://" + domain + "/api/v2/"; }
  // The tenant's name: the domain's first label ("acme" for acme.eu.auth0.com).
  std::string tenant_name() const { return domain.substr(0, domain.find('.')); }
};

}  // namespace concord::sandbox::auth0
