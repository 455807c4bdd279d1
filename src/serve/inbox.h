// The webhook inbox: the deliveries `concord serve` has acknowledged and not yet reconciled.
//
// A delivery is answered 200 only after it is stored with a synced write, so nothing Mailchimp
// was told we received is lost in a crash; it stays stored until the run that reconciles it
// (or a scheduled run that began after it arrived) ends. This class is the only code that reads
// or writes the stored deliveries.
//
// Stored in each pair's meta family (docs/store-format.md):
//   webhook.event/<20-digit number>   encode_webhook_event(event)
// Numbers increase across all pairs in the order deliveries are stored; the first number after a
// restart is one more than the highest stored, so the oldest delivery always sorts first.
//
// Thread-safety: every method may be called from any thread (the HTTP threads store, the worker
// takes and removes); the Store is thread-safe and numbering is atomic.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"
#include "serve/webhook.h"

namespace concord::serve {

class Inbox {
 public:
  // One stored delivery: its number, and the event (nullopt when its stored form cannot be read:
  // it is passed over, and removed with the others).
  struct Delivery {
    std::uint64_t number = 0;
    std::optional<WebhookEvent> event;
  };

  // An inbox over `store` (REQUIRES: it outlives the inbox) for the deliveries of `pairs`; new
  // deliveries are numbered after the highest stored in any of them. Returns the store's error
  // when they cannot be read.
  static Result<std::unique_ptr<Inbox>> open(Store& store,
                                             const std::vector<const PairHandle*>& pairs);

  // Stores a delivery for `pair` durably (a synced write) and returns its number. On error
  // nothing is stored.
  Result<std::uint64_t> add(const PairHandle& pair, const WebhookEvent& event);

  // The oldest `limit` deliveries of `pair`, oldest first. They stay stored until removed.
  Result<std::vector<Delivery>> take(const PairHandle& pair, std::size_t limit) const;

  // Removes these deliveries of `pair` (numbers not stored are ignored) in one synced write.
  Status remove(const PairHandle& pair, const std::vector<std::uint64_t>& numbers);
  // How many deliveries of `pair` are stored.
  Result<std::size_t> count(const PairHandle& pair) const;

 private:
  explicit Inbox(Store& store) : store_(store) {}

  Store& store_;
  std::atomic<std::uint64_t> next_{1};
};

}  // namespace concord::serve
