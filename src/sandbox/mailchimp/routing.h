// The Mailchimp part's handler behind MailchimpSandbox: its state, and its routes.
//
// routing.cpp takes a request in (faults, the concurrency limit, authentication) and dispatches it
// to a route. Each route is defined in the file of its resource: lists.cpp, members.cpp,
// batches.cpp, merge_fields.cpp, webhooks.cpp, interests.cpp, segments.cpp, events.cpp;
// member_states.cpp holds the member state machine the writes share, admin.cpp the admin routes
// under /_sandbox/.
//
// The account lives behind one shared mutex: reads share it, writes take it alone. Webhook
// deliveries leave from the delivery queue's thread in the order of the changes.
//
// Thread-safety: handle() may be called from many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "concord/http.h"
#include "sandbox/clock.h"
#include "sandbox/faults.h"
#include "sandbox/mailchimp/account.h"
#include "sandbox/mailchimp/deliveries.h"
#include "sandbox/mailchimp/member_body.h"
#include "sandbox/mailchimp/replies.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/times.h"

namespace concord::sandbox {

// The Mailchimp part's fault settings: the common ones and its own.
struct MailchimpFaults : FaultConfig {
  int max_concurrent = 10;  // simultaneous requests per API key; 0: no limit
  bool archived_in_listing = true;
  // Whether POST /segments/{id} lists addresses that are not on the list in `errors` (else they
  // are only ignored, as the spec says); the reference leaves it open.
  bool segment_non_member_errors = false;

  std::string read(const json& body);
  void write(ojson& j) const;
};

struct MailchimpSandbox::Impl {
  Impl(std::unique_ptr<Account> a, SandboxClock* c, MailchimpOptions o);

  // State.
  mutable std::shared_mutex mu;
  std::unique_ptr<Account> account;
  std::atomic<std::uint64_t> generation{0};
  SandboxClock* clock;
  MailchimpOptions options;

  // Faults and the concurrency limit.
  FaultInjector<MailchimpFaults> faults;
  std::mutex inflight_mu;
  std::map<std::string, int> inflight;  // requests being answered, by API key

  DeliveryQueue deliveries;

  Micros now() const { return to_seconds(clock->now()); }
  void changed() { generation.fetch_add(1); }

  // Entry and dispatch (routing.cpp).
  http::Reply handle(const http::Request& req, const http::Peer& peer, std::string* fault_out);
  http::Reply api(Ctx& c);
  http::Reply api_root(Ctx& c);

  // Admin routes (admin.cpp).
  http::Reply admin(Ctx& c, const http::Peer& peer);
  http::Reply admin_reset(Ctx& c);
  http::Reply admin_clock(Ctx& c);
  http::Reply admin_faults(Ctx& c);
  http::Reply admin_member_hook(Ctx& c);
  http::Reply admin_deliveries(Ctx& c);

  // Lists (lists.cpp).
  http::Reply get_lists(Ctx& c);
  http::Reply get_list(Ctx& c, const List& l);
  http::Reply tag_search(Ctx& c, const List& l);

  // Members (members.cpp).
  http::Reply get_members(Ctx& c, const List& l);
  http::Reply post_member(Ctx& c, const std::string& list_id);
  http::Reply get_member(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply put_or_patch_member(Ctx& c, const std::string& list_id, const std::string& seg,
                                  bool put);
  http::Reply delete_member(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply delete_permanent(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply member_tags(Ctx& c, const std::string& list_id, const std::string& seg);
  // The member a path segment names (hash, email or contact_id); *key_known says whether the
  // segment gave a subscriber hash (*key_out).
  Member* resolve(List& l, const std::string& seg, MemberKey* key_out, bool* key_known);
  // The same when only the member matters. Does not modify the list.
  Member* resolve(List& l, const std::string& seg) {
    MemberKey key;
    bool known;
    return resolve(l, seg, &key, &known);
  }
  // The member a subscriber hash names, for the operations that take nothing else (§16.6).
  Member* resolve_hash(List& l, const std::string& seg);
  // The member as the API shows it (with the request's `fields` when `use_fields`).
  std::string member_json(const Ctx& c, const List& l, const Member& m, bool use_fields) const;

  // Batch subscribe (batches.cpp).
  http::Reply batch_subscribe(Ctx& c, const std::string& list_id);

  // Interest categories and interests (interests.cpp).
  http::Reply interest_categories(Ctx& c, const std::string& list_id,
                                  const std::string* category_id);
  http::Reply interests(Ctx& c, const std::string& list_id, const std::string& category_id,
                        const std::string* interest_id);

  // Static segments, i.e. tags (segments.cpp).
  http::Reply segments(Ctx& c, const std::string& list_id, const std::string* segment_id);
  http::Reply list_segments(Ctx& c, const std::string& list_id);
  http::Reply segment_batch(Ctx& c, const std::string& list_id, const std::string& segment_id);
  // GET and POST …/segments/{id}/members, or DELETE …/members/{hash} when `seg` is given.
  http::Reply segment_members(Ctx& c, const std::string& list_id, const std::string& segment_id,
                              const std::string* seg);

  // Member events (events.cpp).
  http::Reply member_events(Ctx& c, const std::string& list_id, const std::string& seg);

  // Merge fields (merge_fields.cpp).
  http::Reply merge_fields(Ctx& c, const std::string& list_id, const std::string* merge_id);

  // Webhooks and their events (webhooks.cpp).
  http::Reply webhooks(Ctx& c, const std::string& list_id, const std::string* webhook_id);
  void fire(const List& l, WebhookEvent ev, Source src, const Pairs& data);
  void fire_member(const List& l, WebhookEvent ev, Source src, const Member& m,
                   const Pairs& extra = {});

  // The member state machine (member_states.cpp). Callers hold `mu` exclusively.
  Member& create_member(List& l, const MemberWrite& w, MemberStatus status, Source src,
                        std::string_view source_label);
  std::optional<Problem> update_member(List& l, Member& m, const MemberWrite& w,
                                       std::optional<MemberStatus> to, Source src,
                                       bool skip_merge_validation,
                                       std::string_view email_for_errors);
  void set_status(List& l, Member& m, MemberStatus to, Source src,
                  std::optional<Micros> timestamp_opt);
  // The required merge fields left empty: of all fields, or of those `touched`.
  std::optional<Problem> check_required(const List& l, const std::vector<std::string>& values,
                                        const std::vector<bool>* touched);
  // check_required() for a new member written with `w` over the fields' defaults.
  std::optional<Problem> check_required_new(const List& l, const MemberWrite& w);
  // Adds the named tags the member does not have yet. Returns whether any was added.
  bool add_tags(List& l, Member& m, const std::vector<std::string>& names, Micros t);
  // The id of the list's tag with this name (case-insensitive); a new tag, created at `t`, when
  // `create`; 0 when absent.
  std::uint32_t tag_for_name(List& l, std::string_view name, bool create, Micros t);
  // Puts a tag on a member or takes it off. When that changes something, the member's
  // last_changed and the tag's updated_at move to `t`. Returns whether it changed something.
  bool set_member_tag(List& l, Member& m, std::uint32_t tag_id, bool on, Micros t);
  void archive(List& l, Member& m, Source src);
  void forget(List& l, Member& m, Source src);
};

}  // namespace concord::sandbox
