// The queue between an apply's reader of one side's journal entries and its senders (engine.cpp):
// chunks in journal order, a few waiting at most. Internal to src/apply/.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "concord/journal.h"
#include "concord/status.h"

namespace concord {

// Chunks of one side's journal entries, read in journal order by one thread and sent by others;
// at most `depth` wait to be sent. fail() ends it at once: push() refuses, pop() ends; close()
// ends it once the chunks pushed were taken.
class ChunkFeed {
 public:
  explicit ChunkFeed(std::size_t depth) : depth_(depth) {}

  // False once the feed failed (the chunk is dropped: its entries stay planned).
  bool push(std::vector<JournalEntry> chunk) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < depth_ || !status_; });
    if (!status_) return false;
    queue_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }
  std::optional<std::vector<JournalEntry>> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || closed_ || !status_; });
    if (!status_ || queue_.empty()) return std::nullopt;
    std::vector<JournalEntry> chunk = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return chunk;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  // The first failure is kept.
  void fail(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_) status_ = std::move(s);
    cv_.notify_all();
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  const std::size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<JournalEntry>> queue_;
  bool closed_ = false;
  Status status_;
};

}  // namespace concord
