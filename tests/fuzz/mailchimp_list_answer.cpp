// Mailchimp's answers — a list, the lists, merge fields, webhooks, a batch-subscribe result, an
// error, and member pages as the client pages through them — read by MailchimpClient over a
// transport that answers every request with the fuzzer's bytes ("!NNN " first sets the status;
// fuzz_transport.h). Whatever the answer, each call returns a value or an error: an exception
// escaping here is a bug.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "concord/mailchimp_client.h"
#include "fuzz_transport.h"

using namespace concord;

namespace {

class NullSink final : public MailchimpSink {
 public:
  Status records(std::vector<MailchimpRecord>&) override { return Status::ok(); }
  void reject(RejectedRow) override {}
  void gone(const std::string&) override {}
};

std::unique_ptr<MailchimpClient> client_of(const fuzz::Answer& answer) {
  MailchimpOptions o;
  o.api_key = "0123456789abcdef0123456789abcdef-us6";
  o.base_url = "https://127.0.0.1:1/3.0";
  o.http.retry.max_attempts = 1;
  o.parallel_pages = 1;
  Result<std::unique_ptr<MailchimpClient>> c =
      MailchimpClient::create(o, std::make_unique<fuzz::BoundedTransport>(answer));
  if (!c) __builtin_trap();  // the options are fixed: this cannot fail
  return std::move(*c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::Answer answer = fuzz::answer_of(data, size);
  // A client per call, so that each starts with the whole request budget.
  (void)client_of(answer)->resolve_audience("Newsletter");
  (void)client_of(answer)->audience_counts("L");
  (void)client_of(answer)->merge_fields("L");
  (void)client_of(answer)->webhooks("L");
  (void)client_of(answer)->create_webhook("L", "https://example.org/hook", {"subscribe"}, true,
                                          true, false);
  NullSink sink;
  (void)client_of(answer)->read_members("L", {"a@example.org", "b@example.org"}, sink);
  // Paging: total_items and each page's last_changed decide what is asked next.
  (void)client_of(answer)->read_all("L", sink);
  (void)client_of(answer)->read_since("L", 1'700'000'000'000'000, sink);

  // Batch-subscribe results (new_members, updated_members, errors), a PATCH's member, a DELETE.
  std::vector<MailchimpWrite> writes(4);
  writes[0].email = "a@example.org";
  writes[1].email = "b@example.org";
  writes[1].kind = MailchimpWrite::Kind::kUpdateFields;
  writes[1].merge_fields = {{"FNAME", "B"}};
  writes[2].email = "c@example.org";
  writes[2].kind = MailchimpWrite::Kind::kChangeEmail;
  writes[2].from_email = "d@example.org";
  writes[3].email = "e@example.org";
  writes[3].kind = MailchimpWrite::Kind::kArchive;
  std::vector<WriteOutcome> out = client_of(answer)->apply("L", writes, Resubscribe::kPending);
  if (out.size() != writes.size()) __builtin_trap();  // one outcome per write, whatever came back
  return 0;
}
