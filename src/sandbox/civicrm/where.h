// The where clauses of the CiviCRM part: compiled from a request into a tree of conditions, and
// evaluated on a row with MySQL's comparisons: numbers against numbers (a string read as a
// number), strings against strings ignoring case and trailing spaces (utf8mb4_unicode_ci,
// approximated for ASCII), times against times. A comparison with NULL is unknown, and unknown
// rows do not match.
//
// Thread-safety: pure functions; the caller holds the site's lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "concord/time.h"
#include "sandbox/civicrm/entities.h"
#include "sandbox/civicrm/paths.h"
#include "sandbox/civicrm/values.h"

namespace concord::sandbox {

enum class Tri : std::uint8_t { kFalse, kTrue, kUnknown };

// An operand of a condition, converted for the field it is compared with.
struct Operand {
  XVal::Kind k = XVal::kNull;  // kInt, kFloat, kStr, kTime (also for date fields), kNull
  std::int64_t i = 0;
  double d = 0;
  std::string s;
};

// An operand as a number, as MySQL reads it.
double as_double(const Operand& o);

enum class Op : std::uint8_t {
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
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
  kContains,
  kNotContains,
};

struct Node {
  enum Kind : std::uint8_t { kLeaf, kAnd, kOr, kNot } kind = kLeaf;
  std::vector<Node> kids;
  // Leaf.
  PathRef path;
  Op op = Op::kEq;
  std::vector<Operand> vals;
  // For IN / NOT IN with only integer operands: the operands sorted, looked up by bisection
  // (a page of contact ids is a thousand of them).
  std::vector<std::int64_t> in_ints;
};

// Whether a row matches a condition.
Tri eval(const CiviSite& site, const Node& n, std::uint32_t slot, std::string* scratch);

// What a where clause is compiled against.
struct Env {
  const CiviSite* site;
  Micros now_utc;
};

// Compiles one clause of a where ([field, op, value] or [AND|OR|NOT, clauses]) of an entity.
// Throws ApiError for a clause CiviCRM would refuse or the sandbox does not emulate.
Node compile_clause(const Env& env, Ent ent, const pjson& c);

// Whether a row held as JSON matches a where clause list (all of its clauses), as BasicGetAction
// filters the arrays of its non-SQL entities (ArrayQueryActionTrait; getFields): PHP's loose
// comparisons rather than MySQL's, a missing key is NULL, LIKE knows only '%' and ignores case,
// AND/OR/NOT nest as in SQL gets. Throws ApiError for an operator that does not apply to arrays.
bool array_matches(const pjson& row, const pjson& where);

// Whether a where clause mentions a field (AbstractGetAction::_whereContains).
bool where_contains(const pjson& clauses, std::string_view field);
// Whether the where clause fetches records by id (AbstractGetAction::_itemsToGet('id')).
bool fetches_by_id(const pjson& where);

}  // namespace concord::sandbox
