#include "concord/member_fields.h"

namespace concord {
namespace {

std::string mailchimp_value(const FieldSpec& spec, const MailchimpBody* body) {
  if (body == nullptr) return {};
  for (const auto& [tag, json] : body->merge_values) {
    if (tag == spec.tag) return canonical_from_mailchimp(spec.merge, json);
  }
  return {};
}

const std::string* crm_value(const FieldSpec& spec, const CrmBody* body) {
  if (body == nullptr) return nullptr;
  for (const auto& [name, value] : body->fields) {
    if (name == spec.crm_field) return &value;
  }
  return nullptr;
}

// Mailchimp gives an address without a country its default one: the same address then.
void same_address(std::string& crm, const std::string& mailchimp) {
  std::optional<AddressParts> c = parse_address(crm), m = parse_address(mailchimp);
  if (!c || !m || !c->country.empty()) return;
  c->country = m->country;
  if (format_address(*c) == mailchimp) crm = mailchimp;
}

}  // namespace

std::string MemberFields::problems() const {
  std::string out;
  for (const FieldOutcome& f : each) {
    if (f.problem.empty()) continue;
    if (!out.empty()) out += "; ";
    out += f.spec->tag + ": the CRM's value \"" + f.crm + "\" (" + f.spec->crm_field +
           ") is not sent: " + f.problem;
  }
  return out;
}

MemberFields decide_member_fields(const std::vector<FieldSpec>& specs, const MemberFieldInput& in,
                                  TieRule tie, Micros skew_margin) {
  MemberFields out;
  out.each.reserve(specs.size());
  // A value the tie rule "out" settles counts as the CRM's (docs/decision-rules.md, "Fields").
  const TieRule field_tie = tie == TieRule::kMailchimp ? TieRule::kMailchimp : TieRule::kCrm;
  for (const FieldSpec& spec : specs) {
    FieldOutcome f;
    f.spec = &spec;
    f.mailchimp = mailchimp_value(spec, in.mailchimp);
    bool convertible = true;
    const std::string* raw = crm_value(spec, in.crm);
    if (in.crm != nullptr && raw == nullptr) {
      // The contact was read before this field was mapped: its value is unknown, not blank (a
      // blank would be filled from Mailchimp). The full read a new mapping starts reads it.
      f.crm_unread = true;
      if (in.base != nullptr) {
        if (const FieldBase* b = in.base->field(spec.tag)) f.base = b->value;
      }
      out.each.push_back(std::move(f));
      continue;
    }
    if (raw != nullptr) {
      Result<std::string> v = to_mailchimp_value(spec.merge, *raw);
      convertible = v.is_ok();
      f.crm = convertible ? std::move(*v) : *raw;
      if (!convertible) f.problem = v.status().message();
      if (convertible && spec.merge.type == MergeType::kAddress) same_address(f.crm, f.mailchimp);
    }
    if (in.base != nullptr) {
      if (const FieldBase* b = in.base->field(spec.tag)) f.base = b->value;
    }
    FieldInput fi{f.mailchimp, f.crm, std::nullopt, in.mailchimp_changed_at,
                  in.crm != nullptr ? in.crm->modified_at : kNoTime};
    if (f.base) fi.base = *f.base;
    f.decision = decide_field(fi, spec.direction, field_tie, skew_margin);
    switch (f.decision.write) {
      case FieldWrite::kToMailchimp:
        if (convertible) {
          out.to_mailchimp.push_back({spec.tag, f.crm});
        } else {
          f.decision.write = FieldWrite::kNone;
        }
        break;
      case FieldWrite::kToCrm:
        f.problem.clear();  // the CRM's value is overwritten, not sent
        out.to_crm.push_back({spec.tag, f.mailchimp});
        break;
      case FieldWrite::kNone:
        if (f.decision.reason == FieldReason::kEqual) out.agreed.push_back({spec.tag, f.mailchimp});
        f.problem.clear();  // an unconvertible value not to be sent anyway is no problem
        break;
    }
    out.each.push_back(std::move(f));
  }
  return out;
}

}  // namespace concord
