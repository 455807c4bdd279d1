// decide_field: the field rule of docs/decision-rules.md ("Fields"), as a table.
#include <catch2/catch.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "concord/field_rule.h"

using namespace concord;

namespace {

Micros day(int d) {
  return (Micros{1767225600} + (d - 1) * Micros{86400}) * kMicrosPerSecond;  // 2026-01-d
}

struct Row {
  const char* name;
  FieldInput in;
  FieldDirection direction = FieldDirection::kBoth;
  TieRule tie = TieRule::kCrm;
  Micros skew = 0;
  FieldWrite write = FieldWrite::kNone;
  FieldReason reason = FieldReason::kEqual;
};

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      {.name = "equal values: nothing", .in = {"Wilma", "Wilma", "Wilma", day(5), day(1)}},
      {.name = "equal values, no base: nothing", .in = {"Wilma", "Wilma", std::nullopt}},
      // ---- blanks
      {.name = "Mailchimp blank: filled from the CRM",
       .in = {"", "Wilma", std::nullopt, day(5), day(1)},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kFillBlank},
      {.name = "CRM blank: filled from Mailchimp",
       .in = {"Wilma", "", std::nullopt, day(1), day(5)},
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kFillBlank},
      {.name = "Mailchimp cleared the name later: a blank never overwrites, it is filled back",
       .in = {"", "Wilma", "Wilma", day(9), day(1)},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kFillBlank},
      {.name = "whitespace counts as blank",
       .in = {"  ", "Wilma", std::nullopt},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kFillBlank},
      {.name = "both blank (but different): nothing",
       .in = {"", " ", std::nullopt},
       .reason = FieldReason::kBlankKept},
      {.name = "to_crm field, CRM value, Mailchimp blank: Mailchimp is never written",
       .in = {"", "Wilma", std::nullopt},
       .direction = FieldDirection::kToCrm,
       .reason = FieldReason::kOneWay},
      {.name = "to_mailchimp field, Mailchimp value, CRM blank: the CRM is never written",
       .in = {"Wilma", "", std::nullopt},
       .direction = FieldDirection::kToMailchimp,
       .reason = FieldReason::kOneWay},
      // ---- one-way fields take their source's value
      {.name = "to_mailchimp: the CRM's value, even when Mailchimp changed later",
       .in = {"Wilhelmina", "Wilma", "Wilma", day(9), day(1)},
       .direction = FieldDirection::kToMailchimp,
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kOneWay},
      {.name = "to_crm: Mailchimp's value",
       .in = {"Wilhelmina", "Wilma", "Wilma", day(1), day(9)},
       .direction = FieldDirection::kToCrm,
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kOneWay},
      // ---- the base
      {.name = "only Mailchimp changed since the base: the CRM takes it, whatever the times",
       .in = {"Wilhelmina", "Wilma", "Wilma", day(1), day(9)},
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kOnlyMailchimp},
      {.name = "only the CRM changed since the base",
       .in = {"Wilma", "Wilhelmina", "Wilma", day(9), day(1)},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kOnlyCrm},
      {.name = "both changed: the later change (Mailchimp)",
       .in = {"Wil", "Wilhelmina", "Wilma", day(6), day(5)},
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kMailchimpLater},
      {.name = "both changed: the later change (the CRM)",
       .in = {"Wil", "Wilhelmina", "Wilma", day(5), day(6)},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kCrmLater},
      {.name = "no base: the later change",
       .in = {"Wil", "Wilhelmina", std::nullopt, day(7), day(6)},
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kMailchimpLater},
      {.name = "a missing time is older than any",
       .in = {"Wil", "Wilhelmina", std::nullopt, kNoTime, day(1)},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kCrmLater},
      // ---- ties
      {.name = "equal times: tie = crm",
       .in = {"Wil", "Wilhelmina", std::nullopt, day(5), day(5)},
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kTie},
      {.name = "equal times: tie = mailchimp",
       .in = {"Wil", "Wilhelmina", std::nullopt, day(5), day(5)},
       .tie = TieRule::kMailchimp,
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kTie},
      {.name = "equal times: tie = out counts as crm",
       .in = {"Wil", "Wilhelmina", std::nullopt, day(5), day(5)},
       .tie = TieRule::kOut,
       .write = FieldWrite::kToMailchimp,
       .reason = FieldReason::kTie},
      {.name = "within skew_margin: a tie",
       .in = {"Wil", "Wilhelmina", std::nullopt, day(5) + 2 * kMicrosPerSecond, day(5)},
       .tie = TieRule::kMailchimp,
       .skew = 5 * kMicrosPerSecond,
       .write = FieldWrite::kToCrm,
       .reason = FieldReason::kTie},
  };
  return table;
}

}  // namespace

TEST_CASE("decide_field: the table's row names are unique", "[field]") {
  std::set<std::string> names;
  for (const Row& r : rows())
    CHECK(names.insert(r.name).second);
}

TEST_CASE("decide_field: the field rule of docs/decision-rules.md", "[field]") {
  for (const Row& r : rows()) {
    DYNAMIC_SECTION(r.name) {
      const FieldDecision d = decide_field(r.in, r.direction, r.tie, r.skew);
      INFO("reason: " << field_reason_name(d.reason));
      CHECK(d.write == r.write);
      CHECK(d.reason == r.reason);
    }
  }
}
