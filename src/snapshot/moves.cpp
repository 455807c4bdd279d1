#include <algorithm>
#include <nlohmann/json.hpp>

#include "concord/moves.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "snapshot/move_finder.h"

namespace concord {
namespace {

using json = nlohmann::json;

constexpr std::string_view kMovePrefix = "move/";
constexpr std::string_view kIdentityPrefix = "identity/";

// The identity a stored entry holds, or "" (an unreadable entry, or a CRM address several
// contacts share: one of them leaving is no move of the address).
std::string stored_identity(Side side, std::string_view value) {
  SnapshotView v;
  if (!decode_snapshot(value, &v)) return {};
  if (side == Side::kMailchimp) {
    MailchimpBody b;
    if (!decode_mailchimp_body(v.body, &b, MergeFields::kTextOnly)) return {};
    return b.contact_id;
  }
  CrmBody b;
  if (!decode_crm_body(v.body, &b) || !b.duplicates.empty()) return {};
  if (!b.source_id.empty()) return b.source_id;  // a one-way source's person
  if (b.contact_id == 0) return {};
  return std::to_string(b.contact_id);
}

}  // namespace

std::string move_key(Side side, const MemberKey& to) {
  return std::string(kMovePrefix) + std::string(side_name(side)) + "/" + subscriber_hash(to);
}

std::string identity_key(Side side, std::string_view identity) {
  return std::string(kIdentityPrefix) + std::string(side_name(side)) + "/" + std::string(identity);
}

std::string encode_move(const AddressMove& m) {
  json j = {{"side", side_name(m.side)},
            {"from", m.from_email},
            {"to", m.to_email},
            {"identity", m.identity}};
  if (!m.refused.empty()) j["refused"] = m.refused;
  if (m.occupied) j["occupied"] = true;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<AddressMove> decode_move(std::string_view value) {
  json j = json::parse(value, nullptr, false);
  if (!j.is_object()) return Status::corruption("a stored address move is not a JSON object");
  auto text = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  AddressMove m;
  m.side = text("side") == "mailchimp" ? Side::kMailchimp : Side::kCrm;
  m.from_email = text("from");
  m.to_email = text("to");
  m.identity = text("identity");
  m.refused = text("refused");
  auto occupied = j.find("occupied");
  m.occupied = occupied != j.end() && occupied->is_boolean() && occupied->get<bool>();
  if (m.from_email.empty() || m.to_email.empty()) {
    return Status::corruption("a stored address move lacks an address");
  }
  return m;
}

Result<std::vector<AddressMove>> load_moves(Store& store, const PairHandle& pair) {
  std::vector<AddressMove> out;
  Cursor c = store.scan(pair, Family::kMeta);
  for (c.seek(kMovePrefix); c.valid() && c.key().starts_with(kMovePrefix); c.next()) {
    Result<AddressMove> m = decode_move(c.value());
    if (!m) return m.status().with_context("meta " + std::string(c.key()));
    out.push_back(std::move(*m));
  }
  if (Status s = c.status(); !s) return s;
  return out;
}

void MoveFinder::add(const MemberKey& key, const std::string& email, const std::string& identity,
                     const std::optional<std::string>& stored, std::vector<std::string> addresses) {
  if (identity.empty()) return;
  // The identity is recorded for a member new at its key, on a full read, and when the stored
  // entry did not hold it (written by concord before the side was read back, or by an older
  // concord): a text search, so that an incremental read parses nothing more.
  // (A one-way source's id is a JSON string in the CRM body: "source_id":"…".)
  const std::string held = side_ == Side::kMailchimp ? "\"contact_id\":\"" + identity + "\""
                                                     : "\"contact_id\":" + identity + ",";
  const std::string held_source = "\"source_id\":\"" + identity + "\"";
  const bool holds =
      stored && (stored->find(held) != std::string::npos ||
                 (side_ != Side::kMailchimp && stored->find(held_source) != std::string::npos));
  add(key, email, identity, stored.has_value(), holds, std::move(addresses));
}

void MoveFinder::add(const MemberKey& key, const std::string& email, const std::string& identity,
                     bool was_stored, bool held, std::vector<std::string> addresses) {
  if (identity.empty()) return;
  const bool is_new = !was_stored || !held;
  seen_.push_back(
      {key, email, identity, was_stored, is_new, index_all_ || is_new, std::move(addresses)});
}

Status MoveFinder::flush() {
  if (seen_.empty()) return Status::ok();
  // Where each new key's identity was last written.
  std::vector<std::size_t> fresh;
  std::vector<std::string> id_keys;
  // An identity new at its key (the key new to the snapshot, or another person's before).
  for (std::size_t i = 0; i < seen_.size() && look_up_; ++i) {
    if (!seen_[i].is_new) continue;
    fresh.push_back(i);
    id_keys.push_back(identity_key(side_, seen_[i].identity));
  }
  std::vector<std::string_view> views(id_keys.begin(), id_keys.end());
  std::vector<std::optional<std::string>> last;
  if (!views.empty()) {
    if (Status s = store_.multi_get(pair_, Family::kMeta, views, &last); !s) return s;
  }
  // The stored members at those old addresses.
  std::vector<std::pair<std::size_t, MemberKey>> candidates;
  for (std::size_t n = 0; n < fresh.size(); ++n) {
    MemberKey old;
    if (!last[n] || !member_key_from_bytes(*last[n], &old) || old == seen_[fresh[n]].key) continue;
    candidates.emplace_back(fresh[n], old);
  }
  std::vector<std::string_view> old_views;
  for (const auto& [i, old] : candidates)
    old_views.push_back(old.view());
  std::vector<std::optional<std::string>> old_values;
  if (!old_views.empty()) {
    if (Status s = store_.multi_get(pair_, snapshot_family(side_), old_views, &old_values); !s)
      return s;
  }
  Batch b;
  for (std::size_t n = 0; n < candidates.size(); ++n) {
    const Seen& s = seen_[candidates[n].first];
    if (!old_values[n] || stored_identity(side_, *old_values[n]) != s.identity) continue;
    SnapshotView v;
    if (!decode_snapshot(*old_values[n], &v)) continue;
    const std::string old_email(v.email);
    // Still one of the person's addresses: no move (the CRM chose another to represent them).
    if (std::find(s.addresses.begin(), s.addresses.end(), old_email) != s.addresses.end()) continue;
    AddressMove m{side_, old_email, s.email, s.identity, "", s.was_stored};
    b.put(pair_, Family::kMeta, move_key(side_, s.key), encode_move(m));
    b.del(pair_, snapshot_family(side_), candidates[n].second.view());
    ++moves_;
  }
  // In key order: RocksDB's memtable (a skip list) takes keys in order near where the last one
  // went, and identities come page by page in ascending order (CiviCRM's contact ids), where in
  // seen_'s order (the members' keys, hashes) each was a search from the top (a tenth of a full
  // CRM read's CPU).
  std::vector<std::pair<std::string, const MemberKey*>> index;
  for (const Seen& s : seen_) {
    if (s.index) index.emplace_back(identity_key(side_, s.identity), &s.key);
  }
  // (Stable: of one identity written twice, the later put still wins.)
  std::stable_sort(index.begin(), index.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [id_key, key] : index)
    b.put(pair_, Family::kMeta, id_key, key->view());
  seen_.clear();
  return store_.write(b);
}

}  // namespace concord
