// GET /api/contacts' parameters (FetchCommonApiController::getEntitiesAction, the reference's
// §3.4), read and carried out: search, where[], published, orderBy/orderByDir and order[],
// start/limit, minimal and select[].
//
// Without orderBy or order[], contacts come by last_active, latest first (LeadRepository's
// default order; contacts never active last); ties are broken by id, ascending, in every order.
// NULLs sort first ascending and last descending, as in MySQL.
//
// Thread-safety: pure functions; the caller holds the part's lock while the result is used.
#pragma once

#include <cstdint>
#include <vector>

#include "concord/status.h"
#include "sandbox/mautic/columns.h"
#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/params.h"
#include "sandbox/mautic/search.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// start and limit of a listing (default_pagelimit 30; no maximum; limit=0: no limit).
struct Paging {
  std::int64_t start = 0;
  std::int64_t limit = 30;
};
// kInvalid (the 400's detail) for values that are not integers; a negative start is 0.
Result<Paging> read_paging(const Params& params);
// The elements of `all` that `paging` selects.
template <typename T>
std::vector<T> page_of(const std::vector<T>& all, const Paging& paging) {
  std::vector<T> out;
  const auto first = static_cast<std::size_t>(
      std::min<std::int64_t>(paging.start, static_cast<std::int64_t>(all.size())));
  std::size_t end = all.size();
  if (paging.limit > 0) end = std::min(end, first + static_cast<std::size_t>(paging.limit));
  for (std::size_t i = first; i < end; ++i)
    out.push_back(all[i]);
  return out;
}

struct OrderKey {
  Column column;
  bool descending = false;
};

struct ContactQuery {
  Match match;
  std::vector<OrderKey> order;  // empty: the default order
  Paging paging;
  ContactView view = ContactView::kFull;  // kFull or kMinimal
  std::vector<Column> select;             // empty: every column
};

// kInvalid with the 400's detail for a bad parameter. REQUIRES: `site` outlives the query.
Result<ContactQuery> read_contact_query(const Site& site, const Params& params);

// Every contact the query matches, in its order (not paged).
std::vector<const Contact*> matching_contacts(const Site& site, const ContactQuery& q);

}  // namespace concord::sandbox::mautic
