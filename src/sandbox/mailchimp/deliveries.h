// The Mailchimp part's webhook deliveries: a queue that a background thread sends in order,
// retrying a few times, and a log of what was sent (GET /_sandbox/mailchimp/deliveries).
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/transport.h"

namespace concord::sandbox {

// One delivery of one event to one webhook.
struct Delivery {
  std::uint64_t seq = 0;  // set by enqueue()
  std::string webhook_id;
  std::string list_id;
  std::string url;
  std::string type;
  std::string source;
  std::string body;  // form-encoded
  std::string fired_at;
  int status = 0;  // the receiver's HTTP status; 0 when it could not be reached
  std::string error;
  int attempts = 0;
  bool done = false;
};

class DeliveryQueue {
 public:
  // Starts the sending thread. `attempts` per delivery, waiting `retry_delay` times the attempt
  // number between them.
  DeliveryQueue(UrlTransport transport, int attempts, std::chrono::milliseconds retry_delay);
  ~DeliveryQueue();  // stops the thread; pending deliveries are dropped
  DeliveryQueue(const DeliveryQueue&) = delete;
  DeliveryQueue& operator=(const DeliveryQueue&) = delete;

  void enqueue(Delivery d);
  // Blocks until every queued delivery has been attempted.
  void drain();
  // Forgets the queue and the log (a reset).
  void clear();
  // Forgets the log.
  void clear_log();
  // {"deliveries": [...]}: the log, the one being sent, then the queue.
  ojson to_json() const;

 private:
  static constexpr std::size_t kLogSize = 1000;
  void loop();

  UrlTransport transport_;
  int attempts_;
  std::chrono::milliseconds retry_delay_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;
  std::deque<Delivery> log_;         // most recent last, at most kLogSize
  std::optional<Delivery> current_;  // the one being attempted
  std::uint64_t seq_ = 0;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace concord::sandbox
