// Mailchimp list webhooks as concord's daemon receives them: the form-encoded POST parsed into an
// event, the event's stored form, and the optional signature check.
//
// Mailchimp posts `application/x-www-form-urlencoded` bodies with PHP bracket keys:
//   type=unsubscribe&fired_at=2026-11-23 10:00:00&data[list_id]=…&data[email]=…&data[action]=unsub
//   type=upemail&data[old_email]=…&data[new_email]=…&data[new_id]=…
// Only what concord acts on is kept: the type, the list, the address(es), and when it was fired.
#pragma once

#include <string>
#include <string_view>

#include "concord/status.h"
#include "concord/time.h"

namespace concord {

struct WebhookEvent {
  std::string type;       // subscribe, unsubscribe, profile, upemail, cleaned (campaign: ignored)
  std::string list_id;    // data[list_id]
  std::string email;      // normalised: data[email], or data[new_email] for upemail
  std::string old_email;  // upemail: data[old_email], normalised
  std::string action;     // unsubscribe: "unsub" or "delete"; cleaned: the reason
  Micros fired_at = kNoTime;  // fired_at (UTC), kNoTime when absent or unreadable
  Micros received_at = kNoTime;
};

// Parses a delivery's body. Errors (kInvalid) name the field: "webhook: data[email] is missing",
// "webhook: data[email] \"…\" is not an email address: …", "webhook: unknown type \"…\"".
// A `campaign` event parses (type "campaign", no email): concord ignores it.
Result<WebhookEvent> parse_mailchimp_webhook(std::string_view form_body);

// The stored form of an event (JSON), and back.
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

}  // namespace concord
