// decide_member_fields: one member's mapped fields (docs/decision-rules.md, "Fields"), as a table:
// which values each side is sent, which bases settle, and which values are never sent.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "concord/member_fields.h"

using namespace concord;

namespace {

Micros january(int d) {
  return (Micros{1767225600} + (d - 1) * Micros{86400}) * kMicrosPerSecond;  // 2026-01-d
}

FieldSpec field(const char* tag, const char* crm, MergeType type = MergeType::kText,
                FieldDirection dir = FieldDirection::kBoth) {
  FieldSpec f;
  f.tag = tag;
  f.crm_field = crm;
  f.direction = dir;
  f.merge.tag = tag;
  f.merge.type = type;
  return f;
}

const std::vector<FieldSpec>& specs() {
  static const std::vector<FieldSpec> s = {
      field("FNAME", "first_name"),
      field("LTV", "Donor.Lifetime_Value", MergeType::kNumber, FieldDirection::kToMailchimp),
      field("JOINED", "Member_Info.Member_Since", MergeType::kDate, FieldDirection::kToCrm),
  };
  return s;
}

struct FieldRow {
  const char* name;
  std::vector<std::pair<std::string, std::string>> mailchimp{};  // tag → JSON value
  Micros mailchimp_at = kNoTime;
  std::vector<std::pair<std::string, std::string>> crm{};  // field → text
  Micros crm_at = kNoTime;
  std::vector<FieldBase> base{};
  bool has_mailchimp = true, has_crm = true;
  std::vector<OpField> to_mailchimp{}, to_crm{};
  std::vector<FieldBase> agreed{};
  std::string problem{};  // a substring of problems(); "" for none
};

}  // namespace

TEST_CASE("one member's mapped fields") {
  const std::vector<FieldRow> rows = {
      {.name = "all equal: nothing sent, every base settles",
       .mailchimp = {{"FNAME", R"("Wilma")"}, {"LTV", "15.5"}, {"JOINED", R"("2020-01-31")"}},
       .crm = {{"first_name", "Wilma"},
               {"Donor.Lifetime_Value", "15.50"},
               {"Member_Info.Member_Since", "2020-01-31"}},
       .agreed = {{"FNAME", "Wilma"}, {"LTV", "15.5"}, {"JOINED", "2020-01-31"}}},
      {.name = "the CRM's name changed since the base: Mailchimp gets it",
       .mailchimp = {{"FNAME", R"("Wilma")"}},
       .mailchimp_at = january(9),
       .crm = {{"first_name", "Wilhelmina"}},
       .crm_at = january(2),
       .base = {{"FNAME", "Wilma"}},
       .to_mailchimp = {{"FNAME", "Wilhelmina"}}},
      {.name = "Mailchimp's name changed since the base: the CRM gets it",
       .mailchimp = {{"FNAME", R"("Wilhelmina")"}},
       .mailchimp_at = january(2),
       .crm = {{"first_name", "Wilma"}},
       .crm_at = january(9),
       .base = {{"FNAME", "Wilma"}},
       .to_crm = {{"FNAME", "Wilhelmina"}}},
      {.name = "both changed: the later change",
       .mailchimp = {{"FNAME", R"("Willa")"}},
       .mailchimp_at = january(3),
       .crm = {{"first_name", "Wilhelmina"}},
       .crm_at = january(4),
       .base = {{"FNAME", "Wilma"}},
       .to_mailchimp = {{"FNAME", "Wilhelmina"}}},
      {.name = "a blank never overwrites: the blank side is filled",
       .mailchimp = {{"FNAME", R"("")"}},
       .mailchimp_at = january(9),
       .crm = {{"first_name", "Wilma"}},
       .crm_at = january(1),
       .base = {{"FNAME", "Wilma"}},
       .to_mailchimp = {{"FNAME", "Wilma"}}},
      {.name = "a member Mailchimp does not have yet gets the CRM's values",
       .crm = {{"first_name", "Betty"}, {"Donor.Lifetime_Value", "7"}},
       .has_mailchimp = false,
       .to_mailchimp = {{"FNAME", "Betty"}, {"LTV", "7"}}},
      {.name = "a new contact gets Mailchimp's values where the direction allows",
       .mailchimp = {{"FNAME", R"("Pebbles")"}, {"LTV", "3"}, {"JOINED", R"("2024-06-01")"}},
       .has_crm = false,
       .to_crm = {{"FNAME", "Pebbles"}, {"JOINED", "2024-06-01"}}},
      {.name = "a one-way field takes its source's value, whatever changed",
       .mailchimp = {{"LTV", "99"}},
       .mailchimp_at = january(9),
       .crm = {{"Donor.Lifetime_Value", "12"}},
       .crm_at = january(1),
       .base = {{"LTV", "12"}},
       .to_mailchimp = {{"LTV", "12"}}},
      {.name = "a value Mailchimp would refuse is reported, never sent",
       .mailchimp = {{"LTV", "5"}},
       .crm = {{"Donor.Lifetime_Value", "lots"}},
       .problem = "LTV: the CRM's value \"lots\" (Donor.Lifetime_Value) is not sent: Please enter "
                  "a number"},
      {.name = "a contact read before a field was mapped: nothing decided for it",
       .mailchimp = {{"FNAME", R"("Wilma")"}, {"JOINED", R"("2024-06-01")"}},
       .crm = {{"first_name", "Wilma"}},
       .agreed = {{"FNAME", "Wilma"}}},
      {.name = "an unconvertible CRM value Mailchimp overwrites is no problem",
       .mailchimp = {{"JOINED", R"("2024-06-01")"}},
       .crm = {{"Member_Info.Member_Since", "someday"}},
       .to_crm = {{"JOINED", "2024-06-01"}}},
  };
  for (const FieldRow& r : rows) {
    SECTION(r.name) {
      MailchimpBody mb;
      mb.merge_values = r.mailchimp;
      CrmBody cb;
      cb.fields = r.crm;
      cb.modified_at = r.crm_at;
      BaseRecord base;
      base.fields = r.base;
      MemberFieldInput in;
      in.mailchimp = r.has_mailchimp ? &mb : nullptr;
      in.mailchimp_changed_at = r.mailchimp_at;
      in.crm = r.has_crm ? &cb : nullptr;
      in.base = &base;
      const MemberFields f = decide_member_fields(specs(), in, TieRule::kCrm, 0);
      CHECK(f.to_mailchimp == r.to_mailchimp);
      CHECK(f.to_crm == r.to_crm);
      if (!r.agreed.empty()) CHECK(f.agreed == r.agreed);
      if (r.problem.empty()) {
        CHECK(f.problems().empty());
      } else {
        CHECK_THAT(f.problems(), Catch::Matchers::Contains(r.problem));
      }
    }
  }
}

TEST_CASE("the tie rule `out` settles a field as the CRM's") {
  MailchimpBody mb;
  mb.merge_values = {{"FNAME", R"("Willa")"}};
  CrmBody cb;
  cb.fields = {{"first_name", "Wilhelmina"}};
  cb.modified_at = january(4);
  MemberFieldInput in{&mb, january(4), &cb, nullptr};
  CHECK(decide_member_fields(specs(), in, TieRule::kOut, 0).to_mailchimp ==
        std::vector<OpField>{{"FNAME", "Wilhelmina"}});
  CHECK(decide_member_fields(specs(), in, TieRule::kMailchimp, 0).to_crm ==
        std::vector<OpField>{{"FNAME", "Willa"}});
}

TEST_CASE("an address Mailchimp gave its default country is the same address") {
  const std::vector<FieldSpec> s = {
      field("ADDRESS", "job_title", MergeType::kAddress, FieldDirection::kToMailchimp)};
  MailchimpBody mb;
  mb.merge_values = {{"ADDRESS",
                      R"({"addr1":"1 Cobblestone Way","addr2":"","city":"Bedrock","state":"CA",)"
                      R"("zip":"90210","country":"US"})"}};
  CrmBody cb;
  cb.fields = {{"job_title", "1 Cobblestone Way  Bedrock  CA  90210"}};
  MemberFieldInput in{&mb, january(2), &cb, nullptr};
  MemberFields f = decide_member_fields(s, in, TieRule::kCrm, 0);
  CHECK_FALSE(f.writes());
  // Another city is another address.
  cb.fields = {{"job_title", "1 Cobblestone Way  Rockvegas  CA  90210"}};
  f = decide_member_fields(s, in, TieRule::kCrm, 0);
  CHECK(f.to_mailchimp ==
        std::vector<OpField>{{"ADDRESS", "1 Cobblestone Way  Rockvegas  CA  90210"}});
}
