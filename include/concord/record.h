// The binary encodings of stored members (docs/store-format.md writes them as a grammar).
//
// A snapshot value is a fixed 20-byte header, the member's normalised email, and the side's record
// as JSON. The diff reads only the header for members that did not change, so it never parses JSON
// for them. The base value is a fixed 36-byte record.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "concord/member.h"
#include "concord/status.h"

namespace concord {

// The version of every value concord writes, and of the store as a whole. A store or value of
// another version is refused with a clear error rather than misread.
inline constexpr std::uint8_t kFormatVersion = 1;

inline constexpr std::size_t kSnapshotHeaderSize = 20;
inline constexpr std::size_t kBaseRecordSize = 36;

// Flag bits of a CRM snapshot header.
inline constexpr std::uint8_t kCrmContactKnown = 1u << 0;
inline constexpr std::uint8_t kCrmTrashed = 1u << 1;
inline constexpr std::uint8_t kCrmDoNotEmail = 1u << 2;
inline constexpr std::uint8_t kCrmIsOptOut = 1u << 3;
inline constexpr std::uint8_t kCrmEmailOnHold = 1u << 4;
inline constexpr std::uint8_t kCrmDuplicate = 1u << 5;
// Flag bits of a Mailchimp snapshot header: bits 0-1 hold the UnsubscribeOrigin.
inline constexpr std::uint8_t kMailchimpOriginMask = 0x3;

struct SnapshotHeader {
  std::uint8_t version = kFormatVersion;
  Membership membership = Membership::kOut;
  std::uint8_t status = 0;  // a MailchimpStatus or a CrmStatus, by column family
  std::uint8_t flags = 0;
  Micros changed_at = kNoTime;
  std::uint64_t content_hash = 0;  // of the email and the synced fields; see content_hash()

  bool operator==(const SnapshotHeader&) const = default;
};

// A decoded snapshot value. The views point into the value it was decoded from.
struct SnapshotView {
  SnapshotHeader header;
  std::string_view email;
  std::string_view body;  // the side's record, JSON
};

// Appends header, email and body to *out (which is cleared first).
// REQUIRES: email.size() < 65536.
void encode_snapshot(const SnapshotHeader& header, std::string_view email, std::string_view body,
                     std::string* out);

// Decodes only the fixed header. Returns kCorruption for a short value, kFailedPrecondition for a
// value of another format version.
Status decode_snapshot_header(std::string_view value, SnapshotHeader* header);
// Decodes the header, the email and the body.
Status decode_snapshot(std::string_view value, SnapshotView* view);

// Header ↔ state. The status byte is checked: an unknown status is kCorruption.
SnapshotHeader mailchimp_header(const MailchimpState& s, std::uint64_t content_hash);
SnapshotHeader crm_header(const CrmState& s, std::uint64_t content_hash);
Status mailchimp_state_of(const SnapshotHeader& h, MailchimpState* out);
Status crm_state_of(const SnapshotHeader& h, CrmState* out);

struct BaseRecord {
  Membership membership = Membership::kOut;
  Micros mailchimp_changed_at = kNoTime;
  Micros crm_changed_at = kNoTime;
  std::uint64_t mailchimp_hash = 0;  // content hashes of both sides when they last agreed
  std::uint64_t crm_hash = 0;

  BaseState state() const { return {membership, mailchimp_changed_at, crm_changed_at}; }
  bool operator==(const BaseRecord&) const = default;
};

void encode_base(const BaseRecord& base, std::string* out);
Status decode_base(std::string_view value, BaseRecord* base);

// 64-bit FNV-1a: a stable hash (the same on every platform and release) for stored content hashes.
std::uint64_t content_hash(std::string_view data, std::uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace concord
