// The Mautic part behind make_mautic_sandbox(): its state, how an API request comes in (faults,
// the API switch, authentication, the rate limit, the route table) in routing.cpp, the resources
// in contacts.cpp, segments.cpp and hooks.cpp, the webhook events' way to their receivers in
// webhooks.cpp, the admin routes in admin.cpp, and the Part methods (state, install, check) in
// sandbox.cpp.
//
// The site lives behind one shared mutex: reads share it; changes, installs and the recording of
// a receiver's answer take it alone. The outbox, the rate limiter and the faults have their own
// locks, taken after (never while waiting for) the site's.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "sandbox/clock.h"
#include "sandbox/faults.h"
#include "sandbox/http_helpers.h"
#include "sandbox/mautic/events.h"
#include "sandbox/mautic/outbox.h"
#include "sandbox/mautic/params.h"
#include "sandbox/mautic/rate_limiter.h"
#include "sandbox/mautic/sandbox.h"
#include "sandbox/mautic/site.h"
#include "sandbox/part.h"
#include "sandbox/times.h"

namespace concord::sandbox::mautic {

// The part's fault settings: the common ones, answered with the part's name.
struct MauticFaults : FaultConfig {
  void write(ojson& j) const;
};

// One API request matched to a route.
struct Call {
  const http::Request& request;
  const Params& params;
  std::vector<std::string> args;  // the route's {placeholders}, in order

  // args[i] as an integer (REQUIRES: a placeholder the route matched as digits).
  std::int64_t id(std::size_t i) const;
};

class MauticSandbox final : public Part {
 public:
  // `clock` must outlive the part.
  MauticSandbox(SandboxClock* clock, MauticOptions options);

  std::string_view name() const override { return "mautic"; }
  http::Reply handle(const http::Request& request, const http::Peer& peer,
                     std::string* injected_fault) override;
  std::uint64_t generation() const override { return generation_.load(); }
  std::string state_part() const override;
  Result<std::string> install(std::optional<std::string_view> object) override;
  Status check(std::optional<std::string_view> object) const override;

  // The handlers of the route table (routing.cpp).
  using Handler = http::Reply (MauticSandbox::*)(const Call&);

  // contacts.cpp
  http::Reply list_contacts(const Call& call);
  http::Reply get_contact(const Call& call);
  http::Reply contact_segments(const Call& call);
  http::Reply dnc_add(const Call& call);
  http::Reply dnc_remove(const Call& call);
  // segments.cpp
  http::Reply list_segments(const Call& call);
  http::Reply get_segment(const Call& call);
  http::Reply segment_add(const Call& call);
  http::Reply segment_remove(const Call& call);
  http::Reply segment_add_many(const Call& call);
  // segment_add (add) and segment_remove.
  http::Reply segment_member(const Call& call, bool add);
  // hooks.cpp
  http::Reply list_hooks(const Call& call);
  http::Reply hook_triggers(const Call& call);
  http::Reply get_hook(const Call& call);
  http::Reply new_hook(const Call& call);
  http::Reply edit_hook(const Call& call);
  http::Reply delete_hook(const Call& call);

 private:
  // routing.cpp: the API.
  http::Reply api(const http::Request& req, std::string_view path, std::string_view query,
                  std::string* fault_out);
  http::Reply dispatch_route(const http::Request& req, std::string_view path,
                             std::string_view query);

  // webhooks.cpp: where the events of a change go (REQUIRES: mu_ held alone). Counts the change
  // in the generation too.
  void changed(std::vector<Fired> fired);
  // A receiver's answer: the hook's log, 410 and auto-disabling.
  void on_answer(const Delivery& d);
  // Sends the queue (all published hooks, or one): the admin route's answer.
  ojson process_queue(std::optional<std::int64_t> hook_id);

  // admin.cpp: /_sandbox/faults and /_sandbox/mautic/….
  http::Reply admin(const http::Request& req, std::string_view path, const http::Peer& peer);
  http::Reply admin_faults(const http::Request& req);
  http::Reply admin_contacts(const http::Request& req, const std::vector<std::string>& segs);
  http::Reply admin_segments(const http::Request& req, const std::vector<std::string>& segs);
  http::Reply admin_settings(const http::Request& req);
  http::Reply admin_process(const http::Request& req);
  http::Reply admin_deliveries(const http::Request& req, std::string_view query);
  http::Reply admin_tokens(const http::Request& req);
  http::Reply admin_rate_limit(const http::Request& req);

  Micros now() const { return to_seconds(clock_->now()); }

  SandboxClock* clock_;
  mutable std::shared_mutex mu_;
  Site site_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> epoch_{
      0};  // moves at each install: answers for older hooks are dropped
  FaultInjector<MauticFaults> faults_;
  RateLimiter limiter_;
  std::mutex process_mu_;  // one queue processing at a time
  // Last, so that it stops first: its thread calls on_answer().
  Outbox outbox_;
};

}  // namespace concord::sandbox::mautic
