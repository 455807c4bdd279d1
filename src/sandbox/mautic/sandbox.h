// The sandbox's emulator of the Mautic REST API and its webhooks, the part concord reads
// contacts from (docs/sandbox.md "The Mautic API"), as a Part of the router (part.h).
//
// Its handle() answers
//   * /api/contacts (the list with search, where, orderBy, paging, minimal and select; one
//     contact; its segments; do-not-contact add and remove), /api/segments (list, one, members
//     added and removed), /api/hooks (the webhook entity and its triggers) and
//     POST /oauth/v2/token, with Basic or OAuth2 authentication, the API switch, the optional
//     hourly rate limit and Mautic's error shapes, written from the reference's §3 and §5, not
//     from concord's client;
//   * from loopback peers, /_sandbox/faults and the admin routes under /_sandbox/mautic/ (what a
//     person does in Mautic's pages, the settings, the webhook queue and the delivery log).
// Each change to a contact fires the webhook events Mautic fires, POSTed to the published
// webhooks that subscribe to them: at once (in the background) or queued until the admin route
// processes the queue.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <memory>
#include <string>

#include "sandbox/clock.h"
#include "sandbox/mailchimp/transport.h"
#include "sandbox/part.h"

namespace concord::sandbox {

struct MauticOptions {
  // PEM roots trusted for https webhook URLs (empty: the system's store).
  std::string webhook_ca_file;
  // How deliveries reach receivers. Empty: default_url_transport(webhook_ca_file).
  UrlTransport transport;
};

// An empty install (the default API user and OAuth2 client; no contacts, segments or webhooks)
// whose "now" is `clock` (REQUIRES: outlives the part).
std::unique_ptr<Part> make_mautic_sandbox(SandboxClock* clock, MauticOptions options = {});

}  // namespace concord::sandbox
