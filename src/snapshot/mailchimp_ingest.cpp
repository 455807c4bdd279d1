// The Mailchimp half of the snapshot stage: records → entries, the full fetch's sweep, watermarks.
#include <algorithm>
#include <cctype>

#include "concord/email.h"
#include "concord/snapshot.h"
#include "snapshot/fetch_common.h"
#include "snapshot/move_finder.h"
#include "snapshot/stored_index.h"

namespace concord {

const MailchimpMark MailchimpIngest::kNoMark{};

bool MailchimpMark::carries(const MailchimpRecord& r) const {
  if (kind == TargetKind::kInterest) {
    return std::find(r.interests.begin(), r.interests.end(), interest_id) != r.interests.end();
  }
  return std::any_of(r.tags.begin(), r.tags.end(), [&](const std::string& t) {
    return t.size() == tag.size() &&
           std::equal(t.begin(), t.end(), tag.begin(), [](unsigned char a, unsigned char b) {
             return std::tolower(a) == std::tolower(b);
           });
  });
}

MailchimpIngest::MailchimpIngest(Store& store, const PairHandle& pair, SnapshotWriter::Mode mode,
                                 const MailchimpMark& mark)
    : store_(store), pair_(pair), writer_(store, pair, Side::kMailchimp, mode), mark_(mark) {}

void MailchimpIngest::reject(RejectedRow row) {
  ++counts_.members;
  ++counts_.rejected;
  writer_.reject(std::move(row));
}

void MailchimpIngest::gone(const std::string& email) {
  gone_.push_back(email);
}

void MailchimpIngest::advance_watermark(std::string key, Micros from) {
  watermark_key_ = std::move(key);
  watermark_ = from;
}

Status MailchimpIngest::records(std::vector<MailchimpRecord>& page) {
  // Key each record by its normalised address; a bad address is a rejected row, named by the
  // address as Mailchimp sent it.
  struct Keyed {
    MemberKey key;
    std::string email;
    const MailchimpRecord* record;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(page.size());
  for (const MailchimpRecord& r : page) {
    ++counts_.members;
    std::string email = normalise_email(r.email);
    if (EmailProblem problem = check_email(email); problem != EmailProblem::kOk) {
      ++counts_.rejected;
      writer_.reject({r.email, r.email, "email_address", std::string(describe(problem))});
      continue;
    }
    MemberKey key = member_key(email);
    keyed.push_back({key, std::move(email), &r});
  }

  // What is stored for these members decides their status_changed_at. A full fetch over a stored
  // snapshot reads it all in one pass at its first page (stored_index.h); the members that pass
  // does not answer for (new ones, and those read twice) are read from the store.
  std::vector<std::optional<std::string>> stored(keyed.size());
  std::vector<const StoredIndex::Entry*> indexed(keyed.size(), nullptr);
  if (!writer_.started_empty()) {
    if (writer_.mode() == SnapshotWriter::Mode::kFull && !stored_read_) {
      stored_read_ = true;
      Result<StoredIndex> index = StoredIndex::of_mailchimp(store_, pair_);
      if (!index) return index.status();
      stored_ = std::make_shared<StoredIndex>(std::move(*index));
    }
    std::vector<std::string_view> keys;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < keyed.size(); ++i) {
      if (stored_ && (indexed[i] = stored_->take(keyed[i].key)) != nullptr) continue;
      keys.push_back(keyed[i].key.view());
      at.push_back(i);
    }
    std::vector<std::optional<std::string>> read;
    if (!keys.empty()) {
      if (Status s = store_.multi_get(pair_, Family::kMailchimp, keys, &read); !s) return s;
    }
    for (std::size_t j = 0; j < at.size(); ++j)
      stored[at[j]] = std::move(read[j]);
  }

  std::vector<SnapshotEntry> entries;
  entries.reserve(keyed.size());
  std::string body;
  Micros page_max = kNoTime;
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    const MailchimpRecord& r = *keyed[i].record;
    std::optional<StoredMailchimpStatus> prev;
    std::optional<MailchimpState> old_state;
    // An unreadable stored entry is taken as first sight (and overwritten).
    SnapshotHeader h;
    bool have_header = false;
    if (indexed[i] != nullptr) {
      have_header = indexed[i]->header_ok;
      h = indexed[i]->header;
    } else if (stored[i]) {
      have_header = decode_snapshot_header(*stored[i], &h).is_ok();
    }
    if (MailchimpState old; have_header && mailchimp_state_of(h, &old)) {
      prev = StoredMailchimpStatus{old.status, old.changed_at};
      old_state = old;
    }
    MailchimpState state;
    state.status = r.status;
    state.unsubscribe_origin = r.unsubscribe_origin;
    if (mark_.marks()) {
      // The target's membership is the mark, timed by concord's record of its flips.
      state.mark = mark_.carries(r) ? Membership::kIn : Membership::kOut;
      state.changed_at = !old_state                               ? kNoTime
                         : old_state->membership() == *state.mark ? old_state->changed_at
                                                                  : mark_.seen_at;
    } else {
      state.changed_at =
          mailchimp_status_changed_at(prev, r.status, r.last_changed, r.timestamp_opt);
    }
    body.clear();
    append_mailchimp_body(r.merge_fields, r.last_changed_text, r.timestamp_opt_text,
                          r.unsubscribe_reason, &body, r.contact_id);
    SnapshotEntry& e = entries.emplace_back();
    e.key = keyed[i].key;
    encode_snapshot(mailchimp_header(state, mailchimp_content_hash(keyed[i].email, r.merge_fields)),
                    keyed[i].email, body, &e.value);
    e.unchanged = indexed[i] != nullptr ? indexed[i]->size == e.value.size() &&
                                              indexed[i]->value_hash == StoredIndex::hash(e.value)
                                        : stored[i] && *stored[i] == e.value;
    if (r.last_changed != kNoTime && (page_max == kNoTime || r.last_changed > page_max)) {
      page_max = r.last_changed;
    }
  }
  counts_.written += entries.size();
  if (Status s = writer_.write_page(entries); !s) return s;
  // Members under an address new to the snapshot may be people whose address changed.
  MoveFinder moves(store_, pair_, Side::kMailchimp, writer_.mode() == SnapshotWriter::Mode::kFull,
                   !writer_.started_empty());
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    const std::string& identity = keyed[i].record->contact_id;
    if (indexed[i] != nullptr) {
      moves.add(keyed[i].key, keyed[i].email, identity, true,
                indexed[i]->identity_hash == StoredIndex::hash(identity));
    } else {
      moves.add(keyed[i].key, keyed[i].email, identity, stored[i]);
    }
  }
  if (Status s = moves.flush(); !s) return s;
  // An incremental fetch that fails later resumes after what it has stored.
  if (!watermark_key_.empty() && page_max != kNoTime && page_max > watermark_) {
    watermark_ = page_max;
    if (Status s = store_watermark(store_, pair_, watermark_key_, watermark_); !s) return s;
  }
  return Status::ok();
}

namespace {

// The snapshot's members of the statuses Mailchimp counts.
Result<AudienceCounts> snapshot_counts(Store& store, const PairHandle& pair) {
  AudienceCounts c;
  Cursor cur = store.scan(pair, Family::kMailchimp);
  for (cur.seek_to_first(); cur.valid(); cur.next()) {
    SnapshotHeader h;
    if (Status s = decode_snapshot_header(cur.value(), &h); !s) return s;
    switch (static_cast<MailchimpStatus>(h.status)) {
      case MailchimpStatus::kSubscribed:
        ++c.subscribed;
        break;
      case MailchimpStatus::kUnsubscribed:
        ++c.unsubscribed;
        break;
      case MailchimpStatus::kCleaned:
        ++c.cleaned;
        break;
      default:
        break;
    }
  }
  if (Status s = cur.status(); !s) return s;
  return c;
}

// One read: full, or since the stored watermark (full without one).
Result<FetchStats> fetch_mailchimp_once(MailchimpReader& reader, std::string_view list_id,
                                        bool full, Store& store, const PairHandle& pair,
                                        const MailchimpMark& mark);

}  // namespace

Result<FetchStats> fetch_mailchimp(MailchimpReader& reader, std::string_view list_id, bool full,
                                   Store& store, const PairHandle& pair,
                                   const MailchimpMark& mark) {
  const bool asked_full = full;
  Result<FetchStats> f = fetch_mailchimp_once(reader, list_id, full, store, pair, mark);
  if (!f || asked_full || f->full) return f;
  // Members deleted permanently do not show in an incremental read: when Mailchimp's counts
  // differ from the snapshot's, everything is read, and the sweep removes what is gone.
  Result<AudienceCounts> theirs = reader.audience_counts(list_id);
  if (!theirs) return theirs.status();
  Result<AudienceCounts> ours = snapshot_counts(store, pair);
  if (!ours) return ours.status();
  if (*theirs == *ours) return f;
  Result<FetchStats> again = fetch_mailchimp_once(reader, list_id, true, store, pair, mark);
  if (!again) {
    return again.status().with_context("reading the audience in full (its counts differ)");
  }
  again->pages += f->pages;
  again->counts_differed = true;
  return again;
}

namespace {

Result<FetchStats> fetch_mailchimp_once(MailchimpReader& reader, std::string_view list_id,
                                        bool full, Store& store, const PairHandle& pair,
                                        const MailchimpMark& mark) {
  const std::string key = mailchimp_watermark_key(list_id);
  Result<Micros> start = fetch_start(store, pair, key, "Mailchimp", &full);
  if (!start) return start.status();
  const Micros watermark = *start;
  MailchimpIngest ingest(
      store, pair, full ? SnapshotWriter::Mode::kFull : SnapshotWriter::Mode::kIncremental, mark);
  if (!full) ingest.advance_watermark(key, watermark);
  Result<SideRead> read =
      full ? reader.read_all(list_id, ingest) : reader.read_since(list_id, watermark, ingest);
  if (!read) return read.status();
  FetchStats stats = fetch_stats(*read, ingest.counts());
  stats.full = full;

  if (full) {
    // Offset paging can skip a member when another one before it leaves the audience while we
    // page. Before anything is deleted from the snapshot, each stored member this fetch did not
    // see is asked for by itself: those Mailchimp still has are written again, and only those it
    // answers 404 for are left to the sweep.
    Result<std::vector<std::pair<MemberKey, std::string>>> unseen =
        ingest.writer().unseen_members();
    if (!unseen) return unseen.status();
    std::vector<std::string> emails;
    for (auto& [k, email] : *unseen) {
      if (!email.empty()) emails.push_back(std::move(email));
    }
    if (!emails.empty()) {
      const IngestCounts before = ingest.counts();
      Result<SideRead> again = reader.read_members(list_id, emails, ingest);
      if (!again) return again.status().with_context("checking a member missing from the pages");
      stats.rechecked = ingest.counts().members - before.members;
      stats.written = ingest.counts().written;
    }
  }
  if (Status s = ingest.writer().finish(); !s) return s;
  stats.removed = ingest.writer().stats().removed;
  stats.watermark = read->watermark;
  if (stats.watermark != kNoTime) {
    if (Status s = store_watermark(store, pair, key, stats.watermark); !s) return s;
  }
  return stats;
}

}  // namespace

Result<FetchStats> refresh_mailchimp(MailchimpReader& reader, std::string_view list_id,
                                     const std::vector<std::string>& emails, Store& store,
                                     const PairHandle& pair, const MailchimpMark& mark) {
  MailchimpIngest ingest(store, pair, SnapshotWriter::Mode::kIncremental, mark);
  Result<SideRead> read = reader.read_members(list_id, emails, ingest);
  if (!read) return read.status();
  FetchStats stats = fetch_stats(*read, ingest.counts());
  if (Status s = ingest.writer().finish(); !s) return s;
  // Members Mailchimp does not have (never there, or deleted permanently) leave the snapshot.
  const std::vector<std::string>& gone = ingest.gone_emails();
  if (gone.empty()) return stats;
  std::vector<MemberKey> keys;
  std::vector<std::string_view> views;
  keys.reserve(gone.size());
  for (const std::string& email : gone)
    keys.push_back(member_key(email));
  for (const MemberKey& k : keys)
    views.push_back(k.view());
  std::vector<std::optional<std::string>> stored;
  if (Status s = store.multi_get(pair, Family::kMailchimp, views, &stored); !s) return s;
  Batch batch;
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (!stored[i]) continue;
    batch.del(pair, Family::kMailchimp, views[i]);
    ++stats.removed;
  }
  if (batch.count() > 0) {
    if (Status s = store.write(batch); !s) {
      return s.with_context("removing members no longer in the audience");
    }
  }
  return stats;
}

}  // namespace concord
