#include "core/crm_identity.h"

#include <algorithm>

namespace concord {
namespace {

// The bulk-mail address among `candidates`, else the primary, else the first.
std::size_t best_of(const std::vector<AddressFacts>& a,
                    const std::vector<std::size_t>& candidates) {
  for (std::size_t i : candidates) {
    if (a[i].is_bulkmail) return i;
  }
  for (std::size_t i : candidates) {
    if (a[i].is_primary) return i;
  }
  return candidates.empty() ? kNoAddress : candidates.front();
}

}  // namespace

std::size_t representative_address(const std::vector<AddressFacts>& a) {
  std::vector<std::size_t> usable, preferred, live;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].usable) continue;
    usable.push_back(i);
    if (a[i].preferred) preferred.push_back(i);
    if (!a[i].on_hold) live.push_back(i);
  }
  if (!preferred.empty()) return best_of(a, preferred);
  if (usable.size() > 1 && !live.empty()) return best_of(a, live);
  return best_of(a, usable);
}

bool represents_before(const CrmMember& a, const CrmMember& b) {
  if (a.in_group() != b.in_group()) return a.in_group();
  if (a.state.trashed != b.state.trashed) return !a.state.trashed;
  return a.contact_id < b.contact_id;
}

CrmMember merge_duplicates(CrmMember a, CrmMember b) {
  const bool a_wins = represents_before(a, b);
  CrmMember& win = a_wins ? a : b;
  CrmMember& lose = a_wins ? b : a;
  win.duplicates.push_back(lose.contact_id);
  win.duplicates.insert(win.duplicates.end(), lose.duplicates.begin(), lose.duplicates.end());
  std::sort(win.duplicates.begin(), win.duplicates.end());
  win.duplicates.erase(std::unique(win.duplicates.begin(), win.duplicates.end()),
                       win.duplicates.end());
  win.state.duplicate = true;
  return std::move(win);
}

}  // namespace concord
