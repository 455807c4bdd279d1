// The durable state of one [[stream]]: the queue of accepted events waiting to be forwarded, the
// insert_id keys seen in the last 7 days, the events in flight, what was forwarded (per member),
// and the stream's counts. Everything lives in the store under the pair handle "stream.NAME"
// (docs/store-format.md, "Streams"):
//   journal family   seq (8 bytes, big-endian) → a queued event (JSON)
//   mailchimp family email, 0x00, seq → a forwarded event or identify (JSON): `concord explain`
//                    and the check after a crash read it
//   meta family      "count.<name>" → decimal; "dedup.<key>" → accepted at (µs, decimal);
//                    "dedup_at." + µs (8 bytes) + key → ""; "inflight." + seq → "";
//                    "unknown_property.<name>" → ""; "last_error" → text
//
// The order of writes is what makes "nothing lost, nothing sent twice" hold across a kill:
//   accept()       events (and their dedup keys and counts) in one synced batch, before the 200;
//   mark_in_flight synced, before an event is sent;
//   settle()       the queue entry and its mark go, the history and counts come, in one batch.
// After a kill, an event still marked in flight may or may not have reached Mailchimp: the
// forwarder looks (Stream::verify) before sending it again.
//
// Thread-safety: every method may be called from any thread; writes are serialised.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"
#include "sides/amplitude/intake.h"

namespace concord::serve {

// Why an accepted event was not forwarded: the `reason` label of concord_stream_dropped_total.
enum class DropReason : std::uint8_t {
  kDuplicate = 0,  // its insert_id (on its device) was accepted in the last 7 days
  kAnonymous,      // no address: user_id is none and no user property holds one
  kInvalidEmail,   // what should be the address is not a valid one
  kFiltered,       // its type is not among `events`, or send_events / send_users is off
  kInvalidName,    // no Mailchimp event name can be made of its type (fewer than 2 characters)
  kGroupIdentify,  // a group's properties, about no person
  kNotMember,      // Mailchimp has no member with the address (events attach to members only)
  kRejected,       // Mailchimp refused it as invalid (its words are the last error)
};
inline constexpr int kDropReasonCount = 8;
// "duplicate", "anonymous", "invalid_email", "filtered", "invalid_name", "group_identify",
// "not_member", "rejected"
std::string_view drop_reason_name(DropReason r);

struct StreamCounts {
  std::uint64_t accepted = 0;   // events answered 200 (duplicates and drops included)
  std::uint64_t forwarded = 0;  // member events posted and identifies written
  std::uint64_t queued = 0;     // waiting to be forwarded now
  std::uint64_t dropped[kDropReasonCount] = {};
  std::uint64_t dropped_total() const;
};

// An event in the queue.
struct QueuedEvent {
  std::uint64_t seq = 0;
  amplitude::IntakeEvent event;
  std::string email;  // normalised
  Micros accepted_at = kNoTime;
};

// What was forwarded, as the history keeps it.
struct ForwardedRecord {
  std::uint64_t seq = 0;
  bool identify = false;  // an identify (member upserted), else a member event
  std::string name;       // the member event's name; "" for an identify
  Micros occurred_at = kNoTime;
  std::vector<std::pair<std::string, std::string>> properties;  // sorted; merge fields for identify
  Micros forwarded_at = kNoTime;
};

// An accepted event as the intake classified it: to be queued (email set) or dropped.
struct Intake {
  amplitude::IntakeEvent event;
  std::string email;                  // to queue: the member's address
  std::optional<DropReason> dropped;  // not forwarded, only counted
};

// How a queued event ended.
struct Settled {
  std::uint64_t seq = 0;
  std::string email;
  std::optional<DropReason> dropped;  // nullopt: forwarded (`record` is its history)
  ForwardedRecord record;
};

class StreamQueue {
 public:
  // Opens the stream's state in `store` (pair "stream.<name>"): counts, the queue's length and the
  // events in flight when the process last stopped. REQUIRES: `store` outlives the queue.
  static Result<std::unique_ptr<StreamQueue>> open(Store& store, const std::string& name);
  // Its handle's name in the store.
  static std::string pair_name(const std::string& stream) { return "stream." + stream; }

  // Takes one request's accepted events: each whose dedup key (amplitude::dedup_key) was seen in
  // the last 7 days, or earlier in the same request, is dropped as a duplicate; the rest are
  // queued or counted as dropped. All in one synced write; not OK (nothing taken, counts
  // unchanged) when it cannot be written. Returns the number queued.
  Result<std::size_t> accept(std::vector<Intake> events, Micros now);

  // Up to `limit` queued events with seq > after, in order.
  Result<std::vector<QueuedEvent>> read(std::uint64_t after, std::size_t limit);
  // Marks events as being sent (synced).
  Status mark_in_flight(const std::vector<std::uint64_t>& seqs);
  // The events marked in flight when the queue was opened (a run that was killed).
  std::set<std::uint64_t> in_flight_at_open() const { return in_flight_at_open_; }
  // Ends events: each leaves the queue (and its mark), its count moves, and a forwarded one's
  // record joins the member's history.
  Status settle(const std::vector<Settled>& done);

  // The member's history, oldest first.
  Result<std::vector<ForwardedRecord>> history(const std::string& email);

  // True the first time a user property without a merge field is seen (it is then remembered).
  bool first_unknown_property(const std::string& property);
  std::vector<std::string> unknown_properties() const;

  // The last error of forwarding, with its time (kept across restarts); "" when none.
  void set_last_error(const std::string& error, Micros at);
  std::pair<std::string, Micros> last_error() const;

  StreamCounts counts() const;

  // Forgets dedup keys accepted before `before` (7 days ago). Returns how many.
  Result<std::size_t> purge_dedup(Micros before);

 private:
  StreamQueue(Store& store, const PairHandle* handle) : store_(store), handle_(handle) {}
  // Puts the changed counts into `batch`. REQUIRES: mu_ held.
  void put_counts(Batch& batch, const StreamCounts& c) const;

  Store& store_;
  const PairHandle* handle_;
  mutable std::mutex mu_;  // serialises writes; guards what follows
  StreamCounts counts_;
  std::uint64_t next_seq_ = 1;
  std::set<std::uint64_t> in_flight_at_open_;
  std::set<std::string> unknown_properties_;
  std::string last_error_;
  Micros last_error_at_ = kNoTime;
};

// The forwarded history of `email` in stream `stream` of `store` (for `concord explain`, which
// opens the store read-only): kNotFound when the stream has no state.
Result<std::vector<ForwardedRecord>> forwarded_history(Store& store, const std::string& stream,
                                                       const std::string& email);

}  // namespace concord::serve
