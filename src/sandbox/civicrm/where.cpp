#include "sandbox/civicrm/where.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "net/ascii.h"
#include "sandbox/civicrm/api_error.h"
#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/times.h"
#include "sandbox/text.h"

namespace concord::sandbox {

double as_double(const Operand& o);

namespace {

constexpr auto lower_ascii = http::ascii::lower;

// MySQL's reading of a string as a number: the longest numeric prefix after leading spaces, else 0.
double mysql_number(std::string_view s) {
  std::string tmp(trim_view(s));
  const char* b = tmp.c_str();
  char* end = nullptr;
  double d = std::strtod(b, &end);
  if (end == b || !std::isfinite(d)) return 0;
  // strtod also reads hex and inf/nan, which MySQL does not.
  for (const char* p = b; p < end; ++p) {
    if (*p == 'x' || *p == 'X' || *p == 'n' || *p == 'N' || *p == 'i' || *p == 'I') return 0;
  }
  return d;
}

Tri tri_not(Tri t) {
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}

int compare_ci(std::string_view a, std::string_view b) {
  a = rtrim_spaces(a);
  b = rtrim_spaces(b);
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    char x = lower_ascii(a[i]), y = lower_ascii(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y) ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

double as_double(const V& v) {
  if (v.k == XVal::kFloat) return float_of(v.i);
  return v.k == XVal::kStr ? mysql_number(v.s) : static_cast<double>(v.i);
}

// <0, 0, >0; `unknown` when either side is NULL.
int compare(const V& a, const Operand& b, bool* unknown) {
  *unknown = false;
  if (a.is_null() || b.k == XVal::kNull) {
    *unknown = true;
    return 0;
  }
  if (a.k == XVal::kTime || a.k == XVal::kDate) {
    if (b.k == XVal::kTime) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    // Compared with a number: MySQL reads the time as YYYYMMDD[HHMMSS].
    std::string t = a.k == XVal::kDate ? date_string(a.i) : civil_string(a.i);
    std::string dgt;
    for (char c : t) {
      if (c >= '0' && c <= '9') dgt.push_back(c);
    }
    double x = std::strtod(dgt.c_str(), nullptr);
    double y = as_double(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.k == XVal::kStr && b.k == XVal::kStr) return compare_ci(a.s, b.s);
  if ((a.k == XVal::kInt || a.k == XVal::kBool) && (b.k == XVal::kInt)) {
    return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  }
  double x = as_double(a), y = as_double(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

// A value as text, for LIKE.
std::string text_of(const V& v) {
  switch (v.k) {
    case XVal::kStr:
      return std::string(v.s);
    case XVal::kInt:
    case XVal::kBool:
      return std::to_string(v.i);
    case XVal::kTime:
      return civil_string(v.i);
    case XVal::kDate:
      return date_string(v.i);
    case XVal::kFloat:
      return pjson(float_of(v.i)).dump();
    default:
      return "";
  }
}

// SQL LIKE, case-insensitive: % any run, _ one character, backslash escapes.
bool like(std::string_view s, std::string_view p) {
  std::size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      char pc = p[pi];
      std::size_t adv = 1;
      bool any = false;
      if (pc == '\\' && pi + 1 < p.size()) {
        pc = p[pi + 1];
        adv = 2;
      } else if (pc == '_') {
        any = true;
      }
      if (any || lower_ascii(pc) == lower_ascii(s[si])) {
        ++si;
        pi += adv;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '%')
    ++pi;
  return pi == p.size();
}
std::optional<Op> parse_op(std::string_view s) {
  static const std::pair<std::string_view, Op> kOps[] = {
      {"=", Op::kEq},
      {"!=", Op::kNe},
      {"<>", Op::kNe},
      {"<", Op::kLt},
      {"<=", Op::kLe},
      {">", Op::kGt},
      {">=", Op::kGe},
      {"LIKE", Op::kLike},
      {"NOT LIKE", Op::kNotLike},
      {"IN", Op::kIn},
      {"NOT IN", Op::kNotIn},
      {"BETWEEN", Op::kBetween},
      {"NOT BETWEEN", Op::kNotBetween},
      {"IS NULL", Op::kIsNull},
      {"IS NOT NULL", Op::kIsNotNull},
      {"IS EMPTY", Op::kIsEmpty},
      {"IS NOT EMPTY", Op::kIsNotEmpty},
      {"CONTAINS", Op::kContains},
      {"NOT CONTAINS", Op::kNotContains},
  };
  for (const auto& [name, op] : kOps) {
    if (name == s) return op;
  }
  return std::nullopt;
}

// Operators CiviCRM knows that the sandbox does not evaluate.
bool known_unemulated_op(std::string_view s) {
  return s == "REGEXP" || s == "NOT REGEXP" || s == "REGEXP BINARY" || s == "NOT REGEXP BINARY" ||
         s == "CONTAINS ONE OF" || s == "NOT CONTAINS ONE OF";
}

Tri eval_leaf(const CiviSite& site, const Node& n, std::uint32_t slot, std::string* scratch) {
  V v = read_path(site, n.path, slot, scratch);
  bool unknown = false;
  auto cmp0 = [&]() { return compare(v, n.vals[0], &unknown); };
  auto res = [&](bool b) { return unknown ? Tri::kUnknown : (b ? Tri::kTrue : Tri::kFalse); };
  switch (n.op) {
    case Op::kEq:
      return res(cmp0() == 0);
    case Op::kNe:
      return res(cmp0() != 0);
    case Op::kLt:
      return res(cmp0() < 0);
    case Op::kLe:
      return res(cmp0() <= 0);
    case Op::kGt:
      return res(cmp0() > 0);
    case Op::kGe:
      return res(cmp0() >= 0);
    case Op::kLike:
    case Op::kNotLike:
    case Op::kContains:
    case Op::kNotContains: {
      if (v.is_null() || n.vals[0].k == XVal::kNull) return Tri::kUnknown;
      std::string pat = n.vals[0].k == XVal::kStr     ? n.vals[0].s
                        : n.vals[0].k == XVal::kTime  ? civil_string(n.vals[0].i)
                        : n.vals[0].k == XVal::kFloat ? pjson(n.vals[0].d).dump()
                                                      : std::to_string(n.vals[0].i);
      if (n.op == Op::kContains || n.op == Op::kNotContains) pat = "%" + pat + "%";
      bool m = like(v.k == XVal::kStr ? std::string(v.s) : text_of(v), pat);
      return (n.op == Op::kLike || n.op == Op::kContains) == m ? Tri::kTrue : Tri::kFalse;
    }
    case Op::kIn:
    case Op::kNotIn: {
      if (v.is_null()) return Tri::kUnknown;
      if (!n.in_ints.empty() && (v.k == XVal::kInt || v.k == XVal::kBool)) {
        bool in = std::binary_search(n.in_ints.begin(), n.in_ints.end(), v.i);
        return (n.op == Op::kIn) == in ? Tri::kTrue : Tri::kFalse;
      }
      bool any_unknown = false;
      for (const Operand& o : n.vals) {
        bool u = false;
        if (compare(v, o, &u) == 0 && !u) return n.op == Op::kIn ? Tri::kTrue : Tri::kFalse;
        any_unknown = any_unknown || u;
      }
      if (any_unknown) return Tri::kUnknown;
      return n.op == Op::kIn ? Tri::kFalse : Tri::kTrue;
    }
    case Op::kBetween:
    case Op::kNotBetween: {
      bool u1 = false, u2 = false;
      int lo = compare(v, n.vals[0], &u1);
      int hi = compare(v, n.vals[1], &u2);
      if (u1 || u2) return Tri::kUnknown;
      bool in = lo >= 0 && hi <= 0;
      return (n.op == Op::kBetween) == in ? Tri::kTrue : Tri::kFalse;
    }
    case Op::kIsNull:
      return v.is_null() ? Tri::kTrue : Tri::kFalse;
    case Op::kIsNotNull:
      return v.is_null() ? Tri::kFalse : Tri::kTrue;
    case Op::kIsEmpty:
    case Op::kIsNotEmpty: {
      bool empty = v.is_null() || (v.k == XVal::kStr && v.s.empty()) ||
                   ((v.k == XVal::kInt || v.k == XVal::kBool) && v.i == 0) ||
                   (v.k == XVal::kFloat && float_of(v.i) == 0);
      return (n.op == Op::kIsEmpty) == empty ? Tri::kTrue : Tri::kFalse;
    }
  }
  return Tri::kUnknown;
}

// A request value for a condition on `d`, as FormattingUtil::formatInputValue and MySQL see it.
Operand operand_for(const Env& env, const FieldDef& d, const pjson& v) {
  Operand o;
  if (v.is_null()) return o;
  if (d.ty == Ty::kTime || d.ty == Ty::kDate) {
    o.k = XVal::kTime;
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    auto t = parse_time_text(text, env.now_utc, *env.site->tz);
    Micros m = t ? *t : unreadable_time(*env.site->tz);
    if (d.ty == Ty::kDate) m -= ((m % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
    o.i = m;
    return o;
  }
  if (v.is_boolean()) {
    o.k = XVal::kInt;
    o.i = v.get<bool>() ? 1 : 0;
  } else if (v.is_number_integer()) {
    o.k = XVal::kInt;
    o.i = v.get<std::int64_t>();
  } else if (v.is_number_unsigned()) {
    o.k = XVal::kInt;
    o.i = static_cast<std::int64_t>(v.get<std::uint64_t>());
  } else if (v.is_number_float()) {
    o.k = XVal::kFloat;
    o.d = v.get<double>();
  } else if (v.is_string()) {
    o.k = XVal::kStr;
    o.s = v.get<std::string>();
  } else {
    fail("Invalid value");
  }
  return o;
}

Node compile_group(const Env& env, Ent ent, Node::Kind kind, const pjson& list) {
  Node n;
  n.kind = kind;
  if (!list.is_array()) fail("Invalid where clause");
  for (const pjson& c : list)
    n.kids.push_back(compile_clause(env, ent, c));
  return n;
}

}  // namespace

double as_double(const Operand& o) {
  if (o.k == XVal::kFloat) return o.d;
  if (o.k == XVal::kStr) return mysql_number(o.s);
  return static_cast<double>(o.i);
}

Tri eval(const CiviSite& site, const Node& n, std::uint32_t slot, std::string* scratch) {
  switch (n.kind) {
    case Node::kLeaf:
      return eval_leaf(site, n, slot, scratch);
    case Node::kNot:
      return tri_not(eval(site, n.kids[0], slot, scratch));
    case Node::kAnd: {
      Tri r = Tri::kTrue;
      for (const Node& k : n.kids) {
        Tri t = eval(site, k, slot, scratch);
        if (t == Tri::kFalse) return t;
        if (t == Tri::kUnknown) r = t;
      }
      return r;
    }
    case Node::kOr: {
      Tri r = Tri::kFalse;
      for (const Node& k : n.kids) {
        Tri t = eval(site, k, slot, scratch);
        if (t == Tri::kTrue) return t;
        if (t == Tri::kUnknown) r = t;
      }
      return r;
    }
  }
  return Tri::kUnknown;
}

Node compile_clause(const Env& env, Ent ent, const pjson& c) {
  if (!c.is_array() || c.empty() || !c[0].is_string()) fail("Invalid where clause");
  const std::string& head = c[0].get_ref<const std::string&>();
  if (head == "AND" || head == "OR") {
    if (c.size() < 2 || (c[1].is_array() && c[1].empty())) {
      Node n;
      n.kind = Node::kAnd;  // an empty branch is skipped
      return n;
    }
    return compile_group(env, ent, head == "AND" ? Node::kAnd : Node::kOr, c[1]);
  }
  if (head == "NOT") {
    if (c.size() < 2 || (c[1].is_array() && c[1].empty())) {
      Node n;
      n.kind = Node::kAnd;
      return n;
    }
    Node n;
    n.kind = Node::kNot;
    // A list of clauses without an operator means AND.
    if (c[1].is_array() && !c[1].empty() && !c[1][0].is_string()) {
      n.kids.push_back(compile_group(env, ent, Node::kAnd, c[1]));
    } else {
      n.kids.push_back(compile_clause(env, ent, c[1]));
    }
    return n;
  }
  Node n;
  n.kind = Node::kLeaf;
  std::string op_text = c.size() > 1 && c[1].is_string() ? c[1].get<std::string>() : "";
  auto op = parse_op(op_text);
  if (!op) {
    if (known_unemulated_op(op_text)) {
      fail("concord-sandbox does not emulate the " + op_text + " operator");
    }
    fail("Illegal operator");
  }
  if (c.size() > 3 && c[3].is_boolean() && c[3].get<bool>()) {
    fail("concord-sandbox does not emulate comparing two fields (isExpression)");
  }
  if (head.find('(') != std::string::npos) {
    fail("concord-sandbox does not emulate SQL functions in where: " + head);
  }
  auto path = resolve_path(*env.site, ent, head);
  if (!path) {
    std::string base = head.substr(0, head.find(':'));
    fail("Invalid field '" + base + "'");
  }
  n.path = std::move(*path);
  n.op = *op;
  const FieldDef& d = field_def(*env.site, n.path.target, n.path.field);
  const pjson null_value;
  const pjson& value = c.size() > 2 ? c[2] : null_value;
  const Suffix suffix = n.path.suffix;
  auto convert = [&](const pjson& v) -> Operand {
    if (suffix != Suffix::kNone && v.is_string()) {
      auto x = unsuffix(*env.site, d, suffix, v.get<std::string>());
      Operand o;
      if (!x) return o;  // an unknown option matches nothing
      o.k = x->k == XVal::kStr ? XVal::kStr : XVal::kInt;
      o.i = x->i;
      o.s = x->s;
      return o;
    }
    return operand_for(env, d, v);
  };
  // A name or label was converted to the stored value: compare stored values.
  n.path.suffix = Suffix::kNone;
  switch (n.op) {
    case Op::kIsNull:
    case Op::kIsNotNull:
    case Op::kIsEmpty:
    case Op::kIsNotEmpty:
      break;
    case Op::kIn:
    case Op::kNotIn:
      if (!value.is_array()) fail("Invalid value in WHERE clause for '" + head + "'");
      if (value.empty()) {
        // CiviCRM compares with IN (FALSE) then.
        Operand o;
        o.k = XVal::kInt;
        o.i = 0;
        n.vals.push_back(o);
      }
      for (const pjson& v : value)
        n.vals.push_back(convert(v));
      if (std::all_of(n.vals.begin(), n.vals.end(),
                      [](const Operand& o) { return o.k == XVal::kInt; })) {
        for (const Operand& o : n.vals)
          n.in_ints.push_back(o.i);
        std::sort(n.in_ints.begin(), n.in_ints.end());
      }
      break;
    case Op::kBetween:
    case Op::kNotBetween:
      if (!value.is_array() || value.size() != 2) {
        fail("Invalid value in WHERE clause for '" + head + "'");
      }
      n.vals.push_back(convert(value[0]));
      n.vals.push_back(convert(value[1]));
      break;
    default: {
      if (value.is_array() || value.is_object()) {
        fail("Invalid value in WHERE clause for '" + head + "'");
      }
      // A timestamp compared with "=" to a bare date means the whole day.
      if (d.ty == Ty::kTime && value.is_string() && (n.op == Op::kEq || n.op == Op::kNe)) {
        std::string t(trim_view(value.get<std::string>()));
        int y, m, dd;
        if (t.size() == 10 && digits(t, 0, 4, &y) && t[4] == '-' && digits(t, 5, 2, &m) &&
            t[7] == '-' && digits(t, 8, 2, &dd)) {
          n.op = n.op == Op::kEq ? Op::kBetween : Op::kNotBetween;
          n.vals.push_back(convert(pjson(t + " 00:00:00")));
          n.vals.push_back(convert(pjson(t + " 23:59:59")));
          break;
        }
      }
      n.vals.push_back(convert(value));
    }
  }
  return n;
}

// ---- where over rows held as JSON (ArrayQueryActionTrait)

namespace {

bool php_bool(const pjson& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !(v.get_ref<const std::string&>().empty() || v == "0");
  return !v.empty();
}

std::optional<double> php_number(const pjson& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return parse_decimal(v.get_ref<const std::string&>());
  return std::nullopt;
}

std::string php_string(const pjson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "";
  if (v.is_null()) return "";
  return v.dump();
}

// PHP 8's $a <=> $b for scalars: booleans and NULL as booleans, numbers (and numeric strings)
// as numbers, else as strings.
int php_compare(const pjson& a, const pjson& b) {
  if (a.is_null() && b.is_string()) return php_compare(pjson(""), b);
  if (b.is_null() && a.is_string()) return php_compare(a, pjson(""));
  if (a.is_boolean() || b.is_boolean() || a.is_null() || b.is_null()) {
    return static_cast<int>(php_bool(a)) - static_cast<int>(php_bool(b));
  }
  if (a.is_structured() || b.is_structured()) return a == b ? 0 : 1;
  auto x = php_number(a), y = php_number(b);
  if (x && y) return *x < *y ? -1 : (*x > *y ? 1 : 0);
  int c = php_string(a).compare(php_string(b));
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool php_equal(const pjson& a, const pjson& b) {
  if (a.is_structured() || b.is_structured()) return a == b;
  return php_compare(a, b) == 0;
}

// LIKE over arrays: '%' matches any run, everything else itself, ignoring case.
bool array_like(std::string_view s, std::string_view p) {
  std::string escaped;
  for (char c : p) {
    if (c == '\\' || c == '_') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return like(s, escaped);
}

bool array_clause(const pjson& row, const pjson& c);

bool array_all(const pjson& row, const pjson& list) {
  if (!list.is_array()) fail("Invalid where clause");
  // A single clause where a list is expected: ["NOT", ["name", "=", "x"]].
  if (!list.empty() && list[0].is_string()) return array_clause(row, list);
  for (const pjson& c : list) {
    if (!array_clause(row, c)) return false;
  }
  return true;
}

bool array_clause(const pjson& row, const pjson& c) {
  if (!c.is_array() || c.empty() || !c[0].is_string()) fail("Invalid where clause");
  const std::string& head = c[0].get_ref<const std::string&>();
  const pjson empty = pjson::array();
  const pjson& list = c.size() > 1 ? c[1] : empty;
  if (head == "AND" || head == "NOT") return array_all(row, list) == (head == "AND");
  if (head == "OR") {
    if (!list.is_array()) fail("Invalid where clause");
    if (list.empty()) return true;
    if (list[0].is_string()) return array_clause(row, list);
    for (const pjson& k : list) {
      if (array_clause(row, k)) return true;
    }
    return false;
  }
  const pjson null_value;
  auto at = row.find(head);
  const pjson& value = at == row.end() ? null_value : *at;
  const std::string op = c.size() > 1 && c[1].is_string() ? c[1].get<std::string>() : "";
  const pjson& expected = c.size() > 2 ? c[2] : null_value;
  auto list_of = [&]() -> const pjson& {
    if (!expected.is_array()) fail("Invalid value in WHERE clause for '" + head + "'");
    return expected;
  };
  if (op == "=" || op == "!=" || op == "<>") {
    bool equal = php_equal(value, expected);
    // PHP is too loose about 0 and "": BasicGetAction compares them strictly.
    if (expected == 0 || expected == "0") equal = value == 0 || value == "0";
    if (expected == "") equal = value == "";
    return equal == (op == "=");
  }
  if (op == "IS NULL" || op == "IS NOT NULL") return value.is_null() == (op == "IS NULL");
  if (op == "IS EMPTY" || op == "IS NOT EMPTY") return php_bool(value) != (op == "IS EMPTY");
  if (op == ">") return php_compare(value, expected) > 0;
  if (op == ">=") return php_compare(value, expected) >= 0;
  if (op == "<") return php_compare(value, expected) < 0;
  if (op == "<=") return php_compare(value, expected) <= 0;
  if (op == "BETWEEN" || op == "NOT BETWEEN") {
    const pjson& r = list_of();
    if (r.size() != 2) fail("Invalid value in WHERE clause for '" + head + "'");
    bool in = php_compare(value, r[0]) >= 0 && php_compare(value, r[1]) <= 0;
    return in == (op == "BETWEEN");
  }
  if (op == "LIKE" || op == "NOT LIKE") {
    bool m = array_like(php_string(value), php_string(expected));
    return m == (op == "LIKE");
  }
  if (op == "IN" || op == "NOT IN") {
    bool in = false;
    for (const pjson& e : list_of())
      in = in || php_equal(value, e);
    return in == (op == "IN");
  }
  if (op == "CONTAINS") {
    if (value.is_array()) {
      for (const pjson& e : value) {
        if (php_equal(e, expected)) return true;
      }
      return false;
    }
    if (value.is_string() || value.is_number()) {
      return php_string(value).find(php_string(expected)) != std::string::npos;
    }
    return php_equal(value, expected);
  }
  if (op == "REGEXP" || op == "NOT REGEXP") {
    fail("concord-sandbox does not emulate the " + op + " operator");
  }
  fail("Unsupported operator: '" + op + "' cannot be used with array data");
}

}  // namespace

bool array_matches(const pjson& row, const pjson& where) {
  for (const pjson& c : where) {
    if (!array_clause(row, c)) return false;
  }
  return true;
}

// Whether a where clause mentions a field (AbstractGetAction::_whereContains).
bool where_contains(const pjson& clauses, std::string_view field) {
  if (!clauses.is_array()) return false;
  for (const pjson& c : clauses) {
    if (!c.is_array() || c.empty() || !c[0].is_string()) continue;
    const std::string& head = c[0].get_ref<const std::string&>();
    if (head == field) return true;
    if ((head == "AND" || head == "OR" || head == "NOT") && c.size() > 1 &&
        where_contains(c[1], field)) {
      return true;
    }
  }
  return false;
}

// Whether the where clause fetches records by id (AbstractGetAction::_itemsToGet('id')).
bool fetches_by_id(const pjson& where) {
  for (const pjson& c : where) {
    if (!c.is_array() || c.size() < 2 || c[0] != "id" || !c[1].is_string()) continue;
    const std::string& op = c[1].get_ref<const std::string&>();
    if (op == "=" || op == "IN") return true;
    if (op == "LIKE" && c.size() > 2 &&
        !(c[2].is_string() && c[2].get<std::string>().find('%') != std::string::npos)) {
      return true;
    }
  }
  return false;
}

Node compile_clause(const Env& env, Ent ent, const pjson& c);

}  // namespace concord::sandbox
