// The record codecs (include/concord/record.h) against docs/store-format.md: each example the page
// gives decodes, encodes back to the same bytes, and is on the page verbatim.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "concord/record.h"

using namespace concord;

namespace {

// docs/store-format.md, found from this file's path (the build compiles it by a path relative to
// the build directory, where the tests run).
std::string store_format_page() {
  for (std::filesystem::path p :
       {std::filesystem::path(__FILE__).parent_path() / "../../docs/store-format.md",
        std::filesystem::path("../docs/store-format.md"),
        std::filesystem::path("docs/store-format.md")}) {
    std::ifstream in(p);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  FAIL("docs/store-format.md not found from " << __FILE__);
  return {};
}

constexpr const char* kWilmaBody =
    R"({"merge_fields":{"FNAME":"Wilma","LNAME":"Flintstone"},"last_changed":"2026-01-03T10:00:00+00:00","timestamp_opt":"2026-01-01T09:00:00+00:00"})";
constexpr const char* kFredBody =
    R"({"merge_fields":{},"last_changed":"2026-01-04T10:00:00+00:00","timestamp_opt":"","unsubscribe_reason":"I no longer want these emails"})";
constexpr const char* kWilmaCrm =
    R"({"contact_id":101,"first_name":"Wilma","last_name":"Flintstone"})";
constexpr const char* kBettyCrm =
    R"json({"contact_id":107,"first_name":"Betty","last_name":"Rubble (old)","duplicates":[106]})json";
constexpr const char* kBarneyCrm =
    R"({"contact_id":102,"first_name":"Barney","last_name":"Rubble","addresses":[{"email":"barney@home.org","is_primary":true,"is_bulkmail":false,"on_hold":0},{"email":"barney@bedrock.org","is_primary":false,"is_bulkmail":true,"on_hold":0}]})";
constexpr const char* kReject =
    R"({"email":"not-an-address","field":"email_address","message":"the address has no '@'","side":"mailchimp","source_id":"not-an-address"})";

}  // namespace

TEST_CASE("the documented examples are on the page") {
  const std::string page = store_format_page();
  for (const char* example : {kWilmaBody, kFredBody, kWilmaCrm, kBettyCrm, kBarneyCrm, kReject}) {
    INFO(example);
    CHECK(page.find(example) != std::string::npos);
  }
}

TEST_CASE("Mailchimp bodies: the documented examples, both ways") {
  std::string out;
  append_mailchimp_body(R"({"FNAME":"Wilma","LNAME":"Flintstone"})", "2026-01-03T10:00:00+00:00",
                        "2026-01-01T09:00:00+00:00", "", &out);
  CHECK(out == kWilmaBody);
  out.clear();
  append_mailchimp_body("{}", "2026-01-04T10:00:00+00:00", "", "I no longer want these emails",
                        &out);
  CHECK(out == kFredBody);

  MailchimpBody wilma;
  REQUIRE(decode_mailchimp_body(kWilmaBody, &wilma).is_ok());
  CHECK(wilma.merge_fields == std::vector<std::pair<std::string, std::string>>{
                                  {"FNAME", "Wilma"}, {"LNAME", "Flintstone"}});
  CHECK(wilma.last_changed == "2026-01-03T10:00:00+00:00");
  CHECK(wilma.timestamp_opt == "2026-01-01T09:00:00+00:00");
  CHECK(wilma.unsubscribe_reason.empty());
  MailchimpBody fred;
  REQUIRE(decode_mailchimp_body(kFredBody, &fred).is_ok());
  CHECK(fred.merge_fields.empty());
  CHECK(fred.timestamp_opt.empty());
  CHECK(fred.unsubscribe_reason == "I no longer want these emails");
}

TEST_CASE(
    "Mailchimp bodies: non-string fields are kept in the body but not decoded; quotes escape") {
  std::string out;
  append_mailchimp_body(R"({"FNAME":"Fred","ADDRESS":{"city":"Bedrock"},"AGE":42})", "", "",
                        "said \"no\"", &out);
  CHECK(
      out ==
      R"({"merge_fields":{"FNAME":"Fred","ADDRESS":{"city":"Bedrock"},"AGE":42},"last_changed":"","timestamp_opt":"","unsubscribe_reason":"said \"no\""})");
  MailchimpBody b;
  REQUIRE(decode_mailchimp_body(out, &b).is_ok());
  CHECK(b.merge_fields == std::vector<std::pair<std::string, std::string>>{{"FNAME", "Fred"}});
  CHECK(b.unsubscribe_reason == "said \"no\"");
  CHECK(decode_mailchimp_body("not json", &b).code() == Status::Code::kCorruption);
  CHECK(decode_mailchimp_body("[]", &b).code() == Status::Code::kCorruption);
}

TEST_CASE("CRM bodies: the documented examples, both ways") {
  CrmBody wilma{101, "Wilma", "Flintstone", {}, {}};
  CrmBody betty{107, "Betty", "Rubble (old)", {106}, {}};
  CrmBody barney{102,
                 "Barney",
                 "Rubble",
                 {},
                 {{"barney@home.org", true, false, 0}, {"barney@bedrock.org", false, true, 0}}};
  const std::vector<std::pair<CrmBody, const char*>> examples = {
      {wilma, kWilmaCrm}, {betty, kBettyCrm}, {barney, kBarneyCrm}};
  for (const auto& [body, bytes] : examples) {
    INFO(bytes);
    CHECK(encode_crm_body(body) == bytes);
    CrmBody back;
    REQUIRE(decode_crm_body(bytes, &back).is_ok());
    CHECK(back == body);
    CHECK(crm_body_has_addresses(bytes) == !body.addresses.empty());
  }
}

TEST_CASE("CRM bodies: ids as strings, missing members, names that look like keys") {
  CrmBody b;
  REQUIRE(decode_crm_body(R"({"contact_id":"42","duplicates":["7",8]})", &b).is_ok());
  CHECK(b.contact_id == 42);
  CHECK(b.duplicates == std::vector<std::int64_t>{7, 8});
  CHECK(b.first_name.empty());
  CHECK(b.addresses.empty());
  // A name cannot fake the addresses member: its quotes are escaped.
  const std::string tricky = encode_crm_body({5, "\"addresses\":", "", {}, {}});
  CHECK_FALSE(crm_body_has_addresses(tricky));
  REQUIRE(decode_crm_body(tricky, &b).is_ok());
  CHECK(b.first_name == "\"addresses\":");
  CHECK(decode_crm_body("{\"contact_id\":", &b).code() == Status::Code::kCorruption);
}

TEST_CASE("content hashes are FNV-1a over the documented bytes") {
  CHECK(mailchimp_content_hash("a@b.org", "{}") == content_hash("a@b.org{}"));
  CHECK(crm_content_hash("a@b.org", "Wilma", "Flintstone") ==
        content_hash(std::string("a@b.orgWilma\x1f") + "Flintstone"));
  CHECK(content_hash("") == 0xcbf29ce484222325ull);
  CHECK(content_hash("a") == 0xaf63dc4c8601ec8cull);  // FNV-1a's published test vector
}

TEST_CASE("rejected rows: the documented example, both ways; keys keep 255 bytes of the id") {
  RejectedRow row{"not-an-address", "not-an-address", "email_address", "the address has no '@'"};
  CHECK(encode_reject(Side::kMailchimp, row) == kReject);
  Side side = Side::kCrm;
  RejectedRow back;
  REQUIRE(decode_reject(kReject, &side, &back).is_ok());
  CHECK(side == Side::kMailchimp);
  CHECK(back == row);
  CHECK(reject_key(Side::kCrm, "contact 9") == std::string("\x01") + "contact 9");
  CHECK(reject_key(Side::kMailchimp, std::string(300, 'x')).size() == 256);
  // Bytes that are not UTF-8 become U+FFFD rather than failing the write.
  const std::string bad = encode_reject(Side::kCrm, {"contact 1", "\xff@x.org", "email", "bad"});
  REQUIRE(decode_reject(bad, &side, &back).is_ok());
  CHECK(side == Side::kCrm);
  CHECK(back.email == "\xef\xbf\xbd@x.org");
}
