// After both fetches: each CRM member whose contact has several addresses goes to the address
// among them that the Mailchimp snapshot has. The CRM fetch cannot do this itself without reading
// the Mailchimp snapshot, which would make the order of the two fetches matter.
#include <map>

#include "concord/email.h"
#include "concord/snapshot.h"
#include "snapshot/crm_ingest.h"

namespace concord {
namespace {

// A CRM member that may have to move.
struct Candidate {
  MemberKey key;
  CrmMember member;
};

// Candidates are settled this many at a time (one Mailchimp look-up and one write each).
constexpr std::size_t kChunk = 1000;

}  // namespace

Result<std::uint64_t> settle_representatives(Store& store, const PairHandle& pair) {
  // Only members of one contact that lists several addresses can move; their bodies say so. A
  // member several contacts share is left: the others' addresses are not kept.
  std::vector<Candidate> candidates;
  {
    Cursor c = store.scan(pair, Family::kCrm);
    for (c.seek_to_first(); c.valid(); c.next()) {
      if (!crm_body_has_addresses(c.value())) continue;
      Candidate cand;
      std::string email;
      if (!member_key_from_bytes(c.key(), &cand.key)) continue;
      if (!crm_member_of(c.value(), &cand.member, &email)) continue;
      if (!cand.member.duplicates.empty() || cand.member.addresses.size() < 2) continue;
      candidates.push_back(std::move(cand));
    }
    if (Status s = c.status(); !s) return s;
  }

  std::uint64_t moved = 0;
  KeySet touched;  // keys this pass wrote or deleted: a candidate read before is stale
  for (std::size_t start = 0; start < candidates.size(); start += kChunk) {
    const std::size_t end = std::min(candidates.size(), start + kChunk);
    // Which of the candidates' addresses Mailchimp has.
    std::vector<MemberKey> asked;
    for (std::size_t i = start; i < end; ++i) {
      for (const CrmBodyAddress& a : candidates[i].member.addresses)
        asked.push_back(member_key(a.email));
    }
    std::vector<std::string_view> views;
    views.reserve(asked.size());
    for (const MemberKey& k : asked)
      views.push_back(k.view());
    std::vector<std::optional<std::string>> in_mailchimp;
    if (Status s = store.multi_get(pair, Family::kMailchimp, views, &in_mailchimp); !s) return s;

    Batch batch;
    // This chunk's writes (nullopt: deleted), for a key met again before the batch is written.
    std::map<MemberKey, std::optional<std::string>> written;
    std::size_t n = 0;
    for (std::size_t i = start; i < end; ++i) {
      Candidate& cand = candidates[i];
      std::vector<AddressFacts> facts;
      bool any_preferred = false;
      for (const CrmBodyAddress& a : cand.member.addresses) {
        AddressFacts f;
        f.usable = check_email(a.email) == EmailProblem::kOk;
        f.is_primary = a.is_primary;
        f.is_bulkmail = a.is_bulkmail;
        f.on_hold = a.on_hold != 0;
        f.preferred = f.usable && in_mailchimp[n].has_value();
        any_preferred |= f.preferred;
        facts.push_back(f);
        ++n;
      }
      // Nothing in Mailchimp to match: the member stays where the CRM fetch put it.
      if (!any_preferred || touched.count(cand.key)) continue;
      const std::size_t chosen = representative_address(facts);
      // A copy: the member (and its addresses) is moved, and may be merged into another, below.
      const CrmBodyAddress target = cand.member.addresses[chosen];
      const MemberKey target_key = member_key(target.email);
      if (target_key == cand.key) continue;

      CrmMember m = std::move(cand.member);
      m.state.email_on_hold = target.on_hold != 0;
      m.state.hold_opt_out = target.on_hold == 2;
      // The member already at the target: the same contact (a stale entry, or one concord wrote
      // after adding the contact) is replaced; another contact makes the two duplicates.
      std::optional<std::string> there;
      if (auto it = written.find(target_key); it != written.end()) {
        there = it->second;
      } else {
        Result<std::optional<std::string>> v = store.get(pair, Family::kCrm, target_key.view());
        if (!v) return v.status();
        there = std::move(*v);
      }
      if (there) {
        CrmMember other;
        std::string other_email;
        if (crm_member_of(*there, &other, &other_email) && other.contact_id != 0 &&
            other.contact_id != m.contact_id) {
          m = merge_duplicates(std::move(other), std::move(m));
        }
      }
      std::string value = crm_entry_of(m, target.email);
      batch.put(pair, Family::kCrm, target_key.view(), value);
      batch.del(pair, Family::kCrm, cand.key.view());
      written[target_key] = std::move(value);
      written[cand.key] = std::nullopt;
      touched.insert(target_key);
      touched.insert(cand.key);
      ++moved;
    }
    if (batch.count() > 0) {
      if (Status s = store.write(batch); !s) {
        return s.with_context("moving CRM members to the address Mailchimp has");
      }
    }
  }
  return moved;
}

}  // namespace concord
