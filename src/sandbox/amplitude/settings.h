// The Amplitude part's settings: how exports are processed and downloaded, and the API's limits
// (docs/sandbox.md "The Amplitude cohort API"). They come from a seed's "settings" object and
// change through POST /_sandbox/amplitude/settings; both go through read_settings().
//
// Thread-safety: plain data and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sandbox/json_writer.h"

namespace concord::sandbox::amplitude {

// How GET /api/5/cohorts/request/{request_id}/file answers.
enum class Download : std::uint8_t {
  kAuto,      // inline up to inline_max_bytes, else a 302 (Amplitude: "small" and "large" cohorts)
  kInline,    // 200 with the CSV
  kRedirect,  // 302 to a pre-signed download URL
};
inline constexpr std::string_view kDownloadNames[] = {"auto", "inline", "redirect"};
std::string_view download_name(Download d);
// nullopt for a name that is not one of kDownloadNames.
std::optional<Download> parse_download(std::string_view name);

struct Settings {
  Download download = Download::kAuto;
  // kAuto: the largest file answered inline.
  std::int64_t inline_max_bytes = 1 << 20;
  // An export completes once it has answered this many status polls with JOB INPROGRESS ...
  std::int64_t in_progress_polls = 1;
  // ... and this many seconds (sandbox clock) have passed since it was requested.
  std::int64_t export_seconds = 0;
  // How long a download URL is valid (Amplitude: one minute).
  std::int64_t link_seconds = 60;
  // How long /file can be asked again for a fresh URL (Amplitude: seven days).
  std::int64_t file_days = 7;
  // Simultaneous API requests (Amplitude: 5 across cohort downloads and the Dashboard API); 0: no
  // limit.
  std::int64_t max_concurrent = 5;
  // Exports requested in the last minute and not yet completed (Amplitude: 4 parallel requests per
  // minute); 0: no limit.
  std::int64_t max_parallel_exports = 4;
  // Export requests per window (Amplitude: 60 per 10 minutes); 0: no limit.
  std::int64_t exports_per_window = 60;
  std::int64_t window_seconds = 600;
  // Export requests per calendar month, UTC (Amplitude: 500 on Growth and Enterprise); 0: no
  // limit.
  std::int64_t monthly_exports = 500;
  // The largest cohort that can be exported (Amplitude: 2 000 000 users).
  std::int64_t max_cohort_size = 2'000'000;
  // Lines of the file end in CRLF (RFC 4180) rather than LF.
  bool csv_crlf = false;
  // The download URL's scheme and host (with the port of the request's Host). An empty host is
  // the request's host under its other loopback name (127.0.0.1 <-> localhost), so that, as with
  // S3, the download is another origin than the API.
  std::string download_scheme = "https";
  std::string download_host;
};

// Reads the keys of `j` (a JSON object) over *s: absent keys keep their value. Returns "" or the
// problem naming the key (prefixed with `path`, e.g. "amplitude.settings.download: …"); *s is
// unchanged then.
std::string read_settings(const ojson& j, std::string_view path, Settings* s);

// Writes every setting into a JSON object, in the order above.
void write_settings(JsonOut& o, const Settings& s);

}  // namespace concord::sandbox::amplitude
