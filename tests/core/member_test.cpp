#include <catch2/catch.hpp>

#include "concord/member.h"
#include "concord/record.h"

using namespace concord;

TEST_CASE("Mailchimp statuses map to membership as the decision rules say") {
  struct Row {
    const char* status;
    Membership expected;
  };
  for (Row r : {Row{"subscribed", Membership::kIn}, Row{"pending", Membership::kIn},
                Row{"unsubscribed", Membership::kOut}, Row{"cleaned", Membership::kOut},
                Row{"archived", Membership::kOut}, Row{"transactional", Membership::kOut}}) {
    DYNAMIC_SECTION(r.status) {
      auto s = parse_mailchimp_status(r.status);
      REQUIRE(s.has_value());
      CHECK(membership_of(*s) == r.expected);
      CHECK(mailchimp_status_name(*s) == r.status);
    }
  }
  CHECK(membership_of(MailchimpStatus::kAbsent) == Membership::kOut);
  CHECK(membership_of(MailchimpStatus::kForgotten) == Membership::kOut);
  CHECK_FALSE(parse_mailchimp_status("Subscribed").has_value());
  CHECK_FALSE(parse_mailchimp_status("deleted").has_value());
}

TEST_CASE("CRM history statuses map to membership; trash makes a contact OUT") {
  struct Row {
    const char* status;
    bool trashed;
    Membership expected;
  };
  for (Row r : {Row{"Added", false, Membership::kIn}, Row{"Added", true, Membership::kOut},
                Row{"Removed", false, Membership::kOut}, Row{"Pending", false, Membership::kOut},
                Row{"Deleted", false, Membership::kOut}}) {
    DYNAMIC_SECTION(r.status << (r.trashed ? " trashed" : "")) {
      CrmState s;
      s.status = parse_crm_status(r.status).value();
      s.trashed = r.trashed;
      CHECK(s.membership() == r.expected);
    }
  }
  CrmState none;
  CHECK(none.membership() == Membership::kOut);
  CHECK_FALSE(none.present());
}

TEST_CASE("who unsubscribed is read from unsubscribe_reason") {
  CHECK(unsubscribe_origin("N/A (Unsubscribed by admin)") == UnsubscribeOrigin::kAdmin);
  CHECK(unsubscribe_origin("Too many emails") == UnsubscribeOrigin::kSelf);
  CHECK(unsubscribe_origin("") == UnsubscribeOrigin::kUnknown);
}

TEST_CASE("snapshot headers round-trip every state bit") {
  CrmState c;
  c.status = CrmStatus::kAdded;
  c.changed_at = 1'700'000'000'000'000;
  c.contact_known = true;
  c.do_not_email = true;
  c.email_on_hold = true;
  c.duplicate = true;
  std::string v;
  encode_snapshot(crm_header(c, 42), "fred@bedrock.org", "{\"contact_id\":7}", &v);
  SnapshotView view;
  REQUIRE(decode_snapshot(v, &view).is_ok());
  CHECK(view.email == "fred@bedrock.org");
  CHECK(view.body == "{\"contact_id\":7}");
  CHECK(view.header.content_hash == 42);
  CrmState back;
  REQUIRE(crm_state_of(view.header, &back).is_ok());
  CHECK(back.status == c.status);
  CHECK(back.changed_at == c.changed_at);
  CHECK(back.contact_known);
  CHECK(back.do_not_email);
  CHECK_FALSE(back.is_opt_out);
  CHECK(back.email_on_hold);
  CHECK(back.duplicate);
  CHECK_FALSE(back.trashed);

  MailchimpState m{MailchimpStatus::kUnsubscribed, UnsubscribeOrigin::kSelf, kNoTime};
  encode_snapshot(mailchimp_header(m, 7), "wilma@bedrock.org", "{}", &v);
  REQUIRE(decode_snapshot(v, &view).is_ok());
  MailchimpState mback;
  REQUIRE(mailchimp_state_of(view.header, &mback).is_ok());
  CHECK(mback.status == MailchimpStatus::kUnsubscribed);
  CHECK(mback.unsubscribe_origin == UnsubscribeOrigin::kSelf);
  CHECK(mback.changed_at == kNoTime);
  CHECK(view.header.membership == Membership::kOut);
}

TEST_CASE("values of another format version or truncated values are refused") {
  std::string v;
  encode_snapshot(SnapshotHeader{}, "a@b.org", "{}", &v);
  SnapshotView view;
  std::string other = v;
  other[0] = static_cast<char>(kFormatVersion + 1);
  Status s = decode_snapshot(other, &view);
  CHECK(s.code() == Status::Code::kFailedPrecondition);
  CHECK(s.message().find("format version") != std::string::npos);
  CHECK(decode_snapshot(v.substr(0, 10), &view).code() == Status::Code::kCorruption);
  CHECK(decode_snapshot(v.substr(0, 25), &view).code() == Status::Code::kCorruption);

  BaseRecord b{Membership::kIn, 1, 2, 3, 4};
  std::string bv;
  encode_base(b, &bv);
  BaseRecord back;
  REQUIRE(decode_base(bv, &back).is_ok());
  CHECK(back == b);
  CHECK(decode_base(bv.substr(1), &back).code() == Status::Code::kCorruption);
}
