// The sandbox's emulator of CiviCRM's APIv4 REST interface, as an HTTP handler, and the router
// that serves it beside the Mailchimp emulator with the admin routes that span both.
//
// CivicrmSandbox::handle() answers
//   * POST (or GET, for get actions) /civicrm/ajax/api4/{Entity}/{action} with a form field
//     `params` (JSON), and the multi-call form POST /civicrm/ajax/api4 with `calls`, for the
//     entities Contact, Email, Group, GroupContact and SubscriptionHistory and the actions get,
//     create, update, save and delete; authx authentication (X-Civi-Auth or Authorization:
//     Bearer <api key>, the site-key guard), the web-service check, and CiviCRM's response and
//     error shapes, written from ../shared/reference/civicrm-apiv4.md and CiviCRM's source;
//   * the admin routes under /_sandbox/ for this part alone (loopback peers only): faults, and the
//     state and reset of the "civicrm" part.
// docs/sandbox.md ("The CiviCRM API") describes what is emulated and the known gaps.
//
// The site (contacts, emails, groups, group memberships and their subscription history) lives in
// memory behind one shared mutex: gets share it, writes take it alone. Rows of each entity are
// kept in id order with compact indexes by contact, by group and by email address, so that a page
// of a million-member group costs only its own rows; the matches of a query are cached until the
// site changes.
//
// Thread-safety: handle() may be called from many threads at once (http::Server does).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "concord/status.h"
#include "concord/time.h"
#include "sandbox/mailchimp.h"
#include "sandbox/request_log.h"
#include "sandbox/state.h"

namespace concord::sandbox {

// The CiviCRM site's data and settings (opaque; see civicrm.cpp).
struct CiviSite;
struct CiviSiteDeleter {
  void operator()(CiviSite* site) const;
};
using CiviSitePtr = std::unique_ptr<CiviSite, CiviSiteDeleter>;

// The credentials of a site started without a "civicrm" part in its seed.
inline constexpr std::string_view kDefaultCivicrmApiKey = "sandbox-civicrm-api-key";
inline constexpr std::string_view kDefaultCivicrmSiteKey = "sandbox-civicrm-site-key";

// Parses the "civicrm" part of a seed or state document (the whole document; the other parts are
// skipped without being built). A document without that part gives an empty site with the default
// credentials, in UTC. `now` (UTC) stands in for missing creation times. Returns kInvalid naming
// the path of the first problem, e.g. "seed: civicrm.contacts[3].emails[0].email: expected a
// string". Contacts, emails and history rows are converted as they are read, so a million-contact
// seed takes seconds.
Result<CiviSitePtr> parse_civicrm_seed(std::string_view document, Micros now);

// An empty site with the default credentials, in UTC.
CiviSitePtr empty_civicrm_site();

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

// Both emulators, each on its own port, with the admin routes that concern both:
//   * GET /_sandbox/state: the whole document ({"mailchimp":…,"clock":…,"civicrm":…});
//   * POST /_sandbox/reset: both parts from one seed (a bad part changes nothing);
//   * /_sandbox/clock (one clock) and /_sandbox/mailchimp/… are the Mailchimp part's, on both
//   ports;
//   * /_sandbox/faults configures the faults of the port's own part, or of the part named by
//     `?part=mailchimp|civicrm` (or `"part"` in a POST body);
//   * GET and DELETE /_sandbox/requests: the request log (request_log.h) of both parts.
// Everything else goes to the port's part, and is logged. Thread-safe as the parts are.
class SandboxRouter {
 public:
  // All three must outlive the router. `clock` (the parts' clock) dates the log's entries.
  SandboxRouter(MailchimpSandbox* mailchimp, CivicrmSandbox* civicrm, const Clock* clock)
      : mailchimp_(mailchimp), civicrm_(civicrm), clock_(clock) {}

  http::Reply mailchimp_port(const http::Request& request, const http::Peer& peer);
  http::Reply civicrm_port(const http::Request& request, const http::Peer& peer);

  // The whole state document in the seed's format.
  std::string state_document() const;
  // Moves on every change of either part (for the Persister).
  std::uint64_t generation() const { return mailchimp_->generation() + civicrm_->generation(); }

 private:
  enum class Port { kMailchimp, kCivicrm };
  http::Reply route(Port port, const http::Request& request, const http::Peer& peer);
  http::Reply reset(const http::Request& request, const http::Peer& peer);
  http::Reply requests(const http::Request& request, std::string_view query);
  // A request to the port's own part, timed and logged.
  http::Reply api(Port port, const http::Request& request, const http::Peer& peer);

  MailchimpSandbox* mailchimp_;
  CivicrmSandbox* civicrm_;
  const Clock* clock_;
  RequestLog log_;
};

}  // namespace concord::sandbox
