#include "apply/effects.h"

#include <algorithm>

#include "concord/member_fields.h"
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

}  // namespace concord
