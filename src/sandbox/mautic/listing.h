// The listings of segments and webhooks (GET /api/segments, GET /api/hooks): the same
// parameters as the contacts' (the reference's §3.6) over Mautic's ORM paginator: `search` (free
// text in the name or alias, ids:, name:, alias:, is:published, is:unpublished, category:, which
// matches nothing as the sandbox has no categories), `published`, `orderBy` (id, name, alias,
// date_added, date_modified) with `orderByDir`, and start/limit. They answer `total` as an
// integer and the entities as an array.
//
// Thread-safety: pure functions; the caller holds the part's lock while the result is used.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"
#include "sandbox/mautic/contact_query.h"
#include "sandbox/mautic/params.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// What a listing reads of an entity.
struct Listed {
  std::int64_t id = 0;
  std::string_view name;
  std::string_view alias;  // "" for a webhook
  bool is_published = true;
  Micros date_added = kNoTime;
  Micros date_modified = kNoTime;
};
inline Listed listed(const Segment& s) {
  return {s.id, s.name, s.alias, s.is_published, s.date_added, s.date_modified};
}
inline Listed listed(const Hook& h) {
  return {h.id, h.name, {}, h.is_published, h.date_added, h.date_modified};
}

// The ids selected by the listing parameters, in their order (not paged); kInvalid with the
// 400's detail for a bad one.
Result<std::vector<std::int64_t>> list_ids(const std::vector<Listed>& entities,
                                           const Params& params);

// GET's answer: {"total":n,"<key>":[…]} with the page of the entities `list_ids` selects.
template <typename E, typename ToJson>
Result<ojson> listing(const std::map<std::int64_t, E>& all, const Params& params,
                      std::string_view key, ToJson to_json) {
  std::vector<Listed> entities;
  for (const auto& [id, e] : all)
    entities.push_back(listed(e));
  auto ids = list_ids(entities, params);
  if (!ids.is_ok()) return ids.status();
  auto paging = read_paging(params);
  if (!paging.is_ok()) return paging.status();
  ojson items = ojson::array();
  for (std::int64_t id : page_of(*ids, *paging))
    items.push_back(to_json(all.at(id)));
  ojson body = ojson::object();
  body["total"] = ids->size();
  body[std::string(key)] = std::move(items);
  return body;
}

}  // namespace concord::sandbox::mautic
