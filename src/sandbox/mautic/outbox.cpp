#include "sandbox/mautic/outbox.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <utility>

namespace concord::sandbox::mautic {
namespace {

ojson delivery_json(const Delivery& d) {
  ojson j = ojson::object();
  j["seq"] = d.seq;
  j["webhook_id"] = d.hook_id;
  j["mode"] = d.queued ? "queued" : "immediate";
  j["url"] = d.url;
  j["events"] = d.events;
  j["rows"] = d.rows;
  j["at"] = format_iso8601(d.at);
  j["body"] = d.body;
  j["signature"] = d.signature;
  j["done"] = d.done;
  j["status"] = d.status;
  j["error"] = d.error;
  return j;
}

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &mac_len);
  std::string out(4 * ((mac_len + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac, static_cast<int>(mac_len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Outbox::Outbox(UrlTransport transport, OnAnswer on_answer)
    : transport_(std::move(transport)), on_answer_(std::move(on_answer)) {
  worker_ = std::thread([this] { loop(); });
}

Outbox::~Outbox() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Outbox::enqueue(Delivery d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    d.seq = ++seq_;
    pending_.push_back(std::move(d));
  }
  cv_.notify_all();
}

Delivery Outbox::send_now(Delivery d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    d.seq = ++seq_;
  }
  deliver(d);
  return d;
}

bool Outbox::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return stop_ || (pending_.empty() && !busy_); });
}

void Outbox::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.clear();
  log_.clear();
}

void Outbox::clear_log() {
  std::lock_guard<std::mutex> lock(mu_);
  log_.clear();
}

ojson Outbox::to_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  ojson arr = ojson::array();
  for (const Delivery& d : log_)
    arr.push_back(delivery_json(d));
  for (const Delivery& d : pending_)
    arr.push_back(delivery_json(d));
  ojson j = ojson::object();
  j["deliveries"] = std::move(arr);
  j["pending"] = pending_.size() + (busy_ ? 1 : 0);
  return j;
}

void Outbox::deliver(Delivery& d) {
  http::Request req;
  req.method = "POST";
  d.signature = webhook_signature(d.secret, d.body);
  req.headers.push_back({"Content-Type", "application/json"});
  req.headers.push_back({"X-Origin-Base-URL", d.origin});
  req.headers.push_back({"Webhook-Signature", d.signature});
  // Mautic's client is Guzzle's, called through PSR-18.
  req.headers.push_back({"User-Agent", "GuzzleHttp/7"});
  req.body = d.body;
  auto r = transport_(d.url, req);
  if (r.is_ok()) {
    d.status = r->status;
  } else {
    d.error = r.status().message();
  }
  d.done = true;
  on_answer_(d);
  std::lock_guard<std::mutex> lock(mu_);
  log_.push_back(d);
  while (log_.size() > kLogSize)
    log_.pop_front();
}

void Outbox::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    Delivery d = std::move(pending_.front());
    pending_.pop_front();
    busy_ = true;
    lock.unlock();
    deliver(d);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace concord::sandbox::mautic
