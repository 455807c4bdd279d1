#include "sandbox/mautic/contact_query.h"

#include <algorithm>
#include <utility>

#include "sandbox/mautic/where.h"

namespace concord::sandbox::mautic {
namespace {

bool is_desc(const std::string& dir) {
  return ascii_lower(dir) == "desc";
}

Result<OrderKey> order_key(const Site& site, const std::string& name, const std::string& dir,
                           const std::string& at) {
  std::optional<Column> col = column_named(site, name);
  if (!col) return Status::invalid(at + ": unknown column \"" + name + "\"");
  return OrderKey{*col, is_desc(dir)};
}

// <0, 0, >0 as `a` sorts before, with or after `b` by `k` (NULL lowest).
int compare_by(const Contact& a, const Contact& b, const OrderKey& k) {
  const int c = compare_nullable(column_value(a, k.column), column_value(b, k.column));
  return k.descending ? -c : c;
}

}  // namespace

Result<Paging> read_paging(const Params& params) {
  Paging p;
  auto start = params.integer("start");
  if (!start.is_ok()) return start.status();
  auto limit = params.integer("limit");
  if (!limit.is_ok()) return limit.status();
  if (*start) p.start = std::max<std::int64_t>(0, **start);
  if (*limit) p.limit = std::max<std::int64_t>(0, **limit);
  return p;
}

Result<ContactQuery> read_contact_query(const Site& site, const Params& params) {
  ContactQuery q;
  auto search = params.text("search");
  if (!search.is_ok()) return search.status();
  auto searched = parse_search(site, *search);
  if (!searched.is_ok()) return searched.status();
  const ojson* where_param = params.find("where");
  auto where = parse_where(site, where_param ? *where_param : ojson());
  if (!where.is_ok()) return where.status();
  const bool published = params.flag("published");
  q.match = [s = std::move(searched).value(), w = std::move(where).value(), published](
                const Contact& c) { return (!published || c.is_published) && s(c) && w(c); };

  auto order_by = params.text("orderBy");
  if (!order_by.is_ok()) return order_by.status();
  auto dir = params.text("orderByDir");
  if (!dir.is_ok()) return dir.status();
  if (!order_by->empty()) {
    auto k = order_key(site, *order_by, *dir, "orderBy");
    if (!k.is_ok()) return k.status();
    q.order.push_back(*k);
  }
  if (const ojson* order = params.find("order")) {
    std::size_t i = 0;
    for (const ojson& o : php_elements(*order)) {
      const std::string at = "order[" + std::to_string(i++) + "][col]";
      auto k = order_key(site, member_text(o, "col"), member_text(o, "dir"), at);
      if (!k.is_ok()) return k.status();
      q.order.push_back(*k);
    }
  }

  auto paging = read_paging(params);
  if (!paging.is_ok()) return paging.status();
  q.paging = *paging;
  q.view = params.flag("minimal") ? ContactView::kMinimal : ContactView::kFull;
  if (const ojson* select = params.find("select")) {
    for (const ojson& name : php_elements(*select)) {
      std::optional<Column> col = column_named(site, scalar_text(name));
      if (!col) return Status::invalid("select: unknown column \"" + scalar_text(name) + "\"");
      q.select.push_back(*col);
    }
  }
  return q;
}

std::vector<const Contact*> matching_contacts(const Site& site, const ContactQuery& q) {
  std::vector<const Contact*> out;
  for (const auto& [id, c] : site.contacts) {
    if (q.match(c)) out.push_back(&c);
  }
  std::vector<OrderKey> order = q.order;
  if (order.empty()) order.push_back({*column_named(site, "last_active"), true});
  // The map's order is by id: a stable sort keeps it for ties.
  std::stable_sort(out.begin(), out.end(), [&](const Contact* a, const Contact* b) {
    for (const OrderKey& k : order) {
      if (int c = compare_by(*a, *b, k); c != 0) return c < 0;
    }
    return false;
  });
  return out;
}

}  // namespace concord::sandbox::mautic
