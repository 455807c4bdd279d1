#include "concord/record.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "concord/parse.h"

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

// ordered_json: a rejected row's keys are written in the documented order.
using ojson = nlohmann::ordered_json;

// dump() with 'replace' never throws on invalid UTF-8 in what a side sent.
template <typename Json>
std::string compact(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string text_of(const ojson& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
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
      (s.email_on_hold ? kCrmEmailOnHold : 0) | (s.duplicate ? kCrmDuplicate : 0) |
      (s.deceased ? kCrmDeceased : 0) | (s.hold_opt_out ? kCrmHoldOptOut : 0));
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
  out->mark.reset();
  if (h.membership != membership_of(out->status)) out->mark = h.membership;
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
  out->deceased = (h.flags & kCrmDeceased) != 0;
  out->hold_opt_out = (h.flags & kCrmHoldOptOut) != 0;
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
  for (const FieldBase& f : b.fields) {
    const std::size_t tag_len = std::min<std::size_t>(f.tag.size(), 255);
    const std::size_t value_len = std::min<std::size_t>(f.value.size(), 65535);
    out->push_back(static_cast<char>(tag_len));
    out->append(f.tag, 0, tag_len);
    out->push_back(static_cast<char>(value_len >> 8));
    out->push_back(static_cast<char>(value_len & 0xff));
    out->append(f.value, 0, value_len);
  }
}

const FieldBase* BaseRecord::field(std::string_view tag) const {
  for (const FieldBase& f : fields) {
    if (f.tag == tag) return &f;
  }
  return nullptr;
}

void BaseRecord::set_field(std::string_view tag, std::string_view value) {
  auto it = std::lower_bound(fields.begin(), fields.end(), tag,
                             [](const FieldBase& f, std::string_view t) { return f.tag < t; });
  if (it != fields.end() && it->tag == tag) {
    it->value.assign(value);
  } else {
    fields.insert(it, FieldBase{std::string(tag), std::string(value)});
  }
}

Status decode_base(std::string_view v, BaseRecord* b) {
  if (Status s = decode_base_fixed(v, b); !s) return s;
  b->fields.clear();
  std::size_t at = kBaseRecordSize;
  while (at < v.size()) {
    const std::size_t tag_len = static_cast<unsigned char>(v[at]);
    if (at + 1 + tag_len + 2 > v.size())
      return Status::corruption("base field record is cut short");
    std::string tag(v.substr(at + 1, tag_len));
    at += 1 + tag_len;
    const std::size_t value_len =
        (static_cast<std::size_t>(static_cast<unsigned char>(v[at])) << 8) |
        static_cast<unsigned char>(v[at + 1]);
    at += 2;
    if (at + value_len > v.size()) return Status::corruption("base field value is cut short");
    b->fields.push_back({std::move(tag), std::string(v.substr(at, value_len))});
    at += value_len;
  }
  return Status::ok();
}

Status decode_base_fixed(std::string_view v, BaseRecord* b) {
  if (v.size() < kBaseRecordSize) {
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

// ---- Mailchimp bodies ---------------------------------------------------------------------------

void append_mailchimp_body(std::string_view merge_fields_json, std::string_view last_changed,
                           std::string_view timestamp_opt, std::string_view unsubscribe_reason,
                           std::string* out, std::string_view contact_id) {
  out->reserve(out->size() + merge_fields_json.size() + last_changed.size() + timestamp_opt.size() +
               60);
  out->append("{\"merge_fields\":");
  out->append(merge_fields_json);
  out->append(",\"last_changed\":\"");
  out->append(last_changed);
  out->append("\",\"timestamp_opt\":\"");
  out->append(timestamp_opt);
  out->push_back('"');
  if (!unsubscribe_reason.empty()) {
    out->append(",\"unsubscribe_reason\":");
    out->append(compact(nlohmann::json(std::string(unsubscribe_reason))));
  }
  if (!contact_id.empty()) {
    out->append(",\"contact_id\":\"");
    out->append(contact_id);
    out->push_back('"');
  }
  out->push_back('}');
}

std::uint64_t mailchimp_content_hash(std::string_view email, std::string_view merge_fields_json) {
  return content_hash(merge_fields_json, content_hash(email));
}

// ---- CRM bodies ---------------------------------------------------------------------------------

bool crm_body_has_addresses(std::string_view body) {
  return body.find("\"addresses\":") != std::string_view::npos;
}

bool crm_body_has_consent_time(std::string_view body) {
  return body.find("\"consent_changed_at\":") != std::string_view::npos;
}

std::uint64_t crm_content_hash(std::string_view email, std::string_view first_name,
                               std::string_view last_name,
                               const std::vector<std::pair<std::string, std::string>>& fields) {
  std::uint64_t h = content_hash(first_name, content_hash(email));
  h = content_hash(last_name, content_hash("\x1f", h));
  for (const auto& [name, value] : fields) {
    h = content_hash(name, content_hash("\x1e", h));
    h = content_hash(value, content_hash("\x1f", h));
  }
  return h;
}

// ---- rejected rows ------------------------------------------------------------------------------

std::string reject_key(Side side, std::string_view source_id) {
  std::string k(1, static_cast<char>(side));
  k.append(source_id.substr(0, 255));
  return k;
}

std::string encode_reject(Side side, const RejectedRow& r) {
  // nlohmann::json sorts keys: email, field, message, side, source_id.
  nlohmann::json j = {{"side", side_name(side)},
                      {"source_id", r.source_id},
                      {"email", r.email},
                      {"field", r.field},
                      {"message", r.message}};
  return compact(j);
}

Status decode_reject(std::string_view value, Side* side, RejectedRow* row) {
  ojson j = ojson::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::corruption("a rejected-row record in the store is not JSON");
  *side = text_of(j, "side") == "crm" ? Side::kCrm : Side::kMailchimp;
  row->source_id = text_of(j, "source_id");
  row->email = text_of(j, "email");
  row->field = text_of(j, "field");
  row->message = text_of(j, "message");
  return Status::ok();
}

}  // namespace concord
