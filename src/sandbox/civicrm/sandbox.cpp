#include "sandbox/civicrm/sandbox.h"

#include <shared_mutex>

#include "sandbox/civicrm/routing.h"
#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/state.h"

namespace concord::sandbox {

CiviCounts civicrm_counts(const CiviSite& site) {
  CiviCounts c;
  c.contacts = site.contacts.live;
  c.emails = site.emails.live;
  c.groups = site.groups.live;
  c.group_contacts = site.group_contacts.live;
  c.subscription_history = site.history.live;
  return c;
}

CivicrmSandbox::CivicrmSandbox(CiviSitePtr site, SandboxClock* clock)
    : impl_(std::make_unique<Impl>(std::move(site), clock)) {}

CivicrmSandbox::~CivicrmSandbox() = default;

http::Reply CivicrmSandbox::handle(const http::Request& request, const http::Peer& peer,
                                   std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  return impl_->handle(request, peer, injected_fault);
}

std::uint64_t CivicrmSandbox::generation() const {
  return impl_->generation.load();
}

std::string CivicrmSandbox::state_part() const {
  std::string out;
  append_state_part(&out);
  return out;
}

void CivicrmSandbox::append_state_part(std::string* out) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  JsonOut o;
  o.buf = std::move(*out);
  write_site(o, *impl_->site);
  *out = std::move(o.buf);
}

CiviCounts CivicrmSandbox::install(CiviSitePtr site) {
  return impl_->install(std::move(site));
}

}  // namespace concord::sandbox
