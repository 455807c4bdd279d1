#include "snapshot/stored_index.h"

#include <algorithm>

namespace concord {
namespace {

// The contact_id a stored Mailchimp body holds: the body's own member, which follows its merge
// fields (record.h append_mailchimp_body), so the last occurrence of the key.
std::string_view mailchimp_identity(std::string_view body) {
  constexpr std::string_view kKey = "\"contact_id\":\"";
  const std::size_t at = body.rfind(kKey);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + kKey.size();
  const std::size_t end = body.find('"', start);
  if (end == std::string_view::npos) return {};
  return body.substr(start, end - start);
}

}  // namespace

Result<StoredIndex> StoredIndex::of_mailchimp(Store& store, const PairHandle& pair) {
  StoredIndex index;
  Cursor c = store.scan(pair, Family::kMailchimp);
  for (c.seek_to_first(); c.valid(); c.next()) {
    Entry e;
    if (!member_key_from_bytes(c.key(), &e.key)) continue;  // not a member's key
    const std::string_view v = c.value();
    e.size = static_cast<std::uint32_t>(std::min<std::size_t>(v.size(), UINT32_MAX));
    e.value_hash = hash(v);
    SnapshotView view;
    e.header_ok = decode_snapshot(v, &view).is_ok();
    if (e.header_ok) {
      e.header = view.header;
      e.identity_hash = hash(mailchimp_identity(view.body));
    }
    index.entries_.push_back(std::move(e));
  }
  if (Status s = c.status(); !s) return s;
  // (The store's order is the keys' bytes', as MemberKey's; sorted here should it ever not be.)
  if (!std::is_sorted(index.entries_.begin(), index.entries_.end(),
                      [](const Entry& a, const Entry& b) { return a.key < b.key; })) {
    std::sort(index.entries_.begin(), index.entries_.end(),
              [](const Entry& a, const Entry& b) { return a.key < b.key; });
  }
  return index;
}

const StoredIndex::Entry* StoredIndex::take(const MemberKey& key) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                             [](const Entry& e, const MemberKey& k) { return e.key < k; });
  if (it == entries_.end() || !(it->key == key) || it->used) return nullptr;
  it->used = true;
  return &*it;
}

}  // namespace concord
