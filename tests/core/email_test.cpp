#include <catch2/catch.hpp>

#include "concord/email.h"

using namespace concord;

TEST_CASE("subscriber hash matches Mailchimp's documented example") {
  CHECK(subscriber_hash("urist.mcvankab@freddiesjokes.com") == "62eeb292278cc15f5817cb78f7790b08");
}

TEST_CASE("the hash is of the normalised address, so case and spaces do not matter") {
  auto email = parse_email("  Urist.McVankab@FreddiesJokes.com\t");
  REQUIRE(email.is_ok());
  CHECK(*email == "urist.mcvankab@freddiesjokes.com");
  CHECK(subscriber_hash(*email) == "62eeb292278cc15f5817cb78f7790b08");
  CHECK(member_key(*email) == member_key("urist.mcvankab@freddiesjokes.com"));
  CHECK_FALSE(member_key("a@example.org") == member_key("b@example.org"));
}

TEST_CASE("member keys round-trip through their 16 stored bytes") {
  MemberKey k = member_key("wilma@bedrock.org");
  MemberKey back;
  REQUIRE(member_key_from_bytes(k.view(), &back));
  CHECK(back == k);
  CHECK_FALSE(member_key_from_bytes("short", &back));
}

TEST_CASE("email validation: each rejected address names its problem") {
  struct Row {
    const char* raw;
    EmailProblem expected;
  };
  const Row rows[] = {
      {"wilma@bedrock.org", EmailProblem::kOk},
      {"fred.flintstone+news@mail.bedrock.co.uk", EmailProblem::kOk},
      {"o'hara@example.ie", EmailProblem::kOk},
      {"  BETTY@Bedrock.ORG ", EmailProblem::kOk},
      {"", EmailProblem::kEmpty},
      {"   ", EmailProblem::kEmpty},
      {"AAAAA", EmailProblem::kNoAt},
      {"a@b@c.org", EmailProblem::kSeveralAt},
      {"@bedrock.org", EmailProblem::kEmptyLocalPart},
      {"wilma@", EmailProblem::kEmptyDomain},
      {".wilma@bedrock.org", EmailProblem::kBadLocalPart},
      {"wil..ma@bedrock.org", EmailProblem::kBadLocalPart},
      {"wilma.@bedrock.org", EmailProblem::kBadLocalPart},
      {"wil(ma)@bedrock.org", EmailProblem::kBadLocalPart},
      {"wil ma@bedrock.org", EmailProblem::kWhitespaceInside},
      {"wilma@bedrock", EmailProblem::kNoTopLevelDomain},
      {"wilma@bedrock.o", EmailProblem::kNoTopLevelDomain},
      {"wilma@127.0.0.1", EmailProblem::kNoTopLevelDomain},
      {"wilma@bed_rock.org", EmailProblem::kBadDomain},
      {"wilma@-bedrock.org", EmailProblem::kBadDomain},
      {"wilma@bedrock..org", EmailProblem::kBadDomain},
      {"wilmä@bedrock.org", EmailProblem::kNonAscii},
  };
  for (const Row& r : rows) {
    DYNAMIC_SECTION(r.raw) {
      CHECK(check_email(normalise_email(r.raw)) == r.expected);
      auto parsed = parse_email(r.raw);
      CHECK(parsed.is_ok() == (r.expected == EmailProblem::kOk));
      if (!parsed.is_ok()) {
        CHECK(parsed.status().code() == Status::Code::kInvalid);
        CHECK(parsed.status().message() == describe(r.expected));
      }
    }
  }
}

TEST_CASE("over-long addresses are rejected") {
  std::string local(65, 'a');
  CHECK(check_email(local + "@bedrock.org") == EmailProblem::kTooLong);
  std::string domain;
  for (int i = 0; i < 30; ++i)
    domain += "abcdefghi.";
  CHECK(check_email("a@" + domain + "org") == EmailProblem::kTooLong);
}
