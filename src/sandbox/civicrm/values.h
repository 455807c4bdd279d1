// The values of the CiviCRM part's rows: how a field's value is held when stored or converted
// from a request (XVal, owned), and when read (V, borrowing from the row), with MySQL's NULL.
//
// Thread-safety: plain data.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/time.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox {

// Requests are read keeping their objects' key order, as PHP's arrays do (orderBy, chain).
using pjson = ojson;

// NULL in an integer or time column.
inline constexpr std::int64_t kNull = std::numeric_limits<std::int64_t>::min();
// No row: a slot that find() and the joins give for a missing row.
inline constexpr std::uint32_t kNoSlot = 0xffffffffu;

// A short string kept inline (varchar(8) columns: statuses and methods).
struct Str8 {
  std::array<char, 9> c{};
  bool null = true;
  std::string_view view() const { return std::string_view(c.data(), std::strlen(c.data())); }
  void set(std::string_view s) {
    c.fill(0);
    std::memcpy(c.data(), s.data(), std::min<std::size_t>(s.size(), 8));
    null = false;
  }
  void clear() {
    c.fill(0);
    null = true;
  }
};

// A float is kept as its bits in the integer member (kind kFloat), so that copying a value's kind,
// integer and string carries it whatever the kind.
inline std::int64_t float_bits(double d) {
  return std::bit_cast<std::int64_t>(d);
}
inline double float_of(std::int64_t bits) {
  return std::bit_cast<double>(bits);
}

// A decimal number as PHP's is_numeric() reads a string: optional surrounding spaces, a sign,
// digits with a point and an exponent. nullopt for anything else ("", hex, "inf", "nan", "1a").
inline std::optional<double> parse_decimal(std::string_view s) {
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
    if (!ok) return std::nullopt;
  }
  std::string tmp(s);
  char* end = nullptr;
  double d = std::strtod(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// An owned value (stored, or converted from a request).
struct XVal {
  enum Kind : std::uint8_t { kNull, kInt, kBool, kStr, kTime, kDate, kFloat } k = kNull;
  std::int64_t i = 0;
  std::string s;

  static XVal null_value() { return XVal{}; }
  static XVal of_int(std::int64_t v) {
    XVal x;
    x.k = kInt;
    x.i = v;
    return x;
  }
  static XVal of_bool(bool v) {
    XVal x;
    x.k = kBool;
    x.i = v ? 1 : 0;
    return x;
  }
  static XVal of_str(std::string v) {
    XVal x;
    x.k = kStr;
    x.s = std::move(v);
    return x;
  }
  static XVal of_float(double v) {
    XVal x;
    x.k = kFloat;
    x.i = float_bits(v);
    return x;
  }
  static XVal of_time(Micros t, Kind k = kTime) {
    XVal x;
    x.k = t == kNull ? kNull : k;
    x.i = t;
    return x;
  }
};

// A read value: strings point into the row (or a scratch buffer) and live as long as the lock.
struct V {
  XVal::Kind k = XVal::kNull;
  std::int64_t i = 0;
  std::string_view s;

  static V null_value() { return V{}; }
  static V of_int(std::int64_t v) { return v == kNull ? V{} : V{XVal::kInt, v, {}}; }
  static V of_bool(bool v) { return V{XVal::kBool, v ? 1 : 0, {}}; }
  static V of_str(std::string_view v) { return V{XVal::kStr, 0, v}; }
  static V of_time(Micros t) { return t == kNull ? V{} : V{XVal::kTime, t, {}}; }
  static V of_date(Micros t) { return t == kNull ? V{} : V{XVal::kDate, t, {}}; }
  bool is_null() const { return k == XVal::kNull; }
};

// Rarely set fields, kept out of line: (field, value) pairs. Custom fields (site.h) are kept here
// too, so a site without them pays nothing per contact.
using Extras = std::vector<std::pair<std::uint16_t, XVal>>;

// The values of one record of a write, by field.
struct FieldVal {
  int field;
  XVal val;
};
using Values = std::vector<FieldVal>;

// The value given for field f, or null.
inline const XVal* value_of(const Values& vals, int f) {
  for (const FieldVal& fv : vals) {
    if (fv.field == f) return &fv.val;
  }
  return nullptr;
}
inline bool given(const Values& vals, int f) {
  return value_of(vals, f) != nullptr;
}

}  // namespace concord::sandbox
