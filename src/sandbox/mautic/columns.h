// The contacts' columns, as the API's where[], orderBy, order[] and select[] name them (database
// columns in snake_case, with or without Mautic's table alias "l."), and their values for
// comparing and sorting.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sandbox/json_writer.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

enum class ColumnKind : std::uint8_t {
  kId,
  kDateAdded,
  kDateModified,
  kDateIdentified,
  kLastActive,
  kField,  // a contact field (points included), by alias
};

struct Column {
  ColumnKind kind = ColumnKind::kId;
  std::string alias;  // kField: the field's alias
  // The key of the contact's JSON that shows it ("dateModified"); "" for a field.
  std::string_view json_key;
};

// The column of that name ("date_modified", "l.email"); nullopt when the site has none.
std::optional<Column> column_named(const Site& site, std::string_view name);

// Whether a column holds times.
inline bool is_time_column(const Column& c) {
  return c.kind != ColumnKind::kId && c.kind != ColumnKind::kField;
}

// A contact's value of a column, as where[] and orderBy compare it: the id, a time as Micros, a
// field's value; null for NULL (an unset field, a time never set).
ojson column_value(const Contact& c, const Column& col);
// The text of a value for LIKE: a string as is, a time column's "YYYY-MM-DD HH:MM:SS", a number
// as written.
std::string column_text(const ojson& value, const Column& col);

// Compares two non-null values as MySQL would under a case-insensitive collation: numbers as
// numbers (a string that reads as a number against a number too), strings by their lower-cased
// bytes. Returns <0, 0 or >0.
int compare_values(const ojson& a, const ojson& b);
// `s` with ASCII letters lower-cased.
std::string ascii_lower(std::string_view s);
// compare_values() with NULL (a null value) lowest, as MySQL sorts it.
int compare_nullable(const ojson& a, const ojson& b);
// MySQL's LIKE, case-insensitive: '%' any run, '_' one character, '\\' escapes.
bool sql_like(std::string_view text, std::string_view pattern);

}  // namespace concord::sandbox::mautic
