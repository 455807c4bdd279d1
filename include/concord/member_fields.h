// The mapped fields of one member: each field's two values, its base and its decision
// (decide_field), and what they add up to — the values each side is sent, the bases that settle,
// and the values that cannot be sent. The diff and `explain` both ask this.
//
// Thread-safety: pure functions over values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "concord/field_rule.h"
#include "concord/field_value.h"
#include "concord/plan.h"
#include "concord/record.h"

namespace concord {

// One mapped field of one member.
struct FieldOutcome {
  const FieldSpec* spec = nullptr;
  std::string mailchimp;            // canonical; "" when blank or absent
  std::string crm;                  // canonical when it converts, else as the CRM has it
  std::optional<std::string> base;  // nullopt: never agreed on
  FieldDecision decision;
  // The contact's record was read before the field was mapped: nothing is decided.
  bool crm_unread = false;
  // The CRM value does not convert to the merge field's type: Mailchimp's words. Such a value is
  // never sent (decision.write is then kNone).
  std::string problem;
};

struct MemberFields {
  std::vector<FieldOutcome> each;  // in the specs' order
  std::vector<OpField> to_mailchimp;
  std::vector<OpField> to_crm;
  std::vector<FieldBase> agreed;  // fields whose two values are equal: their base now

  bool writes() const { return !to_mailchimp.empty() || !to_crm.empty(); }
  // "FIELD: the CRM's value "x" cannot be sent (Please enter a number)"; "" when none.
  std::string problems() const;
};

// The sides' records as the diff holds them. mailchimp / crm: nullptr when the side has no record
// (its values are blank). Times: Mailchimp's last_changed and the contact's modified_date.
struct MemberFieldInput {
  const MailchimpBody* mailchimp = nullptr;
  Micros mailchimp_changed_at = kNoTime;
  const CrmBody* crm = nullptr;
  const BaseRecord* base = nullptr;
};

MemberFields decide_member_fields(const std::vector<FieldSpec>& specs, const MemberFieldInput& in,
                                  TieRule tie, Micros skew_margin);

}  // namespace concord
