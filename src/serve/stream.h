// One [[stream]] of `concord serve`: the Amplitude-shaped intake that takes events and users, and
// the forwarder that carries them into the audience.
//
// Intake (intake()): the request is read and validated by sides/amplitude/intake.h, and held to
// the per-user and per-device rate (serve/intake_throttle.h: 429 beyond it); each accepted
// event is classified (queued, or dropped: anonymous, filtered, …) and the request's events are
// written to the stream's queue in one synced write before the reply says 200 (503 when they
// cannot be written: nothing was taken, the sender retries).
//
// Forwarding (start()): a reader hands queued events to `connections` workers; a worker takes the
// oldest events of members no other worker holds, so that each member's events reach Mailchimp
// in the order they came (an identify that adds a member goes before the member's events) while
// every connection is busy as long as any member has events waiting. A worker marks a few events in
// flight (synced), sends them one by one, and settles them in one write:
//   an ordinary event → POST …/members/{hash}/events (sides/amplitude/member_event.h); a 404 means
//     no such member: counted as not_member, never retried;
//   an identify → PUT …/members/{hash} with status_if_new, merge fields only where the audience
//     has a merge field whose tag is the property's name (compared without regard to case); other
//     properties are reported once each (log, status page), not per event. $setOnce fills a
//     field only when the member's is empty.
// Transient failures (network, 5xx, 429 after the client's own retries) stop the worker's line
// with a growing pause (0.5 s doubling to 60 s) and become the stream's last error; the events wait
// in the queue. A member event whose POST may have arrived (no answer), or that was in flight when
// the process was killed, is looked for among the member's events before it is sent again:
// Mailchimp's events have no id, so an event counts as there when Mailchimp lists more events of
// the same name, time (to the second) and properties than concord's history of the member holds.
//
// Thread-safety: intake() and view() from any thread; start()/stop() from one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "concord/config.h"
#include "concord/mailchimp_client.h"
#include "concord/time.h"
#include "serve/api.h"
#include "serve/intake_throttle.h"
#include "serve/stream_queue.h"
#include "sides/amplitude/intake.h"
#include "sides/amplitude/member_event.h"

namespace concord::serve {

struct StreamOptions {
  std::string api_key;  // the key senders must send (secret)
  // The audience's id (resolved from config.audience). Called until it succeeds.
  std::function<Result<std::string>()> audience_id;
  const Clock* clock = &system_clock();
  Log log;
  // Workers, each with at most one request to Mailchimp at a time. Default 10 (Mailchimp's
  // connection limit per account); the account's client caps them further.
  int connections = 10;
  // Events a worker marks in flight at once (one synced write each time).
  std::size_t batch = 16;
  // Longest pause after a failure.
  Micros max_backoff = 60 * kMicrosPerSecond;
};

class Stream {
 public:
  // Opens the stream's state in `store`. REQUIRES: `config`, `store` and `mailchimp` outlive it.
  static Result<std::unique_ptr<Stream>> open(const StreamConfig& config, Store& store,
                                              MailchimpClient& mailchimp, StreamOptions options);
  ~Stream();  // stop()s

  const std::string& name() const { return config_.name; }

  // Answers one intake request (POST /2/httpapi, /batch, /identify).
  amplitude::IntakeReply intake(const amplitude::IntakeRequest& request);

  // Starts forwarding in the background; stop() ends it (an event being sent is settled or left
  // marked for the next start's check). Idempotent.
  void start();
  void stop();

  StreamView view() const;

 private:
  struct Work {
    QueuedEvent event;
    bool verify = false;  // may have reached Mailchimp already: look before sending
  };
  // What one attempt at an event came to.
  enum class Attempt : std::uint8_t { kSettled, kRetry };

  Stream(const StreamConfig& config, MailchimpClient& mailchimp, StreamOptions options)
      : config_(config), mailchimp_(mailchimp), options_(std::move(options)) {}

  void read_loop();
  void work_loop();
  // Takes up to options_.batch waiting events for one worker: the oldest whose member no other
  // worker holds, so that a member's events go in order and every worker has work while any
  // member is free. The members taken are held until release(). REQUIRES: mu_ held.
  std::vector<Work> take_work();
  bool work_waiting() const;  // REQUIRES: mu_ held
  void release(const std::vector<Work>& batch);
  // One attempt at forwarding `w`; on kSettled, *out says how it ended. `pending` holds this
  // worker's events settled but not yet written (the check after a lost answer counts them).
  Attempt forward(Work& w, const std::vector<Settled>& pending, Settled* out);
  // The two kinds, into the audience `list`.
  Attempt forward_event(const std::string& list, Work& w, const std::vector<Settled>& pending,
                        Settled* out);
  Attempt forward_identify(const std::string& list, const QueuedEvent& q, Settled* out);
  // Whether Mailchimp lists the event already (see the header comment). kNotFound: not a member.
  Result<bool> already_sent(const std::string& list, const QueuedEvent& q,
                            const amplitude::MemberEvent& e, const std::vector<Settled>& pending);
  // The audience's id, and its merge tags (upper-cased → tag), read again every 10 minutes.
  Result<std::string> list_id();
  Result<std::map<std::string, std::string>> merge_tags(const std::string& list);
  void failed(const std::string& what);
  // Sleeps `pause` or until stop(); false when stopping.
  bool pause(Micros pause);
  void log(const std::string& line) const {
    if (options_.log) options_.log("stream \"" + config_.name + "\": " + line);
  }

  const StreamConfig& config_;
  MailchimpClient& mailchimp_;
  const StreamOptions options_;
  amplitude::IntakeOptions intake_options_;
  amplitude::MemberEventOptions event_options_;
  std::unique_ptr<StreamQueue> queue_;
  std::unique_ptr<IntakeThrottle> throttle_;

  std::mutex list_mu_;
  std::string list_id_;                      // GUARDED_BY(list_mu_)
  std::map<std::string, std::string> tags_;  // GUARDED_BY(list_mu_)
  Micros tags_read_ = kNoTime;               // GUARDED_BY(list_mu_)

  std::mutex mu_;
  std::condition_variable cv_;  // work handed over, room made, new events, stop
  std::vector<std::thread> workers_;
  std::deque<Work> waiting_;    // read from the queue, not taken by a worker yet
  std::set<std::string> held_;  // members whose events a worker is sending
  std::size_t buffered_ = 0;    // events read from the queue, not settled yet
  bool new_events_ = false;     // set by intake(), cleared by the reader
  bool stopping_ = false;
  std::set<std::uint64_t> verify_;  // in flight when the process last stopped
  std::thread reader_;
  bool started_ = false;
};

}  // namespace concord::serve
