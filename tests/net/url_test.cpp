// The URL helpers of concord/http.h: parsing URLs, percent-encoding, query strings, header
// lookup and Basic credentials. Pure functions; no sockets.
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "concord/http.h"

namespace http = concord::http;
using concord::Status;

// ---- URLs and encodings ------------------------------------------------------------------------

TEST_CASE("Url::parse accepts absolute http(s) URLs", "[url]") {
  struct Row {
    const char* text;
    const char* scheme;
    const char* host;
    std::uint16_t port;
    const char* path;
    const char* origin;
  };
  const Row rows[] = {
      {"https://us1.api.mailchimp.com/3.0", "https", "us1.api.mailchimp.com", 443, "/3.0",
       "https://us1.api.mailchimp.com"},
      {"http://example.org", "http", "example.org", 80, "", "http://example.org"},
      {"https://Example.ORG:8443/a/b/", "https", "example.org", 8443, "/a/b",
       "https://example.org:8443"},
      {"HTTP://localhost:8080/", "http", "localhost", 8080, "", "http://localhost:8080"},
      {"http://127.0.0.1:80/x", "http", "127.0.0.1", 80, "/x", "http://127.0.0.1"},
      {"https://[::1]:9443/civicrm/ajax/api4", "https", "::1", 9443, "/civicrm/ajax/api4",
       "https://[::1]:9443"},
      {"https://[2001:db8::1]", "https", "2001:db8::1", 443, "", "https://[2001:db8::1]"},
      {"https://crm.example.org:443", "https", "crm.example.org", 443, "",
       "https://crm.example.org"},
      // IPv6 literals are kept as written (not shortened), lower-cased.
      {"https://[2001:DB8:0::A]:8443/x", "https", "2001:db8:0::a", 8443, "/x",
       "https://[2001:db8:0::a]:8443"},
      {"http://[::ffff:192.0.2.1]/", "http", "::ffff:192.0.2.1", 80, "",
       "http://[::ffff:192.0.2.1]"},
      {"https://host:0080", "https", "host", 80, "", "https://host:80"},
      {"https://host/a%20b//", "https", "host", 443, "/a%20b", "https://host"},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    auto url = http::Url::parse(row.text);
    INFO(url.status().to_string());
    REQUIRE(url.is_ok());
    CHECK(url->scheme == row.scheme);
    CHECK(url->host == row.host);
    CHECK(url->port == row.port);
    CHECK(url->path == row.path);
    CHECK(url->origin() == row.origin);
    CHECK(url->tls() == (std::string(row.scheme) == "https"));
  }
}

TEST_CASE("Url::parse rejects what it cannot use", "[url]") {
  const char* bad[] = {
      "",
      "example.org",
      "ftp://example.org/",
      "https://",
      "https:///path",
      "https://:443",
      "https://host:0",
      "https://host:65536",
      "https://host:12ab",
      "https://host:",
      "https://[::1",
      "https://[xyz::1]/",
      "https://[::1]x/",
      "https://::1/",
      "https://user:secret@host/",
      "https://host/a?b=1",
      "https://host/#top",
      "https://ho st/",
      "https://host/a b",
  };
  for (const char* text : bad) {
    INFO(text);
    auto url = http::Url::parse(text);
    REQUIRE_FALSE(url.is_ok());
    CHECK(url.status().code() == Status::Code::kInvalid);
  }
  // The message says what is wrong, and quotes neither credentials nor a query.
  CHECK(http::Url::parse("https://host:99999").status().message() ==
        "bad URL 'https://host:99999': bad port");
  CHECK(http::Url::parse("https://user:secret@host/").status().message().find("secret") ==
        std::string::npos);
  CHECK(http::Url::parse("https://host/?api_key=secret").status().message().find("secret") ==
        std::string::npos);
}

// Several of these are URIs to RFC 3986 (or to Boost.URL 1.81), but no base URL for a client.
TEST_CASE("Url::parse says what is wrong with a URL it refuses", "[url]") {
  struct Row {
    const char* text;
    const char* message;
  };
  const Row rows[] = {
      // Boost.URL 1.81 reads port 12 and a path "ab"; RFC 3986 wants a '/' after the authority.
      {"https://host:12ab", "bad URL 'https://host:12ab': bad port"},
      {"https://[::1]x/", "bad URL 'https://[::1]x/': unexpected text after ']'"},
      // Ports past 65535 are refused, not wrapped around (Boost.URL's port_number() reads 65537 as
      // port 1).
      {"https://host:65537", "bad URL 'https://host:65537': bad port"},
      {"https://host:4294967297", "bad URL 'https://host:4294967297': bad port"},
      // Host names are DNS names: no sub-delims, '~' or escapes, though RFC 3986 takes them.
      {"https://a!b.example/", "bad URL 'https://a!b.example/': bad host name"},
      {"https://ho%73t/", "bad URL 'https://ho%73t/': bad host name"},
      {"https://h~x/", "bad URL 'https://h~x/': bad host name"},
      {"https://[v1.fe]/", "bad URL 'https://[v1.fe]/': bad IPv6 address"},
      {"https://[fe80::1%25eth0]/", "bad URL 'https://[fe80::1%25eth0]/': bad host or port"},
      {"https://ho st/", "bad URL 'https://ho st/': bad host or port"},
      {"mailto:someone@example.org", "bad URL: expected scheme://host"},
      {"localhost:8080", "bad URL 'localhost:8080': expected scheme://host"},
      {"ftp://example.org/", "bad URL 'ftp://example.org/': the scheme must be http or https"},
      {"https://", "bad URL 'https://': missing host"},
      {"https://host:", "bad URL 'https://host:': empty port"},
      // A path holds only what RFC 3986 allows (the old parser took any byte above a space).
      {"https://host/\xc3\xa9", "bad URL 'https://host/\xc3\xa9': bad character in path"},
      {"https://host/a%zz", "bad URL 'https://host/a%zz': bad character in path"},
      {"https://host/{id}", "bad URL 'https://host/{id}': bad character in path"},
      {"https://host/a b?k=secret",
       "bad URL 'https://host/a b': a query or fragment is not allowed in a base URL"},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    auto url = http::Url::parse(row.text);
    REQUIRE_FALSE(url.is_ok());
    CHECK(url.status().code() == Status::Code::kInvalid);
    CHECK(url.status().message() == row.message);
  }
  // Credentials are not quoted, also when the URL does not parse at all.
  for (const char* text : {"https://user:p@ss@host/", "https://user:pass@ho st/"}) {
    INFO(text);
    const std::string message = http::Url::parse(text).status().message();
    CHECK(message == std::string("bad URL: credentials in the URL are not supported"));
  }
}

TEST_CASE("url_encode and url_decode", "[url]") {
  CHECK(http::url_encode("") == "");
  CHECK(http::url_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(http::url_encode("a b&c=d/e+f") == "a%20b%26c%3Dd%2Fe%2Bf");
  CHECK(http::url_encode("\xc3\xa9") == "%C3%A9");

  std::string out;
  CHECK(http::url_decode("a%20b%2Bc+d", &out));
  CHECK(out == "a b+c+d");
  CHECK(http::url_decode("a%20b%2bc+d", &out, /*plus_is_space=*/true));
  CHECK(out == "a b+c d");
  CHECK(http::url_decode("%C3%A9", &out));
  CHECK(out == "\xc3\xa9");
  for (const char* bad : {"%", "%4", "a%zz", "%g0", "100%"}) {
    INFO(bad);
    out = "unchanged";
    CHECK_FALSE(http::url_decode(bad, &out));
    CHECK(out == "unchanged");
  }
  const std::string all = "x y/z?&=%\xff\x01";
  CHECK(http::url_decode(http::url_encode(all), &out));
  CHECK(out == all);
}

TEST_CASE("basic_authorization encodes user:secret as RFC 7617 says", "[url]") {
  // RFC 7617's own example, and the padding of each length.
  CHECK(http::basic_authorization("Aladdin", "open sesame") ==
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  CHECK(http::basic_authorization("a", "") == "Basic YTo=");
  CHECK(http::basic_authorization("ab", "c") == "Basic YWI6Yw==");
  CHECK(http::basic_authorization("", "") == "Basic Og==");
  CHECK(http::basic_authorization("concord", "k3y-us6") == "Basic Y29uY29yZDprM3ktdXM2");
}

TEST_CASE("parse_query decodes pairs in order", "[url]") {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(http::parse_query("") == Pairs{});
  CHECK(http::parse_query("a=1&b=two+words&c=%41%2b&d&&e=") ==
        Pairs{{"a", "1"}, {"b", "two words"}, {"c", "A+"}, {"d", ""}, {"e", ""}});
  CHECK(http::parse_query("?x=1&x=2") == Pairs{{"x", "1"}, {"x", "2"}});
  CHECK(http::parse_query("k%20ey=v=w") == Pairs{{"k ey", "v=w"}});
  CHECK(http::parse_query("bad=%zz") == Pairs{{"bad", "%zz"}});  // kept as written
}

// Found by scripts/fuzz (url_query, webhook_form, amplitude_intake: a heap read past the input in
// strlen, inside Boost.URL's parse_query): a query that is a view of bytes with no NUL after them
// is read to its end, and no further.
TEST_CASE("parse_query reads a view with no NUL after it to its end only (fuzz: strlen overread)",
          "[url]") {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  const std::string text = "a=b&c=d";
  const auto bytes = std::make_unique<char[]>(text.size());  // exactly the query, no terminator
  std::memcpy(bytes.get(), text.data(), text.size());
  CHECK(http::parse_query(std::string_view(bytes.get(), text.size())) ==
        Pairs{{"a", "b"}, {"c", "d"}});
  // A view ending inside a longer string stops where the view does.
  const std::string longer = "x=1&y=2&z=3";
  CHECK(http::parse_query(std::string_view(longer).substr(0, 7)) == Pairs{{"x", "1"}, {"y", "2"}});
}

TEST_CASE("parse_query reads form bodies as clients write them", "[url]") {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  // A Mailchimp webhook: brackets percent-encoded, '+' for spaces.
  CHECK(http::parse_query("type=subscribe&data%5Bmerges%5D%5BEMAIL%5D=wilma%40example.org"
                          "&data%5Bmerges%5D%5BFNAME%5D=Wilma+Ann") ==
        Pairs{{"type", "subscribe"},
              {"data[merges][EMAIL]", "wilma@example.org"},
              {"data[merges][FNAME]", "Wilma Ann"}});
  // Empty values and keys without '='.
  CHECK(http::parse_query("a=&b") == Pairs{{"a", ""}, {"b", ""}});
  CHECK(http::parse_query("flag") == Pairs{{"flag", ""}});
  CHECK(http::parse_query("=v&&") == Pairs{{"", "v"}});
  CHECK(http::parse_query("a=1;b=2") == Pairs{{"a", "1;b=2"}});  // ';' separates nothing
  CHECK(http::parse_query("a=%2B+%20") == Pairs{{"a", "+  "}});
  // Percent-encoded UTF-8 decodes to its bytes.
  CHECK(http::parse_query("city=Z%C3%BCrich&name=Zo%C3%AB") ==
        Pairs{{"city", "Z\xc3\xbcrich"}, {"name", "Zo\xc3\xab"}});
  // Bytes RFC 3986 does not allow in a query (Boost.URL refuses the whole query for one of them)
  // are read as themselves, the rest of the query as usual.
  CHECK(http::parse_query("data[email]=a@b.org&q=two words+more&city=Z\xc3\xbcrich") ==
        Pairs{{"data[email]", "a@b.org"}, {"q", "two words more"}, {"city", "Z\xc3\xbcrich"}});
  CHECK(http::parse_query("e=[{\"k\":\"a|b\"}]&n=1") ==
        Pairs{{"e", "[{\"k\":\"a|b\"}]"}, {"n", "1"}});
  // A bad escape stays as written; the rest of its value is still decoded ('+' is a space), as
  // browsers do. (The hand-written parser kept the whole value as written.)
  CHECK(http::parse_query("q=100%+sure&r=%4&s=%%41") ==
        Pairs{{"q", "100% sure"}, {"r", "%4"}, {"s", "%A"}});
}

// A default-constructed string_view has no data at all; Boost.URL 1.81's parse_query reads a null
// pointer as a C string.
TEST_CASE("an empty view with no data parses as nothing", "[url]") {
  const std::string_view none;
  CHECK(http::parse_query(none).empty());
  CHECK_FALSE(http::Url::parse(none).is_ok());
  std::string out = "unchanged";
  CHECK(http::url_decode(none, &out));
  CHECK(out.empty());
  CHECK(http::url_encode(none).empty());
}

TEST_CASE("find_header ignores case", "[url]") {
  const std::vector<http::Header> headers = {{"Content-Type", "text/plain"}, {"X-A", "1"}};
  CHECK(http::find_header(headers, "content-type") == "text/plain");
  CHECK(http::find_header(headers, "X-a") == "1");
  CHECK(http::find_header(headers, "X-B").empty());
}
