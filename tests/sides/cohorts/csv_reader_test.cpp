// The cohort file's CSV reader: RFC 4180 quoting, both line ends, blank lines, malformed quotes.
#include <catch2/catch.hpp>

#include "sides/amplitude/csv_reader.h"

namespace concord {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows read_all(std::string_view text) {
  CsvReader csv(text);
  Rows rows;
  std::vector<std::string> row;
  for (;;) {
    Result<bool> got = csv.next(&row);
    REQUIRE(got.is_ok());
    if (!*got) return rows;
    rows.push_back(row);
  }
}

TEST_CASE("csv: a table of texts and the rows read from them") {
  struct Case {
    std::string text;
    Rows rows;
  };
  const std::vector<Case> cases = {
      {"", {}},
      {"a,b\n1,2\n", {{"a", "b"}, {"1", "2"}}},
      {"a,b\r\n1,2\r\n", {{"a", "b"}, {"1", "2"}}},
      {"a,b\n1,2", {{"a", "b"}, {"1", "2"}}},
      {"a,b\r\n\"1\",\"\"\r\n", {{"a", "b"}, {"1", ""}}},
      {"a\n\n\nb\n", {{"a"}, {"b"}}},
      {"\"x, y\",\"say \"\"hi\"\"\"\n", {{"x, y", "say \"hi\""}}},
      {"\"line1\nline2\",\"cr\r\nlf\"\n", {{"line1\nline2", "cr\r\nlf"}}},
      {"\xEF\xBB\xBF"
       "amplitude_id,email\n",
       {{"amplitude_id", "email"}}},
      {",,\n", {{"", "", ""}}},
      {"a,\"\"\"\"\n", {{"a", "\""}}},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(read_all(c.text) == c.rows);
  }
}

TEST_CASE("csv: an unclosed quote or text after a closing quote is an error naming the line") {
  for (std::string_view text : {"a\n\"open,b\n", "a\n\"x\"y,b\n"}) {
    CsvReader csv(text);
    std::vector<std::string> row;
    REQUIRE(csv.next(&row).value());
    Result<bool> got = csv.next(&row);
    REQUIRE_FALSE(got.is_ok());
    CHECK(got.status().message().find("line 2") != std::string::npos);
  }
}

TEST_CASE("csv: line numbers count line breaks inside quoted values") {
  CsvReader csv("h\n\"a\nb\"\nc\n");
  std::vector<std::string> row;
  REQUIRE(csv.next(&row).value());
  REQUIRE(csv.next(&row).value());
  CHECK(csv.line() == 2);
  REQUIRE(csv.next(&row).value());
  CHECK(csv.line() == 4);
  CHECK(row == std::vector<std::string>{"c"});
}

}  // namespace
}  // namespace concord
