// After both fetches: the CRM contacts outside the group that Mailchimp subscribers already are.
// Without them the plan would count such a subscriber as a contact to create, while the sync then
// finds the contact and adds it (docs/decision-rules.md: the plan is exact).
//
// Thread-safety: a look-up runs on the calling thread and one of its own (the reader is called
// from one thread at a time).
#include <future>
#include <set>
#include <utility>
#include <vector>

#include "concord/email.h"
#include "concord/snapshot.h"
#include "snapshot/crm_ingest.h"

namespace concord {
namespace {

// Addresses are looked up this many at a time (the reader splits them into calls of its own),
// the first chunk fewer, so that the calls begin as soon as there are enough for every connection.
constexpr std::size_t kChunk = 20000;
constexpr std::size_t kFirstChunk = 2000;

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

// The scan of both snapshots gathers the addresses to look up a chunk at a time; each chunk is
// looked up (on a thread of its own) while the scan gathers the next, one chunk at a time.
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
      if (Status s = decode_snapshot(mc.value(), &v); !s) {
        (void)wait();
        return s.with_context("mailchimp record");
      }
      const bool in_mailchimp = v.header.membership == Membership::kIn;
      const bool crm_here = c == 0;
      const Held h = crm_here ? held(crm.value()) : Held::kNothing;
      if (in_mailchimp && h != Held::kMember) {
        // Looked up again every run while outside the group: flags of contacts outside the group
        // are not watched by incremental fetches.
        MemberKey key;
        if (member_key_from_bytes(mc.key(), &key)) {
          next_.keys.push_back(key);
          next_.emails.emplace_back(v.email);
          next_.held.push_back(h);
        }
        if (next_.keys.size() >= (sent_ == 0 ? kFirstChunk : kChunk)) {
          if (Status s = send(); !s) return s;
        }
      } else if (crm_here && outside_the_group(crm.value())) {
        stale_.emplace_back(crm.key());
      }
      mc.next();
      if (crm_here) crm.next();
    }
    Status scanned = mc.status();
    if (scanned) scanned = crm.status();
    if (scanned) scanned = send();
    if (Status s = wait(); scanned && !s) scanned = s;
    if (!scanned) return scanned;
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
  struct Chunk {
    std::vector<MemberKey> keys;      // the addresses' keys
    std::vector<std::string> emails;  // the addresses
    std::vector<Held> held;           // what the snapshot held for each
    // What its look-up found:
    FetchStats stats;
    std::vector<std::string> stale;  // keys of looked-up contacts to remove
  };

  // Once the chunk before has been looked up, starts looking up the one gathered.
  Status send() {
    if (Status s = wait(); !s) return s;
    if (next_.keys.empty()) return Status::ok();
    ++sent_;
    in_flight_ = std::async(std::launch::async, [this, c = std::move(next_)]() mutable {
      Status s = look_up(c);
      return std::make_pair(std::move(s), std::move(c));
    });
    next_ = Chunk{};
    return Status::ok();
  }

  // Waits for the chunk being looked up, and takes in what it found.
  Status wait() {
    if (!in_flight_.valid()) return Status::ok();
    auto [s, c] = in_flight_.get();
    if (!s) return s;
    stats_.pages += c.stats.pages;
    stats_.members += c.stats.members;
    stats_.written += c.stats.written;
    stale_.insert(stale_.end(), std::make_move_iterator(c.stale.begin()),
                  std::make_move_iterator(c.stale.end()));
    return Status::ok();
  }

  // Reads one chunk's contacts into the snapshot; an address that no longer has a contact loses
  // the one looked up before.
  Status look_up(Chunk& c) {
    CrmIngest ingest(store_, pair_, SnapshotWriter::Mode::kIncremental);
    // The contacts found replace what was stored for the address (the trashed contacts are found
    // too, so a trashed contact with history is one of the duplicates either way, and a second
    // look-up writes what the first did).
    for (const MemberKey& k : c.keys)
      ingest.asked.insert(k);
    UsableOnly usable(ingest);
    Result<SideRead> read = reader_.read_by_address(c.emails, usable);
    if (!read) return read.status().with_context("looking up contacts outside the group");
    if (Status s = ingest.writer().finish(); !s) return s;
    c.stats.pages += read->pages;
    c.stats.members += ingest.counts().members;
    c.stats.written += ingest.counts().written;
    for (std::size_t i = 0; i < c.keys.size(); ++i) {
      if (c.held[i] == Held::kOutside && !ingest.written.count(c.keys[i])) {
        // The contact gave the address up (or went to the trash).
        c.stale.emplace_back(c.keys[i].view());
      }
    }
    return Status::ok();
  }

  CrmReader& reader_;
  Store& store_;
  const PairHandle& pair_;
  Chunk next_;  // the chunk being gathered
  std::size_t sent_ = 0;
  std::future<std::pair<Status, Chunk>> in_flight_;  // the chunk being looked up
  std::vector<std::string> stale_;                   // keys of looked-up contacts to remove
  FetchStats stats_;
};

}  // namespace

Result<FetchStats> look_up_outside_contacts(CrmReader& reader, Store& store,
                                            const PairHandle& pair) {
  return OutsideLookup(reader, store, pair).run();
}

}  // namespace concord
