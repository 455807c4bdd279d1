// The CiviCRM client reads APIv4 answers of any shape without throwing: each is an error or a
// harmless result (issue 14, "No input crashes it").
#include <catch2/catch.hpp>

#include "concord/civicrm_client.h"
#include "malformed_answers.h"

using namespace concord;
using namespace concord::testing;

namespace {

class NullSink final : public CrmSink {
 public:
  Status records(std::vector<CrmContact>&) override { return Status::ok(); }
};

}  // namespace

TEST_CASE("CiviCRM answers of any shape are errors, never exceptions") {
  for (const std::string& body : malformed_bodies()) {
    for (int status : {200, 401, 500}) {
      INFO(status << " " << body);
      CiviCrmOptions o;
      o.url = "https://crm.example.org";
      o.api_key = "KEY";
      o.http.retry.max_attempts = 1;
      auto client = std::move(
          CiviCrmClient::create(o, std::make_unique<CannedTransport>(body, status)).value());
      NullSink sink;
      CHECK_NOTHROW(client->resolve_group("Newsletter"));
      CHECK_NOTHROW(client->read_all(42, sink));
      CHECK_NOTHROW(client->read_since(42, 1000, sink));
      CHECK_NOTHROW(client->read_contacts(42, {"a@example.org"}, {7}, sink));
      CHECK_NOTHROW(client->read_by_address({"a@example.org"}, sink));
      CHECK_NOTHROW(client->contact_fields());
      CHECK_NOTHROW(client->change_email(7, "a@example.org", "b@example.org"));
      std::vector<CrmWrite> writes = {
          {CrmWrite::Kind::kAdd, 7, "", {}},
          {CrmWrite::Kind::kCreateContact, 0, "n@example.org", {{"first_name", "N"}}},
          {CrmWrite::Kind::kUpdateFields, 7, "", {{"first_name", "N"}}},
          {CrmWrite::Kind::kHoldEmail, 7, "a@example.org", {}},
      };
      std::vector<CrmWriteOutcome> out;
      CHECK_NOTHROW(out = client->apply(42, writes));
      CHECK(out.size() == writes.size());
      if (body.find("values") == std::string::npos || status != 200) {
        CHECK_FALSE(client->resolve_group("Newsletter").is_ok());
      }
    }
  }
}

TEST_CASE("a group id no group can have (20 digits) is an error naming it") {
  CiviCrmOptions o;
  o.url = "https://crm.example.org";
  o.api_key = "KEY";
  auto client = std::move(
      CiviCrmClient::create(o, std::make_unique<CannedTransport>(R"({"values":[]})")).value());
  Result<CrmGroup> g = client->resolve_group("99999999999999999999");
  REQUIRE_FALSE(g.is_ok());
  CHECK_THAT(g.status().message(), Catch::Matchers::Contains("99999999999999999999"));
}

TEST_CASE("fuzz: an answer nested 100000 levels deep is an error, not a stack overflow") {
  // Found by the civicrm_answer fuzz target (tests/fuzz): an email row, or an error_message,
  // holding a value this deep was copied (or printed) one recursion a level.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& body :
       {R"({"values":[{"id":1,"contact_id":7,"email":"a@example.org","x":)" + deep + "}]}",
        R"({"error_message":)" + deep + "}"}) {
    CiviCrmOptions o;
    o.url = "https://crm.example.org";
    o.api_key = "KEY";
    auto client =
        std::move(CiviCrmClient::create(o, std::make_unique<CannedTransport>(body)).value());
    NullSink sink;
    Result<SideRead> r = client->read_all(42, sink);
    REQUIRE_FALSE(r.is_ok());
    CHECK_THAT(r.status().message(), Catch::Matchers::Contains("nested more than 64 levels"));
    CHECK(r.status().retryable());
  }
}
