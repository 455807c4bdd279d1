#include "sandbox/auth0/connections.h"

#include <algorithm>

#include "sandbox/auth0/errors.h"
#include "sandbox/auth0/params.h"
#include "sandbox/auth0/users.h"

namespace concord::sandbox::auth0 {
namespace {

constexpr std::string_view kFieldsDescription =
    "A comma separated list of fields to include or exclude (depending on include_fields) from "
    "the result, empty to retrieve all fields";
constexpr std::string_view kIncludeFieldsDescription =
    "true if the fields specified are to be included in the result, false otherwise (defaults "
    "to true)";
constexpr std::string_view kIdPattern = "^con_[A-Za-z0-9]{16}$";

bool id_matches(std::string_view id) {
  if (id.size() != 20 || id.substr(0, 4) != "con_") return false;
  return std::all_of(id.begin() + 4, id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

std::string text(const ojson& c, const char* key) {
  auto it = c.find(key);
  return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

http::Reply list_connections(const Tenant& t, std::string_view query) {
  QueryParams p(
      query, {{"per_page", "The amount of entries per page. Defaults to 100 if not provided"},
              {"page", "The page number. Zero based"},
              {"include_totals",
               "true if a query summary must be included in the result, false otherwise. Not "
               "returned when using checkpoint pagination. Default false."},
              {"from", "Optional Id from which to start selection."},
              {"take", "Number of results per page. Defaults to 50."},
              {"strategy", "Provide strategies to only retrieve connections with such strategies"},
              {"name", "Provide the name of the connection to retrieve"},
              {"fields", kFieldsDescription},
              {"include_fields", kIncludeFieldsDescription}});
  const std::optional<std::int64_t> per_page_param = p.integer("per_page", 0, 100);
  const std::int64_t page = p.integer("page", 0, 1'000'000'000).value_or(0);
  const bool totals = p.boolean("include_totals").value_or(false);
  const std::optional<std::int64_t> take = p.integer("take", 1, 100);
  const bool include = p.boolean("include_fields").value_or(true);
  if (p.error()) return *p.error();
  const bool checkpoint = p.has("take") || p.has("from");
  const std::vector<std::string> strategies = p.all("strategy");
  const bool by_name = p.has("name");
  const std::string name(p.get("name"));

  std::vector<const ojson*> matched;
  for (const ojson& c : t.connections) {
    if (by_name && text(c, "name") != name) continue;
    if (!strategies.empty() &&
        std::find(strategies.begin(), strategies.end(), text(c, "strategy")) == strategies.end()) {
      continue;
    }
    matched.push_back(&c);
  }
  const FieldFilter filter = FieldFilter::parse(p.get("fields"), include);
  JsonOut o;
  auto write_page = [&](std::size_t from, std::size_t to) {
    o.begin_array();
    for (std::size_t i = from; i < to; ++i)
      filter.write(o, *matched[i]);
    o.end_array();
  };

  if (checkpoint) {
    // `from` is the id of the first connection of the page (the `next` of the previous one).
    std::size_t from = 0;
    if (p.has("from")) {
      const std::string_view id = p.get("from");
      auto it = std::find_if(matched.begin(), matched.end(),
                             [&](const ojson* c) { return text(*c, "id") == id; });
      if (it == matched.end()) {
        p.fail("from", "Invalid checkpoint: " + std::string(id));
        return *p.error();
      }
      from = static_cast<std::size_t>(it - matched.begin());
    }
    const std::size_t to =
        std::min(matched.size(), from + static_cast<std::size_t>(take.value_or(50)));
    o.begin_object();
    o.key("connections");
    write_page(from, to);
    if (to < matched.size()) {
      o.key("next");
      o.str(text(*matched[to], "id"));
    }
    o.end_object();
    return json_reply(200, std::move(o.buf));
  }

  // Without per_page at most 50 are answered, whatever the number of connections (the smaller
  // of the two defaults the API's definitions give).
  const std::int64_t per_page = per_page_param.value_or(50);
  const std::int64_t start = page * per_page;
  if (start >= 1000) {
    return api_error(400,
                     "Requesting page " + std::to_string(page) +
                         " exceeds the allowed maximum of 1000 records. To fetch results beyond "
                         "1000, use the checkpoint pagination method.",
                     "invalid_paging");
  }
  const auto total = static_cast<std::int64_t>(matched.size());
  const std::int64_t end = std::min(start + per_page, total);
  if (totals) {
    o.begin_object();
    o.key("total");
    o.integer(total);
    o.key("start");
    o.integer(start);
    o.key("limit");
    o.integer(per_page);
    o.key("connections");
  }
  const std::int64_t first = std::min(start, total);
  write_page(static_cast<std::size_t>(first), static_cast<std::size_t>(std::max(first, end)));
  if (totals) o.end_object();
  return json_reply(200, std::move(o.buf));
}

http::Reply get_connection(const Tenant& t, std::string_view id, std::string_view query) {
  QueryParams p(query,
                {{"fields", kFieldsDescription}, {"include_fields", kIncludeFieldsDescription}});
  const bool include = p.boolean("include_fields").value_or(true);
  if (p.error()) return *p.error();
  if (!id_matches(id)) {
    return path_error(
        "String does not match pattern " + std::string(kIdPattern) + ": " + std::string(id), "id",
        "The id of the connection to retrieve");
  }
  const ojson* c = t.connection_by_id(id);
  if (!c) return api_error(404, "The connection does not exist", "inexistent_connection");
  JsonOut o;
  FieldFilter::parse(p.get("fields"), include).write(o, *c);
  return json_reply(200, std::move(o.buf));
}

}  // namespace concord::sandbox::auth0
