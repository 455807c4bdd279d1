// Mapped field values: the merge field types' conversions (field_value.h), as tables.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "concord/field_value.h"

using namespace concord;

namespace {

MergeFieldSpec spec(MergeType t, std::string date_format = "",
                    std::vector<std::string> choices = {}) {
  MergeFieldSpec s;
  s.tag = "F";
  s.type = t;
  s.date_format = std::move(date_format);
  s.choices = std::move(choices);
  return s;
}

}  // namespace

TEST_CASE(
    "a CRM value is converted to what the merge field takes, or refused with Mailchimp's words") {
  struct Row {
    const char* name;
    MergeFieldSpec spec;
    const char* crm;
    const char* canonical;  // nullptr: refused
    const char* message = "";
  };
  static const std::string long_text(256, 'x');
  const std::vector<Row> rows = {
      {"text as it is", spec(MergeType::kText), "Wilma", "Wilma"},
      {"blank is blank", spec(MergeType::kText), "   ", ""},
      {"text over 255 characters", spec(MergeType::kText), long_text.c_str(), nullptr,
       "Please enter a value less than 255 characters"},
      {"a number, shortest", spec(MergeType::kNumber), "15.50", "15.5"},
      {"an integer without a fraction", spec(MergeType::kNumber), "42.0", "42"},
      {"a negative number", spec(MergeType::kNumber), "-0.25", "-0.25"},
      {"not a number", spec(MergeType::kNumber), "12 apples", nullptr, "Please enter a number"},
      {"a CRM date", spec(MergeType::kDate, "MM/DD/YYYY"), "2020-01-31", "2020-01-31"},
      {"a CRM timestamp: its date", spec(MergeType::kDate), "2020-01-31 14:05:00", "2020-01-31"},
      {"the field's format, month first", spec(MergeType::kDate, "MM/DD/YYYY"), "01/31/2020",
       "2020-01-31"},
      {"the field's format, day first", spec(MergeType::kDate, "DD/MM/YYYY"), "31/01/2020",
       "2020-01-31"},
      {"no such day", spec(MergeType::kDate), "2021-02-29", nullptr, "Please enter the date"},
      {"a birthday from a CRM date", spec(MergeType::kBirthday, "MM/DD"), "1980-05-17", "05/17"},
      {"a birthday, day first", spec(MergeType::kBirthday, "DD/MM"), "1980-05-17", "17/05"},
      {"a birthday as the field has it", spec(MergeType::kBirthday, "MM/DD"), "05/17", "05/17"},
      {"a birthday that is no date", spec(MergeType::kBirthday), "13/45", nullptr,
       "Please enter the date"},
      {"a zip", spec(MergeType::kZip), "02139", "02139"},
      {"a zip+4", spec(MergeType::kZip), "02139-4307", "02139-4307"},
      {"not a zip", spec(MergeType::kZip), "SW1A 1AA", nullptr, "Please enter a valid zip code"},
      {"a url", spec(MergeType::kUrl), "example.org/x", "example.org/x"},
      {"a url with a space", spec(MergeType::kUrl), "example org", nullptr,
       "Please enter a valid URL"},
      {"a choice", spec(MergeType::kDropdown, "", {"Gold", "Silver"}), "Gold", "Gold"},
      {"not a choice", spec(MergeType::kRadio, "", {"Gold", "Silver"}), "Bronze", nullptr,
       "Please choose one of the allowed values"},
      {"an address, four parts", spec(MergeType::kAddress), "1 Main St  Springfield  IL  62704",
       "1 Main St  Springfield  IL  62704"},
      {"an address with addr2 and country", spec(MergeType::kAddress),
       "1 Main St  Apt 2  Springfield  IL  62704  US",
       "1 Main St  Apt 2  Springfield  IL  62704  US"},
      {"an incomplete address", spec(MergeType::kAddress), "1 Main St, Springfield", nullptr,
       "Please enter a complete address"},
      {"a phone as it is", spec(MergeType::kPhone), "+44 20 7946 0000", "+44 20 7946 0000"},
  };
  for (const Row& r : rows) {
    SECTION(r.name) {
      Result<std::string> v = to_mailchimp_value(r.spec, r.crm);
      if (r.canonical == nullptr) {
        REQUIRE_FALSE(v.is_ok());
        CHECK(v.status().message() == r.message);
      } else {
        REQUIRE(v.is_ok());
        CHECK(*v == r.canonical);
      }
    }
  }
}

TEST_CASE("a Mailchimp value is read into the same canonical text") {
  struct Row {
    const char* name;
    MergeFieldSpec spec;
    const char* json;
    const char* canonical;
  };
  const std::vector<Row> rows = {
      {"a string", spec(MergeType::kText), R"("Wilma")", "Wilma"},
      {"blank", spec(MergeType::kText), R"("")", ""},
      {"null", spec(MergeType::kText), "null", ""},
      {"a number as a JSON number", spec(MergeType::kNumber), "15.5", "15.5"},
      {"a number as a string", spec(MergeType::kNumber), R"("15.50")", "15.5"},
      {"a date", spec(MergeType::kDate), R"("2020-01-31")", "2020-01-31"},
      {"a date in the field's format", spec(MergeType::kDate, "DD/MM/YYYY"), R"("31/01/2020")",
       "2020-01-31"},
      {"an address object", spec(MergeType::kAddress),
       R"({"addr1":"1 Main St","addr2":"","city":"Springfield","state":"IL","zip":"62704","country":"US"})",
       "1 Main St  Springfield  IL  62704  US"},
      {"an address object with addr2", spec(MergeType::kAddress),
       R"({"addr1":"1 Main St","addr2":"Apt 2","city":"Springfield","state":"IL","zip":"62704","country":"US"})",
       "1 Main St  Apt 2  Springfield  IL  62704  US"},
      {"an empty address", spec(MergeType::kAddress), R"("")", ""},
  };
  for (const Row& r : rows) {
    SECTION(r.name) {
      CHECK(canonical_from_mailchimp(r.spec, r.json) == std::string(r.canonical));
    }
  }
}

TEST_CASE("an address goes to Mailchimp and back unchanged") {
  for (const char* text :
       {"1 Main St  Springfield  IL  62704", "1 Main St  Springfield  IL  62704  DE",
        "1 Main St  Apt 2  Springfield  IL  62704  US"}) {
    std::optional<AddressParts> a = parse_address(text);
    REQUIRE(a.has_value());
    CHECK(format_address(*a) == text);
  }
  CHECK_FALSE(parse_address("1 Main St  Springfield  IL").has_value());
  CHECK_FALSE(parse_address("  Springfield  IL  62704").has_value());
}

TEST_CASE("merge field types are read by their API names") {
  for (std::uint8_t i = 0; i <= static_cast<std::uint8_t>(MergeType::kZip); ++i) {
    const auto t = static_cast<MergeType>(i);
    CHECK(parse_merge_type(merge_type_name(t)) == t);
  }
  CHECK_FALSE(parse_merge_type("hologram").has_value());
}
