#include "snapshot/crm_ingest.h"

#include <algorithm>
#include <map>

#include "concord/email.h"
#include "snapshot/fetch_common.h"
#include "snapshot/move_finder.h"

namespace concord {

Status crm_member_of(std::string_view value, CrmMember* member, std::string* email) {
  SnapshotView view;
  if (Status s = decode_snapshot(value, &view); !s) return s;
  CrmMember m;
  if (Status s = crm_state_of(view.header, &m.state); !s) return s;
  CrmBody body;
  if (Status s = decode_crm_body(view.body, &body); !s) return s;
  m.contact_id = body.contact_id;
  m.first_name = std::move(body.first_name);
  m.last_name = std::move(body.last_name);
  m.duplicates = std::move(body.duplicates);
  m.addresses = std::move(body.addresses);
  m.state.consent_changed_at = body.consent_changed_at;
  m.fields = std::move(body.fields);
  m.modified_at = body.modified_at;
  m.source_id = std::move(body.source_id);
  *member = std::move(m);
  email->assign(view.email);
  return Status::ok();
}

std::string crm_entry_of(const CrmMember& m, std::string_view email) {
  CrmBody body{m.contact_id, m.first_name,  m.last_name,
               m.duplicates, m.addresses,   m.state.consent_changed_at,
               m.fields,     m.modified_at, m.source_id};
  std::string value;
  encode_snapshot(crm_header(m.state, crm_content_hash(email, m.first_name, m.last_name, m.fields)),
                  email, encode_crm_body(body), &value);
  return value;
}

CrmIngest::CrmIngest(Store& store, const PairHandle& pair, SnapshotWriter::Mode mode)
    : store_(store), pair_(pair), writer_(store, pair, Side::kCrm, mode) {}

namespace {

// A stored member's consent, for crm_consent_changed_at. The body is parsed only when it has a
// consent time; an unreadable value counts as first sight.
std::optional<StoredConsent> stored_consent(const std::optional<std::string>& value) {
  if (!value) return std::nullopt;
  SnapshotView view;
  if (!decode_snapshot(*value, &view)) return std::nullopt;
  StoredConsent c{(view.header.flags & kCrmConsentFlags) != 0, kNoTime};
  if (crm_body_has_consent_time(view.body)) {
    CrmBody body;
    if (decode_crm_body(view.body, &body)) c.changed_at = body.consent_changed_at;
  }
  return c;
}

std::size_t usable_addresses(const CrmContact& c) {
  return static_cast<std::size_t>(
      std::count_if(c.addresses.begin(), c.addresses.end(),
                    [](const CrmAddress& a) { return !a.email.empty(); }));
}

}  // namespace

Status CrmIngest::stored_homes(const std::vector<CrmContact>& page,
                               std::set<std::pair<std::int64_t, MemberKey>>* homes) {
  std::vector<std::pair<std::int64_t, MemberKey>> asks;
  for (const CrmContact& c : page) {
    if (usable_addresses(c) < 2) continue;  // one address: nothing to choose
    for (const CrmAddress& a : c.addresses) {
      if (!a.email.empty()) asks.emplace_back(c.contact_id, member_key(normalise_email(a.email)));
    }
  }
  if (asks.empty() || writer_.started_empty()) return Status::ok();
  std::vector<std::string_view> keys;
  keys.reserve(asks.size());
  for (const auto& [id, key] : asks)
    keys.push_back(key.view());
  std::vector<std::optional<std::string>> stored;
  if (Status s = store_.multi_get(pair_, Family::kCrm, keys, &stored); !s) return s;
  for (std::size_t i = 0; i < asks.size(); ++i) {
    if (!stored[i]) continue;
    CrmMember m;
    std::string email;
    if (!crm_member_of(*stored[i], &m, &email)) continue;  // unreadable: no home
    const std::int64_t id = asks[i].first;
    if (m.contact_id == id || std::binary_search(m.duplicates.begin(), m.duplicates.end(), id)) {
      homes->insert(asks[i]);
    }
  }
  return Status::ok();
}

Status CrmIngest::records(std::vector<CrmContact>& page) {
  if (page.empty()) return Status::ok();
  // A contact that was settled on one of its addresses (settle_representatives) stays there,
  // rather than coming back under the address the rule alone would pick and being settled again.
  std::set<std::pair<std::int64_t, MemberKey>> homes;
  if (Status s = stored_homes(page, &homes); !s) return s;

  // Every address each contact of the page has now (for moves.h: a contact that still has an
  // address did not move away from it).
  std::map<std::int64_t, std::vector<std::string>> has_now;
  for (const CrmContact& c : page) {
    for (const CrmAddress& a : c.addresses) {
      if (!a.email.empty()) has_now[c.contact_id].push_back(normalise_email(a.email));
    }
  }

  // Key each contact by its representative address; merge contacts that share one.
  std::map<MemberKey, std::pair<CrmMember, std::string>> members;  // key → member, email
  for (CrmContact& c : page) {
    ++counts_.members;
    const bool several = usable_addresses(c) > 1;
    std::vector<AddressFacts> facts;
    facts.reserve(c.addresses.size());
    for (const CrmAddress& a : c.addresses) {
      AddressFacts f;
      f.usable = !a.email.empty();
      f.is_primary = a.is_primary;
      f.is_bulkmail = a.is_bulkmail;
      f.on_hold = a.on_hold != 0;
      f.preferred =
          several && f.usable && homes.count({c.contact_id, member_key(normalise_email(a.email))});
      facts.push_back(f);
    }
    const std::size_t chosen = representative_address(facts);
    const std::string source = "contact " + std::to_string(c.contact_id);
    if (chosen == kNoAddress) {
      ++counts_.rejected;
      writer_.reject({source, "", "email", "the contact has no email address"});
      continue;
    }
    const std::string& raw = c.addresses[chosen].email;
    std::string email = normalise_email(raw);
    if (EmailProblem p = check_email(email); p != EmailProblem::kOk) {
      ++counts_.rejected;
      writer_.reject({source, raw, "email", std::string(describe(p))});
      continue;
    }
    CrmMember m;
    m.contact_id = c.contact_id;
    m.state.status = c.status;
    m.state.changed_at = c.changed_at;
    m.state.contact_known = true;
    m.state.trashed = c.trashed;
    m.state.do_not_email = c.do_not_email;
    m.state.is_opt_out = c.is_opt_out;
    m.state.email_on_hold = c.addresses[chosen].on_hold != 0;
    m.state.hold_opt_out = c.addresses[chosen].on_hold == 2;
    m.state.deceased = c.deceased;
    m.modified_at = c.modified_at;
    m.first_name = std::move(c.first_name);
    m.last_name = std::move(c.last_name);
    m.fields = std::move(c.fields);
    if (several) {
      for (const CrmAddress& a : c.addresses) {
        if (a.email.empty()) continue;
        m.addresses.push_back({normalise_email(a.email), a.is_primary, a.is_bulkmail, a.on_hold});
      }
    }
    MemberKey key = member_key(email);
    auto it = members.find(key);
    if (it != members.end()) {
      it->second.first = merge_duplicates(std::move(it->second.first), std::move(m));
    } else {
      members.emplace(key, std::make_pair(std::move(m), std::move(email)));
    }
  }

  // A contact sharing its address with one written earlier in this read (or, for a key the read
  // does not cover, with the stored member of another contact) is merged with it.
  std::vector<std::string_view> keys;
  keys.reserve(members.size());
  for (auto& [key, m] : members)
    keys.push_back(key.view());
  std::vector<std::optional<std::string>> stored;
  if (Status s = store_.multi_get(pair_, Family::kCrm, keys, &stored); !s) return s;
  std::vector<SnapshotEntry> entries;
  MoveFinder moves(store_, pair_, Side::kCrm, writer_.mode() == SnapshotWriter::Mode::kFull,
                   !writer_.started_empty());
  // A full read into an empty snapshot: whatever is stored was written by this read, so `written`
  // need not say so (a set of every member's key, a twentieth of a first read's CPU).
  const bool all_this_read = all_keys && writer_.started_empty();
  std::size_t i = 0;
  for (auto& [key, entry] : members) {
    CrmMember& m = entry.first;
    const std::optional<std::string>& old = stored[i++];
    if (old && (all_this_read || !covers(key) || written.count(key))) {
      CrmMember prev;
      std::string prev_email;
      if (crm_member_of(*old, &prev, &prev_email)) {
        if (defer_shared && (!m.duplicates.empty() || !prev.duplicates.empty() ||
                             (prev.contact_id != 0 && prev.contact_id != m.contact_id))) {
          deferred.push_back(entry.second);
          continue;
        }
        if (prev.contact_id != 0 && prev.contact_id != m.contact_id) {
          m = merge_duplicates(std::move(prev), std::move(m));
        }
      }
    }
    // The consent time, kept as Mailchimp's status_changed_at is.
    m.state.consent_changed_at =
        crm_consent_changed_at(stored_consent(old), m.state.consent_withheld(), m.modified_at);
    if (covers(key) && !all_this_read) written.insert(key);
    SnapshotEntry& e = entries.emplace_back(SnapshotEntry{key, crm_entry_of(m, entry.second)});
    e.unchanged = old && *old == e.value;
    // Each contact read at this address may be a person whose address changed (moves.h).
    std::vector<std::int64_t> ids = m.duplicates;
    ids.push_back(m.contact_id);
    for (std::int64_t id : ids) {
      auto now = has_now.find(id);
      if (id == 0 || now == has_now.end()) continue;  // not read now: nothing known of it
      moves.add(key, entry.second, std::to_string(id), old, now->second);
    }
  }
  counts_.written += entries.size();
  if (Status s = writer_.write_page(entries); !s) return s;
  return moves.flush();
}

Result<FetchStats> fetch_crm(CrmReader& reader, std::int64_t group_id, bool full, Store& store,
                             const PairHandle& pair) {
  const std::string key = civicrm_watermark_key(group_id);
  Result<Micros> start = fetch_start(store, pair, key, "CiviCRM", &full);
  if (!start) return start.status();
  const Micros watermark = *start;
  CrmIngest ingest(store, pair,
                   full ? SnapshotWriter::Mode::kFull : SnapshotWriter::Mode::kIncremental);
  ingest.all_keys = full;
  ingest.defer_shared = !full;
  Result<SideRead> read =
      full ? reader.read_all(group_id, ingest) : reader.read_since(group_id, watermark, ingest);
  if (!read) return read.status();
  if (Status s = ingest.writer().finish(); !s) return s;
  FetchStats stats = fetch_stats(*read, ingest.counts());
  stats.removed = ingest.writer().stats().removed;
  if (!ingest.deferred.empty()) {
    // Shared addresses: all their contacts read again, as for a webhook.
    Result<FetchStats> shared = refresh_crm(reader, group_id, ingest.deferred, store, pair);
    if (!shared) return shared.status();
    stats.pages += shared->pages;
    stats.written += shared->written;
    stats.rejected += shared->rejected;
    stats.removed += shared->removed;
  }
  stats.watermark = read->watermark;
  if (stats.watermark != kNoTime) {
    if (Status s = store_watermark(store, pair, key, stats.watermark); !s) return s;
  }
  return stats;
}

Result<FetchStats> refresh_crm(CrmReader& reader, std::int64_t group_id,
                               const std::vector<std::string>& emails, Store& store,
                               const PairHandle& pair) {
  CrmIngest ingest(store, pair, SnapshotWriter::Mode::kIncremental);
  std::vector<MemberKey> keys;  // each address once, in the order given
  std::vector<std::string> addresses;
  for (const std::string& e : emails) {
    std::string n = normalise_email(e);
    if (n.empty()) continue;
    MemberKey k = member_key(n);
    if (!ingest.asked.insert(k).second) continue;
    keys.push_back(k);
    addresses.push_back(std::move(n));
  }
  if (keys.empty()) return FetchStats{};

  // The contacts to read besides those that have the addresses: those the stored members of the
  // addresses name, which may no longer have them.
  std::vector<std::string_view> views;
  for (const MemberKey& k : keys)
    views.push_back(k.view());
  std::vector<std::optional<std::string>> stored;
  if (Status s = store.multi_get(pair, Family::kCrm, views, &stored); !s) return s;
  std::vector<std::int64_t> ids;
  for (const std::optional<std::string>& v : stored) {
    CrmMember m;
    std::string email;
    if (!v || !crm_member_of(*v, &m, &email)) continue;
    ids.push_back(m.contact_id);
    ids.insert(ids.end(), m.duplicates.begin(), m.duplicates.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::erase(ids, 0);

  Result<SideRead> read = reader.read_contacts(group_id, addresses, ids, ingest);
  if (!read) return read.status();
  if (Status s = ingest.writer().finish(); !s) return s;
  FetchStats stats = fetch_stats(*read, ingest.counts());
  // An address that no contact with history in the group is represented by is no member.
  Batch batch;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (ingest.written.count(keys[i]) || !stored[i]) continue;
    batch.del(pair, Family::kCrm, views[i]);
    ++stats.removed;
  }
  if (batch.count() > 0) {
    if (Status s = store.write(batch); !s) {
      return s.with_context("removing addresses no longer in the group");
    }
  }
  return stats;
}

}  // namespace concord
