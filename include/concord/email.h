// Member identity: the normalised email address and Mailchimp's subscriber hash.
//
// A member is keyed by its normalised email (trimmed, ASCII lower-cased). The store key is the
// 16-byte MD5 digest of that string; its lower-case hex form is Mailchimp's subscriber hash.
//
// Thread-safety: all functions here are pure and may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "concord/status.h"

namespace concord {

// Why an address was rejected. kOk means it is acceptable.
enum class EmailProblem : std::uint8_t {
  kOk = 0,
  kEmpty,
  kTooLong,    // more than 254 characters, or a local part over 64
  kNoAt,       // no '@'
  kSeveralAt,  // more than one '@' (quoted local parts are not accepted)
  kEmptyLocalPart,
  kBadLocalPart,  // a character outside RFC 5322 atext, or a misplaced dot
  kEmptyDomain,
  kBadDomain,         // a label that is empty, too long, or has characters other than a-z 0-9 -
  kNoTopLevelDomain,  // the domain has no dot, or its last label is not alphabetic
  kNonAscii,          // internationalised addresses are not accepted by Mailchimp
  kWhitespaceInside,  // spaces or control characters inside the address
};

// A human sentence for a problem, e.g. "the address has no '@'".
std::string_view describe(EmailProblem problem);

// Trims surrounding whitespace and lower-cases ASCII letters. Does not validate.
std::string normalise_email(std::string_view raw);

// Checks an already-normalised address. Returns kOk when it is acceptable.
EmailProblem check_email(std::string_view normalised);

// Normalises and validates. On failure returns kInvalid whose message names the problem
// (never a partial address that could be confused with another).
Result<std::string> parse_email(std::string_view raw);

// 16-byte MD5 digest of a normalised address: the store key of a member.
struct MemberKey {
  std::array<std::uint8_t, 16> bytes{};

  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  auto operator<=>(const MemberKey&) const = default;
};

// REQUIRES: `normalised` came from normalise_email() (hashing an unnormalised string gives a key
// that does not match Mailchimp's).
MemberKey member_key(std::string_view normalised);

// Builds a key from 16 stored bytes. Returns false when `bytes` is not 16 long.
bool member_key_from_bytes(std::string_view bytes, MemberKey* out);

// Lower-case hex of a key: Mailchimp's subscriber hash.
std::string subscriber_hash(const MemberKey& key);
inline std::string subscriber_hash(std::string_view normalised) {
  return subscriber_hash(member_key(normalised));
}

}  // namespace concord
