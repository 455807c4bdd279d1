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
// The other parts (part.h: Auth0, Mixpanel, Amplitude) each have their own port (part_port()),
// their object in the state document and in a reset's seed, their faults (`part=<name>`) and
// their admin routes under /_sandbox/<name>/, on any port.
//
// Thread-safety: the port handlers may be called from many threads at once, as the parts' may.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/part.h"
#include "sandbox/request_log.h"

namespace concord::sandbox {

class SandboxRouter {
 public:
  // All must outlive the router. `clock` (the parts' clock) dates the log's entries. `parts`
  // have names api_part() knows, each once.
  SandboxRouter(MailchimpSandbox* mailchimp, CivicrmSandbox* civicrm, const Clock* clock,
                std::vector<Part*> parts = {})
      : mailchimp_(mailchimp), civicrm_(civicrm), clock_(clock), parts_(std::move(parts)) {}

  http::Reply mailchimp_port(const http::Request& request, const http::Peer& peer);
  http::Reply civicrm_port(const http::Request& request, const http::Peer& peer);
  // The port of parts()[i].
  http::Reply part_port(std::size_t i, const http::Request& request, const http::Peer& peer);
  const std::vector<Part*>& parts() const { return parts_; }

  // The whole state document in the seed's format.
  std::string state_document() const;
  // Moves on every change of any part (for the Persister).
  std::uint64_t generation() const;
  // Called once a reset has installed its state, before the reset answers (main() saves the
  // state there: a reset, like a fresh start, is on disk at once). Set before serving.
  void on_reset(std::function<void()> saved) { on_reset_ = std::move(saved); }

 private:
  // Which port a request came in on: Mailchimp's, CiviCRM's, or parts_[n]'s as kOther + n.
  using Port = std::size_t;
  static constexpr Port kMailchimp = 0;
  static constexpr Port kCivicrm = 1;
  static constexpr Port kOther = 2;
  http::Reply route(Port port, const http::Request& request, const http::Peer& peer);
  http::Reply reset(const http::Request& request, const http::Peer& peer);
  http::Reply requests(const http::Request& request, std::string_view query);
  // A request to the port's own part, timed and logged.
  http::Reply api(Port port, const http::Request& request, const http::Peer& peer);
  // The part named `name` among parts_, or null.
  Part* part_named(std::string_view name) const;

  MailchimpSandbox* mailchimp_;
  CivicrmSandbox* civicrm_;
  const Clock* clock_;
  std::vector<Part*> parts_;
  RequestLog log_;
  std::function<void()> on_reset_;
  // Requests being answered, by port (the last slot counts every port beyond it).
  std::array<std::atomic<int>, 8> in_flight_{};
};

}  // namespace concord::sandbox
