#include "sandbox/mixpanel/where.h"

#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace concord::sandbox::mixpanel {

struct Where::Node {
  enum class Kind { kOr, kAnd, kNot, kCompare, kDefined, kProperty, kLiteral };
  Kind kind;
  std::string op;        // kCompare: "==", "!=", "<", "<=", ">", ">="
  std::string property;  // kDefined, kProperty
  ojson literal;         // kLiteral
  std::vector<std::shared_ptr<const Node>> children;
};

namespace {

using Node = Where::Node;
using NodePtr = std::shared_ptr<const Node>;

struct Token {
  enum class Type { kEnd, kWord, kString, kNumber, kSymbol } type = Type::kEnd;
  std::string text;  // a word, a symbol, a string's decoded value
  double number = 0;
  std::size_t at = 0;
};

struct ParseError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) { next(); }

  NodePtr parse() {
    NodePtr n = expr();
    if (tok_.type == Token::Type::kWord) {
      fail("the sandbox does not evaluate \"" + tok_.text + "\"");
    }
    if (tok_.type != Token::Type::kEnd) fail("unexpected " + describe(tok_));
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError{what + " at offset " + std::to_string(tok_.at)};
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Token::Type::kEnd:
        return "end of expression";
      case Token::Type::kString:
        return "string";
      case Token::Type::kNumber:
        return "number";
      default:
        return "\"" + t.text + "\"";
    }
  }

  bool word(std::string_view w) const { return tok_.type == Token::Type::kWord && tok_.text == w; }
  bool symbol(std::string_view sym) const {
    return tok_.type == Token::Type::kSymbol && tok_.text == sym;
  }
  void expect_symbol(std::string_view sym) {
    if (!symbol(sym)) fail("expected \"" + std::string(sym) + "\", found " + describe(tok_));
    next();
  }

  void next() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])))
      ++i_;
    tok_ = Token{};
    tok_.at = i_;
    if (i_ >= s_.size()) return;
    const char c = s_[i_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      tok_.type = Token::Type::kWord;
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_'))
        tok_.text.push_back(s_[i_++]);
      return;
    }
    if (c == '"' || c == '\'') {
      tok_.type = Token::Type::kString;
      ++i_;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        tok_.text.push_back(s_[i_++]);
      }
      if (i_ >= s_.size()) fail("unterminated string");
      ++i_;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '-' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      std::size_t start = i_++;
      while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.'))
        ++i_;
      tok_.type = Token::Type::kNumber;
      tok_.text = std::string(s_.substr(start, i_ - start));
      try {
        std::size_t used = 0;
        tok_.number = std::stod(tok_.text, &used);
        if (used != tok_.text.size()) fail("bad number \"" + tok_.text + "\"");
      } catch (const std::logic_error&) {
        fail("bad number \"" + tok_.text + "\"");
      }
      return;
    }
    for (std::string_view two : {"==", "!=", "<=", ">="}) {
      if (s_.substr(i_, 2) == two) {
        tok_.type = Token::Type::kSymbol;
        tok_.text = std::string(two);
        i_ += 2;
        return;
      }
    }
    if (c == '<' || c == '>' || c == '(' || c == ')' || c == '[' || c == ']') {
      tok_.type = Token::Type::kSymbol;
      tok_.text = std::string(1, c);
      ++i_;
      return;
    }
    tok_.type = Token::Type::kSymbol;
    tok_.text = std::string(1, c);
    fail("the sandbox does not evaluate \"" + tok_.text + "\"");
  }

  static NodePtr make(Node::Kind kind, std::vector<NodePtr> children = {}) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->children = std::move(children);
    return n;
  }

  NodePtr expr() {
    std::vector<NodePtr> parts{conjunction()};
    while (word("or")) {
      next();
      parts.push_back(conjunction());
    }
    return parts.size() == 1 ? parts[0] : make(Node::Kind::kOr, std::move(parts));
  }

  NodePtr conjunction() {
    std::vector<NodePtr> parts{unary()};
    while (word("and")) {
      next();
      parts.push_back(unary());
    }
    return parts.size() == 1 ? parts[0] : make(Node::Kind::kAnd, std::move(parts));
  }

  NodePtr unary() {
    if (word("not")) {
      next();
      return make(Node::Kind::kNot, {unary()});
    }
    NodePtr left = operand();
    if (tok_.type == Token::Type::kSymbol &&
        (tok_.text == "==" || tok_.text == "!=" || tok_.text == "<" || tok_.text == "<=" ||
         tok_.text == ">" || tok_.text == ">=")) {
      std::string op = tok_.text;
      next();
      NodePtr right = operand();
      auto n = std::make_shared<Node>();
      n->kind = Node::Kind::kCompare;
      n->op = std::move(op);
      n->children = {left, right};
      return n;
    }
    return left;
  }

  std::string property_name() {
    if (!word("properties")) fail("expected properties[\"name\"], found " + describe(tok_));
    next();
    expect_symbol("[");
    if (tok_.type != Token::Type::kString) fail("expected a property name in quotes");
    std::string name = tok_.text;
    next();
    expect_symbol("]");
    return name;
  }

  NodePtr operand() {
    if (symbol("(")) {
      next();
      NodePtr n = expr();
      expect_symbol(")");
      return n;
    }
    auto n = std::make_shared<Node>();
    if (word("defined")) {
      next();
      expect_symbol("(");
      n->kind = Node::Kind::kDefined;
      n->property = property_name();
      expect_symbol(")");
      return n;
    }
    if (word("properties")) {
      n->kind = Node::Kind::kProperty;
      n->property = property_name();
      return n;
    }
    n->kind = Node::Kind::kLiteral;
    if (tok_.type == Token::Type::kString) {
      n->literal = tok_.text;
    } else if (tok_.type == Token::Type::kNumber) {
      n->literal = tok_.number;
    } else if (word("true") || word("false")) {
      n->literal = word("true");
    } else if (word("null")) {
      n->literal = nullptr;
    } else {
      fail(tok_.type == Token::Type::kWord ? "the sandbox does not evaluate \"" + tok_.text + "\""
                                           : "expected a value, found " + describe(tok_));
    }
    next();
    return n;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  Token tok_;
};

// A value while evaluating: nullopt is undefined (a property the profile lacks).
using Value = std::optional<ojson>;

bool truthy(const Value& v) {
  if (!v || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number()) return v->get<double>() != 0;
  if (v->is_string()) return !v->get_ref<const std::string&>().empty();
  return !v->empty();
}

bool equal(const Value& a, const Value& b) {
  if (!a || !b) return false;
  if (a->is_number() && b->is_number()) return a->get<double>() == b->get<double>();
  return *a == *b;
}

// -1, 0, 1, or nullopt when the two are not ordered (different types, undefined).
std::optional<int> order(const Value& a, const Value& b) {
  if (!a || !b) return std::nullopt;
  if (a->is_number() && b->is_number()) {
    double x = a->get<double>(), y = b->get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a->is_string() && b->is_string()) {
    int c = a->get_ref<const std::string&>().compare(b->get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return std::nullopt;
}

Value eval(const Node& n, const ojson& props) {
  switch (n.kind) {
    case Node::Kind::kOr:
      for (const auto& c : n.children) {
        if (truthy(eval(*c, props))) return ojson(true);
      }
      return ojson(false);
    case Node::Kind::kAnd:
      for (const auto& c : n.children) {
        if (!truthy(eval(*c, props))) return ojson(false);
      }
      return ojson(true);
    case Node::Kind::kNot:
      return ojson(!truthy(eval(*n.children[0], props)));
    case Node::Kind::kDefined:
      return ojson(props.contains(n.property));
    case Node::Kind::kProperty: {
      auto it = props.find(n.property);
      return it == props.end() ? Value() : Value(*it);
    }
    case Node::Kind::kLiteral:
      return n.literal;
    case Node::Kind::kCompare: {
      Value a = eval(*n.children[0], props), b = eval(*n.children[1], props);
      if (n.op == "==") return ojson(equal(a, b));
      if (n.op == "!=") return ojson(!equal(a, b));
      std::optional<int> c = order(a, b);
      if (!c) return ojson(false);
      if (n.op == "<") return ojson(*c < 0);
      if (n.op == "<=") return ojson(*c <= 0);
      if (n.op == ">") return ojson(*c > 0);
      return ojson(*c >= 0);
    }
  }
  return Value();
}

}  // namespace

Result<Where> Where::parse(std::string_view text) {
  try {
    return Where(Parser(text).parse());
  } catch (const ParseError& e) {
    return Status::invalid("where: " + e.message);
  }
}

bool Where::matches(const ojson& properties) const {
  return truthy(eval(*root_, properties));
}

}  // namespace concord::sandbox::mixpanel
