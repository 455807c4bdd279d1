// CiviCRM APIv4 answers ({"values": […], "count": …} or an error) read by CiviCrmClient over a
// transport that answers every call with the fuzzer's bytes ("!NNN " first sets the status;
// fuzz_transport.h): groups, history pages, emails, contact fields, write results. Whatever the
// answer, each call returns a value or an error: an exception escaping here is a bug.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "concord/civicrm_client.h"
#include "fuzz_transport.h"

using namespace concord;

namespace {

class NullSink final : public CrmSink {
 public:
  Status records(std::vector<CrmContact>&) override { return Status::ok(); }
};

std::unique_ptr<CiviCrmClient> client_of(const fuzz::Answer& answer) {
  CiviCrmOptions o;
  o.url = "https://crm.example.org";
  o.api_key = "KEY";
  // A zone with daylight saving, so that local times that are skipped or repeated come up.
  o.timezone = "Europe/London";
  o.http.retry.max_attempts = 1;
  o.page_size = 2;  // small pages, so that short and full pages both come up in small inputs
  o.write_batch = 2;
  Result<std::unique_ptr<CiviCrmClient>> c =
      CiviCrmClient::create(o, std::make_unique<fuzz::BoundedTransport>(answer));
  if (!c) __builtin_trap();  // the options are fixed: this cannot fail
  return std::move(*c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::Answer answer = fuzz::answer_of(data, size);
  // A client per call, so that each starts with the whole request budget.
  (void)client_of(answer)->resolve_group("Newsletter");
  (void)client_of(answer)->resolve_group("42");
  (void)client_of(answer)->contact_fields();
  NullSink sink;
  (void)client_of(answer)->read_all(42, sink);
  (void)client_of(answer)->read_since(42, 1'700'000'000'000'000, sink);
  (void)client_of(answer)->read_contacts(42, {"a@example.org"}, {7}, sink);
  (void)client_of(answer)->read_by_address({"a@example.org", "b@example.org"}, sink);
  {
    std::unique_ptr<CiviCrmClient> c = client_of(answer);
    (void)c->with_fields({"first_name", "custom.Birthday"})->read_all(42, sink);
  }
  (void)client_of(answer)->change_email(7, "a@example.org", "b@example.org");

  const std::vector<CrmWrite> writes = {
      {CrmWrite::Kind::kAdd, 7, "", {}},
      {CrmWrite::Kind::kRemove, 8, "", {}},
      {CrmWrite::Kind::kCreateContact, 0, "n@example.org", {{"first_name", "N"}}},
      {CrmWrite::Kind::kUpdateFields, 7, "", {{"first_name", "N"}}},
      {CrmWrite::Kind::kHoldEmail, 7, "a@example.org", {}},
      {CrmWrite::Kind::kChangeEmail, 9, "new@example.org", {}, "old@example.org"},
  };
  std::vector<CrmWriteOutcome> out = client_of(answer)->apply(42, writes);
  if (out.size() != writes.size()) __builtin_trap();  // one outcome per write, whatever came back
  return 0;
}
