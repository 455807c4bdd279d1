#include "sandbox/mautic/columns.h"

#include <cctype>
#include <cstdlib>

#include "sandbox/times.h"

namespace concord::sandbox::mautic {
namespace {

struct Builtin {
  std::string_view name;
  ColumnKind kind;
  std::string_view json_key;
  Micros Contact::*time;  // null for the id
};
constexpr Builtin kBuiltins[] = {
    {"id", ColumnKind::kId, "id", nullptr},
    {"date_added", ColumnKind::kDateAdded, "dateAdded", &Contact::date_added},
    {"date_modified", ColumnKind::kDateModified, "dateModified", &Contact::date_modified},
    {"date_identified", ColumnKind::kDateIdentified, "dateIdentified", &Contact::date_identified},
    {"last_active", ColumnKind::kLastActive, "lastActive", &Contact::last_active},
};

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Column> column_named(const Site& site, std::string_view name) {
  if (name.rfind("l.", 0) == 0) name.remove_prefix(2);
  for (const Builtin& b : kBuiltins) {
    if (b.name == name) return Column{b.kind, "", b.json_key};
  }
  if (site.field(name)) return Column{ColumnKind::kField, std::string(name), ""};
  return std::nullopt;
}

ojson column_value(const Contact& c, const Column& col) {
  if (col.kind == ColumnKind::kId) return c.id;
  if (col.kind == ColumnKind::kField) return field_value(c, col.alias);
  for (const Builtin& b : kBuiltins) {
    if (b.kind == col.kind) return c.*b.time == kNoTime ? ojson() : ojson(c.*b.time);
  }
  return ojson();
}

std::string column_text(const ojson& value, const Column& col) {
  if (is_time_column(col) && value.is_number_integer()) return civil_text(value.get<Micros>());
  if (value.is_string()) return value.get<std::string>();
  return value.is_null() ? "" : value.dump();
}

int compare_values(const ojson& a, const ojson& b) {
  auto numeric = [](const ojson& v) -> std::optional<double> {
    if (v.is_number()) return v.get<double>();
    if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) return d;
    }
    return std::nullopt;
  };
  if (a.is_number_integer() && b.is_number_integer()) {
    const auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_number() || b.is_number() || a.is_boolean() || b.is_boolean()) {
    auto x = numeric(a), y = numeric(b);
    if (x && y) return *x < *y ? -1 : *x > *y ? 1 : 0;
  }
  const std::string x = ascii_lower(a.is_string() ? a.get<std::string>() : a.dump());
  const std::string y = ascii_lower(b.is_string() ? b.get<std::string>() : b.dump());
  return x.compare(y) < 0 ? -1 : x == y ? 0 : 1;
}

int compare_nullable(const ojson& a, const ojson& b) {
  if (a.is_null() || b.is_null()) return a.is_null() == b.is_null() ? 0 : a.is_null() ? -1 : 1;
  return compare_values(a, b);
}

bool sql_like(std::string_view text, std::string_view pattern) {
  // Backtracking over the last '%', as glob matchers do.
  std::size_t t = 0, p = 0, star_p = std::string_view::npos, star_t = 0;
  auto fold = [](char ch) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  };
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      const bool escaped = pattern[p] == '\\' && p + 1 < pattern.size();
      const char want = escaped ? pattern[p + 1] : pattern[p];
      if ((!escaped && want == '_') || fold(want) == fold(text[t])) {
        p += escaped ? 2 : 1;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '%')
    ++p;
  return p == pattern.size();
}

}  // namespace concord::sandbox::mautic
