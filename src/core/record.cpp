#include "concord/record.h"

#include <cstring>

namespace concord {
namespace {

void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

Status version_mismatch(std::uint8_t found) {
  return Status::failed_precondition("stored value has format version " + std::to_string(found) +
                                     "; this concord reads version " +
                                     std::to_string(kFormatVersion));
}

}  // namespace

void encode_snapshot(const SnapshotHeader& h, std::string_view email, std::string_view body,
                     std::string* out) {
  out->resize(kSnapshotHeaderSize + 2 + email.size() + body.size());
  char* p = out->data();
  p[0] = static_cast<char>(h.version);
  p[1] = static_cast<char>(h.membership);
  p[2] = static_cast<char>(h.status);
  p[3] = static_cast<char>(h.flags);
  put_u64(p + 4, static_cast<std::uint64_t>(h.changed_at));
  put_u64(p + 12, h.content_hash);
  p[20] = static_cast<char>(email.size() & 0xff);
  p[21] = static_cast<char>((email.size() >> 8) & 0xff);
  std::memcpy(p + 22, email.data(), email.size());
  if (!body.empty()) std::memcpy(p + 22 + email.size(), body.data(), body.size());
}

Status decode_snapshot_header(std::string_view v, SnapshotHeader* h) {
  if (v.size() < kSnapshotHeaderSize + 2) {
    return Status::corruption("snapshot value of " + std::to_string(v.size()) +
                              " bytes is shorter than its header");
  }
  const char* p = v.data();
  h->version = static_cast<std::uint8_t>(p[0]);
  if (h->version != kFormatVersion) return version_mismatch(h->version);
  auto m = static_cast<std::uint8_t>(p[1]);
  if (m > 1) return Status::corruption("snapshot header has membership byte " + std::to_string(m));
  h->membership = static_cast<Membership>(m);
  h->status = static_cast<std::uint8_t>(p[2]);
  h->flags = static_cast<std::uint8_t>(p[3]);
  h->changed_at = static_cast<Micros>(get_u64(p + 4));
  h->content_hash = get_u64(p + 12);
  return Status::ok();
}

Status decode_snapshot(std::string_view v, SnapshotView* view) {
  Status s = decode_snapshot_header(v, &view->header);
  if (!s) return s;
  std::size_t len = static_cast<unsigned char>(v[20]) |
                    (static_cast<std::size_t>(static_cast<unsigned char>(v[21])) << 8);
  if (v.size() < kSnapshotHeaderSize + 2 + len) {
    return Status::corruption("snapshot value is shorter than its email length says");
  }
  view->email = v.substr(kSnapshotHeaderSize + 2, len);
  view->body = v.substr(kSnapshotHeaderSize + 2 + len);
  return Status::ok();
}

SnapshotHeader mailchimp_header(const MailchimpState& s, std::uint64_t hash) {
  SnapshotHeader h;
  h.membership = s.membership();
  h.status = static_cast<std::uint8_t>(s.status);
  h.flags = static_cast<std::uint8_t>(s.unsubscribe_origin) & kMailchimpOriginMask;
  h.changed_at = s.changed_at;
  h.content_hash = hash;
  return h;
}

SnapshotHeader crm_header(const CrmState& s, std::uint64_t hash) {
  SnapshotHeader h;
  h.membership = s.membership();
  h.status = static_cast<std::uint8_t>(s.status);
  h.flags = static_cast<std::uint8_t>(
      (s.contact_known ? kCrmContactKnown : 0) | (s.trashed ? kCrmTrashed : 0) |
      (s.do_not_email ? kCrmDoNotEmail : 0) | (s.is_opt_out ? kCrmIsOptOut : 0) |
      (s.email_on_hold ? kCrmEmailOnHold : 0) | (s.duplicate ? kCrmDuplicate : 0));
  h.changed_at = s.changed_at;
  h.content_hash = hash;
  return h;
}

Status mailchimp_state_of(const SnapshotHeader& h, MailchimpState* out) {
  if (h.status > kMailchimpStatusMax || (h.flags & kMailchimpOriginMask) > 2) {
    return Status::corruption("Mailchimp snapshot header has status " + std::to_string(h.status) +
                              ", flags " + std::to_string(h.flags));
  }
  out->status = static_cast<MailchimpStatus>(h.status);
  out->unsubscribe_origin = static_cast<UnsubscribeOrigin>(h.flags & kMailchimpOriginMask);
  out->changed_at = h.changed_at;
  return Status::ok();
}

Status crm_state_of(const SnapshotHeader& h, CrmState* out) {
  if (h.status > kCrmStatusMax) {
    return Status::corruption("CRM snapshot header has status " + std::to_string(h.status));
  }
  out->status = static_cast<CrmStatus>(h.status);
  out->changed_at = h.changed_at;
  out->contact_known = (h.flags & kCrmContactKnown) != 0;
  out->trashed = (h.flags & kCrmTrashed) != 0;
  out->do_not_email = (h.flags & kCrmDoNotEmail) != 0;
  out->is_opt_out = (h.flags & kCrmIsOptOut) != 0;
  out->email_on_hold = (h.flags & kCrmEmailOnHold) != 0;
  out->duplicate = (h.flags & kCrmDuplicate) != 0;
  return Status::ok();
}

void encode_base(const BaseRecord& b, std::string* out) {
  out->resize(kBaseRecordSize);
  char* p = out->data();
  p[0] = static_cast<char>(kFormatVersion);
  p[1] = static_cast<char>(b.membership);
  p[2] = 0;
  p[3] = 0;
  put_u64(p + 4, static_cast<std::uint64_t>(b.mailchimp_changed_at));
  put_u64(p + 12, static_cast<std::uint64_t>(b.crm_changed_at));
  put_u64(p + 20, b.mailchimp_hash);
  put_u64(p + 28, b.crm_hash);
}

Status decode_base(std::string_view v, BaseRecord* b) {
  if (v.size() != kBaseRecordSize) {
    return Status::corruption("base value of " + std::to_string(v.size()) + " bytes (expected " +
                              std::to_string(kBaseRecordSize) + ")");
  }
  const char* p = v.data();
  auto version = static_cast<std::uint8_t>(p[0]);
  if (version != kFormatVersion) return version_mismatch(version);
  auto m = static_cast<std::uint8_t>(p[1]);
  if (m > 1) return Status::corruption("base has membership byte " + std::to_string(m));
  b->membership = static_cast<Membership>(m);
  b->mailchimp_changed_at = static_cast<Micros>(get_u64(p + 4));
  b->crm_changed_at = static_cast<Micros>(get_u64(p + 12));
  b->mailchimp_hash = get_u64(p + 20);
  b->crm_hash = get_u64(p + 28);
  return Status::ok();
}

std::uint64_t content_hash(std::string_view data, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace concord
