// The Mautic client's connection: one site's HTTP client, its credentials (Basic, or an OAuth2
// token cached and renewed), 429s waited out, and every answer that is not a success turned into
// a Status that says what Mautic said without quoting a secret. Internal to src/sides/mautic/.
//
// Thread-safety: a Session may be used from several threads at once (the token is behind a mutex;
// the transport is thread-safe).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/mautic_client.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord::mautic {

// A 2xx answer, parsed.
struct Answer {
  int status = 0;
  nlohmann::json body;           // never discarded
  Micros server_time = kNoTime;  // its Date header; kNoTime without one
};

class Session {
 public:
  // REQUIRES: options checked by MauticClient::create; `base_path` is the site's path ("" or
  // "/…" without a trailing '/').
  Session(MauticOptions options, std::string base_path, std::unique_ptr<http::Client> http);

  // One API call: `method` {base}/api/`target` (a path below /api/ with its query), with a JSON
  // body when `json_body` is not empty. A 401 fetches a new token once (OAuth2) and sends again;
  // 429s are waited out. Returns the 2xx answer (kUnavailable when it is not JSON), else the
  // error of api_error(). `idempotent` = false for a request that creates something: the
  // transport does not send it again once it may have arrived. `body_secret`: a secret the body
  // carries (a webhook's), scrubbed from the error too.
  Result<Answer> call(std::string_view method, const std::string& target,
                      const std::string& json_body = "", bool idempotent = true,
                      const std::string& body_secret = "");

  // Every item of a standard entity list (GET {path}?start=…&limit=…, ordered by id): the items of
  // `key` (a list, or an object keyed by id) of each page, until `total` (an integer or digits)
  // is reached or a page comes back short. kUnavailable naming the page when an answer has no
  // such list.
  Result<std::vector<nlohmann::json>> list_all(std::string_view path, const char* key);

  // The cached token, or a new one (OAuth2); nothing to do for Basic.
  Status ensure_token();

  const MauticOptions& options() const { return options_; }
  const Clock& clock() const { return *clock_; }
  std::uint64_t requests() const { return http_->attempts(); }
  std::uint64_t tokens() const { return tokens_.load(); }
  std::uint64_t rate_limited() const { return rate_limited_.load(); }

  // `text` with the password, the client secret, any token this session has used and `also`
  // replaced.
  std::string scrub(std::string text, const std::string& also = "") const;

 private:
  // Sends, waiting out 429s within the options' bounds; any other answer is returned.
  Result<http::Response> send(const http::Request& req, const std::string& what);
  // The Authorization header's value; `stale` (the token the API just refused) is dropped first.
  Result<std::string> authorization(const std::string* stale = nullptr);
  Result<std::string> fetch_token_locked();  // REQUIRES: mu_ held
  // The Status of an answer that is not a success.
  Status api_error(const http::Response& r, const std::string& what,
                   const std::string& body_secret) const;
  std::string who() const;

  MauticOptions options_;
  std::string base_path_;
  std::unique_ptr<http::Client> http_;
  const Clock* clock_;
  std::string basic_;  // "Basic …" in Basic mode; never logged

  // Guards the token fields. Recursive: a token request scrubs its own error messages.
  mutable std::recursive_mutex mu_;
  std::string token_;
  std::string last_token_;  // the previous token, still scrubbed from messages
  Micros token_until_ = kNoTime;
  std::atomic<std::uint64_t> tokens_{0};
  std::atomic<std::uint64_t> rate_limited_{0};
};

}  // namespace concord::mautic
