// The webhook inbox: deliveries in each pair's meta family, numbered, oldest first.
#include "serve/inbox.h"

#include "concord/meta_keys.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace concord::serve {
namespace {

constexpr std::string_view kPrefix = meta::kWebhookEventPrefix;

// "webhook.event/" + the number in 20 digits, so that keys sort by number.
std::string key_of(std::uint64_t number) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(number));
  return std::string(kPrefix) + digits;
}

// The number of a key under kPrefix; 0 for a key that holds none.
std::uint64_t number_of(std::string_view key) {
  std::uint64_t n = 0;
  for (char c : key.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

bool in_inbox(const Cursor& c) {
  return c.valid() && c.key().substr(0, kPrefix.size()) == kPrefix;
}

// Every stored delivery of `pair`, oldest first, up to `limit`, to `visit(key, value)`.
template <typename Visit>
Status scan(Store& store, const PairHandle& pair, std::size_t limit, Visit visit) {
  Cursor c = store.scan(pair, Family::kMeta);
  std::size_t n = 0;
  for (c.seek(kPrefix); in_inbox(c) && n < limit; c.next(), ++n)
    visit(c.key(), c.value());
  return c.status();
}

}  // namespace

Result<std::unique_ptr<Inbox>> Inbox::open(Store& store,
                                           const std::vector<const PairHandle*>& pairs) {
  std::unique_ptr<Inbox> inbox(new Inbox(store));
  std::uint64_t last = 0;
  for (const PairHandle* pair : pairs) {
    Status s = scan(store, *pair, SIZE_MAX,
                    [&](std::string_view key, std::string_view) { last = number_of(key); });
    if (!s) return s;
    // Keys sort by number, so the last one seen is the highest of this pair.
    inbox->next_ = std::max(inbox->next_.load(), last + 1);
  }
  return inbox;
}

Result<std::uint64_t> Inbox::add(const PairHandle& pair, const WebhookEvent& event) {
  const std::uint64_t number = next_++;
  Batch b;
  b.put(pair, Family::kMeta, key_of(number), encode_webhook_event(event));
  if (Status s = store_.write(b, /*sync=*/true); !s) return s;
  return number;
}

Result<std::vector<Inbox::Delivery>> Inbox::take(const PairHandle& pair, std::size_t limit) const {
  std::vector<Delivery> out;
  Status s = scan(store_, pair, limit, [&](std::string_view key, std::string_view value) {
    Result<WebhookEvent> e = decode_webhook_event(value);
    out.push_back({number_of(key), e ? std::optional<WebhookEvent>(std::move(*e)) : std::nullopt});
  });
  if (!s) return s;
  return out;
}

Status Inbox::remove(const PairHandle& pair, const std::vector<std::uint64_t>& numbers) {
  if (numbers.empty()) return Status::ok();
  Batch b;
  for (std::uint64_t n : numbers)
    b.del(pair, Family::kMeta, key_of(n));
  return store_.write(b, /*sync=*/true);
}

Result<std::size_t> Inbox::count(const PairHandle& pair) const {
  std::size_t n = 0;
  Status s = scan(store_, pair, SIZE_MAX, [&](std::string_view, std::string_view) { ++n; });
  if (!s) return s;
  return n;
}

}  // namespace concord::serve
