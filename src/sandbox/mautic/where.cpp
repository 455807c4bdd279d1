#include "sandbox/mautic/where.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "sandbox/mautic/columns.h"
#include "sandbox/mautic/params.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

enum class Op : std::uint8_t {
  kEq,
  kNeq,
  kLt,
  kLte,
  kGt,
  kGte,
  kLike,
  kNotLike,
  kIn,
  kNotIn,
  kBetween,
  kNotBetween,
  kIsNull,
  kIsNotNull,
  kIsEmpty,
  kIsNotEmpty,
  kAndX,
  kOrX,
};

// What an expression's `val` is.
enum class Takes : std::uint8_t { kOne, kList, kTwo, kNothing, kItems };

struct OpInfo {
  std::string_view name;  // compared case-insensitively, as PHP calls methods
  Op op;
  Takes takes;
};
constexpr OpInfo kOps[] = {
    {"eq", Op::kEq, Takes::kOne},
    {"neq", Op::kNeq, Takes::kOne},
    {"lt", Op::kLt, Takes::kOne},
    {"lte", Op::kLte, Takes::kOne},
    {"gt", Op::kGt, Takes::kOne},
    {"gte", Op::kGte, Takes::kOne},
    {"like", Op::kLike, Takes::kOne},
    {"notlike", Op::kNotLike, Takes::kOne},
    {"in", Op::kIn, Takes::kList},
    {"notin", Op::kNotIn, Takes::kList},
    {"between", Op::kBetween, Takes::kTwo},
    {"notbetween", Op::kNotBetween, Takes::kTwo},
    {"isnull", Op::kIsNull, Takes::kNothing},
    {"isnotnull", Op::kIsNotNull, Takes::kNothing},
    {"isempty", Op::kIsEmpty, Takes::kNothing},
    {"isnotempty", Op::kIsNotEmpty, Takes::kNothing},
    {"andx", Op::kAndX, Takes::kItems},
    {"orx", Op::kOrX, Takes::kItems},
};

// A time given to compare with a time column.
std::optional<Micros> read_time(const std::string& text) {
  if (text.find('T') != std::string::npos) {
    auto t = parse_iso8601(text);
    if (t.is_ok()) return *t;
    return std::nullopt;
  }
  auto t = parse_civil(text.size() == 10 ? text + " 00:00:00" : text);
  if (t.is_ok()) return *t;
  return std::nullopt;
}

// A value given for `col`, in the domain column_value() gives it.
Result<ojson> operand(const Column& col, const ojson& v, const std::string& at) {
  if (v.is_array() || v.is_object() || v.is_null()) {
    return Status::invalid(at + ": expected a value");
  }
  const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (col.kind == ColumnKind::kId) {
    if (auto n = parse_int64(trim_view(text))) return ojson(*n);
    return Status::invalid(at + ": expected an integer, not \"" + text + "\"");
  }
  if (is_time_column(col)) {
    if (auto t = read_time(std::string(trim_view(text)))) return ojson(*t);
    return Status::invalid(at + ": expected a time \"YYYY-MM-DD HH:MM:SS\", not \"" + text + "\"");
  }
  return v;
}

// The values of a list: an array (or PHP array), or a comma-separated string.
std::vector<ojson> list_of(const ojson& v) {
  if (!v.is_string()) return php_elements(v);
  std::vector<ojson> out;
  const std::string& s = v.get_ref<const std::string&>();
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    out.emplace_back(std::string(trim_view(std::string_view(s).substr(pos, comma - pos))));
    pos = comma + 1;
  }
  return out;
}

bool is_empty_value(const ojson& v) {
  return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty());
}

Result<Match> read_item(const Site& site, const ojson& item, const std::string& at);

Result<Match> read_items(const Site& site, const ojson& items, const std::string& at, bool all) {
  std::vector<Match> parts;
  std::size_t n = 0;
  for (const ojson& e : php_elements(items)) {
    auto m = read_item(site, e, at + "[" + std::to_string(n++) + "]");
    if (!m.is_ok()) return m.status();
    parts.push_back(std::move(m).value());
  }
  return Match([parts = std::move(parts), all](const Contact& c) {
    auto holds = [&](const Match& m) { return m(c); };
    return all ? std::all_of(parts.begin(), parts.end(), holds)
               : std::any_of(parts.begin(), parts.end(), holds);
  });
}

Result<Match> read_item(const Site& site, const ojson& item, const std::string& at) {
  if (!item.is_object()) {
    return Status::invalid(at + ": expected [col], [expr] and [val]");
  }
  const std::string expr = ascii_lower(member_text(item, "expr"));
  const OpInfo* info = nullptr;
  for (const OpInfo& o : kOps) {
    if (o.name == expr) info = &o;
  }
  if (!info) return Status::invalid(at + "[expr]: unknown expression \"" + expr + "\"");
  const auto val_it = item.find("val");
  const ojson val = val_it == item.end() ? ojson() : *val_it;
  if (info->takes == Takes::kItems)
    return read_items(site, val, at + "[val]", info->op == Op::kAndX);

  const std::string col_name = member_text(item, "col");
  std::optional<Column> found = column_named(site, col_name);
  if (!found) return Status::invalid(at + "[col]: unknown column \"" + col_name + "\"");
  const Column col = *found;
  const Op op = info->op;

  std::vector<ojson> values;
  if (info->takes == Takes::kOne) {
    auto v = operand(col, val, at + "[val]");
    if (!v.is_ok()) return v.status();
    values.push_back(std::move(v).value());
  } else if (info->takes != Takes::kNothing) {
    const std::vector<ojson> given = list_of(val);
    if (info->takes == Takes::kTwo && given.size() != 2) {
      return Status::invalid(at + "[val]: expected two values");
    }
    for (std::size_t i = 0; i < given.size(); ++i) {
      auto v = operand(col, given[i], at + "[val][" + std::to_string(i) + "]");
      if (!v.is_ok()) return v.status();
      values.push_back(std::move(v).value());
    }
  }

  return Match([col, op, values = std::move(values)](const Contact& c) {
    const ojson v = column_value(c, col);
    switch (op) {
      case Op::kIsNull:
        return v.is_null();
      case Op::kIsNotNull:
        return !v.is_null();
      case Op::kIsEmpty:
        return is_empty_value(v);
      case Op::kIsNotEmpty:
        return !is_empty_value(v);
      default:
        break;
    }
    if (v.is_null()) return false;  // SQL: a comparison with NULL holds for nothing
    auto cmp = [&](const ojson& x) { return compare_values(v, x); };
    auto equal_any = [&] {
      return std::any_of(values.begin(), values.end(), [&](const ojson& x) { return cmp(x) == 0; });
    };
    auto between = [&] { return cmp(values[0]) >= 0 && cmp(values[1]) <= 0; };
    auto like = [&] {
      const ojson& p = values[0];
      return sql_like(column_text(v, col), p.is_string() ? p.get<std::string>() : p.dump());
    };
    switch (op) {
      case Op::kEq:
        return cmp(values[0]) == 0;
      case Op::kNeq:
        return cmp(values[0]) != 0;
      case Op::kLt:
        return cmp(values[0]) < 0;
      case Op::kLte:
        return cmp(values[0]) <= 0;
      case Op::kGt:
        return cmp(values[0]) > 0;
      case Op::kGte:
        return cmp(values[0]) >= 0;
      case Op::kLike:
        return like();
      case Op::kNotLike:
        return !like();
      case Op::kIn:
        return equal_any();
      case Op::kNotIn:
        return !equal_any();
      case Op::kBetween:
        return between();
      case Op::kNotBetween:
        return !between();
      default:
        return false;
    }
  });
}

}  // namespace

Result<Match> parse_where(const Site& site, const ojson& where) {
  if (where.is_null()) return Match([](const Contact&) { return true; });
  if (!where.is_array() && !where.is_object()) {
    return Status::invalid("where: expected where[n][col], where[n][expr] and where[n][val]");
  }
  // The items' names are their keys ("where[3]" stays "where[3]").
  std::vector<Match> parts;
  std::size_t i = 0;
  for (auto it = where.begin(); it != where.end(); ++it, ++i) {
    const std::string key = where.is_object() ? it.key() : std::to_string(i);
    auto m = read_item(site, *it, "where[" + key + "]");
    if (!m.is_ok()) return m.status();
    parts.push_back(std::move(m).value());
  }
  return Match([parts = std::move(parts)](const Contact& c) {
    return std::all_of(parts.begin(), parts.end(), [&](const Match& m) { return m(c); });
  });
}

}  // namespace concord::sandbox::mautic
