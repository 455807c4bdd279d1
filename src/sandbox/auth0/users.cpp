#include "sandbox/auth0/users.h"

#include <algorithm>

#include "sandbox/auth0/errors.h"
#include "sandbox/auth0/params.h"
#include "sandbox/auth0/search.h"
#include "sandbox/auth0/user_paths.h"
#include "sandbox/auth0/user_writes.h"
#include "sandbox/text.h"

namespace concord::sandbox::auth0 {
namespace {

constexpr std::string_view kSortPattern = "^(([a-zA-Z\\-_0-9\\.]+):(1|-1))$";
constexpr std::string_view kFieldsDescription =
    "Comma-separated list of fields to include or exclude (based on value provided for "
    "include_fields) in the result. Leave empty to retrieve all fields.";
constexpr std::string_view kIncludeFieldsDescription =
    "Whether specified fields are to be included (true) or excluded (false).";

// The sort's field and direction, or nullopt when `s` does not match kSortPattern.
std::optional<std::pair<std::string, int>> parse_sort(std::string_view s) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view field = s.substr(0, colon);
  std::string_view dir = s.substr(colon + 1);
  for (char c : field) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return std::nullopt;
  }
  if (dir != "1" && dir != "-1") return std::nullopt;
  return std::make_pair(std::string(field), dir == "1" ? 1 : -1);
}

// Orders two values of a field: numbers by value, strings as text (Auth0's times, all
// "YYYY-MM-DDTHH:MM:SS.mmmZ", sort as times), false before true; values of different kinds by
// kind.
int compare_values(const ojson& a, const ojson& b) {
  auto rank = [](const ojson& v) {
    return v.is_number() ? 0 : v.is_string() ? 1 : v.is_boolean() ? 2 : 3;
  };
  if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
  if (a.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_boolean()) return static_cast<int>(a.get<bool>()) - static_cast<int>(b.get<bool>());
  return 0;
}

}  // namespace

FieldFilter FieldFilter::parse(std::string_view list, bool include) {
  FieldFilter f;
  f.include = include;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = trim_view(list.substr(pos, comma - pos));
    if (!item.empty()) f.fields.emplace_back(item);
    pos = comma + 1;
  }
  return f;
}

bool FieldFilter::keeps(std::string_view key) const {
  if (fields.empty()) return true;
  const bool listed = std::find(fields.begin(), fields.end(), key) != fields.end();
  return listed == include;
}

void FieldFilter::write(JsonOut& o, const ojson& object) const {
  o.begin_object();
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!keeps(it.key())) continue;
    o.key(it.key());
    o.value(*it);
  }
  o.end_object();
}

http::Reply list_users(const Tenant& t, std::string_view query, Micros now) {
  QueryParams p(
      query,
      {{"page", "Page index of the results to return. First page is 0."},
       {"per_page", "Number of results per page."},
       {"include_totals",
        "Return results inside an object that contains the total result count (true) or as a "
        "direct array of results (false, default)."},
       {"sort",
        "Field to sort by. Use field:order where order is 1 for ascending and -1 for "
        "descending. e.g. created_at:1"},
       {"connection",
        "Connection filter. Only applies when using search_engine=v1. To filter by connection "
        "with search_engine=v2|v3, use q=identities.connection:\"connection_name\""},
       {"fields", kFieldsDescription},
       {"include_fields", kIncludeFieldsDescription},
       {"q",
        "Query in Lucene query string syntax. Some query types cannot be used on metadata "
        "fields, for details see Searchable Fields."},
       {"search_engine", "The version of the search engine"},
       {"primary_order",
        "If true (default), results are returned in a deterministic order. If false, results "
        "may be returned in a non-deterministic order."}});
  const std::int64_t page = p.integer("page", 0, 1'000'000'000).value_or(0);
  const std::int64_t per_page = p.integer("per_page", 0, 100).value_or(50);
  const bool totals = p.boolean("include_totals").value_or(false);
  const bool include = p.boolean("include_fields").value_or(true);
  p.boolean("primary_order");
  const std::optional<std::string> engine = p.one_of("search_engine", {"v1", "v2", "v3"});
  std::optional<std::pair<std::string, int>> sort;
  if (p.has("sort") && !p.error()) {
    sort = parse_sort(p.get("sort"));
    if (!sort) {
      p.fail("sort", "String does not match pattern " + std::string(kSortPattern) + ": " +
                         std::string(p.get("sort")));
    }
  }
  if (p.error()) return *p.error();
  if (engine == "v1") {
    return api_error(400,
                     "You are not allowed to use search_engine=v1. Use search_engine=v3 instead.",
                     "operation_not_supported");
  }
  Result<UserQuery> q = UserQuery::parse(p.get("q"));
  if (!q.is_ok()) {
    p.fail("q", "Invalid query: " + q.status().message());
    return *p.error();
  }
  // Only the first kSearchWindow results can be reached: a page that starts at or beyond it is
  // refused; one that straddles it stops there.
  const std::int64_t start = page * per_page;
  if (start >= kSearchWindow) {
    return api_error(
        400,
        "You can only page through the first 1000 records. See "
        "https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation",
        "invalid_paging");
  }

  std::vector<const ojson*> matched;
  for (const ojson* u : searchable_users(t, now)) {
    if (q->matches(*u)) matched.push_back(u);
  }
  if (sort) {
    const int dir = sort->second;
    // Each user's key is read once; users without the field come last whichever the direction.
    std::vector<std::pair<const ojson*, const ojson*>> keyed;  // (key or null, user)
    keyed.reserve(matched.size());
    for (const ojson* u : matched)
      keyed.emplace_back(first_value_at(*u, sort->first), u);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (!a.first || !b.first) return a.first && !b.first;
      return compare_values(*a.first, *b.first) * dir < 0;
    });
    for (std::size_t i = 0; i < keyed.size(); ++i)
      matched[i] = keyed[i].second;
  }
  const auto total = static_cast<std::int64_t>(matched.size());
  const std::int64_t end = std::min({start + per_page, total, kSearchWindow});
  const FieldFilter filter = FieldFilter::parse(p.get("fields"), include);

  JsonOut o;
  if (totals) {
    o.begin_object();
    o.key("start");
    o.integer(start);
    o.key("limit");
    o.integer(per_page);
    o.key("length");
    o.integer(std::max<std::int64_t>(0, end - start));
    o.key("users");
  }
  o.begin_array();
  for (std::int64_t i = start; i < end; ++i)
    filter.write(o, *matched[static_cast<std::size_t>(i)]);
  o.end_array();
  if (totals) {
    o.key("total");
    o.integer(total);
    o.end_object();
  }
  return json_reply(200, std::move(o.buf));
}

http::Reply get_user(const Tenant& t, std::string_view user_id, std::string_view query) {
  QueryParams p(query,
                {{"fields", kFieldsDescription}, {"include_fields", kIncludeFieldsDescription}});
  const bool include = p.boolean("include_fields").value_or(true);
  if (p.error()) return *p.error();
  const ojson* u = t.user(user_id);
  if (!u) return api_error(404, "The user does not exist.", "inexistent_user");
  JsonOut o;
  FieldFilter::parse(p.get("fields"), include).write(o, *u);
  return json_reply(200, std::move(o.buf));
}

}  // namespace concord::sandbox::auth0
