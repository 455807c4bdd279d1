// How the Mautic part POSTs to webhook receivers (the reference's §5.3): the request (JSON body,
// X-Origin-Base-URL, Webhook-Signature = base64(HMAC-SHA256(secret, raw body))), a background
// thread that sends immediate-mode deliveries in order so that the request that caused them is
// not kept waiting, queued-mode deliveries sent on the caller's thread, and the log of what was
// sent (GET /_sandbox/mautic/deliveries).
//
// Thread-safety: every method may be called from many threads at once. The answer callback is
// called on the sending thread without the outbox's lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "concord/time.h"
#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/transport.h"

namespace concord::sandbox::mautic {

// base64(HMAC-SHA256(key = secret, message = body)): the Webhook-Signature header.
std::string webhook_signature(std::string_view secret, std::string_view body);

// One POST to one webhook.
struct Delivery {
  std::uint64_t seq = 0;    // set by the outbox
  std::uint64_t epoch = 0;  // the installed state it belongs to (its hook ids)
  std::int64_t hook_id = 0;
  bool queued = false;  // sent by the queue processing, not at once
  std::string url;
  std::string secret;
  std::string origin;  // X-Origin-Base-URL
  std::string body;
  std::vector<std::string> events;  // the body's keys
  std::vector<std::int64_t> rows;   // queued: the queue rows it carries
  Micros at = kNoTime;              // when it was made, by the sandbox clock
  // Once sent:
  std::string signature;
  int status = 0;  // the receiver's status; 0 when there was no answer
  std::string error;
  bool done = false;
};

class Outbox {
 public:
  using OnAnswer = std::function<void(const Delivery&)>;
  // Starts the sending thread. `on_answer` is told of every delivery once it was sent.
  Outbox(UrlTransport transport, OnAnswer on_answer);
  ~Outbox();  // stops the thread; pending deliveries are dropped
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Immediate mode: sent by the background thread, in the order given, once (no retry).
  void enqueue(Delivery d);
  // Queued mode: sent now, on this thread; returns it with its answer (on_answer is called too).
  Delivery send_now(Delivery d);
  // Waits until every enqueued delivery was sent, or `timeout` passed. Returns whether it was.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Forgets the pending deliveries and the log (a reset).
  void clear();
  // Forgets the log.
  void clear_log();
  // {"deliveries":[…],"pending":n}: the log (oldest first), then those not sent yet.
  ojson to_json() const;

 private:
  static constexpr std::size_t kLogSize = 1000;
  void loop();
  // Sends d (filling its answer) and tells on_answer_; then logs it.
  void deliver(Delivery& d);

  UrlTransport transport_;
  OnAnswer on_answer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> pending_;
  std::deque<Delivery> log_;
  std::uint64_t seq_ = 0;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace concord::sandbox::mautic
