#include "sandbox/auth0/search.h"

#include <cstdlib>
#include <optional>
#include <vector>

#include "sandbox/auth0/dates.h"
#include "sandbox/auth0/user_paths.h"

namespace concord::sandbox::auth0 {

struct UserQuery::Node {
  enum class Kind { kAnd, kOr, kNot, kTerm, kRange, kExists };
  Kind kind = Kind::kTerm;
  std::vector<Node> children;  // kAnd, kOr (two or more), kNot (one)
  std::string field;
  // kTerm: the text, and whether it is a prefix (a trailing *).
  std::string text;
  bool prefix = false;
  // kRange: the bounds (nullopt: *) and whether each is inclusive.
  std::optional<std::string> lo, hi;
  bool lo_inclusive = true, hi_inclusive = true;
};

namespace {

using Node = UserQuery::Node;
using Kind = Node::Kind;

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// A recursive-descent reader over the query text (grammar in search.h).
class Parser {
 public:
  explicit Parser(std::string_view q) : q_(q) {}

  Result<Node> query() {
    Node n = parse_or();
    skip();
    if (err_.empty() && i_ < q_.size()) fail(q_[i_] == ')' ? "unmatched )" : "unexpected text");
    if (!err_.empty()) return Status::invalid(err_);
    return n;
  }

 private:
  void fail(const std::string& what) {
    if (err_.empty()) err_ = what + " at " + std::to_string(i_);
  }
  void skip() {
    while (i_ < q_.size() && space(q_[i_]))
      ++i_;
  }
  // Whether the operator word `w` is next (followed by a space, '(' or the end); consumes it.
  bool word(std::string_view w) {
    skip();
    if (q_.substr(i_, w.size()) != w) return false;
    const std::size_t end = i_ + w.size();
    if (end < q_.size() && !space(q_[end]) && q_[end] != '(') return false;
    i_ = end;
    return true;
  }
  bool symbol(std::string_view s) {
    skip();
    if (q_.substr(i_, s.size()) != s) return false;
    i_ += s.size();
    return true;
  }

  static Node combine(Kind kind, Node left, Node right) {
    if (left.kind == kind) {
      left.children.push_back(std::move(right));
      return left;
    }
    Node n;
    n.kind = kind;
    n.children.push_back(std::move(left));
    n.children.push_back(std::move(right));
    return n;
  }

  Node parse_or() {
    Node left = parse_and();
    while (err_.empty() && (word("OR") || symbol("||")))
      left = combine(Kind::kOr, std::move(left), parse_and());
    return left;
  }

  Node parse_and() {
    Node left = parse_unary();
    while (err_.empty()) {
      if (word("AND") || symbol("&&")) {
        left = combine(Kind::kAnd, std::move(left), parse_unary());
        continue;
      }
      skip();
      if (i_ >= q_.size() || q_[i_] == ')') break;
      std::size_t save = i_;
      if (word("OR")) {
        i_ = save;
        break;
      }
      if (q_.substr(i_, 2) == "||") break;
      // Lucene would read two clauses side by side with its default operator, which Auth0 does
      // not document: a client should say which it means.
      fail("expected AND or OR between clauses");
    }
    return left;
  }

  Node parse_unary() {
    if (word("NOT") || symbol("!")) {
      Node n;
      n.kind = Kind::kNot;
      n.children.push_back(parse_unary());
      return n;
    }
    skip();
    if (i_ < q_.size() && q_[i_] == '(') {
      ++i_;
      Node n = parse_or();
      if (!symbol(")")) fail("expected )");
      return n;
    }
    return clause();
  }

  Node clause() {
    Node n;
    skip();
    if (i_ >= q_.size()) {
      fail("expected a clause");
      return n;
    }
    if (q_[i_] == '+' || q_[i_] == '-') {
      fail("the sandbox does not read + and - prefixes (use AND, NOT)");
      return n;
    }
    const std::size_t start = i_;
    while (i_ < q_.size() && q_[i_] != ':' && !space(q_[i_]) && q_[i_] != '(' && q_[i_] != ')' &&
           q_[i_] != '"')
      ++i_;
    n.field = std::string(q_.substr(start, i_ - start));
    if (i_ >= q_.size() || q_[i_] != ':' || n.field.empty()) {
      i_ = start;
      fail("expected field:value (the sandbox does not search without a field)");
      return n;
    }
    ++i_;  // ':'
    if (i_ >= q_.size() || space(q_[i_])) {
      fail("expected a value after " + n.field + ":");
      return n;
    }
    if (n.field == "_exists_") {
      n.kind = Kind::kExists;
      n.field = bare_term(nullptr);
      if (n.field.empty()) fail("expected a field name after _exists_:");
      return n;
    }
    const char c = q_[i_];
    if (c == '[' || c == '{') return range(std::move(n));
    if (c == '(') {
      fail("the sandbox does not read grouped values (field:(a OR b)); write field:a OR field:b");
      return n;
    }
    if (c == '"') {
      n.text = phrase();
      return n;
    }
    bool wildcard = false;
    n.text = bare_term(&wildcard);
    if (n.text.empty() && !wildcard) {
      fail("expected a value after " + n.field + ":");
    } else if (wildcard && n.text.empty()) {
      n.kind = Kind::kExists;  // field:*
    } else if (wildcard) {
      n.prefix = true;
    }
    return n;
  }

  // A quoted phrase, with backslash escapes; i_ is at its opening quote.
  std::string phrase() {
    std::string s;
    ++i_;
    while (i_ < q_.size() && q_[i_] != '"') {
      if (q_[i_] == '\\' && i_ + 1 < q_.size()) ++i_;
      s += q_[i_++];
    }
    if (i_ >= q_.size()) {
      fail("unterminated phrase");
      return s;
    }
    ++i_;
    if (i_ < q_.size() && (q_[i_] == '~' || q_[i_] == '^')) {
      fail("the sandbox does not read proximity (~) or boosts (^)");
    }
    return s;
  }

  // An unquoted term up to a space or ')' (or, with `stop_at_bracket`, ']' and '}'), with
  // backslash escapes. A trailing unescaped * sets *wildcard (refused when wildcard is null);
  // other wildcards and operators are refused.
  std::string bare_term(bool* wildcard, bool stop_at_bracket = false) {
    std::string s;
    while (i_ < q_.size() && !space(q_[i_]) && q_[i_] != ')' &&
           !(stop_at_bracket && (q_[i_] == ']' || q_[i_] == '}'))) {
      const char c = q_[i_];
      if (c == '\\' && i_ + 1 < q_.size()) {
        s += q_[i_ + 1];
        i_ += 2;
        continue;
      }
      if (c == '*' && wildcard && !stop_at_bracket) {
        const std::size_t next = i_ + 1;
        if (next == q_.size() || space(q_[next]) || q_[next] == ')') {
          *wildcard = true;
          ++i_;
          return s;
        }
      }
      if (c == '*' || c == '?') {
        fail("the sandbox reads * only at the end of a term");
        return s;
      }
      if (c == '~' || c == '^' || c == '/' || c == '(' || c == '"') {
        fail("the sandbox does not read fuzzy terms, boosts, regular expressions or '" +
             std::string(1, c) + "' inside a term (quote the value)");
        return s;
      }
      s += c;
      ++i_;
    }
    return s;
  }

  std::optional<std::string> bound() {
    skip();
    if (i_ < q_.size() && q_[i_] == '"') return phrase();
    if (i_ < q_.size() && q_[i_] == '*' &&
        (i_ + 1 == q_.size() || space(q_[i_ + 1]) || q_[i_ + 1] == ']' || q_[i_ + 1] == '}')) {
      ++i_;
      return std::nullopt;
    }
    std::string s = bare_term(nullptr, true);
    if (s.empty()) fail("expected a range bound");
    return s;
  }

  Node range(Node n) {
    n.kind = Kind::kRange;
    n.lo_inclusive = q_[i_++] == '[';
    n.lo = bound();
    skip();
    if (!word("TO")) {
      fail("expected TO in the range");
      return n;
    }
    n.hi = bound();
    skip();
    if (i_ >= q_.size() || (q_[i_] != ']' && q_[i_] != '}')) {
      fail("expected ] or } to close the range");
      return n;
    }
    n.hi_inclusive = q_[i_++] == ']';
    return n;
  }

  std::string_view q_;
  std::size_t i_ = 0;
  std::string err_;
};

std::optional<double> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string text(s);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

bool term_matches(const ojson& v, const Node& n) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return n.prefix ? s.rfind(n.text, 0) == 0 : s == n.text;
  }
  if (n.prefix) return false;
  if (v.is_boolean()) return n.text == (v.get<bool>() ? "true" : "false");
  if (v.is_number()) {
    auto d = number(n.text);
    return d && *d == v.get<double>();
  }
  return false;
}

// -1, 0, 1: how `v` compares with the bound `b`, a time inside the span a date bound names being
// equal to it (the range's inclusiveness decides); nullopt when they cannot be compared.
std::optional<int> compare(const ojson& v, const std::string& b) {
  if (v.is_number()) {
    auto d = number(b);
    if (!d) return std::nullopt;
    const double x = v.get<double>();
    return x < *d ? -1 : x > *d ? 1 : 0;
  }
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (auto t = parse_time(s)) {
    if (auto span = parse_span(b)) {
      if (*t < span->begin) return -1;
      if (*t >= span->end) return 1;
      return 0;
    }
  }
  const int c = s.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

bool range_matches(const ojson& v, const Node& n) {
  if (n.lo) {
    auto c = compare(v, *n.lo);
    if (!c || *c < 0 || (*c == 0 && !n.lo_inclusive)) return false;
  }
  if (n.hi) {
    auto c = compare(v, *n.hi);
    if (!c || *c > 0 || (*c == 0 && !n.hi_inclusive)) return false;
  }
  return true;
}

// The values of `field` in `user`; `email.domain` is computed into *domain.
std::vector<const ojson*> field_values(const ojson& user, const std::string& field, ojson* domain) {
  std::vector<const ojson*> values;
  if (field == "email.domain") {
    auto it = user.find("email");
    if (it != user.end() && it->is_string()) {
      const std::string& email = it->get_ref<const std::string&>();
      if (auto at = email.rfind('@'); at != std::string::npos) {
        *domain = email.substr(at + 1);
        values.push_back(domain);
      }
    }
    return values;
  }
  values_at(user, field, &values);
  return values;
}

bool eval(const Node& n, const ojson& user) {
  switch (n.kind) {
    case Kind::kAnd:
      for (const Node& c : n.children) {
        if (!eval(c, user)) return false;
      }
      return true;
    case Kind::kOr:
      for (const Node& c : n.children) {
        if (eval(c, user)) return true;
      }
      return false;
    case Kind::kNot:
      return !eval(n.children.front(), user);
    case Kind::kExists:
    case Kind::kTerm:
    case Kind::kRange:
      break;
  }
  if (n.kind == Kind::kExists && n.field == "*") return true;  // *:*
  ojson domain;
  std::vector<const ojson*> values = field_values(user, n.field, &domain);
  if (n.kind == Kind::kExists) return !values.empty();
  for (const ojson* v : values) {
    if (n.kind == Kind::kTerm ? term_matches(*v, n) : range_matches(*v, n)) return true;
  }
  return false;
}

}  // namespace

UserQuery::UserQuery() = default;

Result<UserQuery> UserQuery::parse(std::string_view q) {
  UserQuery query;
  bool blank = true;
  for (char c : q)
    blank = blank && space(c);
  if (blank) return query;
  Result<Node> root = Parser(q).query();
  if (!root.is_ok()) return root.status();
  query.root_ = std::make_shared<const Node>(std::move(root).value());
  return query;
}

bool UserQuery::matches(const ojson& user) const {
  return !root_ || eval(*root_, user);
}

}  // namespace concord::sandbox::auth0
