// Users-export jobs (docs/sandbox.md "The Auth0 API", "Export jobs"):
//   * POST /api/v2/jobs/users-exports creates one (200, "pending");
//   * GET /api/v2/jobs/{id} polls it: "pending", "processing" and then "completed" at the pace the
//     settings give (each poll counts), with `location`, a signed URL on this same port valid for
//     download_ttl_seconds from completion (re-polling gives the same URL); a job created while
//     the fault fail_export_jobs was set ends "failed" instead; a job is 404 once its retention
//     is over;
//   * GET /user-exports/{job}/{file}?Expires=…&Key-Pair-Id=…&Signature=… serves the gzipped file
//     without a token, and 403 (an XML AccessDenied, as the CDN answers) once the URL has
//     expired or for a URL it did not hand out.
// The caller has checked the token (not for the download).
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <string_view>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/auth0/tenant.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

// The path under which export files are served.
inline constexpr std::string_view kExportPathPrefix = "/user-exports/";

// `fail`: the job is to end "failed". Sets *changed when a job was created.
http::Reply create_export(Tenant& tenant, const http::Request& request, Micros now, bool fail,
                          bool* changed);

// `origin`: "https://host:port", the start of the download URL. Sets *changed (a poll is counted).
http::Reply poll_job(Tenant& tenant, std::string_view id, std::string_view origin, Micros now,
                     bool* changed);

// `job_id` and `file` are the path's segments after kExportPathPrefix; `query` its query string.
http::Reply download_export(const Tenant& tenant, std::string_view job_id, std::string_view file,
                            std::string_view query, Micros now);

// Forgets the jobs past their retention and the files whose URL has expired. Returns whether it
// changed anything.
bool prune_jobs(Tenant& tenant, Micros now);

// The job as the API answers it; `location` only for a completed job ("" leaves it out).
void write_job(JsonOut& o, const ExportJob& job, std::string_view location, const Settings& s,
               Micros now);

// The download URL of a completed job.
std::string job_location(const Tenant& tenant, const ExportJob& job, std::string_view origin);

}  // namespace concord::sandbox::auth0
