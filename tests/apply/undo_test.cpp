// `concord undo`'s parts that need no sides: the inverse of each write, and the journal keeping
// what an undo needs (what the written side held before, the side's time of the write).
#include <catch2/catch.hpp>

#include "concord/journal.h"
#include "concord/undo.h"

using namespace concord;

namespace {

std::uint8_t mc(MailchimpStatus s) {
  return static_cast<std::uint8_t>(s);
}

}  // namespace

TEST_CASE("undo: the inverse of every write") {
  struct Row {
    OpKind done;
    std::optional<std::uint8_t> before;
    std::optional<OpKind> inverse;
  };
  const Row rows[] = {
      // Someone concord subscribed is unsubscribed; one it brought back from the archive is
      // archived again.
      {OpKind::kMailchimpSubscribe, mc(MailchimpStatus::kAbsent), OpKind::kMailchimpUnsubscribe},
      {OpKind::kMailchimpSubscribe, std::nullopt, OpKind::kMailchimpUnsubscribe},
      {OpKind::kMailchimpSubscribe, mc(MailchimpStatus::kUnsubscribed),
       OpKind::kMailchimpUnsubscribe},
      {OpKind::kMailchimpSubscribe, mc(MailchimpStatus::kArchived), OpKind::kMailchimpArchive},
      {OpKind::kMailchimpPending, mc(MailchimpStatus::kUnsubscribed),
       OpKind::kMailchimpUnsubscribe},
      // Someone it unsubscribed or archived is subscribed again (pending if they were pending).
      {OpKind::kMailchimpUnsubscribe, mc(MailchimpStatus::kSubscribed),
       OpKind::kMailchimpSubscribe},
      {OpKind::kMailchimpUnsubscribe, mc(MailchimpStatus::kPending), OpKind::kMailchimpPending},
      {OpKind::kMailchimpArchive, mc(MailchimpStatus::kSubscribed), OpKind::kMailchimpSubscribe},
      // The group: added ↔ removed; a created contact is removed from the group (and left).
      {OpKind::kCrmAdd, std::nullopt, OpKind::kCrmRemove},
      {OpKind::kCrmCreateContact, std::nullopt, OpKind::kCrmRemove},
      {OpKind::kCrmRemove, std::nullopt, OpKind::kCrmAdd},
      // A hold is lifted; lifting it is undone by a hold.
      {OpKind::kCrmHoldEmail, std::nullopt, OpKind::kCrmReleaseHold},
      {OpKind::kCrmReleaseHold, std::nullopt, OpKind::kCrmHoldEmail},
      // Fields are written back (with their values before).
      {OpKind::kMailchimpUpdateFields, std::nullopt, OpKind::kMailchimpUpdateFields},
      {OpKind::kCrmUpdateFields, std::nullopt, OpKind::kCrmUpdateFields},
      // Tags and interests.
      {OpKind::kMailchimpAddTag, std::nullopt, OpKind::kMailchimpRemoveTag},
      {OpKind::kMailchimpRemoveTag, std::nullopt, OpKind::kMailchimpAddTag},
      {OpKind::kMailchimpAddInterest, std::nullopt, OpKind::kMailchimpRemoveInterest},
      {OpKind::kMailchimpRemoveInterest, std::nullopt, OpKind::kMailchimpAddInterest},
      // Address changes are not undone.
      {OpKind::kMailchimpChangeEmail, std::nullopt, std::nullopt},
      {OpKind::kCrmChangeEmail, std::nullopt, std::nullopt},
  };
  for (const Row& r : rows) {
    INFO(op_kind_name(r.done) << " before " << (r.before ? int(*r.before) : -1));
    CHECK(inverse_of(r.done, r.before) == r.inverse);
  }
  // Every kind has a row.
  for (const OpKindInfo& k : kOpKinds) {
    bool listed = false;
    for (const Row& r : rows)
      listed |= r.done == k.kind;
    INFO(k.name);
    CHECK(listed);
  }
}

TEST_CASE("undo: the journal keeps what the written side held before, and when it was written") {
  JournalEntry e;
  e.run_id = 7;
  e.seq = 3;
  e.state = JournalState::kDone;
  e.at = 1'000;
  e.written_at = 900;
  e.op.email = "wilma@bedrock.org";
  e.op.key = member_key(e.op.email);
  e.op.kind = OpKind::kMailchimpUpdateFields;
  e.op.reason = Reason::kUndo;
  e.op.fields = {{"FNAME", "Wilma"}};
  e.op.restores_base = true;
  e.op.base_after.membership = Membership::kIn;
  e.op.base_after.set_field("FNAME", "Wilma");
  OpBefore before;
  before.status = static_cast<std::uint8_t>(MailchimpStatus::kSubscribed);
  before.fields = {{"FNAME", "Wilhelmina"}};
  BaseRecord base;
  base.membership = Membership::kIn;
  base.mailchimp_changed_at = 500;
  base.crm_changed_at = 400;
  base.set_field("FNAME", "Wilhelmina");
  before.base = base;
  e.op.before = before;

  Result<JournalEntry> back = decode_journal_entry(journal_key(7, 3), encode_journal_entry(e));
  REQUIRE(back.is_ok());
  CHECK(back->written_at == 900);
  CHECK(back->op.restores_base);
  CHECK(back->op.reason == Reason::kUndo);
  REQUIRE(back->op.before.has_value());
  CHECK(*back->op.before == before);
  CHECK(back->op.base_after == e.op.base_after);

  // A member with no base before says so (null), and an entry written before any of this has
  // no `before` at all.
  e.op.before->base.reset();
  back = decode_journal_entry(journal_key(7, 3), encode_journal_entry(e));
  REQUIRE(back.is_ok());
  REQUIRE(back->op.before.has_value());
  CHECK_FALSE(back->op.before->base.has_value());
  e.op.before.reset();
  e.op.restores_base = false;
  back = decode_journal_entry(journal_key(7, 3), encode_journal_entry(e));
  REQUIRE(back.is_ok());
  CHECK_FALSE(back->op.before.has_value());
  CHECK_FALSE(back->op.restores_base);

  // A malformed `before` is an error naming the entry and the field.
  Result<JournalEntry> bad = decode_journal_entry(
      journal_key(7, 3),
      R"({"email":"wilma@bedrock.org","kind":0,"reason":0,"note":0,"state":1,"base":[1,0,0,0,0],)"
      R"("before":{"status":"x"}})");
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().message().find("journal entry 7/3") != std::string::npos);
  CHECK(bad.status().message().find("before.status") != std::string::npos);
}
