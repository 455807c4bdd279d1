// The sandbox's router: both emulators, each on its own port, with the admin routes that concern
// both (docs/sandbox.md "Admin routes"):
//   * GET /_sandbox/state: the whole document ({"mailchimp":…,"clock":…,"civicrm":…});
//   * POST /_sandbox/reset: both parts from one seed (a bad part changes nothing);
//   * /_sandbox/clock (one clock) and /_sandbox/mailchimp/… are the Mailchimp part's, on both
//     ports;
//   * /_sandbox/faults configures the faults of the port's own part, or of the part named by
//     `?part=mailchimp|civicrm` (or `"part"` in a POST body);
//   * GET and DELETE /_sandbox/requests: the request log (request_log.h) of both parts.
// Everything else goes to the port's part, and is logged.
//
// Thread-safety: the port handlers may be called from many threads at once, as the parts' may.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/request_log.h"

namespace concord::sandbox {

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
