#include "sandbox/mailchimp/member_query.h"

#include <algorithm>
#include <utility>

namespace concord::sandbox {
namespace {

Micros sort_value(const Member& m, SortField f) {
  switch (f) {
    case SortField::kTimestampOpt:
      return m.timestamp_opt;
    case SortField::kTimestampSignup:
      return m.timestamp_signup;
    case SortField::kLastChanged:
      return m.last_changed;
    case SortField::kNone:
      break;
  }
  return 0;
}

}  // namespace

std::string MemberQuery::key() const {
  std::string k;
  k += std::to_string(status ? static_cast<int>(*status) : -1) + '|';
  for (Micros t :
       {since_last_changed, before_last_changed, since_opt, before_opt, unsubscribed_since}) {
    k += std::to_string(t) + '|';
  }
  k += email_type + '|' + (vip_only ? "v" : "-") + '|' + unique_email_id + '|' +
       std::to_string(static_cast<int>(sort)) + (desc ? "d" : "a") +
       (archived_in_listing ? "A" : "-") + '|';
  k += (interest_match ? std::to_string(static_cast<int>(*interest_match)) : "-") + ':' +
       std::to_string(interest_mask) + '|' + std::to_string(tag_id) + '|' +
       std::to_string(statuses);
  return k;
}

bool MemberQuery::matches(const Member& m) const {
  if (m.dead) return false;
  if (status) {
    if (m.status != *status) return false;
  } else if (!archived_in_listing && m.status == MemberStatus::kArchived) {
    return false;
  }
  if (since_last_changed != kNoTime && !(m.last_changed > since_last_changed)) return false;
  if (before_last_changed != kNoTime && !(m.last_changed < before_last_changed)) return false;
  if (since_opt != kNoTime && !(m.timestamp_opt != kNoTime && m.timestamp_opt > since_opt)) {
    return false;
  }
  if (before_opt != kNoTime && !(m.timestamp_opt != kNoTime && m.timestamp_opt < before_opt)) {
    return false;
  }
  if (unsubscribed_since != kNoTime && !(m.last_changed > unsubscribed_since)) return false;
  if (!email_type.empty() && (email_type == "text") != m.text_email) return false;
  if (vip_only && !m.vip) return false;
  if (!unique_email_id.empty() && ueid_hex(m.unique_email_id) != unique_email_id) return false;
  if (interest_match) {
    std::uint64_t in = m.interests & interest_mask;
    switch (*interest_match) {
      case InterestMatch::kAny:
        if (in == 0) return false;
        break;
      case InterestMatch::kAll:
        if (in != interest_mask) return false;
        break;
      case InterestMatch::kNone:
        if (in != 0) return false;
        break;
    }
  }
  if (((statuses >> static_cast<int>(m.status)) & 1) == 0) return false;
  if (tag_id != 0) {
    bool tagged = false;
    for (const MemberTag& t : m.tags)
      tagged = tagged || t.tag_id == tag_id;
    if (!tagged) return false;
  }
  return true;
}

std::shared_ptr<const std::vector<std::uint32_t>> run_query(const List& l, const MemberQuery& q) {
  std::string key = q.key();
  {
    std::lock_guard<std::mutex> lock(l.cache_mu);
    for (std::size_t i = 0; i < l.cache.size(); ++i) {
      if (l.cache[i].key == key && l.cache[i].version == l.version) {
        if (i != 0)
          std::rotate(l.cache.begin(), l.cache.begin() + static_cast<long>(i),
                      l.cache.begin() + static_cast<long>(i) + 1);
        return l.cache[0].slots;
      }
    }
  }
  auto slots = std::make_shared<std::vector<std::uint32_t>>();
  slots->reserve(static_cast<std::size_t>(l.live_count()));
  const std::size_t n = l.members.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (q.matches(l.members[i])) slots->push_back(static_cast<std::uint32_t>(i));
  }
  if (q.sort != SortField::kNone) {
    std::vector<std::pair<Micros, std::uint32_t>> keyed;
    keyed.reserve(slots->size());
    for (std::uint32_t s : *slots)
      keyed.emplace_back(sort_value(l.members[s], q.sort), s);
    if (q.desc) {
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
    } else {
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    for (std::size_t i = 0; i < keyed.size(); ++i)
      (*slots)[i] = keyed[i].second;
  }
  std::lock_guard<std::mutex> lock(l.cache_mu);
  l.cache.insert(l.cache.begin(), CachedQuery{key, l.version, slots});
  if (l.cache.size() > 4) l.cache.pop_back();
  return slots;
}

}  // namespace concord::sandbox
