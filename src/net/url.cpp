// URLs, percent-encoding, query strings and header look-up: the parts of src/net that need no
// sockets (and no Beast).
#include <charconv>
#include <string>
#include <string_view>

#include "concord/http.h"

#include <openssl/evp.h>
#include "net/ascii.h"

namespace concord::http {
namespace {

using ascii::iequals;
using ascii::lower;

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f');
}
int hex_value(char c) {
  return is_digit(c) ? c - '0' : lower(c) - 'a' + 10;
}

// A registered name: letters, digits, '-', '.', '_' (no percent-encoding; not needed here).
bool valid_reg_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// The inside of "[...]": hex digits, ':' and '.' (for an embedded IPv4 tail). Zone ids ("%eth0")
// are not accepted.
bool valid_ipv6_literal(std::string_view host) {
  if (host.size() < 2 || host.find(':') == std::string_view::npos) return false;
  for (char c : host) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string_view find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

Result<Url> Url::parse(std::string_view text) {
  // Errors quote the URL without its query or fragment, and not at all when it holds
  // credentials: either may carry a secret.
  std::string_view shown = text.substr(0, text.find_first_of("?#"));
  if (shown.find('@') != std::string_view::npos) shown = {};
  auto bad = [&](std::string_view why) {
    std::string msg = "bad URL";
    if (!shown.empty()) msg += " '" + std::string(shown) + "'";
    return Status::invalid(msg + ": " + std::string(why));
  };

  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) return bad("expected scheme://host");
  Url url;
  for (char c : text.substr(0, colon)) {
    url.scheme += lower(c);
  }
  if (url.scheme != "https" && url.scheme != "http") return bad("the scheme must be http or https");
  text.remove_prefix(colon + 3);

  const std::size_t end = text.find_first_of("/?#");
  std::string_view authority = text.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : text.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported");
  }

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    if (!valid_ipv6_literal(host)) return bad("bad IPv6 address");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ']'");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    const std::size_t c = authority.rfind(':');
    host = authority.substr(0, c);
    if (c != std::string_view::npos) {
      port = authority.substr(c + 1);
      if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("missing host");
    if (!valid_reg_name(host)) return bad("bad host name");
  }
  for (char c : host) {
    url.host += lower(c);
  }

  if (port.empty()) {
    url.port = url.tls() ? 443 : 80;
  } else {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port");
    }
    url.port = static_cast<std::uint16_t>(value);
  }

  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("a query or fragment is not allowed in a base URL");
  }
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("bad character in path");
  }
  while (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  url.path = std::string(rest);
  return url;
}

std::string Url::origin() const {
  std::string out = scheme + "://";
  if (host.find(':') != std::string::npos) {
    out += '[' + host + ']';
  } else {
    out += host;
  }
  const std::uint16_t default_port = tls() ? 443 : 80;
  if (port != default_port) out += ':' + std::to_string(port);
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

bool url_decode(std::string_view s, std::string* out, bool plus_is_space) {
  std::string result;
  result.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      result += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      result += ' ';
    } else {
      result += c;
    }
  }
  *out = std::move(result);
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    std::string_view raw_name = part.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    std::string name;
    std::string value;
    // A bad escape is kept as written rather than dropping the pair.
    if (!url_decode(raw_name, &name, true)) name = std::string(raw_name);
    if (!url_decode(raw_value, &value, true)) value = std::string(raw_value);
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

}  // namespace concord::http

namespace concord::http {

std::string basic_authorization(std::string_view user, std::string_view secret) {
  std::string plain;
  plain.reserve(user.size() + 1 + secret.size());
  plain.append(user).append(1, ':').append(secret);
  std::string out(4 * ((plain.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  out.resize(static_cast<std::size_t>(n));
  return "Basic " + out;
}

}  // namespace concord::http
