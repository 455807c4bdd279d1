#include "concord/field_rule.h"

namespace concord {
namespace {

bool blank(std::string_view v) {
  return v.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A write the direction allows, or nothing: a one-way field never writes its source.
FieldDecision allowed(FieldWrite w, FieldReason why, FieldDirection d) {
  if ((w == FieldWrite::kToMailchimp && d == FieldDirection::kToCrm) ||
      (w == FieldWrite::kToCrm && d == FieldDirection::kToMailchimp)) {
    return {FieldWrite::kNone, FieldReason::kOneWay};
  }
  return {w, why};
}

}  // namespace

FieldDecision decide_field(const FieldInput& in, FieldDirection direction, TieRule tie,
                           Micros skew_margin) {
  if (in.mailchimp == in.crm) return {FieldWrite::kNone, FieldReason::kEqual};
  const bool mc_blank = blank(in.mailchimp), crm_blank = blank(in.crm);
  if (mc_blank && crm_blank) return {FieldWrite::kNone, FieldReason::kBlankKept};
  if (mc_blank) return allowed(FieldWrite::kToMailchimp, FieldReason::kFillBlank, direction);
  if (crm_blank) return allowed(FieldWrite::kToCrm, FieldReason::kFillBlank, direction);
  if (direction == FieldDirection::kToMailchimp) {
    return {FieldWrite::kToMailchimp, FieldReason::kOneWay};
  }
  if (direction == FieldDirection::kToCrm) return {FieldWrite::kToCrm, FieldReason::kOneWay};

  const bool mc_changed = !in.base || *in.base != in.mailchimp;
  const bool crm_changed = !in.base || *in.base != in.crm;
  if (mc_changed && !crm_changed) return {FieldWrite::kToCrm, FieldReason::kOnlyMailchimp};
  if (crm_changed && !mc_changed) return {FieldWrite::kToMailchimp, FieldReason::kOnlyCrm};
  // Both changed, or no base: the later change.
  const int c = compare_change_times(in.mailchimp_changed_at, in.crm_changed_at, skew_margin);
  if (c > 0) return {FieldWrite::kToCrm, FieldReason::kMailchimpLater};
  if (c < 0) return {FieldWrite::kToMailchimp, FieldReason::kCrmLater};
  return tie == TieRule::kMailchimp ? FieldDecision{FieldWrite::kToCrm, FieldReason::kTie}
                                    : FieldDecision{FieldWrite::kToMailchimp, FieldReason::kTie};
}

std::string_view field_reason_name(FieldReason r) {
  switch (r) {
    case FieldReason::kEqual:
      return "equal";
    case FieldReason::kFillBlank:
      return "fill-blank";
    case FieldReason::kBlankKept:
      return "blank-kept";
    case FieldReason::kOneWay:
      return "one-way";
    case FieldReason::kOnlyMailchimp:
      return "only-mailchimp-changed";
    case FieldReason::kOnlyCrm:
      return "only-crm-changed";
    case FieldReason::kMailchimpLater:
      return "mailchimp-later";
    case FieldReason::kCrmLater:
      return "crm-later";
    case FieldReason::kTie:
      return "tie";
  }
  return "?";
}

}  // namespace concord
