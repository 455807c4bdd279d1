// One member's stored records, decoded: what the engine, `explain`, backups and the daemon read.
#include "concord/snapshot.h"

namespace concord {
namespace {

Status corrupt(Status s, std::string_view family, const MemberKey& key) {
  return s.with_context(std::string(family) + " record " + subscriber_hash(key));
}

}  // namespace

Result<MemberRecords> read_member(Store& store, const PairHandle& pair, const MemberKey& key) {
  MemberRecords out;
  const std::vector<std::string_view> keys = {key.view()};
  std::vector<std::optional<std::string>> mc, crm, base;
  if (Status s = store.multi_get(pair, Family::kMailchimp, keys, &mc); !s) return s;
  if (Status s = store.multi_get(pair, Family::kCrm, keys, &crm); !s) return s;
  if (Status s = store.multi_get(pair, Family::kBase, keys, &base); !s) return s;
  if (mc[0]) {
    SnapshotView v;
    MailchimpState state;
    MailchimpBody body;
    if (Status s = decode_snapshot(*mc[0], &v); !s) return corrupt(s, "mailchimp", key);
    if (Status s = mailchimp_state_of(v.header, &state); !s) return corrupt(s, "mailchimp", key);
    if (Status s = decode_mailchimp_body(v.body, &body); !s) return corrupt(s, "mailchimp", key);
    out.email.assign(v.email);
    out.mailchimp = state;
    out.mailchimp_body = std::move(body);
    out.mailchimp_hash = v.header.content_hash;
  }
  if (crm[0]) {
    SnapshotView v;
    CrmState state;
    CrmBody body;
    if (Status s = decode_snapshot(*crm[0], &v); !s) return corrupt(s, "crm", key);
    if (Status s = crm_state_of(v.header, &state); !s) return corrupt(s, "crm", key);
    if (Status s = decode_crm_body(v.body, &body); !s) return corrupt(s, "crm", key);
    if (out.email.empty()) out.email.assign(v.email);
    state.consent_changed_at = body.consent_changed_at;
    out.crm = state;
    out.crm_body = std::move(body);
    out.crm_hash = v.header.content_hash;
  }
  if (base[0]) {
    BaseRecord b;
    if (Status s = decode_base(*base[0], &b); !s) return corrupt(s, "base", key);
    out.base = b;
  }
  return out;
}

}  // namespace concord
