#include "sandbox/mailchimp/seed_fields.h"

#include "sandbox/times.h"

namespace concord::sandbox::seed_fields {
namespace {

// The member `key` of `o` when present and not null; nullptr otherwise.
const json* member(const json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

bool wrong(std::string* err, const std::string& path, const char* key, const char* expected) {
  *err = path + "." + key + ": expected " + expected;
  return false;
}

}  // namespace

bool get_string(const json& o, const char* key, std::string* out, std::string* err,
                const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr) return true;
  if (!v->is_string()) return wrong(err, path, key, "a string");
  *out = v->get<std::string>();
  return true;
}

bool get_int(const json& o, const char* key, std::int64_t* out, std::string* err,
             const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr) return true;
  if (!v->is_number_integer()) return wrong(err, path, key, "an integer");
  *out = v->get<std::int64_t>();
  return true;
}

bool get_bool(const json& o, const char* key, bool* out, std::string* err,
              const std::string& path) {
  const json* v = member(o, key);
  if (v == nullptr) return true;
  if (!v->is_boolean()) return wrong(err, path, key, "true or false");
  *out = v->get<bool>();
  return true;
}

bool get_time(const json& o, const char* key, Micros* out, std::string* err,
              const std::string& path) {
  std::string s;
  if (!get_string(o, key, &s, err, path)) return false;
  if (s.empty()) return true;
  auto t = parse_iso8601(s);
  if (!t.is_ok()) {
    *err = path + "." + key + ": " + t.status().message();
    return false;
  }
  *out = to_seconds(*t);
  return true;
}

}  // namespace concord::sandbox::seed_fields
