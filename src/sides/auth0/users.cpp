#include "sides/auth0/users.h"

#include "sides/json_answer.h"

#include <cstdio>
#include <ctime>

namespace concord::auth0 {
namespace {

using json = nlohmann::json;

// The user's value at a dotted path, or nullptr.
const json* at_path(const json& user, std::string_view path) {
  const json* v = &user;
  while (true) {
    if (!v->is_object()) return nullptr;
    const std::size_t dot = path.find('.');
    auto it = v->find(std::string(path.substr(0, dot)));
    if (it == v->end()) return nullptr;
    v = &*it;
    if (dot == std::string_view::npos) return v;
    path.remove_prefix(dot + 1);
  }
}

RejectedRow reject(std::string id, std::string email, std::string field, std::string message) {
  return RejectedRow{std::move(id), std::move(email), std::move(field), std::move(message)};
}

}  // namespace

std::vector<std::string> top_level_keys(const std::vector<std::string>& fields) {
  std::vector<std::string> keys = {"user_id", "email", "email_verified", "updated_at"};
  for (const std::string& f : fields) {
    std::string root = f.substr(0, f.find('.'));
    if (root.empty()) continue;
    bool seen = false;
    for (const std::string& k : keys)
      seen = seen || k == root;
    if (!seen) keys.push_back(std::move(root));
  }
  return keys;
}

std::string field_text(const json& user, std::string_view path) {
  const json* v = at_path(user, path);
  if (v == nullptr || v->is_null()) return {};
  if (v->is_string()) return v->get<std::string>();
  return v->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::variant<SourcePerson, RejectedRow> read_user(const json& user,
                                                  const std::vector<std::string>& fields) {
  if (!user.is_object()) {
    return reject("", "", "user",
                  "a user is not a JSON object but " + std::string(user.type_name()));
  }
  auto id = user.find("user_id");
  if (id == user.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    const char* why = id == user.end()  ? "the user has no user_id"
                      : id->is_string() ? "the user's user_id is empty"
                                        : "the user's user_id is not a string";
    std::string email;
    if (auto e = user.find("email"); e != user.end() && e->is_string())
      email = e->get<std::string>();
    return reject("", email, "user_id", why);
  }
  SourcePerson p;
  p.id = id->get<std::string>();
  if (auto e = user.find("email"); e != user.end() && !e->is_null()) {
    if (!e->is_string()) return reject(p.id, "", "email", "the user's email is not a string");
    p.email = e->get<std::string>();
  }
  p.email_verified = false;
  if (auto v = user.find("email_verified"); v != user.end() && !v->is_null()) {
    if (v->is_boolean()) {
      p.email_verified = v->get<bool>();
    } else if (v->is_string() && (*v == "true" || *v == "false")) {
      p.email_verified = *v == "true";  // an export's CSV-minded writer; harmless to accept
    } else {
      return reject(p.id, p.email, "email_verified", "the user's email_verified is not a boolean");
    }
  }
  if (auto u = user.find("updated_at"); u != user.end() && !u->is_null()) {
    if (!u->is_string()) return reject(p.id, p.email, "updated_at", "updated_at is not a string");
    Result<Micros> t = parse_iso8601(u->get_ref<const std::string&>());
    if (!t || *t == kNoTime) {
      return reject(p.id, p.email, "updated_at",
                    "updated_at \"" + u->get<std::string>().substr(0, 40) + "\" is not a time");
    }
    p.updated_at = *t;
  }
  p.fields.reserve(fields.size());
  for (const std::string& f : fields)
    p.fields.emplace_back(f, field_text(user, f));
  return p;
}

std::string lucene_phrase(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string search_time(Micros t) {
  std::int64_t secs = t / kMicrosPerSecond;
  std::int64_t micros = t % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(micros / 1000));
  return buf;
}

json parse_json(std::string_view body) {
  return sides::parse_answer(body);
}

}  // namespace concord::auth0
