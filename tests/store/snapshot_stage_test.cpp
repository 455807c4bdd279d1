// The snapshot stage (include/concord/snapshot.h) alone, over fake sides that hand over records
// from tables: status_changed_at, the full fetch's sweep, watermarks, rejected rows, the CRM's
// representative addresses and duplicates, and settling contacts on the address Mailchimp has.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "concord/email.h"
#include "concord/snapshot.h"
#include "core/crm_identity.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;

namespace {

Micros at(int day, int hour = 12) {
  return parse_iso8601("2026-01-" + std::string(day < 10 ? "0" : "") + std::to_string(day) + "T" +
                       (hour < 10 ? "0" : "") + std::to_string(hour) + ":00:00Z")
      .value();
}

// ---- a fake Mailchimp side ----------------------------------------------------------------------

struct FakeMember {
  MailchimpStatus status = MailchimpStatus::kSubscribed;
  Micros last_changed = kNoTime;
  Micros timestamp_opt = kNoTime;
  std::string fname;
};

FakeMember fake(MailchimpStatus status, Micros last_changed, Micros timestamp_opt = kNoTime,
                std::string fname = "") {
  return FakeMember{status, last_changed, timestamp_opt, std::move(fname)};
}

class FakeMailchimpReader final : public MailchimpReader {
 public:
  std::map<std::string, FakeMember> members;  // address as the side spells it → member
  std::set<std::string> skipped;              // left out of read_all, as offset paging can
  std::vector<RejectedRow> bad_rows;          // handed over as rejects by every read_all
  Micros watermark = kNoTime;                 // what reads say they reached
  int fail_after_pages = -1;                  // read_since fails after this many pages
  bool fail_read_all = false;                 // read_all fails after handing its page over
  std::vector<Micros> handed;                 // the watermarks read_since was handed
  std::vector<std::string> asked;             // what read_members was asked, in order
  // Handed over by read_all as a second page (a full read's closing incremental pass).
  std::vector<std::pair<std::string, FakeMember>> also_after;

  Result<SideRead> read_all(std::string_view, MailchimpSink& sink) override {
    for (RejectedRow r : bad_rows)
      sink.reject(std::move(r));
    std::vector<MailchimpRecord> page;
    for (const auto& [email, m] : members) {
      if (!skipped.count(email)) page.push_back(record(email, m));
    }
    if (Status s = sink.records(page); !s) return s;
    if (fail_read_all) return Status::unavailable("Mailchimp answered 503");
    if (!also_after.empty()) {
      std::vector<MailchimpRecord> after;
      for (const auto& [email, m] : also_after)
        after.push_back(record(email, m));
      if (Status s = sink.records(after); !s) return s;
    }
    return SideRead{1, watermark};
  }

  Result<SideRead> read_since(std::string_view, Micros w, MailchimpSink& sink) override {
    handed.push_back(w);
    SideRead read;
    for (const auto& [email, m] : members) {  // one member a page
      if (m.last_changed < w) continue;
      if (fail_after_pages >= 0 && read.pages == static_cast<std::uint64_t>(fail_after_pages)) {
        return Status::unavailable("Mailchimp answered 503");
      }
      std::vector<MailchimpRecord> page = {record(email, m)};
      if (Status s = sink.records(page); !s) return s;
      ++read.pages;
    }
    read.watermark = std::max(w, watermark);
    return read;
  }

  Result<AudienceCounts> audience_counts(std::string_view) override {
    ++counted;
    AudienceCounts c;
    for (const auto& [email, m] : members) {
      c.subscribed += m.status == MailchimpStatus::kSubscribed;
      c.unsubscribed += m.status == MailchimpStatus::kUnsubscribed;
      c.cleaned += m.status == MailchimpStatus::kCleaned;
    }
    return c;
  }
  int counted = 0;

  Result<SideRead> read_members(std::string_view, const std::vector<std::string>& emails,
                                MailchimpSink& sink) override {
    std::vector<MailchimpRecord> page;
    for (const std::string& e : emails) {
      const std::string n = normalise_email(e);
      asked.push_back(n);
      auto it = std::find_if(members.begin(), members.end(),
                             [&](const auto& m) { return normalise_email(m.first) == n; });
      if (it == members.end()) {
        sink.gone(n);
      } else {
        page.push_back(record(it->first, it->second));
      }
    }
    if (Status s = sink.records(page); !s) return s;
    return SideRead{emails.size(), kNoTime};
  }

 private:
  static MailchimpRecord record(const std::string& email, const FakeMember& m) {
    MailchimpRecord r;
    r.email = email;
    r.status = m.status;
    r.last_changed = m.last_changed;
    r.timestamp_opt = m.timestamp_opt;
    r.merge_fields = "{\"FNAME\":\"" + m.fname + "\"}";
    r.last_changed_text = m.last_changed == kNoTime ? "" : format_iso8601(m.last_changed);
    r.timestamp_opt_text = m.timestamp_opt == kNoTime ? "" : format_iso8601(m.timestamp_opt);
    return r;
  }
};

MailchimpState mailchimp_state(TempStore& t, const std::string& email) {
  std::optional<MailchimpState> s = t.mailchimp_state(email);
  REQUIRE(s.has_value());
  return *s;
}

// The stored Mailchimp entry of `email` (REQUIRES: there is one).
std::string stored_entry(TempStore& t, const std::string& email) {
  return t.store->get(*t.pair, Family::kMailchimp, member_key(email).view()).value().value();
}

// Wilma (subscribed) and Fred (unsubscribed) read by a full fetch; returns Wilma's stored entry.
std::string fetch_wilma_and_fred(TempStore& t, FakeMailchimpReader& mc) {
  mc.members["wilma@bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(3), at(1), "Wilma");
  mc.members["fred@bedrock.org"] = fake(MailchimpStatus::kUnsubscribed, at(4), at(1), "Fred");
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  return stored_entry(t, "wilma@bedrock.org");
}

std::optional<std::string> meta(TempStore& t, const std::string& key) {
  return t.store->get(*t.pair, Family::kMeta, key).value();
}

// ---- a fake CRM side ----------------------------------------------------------------------------

class FakeCrmReader final : public CrmReader {
 public:
  std::vector<CrmContact> contacts;
  Micros watermark = kNoTime;
  std::vector<Micros> handed;

  Result<SideRead> read_all(std::int64_t, CrmSink& sink) override {
    std::vector<CrmContact> page = contacts;
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, watermark};
  }
  Result<SideRead> read_since(std::int64_t, Micros w, CrmSink& sink) override {
    handed.push_back(w);
    std::vector<CrmContact> page;
    for (const CrmContact& c : contacts) {
      if (c.changed_at >= w) page.push_back(c);
    }
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, std::max(w, watermark)};
  }
  Result<SideRead> read_contacts(std::int64_t, const std::vector<std::string>& emails,
                                 const std::vector<std::int64_t>& ids, CrmSink& sink) override {
    std::vector<CrmContact> page;
    for (const CrmContact& c : contacts) {
      bool take = std::count(ids.begin(), ids.end(), c.contact_id) != 0;
      for (const CrmAddress& a : c.addresses) {
        take |= std::count(emails.begin(), emails.end(), normalise_email(a.email)) != 0;
      }
      if (take) page.push_back(c);
    }
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, kNoTime};
  }

  // Contacts outside the group: only read_by_address sees them (besides those above).
  std::vector<CrmContact> outside;
  std::vector<std::vector<std::string>> looked_up;  // the addresses of each read_by_address

  Result<SideRead> read_by_address(const std::vector<std::string>& emails, CrmSink& sink) override {
    looked_up.push_back(emails);
    std::vector<CrmContact> page;
    for (const std::vector<CrmContact>* list : {&contacts, &outside}) {
      for (const CrmContact& c : *list) {
        for (const CrmAddress& a : c.addresses) {
          if (std::count(emails.begin(), emails.end(), normalise_email(a.email)) == 0) continue;
          CrmContact one = c;
          one.status = CrmStatus::kNone;
          one.changed_at = kNoTime;
          one.addresses = {a};
          page.push_back(std::move(one));
        }
      }
    }
    if (Status s = sink.records(page); !s) return s;
    return SideRead{1, kNoTime};
  }

  CrmContact& add(std::int64_t id, CrmStatus status, std::vector<CrmAddress> addresses,
                  Micros changed_at = at(1)) {
    CrmContact c;
    c.contact_id = id;
    c.status = status;
    c.changed_at = changed_at;
    c.first_name = "C" + std::to_string(id);
    c.addresses = std::move(addresses);
    contacts.push_back(c);
    return contacts.back();
  }
};

// The CRM member stored under an address, or nullopt.
std::optional<CrmMember> crm_member(TempStore& t, const std::string& email) {
  auto v = t.store->get(*t.pair, Family::kCrm, member_key(email).view());
  REQUIRE(v.is_ok());
  if (!v->has_value()) return std::nullopt;
  Result<MemberRecords> r = read_member(*t.store, *t.pair, member_key(email));
  REQUIRE(r.is_ok());
  REQUIRE(r->crm_body.has_value());
  CrmMember m;
  m.contact_id = r->crm_body->contact_id;
  m.state = *r->crm;
  m.duplicates = r->crm_body->duplicates;
  m.addresses = r->crm_body->addresses;
  CHECK(r->email == email);
  return m;
}

std::size_t entries(TempStore& t, Family f) {
  return t.entries(f).size();
}

}  // namespace

// ---- Mailchimp ----------------------------------------------------------------------------------

TEST_CASE("stage: status_changed_at is kept while the status stays, and moves when it changes") {
  TempStore t;
  FakeMailchimpReader mc;
  mc.members["Wilma@Bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(3), at(1), "Wilma");
  mc.members["pebbles@bedrock.org"] = fake(MailchimpStatus::kPending, at(6), kNoTime, "Pebbles");
  mc.members["fred@bedrock.org"] = fake(MailchimpStatus::kUnsubscribed, at(4), at(1), "Fred");
  mc.watermark = at(10);
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  // First sight: the opt-in time for subscribed members, else last_changed.
  CHECK(mailchimp_state(t, "wilma@bedrock.org").changed_at == at(1));
  CHECK(mailchimp_state(t, "pebbles@bedrock.org").changed_at == at(6));
  CHECK(mailchimp_state(t, "fred@bedrock.org").changed_at == at(4));
  // A name edit moves last_changed only: the stored time stays.
  mc.members["Wilma@Bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(12), at(1), "Wilhelmina");
  // A status change: last_changed is the change time.
  mc.members["pebbles@bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(13), at(13), "Pebbles");
  REQUIRE(fetch_mailchimp(mc, "L1", false, *t.store, *t.pair).is_ok());
  CHECK(mailchimp_state(t, "wilma@bedrock.org").changed_at == at(1));
  CHECK(mailchimp_state(t, "pebbles@bedrock.org").status == MailchimpStatus::kSubscribed);
  CHECK(mailchimp_state(t, "pebbles@bedrock.org").changed_at == at(13));
  Result<MemberRecords> wilma = read_member(*t.store, *t.pair, member_key("wilma@bedrock.org"));
  REQUIRE(wilma.is_ok());
  REQUIRE(wilma->mailchimp_body.has_value());
  CHECK(wilma->mailchimp_body->merge_fields ==
        std::vector<std::pair<std::string, std::string>>{{"FNAME", "Wilhelmina"}});
}

TEST_CASE("stage: an entry marked unchanged counts as seen and written, and is not written again") {
  TempStore t;
  const MemberKey wilma = member_key("wilma@bedrock.org"), fred = member_key("fred@bedrock.org");
  {
    SnapshotWriter w(*t.store, *t.pair, Side::kMailchimp, SnapshotWriter::Mode::kFull);
    std::vector<SnapshotEntry> page = {{wilma, "stored wilma"}, {fred, "stored fred"}};
    REQUIRE(w.write_page(page).is_ok());
    REQUIRE(w.finish().is_ok());
  }
  // The next full fetch: Wilma unchanged (the store keeps what it holds), Fred rewritten.
  SnapshotWriter w(*t.store, *t.pair, Side::kMailchimp, SnapshotWriter::Mode::kFull);
  std::vector<SnapshotEntry> page = {{wilma, "a value never written", true}, {fred, "new fred"}};
  REQUIRE(w.write_page(page).is_ok());
  REQUIRE(w.finish().is_ok());
  CHECK(w.stats().written == 2);
  CHECK(w.stats().removed == 0);  // Wilma was seen: a full fetch's finish() keeps her
  CHECK(t.store->get(*t.pair, Family::kMailchimp, wilma.view()).value() == "stored wilma");
  CHECK(t.store->get(*t.pair, Family::kMailchimp, fred.view()).value() == "new fred");
}

TEST_CASE("stage: a full re-fetch of members that did not change leaves their entries as stored") {
  TempStore t;
  FakeMailchimpReader mc;
  const std::string before = fetch_wilma_and_fred(t, mc);
  mc.members["fred@bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(9), at(9), "Fred");
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(stored_entry(t, "wilma@bedrock.org") == before);
  CHECK(mailchimp_state(t, "fred@bedrock.org").status == MailchimpStatus::kSubscribed);
  CHECK(mailchimp_state(t, "wilma@bedrock.org").changed_at == at(1));
}

TEST_CASE("stage: a member a full fetch reads twice keeps what it read last, even as stored") {
  TempStore t;
  FakeMailchimpReader mc;
  const std::string before = fetch_wilma_and_fred(t, mc);
  // The next full fetch reads Wilma renamed on its page, then as she was stored on a later one.
  mc.members["wilma@bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(8), at(1), "Wilhelmina");
  mc.also_after = {
      {"wilma@bedrock.org", fake(MailchimpStatus::kSubscribed, at(3), at(1), "Wilma")}};
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(stored_entry(t, "wilma@bedrock.org") == before);
  // And a status changed since the stored entry is dated by the change, the unchanged kept.
  mc.also_after.clear();
  mc.members["fred@bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(9), at(9), "Fred");
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(mailchimp_state(t, "fred@bedrock.org").changed_at == at(9));
  CHECK(mailchimp_state(t, "wilma@bedrock.org").changed_at == at(1));
}

TEST_CASE("stage: a full fetch asks for each member the pages missed, and removes only the 404s") {
  TempStore t;
  FakeMailchimpReader mc;
  for (int i = 0; i < 5; ++i)
    mc.members["p" + std::to_string(i) + "@x.org"] = fake(MailchimpStatus::kSubscribed, at(1 + i));
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(mc.asked.empty());       // nothing stored was missed
  mc.skipped = {"p1@x.org"};     // still a member, missed by paging
  mc.members.erase("p3@x.org");  // really gone
  auto stats = fetch_mailchimp(mc, "L1", true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  std::sort(mc.asked.begin(), mc.asked.end());
  CHECK(mc.asked == std::vector<std::string>{"p1@x.org", "p3@x.org"});
  CHECK(stats->rechecked == 1);
  CHECK(stats->removed == 1);
  CHECK(t.has(Family::kMailchimp, "p1@x.org"));
  CHECK_FALSE(t.has(Family::kMailchimp, "p3@x.org"));
  CHECK(entries(t, Family::kMailchimp) == 4);
}

TEST_CASE("stage: a failed read removes nothing, and keeps the watermark its pages reached") {
  TempStore t;
  FakeMailchimpReader mc;
  for (int i = 0; i < 4; ++i)
    mc.members["p" + std::to_string(i) + "@x.org"] = fake(MailchimpStatus::kSubscribed, at(1 + i));
  mc.watermark = at(5);
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(meta(t, mailchimp_watermark_key("L1")) == std::to_string(at(5)));
  // Three members change; the read fails after two pages.
  mc.members["p0@x.org"].last_changed = at(6);
  mc.members["p1@x.org"].last_changed = at(7);
  mc.members["p2@x.org"].last_changed = at(8);
  mc.members["p2@x.org"].status = MailchimpStatus::kUnsubscribed;
  mc.fail_after_pages = 2;
  mc.watermark = at(9);
  auto r = fetch_mailchimp(mc, "L1", false, *t.store, *t.pair);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().retryable());
  CHECK(mc.handed == std::vector<Micros>{at(5)});
  // The stored watermark advanced with the pages written, not to the end.
  CHECK(meta(t, mailchimp_watermark_key("L1")) == std::to_string(at(7)));
  CHECK(entries(t, Family::kMailchimp) == 4);
  // A full fetch that fails removes nothing either, though its pages lacked members.
  FakeMailchimpReader failing;
  failing.members["p0@x.org"] = mc.members["p0@x.org"];
  failing.fail_read_all = true;
  CHECK_FALSE(fetch_mailchimp(failing, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(failing.asked.empty());
  CHECK(entries(t, Family::kMailchimp) == 4);
  // The next incremental read starts from what was stored, and stores where it ended.
  mc.fail_after_pages = -1;
  mc.members["p2@x.org"] = fake(MailchimpStatus::kUnsubscribed, at(8));
  REQUIRE(fetch_mailchimp(mc, "L1", false, *t.store, *t.pair).is_ok());
  CHECK(mc.handed.back() == at(7));
  CHECK(meta(t, mailchimp_watermark_key("L1")) == std::to_string(at(9)));
  CHECK(mailchimp_state(t, "p2@x.org").status == MailchimpStatus::kUnsubscribed);
}

TEST_CASE("stage: without a stored watermark an incremental fetch reads everything") {
  TempStore t;
  FakeMailchimpReader mc;
  mc.members["a@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.watermark = at(2);
  auto stats = fetch_mailchimp(mc, "L1", false, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(mc.handed.empty());  // read_all, not read_since
  CHECK(stats->watermark == at(2));
  REQUIRE(t.store->put(*t.pair, Family::kMeta, mailchimp_watermark_key("L1"), "soon").is_ok());
  auto bad = fetch_mailchimp(mc, "L1", false, *t.store, *t.pair);
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == Status::Code::kCorruption);
}

TEST_CASE("stage: rejected rows are kept until a full fetch no longer returns them") {
  TempStore t;
  FakeMailchimpReader mc;
  mc.members["wilma@bedrock.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.members["not-an-address"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.bad_rows = {{"gazoo@bedrock.org", "gazoo@bedrock.org", "status", "unknown status \"x\""}};
  mc.watermark = at(5);
  auto stats = fetch_mailchimp(mc, "L1", true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->members == 3);
  CHECK(stats->written == 1);
  CHECK(stats->rejected == 2);
  std::map<std::string, RejectedRow> rejects;
  for (const auto& [k, v] : t.entries(Family::kRejects)) {
    Side side;
    RejectedRow row;
    REQUIRE(decode_reject(v, &side, &row).is_ok());
    CHECK(side == Side::kMailchimp);
    CHECK(k == reject_key(Side::kMailchimp, row.source_id));
    rejects[row.source_id] = row;
  }
  REQUIRE(rejects.size() == 2);
  CHECK(rejects["not-an-address"].field == "email_address");
  CHECK(rejects["not-an-address"].message == "the address has no '@'");
  CHECK(rejects["gazoo@bedrock.org"].field == "status");
  // Fixed on the side: the next full fetch drops them; an incremental one would not.
  mc.members.erase("not-an-address");
  mc.bad_rows.clear();
  REQUIRE(fetch_mailchimp(mc, "L1", false, *t.store, *t.pair).is_ok());
  CHECK(entries(t, Family::kRejects) == 2);
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(entries(t, Family::kRejects) == 0);
}

TEST_CASE("stage: a refresh writes what it reads, removes the gone, and keeps the watermark") {
  TempStore t;
  FakeMailchimpReader mc;
  mc.members["a@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.members["b@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.watermark = at(3);
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  mc.members["a@x.org"] = fake(MailchimpStatus::kUnsubscribed, at(4));
  mc.members.erase("b@x.org");
  mc.watermark = at(5);
  auto stats = refresh_mailchimp(mc, "L1", {" A@X.org", "b@x.org", "c@x.org"}, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->written == 1);
  CHECK(stats->removed == 1);  // b; c was never stored
  CHECK(stats->watermark == kNoTime);
  CHECK(mailchimp_state(t, "a@x.org").changed_at == at(4));
  CHECK_FALSE(t.has(Family::kMailchimp, "b@x.org"));
  CHECK(meta(t, mailchimp_watermark_key("L1")) == std::to_string(at(3)));
}

TEST_CASE("stage: a member deleted permanently shows in the counts, and a full read removes it") {
  TempStore t;
  FakeMailchimpReader mc;
  mc.members["a@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.members["b@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  mc.members["c@x.org"] = fake(MailchimpStatus::kUnsubscribed, at(1));
  mc.watermark = at(2);
  auto first = fetch_mailchimp(mc, "L1", false, *t.store, *t.pair);  // no watermark: full
  REQUIRE(first.is_ok());
  CHECK(first->full);
  CHECK(mc.counted == 0);

  SECTION("counts agree: the incremental read is all") {
    auto next = fetch_mailchimp(mc, "L1", false, *t.store, *t.pair);
    REQUIRE(next.is_ok());
    CHECK(mc.counted == 1);
    CHECK_FALSE(next->full);
    CHECK_FALSE(next->counts_differed);
  }
  SECTION("b deleted permanently: no incremental read sees it; the counts do") {
    mc.members.erase("b@x.org");
    auto next = fetch_mailchimp(mc, "L1", false, *t.store, *t.pair);
    REQUIRE(next.is_ok());
    CHECK(next->counts_differed);
    CHECK(next->full);
    CHECK(next->removed == 1);
    CHECK_FALSE(t.has(Family::kMailchimp, "b@x.org"));
    CHECK(t.has(Family::kMailchimp, "a@x.org"));
  }
}

// ---- CRM ----------------------------------------------------------------------------------------

TEST_CASE("stage: CRM contacts are keyed by their representative address, duplicates merged") {
  TempStore t;
  FakeCrmReader crm;
  crm.add(1, CrmStatus::kAdded, {{"home@x.org", true, false, 0}, {"Bulk@X.org", false, true, 0}});
  crm.add(2, CrmStatus::kAdded, {{"held@x.org", true, false, 1}, {"live@x.org", false, false, 0}});
  crm.add(3, CrmStatus::kRemoved, {{"shared@x.org", true, false, 0}});
  crm.add(4, CrmStatus::kAdded, {{"SHARED@x.org ", true, false, 0}});
  crm.add(5, CrmStatus::kAdded, {});
  crm.add(6, CrmStatus::kAdded, {{"not an address", true, false, 0}});
  crm.watermark = at(9);
  auto stats = fetch_crm(crm, 42, true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->members == 6);
  CHECK(stats->rejected == 2);
  CHECK(stats->watermark == at(9));
  CHECK(meta(t, civicrm_watermark_key(42)) == std::to_string(at(9)));
  std::optional<CrmMember> bulk = crm_member(t, "bulk@x.org");
  REQUIRE(bulk.has_value());
  CHECK(bulk->contact_id == 1);
  CHECK(bulk->addresses.size() == 2);  // both kept, for settling
  CHECK_FALSE(crm_member(t, "home@x.org").has_value());
  std::optional<CrmMember> live = crm_member(t, "live@x.org");
  REQUIRE(live.has_value());
  CHECK_FALSE(live->state.email_on_hold);
  std::optional<CrmMember> shared = crm_member(t, "shared@x.org");
  REQUIRE(shared.has_value());
  CHECK(shared->contact_id == 4);  // in the group
  CHECK(shared->duplicates == std::vector<std::int64_t>{3});
  CHECK(shared->state.duplicate);
  CHECK(shared->addresses.empty());
  CHECK(entries(t, Family::kRejects) == 2);
  CHECK(t.entries(Family::kRejects).count(reject_key(Side::kCrm, "contact 5")) == 1);
}

TEST_CASE("stage: contacts outside the group that Mailchimp subscribers are become known") {
  TempStore t;
  FakeCrmReader crm;
  FakeMailchimpReader mc;
  crm.add(1, CrmStatus::kAdded, {{"in@x.org", true, false, 0}});
  mc.members["in@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  // Pebbles is in no group; two contacts outside the group share twin@; Gone has no contact;
  // Left unsubscribed in Mailchimp, so nobody looks her up.
  CrmContact pebbles;
  pebbles.contact_id = 7;
  pebbles.do_not_email = true;
  pebbles.modified_at = at(2);
  pebbles.addresses = {{"Pebbles@x.org", true, false, 0}};
  crm.outside.push_back(pebbles);
  for (std::int64_t id : {9, 8}) {
    CrmContact twin;
    twin.contact_id = id;
    twin.addresses = {{"twin@x.org", true, false, 0}};
    crm.outside.push_back(twin);
  }
  CrmContact left;
  left.contact_id = 11;
  left.addresses = {{"left@x.org", true, false, 0}};
  crm.outside.push_back(left);
  mc.members["pebbles@x.org"] = fake(MailchimpStatus::kSubscribed, at(3));
  mc.members["twin@x.org"] = fake(MailchimpStatus::kPending, at(3));
  mc.members["gone@x.org"] = fake(MailchimpStatus::kSubscribed, at(3));
  mc.members["left@x.org"] = fake(MailchimpStatus::kUnsubscribed, at(3));
  REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());

  auto found = look_up_outside_contacts(crm, *t.store, *t.pair);
  REQUIRE(found.is_ok());
  REQUIRE(crm.looked_up.size() == 1);
  std::vector<std::string> asked = crm.looked_up[0];
  std::sort(asked.begin(), asked.end());
  CHECK(asked == std::vector<std::string>{"gone@x.org", "pebbles@x.org", "twin@x.org"});
  std::optional<CrmMember> p = crm_member(t, "pebbles@x.org");
  REQUIRE(p.has_value());
  CHECK(p->contact_id == 7);
  CHECK(p->state.status == CrmStatus::kNone);
  CHECK(p->state.contact_known);
  CHECK(p->state.do_not_email);
  CHECK(p->state.consent_changed_at == at(2));
  std::optional<CrmMember> twin = crm_member(t, "twin@x.org");
  REQUIRE(twin.has_value());
  CHECK(twin->contact_id == 8);  // the lowest id, as inside the group
  CHECK(twin->duplicates == std::vector<std::int64_t>{9});
  CHECK(twin->state.duplicate);
  CHECK_FALSE(crm_member(t, "gone@x.org").has_value());
  CHECK_FALSE(crm_member(t, "left@x.org").has_value());
  CHECK(crm_member(t, "in@x.org")->state.status == CrmStatus::kAdded);  // untouched

  SECTION("a trashed contact in the group gives way to one outside it, the same on every run") {
    crm.add(20, CrmStatus::kAdded, {{"trash@x.org", true, false, 0}}).trashed = true;
    CrmContact live;
    live.contact_id = 21;
    live.addresses = {{"trash@x.org", true, false, 0}};
    crm.outside.push_back(live);
    crm.add(22, CrmStatus::kAdded, {{"alone@x.org", true, false, 0}}).trashed = true;
    mc.members["trash@x.org"] = fake(MailchimpStatus::kSubscribed, at(3));
    mc.members["alone@x.org"] = fake(MailchimpStatus::kSubscribed, at(3));
    REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
    REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
    for (int run = 0; run < 2; ++run) {
      INFO("look-up " << run);
      REQUIRE(look_up_outside_contacts(crm, *t.store, *t.pair).is_ok());
      std::optional<CrmMember> m = crm_member(t, "trash@x.org");
      REQUIRE(m.has_value());
      CHECK(m->contact_id == 21);
      CHECK(m->duplicates == std::vector<std::int64_t>{20});
      CHECK_FALSE(m->state.trashed);
      // Only a trashed contact has the address: the group's record stays.
      std::optional<CrmMember> alone = crm_member(t, "alone@x.org");
      REQUIRE(alone.has_value());
      CHECK(alone->contact_id == 22);
      CHECK(alone->state.status == CrmStatus::kAdded);
    }
  }

  SECTION("asked again while outside; dropped when Mailchimp no longer has them IN") {
    crm.outside[0].do_not_email = false;
    mc.members["twin@x.org"] = fake(MailchimpStatus::kUnsubscribed, at(5));
    REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
    auto again = look_up_outside_contacts(crm, *t.store, *t.pair);
    REQUIRE(again.is_ok());
    CHECK(again->removed == 1);
    CHECK_FALSE(crm_member(t, "pebbles@x.org")->state.do_not_email);
    CHECK_FALSE(crm_member(t, "twin@x.org").has_value());
  }
  SECTION("a contact that gave the address up is forgotten") {
    crm.outside.erase(crm.outside.begin());
    auto again = look_up_outside_contacts(crm, *t.store, *t.pair);
    REQUIRE(again.is_ok());
    CHECK_FALSE(crm_member(t, "pebbles@x.org").has_value());
  }
}

TEST_CASE("stage: many subscribers outside the group are looked up a chunk at a time, in order") {
  // 5 000 subscribers the group does not have, every other one a contact outside it: the first
  // 2 000 addresses are asked first (the calls begin soon), the rest in the next chunk, which is
  // gathered while the first is looked up. A second look-up after 500 of the contacts gave
  // their addresses up forgets exactly those.
  TempStore t;
  FakeCrmReader crm;
  FakeMailchimpReader mc;
  auto email = [](int i) { return "p" + std::to_string(i) + "@x.org"; };
  for (int i = 0; i < 5000; ++i) {
    mc.members[email(i)] = fake(MailchimpStatus::kSubscribed, at(1));
    if (i % 2 != 0) continue;
    CrmContact c;
    c.contact_id = 100 + i;
    c.addresses = {{email(i), true, false, 0}};
    crm.outside.push_back(c);
  }
  REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  auto found = look_up_outside_contacts(crm, *t.store, *t.pair);
  REQUIRE(found.is_ok());
  REQUIRE(crm.looked_up.size() == 2);
  CHECK(crm.looked_up[0].size() == 2000);
  CHECK(crm.looked_up[1].size() == 3000);
  std::set<std::string> asked;
  for (const auto& chunk : crm.looked_up)
    asked.insert(chunk.begin(), chunk.end());
  CHECK(asked.size() == 5000);
  CHECK(found->written == 2500);
  for (int i : {0, 1, 2498, 4998, 4999}) {
    INFO(email(i));
    std::optional<CrmMember> m = crm_member(t, email(i));
    CHECK(m.has_value() == (i % 2 == 0));
    if (m) CHECK(m->contact_id == 100 + i);
  }

  // Contacts whose ids end in 0 (500 of them) gave their addresses up.
  std::erase_if(crm.outside, [](const CrmContact& c) { return c.contact_id % 10 == 0; });
  crm.looked_up.clear();
  auto again = look_up_outside_contacts(crm, *t.store, *t.pair);
  REQUIRE(again.is_ok());
  CHECK(again->removed == 500);
  int known = 0;
  for (int i = 0; i < 5000; i += 2)
    known += crm_member(t, email(i)).has_value();
  CHECK(known == 2000);
}

TEST_CASE("stage: settling moves a contact to the address Mailchimp has") {
  TempStore t;
  FakeCrmReader crm;
  FakeMailchimpReader mc;
  // Barney's bulk-mail address is the rule's pick; Mailchimp knows him by his home address, which
  // is on hold for bounces.
  crm.add(1, CrmStatus::kAdded, {{"home@x.org", true, false, 1}, {"bulk@x.org", false, true, 0}});
  mc.members["home@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(crm_member(t, "bulk@x.org").has_value());
  auto moved = settle_representatives(*t.store, *t.pair);
  REQUIRE(moved.is_ok());
  CHECK(*moved == 1);
  CHECK_FALSE(crm_member(t, "bulk@x.org").has_value());
  std::optional<CrmMember> home = crm_member(t, "home@x.org");
  REQUIRE(home.has_value());
  CHECK(home->contact_id == 1);
  CHECK(home->state.email_on_hold);
  // Settled: nothing moves again, and later reads of the contact keep it there.
  CHECK(settle_representatives(*t.store, *t.pair).value() == 0);
  crm.contacts[0].changed_at = at(20);
  crm.contacts[0].status = CrmStatus::kRemoved;
  REQUIRE(fetch_crm(crm, 42, false, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
  CHECK_FALSE(crm_member(t, "bulk@x.org").has_value());
  REQUIRE(crm_member(t, "home@x.org").has_value());
  CHECK(crm_member(t, "home@x.org")->state.status == CrmStatus::kRemoved);
  CHECK(settle_representatives(*t.store, *t.pair).value() == 0);
}

TEST_CASE("stage: a contact settled on another contact's address becomes its duplicate") {
  TempStore t;
  FakeCrmReader crm;
  FakeMailchimpReader mc;
  crm.add(7, CrmStatus::kAdded, {{"a@x.org", false, true, 0}, {"b@x.org", true, false, 0}});
  crm.add(3, CrmStatus::kRemoved, {{"b@x.org", true, false, 0}});
  mc.members["b@x.org"] = fake(MailchimpStatus::kSubscribed, at(1));
  REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(settle_representatives(*t.store, *t.pair).value() == 1);
  CHECK_FALSE(crm_member(t, "a@x.org").has_value());
  std::optional<CrmMember> b = crm_member(t, "b@x.org");
  REQUIRE(b.has_value());
  CHECK(b->contact_id == 7);  // in the group
  CHECK(b->duplicates == std::vector<std::int64_t>{3});
  CHECK(b->state.duplicate);
}

// Regression: settling read the chosen address through a reference into the moved member, so
// when the contact already at that address won the merge the address was read from freed
// memory (a segfault in the million-member benchmark's second run; valgrind shows it here).
TEST_CASE("stage: a contact settled onto the address of a contact that wins keeps the address") {
  TempStore t;
  FakeCrmReader crm;
  FakeMailchimpReader mc;
  crm.add(7, CrmStatus::kRemoved,
          {{"a-long-enough-address-to-live-on-the-heap@x.org", false, true, 0},
           {"b-long-enough-address-to-live-on-the-heap@x.org", true, false, 0}});
  crm.add(3, CrmStatus::kAdded,
          {{"b-long-enough-address-to-live-on-the-heap@x.org", true, false, 0}});
  mc.members["b-long-enough-address-to-live-on-the-heap@x.org"] =
      fake(MailchimpStatus::kSubscribed, at(1));
  REQUIRE(fetch_crm(crm, 42, true, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_mailchimp(mc, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(settle_representatives(*t.store, *t.pair).value() == 1);
  std::optional<CrmMember> b = crm_member(t, "b-long-enough-address-to-live-on-the-heap@x.org");
  REQUIRE(b.has_value());
  CHECK(b->contact_id == 3);  // in the group: it wins
  CHECK(b->duplicates == std::vector<std::int64_t>{7});
  const auto stored = t.entries(Family::kCrm);
  REQUIRE(stored.count(std::string(
              member_key("b-long-enough-address-to-live-on-the-heap@x.org").view())) == 1);
  SnapshotView v;
  REQUIRE(
      decode_snapshot(stored.at(std::string(
                          member_key("b-long-enough-address-to-live-on-the-heap@x.org").view())),
                      &v)
          .is_ok());
  CHECK(v.email == "b-long-enough-address-to-live-on-the-heap@x.org");
}

TEST_CASE("stage: the two fetches in either order give the same snapshots") {
  auto seed = [](FakeCrmReader& crm, FakeMailchimpReader& mc) {
    crm.add(1, CrmStatus::kAdded, {{"home@x.org", true, false, 0}, {"bulk@x.org", false, true, 0}});
    crm.add(2, CrmStatus::kAdded, {{"only@x.org", true, false, 0}});
    crm.add(7, CrmStatus::kAdded, {{"a@x.org", false, true, 0}, {"b@x.org", true, false, 0}});
    crm.add(3, CrmStatus::kRemoved, {{"b@x.org", true, false, 0}});
    crm.add(9, CrmStatus::kAdded, {{"p@x.org", true, false, 0}, {"q@x.org", false, false, 2}});
    mc.members["home@x.org"] = fake(MailchimpStatus::kSubscribed, at(11));
    mc.members["b@x.org"] = fake(MailchimpStatus::kUnsubscribed, at(12));
    mc.members["q@x.org"] = fake(MailchimpStatus::kSubscribed, at(13));
    mc.members["new@x.org"] = fake(MailchimpStatus::kSubscribed, at(14));
  };
  for (bool incremental : {false, true}) {
    DYNAMIC_SECTION((incremental ? "incremental" : "full") << " fetches") {
      TempStore mc_first, crm_first;
      FakeCrmReader crm;
      FakeMailchimpReader mc;
      seed(crm, mc);
      if (incremental) {  // a run before, where Mailchimp had none of them
        FakeMailchimpReader empty;
        empty.watermark = at(10);
        crm.watermark = at(10);
        for (TempStore* t : {&mc_first, &crm_first}) {
          REQUIRE(fetch_mailchimp(empty, "L1", true, *t->store, *t->pair).is_ok());
          REQUIRE(fetch_crm(crm, 42, true, *t->store, *t->pair).is_ok());
          REQUIRE(settle_representatives(*t->store, *t->pair).is_ok());
        }
        crm.contacts[0].changed_at = at(20);
      }
      REQUIRE(fetch_mailchimp(mc, "L1", !incremental, *mc_first.store, *mc_first.pair).is_ok());
      REQUIRE(fetch_crm(crm, 42, !incremental, *mc_first.store, *mc_first.pair).is_ok());
      REQUIRE(settle_representatives(*mc_first.store, *mc_first.pair).is_ok());
      REQUIRE(fetch_crm(crm, 42, !incremental, *crm_first.store, *crm_first.pair).is_ok());
      REQUIRE(fetch_mailchimp(mc, "L1", !incremental, *crm_first.store, *crm_first.pair).is_ok());
      REQUIRE(settle_representatives(*crm_first.store, *crm_first.pair).is_ok());
      CHECK(mc_first.entries(Family::kCrm) == crm_first.entries(Family::kCrm));
      CHECK(mc_first.entries(Family::kMailchimp) == crm_first.entries(Family::kMailchimp));
      // And the members are where Mailchimp has them.
      CHECK(crm_member(mc_first, "home@x.org").has_value());
      CHECK_FALSE(crm_member(mc_first, "bulk@x.org").has_value());
      std::optional<CrmMember> q = crm_member(mc_first, "q@x.org");
      REQUIRE(q.has_value());
      CHECK(q->state.email_on_hold);
      std::optional<CrmMember> b = crm_member(mc_first, "b@x.org");
      REQUIRE(b.has_value());
      CHECK(b->contact_id == 7);
      CHECK(b->duplicates == std::vector<std::int64_t>{3});
    }
  }
}
