// The Amplitude part's data: one project (app) with its keys, users, behavioral cohorts, the
// cohort exports asked for through the API, the download URLs issued for them, and the usage the
// limits count. What the API and the admin routes do to it is here, without HTTP; the routes
// (api.cpp, admin.cpp) only read requests and write answers.
//
// Times are epoch seconds by the sandbox clock, as the API shows them.
//
// Thread-safety: a Project is plain data; its owner serializes access (routing.h).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sandbox/amplitude/settings.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::amplitude {

inline constexpr std::string_view kDefaultApiKey = "sandbox-amplitude-api-key";
inline constexpr std::string_view kDefaultSecretKey = "sandbox-amplitude-secret-key";
inline constexpr std::int64_t kDefaultAppId = 123456;

// A refusal of the API, answered in its error shape (replies.h) with this HTTP status.
struct ApiError {
  int status = 400;
  std::string details;
};

struct User {
  std::int64_t amplitude_id = 0;
  std::optional<std::string> user_id;  // nullopt: an anonymous user (amplitude_id only)
  ojson properties = ojson::object();  // user properties by name ("email", "plan", …)
};

// A cohort as GET /api/3/cohorts lists it (cohort_fields.h), and its members.
struct Cohort {
  // Every listed field but `size` (the members' count), in the listing's order, then any other
  // field a seed gave, kept as given.
  ojson api = ojson::object();
  std::vector<std::int64_t> members;  // amplitude ids, in the order they joined

  // REQUIRES: api holds "id" (read_cohort() sees to it).
  const std::string& id() const { return api.at("id").get_ref<const std::string&>(); }
};

// Which columns an export's file has (beyond amplitude_id and user_id).
struct Columns {
  bool props = false;             // props=1
  std::vector<std::string> keys;  // propKeys, in order; empty with props: every property
};

enum class ExportState : std::uint8_t { kInProgress, kCompleted, kFailed };
inline constexpr std::string_view kExportStateNames[] = {"in_progress", "completed", "failed"};

struct Export {
  std::string request_id;
  std::string cohort_id;
  std::int64_t requested_at = 0;
  std::int64_t in_progress_answers = 0;  // status polls answered JOB INPROGRESS so far
  ExportState state = ExportState::kInProgress;
  std::optional<Download> download;  // this export's /file answer; nullopt: the setting's
  std::int64_t rows = 0;
  std::string csv;  // the file, as the cohort was when the export was requested
};

// A pre-signed download URL handed out by /file.
struct Link {
  std::string signature;  // X-Amz-Signature: identifies the URL
  std::string request_id;
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;  // valid while now < expires_at
};

// What the request limits count.
struct Usage {
  std::string month;  // "YYYY-MM" (UTC) of month_count; "" before the first request
  std::int64_t month_count = 0;
  std::deque<std::int64_t> recent;  // times of the export requests within the window
};

struct Project {
  std::string api_key = std::string(kDefaultApiKey);
  std::string secret_key = std::string(kDefaultSecretKey);
  std::int64_t app_id = kDefaultAppId;
  Settings settings;
  std::map<std::int64_t, User> users;  // by amplitude id
  std::vector<Cohort> cohorts;
  std::vector<Export> exports;  // in the order they were requested
  std::vector<Link> links;      // in the order they were issued
  Usage usage;

  Cohort* cohort(std::string_view id);
  const Cohort* cohort(std::string_view id) const;
  Export* find_export(std::string_view request_id);
  const Export* find_export(std::string_view request_id) const;
  const User* user_named(std::string_view user_id) const;

  // GET /api/5/cohorts/request/{cohort_id}: checks the limits, then records an export of the
  // cohort as it is now. Returns the new export, or the refusal (404 unknown cohort, 400 too
  // large, 429 a limit).
  std::variant<Export*, ApiError> request_export(std::string_view cohort_id, const Columns& columns,
                                                 std::int64_t now, std::mt19937_64& rng);
  // Whether an export has done its polls and its time (settings), or was completed by hand.
  bool ready(const Export& e, std::int64_t now) const;
  // GET /api/5/cohorts/request-status/{request_id}: counts the poll and moves the export to
  // kCompleted once ready. nullptr for an unknown (or expired) request.
  Export* poll(std::string_view request_id, std::int64_t now);
  // Whether /file still answers for this export (seven days by default).
  bool file_valid(const Export& e, std::int64_t now) const;
  // A new download URL for `e`, valid link_seconds from now.
  const Link& issue_link(const Export& e, std::int64_t now, std::mt19937_64& rng);
  // Every download URL expires now. Returns how many were still valid.
  std::int64_t expire_links(std::int64_t now);
  // Forgets exports past file_days and links that expired a day ago or more, so that a
  // long-running sandbox does not grow.
  void prune(std::int64_t now);

  // Admin: the members of `cohort` change (a recomputation): lastComputed and lastMod become
  // now.
  void set_members(Cohort* cohort, std::vector<std::int64_t> members, std::int64_t now);
};

// A random id of `n` characters from `alphabet`.
std::string random_id(std::mt19937_64& rng, std::size_t n, std::string_view alphabet);
inline constexpr std::string_view kRequestIdChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
inline constexpr std::string_view kCohortIdChars = "abcdefghijklmnopqrstuvwxyz0123456789";

// "YYYY-MM" of a time (UTC).
std::string month_of(std::int64_t seconds);

}  // namespace concord::sandbox::amplitude
