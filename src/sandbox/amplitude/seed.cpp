#include "sandbox/amplitude/seed.h"

#include <set>

#include "sandbox/amplitude/cohort_fields.h"

namespace concord::sandbox::amplitude {
namespace {

constexpr std::string_view kRoot = "amplitude";

// Checked reads of one object's keys: each sets `err` (naming the key under `path`) on the first
// problem and leaves the output alone then; later calls do nothing once `err` is set.
class Fields {
 public:
  Fields(const ojson& j, std::string path, std::string* err)
      : j_(j), path_(std::move(path)), err_(err) {}

  std::string at(std::string_view key) const { return path_ + "." + std::string(key); }
  bool has(std::string_view key) const { return j_.find(std::string(key)) != j_.end(); }
  const ojson* find(std::string_view key) const {
    auto it = j_.find(std::string(key));
    return it == j_.end() ? nullptr : &*it;
  }

  // Every key of the object is one of `known`.
  void only(std::initializer_list<std::string_view> known) {
    if (!err_->empty()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool ok = false;
      for (std::string_view k : known)
        ok = ok || k == it.key();
      if (!ok) {
        fail(it.key(), "unknown key");
        return;
      }
    }
  }
  void integer(std::string_view key, std::int64_t min, bool required, std::int64_t* out) {
    const ojson* v = find(key);
    if (!err_->empty()) return;
    if (v == nullptr) {
      if (required) fail(key, "required");
      return;
    }
    if (!v->is_number_integer() || v->get<std::int64_t>() < min) {
      fail(key, "expected an integer of at least " + std::to_string(min));
      return;
    }
    *out = v->get<std::int64_t>();
  }
  void string(std::string_view key, bool non_empty, bool required, std::string* out) {
    const ojson* v = find(key);
    if (!err_->empty()) return;
    if (v == nullptr) {
      if (required) fail(key, "required");
      return;
    }
    if (!v->is_string() || (non_empty && v->get_ref<const std::string&>().empty())) {
      fail(key, non_empty ? "expected a non-empty string" : "expected a string");
      return;
    }
    *out = v->get<std::string>();
  }
  // The array under `key` (empty when absent); nullptr (and err) when it is not an array.
  const ojson* array(std::string_view key) {
    static const ojson kEmpty = ojson::array();
    const ojson* v = find(key);
    if (!err_->empty()) return nullptr;
    if (v == nullptr) return &kEmpty;
    if (!v->is_array()) {
      fail(key, "expected an array");
      return nullptr;
    }
    return v;
  }
  void fail(std::string_view key, const std::string& why) {
    if (err_->empty()) *err_ = at(key) + ": " + why;
  }

 private:
  const ojson& j_;
  std::string path_;
  std::string* err_;
};

std::string item_path(std::string_view list, std::size_t i) {
  return std::string(kRoot) + "." + std::string(list) + "[" + std::to_string(i) + "]";
}

std::string read_users(const ojson& list, Project* p) {
  std::set<std::string> user_ids;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = item_path("users", i);
    if (!list[i].is_object()) return path + ": expected an object";
    std::string err;
    Fields f(list[i], path, &err);
    f.only({"amplitude_id", "user_id", "user_properties"});
    User u;
    f.integer("amplitude_id", 1, true, &u.amplitude_id);
    if (!err.empty()) return err;
    if (p->users.count(u.amplitude_id) != 0) {
      return path + ".amplitude_id: " + std::to_string(u.amplitude_id) +
             " is the amplitude_id of another user";
    }
    if (const ojson* v = f.find("user_id"); v != nullptr && !v->is_null()) {
      if (!v->is_string()) return path + ".user_id: expected a string or null";
      // "" is how the file shows an anonymous user: the same as none.
      if (!v->get_ref<const std::string&>().empty()) {
        if (!user_ids.insert(v->get<std::string>()).second) {
          return path + ".user_id: \"" + v->get<std::string>() +
                 "\" is the user_id of another user";
        }
        u.user_id = v->get<std::string>();
      }
    }
    if (const ojson* v = f.find("user_properties"); v != nullptr) {
      if (!v->is_object()) return path + ".user_properties: expected an object";
      u.properties = *v;
    }
    p->users.emplace(u.amplitude_id, std::move(u));
  }
  return "";
}

std::string read_exports(const ojson& list, Project* p) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = item_path("exports", i);
    if (!list[i].is_object()) return path + ": expected an object";
    std::string err;
    Fields f(list[i], path, &err);
    f.only({"request_id", "cohort_id", "requested_at", "in_progress_answers", "state", "download",
            "rows", "csv"});
    Export e;
    std::string state = std::string(kExportStateNames[0]);
    f.string("request_id", true, true, &e.request_id);
    f.string("cohort_id", true, true, &e.cohort_id);
    f.integer("requested_at", 0, true, &e.requested_at);
    f.integer("in_progress_answers", 0, false, &e.in_progress_answers);
    f.string("state", true, false, &state);
    f.integer("rows", 0, false, &e.rows);
    f.string("csv", false, true, &e.csv);
    if (!err.empty()) return err;
    if (p->find_export(e.request_id) != nullptr) {
      return path + ".request_id: \"" + e.request_id + "\" is the request_id of another export";
    }
    if (p->cohort(e.cohort_id) == nullptr) {
      return path + ".cohort_id: \"" + e.cohort_id + "\" is not a cohort's id";
    }
    bool known_state = false;
    for (std::size_t s = 0; s < std::size(kExportStateNames); ++s) {
      if (kExportStateNames[s] == state) {
        e.state = static_cast<ExportState>(s);
        known_state = true;
      }
    }
    if (!known_state) return path + ".state: expected \"in_progress\", \"completed\" or \"failed\"";
    if (const ojson* v = f.find("download"); v != nullptr && !v->is_null()) {
      auto d = v->is_string() ? parse_download(v->get<std::string>()) : std::nullopt;
      if (!d) return path + ".download: expected \"auto\", \"inline\", \"redirect\" or null";
      e.download = *d;
    }
    p->exports.push_back(std::move(e));
  }
  return "";
}

std::string read_links(const ojson& list, Project* p) {
  std::set<std::string> signatures;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = item_path("download_links", i);
    if (!list[i].is_object()) return path + ": expected an object";
    std::string err;
    Fields f(list[i], path, &err);
    f.only({"signature", "request_id", "issued_at", "expires_at"});
    Link l;
    f.string("signature", true, true, &l.signature);
    f.string("request_id", true, true, &l.request_id);
    f.integer("issued_at", 0, true, &l.issued_at);
    f.integer("expires_at", 0, true, &l.expires_at);
    if (!err.empty()) return err;
    if (!signatures.insert(l.signature).second) {
      return path + ".signature: the signature of another link";
    }
    if (p->find_export(l.request_id) == nullptr) {
      return path + ".request_id: \"" + l.request_id + "\" is not an export's request_id";
    }
    p->links.push_back(std::move(l));
  }
  return "";
}

std::string read_usage(const ojson& j, Project* p) {
  const std::string path = std::string(kRoot) + ".usage";
  if (!j.is_object()) return path + ": expected an object";
  std::string err;
  Fields f(j, path, &err);
  f.only({"month", "month_count", "recent"});
  f.string("month", false, false, &p->usage.month);
  f.integer("month_count", 0, false, &p->usage.month_count);
  const ojson* recent = f.array("recent");
  if (!err.empty()) return err;
  const std::string& m = p->usage.month;
  if (!m.empty() && (m.size() != 7 || m[4] != '-')) return path + ".month: expected \"YYYY-MM\"";
  for (std::size_t i = 0; i < recent->size(); ++i) {
    const ojson& t = (*recent)[i];
    if (!t.is_number_integer() || t.get<std::int64_t>() < 0) {
      return path + ".recent[" + std::to_string(i) + "]: expected epoch seconds";
    }
    p->usage.recent.push_back(t.get<std::int64_t>());
  }
  return "";
}

}  // namespace

Result<Project> read_project(std::optional<std::string_view> object, std::int64_t now) {
  Project p;
  if (!object) return p;
  const ojson j = ojson::parse(*object, nullptr, false);
  if (j.is_discarded()) return Status::invalid(std::string(kRoot) + ": not valid JSON");
  if (j.is_null()) return p;
  if (!j.is_object()) return Status::invalid(std::string(kRoot) + ": expected an object");
  std::string err;
  Fields f(j, std::string(kRoot), &err);
  f.only({"api_key", "secret_key", "app_id", "settings", "users", "cohorts", "exports",
          "download_links", "usage"});
  f.string("api_key", true, false, &p.api_key);
  f.string("secret_key", true, false, &p.secret_key);
  f.integer("app_id", 0, false, &p.app_id);
  const ojson* users = f.array("users");
  const ojson* cohorts = f.array("cohorts");
  const ojson* exports = f.array("exports");
  const ojson* links = f.array("download_links");
  if (!err.empty()) return Status::invalid(err);
  if (const ojson* s = f.find("settings")) {
    err = read_settings(*s, std::string(kRoot) + ".settings", &p.settings);
    if (!err.empty()) return Status::invalid(err);
  }
  // Users before cohorts (whose members name them), cohorts before exports, exports before links,
  // whatever their order in the object.
  if (err = read_users(*users, &p); !err.empty()) return Status::invalid(err);
  for (std::size_t i = 0; i < cohorts->size(); ++i) {
    Cohort c;
    err = read_cohort((*cohorts)[i], item_path("cohorts", i), p, now, false, nullptr, &c);
    if (!err.empty()) return Status::invalid(err);
    p.cohorts.push_back(std::move(c));
  }
  if (err = read_exports(*exports, &p); !err.empty()) return Status::invalid(err);
  if (err = read_links(*links, &p); !err.empty()) return Status::invalid(err);
  if (const ojson* u = f.find("usage")) {
    if (err = read_usage(*u, &p); !err.empty()) return Status::invalid(err);
  }
  return p;
}

void write_project(JsonOut& o, const Project& p) {
  o.begin_object();
  o.key("api_key");
  o.str(p.api_key);
  o.key("secret_key");
  o.str(p.secret_key);
  o.key("app_id");
  o.integer(p.app_id);
  o.key("settings");
  write_settings(o, p.settings);
  o.key("users");
  o.begin_array();
  for (const auto& [id, u] : p.users) {
    o.begin_object();
    o.key("amplitude_id");
    o.integer(id);
    o.key("user_id");
    if (u.user_id) {
      o.str(*u.user_id);
    } else {
      o.null();
    }
    o.key("user_properties");
    o.value(u.properties);
    o.end_object();
  }
  o.end_array();
  o.key("cohorts");
  o.begin_array();
  for (const Cohort& c : p.cohorts)
    write_cohort(o, c, true, true);
  o.end_array();
  o.key("exports");
  o.begin_array();
  for (const Export& e : p.exports) {
    o.begin_object();
    o.key("request_id");
    o.str(e.request_id);
    o.key("cohort_id");
    o.str(e.cohort_id);
    o.key("requested_at");
    o.integer(e.requested_at);
    o.key("in_progress_answers");
    o.integer(e.in_progress_answers);
    o.key("state");
    o.str(kExportStateNames[static_cast<std::size_t>(e.state)]);
    o.key("download");
    if (e.download) {
      o.str(download_name(*e.download));
    } else {
      o.null();
    }
    o.key("rows");
    o.integer(e.rows);
    o.key("csv");
    o.str(e.csv);
    o.end_object();
  }
  o.end_array();
  o.key("download_links");
  o.begin_array();
  for (const Link& l : p.links) {
    o.begin_object();
    o.key("signature");
    o.str(l.signature);
    o.key("request_id");
    o.str(l.request_id);
    o.key("issued_at");
    o.integer(l.issued_at);
    o.key("expires_at");
    o.integer(l.expires_at);
    o.end_object();
  }
  o.end_array();
  o.key("usage");
  o.begin_object();
  o.key("month");
  o.str(p.usage.month);
  o.key("month_count");
  o.integer(p.usage.month_count);
  o.key("recent");
  o.begin_array();
  for (std::int64_t t : p.usage.recent)
    o.integer(t);
  o.end_array();
  o.end_object();
  o.end_object();
}

}  // namespace concord::sandbox::amplitude
