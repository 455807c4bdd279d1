#include "sandbox/auth0/tenant.h"

namespace concord::sandbox::auth0 {

bool RateBucket::matches(std::string_view request_method, std::string_view request_path) const {
  if (!method.empty() && method != request_method) return false;
  if (!path.empty()) return request_path == path;
  return request_path.rfind(path_prefix, 0) == 0;
}

Tenant Tenant::empty() {
  Tenant t;
  Client c;
  c.client_id = std::string(kDefaultClientId);
  c.client_secret = std::string(kDefaultClientSecret);
  c.scopes = {"read:users", "read:connections"};
  t.clients.push_back(std::move(c));
  return t;
}

void Tenant::reindex() {
  user_index.clear();
  for (std::size_t i = 0; i < users.size(); ++i)
    user_index[users[i]["user_id"].get<std::string>()] = i;
  token_index.clear();
  for (std::size_t i = 0; i < tokens.size(); ++i)
    token_index[tokens[i].access_token] = i;
}

const Client* Tenant::client(std::string_view client_id) const {
  for (const Client& c : clients) {
    if (c.client_id == client_id) return &c;
  }
  return nullptr;
}

namespace {

const ojson* connection_where(const std::vector<ojson>& connections, const char* key,
                              std::string_view value) {
  for (const ojson& c : connections) {
    auto it = c.find(key);
    if (it != c.end() && it->is_string() && it->get_ref<const std::string&>() == value) return &c;
  }
  return nullptr;
}

}  // namespace

const ojson* Tenant::connection_by_id(std::string_view id) const {
  return connection_where(connections, "id", id);
}

const ojson* Tenant::connection_by_name(std::string_view name) const {
  return connection_where(connections, "name", name);
}

ojson* Tenant::user(std::string_view user_id) {
  auto it = user_index.find(std::string(user_id));
  return it == user_index.end() ? nullptr : &users[it->second];
}

const ojson* Tenant::user(std::string_view user_id) const {
  auto it = user_index.find(std::string(user_id));
  return it == user_index.end() ? nullptr : &users[it->second];
}

ExportJob* Tenant::job(std::string_view id) {
  for (ExportJob& j : jobs) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

}  // namespace concord::sandbox::auth0
