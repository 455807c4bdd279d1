#include "sandbox/mautic/settings.h"

namespace concord::sandbox::mautic {
namespace {

struct BoolKey {
  std::string_view name;
  bool Settings::*field;
};
constexpr BoolKey kBools[] = {
    {"api_enabled", &Settings::api_enabled},
    {"basic_auth_enabled", &Settings::basic_auth_enabled},
    {"dnc_updates_date_modified", &Settings::dnc_updates_date_modified},
};

struct IntKey {
  std::string_view name;
  int Settings::*field;
  int min;
};
constexpr IntKey kInts[] = {
    {"rate_limit_per_hour", &Settings::rate_limit_per_hour, 0},
    {"access_token_lifetime", &Settings::access_token_lifetime, 1},
    {"webhook_limit", &Settings::webhook_limit, 1},
    {"webhook_disable_limit", &Settings::webhook_disable_limit, 1},
};

struct TextKey {
  std::string_view name;
  std::string Settings::*field;
};
constexpr TextKey kTexts[] = {
    {"version", &Settings::version},
    {"site_url", &Settings::site_url},
};

}  // namespace

std::string read_settings(const ojson& j, Settings* out) {
  if (!j.is_object()) return "expected an object";
  Settings s = *out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const ojson& v = it.value();
    bool known = false;
    for (const BoolKey& b : kBools) {
      if (b.name != k) continue;
      known = true;
      if (!v.is_boolean()) return k + ": expected true or false";
      s.*b.field = v.get<bool>();
    }
    for (const IntKey& i : kInts) {
      if (i.name != k) continue;
      known = true;
      if (!v.is_number_integer() || v.get<std::int64_t>() < i.min ||
          v.get<std::int64_t>() > 1000000000) {
        return k + ": expected an integer from " + std::to_string(i.min);
      }
      s.*i.field = v.get<int>();
    }
    for (const TextKey& t : kTexts) {
      if (t.name != k) continue;
      known = true;
      if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
        return k + ": expected a non-empty string";
      }
      s.*t.field = v.get<std::string>();
    }
    if (k == "queue_mode") {
      known = true;
      std::optional<QueueMode> m =
          v.is_string() ? queue_mode_named(v.get<std::string>()) : std::nullopt;
      if (!m) return k + ": expected \"immediate_process\" or \"command_process\"";
      s.queue_mode = *m;
    }
    if (k == "events_orderby_dir") {
      known = true;
      if (v != "ASC" && v != "DESC") return k + ": expected \"ASC\" or \"DESC\"";
      s.events_orderby_dir = v.get<std::string>();
    }
    if (!known) return k + ": unknown field";
  }
  *out = std::move(s);
  return "";
}

ojson settings_json(const Settings& s) {
  ojson j = ojson::object();
  for (const BoolKey& b : kBools)
    j[std::string(b.name)] = s.*b.field;
  for (const IntKey& i : kInts)
    j[std::string(i.name)] = s.*i.field;
  for (const TextKey& t : kTexts)
    j[std::string(t.name)] = s.*t.field;
  j["queue_mode"] = queue_mode_name(s.queue_mode);
  j["events_orderby_dir"] = s.events_orderby_dir;
  return j;
}

}  // namespace concord::sandbox::mautic
