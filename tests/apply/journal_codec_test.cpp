// The journal entry's codec: the binary layout entries are written in, the JSON objects earlier
// releases wrote (a store upgraded in place still has them), and damaged values.
#include <catch2/catch.hpp>

#include "concord/journal.h"

using namespace concord;

namespace {

JournalEntry sample() {
  JournalEntry e;
  e.run_id = 12;
  e.seq = 70000;
  e.state = JournalState::kFailed;
  e.at = 1'767'225'600'000'000;
  e.written_at = kNoTime;
  e.resolved_by = 0;
  e.message = "503 Service Unavailable: \"try later\"\n";
  e.op.email = "fred@bedrock.org";
  e.op.key = member_key(e.op.email);
  e.op.kind = OpKind::kCrmChangeEmail;
  e.op.reason = Reason::kOnlyMailchimpChanged;
  e.op.note = Note::kNone;
  e.op.from_email = "fred.flintstone@bedrock.org";
  e.op.fields = {{"FNAME", "Fred"}, {"ADDRESS", std::string(300, 'x')}, {"EMPTY", ""}};
  e.op.base_after.membership = Membership::kIn;
  e.op.base_after.mailchimp_changed_at = -5;
  e.op.base_after.crm_hash = 0xffffffffffffffffu;
  e.op.base_after.set_field("FNAME", "Fred");
  return e;
}

void check_same(const JournalEntry& a, const JournalEntry& b) {
  CHECK(a.run_id == b.run_id);
  CHECK(a.seq == b.seq);
  CHECK(a.state == b.state);
  CHECK(a.at == b.at);
  CHECK(a.written_at == b.written_at);
  CHECK(a.resolved_by == b.resolved_by);
  CHECK(a.message == b.message);
  CHECK(a.op.key == b.op.key);
  CHECK(a.op.email == b.op.email);
  CHECK(a.op.kind == b.op.kind);
  CHECK(a.op.reason == b.op.reason);
  CHECK(a.op.note == b.op.note);
  CHECK(a.op.from_email == b.op.from_email);
  CHECK(a.op.fields == b.op.fields);
  CHECK(a.op.base_after == b.op.base_after);
  CHECK(a.op.before == b.op.before);
  CHECK(a.op.restores_base == b.op.restores_base);
}

}  // namespace

TEST_CASE("journal: an entry reads back as it was written, every field") {
  JournalEntry e = sample();
  const std::string value = encode_journal_entry(e);
  CHECK(value.front() != '{');  // the binary layout, not JSON
  Result<JournalEntry> back = decode_journal_entry(journal_key(12, 70000), value);
  REQUIRE(back.is_ok());
  check_same(*back, e);

  // The largest values each field takes.
  e.state = JournalState::kSuperseded;
  e.resolved_by = 0xffffffffffffffffu;
  e.written_at = 1'767'225'601'000'000;
  e.op.kind = static_cast<OpKind>(kOpKindCount - 1);
  e.op.reason = Reason::kUndo;
  OpBefore before;
  before.status = 255;
  before.fields = {{"FNAME", ""}};
  e.op.before = before;
  back = decode_journal_entry(journal_key(12, 70000), encode_journal_entry(e));
  REQUIRE(back.is_ok());
  check_same(*back, e);
}

TEST_CASE("journal: entries an earlier release wrote as JSON are still read") {
  Result<JournalEntry> e = decode_journal_entry(
      journal_key(3, 9), R"({"email":"barney@bedrock.org","kind":5,"reason":1,"note":0,"state":1,)"
                         R"("base":[1,100,200,7,8],"message":"","at":1000,"written_at":900,)"
                         R"("fields":[["FNAME","Barney"]],"field_bases":[["FNAME","Barney"]],)"
                         R"("before":{"status":2,"fields":[["FNAME",""]],"base":null}})");
  REQUIRE(e.is_ok());
  CHECK(e->op.email == "barney@bedrock.org");
  CHECK(e->op.key == member_key("barney@bedrock.org"));
  CHECK(e->op.kind == OpKind::kCrmCreateContact);
  CHECK(e->state == JournalState::kDone);
  CHECK(e->at == 1000);
  CHECK(e->written_at == 900);
  CHECK(e->op.base_after.membership == Membership::kIn);
  CHECK(e->op.base_after.mailchimp_changed_at == 100);
  CHECK(e->op.base_after.crm_hash == 8);
  REQUIRE(e->op.base_after.field("FNAME") != nullptr);
  CHECK(e->op.base_after.field("FNAME")->value == "Barney");
  CHECK(e->op.fields == std::vector<OpField>{{"FNAME", "Barney"}});
  REQUIRE(e->op.before.has_value());
  CHECK(e->op.before->status == 2);
  CHECK_FALSE(e->op.before->base.has_value());

  // Marked with an outcome, it is written in the binary layout and reads back the same.
  e->state = JournalState::kDone;
  Result<JournalEntry> again = decode_journal_entry(journal_key(3, 9), encode_journal_entry(*e));
  REQUIRE(again.is_ok());
  check_same(*again, *e);
}

TEST_CASE("journal: a damaged entry is an error naming the entry and the field, never a crash") {
  const std::string value = encode_journal_entry(sample());
  // Every cut of the value is refused (none reads past the end).
  for (std::size_t n = 1; n < value.size(); ++n) {
    Result<JournalEntry> e = decode_journal_entry(journal_key(12, 70000), value.substr(0, n));
    INFO(n);
    REQUIRE_FALSE(e.is_ok());
    CHECK(e.status().code() == Status::Code::kCorruption);
    CHECK(e.status().message().find("journal entry 12/70000: field \"") != std::string::npos);
  }
  // A kind beyond the last, and bytes after the last field.
  std::string bad_kind = value;
  bad_kind[1] = static_cast<char>(kOpKindCount);
  Result<JournalEntry> e = decode_journal_entry(journal_key(12, 70000), bad_kind);
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().message().find("kind") != std::string::npos);
  e = decode_journal_entry(journal_key(12, 70000), value + "x");
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().message().find("after the last field") != std::string::npos);
  // A length that runs past the end.
  std::string long_email = value;
  long_email[30] = '\xff';  // the email's length (after 5 bytes of enums and 3 × 8 of times)
  e = decode_journal_entry(journal_key(12, 70000), long_email);
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().message().find("field \"email\": cut short") != std::string::npos);
}
