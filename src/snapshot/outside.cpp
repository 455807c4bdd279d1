// After both fetches: the CRM contacts outside the group that Mailchimp subscribers already are.
// Without them the plan would count such a subscriber as a contact to create, while the sync then
// finds the contact and adds it (docs/decision-rules.md: the plan is exact).
#include <set>
#include <vector>

#include "concord/email.h"
#include "concord/snapshot.h"
#include "snapshot/crm_ingest.h"

namespace concord {
namespace {

// Addresses are looked up this many at a time (the reader splits them into calls of its own).
constexpr std::size_t kChunk = 20000;

// What the CRM snapshot holds for an address Mailchimp has IN.
enum class Held : std::uint8_t {
  kNothing,  // no contact: the plan would create one
  kOutside,  // a contact concord looked up outside the group (no history): looked up again
  kTrashed,  // only a contact in the trash has history in the group: one outside may replace it
  kMember,   // a contact with history in the group, not in the trash
};

Held held(std::string_view value) {
  SnapshotHeader h;
  if (!decode_snapshot_header(value, &h)) return Held::kMember;  // the diff reports it
  if (h.status == static_cast<std::uint8_t>(CrmStatus::kNone)) return Held::kOutside;
  return (h.flags & kCrmTrashed) != 0 ? Held::kTrashed : Held::kMember;
}

bool outside_the_group(std::string_view value) {
  return held(value) == Held::kOutside;
}

// Passes on the contacts of the addresses that have one outside the trash: an address with only
// trashed contacts stays as the group read left it (a trashed contact with history, or nothing).
class UsableOnly final : public CrmSink {
 public:
  explicit UsableOnly(CrmSink& next) : next_(next) {}

  Status records(std::vector<CrmContact>& page) override {
    std::set<std::string> usable;
    for (const CrmContact& c : page) {
      if (!c.trashed && !c.addresses.empty()) usable.insert(normalise_email(c.addresses[0].email));
    }
    std::erase_if(page, [&](const CrmContact& c) {
      return c.addresses.empty() || usable.count(normalise_email(c.addresses[0].email)) == 0;
    });
    return next_.records(page);
  }

 private:
  CrmSink& next_;
};

class OutsideLookup {
 public:
  OutsideLookup(CrmReader& reader, Store& store, const PairHandle& pair)
      : reader_(reader), store_(store), pair_(pair) {}

  Result<FetchStats> run() {
    Cursor mc = store_.scan(pair_, Family::kMailchimp);
    Cursor crm = store_.scan(pair_, Family::kCrm);
    mc.seek_to_first();
    crm.seek_to_first();
    while (mc.valid() || crm.valid()) {
      const int c = !crm.valid() ? -1 : !mc.valid() ? 1 : mc.key().compare(crm.key());
      if (c > 0) {
        // A looked-up contact whom Mailchimp no longer has: of no use to the plan any more.
        if (outside_the_group(crm.value())) stale_.emplace_back(crm.key());
        crm.next();
        continue;
      }
      SnapshotView v;
      if (Status s = decode_snapshot(mc.value(), &v); !s) return s.with_context("mailchimp record");
      const bool in_mailchimp = v.header.membership == Membership::kIn;
      const bool crm_here = c == 0;
      const Held h = crm_here ? held(crm.value()) : Held::kNothing;
      if (in_mailchimp && h != Held::kMember) {
        // Looked up again every run while outside the group: flags of contacts outside the group
        // are not watched by incremental fetches.
        MemberKey key;
        if (member_key_from_bytes(mc.key(), &key)) {
          keys_.push_back(key);
          emails_.emplace_back(v.email);
          held_.push_back(h);
        }
        if (keys_.size() >= kChunk) {
          if (Status s = flush(); !s) return s;
        }
      } else if (crm_here && outside_the_group(crm.value())) {
        stale_.emplace_back(crm.key());
      }
      mc.next();
      if (crm_here) crm.next();
    }
    if (Status s = mc.status(); !s) return s;
    if (Status s = crm.status(); !s) return s;
    if (Status s = flush(); !s) return s;
    Batch batch;
    for (const std::string& k : stale_)
      batch.del(pair_, Family::kCrm, k);
    stats_.removed += stale_.size();
    if (batch.count() > 0) {
      if (Status s = store_.write(batch); !s) return s;
    }
    return stats_;
  }

 private:
  // Reads one chunk's contacts into the snapshot; an address that no longer has a contact loses
  // the one looked up before.
  Status flush() {
    if (keys_.empty()) return Status::ok();
    CrmIngest ingest(store_, pair_, SnapshotWriter::Mode::kIncremental);
    // The contacts found replace what was stored for the address (the trashed contacts are found
    // too, so a trashed contact with history is one of the duplicates either way, and a second
    // look-up writes what the first did).
    for (const MemberKey& k : keys_)
      ingest.asked.insert(k);
    UsableOnly usable(ingest);
    Result<SideRead> read = reader_.read_by_address(emails_, usable);
    if (!read) return read.status().with_context("looking up contacts outside the group");
    if (Status s = ingest.writer().finish(); !s) return s;
    stats_.pages += read->pages;
    stats_.members += ingest.counts().members;
    stats_.written += ingest.counts().written;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (held_[i] == Held::kOutside && !ingest.written.count(keys_[i])) {
        // The contact gave the address up (or went to the trash).
        stale_.emplace_back(keys_[i].view());
      }
    }
    keys_.clear();
    emails_.clear();
    held_.clear();
    return Status::ok();
  }

  CrmReader& reader_;
  Store& store_;
  const PairHandle& pair_;
  std::vector<MemberKey> keys_;      // the chunk being gathered
  std::vector<std::string> emails_;  // their addresses
  std::vector<Held> held_;           // what the snapshot held for each
  std::vector<std::string> stale_;   // keys of looked-up contacts to remove
  FetchStats stats_;
};

}  // namespace

Result<FetchStats> look_up_outside_contacts(CrmReader& reader, Store& store,
                                            const PairHandle& pair) {
  return OutsideLookup(reader, store, pair).run();
}

}  // namespace concord
