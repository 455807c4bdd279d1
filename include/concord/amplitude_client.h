// The Amplitude side: a one-way source reading the members of one behavioural cohort through the
// Behavioral Cohorts API.
//
// A cohort is resolved by id or exact name from GET /api/3/cohorts, and read whole as an export:
//   GET /api/5/cohorts/request/{cohort_id}?props=1&propKeys=<email>&propKeys=<field>…  → 202
//       {"request_id"}
//   GET /api/5/cohorts/request-status/{request_id}  → 202 "JOB INPROGRESS" … 200 "JOB COMPLETED"
//       (polled with a growing interval, for at most export_timeout; any other answer fails)
//   GET /api/5/cohorts/request/{request_id}/file  → 200 the CSV, or 302 to a pre-signed download
//       URL on another origin, fetched without credentials; an expired one (it lives a minute) is
//       asked for again through /file.
// The CSV (RFC 4180, a header row, CRLF or LF) is read by header name as it streams past, a page
// of people at a time: the person's id is the amplitude_id column (every row has one; user_id is
// blank for anonymous users), their address the email property's column ("" when blank), the
// fields their own columns.
//
// Authentication is HTTP Basic api_key:secret_key. Neither key appears in a Status message or a
// URL; the download URL is never sent the Authorization header.
//
// Quotas (60 export requests per 10 minutes, 4 parallel per minute, 500 a month, 5 requests at
// once): a read makes one export request and asks one thing at a time; a 429 is waited out with
// a growing delay, within rate_limit_attempts, then fails with kUnavailable quoting the answer.
//
// Thread-safety: an AmplitudeClient and its readers may be used from several threads, one read per
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

struct AmplitudeOptions {
  std::string api_key;     // the project's API key; secret
  std::string secret_key;  // the project's secret key; secret
  // "us" (https://amplitude.com) or "eu" (https://analytics.eu.amplitude.com).
  std::string region = "us";
  // Overrides the site root derived from the region (the API is under /api/3 and /api/5).
  std::string base_url;
  // ca_file, timeouts, 5xx retries (also for the download URL's origin). 429s are handled by the
  // client itself. max_body_bytes is raised to max_file_bytes for the file.
  http::ClientOptions http;
  // The user property holding the address (a column of the file).
  std::string email_property = "email";
  // The column that is the person's id: "amplitude_id" (default; present on every row) or
  // "user_id" (blank for anonymous users, whose rows are then rejected).
  std::string id_column = "amplitude_id";
  // Polling the export: the first wait, the longest wait (each is 1.5 times the previous one),
  // and the longest time from the request to a finished export.
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds max_poll_interval{15000};
  std::chrono::milliseconds export_timeout{std::chrono::minutes(30)};
  // 429 answers tolerated for one request, and the first of the doubling waits between them.
  int rate_limit_attempts = 4;
  std::chrono::milliseconds rate_base_delay{2000};
  // Fresh download URLs asked for after an expired one, at most.
  int download_attempts = 3;
  // The largest file accepted (inline or downloaded). Default 1 GiB.
  std::size_t max_file_bytes = std::size_t{1} << 30;
};

class AmplitudeClient {
 public:
  // kInvalid (without quoting the keys) for a missing key, an unknown region or id column, or a
  // bad base_url. `transport`, when given, replaces the API's HTTP client (tests); download URLs
  // on another origin get clients of their own, made from options.http.
  static Result<std::unique_ptr<AmplitudeClient>> create(
      AmplitudeOptions options, std::unique_ptr<http::Client> transport = nullptr);
  ~AmplitudeClient();

  // A reader of one cohort, named by its id or its exact name, reading these user properties
  // into SourcePerson::fields. The reader uses this client and must not outlive it. resolve()
  // fails with kNotFound listing the cohorts that exist, or kInvalid listing the ids of several
  // cohorts with the name.
  std::unique_ptr<SourceReader> reader(std::string cohort, std::vector<std::string> fields);

  // HTTP requests sent so far (the API and the download URLs).
  std::uint64_t requests() const;

 private:
  struct Impl;
  class Reader;
  explicit AmplitudeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord
