#include "snapshot/fetch_common.h"

#include <string>

#include "concord/meta_keys.h"
#include "concord/parse.h"
#include "concord/snapshot.h"

namespace concord {

std::string mailchimp_watermark_key(std::string_view list_id) {
  return meta::mailchimp_watermark(list_id);
}

std::string civicrm_watermark_key(std::int64_t group_id) {
  return meta::civicrm_watermark(group_id);
}

Result<Micros> load_watermark(Store& store, const PairHandle& pair, std::string_view key,
                              std::string_view side) {
  Result<std::optional<std::string>> v = store.get(pair, Family::kMeta, key);
  if (!v) return v.status();
  if (!v->has_value()) return kNoTime;
  Result<std::int64_t> n = parse_int64(**v);
  if (!n) {
    return Status::corruption("the stored " + std::string(side) + " watermark is not a number")
        .with_origin(Origin::kStore);
  }
  return static_cast<Micros>(*n);
}

Status store_watermark(Store& store, const PairHandle& pair, std::string_view key, Micros w) {
  return store.put(pair, Family::kMeta, key, std::to_string(w));
}

Result<Micros> fetch_start(Store& store, const PairHandle& pair, std::string_view key,
                           std::string_view side, bool* full) {
  if (*full) return kNoTime;
  Result<Micros> w = load_watermark(store, pair, key, side);
  if (!w) return w.status();
  *full = *w == kNoTime;
  return *w;
}

FetchStats fetch_stats(const SideRead& read, const IngestCounts& counts) {
  FetchStats stats;
  stats.pages = read.pages;
  stats.members = counts.members;
  stats.written = counts.written;
  stats.rejected = counts.rejected;
  return stats;
}

}  // namespace concord
