#include "sandbox/auth0/seed.h"

#include <algorithm>
#include <initializer_list>
#include <unordered_map>

#include "net/ascii.h"
#include "sandbox/auth0/base64.h"
#include "sandbox/auth0/dates.h"

namespace concord::sandbox::auth0 {
namespace {

// The first problem of a document, by the path of its field.
class Problems {
 public:
  bool ok() const { return err_.empty(); }
  const std::string& message() const { return err_; }
  // Always false, so that a check can `return fail(…)`.
  bool fail(const std::string& path, const std::string& what) {
    if (err_.empty()) err_ = path + ": " + what;
    return false;
  }

 private:
  std::string err_;
};

std::string at(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string dot(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string json_text(std::string_view s) {
  return json_quoted(s);
}

// Refuses keys outside `known` (a typo in a seed is better told than ignored).
bool only_keys(const ojson& o, std::initializer_list<std::string_view> known,
               const std::string& path, Problems* p) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    bool ok = false;
    for (std::string_view k : known)
      ok = ok || it.key() == k;
    if (!ok) {
      std::string list;
      for (std::string_view k : known)
        list += (list.empty() ? "" : ", ") + std::string(k);
      return p->fail(dot(path, it.key()), "unknown key (expected one of " + list + ")");
    }
  }
  return true;
}

bool string_field(const ojson& o, const char* key, const std::string& path, bool required,
                  std::string* out, Problems* p) {
  auto it = o.find(key);
  if (it == o.end()) return !required || p->fail(dot(path, key), "required");
  if (!it->is_string()) return p->fail(dot(path, key), "expected a string");
  *out = it->get<std::string>();
  return true;
}

bool int_field(const ojson& o, const char* key, const std::string& path, std::int64_t min,
               std::int64_t* out, Problems* p) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_number_integer() || it->get<std::int64_t>() < min) {
    return p->fail(dot(path, key), "expected an integer of at least " + std::to_string(min));
  }
  *out = it->get<std::int64_t>();
  return true;
}

bool bool_field(const ojson& o, const char* key, const std::string& path, bool* out, Problems* p) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_boolean()) return p->fail(dot(path, key), "expected true or false");
  *out = it->get<bool>();
  return true;
}

bool strings_field(const ojson& o, const char* key, const std::string& path,
                   std::vector<std::string>* out, Problems* p) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_array()) return p->fail(dot(path, key), "expected a list of strings");
  std::vector<std::string> v;
  for (std::size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return p->fail(at(dot(path, key), i), "expected a string");
    v.push_back((*it)[i].get<std::string>());
  }
  *out = std::move(v);
  return true;
}

bool time_field(const ojson& o, const char* key, const std::string& path, bool required,
                Micros* out, Problems* p) {
  auto it = o.find(key);
  if (it == o.end()) return !required || p->fail(dot(path, key), "required");
  std::optional<Micros> t =
      it->is_string() ? parse_time(it->get_ref<const std::string&>()) : std::nullopt;
  if (!t) return p->fail(dot(path, key), "expected a time such as \"2023-01-25T19:00:29.893Z\"");
  *out = to_ms(*t);
  return true;
}

// ---- clients, connections -------------------------------------------------------------------

bool read_client(const ojson& o, const std::string& path, Client* c, Problems* p) {
  if (!o.is_object()) return p->fail(path, "expected an object");
  if (!only_keys(o, {"client_id", "client_secret", "scopes", "client_grant", "grant_types"}, path,
                 p))
    return false;
  c->scopes = {"read:users", "read:connections"};
  if (!string_field(o, "client_id", path, true, &c->client_id, p) ||
      !string_field(o, "client_secret", path, true, &c->client_secret, p) ||
      !strings_field(o, "scopes", path, &c->scopes, p) ||
      !bool_field(o, "client_grant", path, &c->client_grant, p) ||
      !strings_field(o, "grant_types", path, &c->grant_types, p)) {
    return false;
  }
  if (c->client_id.empty()) return p->fail(dot(path, "client_id"), "must not be empty");
  if (c->client_secret.empty()) return p->fail(dot(path, "client_secret"), "must not be empty");
  return true;
}

bool connection_id_ok(std::string_view id) {
  if (id.size() != 20 || id.substr(0, 4) != "con_") return false;
  for (char ch : id.substr(4)) {
    const bool alnum =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum) return false;
  }
  return true;
}

bool read_connection(const ojson& o, const std::string& path, Problems* p) {
  if (!o.is_object()) return p->fail(path, "expected an object");
  std::string id, name, strategy;
  if (!string_field(o, "id", path, true, &id, p) ||
      !string_field(o, "name", path, true, &name, p) ||
      !string_field(o, "strategy", path, true, &strategy, p)) {
    return false;
  }
  if (!connection_id_ok(id)) {
    return p->fail(dot(path, "id"), json_text(id) + " does not match ^con_[A-Za-z0-9]{16}$");
  }
  if (name.empty()) return p->fail(dot(path, "name"), "must not be empty");
  if (strategy.empty()) return p->fail(dot(path, "strategy"), "must not be empty");
  return true;
}

// ---- export jobs, tokens, the search lag (state documents) -------------------------------------

bool read_job(const ojson& o, const std::string& path, const Tenant& t, ExportJob* j, Problems* p) {
  if (!o.is_object()) return p->fail(path, "expected an object");
  if (!only_keys(
          o,
          {"id", "type", "status", "connection_id", "connection", "format", "limit", "fields",
           "created_at", "polls", "fail", "completed_at", "url_expires_at", "signature", "file"},
          path, p))
    return false;
  std::int64_t limit = -1;
  if (!string_field(o, "id", path, true, &j->id, p) ||
      !string_field(o, "status", path, true, &j->status, p) ||
      !string_field(o, "connection_id", path, false, &j->connection_id, p) ||
      !string_field(o, "connection", path, false, &j->connection, p) ||
      !string_field(o, "format", path, true, &j->format, p) ||
      !int_field(o, "limit", path, 1, &limit, p) ||
      !time_field(o, "created_at", path, true, &j->created_at, p) ||
      !int_field(o, "polls", path, 0, &j->polls, p) || !bool_field(o, "fail", path, &j->fail, p) ||
      !time_field(o, "completed_at", path, false, &j->completed_at, p) ||
      !time_field(o, "url_expires_at", path, false, &j->url_expires_at, p) ||
      !string_field(o, "signature", path, false, &j->signature, p)) {
    return false;
  }
  if (limit >= 1) j->limit = limit;
  if (j->id.rfind("job_", 0) != 0) return p->fail(dot(path, "id"), "expected job_…");
  static constexpr std::string_view kStatuses[] = {"pending", "processing", "completed", "failed"};
  if (std::find(std::begin(kStatuses), std::end(kStatuses), j->status) == std::end(kStatuses)) {
    return p->fail(dot(path, "status"), "expected pending, processing, completed or failed");
  }
  if (j->format != "json" && j->format != "csv") {
    return p->fail(dot(path, "format"), "expected json or csv");
  }
  if (!j->connection_id.empty() && !t.connection_by_id(j->connection_id)) {
    return p->fail(dot(path, "connection_id"), "no connection " + json_text(j->connection_id));
  }
  auto fields = o.find("fields");
  if (fields == o.end() || !fields->is_array()) {
    return p->fail(dot(path, "fields"), "expected a list of {name, export_as}");
  }
  for (std::size_t i = 0; i < fields->size(); ++i) {
    const ojson& f = (*fields)[i];
    const std::string fp = at(dot(path, "fields"), i);
    if (!f.is_object() || !only_keys(f, {"name", "export_as"}, fp, p)) {
      return p->ok() ? p->fail(fp, "expected {name, export_as}") : false;
    }
    ExportField ef;
    std::string as;
    if (!string_field(f, "name", fp, true, &ef.name, p) ||
        !string_field(f, "export_as", fp, false, &as, p)) {
      return false;
    }
    if (f.contains("export_as")) ef.export_as = as;
    j->fields.push_back(std::move(ef));
  }
  if (auto file = o.find("file"); file != o.end()) {
    std::optional<std::string> bytes =
        file->is_string() ? unbase64(file->get_ref<const std::string&>()) : std::nullopt;
    if (!bytes) return p->fail(dot(path, "file"), "expected base64");
    j->file = std::move(*bytes);
  }
  if (j->status == "completed" && (j->completed_at == kNoTime || j->url_expires_at == kNoTime)) {
    return p->fail(path, "a completed job needs completed_at and url_expires_at");
  }
  return true;
}

bool read_token(const ojson& o, const std::string& path, const Tenant& t, Token* tok, Problems* p) {
  if (!o.is_object()) return p->fail(path, "expected an object");
  if (!only_keys(o, {"access_token", "client_id", "scope", "issued_at", "expires_at"}, path, p))
    return false;
  std::string scope;
  if (!string_field(o, "access_token", path, true, &tok->access_token, p) ||
      !string_field(o, "client_id", path, true, &tok->client_id, p) ||
      !string_field(o, "scope", path, true, &scope, p) ||
      !time_field(o, "issued_at", path, true, &tok->issued_at, p) ||
      !time_field(o, "expires_at", path, true, &tok->expires_at, p)) {
    return false;
  }
  if (tok->access_token.empty()) return p->fail(dot(path, "access_token"), "must not be empty");
  if (!t.client(tok->client_id)) {
    return p->fail(dot(path, "client_id"), "no client " + json_text(tok->client_id));
  }
  for (std::size_t pos = 0; pos < scope.size();) {
    std::size_t end = scope.find(' ', pos);
    if (end == std::string::npos) end = scope.size();
    if (end > pos) tok->scopes.push_back(scope.substr(pos, end - pos));
    pos = end + 1;
  }
  return true;
}

bool read_lag(const ojson& o, const std::string& path, const Tenant& t, Micros now, LagEntry* e,
              Problems* p) {
  if (!o.is_object()) return p->fail(path, "expected an object");
  if (!only_keys(o, {"user_id", "changed_at", "previous"}, path, p)) return false;
  if (!string_field(o, "user_id", path, true, &e->user_id, p) ||
      !time_field(o, "changed_at", path, true, &e->changed_at, p)) {
    return false;
  }
  auto prev = o.find("previous");
  if (prev != o.end() && !prev->is_null()) {
    ojson u = *prev;
    if (auto err = check_user(&u, t, now)) {
      return p->fail(
          err->field.empty() ? dot(path, "previous") : dot(dot(path, "previous"), err->field),
          err->problem);
    }
    e->previous = std::move(u);
  }
  return true;
}

bool read_settings_into(const ojson& o, const std::string& path, Settings* s, Problems* p) {
  if (!o.is_object()) return p->fail(path, "expected an object");
  if (!only_keys(o,
                 {"token_lifetime_seconds", "search_delay_seconds", "export_jobs", "rate_limits"},
                 path, p))
    return false;
  if (!int_field(o, "token_lifetime_seconds", path, 1, &s->token_lifetime_seconds, p) ||
      !int_field(o, "search_delay_seconds", path, 0, &s->search_delay_seconds, p)) {
    return false;
  }
  if (auto jobs = o.find("export_jobs"); jobs != o.end()) {
    const std::string jp = dot(path, "export_jobs");
    if (!jobs->is_object()) return p->fail(jp, "expected an object");
    if (!only_keys(*jobs,
                   {"pending_polls", "processing_polls", "processing_seconds",
                    "download_ttl_seconds", "retention_seconds"},
                   jp, p) ||
        !int_field(*jobs, "pending_polls", jp, 0, &s->export_pending_polls, p) ||
        !int_field(*jobs, "processing_polls", jp, 0, &s->export_processing_polls, p) ||
        !int_field(*jobs, "processing_seconds", jp, 0, &s->export_processing_seconds, p) ||
        !int_field(*jobs, "download_ttl_seconds", jp, 1, &s->download_ttl_seconds, p) ||
        !int_field(*jobs, "retention_seconds", jp, 1, &s->job_retention_seconds, p)) {
      return false;
    }
  }
  if (auto limits = o.find("rate_limits"); limits != o.end()) {
    const std::string lp = dot(path, "rate_limits");
    if (!limits->is_array()) return p->fail(lp, "expected a list of buckets");
    std::vector<RateBucket> buckets;
    for (std::size_t i = 0; i < limits->size(); ++i) {
      const ojson& b = (*limits)[i];
      const std::string bp = at(lp, i);
      if (!b.is_object()) return p->fail(bp, "expected an object");
      RateBucket rb;
      rb.limit = 0;
      if (!only_keys(b, {"method", "path", "path_prefix", "limit", "window_seconds"}, bp, p) ||
          !string_field(b, "method", bp, false, &rb.method, p) ||
          !string_field(b, "path", bp, false, &rb.path, p) ||
          !string_field(b, "path_prefix", bp, false, &rb.path_prefix, p) ||
          !int_field(b, "limit", bp, 1, &rb.limit, p) ||
          !int_field(b, "window_seconds", bp, 1, &rb.window_seconds, p)) {
        return false;
      }
      if (rb.limit == 0) return p->fail(dot(bp, "limit"), "required");
      for (char& ch : rb.method)
        ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
      buckets.push_back(std::move(rb));
    }
    s->rate_limits = std::move(buckets);
  }
  return true;
}

bool domain_ok(std::string_view d) {
  if (d.empty()) return false;
  for (char ch : d) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string email_key(const ojson& user) {
  auto email = user.find("email");
  if (email == user.end() || !email->is_string()) return "";
  const ojson& first = user["identities"][0]["connection"];
  return first.get<std::string>() + "\n" +
         http::ascii::to_lower(email->get_ref<const std::string&>());
}

std::string email_conflict(const Tenant& tenant, const ojson& user,
                           std::optional<std::size_t> except) {
  const std::string key = email_key(user);
  if (key.empty()) return "";
  for (std::size_t i = 0; i < tenant.users.size(); ++i) {
    if (except && *except == i) continue;
    if (email_key(tenant.users[i]) == key) {
      return "email: " + json_text(user["email"].get<std::string>()) + " is already the email of " +
             tenant.users[i]["user_id"].get<std::string>() + " in connection " +
             json_text(user["identities"][0]["connection"].get<std::string>());
    }
  }
  return "";
}

std::optional<FieldError> check_user(ojson* user, const Tenant& tenant, Micros now) {
  ojson& u = *user;
  if (!u.is_object()) return FieldError{"", "expected an object"};
  auto str = [&](const char* k) -> std::optional<FieldError> {
    auto it = u.find(k);
    if (it != u.end() && !it->is_string()) return FieldError{k, "expected a string"};
    return std::nullopt;
  };
  auto boolean = [&](const char* k) -> std::optional<FieldError> {
    auto it = u.find(k);
    if (it != u.end() && !it->is_boolean()) return FieldError{k, "expected true or false"};
    return std::nullopt;
  };
  auto object = [&](const char* k) -> std::optional<FieldError> {
    auto it = u.find(k);
    if (it != u.end() && !it->is_object()) return FieldError{k, "expected an object"};
    return std::nullopt;
  };
  // Times are normalised where they stand, so the user keeps its keys' order.
  auto time = [&](const char* k, bool fill) -> std::optional<FieldError> {
    auto it = u.find(k);
    if (it == u.end()) {
      if (fill) u[k] = ms_text(now);
      return std::nullopt;
    }
    std::optional<Micros> t =
        it->is_string() ? parse_time(it->get_ref<const std::string&>()) : std::nullopt;
    if (!t) return FieldError{k, "expected a time such as \"2023-01-25T19:00:29.893Z\""};
    *it = ms_text(*t);
    return std::nullopt;
  };
  auto uid = u.find("user_id");
  if (uid == u.end()) return FieldError{"user_id", "required"};
  if (!uid->is_string()) return FieldError{"user_id", "expected a string"};
  {
    const std::string& id = uid->get_ref<const std::string&>();
    const std::size_t bar = id.find('|');
    if (bar == std::string::npos || bar == 0 || bar + 1 == id.size()) {
      return FieldError{"user_id", json_text(id) + " is not <provider>|<id>"};
    }
  }
  for (const char* k : {"email", "name", "nickname", "given_name", "family_name", "picture",
                        "username", "phone_number", "last_ip"}) {
    if (auto e = str(k)) return e;
  }
  if (auto it = u.find("email");
      it != u.end() && it->get_ref<const std::string&>().find('@') == std::string::npos) {
    return FieldError{"email", json_text(it->get<std::string>()) + " is not an email address"};
  }
  for (const char* k : {"email_verified", "blocked", "phone_verified"}) {
    if (auto e = boolean(k)) return e;
  }
  for (const char* k : {"user_metadata", "app_metadata"}) {
    if (auto e = object(k)) return e;
  }
  for (const char* k : {"created_at", "updated_at"}) {
    if (auto e = time(k, true)) return e;
  }
  for (const char* k : {"last_login", "last_password_reset"}) {
    if (auto e = time(k, false)) return e;
  }
  if (auto it = u.find("logins_count");
      it != u.end() && (!it->is_number_integer() || it->get<std::int64_t>() < 0)) {
    return FieldError{"logins_count", "expected a count"};
  }
  auto ids = u.find("identities");
  if (ids == u.end()) return FieldError{"identities", "required"};
  if (!ids->is_array() || ids->empty()) {
    return FieldError{"identities", "expected a list of {connection, provider, user_id, isSocial}"};
  }
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const ojson& id = (*ids)[i];
    const std::string p = "identities[" + std::to_string(i) + "]";
    if (!id.is_object()) return FieldError{p, "expected an object"};
    for (const char* k : {"connection", "provider", "user_id"}) {
      auto it = id.find(k);
      if (it == id.end()) return FieldError{p + "." + k, "required"};
      if (!it->is_string()) return FieldError{p + "." + k, "expected a string"};
    }
    auto social = id.find("isSocial");
    if (social == id.end()) return FieldError{p + ".isSocial", "required"};
    if (!social->is_boolean()) return FieldError{p + ".isSocial", "expected true or false"};
    const std::string& conn = id["connection"].get_ref<const std::string&>();
    if (!tenant.connection_by_name(conn)) {
      return FieldError{p + ".connection", "no connection named " + json_text(conn)};
    }
  }
  return std::nullopt;
}

std::string read_settings(const ojson& object, Settings* settings) {
  Problems p;
  Settings s = *settings;
  if (!read_settings_into(object, "", &s, &p)) {
    // A problem with the object itself has an empty path.
    const std::string& m = p.message();
    return m.rfind(": ", 0) == 0 ? m.substr(2) : m;
  }
  *settings = std::move(s);
  return "";
}

Result<Tenant> parse_tenant(std::optional<std::string_view> object, Micros now) {
  if (!object) return Tenant::empty();
  ojson j = ojson::parse(*object, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::invalid("expected a JSON object");
  Problems p;
  Tenant t = Tenant::empty();
  only_keys(
      j, {"domain", "clients", "connections", "users", "settings", "tokens", "jobs", "search_lag"},
      "", &p);
  if (!p.ok()) return Status::invalid(p.message());
  if (j.contains("domain")) {
    if (!string_field(j, "domain", "", true, &t.domain, &p)) return Status::invalid(p.message());
    if (!domain_ok(t.domain)) {
      return Status::invalid("domain: " + json_text(t.domain) +
                             " is not a host name such as \"acme.eu.auth0.com\"");
    }
  }
  if (auto clients = j.find("clients"); clients != j.end()) {
    if (!clients->is_array()) return Status::invalid("clients: expected a list");
    t.clients.clear();
    for (std::size_t i = 0; i < clients->size(); ++i) {
      Client c;
      if (!read_client((*clients)[i], at("clients", i), &c, &p)) {
        return Status::invalid(p.message());
      }
      if (t.client(c.client_id)) {
        return Status::invalid(at("clients", i) + ".client_id: " + json_text(c.client_id) +
                               " is given twice");
      }
      t.clients.push_back(std::move(c));
    }
  }
  if (auto conns = j.find("connections"); conns != j.end()) {
    if (!conns->is_array()) return Status::invalid("connections: expected a list");
    for (std::size_t i = 0; i < conns->size(); ++i) {
      const ojson& c = (*conns)[i];
      if (!read_connection(c, at("connections", i), &p)) return Status::invalid(p.message());
      if (t.connection_by_id(c["id"].get<std::string>())) {
        return Status::invalid(at("connections", i) +
                               ".id: " + json_text(c["id"].get<std::string>()) + " is given twice");
      }
      if (t.connection_by_name(c["name"].get<std::string>())) {
        return Status::invalid(at("connections", i) + ".name: " +
                               json_text(c["name"].get<std::string>()) + " is given twice");
      }
      t.connections.push_back(c);
    }
  }
  if (auto settings = j.find("settings"); settings != j.end()) {
    if (!read_settings_into(*settings, "settings", &t.settings, &p)) {
      return Status::invalid(p.message());
    }
  }
  if (auto users = j.find("users"); users != j.end()) {
    if (!users->is_array()) return Status::invalid("users: expected a list");
    std::unordered_map<std::string, std::size_t> emails;
    t.users.reserve(users->size());
    for (std::size_t i = 0; i < users->size(); ++i) {
      ojson u = std::move((*users)[i]);
      const std::string path = at("users", i);
      if (auto err = check_user(&u, t, now)) {
        return Status::invalid((err->field.empty() ? path : path + "." + err->field) + ": " +
                               err->problem);
      }
      const std::string& id = u["user_id"].get_ref<const std::string&>();
      if (auto dup = t.user_index.find(id); dup != t.user_index.end()) {
        return Status::invalid(path + ".user_id: " + json_text(id) + " is already users[" +
                               std::to_string(dup->second) + "]");
      }
      if (std::string key = email_key(u); !key.empty()) {
        auto [it, fresh] = emails.emplace(key, i);
        if (!fresh) {
          return Status::invalid(path + ".email: " + json_text(u["email"].get<std::string>()) +
                                 " is already the email of users[" + std::to_string(it->second) +
                                 "] in connection " +
                                 json_text(u["identities"][0]["connection"].get<std::string>()));
        }
      }
      t.user_index.emplace(id, t.users.size());
      t.users.push_back(std::move(u));
    }
  }
  if (auto tokens = j.find("tokens"); tokens != j.end()) {
    if (!tokens->is_array()) return Status::invalid("tokens: expected a list");
    for (std::size_t i = 0; i < tokens->size(); ++i) {
      Token tok;
      if (!read_token((*tokens)[i], at("tokens", i), t, &tok, &p)) {
        return Status::invalid(p.message());
      }
      if (t.token_index.count(tok.access_token)) {
        return Status::invalid(at("tokens", i) + ".access_token: given twice");
      }
      t.token_index.emplace(tok.access_token, t.tokens.size());
      t.tokens.push_back(std::move(tok));
    }
  }
  if (auto jobs = j.find("jobs"); jobs != j.end()) {
    if (!jobs->is_array()) return Status::invalid("jobs: expected a list");
    for (std::size_t i = 0; i < jobs->size(); ++i) {
      ExportJob job;
      if (!read_job((*jobs)[i], at("jobs", i), t, &job, &p)) return Status::invalid(p.message());
      if (t.job(job.id)) return Status::invalid(at("jobs", i) + ".id: given twice");
      t.jobs.push_back(std::move(job));
    }
  }
  if (auto lag = j.find("search_lag"); lag != j.end()) {
    if (!lag->is_array()) return Status::invalid("search_lag: expected a list");
    for (std::size_t i = 0; i < lag->size(); ++i) {
      LagEntry e;
      if (!read_lag((*lag)[i], at("search_lag", i), t, now, &e, &p)) {
        return Status::invalid(p.message());
      }
      t.lag.push_back(std::move(e));
    }
  }
  return t;
}

}  // namespace concord::sandbox::auth0
