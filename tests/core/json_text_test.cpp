#include "concord/json_text.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace concord;
using nlohmann::json;

namespace {

std::string as_json_string(std::string_view s) {
  std::string out;
  append_json_string(&out, s);
  return out;
}

std::string nlohmann_dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

TEST_CASE("json text: strings are written as nlohmann's compact dump writes them", "[json_text]") {
  const std::vector<std::string> cases = {
      "",
      "plain ascii",
      "quote \" and backslash \\",
      "controls \b\f\n\r\t and \x01\x1f",
      std::string("nul \0 inside", 12),
      "del \x7f stays",
      "utf-8: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      "formula =1+2",
  };
  for (const std::string& s : cases) {
    INFO(s);
    CHECK(as_json_string(s) == nlohmann_dump(json(s)));
    CHECK(json::parse(as_json_string(s)).get<std::string>() == s);
  }
}

TEST_CASE("json text: invalid UTF-8 is replaced and the text stays valid JSON", "[json_text]") {
  const std::vector<std::string> cases = {
      "lone continuation \x80 byte",     "truncated \xc3",
      "overlong \xc0\xaf slash",         "surrogate \xed\xa0\x80 half",
      "above U+10FFFF \xf4\x90\x80\x80",
  };
  for (const std::string& s : cases) {
    INFO(s);
    const std::string text = as_json_string(s);
    json parsed = json::parse(text, nullptr, false);
    REQUIRE(parsed.is_string());
    CHECK(parsed.get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
  }
}

TEST_CASE("json text: objects and arrays as nlohmann writes them", "[json_text]") {
  JsonText t;
  t.begin_object()
      .key("members")
      .begin_array()
      .begin_object()
      .key("email_address")
      .string("a@example.org")
      .key("tags")
      .begin_array()
      .string("x")
      .string("y")
      .end_array()
      .key("interests")
      .begin_object()
      .key("abc")
      .boolean(true)
      .end_object()
      .end_object()
      .begin_object()
      .key("n")
      .number(std::int64_t{-3})
      .key("u")
      .number(std::uint64_t{18446744073709551615u})
      .key("empty")
      .begin_array()
      .end_array()
      .key("raw")
      .raw(R"({"a":[1,2]})")
      .end_object()
      .end_array()
      .key("update_existing")
      .boolean(false)
      .end_object();
  json expected = {{"members", json::array({{{"email_address", "a@example.org"},
                                             {"tags", {"x", "y"}},
                                             {"interests", {{"abc", true}}}},
                                            {{"n", -3},
                                             {"u", 18446744073709551615u},
                                             {"empty", json::array()},
                                             {"raw", {{"a", {1, 2}}}}}})},
                   {"update_existing", false}};
  CHECK(json::parse(t.str()) == expected);
}
