// The encodings of stored members and rejected rows (docs/store-format.md writes them as a
// grammar), each with its encoder and decoder in one place, used by every reader.
//
// A snapshot value is a fixed 20-byte header, the member's normalised email, and the side's record
// (its *body*) as JSON. The diff reads only the header for members that did not change, so it never
// parses JSON for them. The base value is a fixed 36-byte record.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
inline constexpr std::uint8_t kCrmDeceased = 1u << 6;
inline constexpr std::uint8_t kCrmHoldOptOut = 1u << 7;  // the address is on hold as an opt-out
// The bits that withhold consent (CrmState::consent_withheld): a member with one of them set is
// never on the diff's fast path.
inline constexpr std::uint8_t kCrmConsentFlags =
    kCrmTrashed | kCrmDoNotEmail | kCrmIsOptOut | kCrmDeceased | kCrmHoldOptOut;
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

// A mapped field's base: the value (canonical, field_value.h) both sides last agreed on.
struct FieldBase {
  std::string tag;  // the merge tag
  std::string value;

  bool operator==(const FieldBase&) const = default;
};

struct BaseRecord {
  Membership membership = Membership::kOut;
  Micros mailchimp_changed_at = kNoTime;
  Micros crm_changed_at = kNoTime;
  std::uint64_t mailchimp_hash = 0;  // content hashes of both sides when they last agreed
  std::uint64_t crm_hash = 0;
  // The mapped fields' bases, by tag (ascending, each once); a field never agreed on has none.
  std::vector<FieldBase> fields{};

  // The base of `tag`, or nullptr.
  const FieldBase* field(std::string_view tag) const;
  // Sets the base of `tag` (keeping the order).
  void set_field(std::string_view tag, std::string_view value);

  BaseState state() const { return {membership, mailchimp_changed_at, crm_changed_at}; }
  bool operator==(const BaseRecord&) const = default;
};

// The fixed 36 bytes, then, when there are field bases, each as: tag length (1 byte), tag, value
// length (2 bytes, big-endian), value. A value of the fixed size alone has no field bases.
// REQUIRES: tags < 256 bytes, values < 65536 bytes.
void encode_base(const BaseRecord& base, std::string* out);
Status decode_base(std::string_view value, BaseRecord* base);
// Decodes only the fixed part (no field bases): what the diff's fast path needs.
Status decode_base_fixed(std::string_view value, BaseRecord* base);

// 64-bit FNV-1a: a stable hash (the same on every platform and release) for stored content hashes.
std::uint64_t content_hash(std::string_view data, std::uint64_t seed = 0xcbf29ce484222325ull);

// ---- Mailchimp bodies ---------------------------------------------------------------------------

// What a Mailchimp snapshot body holds besides the header: the member's merge fields and the times
// as Mailchimp sent them.
struct MailchimpBody {
  // Merge tag → value, for the fields whose value is a string (an address object or a number is
  // left out here; merge_values has them).
  std::vector<std::pair<std::string, std::string>> merge_fields;
  // Merge tag → the value as minified JSON, of every type ("\"Ann\"", "15.5", "{…}").
  std::vector<std::pair<std::string, std::string>> merge_values;
  std::string merge_fields_json;  // the merge_fields object, minified ("" when there is none)
  std::string last_changed;       // ISO 8601 as sent, or empty
  std::string timestamp_opt;      // ISO 8601 as sent, or empty
  std::string unsubscribe_reason;
  std::string contact_id;  // Mailchimp's contact_id, or empty
};

// Appends the body of a member to *out (not cleared: the ingest path builds the value in place).
// `merge_fields_json` is the member's merge_fields object as Mailchimp sent it, minified ("{}"
// when absent); the times are as sent, already checked to be ISO 8601 or empty, so they hold
// nothing that needs escaping. An empty reason is left out.
// `contact_id` (32 hex digits, or empty: left out) likewise needs no escaping.
void append_mailchimp_body(std::string_view merge_fields_json, std::string_view last_changed,
                           std::string_view timestamp_opt, std::string_view unsubscribe_reason,
                           std::string* out, std::string_view contact_id = {});
// What decode_mailchimp_body() reads of the merge fields: their lists of tags and values (what
// the field rules compare), or only their object as text (a backup, a member's identity: each
// field's pair of strings was most of a backup's allocations).
enum class MergeFields : std::uint8_t { kLists, kTextOnly };
// Decodes a body. kCorruption when it is not a JSON object; absent members are left empty.
Status decode_mailchimp_body(std::string_view body, MailchimpBody* out,
                             MergeFields merge = MergeFields::kLists);
// The content hash of a Mailchimp member: FNV-1a over email ‖ merge_fields_json.
std::uint64_t mailchimp_content_hash(std::string_view email, std::string_view merge_fields_json);

// ---- CRM bodies ---------------------------------------------------------------------------------

// One address of a CRM contact, as the snapshot keeps it.
struct CrmBodyAddress {
  std::string email;  // normalised
  bool is_primary = false;
  bool is_bulkmail = false;
  int on_hold = 0;  // CiviCRM's on_hold: 0 no, 1 bounces, 2 opted out

  bool operator==(const CrmBodyAddress&) const = default;
};

// What a CRM snapshot body holds: the contact that represents the address, the other contacts that
// have it (duplicates), and, for a contact with more than one address, all of its addresses (so
// that the member can be moved to another of them without reading the CRM again).
struct CrmBody {
  std::int64_t contact_id = 0;
  std::string first_name;
  std::string last_name;
  std::vector<std::int64_t> duplicates;   // other contacts with this address, ascending
  std::vector<CrmBodyAddress> addresses;  // empty, or every address of the contact (two or more)
  Micros consent_changed_at = kNoTime;    // CrmState::consent_changed_at
  // The mapped contact fields (sync `fields`) as text, by CRM field name, in the order read.
  std::vector<std::pair<std::string, std::string>> fields{};
  Micros modified_at = kNoTime;  // the contact's modified_date when read (fields' change time)
  // A one-way source's id for the person (Auth0 user_id, a cohort member's id): the people side
  // of such a pair has no CRM contact, and contact_id is 0.
  std::string source_id{};

  bool operator==(const CrmBody&) const = default;
};

// The body as compact JSON: {"contact_id","first_name","last_name"} then "duplicates",
// "addresses", "consent_changed_at" (µs since the epoch, UTC), "fields" (an object),
// "modified_at" (µs) and "source_id" only when not empty. Invalid UTF-8
// in names is replaced by U+FFFD.
std::string encode_crm_body(const CrmBody& body);
// kCorruption when the body is not a JSON object; absent or mistyped members are left at their
// defaults (a contact id given as a decimal string is read as a number).
Status decode_crm_body(std::string_view body, CrmBody* out);
// True when the body may list addresses (a cheap test before decode_crm_body: a name cannot fake
// it, since quotes inside JSON strings are escaped).
bool crm_body_has_addresses(std::string_view body);
// True when the body may hold a consent time (a cheap test before decode_crm_body, as above).
bool crm_body_has_consent_time(std::string_view body);
// The content hash of a CRM member: FNV-1a over email ‖ first_name ‖ 0x1f ‖ last_name, then
// ‖ 0x1e ‖ name ‖ 0x1f ‖ value for each mapped field.
std::uint64_t crm_content_hash(std::string_view email, std::string_view first_name,
                               std::string_view last_name,
                               const std::vector<std::pair<std::string, std::string>>& fields = {});

// ---- rejected rows ------------------------------------------------------------------------------

// A row a side returned that cannot be a member (an invalid email, a missing or unknown status, an
// unreadable time). Kept in the rejects family and listed in the report; never sent anywhere.
struct RejectedRow {
  std::string source_id;  // the side's id for the row (CRM contact id; Mailchimp: the raw email)
  std::string email;      // as the side gave it
  std::string field;      // the offending field, e.g. "email_address"
  std::string message;    // why, e.g. "the address has no '@'"

  bool operator==(const RejectedRow&) const = default;
};

// The rejects family's key for a row: side byte, then the first 255 bytes of the source id.
std::string reject_key(Side side, std::string_view source_id);
// The value: compact JSON {"email","field","message","side","source_id"}; bytes that are not
// valid UTF-8 become U+FFFD.
std::string encode_reject(Side side, const RejectedRow& row);
// kCorruption when the value is not a JSON object; *side is kMailchimp unless it says "crm".
Status decode_reject(std::string_view value, Side* side, RejectedRow* row);

}  // namespace concord
