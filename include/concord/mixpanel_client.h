// The Mixpanel side: a one-way source reading the members of one cohort through the Query API
// (docs/architecture.md; the wire protocol as concord reads it is summarised below).
//
// A cohort is resolved by id or exact name from POST {base}/cohorts/list?project_id=…, and read
// whole from POST {base}/engage?project_id=… with filter_by_cohort={"id":N} and output_properties
// limited to $email and the mapped fields, page by page: the first answer's session_id, then
// page = 1, 2, … with the same filter, while a page holds page_size (the answer's) profiles.
// A person's id is their $distinct_id; their address is $properties.$email ("" when the profile
// has none: the snapshot stage reports them).
//
// Authentication is a service account (HTTP Basic username:secret, project_id on the query
// string). The secret is used only in the Authorization header; it never appears in a Status
// message or a URL.
//
// The Query API allows 60 queries an hour and 5 at once per project. A read is sequential (one
// query at a time). A 429 is waited out and retried within bounds (rate_limit_attempts,
// max_rate_wait); when the hourly budget is spent and the server does not say it frees up within
// max_rate_wait, the read fails at once with kUnavailable saying so (the next run tries again).
//
// Thread-safety: a MixpanelClient and its readers may be used from several threads, one read per
// reader at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "concord/http.h"
#include "concord/side.h"
#include "concord/status.h"

namespace concord {

struct MixpanelOptions {
  std::int64_t project_id = 0;  // REQUIRED: the project the service account reads
  std::string service_account;  // the service account's username
  std::string secret;           // the service account's secret; secret
  // Data residency: "us" (https://mixpanel.com), "eu" (https://eu.mixpanel.com) or "in"
  // (https://in.mixpanel.com).
  std::string region = "us";
  // Overrides the Query API base URL derived from the region ("https://mixpanel.com/api/query");
  // the legacy "…/api/2.0" prefix works too; a URL without a path gets "/api/query".
  std::string base_url;
  // Projects with data views: the workspace to read (workspace_id); empty for none.
  std::string workspace_id;
  // ca_file, timeouts, 5xx retries. 429s are handled by the client itself (below), so the
  // transport never retries them.
  http::ClientOptions http;
  // Whether cohort members without a profile are read too (include_all_users). They have no
  // properties, so no address: with true they are handed over with email "" (and reported).
  bool include_all_users = false;
  // 429 answers tolerated for one query before the read fails. Default 5.
  int rate_limit_attempts = 5;
  // The longest wait for one retry after a 429 (a Retry-After beyond it fails the read at once),
  // and the first of the exponential waits when the server names none. Defaults 60 s and 1 s.
  std::chrono::milliseconds max_rate_wait{60000};
  std::chrono::milliseconds rate_base_delay{1000};
};

class MixpanelClient {
 public:
  // kInvalid (without quoting the secret) for a missing project id, service account or secret,
  // an unknown region or a bad base_url. `transport`, when given, replaces the HTTP client (tests).
  static Result<std::unique_ptr<MixpanelClient>> create(
      MixpanelOptions options, std::unique_ptr<http::Client> transport = nullptr);
  ~MixpanelClient();

  // A reader of one cohort, named by its id (digits) or its exact name, reading these profile
  // properties (e.g. "$first_name", "plan") into SourcePerson::fields. The reader uses this client
  // and must not outlive it. resolve() fails with kNotFound listing the cohorts that exist, or
  // kInvalid listing the ids of several cohorts with the name.
  std::unique_ptr<SourceReader> reader(std::string cohort, std::vector<std::string> fields);

  // HTTP requests sent so far by every reader of this client.
  std::uint64_t requests() const;

 private:
  struct Impl;
  class Reader;
  explicit MixpanelClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord
