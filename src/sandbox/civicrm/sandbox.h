// The sandbox's emulator of CiviCRM's APIv4 REST interface, as an HTTP handler.
//
// CivicrmSandbox::handle() answers
//   * POST (or GET, for get actions) /civicrm/ajax/api4/{Entity}/{action} with a form field
//     `params` (JSON), and the multi-call form POST /civicrm/ajax/api4 with `calls`, for the
//     entities Contact, Email, Group, GroupContact and SubscriptionHistory and the actions get,
//     create, update, save and delete; authx authentication (X-Civi-Auth or Authorization:
//     Bearer <api key>, the site-key guard), the web-service check, and CiviCRM's response and
//     error shapes, written from CiviCRM's APIv4 documentation and source;
//   * the admin routes under /_sandbox/ for this part alone (loopback peers only): faults, and the
//     state and reset of the "civicrm" part.
// docs/sandbox.md ("The CiviCRM API") describes what is emulated and the known gaps.
//
// Thread-safety: handle() may be called from many threads at once (http::Server does).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "concord/http.h"
#include "sandbox/civicrm/seed.h"
#include "sandbox/clock.h"

namespace concord::sandbox {

// How many rows of each entity a site holds (live rows only).
struct CiviCounts {
  std::int64_t contacts = 0;
  std::int64_t emails = 0;
  std::int64_t groups = 0;
  std::int64_t group_contacts = 0;
  std::int64_t subscription_history = 0;
};
CiviCounts civicrm_counts(const CiviSite& site);

class CivicrmSandbox {
 public:
  // `clock` (shared with the Mailchimp part) must outlive the sandbox.
  CivicrmSandbox(CiviSitePtr site, SandboxClock* clock);
  ~CivicrmSandbox();
  CivicrmSandbox(const CivicrmSandbox&) = delete;
  CivicrmSandbox& operator=(const CivicrmSandbox&) = delete;

  // Answers one request. When `injected_fault` is given, it is set to the fault injected into an
  // API request ("" when none; else as in the `next` script), for the request log.
  http::Reply handle(const http::Request& request, const http::Peer& peer,
                     std::string* injected_fault = nullptr);

  // A counter that moves on every change of the persisted state of this part.
  std::uint64_t generation() const;
  // The "civicrm" object of the state document, complete enough to reload exactly.
  std::string state_part() const;
  // The same, appended to *out.
  void append_state_part(std::string* out) const;
  // Replaces the site and clears this part's faults. Returns the new site's counts.
  CiviCounts install(CiviSitePtr site);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord::sandbox
