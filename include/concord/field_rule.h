// The decision rule for one mapped field of one member (docs/decision-rules.md, "Fields"): which
// side's value the other takes, if any. A pure function, like decide(), of the two values, the
// value both last agreed on (the field's base), each side's change time and the field's direction.
//
// Thread-safety: pure; call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "concord/decide.h"
#include "concord/time.h"

namespace concord {

// Which way a mapped field may be written.
enum class FieldDirection : std::uint8_t {
  kBoth = 0,
  kToMailchimp = 1,  // the CRM's value is the source; Mailchimp's is never written back
  kToCrm = 2,
};

// What a field's decision writes.
enum class FieldWrite : std::uint8_t {
  kNone = 0,
  kToMailchimp = 1,  // Mailchimp takes the CRM's value
  kToCrm = 2,        // the CRM takes Mailchimp's value
};

// Why.
enum class FieldReason : std::uint8_t {
  kEqual = 0,          // the values are the same
  kFillBlank = 1,      // one side is blank: it is filled from the other
  kBlankKept = 2,      // the side that would be written is not blank, the value is: nothing
  kOneWay = 3,         // a one-way field: its source's value
  kOnlyMailchimp = 4,  // only Mailchimp's value changed since the base
  kOnlyCrm = 5,
  kMailchimpLater = 6,  // both changed (or no base): the later change
  kCrmLater = 7,
  kTie = 8,  // equal times: the tie rule (`out` counts as `crm` for fields)
};

struct FieldDecision {
  FieldWrite write = FieldWrite::kNone;
  FieldReason reason = FieldReason::kEqual;
};

struct FieldInput {
  std::string_view mailchimp;  // the merge field's value ("" when blank or absent)
  std::string_view crm;        // the contact field's value ("" when blank)
  // What both sides last agreed on; nullopt when they never have (first sight of the field).
  std::optional<std::string_view> base;
  Micros mailchimp_changed_at = kNoTime;  // Mailchimp's last_changed
  Micros crm_changed_at = kNoTime;        // the contact's modified_date
};

// The rules, in order: equal values → nothing; a blank side is filled from the other (a blank never
// overwrites a value, whichever side changed); a one-way field takes its source's value; otherwise
// the side whose value changed since the base wins, and when both changed (or there is no base)
// the later change, equal times (within skew_margin) by the tie rule. A one-way field never
// writes its source.
FieldDecision decide_field(const FieldInput& in, FieldDirection direction, TieRule tie,
                           Micros skew_margin);

std::string_view field_reason_name(FieldReason r);  // "equal", "fill-blank", …

}  // namespace concord
