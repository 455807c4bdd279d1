// The URL helpers of concord/http.h: parsing URLs, percent-encoding, query strings, header
// lookup and Basic credentials. Pure functions; no sockets.
#include <catch2/catch.hpp>
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

TEST_CASE("find_header ignores case", "[url]") {
  const std::vector<http::Header> headers = {{"Content-Type", "text/plain"}, {"X-A", "1"}};
  CHECK(http::find_header(headers, "content-type") == "text/plain");
  CHECK(http::find_header(headers, "X-a") == "1");
  CHECK(http::find_header(headers, "X-B").empty());
}
