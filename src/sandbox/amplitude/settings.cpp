#include "sandbox/amplitude/settings.h"

namespace concord::sandbox::amplitude {
namespace {

// The integer settings, their smallest value, in the order they are written.
struct IntSetting {
  std::string_view key;
  std::int64_t Settings::*field;
  std::int64_t min;
};
constexpr IntSetting kIntSettings[] = {
    {"inline_max_bytes", &Settings::inline_max_bytes, 0},
    {"in_progress_polls", &Settings::in_progress_polls, 0},
    {"export_seconds", &Settings::export_seconds, 0},
    {"link_seconds", &Settings::link_seconds, 1},
    {"file_days", &Settings::file_days, 1},
    {"max_concurrent", &Settings::max_concurrent, 0},
    {"max_parallel_exports", &Settings::max_parallel_exports, 0},
    {"exports_per_window", &Settings::exports_per_window, 0},
    {"window_seconds", &Settings::window_seconds, 1},
    {"monthly_exports", &Settings::monthly_exports, 0},
    {"max_cohort_size", &Settings::max_cohort_size, 0},
};

}  // namespace

std::string_view download_name(Download d) {
  return kDownloadNames[static_cast<std::size_t>(d)];
}

std::optional<Download> parse_download(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kDownloadNames); ++i) {
    if (kDownloadNames[i] == name) return static_cast<Download>(i);
  }
  return std::nullopt;
}

std::string read_settings(const ojson& j, std::string_view path, Settings* s) {
  const std::string at = path.empty() ? std::string() : std::string(path) + ".";
  if (!j.is_object()) return std::string(path) + ": expected an object";
  Settings next = *s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const ojson& v = it.value();
    bool known = false;
    for (const IntSetting& f : kIntSettings) {
      if (f.key != key) continue;
      known = true;
      if (!v.is_number_integer() || v.get<std::int64_t>() < f.min) {
        return at + key + ": expected an integer of at least " + std::to_string(f.min);
      }
      next.*f.field = v.get<std::int64_t>();
    }
    if (known) continue;
    if (key == "download") {
      auto d = v.is_string() ? parse_download(v.get<std::string>()) : std::nullopt;
      if (!d) return at + key + ": expected \"auto\", \"inline\" or \"redirect\"";
      next.download = *d;
    } else if (key == "csv_crlf") {
      if (!v.is_boolean()) return at + key + ": expected true or false";
      next.csv_crlf = v.get<bool>();
    } else if (key == "download_scheme") {
      if (!v.is_string() || (v != "http" && v != "https")) {
        return at + key + ": expected \"http\" or \"https\"";
      }
      next.download_scheme = v.get<std::string>();
    } else if (key == "download_host") {
      if (!v.is_string() || v.get<std::string>().find_first_of("/?#@ ") != std::string::npos) {
        return at + key + ": expected a host name (\"\" for the request's other loopback name)";
      }
      next.download_host = v.get<std::string>();
    } else {
      return at + key + ": unknown setting";
    }
  }
  *s = std::move(next);
  return "";
}

void write_settings(JsonOut& o, const Settings& s) {
  o.begin_object();
  o.key("download");
  o.str(download_name(s.download));
  for (const IntSetting& f : kIntSettings) {
    o.key(f.key);
    o.integer(s.*f.field);
  }
  o.key("csv_crlf");
  o.boolean(s.csv_crlf);
  o.key("download_scheme");
  o.str(s.download_scheme);
  o.key("download_host");
  o.str(s.download_host);
  o.end_object();
}

}  // namespace concord::sandbox::amplitude
