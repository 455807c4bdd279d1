// Mailchimp webhook deliveries: parsing, storage form, signatures, URL secrets.
#include "serve/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "concord/email.h"
#include "concord/http.h"
#include "store/private_file.h"

namespace concord {
namespace {

using nlohmann::json;

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// A value from a delivery as errors quote it: control bytes as \xNN (a delivery's text goes into
// the daemon's log, where a raw newline or escape sequence would forge or garble lines), and at
// most 100 bytes of it.
std::string printable(std::string_view v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < v.size() && i < 100; ++i) {
    const auto u = static_cast<unsigned char>(v[i]);
    if (u < 0x20 || u == 0x7f || v[i] == '"' || v[i] == '\\') {
      out += "\\x";
      out += kDigits[u >> 4];
      out += kDigits[u & 15];
    } else {
      out += v[i];
    }
  }
  if (v.size() > 100) out += "…";
  out += '"';
  return out;
}

// The address in `field`, normalised and checked (at most 254 bytes); errors name the field.
Result<std::string> address(const std::map<std::string, std::string>& form,
                            const std::string& field) {
  auto it = form.find(field);
  if (it == form.end() || it->second.empty()) {
    return Status::invalid("webhook: " + field + " is missing");
  }
  Result<std::string> e = parse_email(it->second);
  if (!e) {
    return Status::invalid("webhook: " + field + " " + printable(it->second) +
                           " is not an email address: " + e.status().message());
  }
  return e;
}

std::string value(const std::map<std::string, std::string>& form, const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? std::string() : it->second;
}

}  // namespace

std::optional<WebhookType> parse_webhook_type(std::string_view name) {
  for (std::size_t i = 0; i < kWebhookTypeCount; ++i) {
    if (kWebhookTypeNames[i] == name) return static_cast<WebhookType>(i);
  }
  return std::nullopt;
}

Result<WebhookEvent> parse_mailchimp_webhook(std::string_view form_body) {
  std::map<std::string, std::string> form;
  for (auto& [k, v] : http::parse_query(form_body))
    form.emplace(std::move(k), std::move(v));
  const std::string type = value(form, "type");
  if (type.empty()) return Status::invalid("webhook: type is missing");
  const std::optional<WebhookType> known = parse_webhook_type(type);
  if (!known || *known == WebhookType::kPeople) {
    return Status::invalid("webhook: unknown type " + printable(type));
  }
  WebhookEvent e;
  e.type = *known;
  e.list_id = value(form, "data[list_id]");
  // Audience ids are short words of letters and digits; anything else is not from Mailchimp.
  if (e.list_id.size() > 64 || !std::all_of(e.list_id.begin(), e.list_id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      })) {
    return Status::invalid("webhook: data[list_id] " + printable(e.list_id) +
                           " is not an audience id");
  }
  if (const std::string fired = value(form, "fired_at"); !fired.empty()) {
    if (Result<Micros> t = parse_civil(fired)) e.fired_at = *t;
  }
  if (e.type == WebhookType::kCampaign) return e;
  if (e.list_id.empty()) return Status::invalid("webhook: data[list_id] is missing");
  if (e.type == WebhookType::kUpemail) {
    Result<std::string> old_email = address(form, "data[old_email]");
    if (!old_email) return old_email.status();
    Result<std::string> new_email = address(form, "data[new_email]");
    if (!new_email) return new_email.status();
    e.old_email = std::move(*old_email);
    e.email = std::move(*new_email);
    return e;
  }
  Result<std::string> email = address(form, "data[email]");
  if (!email) return email.status();
  e.email = std::move(*email);
  // "unsub", "delete", "hard", "abuse": a short word. Anything else is not kept (it is stored
  // with the delivery, and read only for the log), rather than stored cut or re-encoded.
  e.action =
      e.type == WebhookType::kCleaned ? value(form, "data[reason]") : value(form, "data[action]");
  if (e.action.size() > 32 || !std::all_of(e.action.begin(), e.action.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
      })) {
    e.action.clear();
  }
  return e;
}

std::string encode_webhook_event(const WebhookEvent& e) {
  json j = {{"type", webhook_type_name(e.type)},
            {"list_id", e.list_id},
            {"email", e.email},
            {"fired_at", e.fired_at},
            {"received_at", e.received_at}};
  if (!e.old_email.empty()) j["old_email"] = e.old_email;
  if (!e.action.empty()) j["action"] = e.action;
  if (!e.people.empty()) j["people"] = e.people;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<WebhookEvent> decode_webhook_event(std::string_view stored) {
  json j = json::parse(stored, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Status::corruption("a stored webhook event is not readable");
  }
  const std::optional<WebhookType> type = parse_webhook_type(j["type"].get<std::string>());
  if (!type) return Status::corruption("a stored webhook event has an unknown type");
  // Read field by field, each only when it has its type: a stored value of another shape (from a
  // bug or a hand edit) is not an event, never an exception.
  auto text = [&](const char* key, std::string* out) {
    auto it = j.find(key);
    if (it == j.end()) return true;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  auto time = [&](const char* key, Micros* out) {
    auto it = j.find(key);
    if (it == j.end()) return true;
    if (!it->is_number_integer()) return false;
    *out = it->get<Micros>();
    return true;
  };
  WebhookEvent e;
  e.type = *type;
  if (!text("list_id", &e.list_id) || !text("email", &e.email) ||
      !text("old_email", &e.old_email) || !text("action", &e.action) ||
      !time("fired_at", &e.fired_at) || !time("received_at", &e.received_at)) {
    return Status::corruption("a stored webhook event has a field of the wrong type");
  }
  if (auto it = j.find("people"); it != j.end()) {
    if (!it->is_array()) return Status::corruption("a stored webhook event's people is not a list");
    for (const json& id : *it) {
      if (!id.is_string()) return Status::corruption("a stored webhook event names a person oddly");
      e.people.push_back(id.get<std::string>());
    }
  }
  return e;
}

std::string webhook_signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return hex(mac, len);
}

bool webhook_signature_ok(std::string_view secret, std::string_view body,
                          std::string_view header_value) {
  if (header_value.rfind("sha256=", 0) == 0) header_value.remove_prefix(7);
  std::string given(header_value);
  for (char& c : given) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return secrets_equal(webhook_signature(secret, body), given);
}

bool secrets_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_secret() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // The OS's source failed (it does not on Linux); never fall back to a predictable value.
    std::abort();
  }
  return hex(bytes, sizeof bytes);
}

std::string webhook_url(std::string_view public_url, const std::string& sync,
                        std::string_view secret, std::string_view path) {
  std::string url(public_url);
  url += path;
  url += http::url_encode(sync);
  url += '/';
  url += secret;
  return url;
}

Result<std::string> state_secret(const std::filesystem::path& state_dir, std::string_view name,
                                 bool* made) {
  if (Status s = make_private_dir(state_dir); !s) return s;
  const std::string fresh = random_secret();
  Result<std::string> kept = read_or_create_secret(state_dir / name, fresh);
  if (kept && made != nullptr) *made = *kept == fresh;
  return kept;
}

Result<std::string> webhook_url_secret(const std::filesystem::path& state_dir,
                                       const std::string& sync) {
  Result<std::string> key = state_secret(state_dir, "webhook.key");
  if (!key) return key.status();
  return webhook_signature(*key, "webhook:" + sync).substr(0, 32);
}

Result<std::string> mautic_signing_secret(const std::filesystem::path& state_dir,
                                          const std::string& sync) {
  Result<std::string> key = state_secret(state_dir, "webhook.key");
  if (!key) return key.status();
  return webhook_signature(*key, "mautic-signing:" + sync).substr(0, 32);
}

}  // namespace concord
