// URLs, percent-encoding, query strings and header look-up: the parts of src/net that need no
// sockets (and no Beast). Boost.URL does the parsing and the percent-coding; what is here besides
// is concord's policy (which URLs a client may be given) and leniency (which query strings it
// reads).
#include <charconv>
#include <string>
#include <string_view>

#include "concord/http.h"

#include <openssl/evp.h>
#include <boost/url/authority_view.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/hexdig_chars.hpp>
#include <boost/url/grammar/string_token.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>
#include "net/ascii.h"

namespace concord::http {
namespace {

namespace urls = boost::urls;
using ascii::iequals;
using ascii::lower;

// The characters RFC 3986 allows unescaped in a query, as Boost.URL's parse_query reads it.
constexpr auto kQueryChars = urls::pchars + '/' + '?';

// Boost.URL takes any RFC 3986 reg-name as a host (sub-delims such as '!' or ',' and
// percent-escapes included). The host is also looked up in DNS, sent as the TLS server name and
// as the Host header, so only what a DNS name holds is taken: letters, digits, '-', '.', '_'.
constexpr auto kHostNameChars = urls::unreserved_chars - '~';

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!kHostNameChars(c)) return false;
  }
  return true;
}

// Boost.URL says only that a text is not a URI, not where. The parts it would have read are
// checked one by one so that the message names the part that is wrong.
std::string_view why_not_a_uri(std::string_view text) {
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return "expected scheme://host";
  const std::string_view scheme = text.substr(0, sep);
  if (!iequals(scheme, "https") && !iequals(scheme, "http")) {
    return "the scheme must be http or https";
  }
  const std::string_view after = text.substr(sep + 3);
  const std::string_view authority = after.substr(0, after.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "credentials in the URL are not supported";
  }
  if (!urls::parse_authority(authority)) return "bad host or port";
  if (after.find_first_of("?#") != std::string_view::npos) {
    return "a query or fragment is not allowed in a base URL";
  }
  return "bad character in path";
}

// Boost.URL reads a query only as RFC 3986 writes it, and refuses the whole of it otherwise.
// Clients also send bytes it refuses: brackets and spaces written by hand, JSON in a form field,
// raw UTF-8, a '%' not followed by two hex digits. Those bytes are percent-encoded here, so that
// each reads back as itself (a bad escape stays as written) and the rest of the query is decoded
// as usual; well-formed escapes are kept.
std::string escape_refused(std::string_view query) {
  std::string out;
  out.reserve(query.size() + query.size() / 4);
  std::size_t plain = 0;  // where the text not yet copied starts
  for (std::size_t i = 0; i + 2 < query.size(); ++i) {
    if (query[i] == '%' && urls::grammar::hexdig_chars(query[i + 1]) &&
        urls::grammar::hexdig_chars(query[i + 2])) {
      urls::encode(query.substr(plain, i - plain), kQueryChars, {},
                   urls::string_token::append_to(out));
      out.append(query.substr(i, 3));
      i += 2;
      plain = i + 1;
    }
  }
  urls::encode(query.substr(plain), kQueryChars, {}, urls::string_token::append_to(out));
  return out;
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

  // parse_uri rather than parse_absolute_uri: the latter refuses a fragment as bad syntax, where
  // the message should say that a base URL takes none.
  const urls::result<urls::url_view> parsed = urls::parse_uri(text);
  if (!parsed) return bad(why_not_a_uri(text));
  const urls::url_view& u = *parsed;
  if (!u.has_authority()) return bad("expected scheme://host");
  Url url;
  switch (u.scheme_id()) {
    case urls::scheme::https:
      url.scheme = "https";
      break;
    case urls::scheme::http:
      url.scheme = "http";
      break;
    default:
      return bad("the scheme must be http or https");
  }
  if (u.has_userinfo()) return bad("credentials in the URL are not supported");
  // After an authority RFC 3986 allows only a path that is empty or starts with '/'. Boost.URL
  // 1.81 also reads one that does not: "https://host:12ab" as port 12 and path "ab".
  std::string_view path = u.encoded_path();
  if (!path.empty() && path.front() != '/') {
    return bad(u.has_port() ? "bad port" : "unexpected text after ']'");
  }

  const std::string_view host = u.encoded_host_address();  // an IPv6 literal without brackets
  switch (u.host_type()) {
    case urls::host_type::ipv6:
      break;
    case urls::host_type::ipv4:
    case urls::host_type::name:
      if (host.empty()) return bad("missing host");
      if (!valid_host_name(host)) return bad("bad host name");
      break;
    default:
      return bad("bad IPv6 address");  // an IPvFuture literal, "[v1.x]"
  }
  for (char c : host) {
    url.host += lower(c);
  }

  if (!u.has_port()) {
    url.port = url.tls() ? 443 : 80;
  } else {
    // Not url_view::port_number(): it wraps a number past 65535 around instead of refusing it.
    const std::string_view port = u.port();
    if (port.empty()) return bad("empty port");
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port");
    }
    url.port = static_cast<std::uint16_t>(value);
  }

  if (u.has_query() || u.has_fragment()) {
    return bad("a query or fragment is not allowed in a base URL");
  }
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  url.path = std::string(path);
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
  return urls::encode(s, urls::unreserved_chars);
}

bool url_decode(std::string_view s, std::string* out, bool plus_is_space) {
  const urls::result<urls::pct_string_view> checked = urls::make_pct_string_view(s);
  if (!checked) return false;
  *out = checked->decode(urls::encoding_opts(/*space_as_plus=*/plus_is_space));
  return true;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  if (query.empty()) return {};
  // Boost.URL 1.81's parse_query reads its argument's data as a C string (strlen: a null pointer,
  // or past the end of a view that is not followed by a NUL, as the fuzzer's inputs are not): it
  // is given a string of its own, which the params view then reads.
  std::string text(query);
  urls::result<urls::params_encoded_view> params = urls::parse_query(text);
  if (!params) {
    text = escape_refused(query);
    params = urls::parse_query(text);
  }
  std::vector<std::pair<std::string, std::string>> out;
  // escape_refused() leaves nothing parse_query refuses; were it otherwise, the query reads as
  // empty rather than stopping anything.
  if (!params) return out;

  // '+' is a space in application/x-www-form-urlencoded, which is how form bodies and the query
  // strings of browsers and SDKs are written. RFC 3986 gives '+' no such meaning, so Boost.URL
  // decodes it as a space only when asked to.
  const urls::encoding_opts form(/*space_as_plus=*/true);
  out.reserve(params->size());
  for (const urls::param_pct_view& p : *params) {
    if (p.key.empty() && !p.has_value) continue;  // nothing between two '&'
    out.emplace_back(p.key.decode(form), p.value.decode(form));
  }
  return out;
}

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
