// The checked integer parsers, as a table: what is read, and what is refused with an error.
#include "concord/parse.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace concord {
namespace {

struct Case {
  std::string text;
  std::optional<std::int64_t> value;  // nullopt: refused
};

TEST_CASE("parse_int64 reads whole decimal numbers and refuses everything else") {
  const std::vector<Case> cases = {
      {"0", 0},
      {"42", 42},
      {"-7", -7},
      {"1733443200000000", 1733443200000000},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
      {"9223372036854775808", std::nullopt},  // one past the largest
      {"", std::nullopt},
      {"abc", std::nullopt},
      {"12abc", std::nullopt},  // strtoll read this as 12
      {" 12", std::nullopt},
      {"12 ", std::nullopt},
      {"+12", std::nullopt},
      {"1.5", std::nullopt},
      {"0x10", std::nullopt},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION("\"" << c.text << "\"") {
      Result<std::int64_t> r = parse_int64(c.text);
      REQUIRE(r.is_ok() == c.value.has_value());
      if (c.value) {
        CHECK(*r == *c.value);
      } else {
        CHECK(r.status().code() == Status::Code::kInvalid);
        CHECK(r.status().message().find(c.text.empty() ? "\"\"" : c.text) != std::string::npos);
      }
    }
  }
}

TEST_CASE("parse_uint64 refuses a sign") {
  CHECK(parse_uint64("18446744073709551615").value() == UINT64_MAX);
  CHECK_FALSE(parse_uint64("-1").is_ok());
  CHECK_FALSE(parse_uint64("18446744073709551616").is_ok());
}

TEST_CASE("a long bad input is quoted cut short") {
  const std::string junk(1000, 'x');
  Result<std::int64_t> r = parse_int64(junk);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().size() < 100);
}

}  // namespace
}  // namespace concord
