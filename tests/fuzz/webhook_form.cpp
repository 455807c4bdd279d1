// A Mailchimp webhook delivery's form body, as the daemon receives it from anyone who knows the
// URL, and the stored form of an event, as the inbox reads it back. Each is an event or an error;
// an event parsed from a delivery survives being stored and read back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "serve/webhook.h"

using namespace concord;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  Result<WebhookEvent> e = parse_mailchimp_webhook(in);
  if (e) {
    Result<WebhookEvent> back = decode_webhook_event(encode_webhook_event(*e));
    if (!back || back->type != e->type || back->list_id != e->list_id || back->email != e->email ||
        back->old_email != e->old_email || back->action != e->action ||
        back->fired_at != e->fired_at) {
      __builtin_trap();  // the inbox would store something other than what came in
    }
  }

  // The same bytes as a stored event (the store is ours, but a file restored from elsewhere or a
  // bit flipped on disk must be kCorruption, not an abort of the daemon's worker).
  (void)decode_webhook_event(in);

  (void)webhook_signature_ok("secret", in, in);
  return 0;
}
