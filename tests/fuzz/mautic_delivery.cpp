// A Mautic webhook delivery's raw body, as `concord serve` reads it once its signature matched
// (the secret can leak; Mautic's own test payloads differ from real ones). It is a delivery or an
// error, never an exception or an abort, and what it names is well-formed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "concord/mautic_client.h"

using namespace concord;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Result<MauticDelivery> d = parse_mautic_delivery(in);
  if (d) {
    if (d->changes.size() > kMauticDeliveryMaxItems) __builtin_trap();
    for (const MauticChange& c : d->changes) {
      if (c.contact_id <= 0) __builtin_trap();  // the daemon reads every id it is given
    }
  }
  (void)mautic_signature_ok("secret", in, in);
  return 0;
}
