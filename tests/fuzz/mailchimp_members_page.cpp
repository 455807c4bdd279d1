// A page of Mailchimp audience members (GET /lists/{id}/members), as the ingest hot path reads it:
// any bytes are a page, rejected rows, or an error, and every member is accounted for.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sides/mailchimp/members_page.h"

namespace {

class CountingSink final : public concord::MailchimpSink {
 public:
  concord::Status records(std::vector<concord::MailchimpRecord>& page) override {
    records_ += page.size();
    return concord::Status::ok();
  }
  void reject(concord::RejectedRow) override { ++rejected_; }
  void gone(const std::string&) override {}

  std::uint64_t records_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CountingSink sink;
  concord::Result<concord::MembersPageResult> r = concord::parse_members_page(
      std::string_view(reinterpret_cast<const char*>(data), size), sink);
  if (r) {
    // The header's promise: each member of the page is either handed over or rejected.
    if (r->members != sink.records_ + sink.rejected_ || r->rejected != sink.rejected_) {
      __builtin_trap();
    }
  } else if (sink.records_ != 0 || sink.rejected_ != 0) {
    __builtin_trap();  // a page that does not parse hands nothing over
  }
  return 0;
}
