// The sandbox's emulator of the Mailchimp Marketing API v3.0, as an HTTP handler.
//
// MailchimpSandbox::handle() answers
//   * the API under /3.0/ (auth, /ping, /lists, members with the real state machine,
//     batch-subscribe, tags and static segments, interest categories and interests, member
//     events, merge fields, list webhooks), with fault injection and a limit on
//     simultaneous requests per API key applied before the request is handled, and
//   * the admin routes under /_sandbox/ (loopback peers only): reset, state, clock, faults, the
//     member hooks that the API cannot do (self-unsubscribe, bounce, ...), webhook deliveries.
// docs/sandbox.md describes every route, the behaviour emulated, and the known gaps.
//
// Thread-safety: handle() may be called from many threads at once (http::Server does).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "concord/status.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/account.h"
#include "sandbox/mailchimp/transport.h"

namespace concord::sandbox {

struct MailchimpOptions {
  // Empty: default_url_transport(webhook_ca_file).
  UrlTransport transport;
  std::string webhook_ca_file;
  // Attempts per webhook delivery (Mailchimp retries for 75 minutes; the sandbox a few times).
  int delivery_attempts = 3;
  std::chrono::milliseconds delivery_retry_delay{500};
};

class MailchimpSandbox {
 public:
  // `clock` must outlive the sandbox.
  MailchimpSandbox(std::unique_ptr<Account> account, SandboxClock* clock,
                   MailchimpOptions options = {});
  ~MailchimpSandbox();  // stops the delivery thread (pending deliveries are dropped)
  MailchimpSandbox(const MailchimpSandbox&) = delete;
  MailchimpSandbox& operator=(const MailchimpSandbox&) = delete;

  // Answers one request. When `injected_fault` is given, it is set to the fault injected into an
  // API request ("" when none; else as in the `next` script: "503", "reset", "reset_after",
  // "truncate", "delay:<ms>"), for the request log.
  http::Reply handle(const http::Request& request, const http::Peer& peer,
                     std::string* injected_fault = nullptr);

  // A counter that moves on every change of the persisted state (members, lists, clock).
  std::uint64_t generation() const;
  // The whole state in the seed's format (what GET /_sandbox/state returns).
  std::string state_document() const;
  // Replaces the state with a seed, as POST /_sandbox/reset does. Returns kInvalid for a bad
  // seed (nothing changes then).
  Status reset(std::string_view seed);

  // Blocks until every queued webhook delivery has been attempted (for tests).
  void drain_webhooks();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord::sandbox
