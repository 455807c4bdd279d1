#include "sandbox/civicrm/query.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "net/ascii.h"
#include "sandbox/civicrm/site.h"

namespace concord::sandbox {
namespace {

// Candidate rows: a slot range, optionally narrowed to the slots of an index's keys.
struct Plan {
  std::uint32_t lo = 0, hi = 0;  // slot range
  const KeyIndex* index = nullptr;
  std::vector<std::int64_t> keys;    // for `index`; empty keys with an index: nothing matches
  std::vector<std::uint32_t> slots;  // explicit slots (id = / IN); used when by_slots
  bool by_slots = false;
};

// An operand as an exact integer key for an index (MySQL would compare numerically).
std::optional<std::int64_t> int_key(const Operand& o) {
  if (o.k == XVal::kInt) return o.i;
  double d = as_double(o);
  if (o.k == XVal::kNull || d != std::floor(d) || std::fabs(d) > 9e15) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

const KeyIndex* index_for(const CiviSite& site, Ent e, int field) {
  for (const IndexDef& i : kEntities[e].indexes) {
    if (i.index != nullptr && i.field == field) return &(site.*i.index);
  }
  return nullptr;
}

Plan make_plan(const CiviSite& site, const Query& q) {
  Plan p;
  p.lo = 0;
  p.hi = static_cast<std::uint32_t>(site.slots(q.ent));
  std::size_t best = p.hi;
  for (const Node& n : q.where.kids) {
    if (n.kind != Node::kLeaf || !n.path.simple()) continue;
    bool eq = n.op == Op::kEq || n.op == Op::kIn;
    if (n.path.field == 0) {  // id
      if (eq) {
        std::vector<std::uint32_t> slots;
        for (const Operand& o : n.vals) {
          auto k = int_key(o);
          if (!k) continue;
          std::uint32_t s = site.find(q.ent, *k);
          if (s != kNoSlot) slots.push_back(s);
        }
        std::sort(slots.begin(), slots.end());
        slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
        if (slots.size() < best) {
          best = slots.size();
          p.by_slots = true;
          p.slots = std::move(slots);
          p.index = nullptr;
        }
        continue;
      }
      if (n.vals.size() == 1 && n.vals[0].k != XVal::kNull) {
        double d = as_double(n.vals[0]);
        if (n.op == Op::kGt || n.op == Op::kGe) {
          auto id = static_cast<std::int64_t>(n.op == Op::kGt ? std::floor(d) + 1 : std::ceil(d));
          p.lo = std::max(p.lo, site.lower_slot(q.ent, id));
        } else if (n.op == Op::kLt || n.op == Op::kLe) {
          auto id = static_cast<std::int64_t>(n.op == Op::kLt ? std::ceil(d) : std::floor(d) + 1);
          p.hi = std::min(p.hi, site.lower_slot(q.ent, id));
        }
      }
      continue;
    }
    if (!eq) continue;
    const KeyIndex* idx = index_for(site, q.ent, n.path.field);
    if (idx == nullptr) continue;
    std::vector<std::int64_t> keys;
    std::size_t est = 0;
    bool is_email = q.ent == kEmail && n.path.field == E_EMAIL;
    // A number compared with an address is compared as a number: no index for that.
    bool usable = true;
    for (const Operand& o : n.vals) {
      if (is_email) {
        if (o.k == XVal::kNull) continue;
        if (o.k != XVal::kStr) usable = false;
        keys.push_back(email_key(o.s));
      } else {
        auto k = int_key(o);
        if (!k) continue;
        keys.push_back(*k);
      }
      est += idx->estimate(keys.back());
    }
    if (usable && est < best) {
      best = est;
      p.by_slots = false;
      p.index = idx;
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      p.keys = std::move(keys);
    }
  }
  if (p.lo > p.hi) p.lo = p.hi;
  return p;
}

// Calls fn(slot) for the plan's live candidate slots in ascending order, until it returns false.
template <typename Fn>
void for_candidates(const CiviSite& site, Ent ent, const Plan& p, Fn fn) {
  const TableBase& rows = site.rows(ent);
  if (p.by_slots) {
    for (std::uint32_t s : p.slots) {
      if (s < p.lo || s >= p.hi || rows.dead(s)) continue;
      if (!fn(s)) return;
    }
    return;
  }
  if (p.index != nullptr) {
    if (p.keys.size() == 1) {
      p.index->scan(p.keys[0], p.lo, [&](std::uint32_t s) {
        if (s >= p.hi) return false;
        if (rows.dead(s)) return true;
        return fn(s);
      });
      return;
    }
    std::vector<std::uint32_t> all;
    for (std::int64_t k : p.keys) {
      p.index->scan(k, p.lo, [&](std::uint32_t s) {
        if (s >= p.hi) return false;
        all.push_back(s);
        return true;
      });
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    for (std::uint32_t s : all) {
      if (rows.dead(s)) continue;
      if (!fn(s)) return;
    }
    return;
  }
  for (std::uint32_t s = p.lo; s < p.hi; ++s) {
    if (rows.dead(s)) continue;
    if (!fn(s)) return;
  }
}

// A sort key of one row for one orderBy item: NULLs first (MySQL), then numbers, then strings.
struct SortVal {
  std::uint8_t cls = 0;  // 0 NULL, 1 number, 2 string
  bool real = false;     // a float (custom Float and Money fields): `d`, else `i`
  std::int64_t i = 0;
  double d = 0;
  std::string s;  // lower-cased, trailing spaces dropped
};

SortVal sort_val(const V& v) {
  SortVal k;
  switch (v.k) {
    case XVal::kNull:
      break;
    case XVal::kStr:
      k.cls = 2;
      k.s = http::ascii::to_lower(rtrim_spaces(v.s));
      break;
    case XVal::kFloat:
      k.cls = 1;
      k.real = true;
      k.d = float_of(v.i);
      break;
    default:
      k.cls = 1;
      k.i = v.i;
  }
  return k;
}

int cmp_sort(const SortVal& a, const SortVal& b) {
  if (a.cls != b.cls) return a.cls < b.cls ? -1 : 1;
  if (a.cls == 1 && (a.real || b.real)) {
    double x = a.real ? a.d : static_cast<double>(a.i);
    double y = b.real ? b.d : static_cast<double>(b.i);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.cls == 1) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (a.cls == 2) return a.s.compare(b.s) < 0 ? -1 : (a.s == b.s ? 0 : 1);
  return 0;
}

// sort_slots() for up to four keys that are all integers or NULL (contact_id, id, dates: a
// paged read's order): the keys are read once into rows sorted whole, which keeps a first page of
// a large table's read (every match sorted) cheap. False, with *slots unchanged, when a key is a
// string or a float.
bool sort_int_keys(const CiviSite& site, const Query& q, std::vector<std::uint32_t>* slots) {
  constexpr std::size_t kMaxKeys = 4;
  const std::size_t k = q.order.size();
  if (k > kMaxKeys) return false;
  struct Row {
    std::array<std::int64_t, kMaxKeys> v{};
    std::array<bool, kMaxKeys> null{};
    std::uint32_t slot = 0;
    std::uint32_t pos = 0;  // in the matches as given
  };
  std::vector<Row> rows(slots->size());
  std::string scratch;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    rows[r].slot = (*slots)[r];
    rows[r].pos = static_cast<std::uint32_t>(r);
    for (std::size_t j = 0; j < k; ++j) {
      const V v = read_path(site, q.order[j].path, rows[r].slot, &scratch);
      if (v.k == XVal::kStr || v.k == XVal::kFloat) return false;
      rows[r].null[j] = v.k == XVal::kNull;
      rows[r].v[j] = v.k == XVal::kNull ? 0 : v.i;
    }
  }
  // NULLs first (MySQL), then numbers; ties in the order given (by id).
  auto less = [&](const Row& a, const Row& b) {
    for (std::size_t j = 0; j < k; ++j) {
      if (a.null[j] != b.null[j] || a.v[j] != b.v[j]) {
        const bool lt = a.null[j] != b.null[j] ? a.null[j] : a.v[j] < b.v[j];
        return q.order[j].desc ? !lt : lt;
      }
    }
    return a.pos < b.pos;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), less)) std::sort(rows.begin(), rows.end(), less);
  for (std::size_t r = 0; r < rows.size(); ++r)
    (*slots)[r] = rows[r].slot;
  return true;
}

// Orders matched slots by the orderBy keys, ties by id (the slot order).
void sort_slots(const CiviSite& site, const Query& q, std::vector<std::uint32_t>* slots) {
  if (q.order.empty()) return;
  if (q.order.size() == 1 && q.order[0].path.is_base_id()) {
    if (q.order[0].desc) std::reverse(slots->begin(), slots->end());
    return;
  }
  const std::size_t n = slots->size();
  const std::size_t k = q.order.size();
  if (sort_int_keys(site, q, slots)) return;
  // Strings or floats among the keys (integer-only ones were sorted above).
  std::vector<SortVal> keys(n * k);
  std::string scratch;
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t j = 0; j < k; ++j)
      keys[r * k + j] = sort_val(read_path(site, q.order[j].path, (*slots)[r], &scratch));
  }
  std::vector<std::uint32_t> perm(n);
  for (std::size_t r = 0; r < n; ++r)
    perm[r] = static_cast<std::uint32_t>(r);
  auto less = [&](std::uint32_t a, std::uint32_t b) {
    for (std::size_t j = 0; j < k; ++j) {
      const SortVal& x = keys[a * k + j];
      const SortVal& y = keys[b * k + j];
      const int c = cmp_sort(x, y);
      if (c != 0) return q.order[j].desc ? c > 0 : c < 0;
    }
    return a < b;
  };
  if (!std::is_sorted(perm.begin(), perm.end(), less)) std::sort(perm.begin(), perm.end(), less);
  std::vector<std::uint32_t> out(n);
  for (std::size_t r = 0; r < n; ++r)
    out[r] = (*slots)[perm[r]];
  *slots = std::move(out);
}

}  // namespace

Matches run_query(const CiviSite& site, const Query& q, bool need_total, QueryCache* cache,
                  std::uint64_t version) {
  Matches m;
  const std::int64_t offset = std::max<std::int64_t>(0, q.offset);
  const std::int64_t limit = q.limit;
  bool natural =
      q.order.empty() || (q.order.size() == 1 && q.order[0].path.is_base_id() && !q.order[0].desc);
  Plan plan = make_plan(site, q);
  std::string scratch;
  auto matches = [&](std::uint32_t s) {
    return q.where.kids.empty() || eval(site, q.where, s, &scratch) == Tri::kTrue;
  };
  // A page near the start in id order is read directly, stopping once it is full.
  if (natural && !need_total && limit > 0 && offset + limit <= 20000) {
    std::int64_t seen = 0;
    for_candidates(site, q.ent, plan, [&](std::uint32_t s) {
      if (!matches(s)) return true;
      if (seen++ >= offset) m.page.push_back(s);
      return static_cast<std::int64_t>(m.page.size()) < limit;
    });
    return m;
  }
  std::shared_ptr<const std::vector<std::uint32_t>> all =
      cache ? cache->find(q.cache_key, version) : nullptr;
  if (!all) {
    auto v = std::make_shared<std::vector<std::uint32_t>>();
    for_candidates(site, q.ent, plan, [&](std::uint32_t s) {
      if (matches(s)) v->push_back(s);
      return true;
    });
    sort_slots(site, q, v.get());
    all = v;
    if (cache) cache->put(q.cache_key, version, all);
  }
  m.total = static_cast<std::int64_t>(all->size());
  std::int64_t begin = std::min<std::int64_t>(offset, m.total);
  std::int64_t end = limit > 0 ? std::min<std::int64_t>(m.total, begin + limit) : m.total;
  m.page.assign(all->begin() + begin, all->begin() + end);
  return m;
}

}  // namespace concord::sandbox
