// Mapped field values between a CRM contact field and a Mailchimp merge field: the merge field's
// type, and the one text form (the *canonical* value) both sides' values are compared, stored in
// the base and sent in. docs/decision-rules.md, "Fields", lists the conversions.
//
// Canonical values, by merge field type:
//   text, phone, url, imageurl, radio, dropdown, zip: the text as it is;
//   number:   the shortest decimal that reads back as the same double ("15.5", "3", "-0.25");
//   date:     YYYY-MM-DD;
//   birthday: MM/DD;
//   address:  "addr1  addr2  city  state  zip  country" (parts joined by two spaces, Mailchimp's
//             own text form of an address; addr2 left out when blank: five parts; four without a
//             country).
// A blank value ("" or only spaces) is "".
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/field_rule.h"
#include "concord/status.h"

namespace concord {

enum class MergeType : std::uint8_t {
  kText = 0,
  kNumber,
  kAddress,
  kPhone,
  kDate,
  kBirthday,
  kUrl,
  kImageUrl,
  kRadio,
  kDropdown,
  kZip,
};
// "text" → kText …; nullopt for a type Mailchimp does not define.
std::optional<MergeType> parse_merge_type(std::string_view s);
std::string_view merge_type_name(MergeType t);

// One merge field of an audience, as concord needs it.
struct MergeFieldSpec {
  std::string tag;
  MergeType type = MergeType::kText;
  bool required = false;
  std::string date_format;           // date and birthday fields: "MM/DD/YYYY", "DD/MM" …
  std::vector<std::string> choices;  // radio and dropdown fields
};

// One mapped field of a sync: the merge field and the CRM contact field it is paired with.
struct FieldSpec {
  std::string tag;        // the merge tag, e.g. FNAME
  std::string crm_field;  // the contact field, e.g. first_name or Member_Info.Member_Since
  FieldDirection direction = FieldDirection::kBoth;
  MergeFieldSpec merge;
};

// The specs as compact JSON (meta kFieldSpecs), and back: kCorruption when it is not such a list.
std::string encode_field_specs(const std::vector<FieldSpec>& specs);
Result<std::vector<FieldSpec>> decode_field_specs(std::string_view json);

// A value as Mailchimp returned it (a member's merge_fields entry, minified JSON: a string, a
// number, an address object, or null) → its canonical text. A date in the field's date_format is
// rewritten as YYYY-MM-DD; a value of an unexpected shape is kept as its JSON text.
std::string canonical_from_mailchimp(const MergeFieldSpec& spec, std::string_view json_value);

// A CRM value (as text) → the canonical value Mailchimp would accept for the merge field, or
// kInvalid with the message Mailchimp would give ("Please enter a number", …), so that a value it
// would refuse is reported and never sent. A blank value is "".
Result<std::string> to_mailchimp_value(const MergeFieldSpec& spec, std::string_view crm_value);

// The parts of a canonical address (addr1, addr2, city, state, zip, country), or nullopt when the
// text is not one (fewer than four parts, or a required part blank).
struct AddressParts {
  std::string addr1, addr2, city, state, zip, country;
};
std::optional<AddressParts> parse_address(std::string_view canonical);
std::string format_address(const AddressParts& a);

}  // namespace concord
