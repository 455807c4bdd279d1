#include "sandbox/mailchimp/sandbox.h"

#include <exception>
#include <mutex>
#include <shared_mutex>

#include "sandbox/mailchimp/routing.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/mailchimp/state.h"

namespace concord::sandbox {

MailchimpSandbox::MailchimpSandbox(std::unique_ptr<Account> account, SandboxClock* clock,
                                   MailchimpOptions options)
    : impl_(std::make_unique<Impl>(std::move(account), clock, std::move(options))) {}

MailchimpSandbox::~MailchimpSandbox() = default;

http::Reply MailchimpSandbox::handle(const http::Request& request, const http::Peer& peer,
                                     std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  try {
    return impl_->handle(request, peer, injected_fault);
  } catch (const std::exception& e) {
    // A bug: answer like the live API's 500 rather than dropping the connection.
    Ctx c;
    c.request_id = new_request_id();
    return problem_reply(c, Problem{500,
                                    "Internal Server Error",
                                    std::string("The sandbox failed: ") + e.what(),
                                    true,
                                    nullptr,
                                    {}});
  }
}

std::uint64_t MailchimpSandbox::generation() const {
  return impl_->generation.load();
}

std::string MailchimpSandbox::state_document() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return sandbox::state_document(*impl_->account, impl_->clock->fixed());
}

Status MailchimpSandbox::reset(std::string_view seed) {
  auto r = parse_seed(seed, impl_->clock->now());
  if (!r.is_ok()) return r.status();
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  impl_->account = std::move(r->account);
  if (r->clock != kNoTime) {
    impl_->clock->fix(r->clock);
  } else {
    impl_->clock->unfix();
  }
  impl_->changed();
  return Status::ok();
}

void MailchimpSandbox::drain_webhooks() {
  impl_->deliveries.drain();
}

}  // namespace concord::sandbox
