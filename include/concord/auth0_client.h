// The Auth0 side: a Management API v2 client that reads the users of one connection (the
// SourceReader of side.h), so that the engine can mirror them into a Mailchimp audience.
//
// Authentication is the client-credentials grant (POST {base}/oauth/token, audience
// https://{domain}/api/v2/); the token is cached until shortly before its expires_in runs out,
// and fetched again once when the API answers 401 (expired or revoked). The client secret is sent
// only in the token request's body and the token only in the Authorization header of /api/v2
// requests: neither ever appears in a Status message (messages are also scrubbed of both).
//
// Users are read with the v3 user search (GET /api/v2/users?q=identities.connection:"NAME"),
// sorted by created_at (which no change moves), per_page at a time; Auth0 pages only through the
// first 1 000 results of a query, so a larger set is read through a users-export job instead
// (POST /api/v2/jobs/users-exports, polled, then a gzipped NDJSON file downloaded from another
// origin without the token).
//
// Thread-safety: an Auth0Client may be used from several threads; each reader from one at a time.
#pragma once

#include <chrono>
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

struct Auth0Options {
  // The tenant's host, e.g. "acme.eu.auth0.com": the audience is https://{domain}/api/v2/.
  // May be left empty when base_url is given (its host is used).
  std::string domain;
  std::string client_id;
  std::string client_secret;  // secret
  // Where the API and the token endpoint are. Default "https://{domain}".
  std::string base_url;
  // ca_file, timeouts, max_body_bytes, retry.max_attempts/base_delay/max_delay (5xx and lost
  // connections). retry.retry_response is replaced: 5xx only (a 403 of Auth0's is an answer, and
  // a 429 is waited for here, by its x-ratelimit-reset).
  http::ClientOptions http;
  // An incremental read asks for users updated this long before the watermark it is handed (the
  // search is eventually consistent). Default: 5 minutes.
  Micros incremental_overlap = 300 * kMicrosPerSecond;
  int per_page = 100;  // users a search page (1..100)
  // Results of one search that can be paged (Auth0's cap). A set whose total reaches it is read
  // through an export job.
  int search_cap = 1000;
  // A token is fetched again this long before its expires_in runs out (at most a tenth of it).
  Micros token_margin = 60 * kMicrosPerSecond;
  // 429: wait until x-ratelimit-reset (or Retry-After), at most this long a time and this many
  // times a request; a longer wait fails the read with kUnavailable (the next run tries again).
  std::chrono::milliseconds max_rate_limit_wait{60000};
  int rate_limit_retries = 8;
  // Export jobs: polled after export_poll_first, then each wait doubled up to export_poll_max,
  // until the job is done or export_timeout has passed (Auth0 fails jobs after 8 hours).
  std::chrono::milliseconds export_poll_first{1000};
  std::chrono::milliseconds export_poll_max{30000};
  std::chrono::milliseconds export_timeout{30 * 60 * 1000};
  // A download URL that has expired (403) before it was read: a new job is created this many times.
  int export_new_jobs = 2;
  std::size_t export_max_bytes = std::size_t{2} << 30;  // the gzipped file's largest size
  // Injected for tests: the clock (token expiry, the local watermark) and the sleep (rate limits,
  // polls). Default: the system's.
  const Clock* clock = nullptr;
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Makes the HTTP client of an origin: the API's, and each export file's (another origin).
using Auth0Transport = std::function<Result<std::unique_ptr<http::Client>>(
    const http::Url&, const http::ClientOptions&)>;

// How the last read of a reader went, for tests, logs and the engine.
struct Auth0ReadInfo {
  bool export_job = false;         // read through an export job (the set passed the search cap)
  bool full = false;               // every user of the connection was read (read_since included)
  std::uint64_t total = 0;         // the search's total, or the users in the export file
  std::uint64_t tokens = 0;        // tokens fetched during the read
  std::uint64_t rate_limited = 0;  // 429s waited for
};

class Auth0Client {
 public:
  // Checks the options (kInvalid naming the option; the secret is never quoted). `transport`
  // (tests) makes each origin's client; default http::Client::create.
  static Result<std::unique_ptr<Auth0Client>> create(Auth0Options options,
                                                     Auth0Transport transport = {});
  ~Auth0Client();

  // A reader over the users of `connection` (a connection name). `fields`: the user attributes to
  // put in SourcePerson::fields, top-level ("given_name") or dotted paths ("user_metadata.plan").
  // `verified_only` does not filter here: every user is emitted with its email_verified, and the
  // snapshot stage keeps an unverified one OUT (filtering on the server would hide a user whose
  // address changed, and so became unverified, from incremental reads). The reader uses this client
  // and must not outlive it.
  std::unique_ptr<SourceReader> reader(std::string connection, bool verified_only,
                                       std::vector<std::string> fields);

  // The client's current token, fetching one when none is cached or it is about to expire.
  // Exposed for tests; never log it.
  Status ensure_token();

  // HTTP requests sent so far (retries included; token requests and downloads too).
  std::uint64_t requests() const;
  // Tokens fetched so far.
  std::uint64_t tokens_fetched() const;
  // The last read (of any reader of this client).
  Auth0ReadInfo last_read() const;

 private:
  struct Impl;
  class Reader;
  explicit Auth0Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord
