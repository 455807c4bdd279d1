// The Mailchimp client reads answers of any shape without throwing: each is an error or a
// harmless result (issue 14, "No input crashes it").
#include <catch2/catch.hpp>

#include "concord/mailchimp_client.h"
#include "malformed_answers.h"

using namespace concord;
using namespace concord::testing;

namespace {

class NullSink final : public MailchimpSink {
 public:
  Status records(std::vector<MailchimpRecord>&) override { return Status::ok(); }
  void reject(RejectedRow) override {}
  void gone(const std::string&) override {}
};

}  // namespace

TEST_CASE("Mailchimp answers of any shape are errors, never exceptions") {
  for (const std::string& body : malformed_bodies()) {
    for (int status : {200, 400, 500}) {
      INFO(status << " " << body);
      MailchimpOptions o;
      o.api_key = "0123456789abcdef0123456789abcdef-us6";
      o.base_url = "https://127.0.0.1:1/3.0";
      o.http.retry.max_attempts = 1;
      auto client = std::move(
          MailchimpClient::create(o, std::make_unique<CannedTransport>(body, status)).value());
      NullSink sink;
      CHECK_NOTHROW(client->resolve_audience("Newsletter"));
      CHECK_NOTHROW(client->merge_fields("L"));
      CHECK_NOTHROW(client->audience_counts("L"));
      CHECK_NOTHROW(client->webhooks("L"));
      CHECK_NOTHROW(client->read_all("L", sink));
      CHECK_NOTHROW(client->read_since("L", 1000, sink));
      CHECK_NOTHROW(client->read_members("L", {"a@example.org"}, sink));
      std::vector<MailchimpWrite> writes(3);
      writes[0].email = "a@example.org";
      writes[1].email = "b@example.org";
      writes[1].kind = MailchimpWrite::Kind::kArchive;
      writes[2].email = "c@example.org";
      writes[2].kind = MailchimpWrite::Kind::kChangeEmail;
      writes[2].from_email = "d@example.org";
      std::vector<WriteOutcome> out;
      CHECK_NOTHROW(out = client->apply("L", writes, Resubscribe::kPending));
      CHECK(out.size() == 3);
      if (status == 200 && body.find("lists") == std::string::npos) {
        // Nothing in these answers says an audience exists.
        CHECK_FALSE(client->resolve_audience("Newsletter").is_ok());
      }
    }
  }
}
