// What the sandbox's router asks of an emulator part beyond Mailchimp and CiviCRM (the parts of
// the systems concord mirrors into Mailchimp: Auth0, Mixpanel, Amplitude). Each such part has its
// own port, its own object in the state document (under its name), its own faults and admin
// routes under /_sandbox/<name>/, and its entries in the request log.
//
// The router hands a part:
//   * every request to its port that is not an admin route (the API), with `injected_fault`
//     given, for the request log;
//   * /_sandbox/faults for this part (GET and POST, the keys of faults.h plus the part's own),
//     and every route under /_sandbox/<name>/, from loopback peers only, with `injected_fault`
//     null.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "concord/status.h"

namespace concord::sandbox {

class Part {
 public:
  virtual ~Part() = default;

  // The part's name: its key in the state document and seeds, its `part` in the request log and
  // the faults, its admin prefix (/_sandbox/<name>/) and its port flag (--<name>-port).
  virtual std::string_view name() const = 0;

  // Answers one request (see above).
  virtual http::Reply handle(const http::Request& request, const http::Peer& peer,
                             std::string* injected_fault) = 0;

  // A counter that moves on every change of the persisted state of this part.
  virtual std::uint64_t generation() const = 0;

  // The part's object of the state document (JSON text), complete enough to reload exactly.
  virtual std::string state_part() const = 0;

  // Replaces the part's state with `object`, the JSON text of its object in a seed or state
  // document (nullopt: the document has none, so the part is empty), and clears its faults.
  // Returns a JSON object of counts for the reset's answer (e.g. {"users":3}), or kInvalid
  // naming the field, as a path from the part's object, with or without the part's name
  // ("users[3].email: …" or "auth0.users[3].email: …"); the part is unchanged then.
  virtual Result<std::string> install(std::optional<std::string_view> object) = 0;
  // Whether install(object) would succeed, changing nothing (a reset checks every part's object
  // before it installs any, so that a bad one changes nothing).
  virtual Status check(std::optional<std::string_view> object) const = 0;
};

// The raw JSON text of the top-level `key` of a seed or state document, without building the
// rest of it (a million-member document is hundreds of MB): nullopt when the document has no
// such key; kInvalid when the document is not a JSON object.
Result<std::optional<std::string>> seed_object(std::string_view document, std::string_view key);

}  // namespace concord::sandbox
