// The queue between an apply's reader of one side's journal entries and its senders (engine.cpp):
// chunks in journal order, a few waiting at most; and, for a pass that journals while the apply
// sends, how far it has written (JournalTail). Internal to src/apply/.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
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

// How far a journal pass running beside the apply has written (a first sync that no guard can
// stop, engine.cpp): the entries before the end it publishes are in the store, synced, whole
// members at a time (a member's entries are never split across an advance). The readers of both
// sides wait on it; close() ends the pass, with its status.
class JournalTail {
 public:
  struct Seen {
    std::uint32_t end = 0;  // entries [0, end) are written
    bool over = false;      // the pass is over: no entry will follow end
  };

  void advance(std::uint32_t end) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.end = end;
    cv_.notify_all();
  }
  // The pass is over, having written `end` entries (those past the last advance() are written
  // only when `s` is OK).
  void close(Status s, std::uint32_t end) {
    std::lock_guard<std::mutex> lock(mu_);
    if (s) seen_.end = end;
    seen_.over = true;
    status_ = std::move(s);
    cv_.notify_all();
  }
  // Waits until entries past `from` are written or the pass is over.
  Seen wait_past(std::uint32_t from) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return seen_.end > from || seen_.over; });
    return seen_;
  }
  // The pass's outcome, once over.
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Seen seen_;
  Status status_;
};

}  // namespace concord
