// One request to a part of a running concord-sandbox, for the tests that drive the binary: TLS
// verified with the sandbox's CA, sent once (a test sees the first answer, never a retry's).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "concord/http.h"

namespace concord::testing {

// `base` is the part's URL from the ready line (its path is prepended to `target`); a body is sent
// with `content_type`. Fails the test when no answer comes.
inline http::Response sandbox_call(const std::string& base, const std::string& ca,
                                   const std::string& method, const std::string& target,
                                   const std::string& body = "",
                                   std::vector<http::Header> headers = {},
                                   const std::string& content_type = "application/json") {
  auto url = http::Url::parse(base);
  REQUIRE(url.is_ok());
  http::ClientOptions o;
  o.ca_file = ca;
  o.retry.max_attempts = 1;
  auto client = http::Client::create(*url, o);
  REQUIRE(client.is_ok());
  http::Request r;
  r.method = method;
  r.target = url->path + target;
  r.body = body;
  r.headers = std::move(headers);
  if (!body.empty()) r.headers.push_back({"Content-Type", content_type});
  auto resp = (*client)->send(r);
  REQUIRE(resp.is_ok());
  return std::move(*resp);
}

}  // namespace concord::testing
