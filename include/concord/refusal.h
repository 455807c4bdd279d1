// What concord remembers of an address Mailchimp refused for good (see Refusal in member.h).
//
// Stored form (meta "refused/<subscriber hash>"):
//   value   := version:u8 (=1) kind:u8 (Refusal, 1..2) run_id:u64 (big-endian) message:bytes
// Stores written before this encoding hold "<class>: run <N>: <message>" as text (class
// "invalid-email" or "forgotten"); decode_refusal() reads both.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/member.h"
#include "concord/status.h"

namespace concord {

struct StoredRefusal {
  Refusal kind = Refusal::kNone;
  std::uint64_t run_id = 0;  // the run whose write Mailchimp refused
  std::string message;       // Mailchimp's words
};

std::string encode_refusal(const StoredRefusal& r);
// kCorruption, naming what is wrong, for a value of neither form or an unknown kind.
Result<StoredRefusal> decode_refusal(std::string_view value);

}  // namespace concord
