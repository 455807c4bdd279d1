#include "sandbox/mailchimp/deliveries.h"

#include <algorithm>
#include <utility>

namespace concord::sandbox {

DeliveryQueue::DeliveryQueue(UrlTransport transport, int attempts,
                             std::chrono::milliseconds retry_delay)
    : transport_(std::move(transport)), attempts_(attempts), retry_delay_(retry_delay) {
  worker_ = std::thread([this] { loop(); });
}

DeliveryQueue::~DeliveryQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void DeliveryQueue::enqueue(Delivery d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    d.seq = ++seq_;
    queue_.push_back(std::move(d));
  }
  cv_.notify_all();
}

void DeliveryQueue::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stop_ || (queue_.empty() && !busy_); });
}

void DeliveryQueue::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
  log_.clear();
}

void DeliveryQueue::clear_log() {
  std::lock_guard<std::mutex> lock(mu_);
  log_.clear();
}

ojson DeliveryQueue::to_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  ojson arr = ojson::array();
  auto add = [&](const Delivery& d) {
    ojson j = ojson::object();
    j["seq"] = d.seq;
    j["webhook_id"] = d.webhook_id;
    j["list_id"] = d.list_id;
    j["url"] = d.url;
    j["type"] = d.type;
    j["source"] = d.source;
    j["fired_at"] = d.fired_at;
    j["body"] = d.body;
    j["done"] = d.done;
    j["attempts"] = d.attempts;
    j["status"] = d.status;
    j["error"] = d.error;
    arr.push_back(std::move(j));
  };
  for (const auto& d : log_)
    add(d);
  if (current_) add(*current_);
  for (const auto& d : queue_)
    add(d);
  ojson j = ojson::object();
  j["deliveries"] = std::move(arr);
  return j;
}

void DeliveryQueue::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    current_ = d;
    lock.unlock();
    http::Request req;
    req.method = "POST";
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"User-Agent", "MailChimp.com"});
    req.body = d.body;
    for (int attempt = 1; attempt <= std::max(1, attempts_); ++attempt) {
      d.attempts = attempt;
      auto r = transport_(d.url, req);
      if (r.is_ok()) {
        d.status = r->status;
        d.error.clear();
      } else {
        d.status = 0;
        d.error = r.status().message();
      }
      {
        std::lock_guard<std::mutex> current_lock(mu_);
        current_ = d;
      }
      if (d.status >= 200 && d.status < 300) break;
      if (attempt < attempts_) {
        std::unique_lock<std::mutex> wait_lock(mu_);
        if (cv_.wait_for(wait_lock, retry_delay_ * attempt, [this] { return stop_; })) return;
      }
    }
    d.done = true;
    lock.lock();
    current_.reset();
    log_.push_back(std::move(d));
    while (log_.size() > kLogSize)
      log_.pop_front();
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace concord::sandbox
