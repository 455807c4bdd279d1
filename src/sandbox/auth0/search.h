// The user search's query language: the subset of Lucene's query string syntax (as Auth0's
// search engine v3 reads it) that a client syncing users writes (docs/sandbox.md "The Auth0
// API", "Search"):
//
//   query  := or
//   or     := and (("OR" | "||") and)*
//   and    := unary (("AND" | "&&") unary)*
//   unary  := ("NOT" | "!") unary | "(" or ")" | clause
//   clause := "_exists_:" FIELD | FIELD ":" value
//   value  := "\"" phrase "\"" | TERM | TERM "*" | "*" | range
//   range  := ("[" | "{") BOUND "TO" BOUND ("]" | "}")      BOUND: a term, a phrase or *
//
// FIELD is a path into the user (`identities.connection`, `user_metadata.plan`) or
// `email.domain`. A term or phrase matches a string exactly (case-sensitive; a trailing * makes
// a term a prefix), a boolean as true/false, a number by value; a field that is an array matches
// when any element does. A range compares times as times (a bound may be a year, month, day or
// instant: "[2017-12 TO *]" starts at the month's first instant, "{2017-12 TO *]" after its
// last), numbers as numbers, other strings as text.
//
// What Lucene also has and the sandbox does not read — terms without a field, clauses side by
// side without AND/OR, +/- prefixes, ? and inner * wildcards, fuzzy and proximity (~), boosts
// (^), regular expressions, grouped values (field:(a b)) — is refused with the problem named,
// rather than read differently from Auth0.
//
// Thread-safety: a parsed query is immutable and may be shared.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "concord/status.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

class UserQuery {
 public:
  // The query that matches every user (an empty `q`).
  UserQuery();
  // Parses `q`. Returns kInvalid saying what is wrong and where, e.g. "expected AND or OR
  // between clauses at 24".
  static Result<UserQuery> parse(std::string_view q);

  bool matches(const ojson& user) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;  // null: every user
};

}  // namespace concord::sandbox::auth0
