#include "apply/effects.h"

#include <algorithm>

#include "concord/member_fields.h"
#include "concord/meta_keys.h"
#include "concord/moves.h"
#include "concord/refusal.h"
#include "concord/snapshot.h"

namespace concord {

Result<std::optional<SnapshotHeader>> header_of(Store& store, const PairHandle& pair, Side side,
                                                const MemberKey& key) {
  Result<std::optional<std::string>> v = store.get(pair, snapshot_family(side), key.view());
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<SnapshotHeader>();
  SnapshotHeader h;
  if (Status s = decode_snapshot_header(**v, &h); !s) return s;
  return std::optional<SnapshotHeader>(h);
}

bool effect_visible(OpKind k, const SnapshotHeader& h) {
  if (k == OpKind::kCrmHoldEmail) return (h.flags & kCrmEmailOnHold) != 0;
  if (k == OpKind::kCrmReleaseHold) return (h.flags & kCrmEmailOnHold) == 0;
  return h.membership == op_info(k).target;
}

bool fields_visible(const std::vector<FieldSpec>& specs, const Operation& op, Side side,
                    const std::string& value) {
  SnapshotView view;
  if (!decode_snapshot(value, &view)) return false;
  MailchimpBody mb;
  CrmBody cb;
  MemberFieldInput in;
  if (side == Side::kMailchimp) {
    if (!decode_mailchimp_body(view.body, &mb)) return false;
    in.mailchimp = &mb;
  } else {
    if (!decode_crm_body(view.body, &cb)) return false;
    in.crm = &cb;
  }
  const MemberFields now = decide_member_fields(specs, in, TieRule::kCrm, 0);
  for (const OpField& f : op.fields) {
    auto it = std::find_if(now.each.begin(), now.each.end(),
                           [&](const FieldOutcome& o) { return o.spec->tag == f.tag; });
    if (it == now.each.end()) return false;
    if ((side == Side::kMailchimp ? it->mailchimp : it->crm) != f.value) return false;
  }
  return true;
}

BaseRecord base_after_write(const Operation& op, Side side, Micros written_at) {
  BaseRecord b = op.base_after;
  if (side == Side::kMailchimp) {
    b.mailchimp_changed_at = written_at;
  } else {
    b.crm_changed_at = written_at;
  }
  return b;
}

Status remember_refusal(Store& store, const PairHandle& pair, const JournalEntry& e,
                        const SideOutcome& o, Batch& b) {
  if (side_of(e.op.kind) != Side::kMailchimp) return Status::ok();
  // Refusals that never change (the address is invalid, or was permanently deleted) are
  // remembered apart from the snapshot, which a full fetch rewrites.
  if (o.conflict == Conflict::kInvalidEmail || o.conflict == Conflict::kForgotten) {
    StoredRefusal r;
    r.kind = o.conflict == Conflict::kInvalidEmail ? Refusal::kInvalidAddress : Refusal::kForgotten;
    r.run_id = e.run_id;
    r.message = o.message;
    b.put(pair, Family::kMeta, meta::refusal_key(e.op.key), encode_refusal(r));
    if (o.conflict == Conflict::kInvalidEmail) return Status::ok();
  }
  if (o.conflict != Conflict::kCleaned && o.conflict != Conflict::kForgotten &&
      o.conflict != Conflict::kCompliance) {
    return Status::ok();
  }
  Result<std::optional<std::string>> v = store.get(pair, Family::kMailchimp, e.op.key.view());
  if (!v) return v.status();
  SnapshotHeader h;
  std::string email = e.op.email, body = "{}";
  if (v->has_value()) {
    SnapshotView view;
    if (Status s = decode_snapshot(**v, &view); !s) return s;
    h = view.header;
    body.assign(view.body);
  }
  MailchimpState st;
  if (Status s = mailchimp_state_of(h, &st); !s) st = MailchimpState{};
  if (o.conflict == Conflict::kCompliance) {
    st.status = MailchimpStatus::kUnsubscribed;
    st.unsubscribe_origin = UnsubscribeOrigin::kSelf;
  } else {
    st.status =
        o.conflict == Conflict::kCleaned ? MailchimpStatus::kCleaned : MailchimpStatus::kForgotten;
  }
  // The change time stays what the snapshot said (kNoTime when absent): learning of a refusal is
  // not a membership change in Mailchimp, and must not make Mailchimp win over the CRM.
  std::string out;
  encode_snapshot(mailchimp_header(st, h.content_hash), email, body, &out);
  b.put(pair, Family::kMailchimp, e.op.key.view(), out);
  return Status::ok();
}

Status finish_move(Store& store, const PairHandle& pair, const Operation& op, Side side, Batch& b) {
  const MemberKey from = member_key(op.from_email);
  const Side moved = other_side(side);
  Result<std::optional<std::string>> v = store.get(pair, snapshot_family(side), from.view());
  if (!v) return v.status();
  if (v->has_value()) {
    SnapshotView view;
    if (Status s = decode_snapshot(**v, &view); !s) return s;
    SnapshotHeader h = view.header;
    h.content_hash = 0;
    std::string out;
    encode_snapshot(h, op.email, view.body, &out);
    b.put(pair, snapshot_family(side), op.key.view(), out);
    b.del(pair, snapshot_family(side), from.view());
    std::string identity;
    if (side == Side::kMailchimp) {
      MailchimpBody body;
      if (decode_mailchimp_body(view.body, &body, MergeFields::kTextOnly)) {
        identity = body.contact_id;
      }
    } else {
      CrmBody body;
      if (decode_crm_body(view.body, &body) && body.contact_id != 0) {
        identity = std::to_string(body.contact_id);
      }
    }
    if (!identity.empty()) b.put(pair, Family::kMeta, identity_key(side, identity), op.key.view());
  }
  Result<std::optional<std::string>> base = store.get(pair, Family::kBase, from.view());
  if (!base) return base.status();
  if (base->has_value()) {
    BaseRecord rec;
    if (decode_base(**base, &rec)) {
      rec.mailchimp_hash = rec.crm_hash = 0;
      std::string out;
      encode_base(rec, &out);
      b.put(pair, Family::kBase, op.key.view(), out);
    }
    b.del(pair, Family::kBase, from.view());
  }
  b.del(pair, Family::kMeta, move_key(moved, op.key));
  return Status::ok();
}

Status refuse_move(Store& store, const PairHandle& pair, const Operation& op, Side side,
                   const std::string& message, Batch& b) {
  const Side moved = other_side(side);
  const std::string key = move_key(moved, op.key);
  Result<std::optional<std::string>> v = store.get(pair, Family::kMeta, key);
  if (!v || !v->has_value()) return v.status();
  Result<AddressMove> m = decode_move(**v);
  if (!m) return m.status();
  m->refused = message.empty() ? "refused" : message;
  b.put(pair, Family::kMeta, key, encode_move(*m));
  return Status::ok();
}

}  // namespace concord
