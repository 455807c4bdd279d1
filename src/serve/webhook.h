// Mailchimp list webhooks as concord's daemon receives them: the form-encoded POST parsed into an
// event, the event's stored form, the optional signature check, and the secret in each pair's
// webhook URL.
//
// Mailchimp posts `application/x-www-form-urlencoded` bodies with PHP bracket keys:
//   type=unsubscribe&fired_at=2026-11-23 10:00:00&data[list_id]=…&data[email]=…&data[action]=unsub
//   type=upemail&data[old_email]=…&data[new_email]=…&data[new_id]=…
// Only what concord acts on is kept: the type, the list, the address(es), and when it was fired.
//
// Thread-safety: any thread may call these. random_secret reads the OS's random source;
// webhook_url_secret may create the key file (two processes creating it at once read the same
// key); the rest are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"
#include "concord/time.h"

namespace concord {

// The kinds of delivery Mailchimp sends. The daemon reads the name once, where a delivery comes
// in, and again only from its stored form; everything in between uses the value.
enum class WebhookType : std::uint8_t {
  kSubscribe = 0,
  kUnsubscribe,
  kProfile,
  kUpemail,   // an address changed: old_email → email
  kCleaned,   // the address bounced
  kCampaign,  // a campaign was sent: names no member, so concord ignores it
  // Not Mailchimp's: a people side's delivery (a Mautic webhook) naming people by that side's ids
  // (WebhookEvent::people), who are read again from the people side.
  kPeople,
};
inline constexpr std::size_t kWebhookTypeCount = 7;

// Mailchimp's name of each type ("subscribe", …), indexed by the value; "people" is concord's.
inline constexpr std::string_view kWebhookTypeNames[kWebhookTypeCount] = {
    "subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign", "people"};
constexpr std::string_view webhook_type_name(WebhookType t) {
  return kWebhookTypeNames[static_cast<std::size_t>(t)];
}
// The type Mailchimp calls `name`; nullopt for any other word.
std::optional<WebhookType> parse_webhook_type(std::string_view name);

struct WebhookEvent {
  WebhookType type = WebhookType::kSubscribe;
  std::string list_id;              // data[list_id]
  std::string email;                // normalised: data[email], or data[new_email] for upemail
  std::string old_email;            // upemail: data[old_email], normalised
  std::string action;               // unsubscribe: "unsub" or "delete"; cleaned: the reason
  std::vector<std::string> people;  // kPeople: the people side's ids (Mautic contact ids)
  Micros fired_at = kNoTime;        // fired_at (UTC), kNoTime when absent or unreadable
  Micros received_at = kNoTime;
};

// Parses a delivery's body. Errors (kInvalid) name the field: "webhook: data[email] is missing",
// "webhook: data[email] \"…\" is not an email address: …", "webhook: unknown type \"…\"".
// A `campaign` event parses (no email): concord ignores it.
Result<WebhookEvent> parse_mailchimp_webhook(std::string_view form_body);

// The stored form of an event (JSON, docs/store-format.md), and back. decode is kCorruption when
// the text is not an event (not JSON, or no known type).
std::string encode_webhook_event(const WebhookEvent& e);
Result<WebhookEvent> decode_webhook_event(std::string_view stored);

// Whether `header_value` is the HMAC-SHA256 of `body` under `secret`, as lower- or upper-case
// hex, optionally prefixed "sha256=". Compared in constant time.
bool webhook_signature_ok(std::string_view secret, std::string_view body,
                          std::string_view header_value);
// The hex HMAC-SHA256 (for tests and relays that sign deliveries).
std::string webhook_signature(std::string_view secret, std::string_view body);

// Compares two secrets in time that depends only on their lengths.
bool secrets_equal(std::string_view a, std::string_view b);

// A new random secret: 32 lower-case hex characters from the OS's random source.
std::string random_secret();

// The secret kept in state_dir/`name` (the webhook key, the serve token): the one there, or a new
// random_secret() made now (0600 from its creation, the directory 0700; two processes making it at
// once agree on one). *made, when given, says whether it was made now. kIoError naming the file.
Result<std::string> state_secret(const std::filesystem::path& state_dir, std::string_view name,
                                 bool* made = nullptr);

// Where deliveries for a pair arrive: kWebhookPath + <sync, percent-encoded> + "/" + <secret>;
// a Mautic pair's (its people side's) under kMauticWebhookPath, with the same secret.
inline constexpr std::string_view kWebhookPath = "/webhooks/mailchimp/";
inline constexpr std::string_view kMauticWebhookPath = "/webhooks/mautic/";
// `public_url` (no trailing slash) + the path of `sync`'s deliveries under `path`.
std::string webhook_url(std::string_view public_url, const std::string& sync,
                        std::string_view secret, std::string_view path = kWebhookPath);

// The secret path segment of a pair's webhook URL: HMAC-SHA256(state_dir/webhook.key, "webhook:"
// + sync), 32 hex digits. The key is made when missing (0600 from the start, the state directory
// 0700: read_or_create_secret() in store/private_file.h); deleting it changes every
// secret (then install the webhooks again). It lives in a file rather than the store so that
// `concord webhooks install` can run while the daemon holds the store. kIoError when the key
// cannot be written or read.
Result<std::string> webhook_url_secret(const std::filesystem::path& state_dir,
                                       const std::string& sync);

// The secret Mautic signs a pair's deliveries with (the hook's `secret`, which `concord webhooks
// install --mautic` gives it): HMAC-SHA256(state_dir/webhook.key, "mautic-signing:" + sync), 32
// hex digits. Derived, like the URL's, so that nothing more is stored.
Result<std::string> mautic_signing_secret(const std::filesystem::path& state_dir,
                                          const std::string& sync);

}  // namespace concord
