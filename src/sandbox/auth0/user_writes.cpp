#include "sandbox/auth0/user_writes.h"

#include <algorithm>
#include <unordered_map>

#include "sandbox/auth0/dates.h"
#include "sandbox/auth0/ids.h"
#include "sandbox/auth0/seed.h"

namespace concord::sandbox::auth0 {
namespace {

// Strategies of database, passwordless and enterprise connections: their identities are not
// social (isSocial false); every other strategy is a social provider's.
bool social(std::string_view strategy) {
  static constexpr std::string_view kNotSocial[] = {
      "auth0",      "email",       "sms",  "ad",        "adfs",         "auth0-adldap",
      "custom",     "google-apps", "ip",   "office365", "pingfederate", "samlp",
      "sharepoint", "waad",        "oidc", "okta"};
  return std::find(std::begin(kNotSocial), std::end(kNotSocial), strategy) == std::end(kNotSocial);
}

// The keys an admin body may set on a user, besides the metadata objects.
constexpr std::string_view kProfileKeys[] = {"email",       "email_verified", "given_name",
                                             "family_name", "name",           "nickname",
                                             "username",    "picture",        "blocked"};

bool profile_key(std::string_view k) {
  return std::find(std::begin(kProfileKeys), std::end(kProfileKeys), k) != std::end(kProfileKeys);
}

Status invalid_field(const FieldError& e) {
  return Status::invalid(e.field.empty() ? e.problem : e.field + ": " + e.problem);
}

// Merges `patch` into the metadata object `key` of `u` key by key (null removes a key).
Status merge_metadata(ojson& u, const char* key, const ojson& patch) {
  if (!patch.is_object()) return Status::invalid(std::string(key) + ": expected an object");
  ojson& m = u[key];
  if (!m.is_object()) m = ojson::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->is_null()) {
      m.erase(it.key());
    } else {
      m[it.key()] = *it;
    }
  }
  return Status::ok();
}

// Records that `user_id` changed at `now`, from `before` (null: it did not exist), for the
// search's delay.
void note_change(Tenant& t, const std::string& user_id, const ojson* before, Micros now) {
  if (t.settings.search_delay_seconds <= 0) return;
  prune_lag(t, now);
  for (LagEntry& e : t.lag) {
    if (e.user_id == user_id) {
      // The index still shows the version before the first of these changes.
      e.changed_at = now;
      return;
    }
  }
  LagEntry e;
  e.user_id = user_id;
  e.changed_at = now;
  if (before) e.previous = *before;
  t.lag.push_back(std::move(e));
}

}  // namespace

bool prune_lag(Tenant& t, Micros now) {
  const Micros delay = t.settings.search_delay_seconds * kMicrosPerSecond;
  const std::size_t before = t.lag.size();
  t.lag.erase(std::remove_if(t.lag.begin(), t.lag.end(),
                             [&](const LagEntry& e) { return now >= e.changed_at + delay; }),
              t.lag.end());
  return t.lag.size() != before;
}

Result<ojson> create_user(Tenant& t, const ojson& body, Micros now) {
  if (!body.is_object()) return Status::invalid("expected a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!profile_key(it.key()) && it.key() != "connection" && it.key() != "user_id" &&
        it.key() != "user_metadata" && it.key() != "app_metadata") {
      return Status::invalid(it.key() + ": unknown key");
    }
  }
  std::string connection;
  if (auto c = body.find("connection"); c != body.end()) {
    if (!c->is_string()) return Status::invalid("connection: expected a string");
    connection = c->get<std::string>();
  } else if (t.connections.size() == 1) {
    connection = t.connections.front()["name"].get<std::string>();
  } else {
    return Status::invalid("connection: required (the name of one of the tenant's " +
                           std::to_string(t.connections.size()) + " connections)");
  }
  const ojson* conn = t.connection_by_name(connection);
  if (!conn) return Status::invalid("connection: no connection named " + json_quoted(connection));
  const std::string strategy = (*conn)["strategy"].get<std::string>();
  std::string user_id = strategy + "|" + random_hex(12);
  if (auto id = body.find("user_id"); id != body.end()) {
    if (!id->is_string()) return Status::invalid("user_id: expected a string");
    user_id = id->get<std::string>();
  }
  const std::size_t bar = user_id.find('|');
  if (bar == std::string::npos || bar == 0 || bar + 1 == user_id.size()) {
    return Status::invalid("user_id: " + json_quoted(user_id) + " is not <provider>|<id>");
  }
  if (t.user(user_id)) return Status::failed_precondition("user_id: " + user_id + " exists");

  // The keys in the order Auth0 answers them (alphabetical, the metadata last).
  const std::string stamp = ms_text(now);
  ojson u = ojson::object();
  u["created_at"] = stamp;
  auto copy = [&](const char* k) {
    if (auto it = body.find(k); it != body.end() && !it->is_null()) u[k] = *it;
  };
  copy("email");
  u["email_verified"] = body.value("email_verified", ojson(false));
  copy("family_name");
  copy("given_name");
  u["identities"] = ojson::array({ojson{{"connection", connection},
                                        {"user_id", user_id.substr(bar + 1)},
                                        {"provider", strategy},
                                        {"isSocial", social(strategy)}}});
  copy("name");
  copy("nickname");
  // A database user's name defaults to its email, its nickname to the email's local part.
  if (auto email = body.find("email"); email != body.end() && email->is_string()) {
    const std::string& e = email->get_ref<const std::string&>();
    if (!u.contains("name")) u["name"] = e;
    if (!u.contains("nickname")) u["nickname"] = e.substr(0, e.find('@'));
  }
  copy("picture");
  u["updated_at"] = stamp;
  u["user_id"] = user_id;
  copy("username");
  copy("user_metadata");
  copy("app_metadata");
  copy("blocked");
  if (auto err = check_user(&u, t, now)) return invalid_field(*err);
  if (std::string dup = email_conflict(t, u, std::nullopt); !dup.empty()) {
    return Status::failed_precondition(dup);
  }
  t.user_index[user_id] = t.users.size();
  t.users.push_back(u);
  note_change(t, user_id, nullptr, now);
  return u;
}

Result<ojson> update_user(Tenant& t, std::string_view user_id, const ojson& body, Micros now) {
  auto idx = t.user_index.find(std::string(user_id));
  if (idx == t.user_index.end()) return Status::not_found("no user " + std::string(user_id));
  if (!body.is_object()) return Status::invalid("expected a JSON object");
  ojson u = t.users[idx->second];
  const ojson before = u;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (k == "user_metadata" || k == "app_metadata") {
      if (Status s = merge_metadata(u, k.c_str(), *it); !s) return s;
    } else if (!profile_key(k)) {
      return Status::invalid(k + ": unknown key (or one the sandbox does not let change)");
    } else if (it->is_null()) {
      u.erase(k);
    } else {
      u[k] = *it;
    }
  }
  // A new address has not been verified (unless the body says it was).
  if (body.contains("email") && !body.contains("email_verified") &&
      before.value("email", ojson()) != u.value("email", ojson())) {
    u["email_verified"] = false;
  }
  u["updated_at"] = ms_text(now);
  if (auto err = check_user(&u, t, now)) return invalid_field(*err);
  if (std::string dup = email_conflict(t, u, idx->second); !dup.empty()) {
    return Status::failed_precondition(dup);
  }
  t.users[idx->second] = u;
  note_change(t, u["user_id"].get<std::string>(), &before, now);
  return u;
}

bool delete_user(Tenant& t, std::string_view user_id, Micros now) {
  auto idx = t.user_index.find(std::string(user_id));
  if (idx == t.user_index.end()) return false;
  const ojson before = t.users[idx->second];
  t.users.erase(t.users.begin() + static_cast<std::ptrdiff_t>(idx->second));
  t.reindex();
  note_change(t, before["user_id"].get<std::string>(), &before, now);
  return true;
}

std::vector<const ojson*> searchable_users(const Tenant& t, Micros now) {
  std::vector<const ojson*> out;
  out.reserve(t.users.size());
  const Micros delay = t.settings.search_delay_seconds * kMicrosPerSecond;
  std::unordered_map<std::string_view, const LagEntry*> pending;
  for (const LagEntry& e : t.lag) {
    if (now < e.changed_at + delay) pending.emplace(e.user_id, &e);
  }
  for (const ojson& u : t.users) {
    auto it = pending.find(u["user_id"].get_ref<const std::string&>());
    if (it == pending.end()) {
      out.push_back(&u);
    } else if (it->second->previous) {
      out.push_back(&*it->second->previous);
    }
  }
  for (const LagEntry& e : t.lag) {
    if (now < e.changed_at + delay && e.previous && !t.user(e.user_id)) {
      out.push_back(&*e.previous);
    }
  }
  return out;
}

}  // namespace concord::sandbox::auth0
