#include "sandbox/mautic/listing.h"

#include <algorithm>
#include <functional>

#include "sandbox/mautic/columns.h"
#include "sandbox/mautic/search.h"

namespace concord::sandbox::mautic {
namespace {

using Test = std::function<bool(const Listed&)>;

bool contains_ci(std::string_view text, const std::string& needle) {
  return sql_like(text, "%" + needle + "%");
}

Result<Test> term_test(const SearchTerm& t) {
  const std::string prefix = t.strict ? t.value : t.value + "%";
  if (t.command.empty()) {
    const std::string v = t.value;
    return Test([v](const Listed& e) { return contains_ci(e.name, v) || contains_ci(e.alias, v); });
  }
  if (t.command == "name") {
    return Test([prefix](const Listed& e) { return sql_like(e.name, prefix); });
  }
  if (t.command == "alias") {
    return Test([prefix](const Listed& e) { return sql_like(e.alias, prefix); });
  }
  if (t.command == "ids") {
    return Test([ids = id_list(t.value)](const Listed& e) { return ids.count(e.id) > 0; });
  }
  if (t.command == "is" && (t.value == "published" || t.value == "unpublished")) {
    const bool want = t.value == "published";
    return Test([want](const Listed& e) { return e.is_published == want; });
  }
  if (t.command == "category") return Test([](const Listed&) { return false; });
  return Status::invalid("The sandbox does not emulate the search command \"" + t.command +
                         ":\" here.");
}

ojson sort_value(const Listed& e, std::string_view column) {
  if (column == "name") return std::string(e.name);
  if (column == "alias") return std::string(e.alias);
  if (column == "date_added") return e.date_added == kNoTime ? ojson() : ojson(e.date_added);
  if (column == "date_modified") {
    return e.date_modified == kNoTime ? ojson() : ojson(e.date_modified);
  }
  return e.id;
}

constexpr std::string_view kColumns[] = {"id", "name", "alias", "date_added", "date_modified"};

}  // namespace

Result<std::vector<std::int64_t>> list_ids(const std::vector<Listed>& entities,
                                           const Params& params) {
  auto search = params.text("search");
  if (!search.is_ok()) return search.status();
  std::vector<Test> tests;
  for (const SearchTerm& t : search_terms(*search)) {
    auto test = term_test(t);
    if (!test.is_ok()) return test.status();
    if (t.negate) {
      tests.push_back([inner = std::move(test).value()](const Listed& e) { return !inner(e); });
    } else {
      tests.push_back(std::move(test).value());
    }
  }
  if (params.flag("published")) tests.push_back([](const Listed& e) { return e.is_published; });

  auto order_by = params.text("orderBy");
  if (!order_by.is_ok()) return order_by.status();
  auto dir = params.text("orderByDir");
  if (!dir.is_ok()) return dir.status();
  std::string column = order_by->rfind("l.", 0) == 0 ? order_by->substr(2) : *order_by;
  if (column.empty()) column = "id";
  if (std::find(std::begin(kColumns), std::end(kColumns), column) == std::end(kColumns)) {
    return Status::invalid("orderBy: unknown column \"" + *order_by + "\"");
  }
  const bool desc = ascii_lower(*dir) == "desc";

  std::vector<const Listed*> selected;
  for (const Listed& e : entities) {
    if (std::all_of(tests.begin(), tests.end(), [&](const Test& t) { return t(e); })) {
      selected.push_back(&e);
    }
  }
  std::stable_sort(selected.begin(), selected.end(), [&](const Listed* a, const Listed* b) {
    const int c = compare_nullable(sort_value(*a, column), sort_value(*b, column));
    return (desc ? -c : c) < 0;
  });
  std::vector<std::int64_t> ids;
  for (const Listed* e : selected)
    ids.push_back(e->id);
  return ids;
}

}  // namespace concord::sandbox::mautic
