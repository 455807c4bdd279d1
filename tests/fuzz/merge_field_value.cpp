// Mapped field values: a member's merge field as Mailchimp returns it (any JSON, inside a page
// anyone with the audience's sign-up form can fill), and a CRM contact field's text, each read as
// every merge field type. The first byte picks the type and the date format; the rest is the value.
// A CRM value converts to a canonical value or a refusal; a canonical value converts to itself.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "concord/field_value.h"

using namespace concord;

namespace {

constexpr std::array<MergeType, 11> kTypes = {
    MergeType::kText,  MergeType::kNumber,   MergeType::kAddress, MergeType::kPhone,
    MergeType::kDate,  MergeType::kBirthday, MergeType::kUrl,     MergeType::kImageUrl,
    MergeType::kRadio, MergeType::kDropdown, MergeType::kZip};
constexpr std::array<const char*, 4> kDateFormats = {"MM/DD/YYYY", "DD/MM/YYYY", "MM/DD", "DD/MM"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  MergeFieldSpec spec;
  spec.tag = "FIELD";
  spec.type = kTypes[data[0] % kTypes.size()];
  spec.date_format = kDateFormats[(data[0] / kTypes.size()) % kDateFormats.size()];
  spec.choices = {"Red", "Green"};
  const std::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);

  (void)canonical_from_mailchimp(spec, value);
  (void)parse_address(value);
  if (Result<std::string> c = to_mailchimp_value(spec, value)) {
    Result<std::string> again = to_mailchimp_value(spec, *c);
    if (!again || *again != *c) __builtin_trap();  // the canonical form is a fixed point
  }
  return 0;
}
