// What the Mailchimp emulator's tests share: an account over the fixture with a fixed clock
// (Box), driven through its handler, a fake web server for webhook deliveries, and small request
// and answer helpers.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>
#include <map>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "concord/email.h"
#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/mailchimp/state.h"
#include "sandbox/persister.h"
#include "sandbox_fixture.h"

namespace concord::testing::mailchimp_site {

namespace http = concord::http;
namespace sb = concord::sandbox;
using concord::Micros;
using concord::Result;
using concord::Status;
using concord::testing::fixture;
using concord::testing::TempDir;
using json = nlohmann::json;

inline constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";
inline constexpr const char* kListId = "b3d1c0ffee";
inline const std::string kMembers = std::string("/3.0/lists/") + kListId + "/members";

inline Micros T(const char* iso) {
  auto t = concord::parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

inline std::string b64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(val >> bits) & 0x3f]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kAlphabet[((val << 8) >> (bits + 8)) & 0x3f]);
  while (out.size() % 4)
    out.push_back('=');
  return out;
}

inline std::string basic(std::string_view key, std::string_view user = "anystring") {
  return "Basic " + b64(std::string(user) + ":" + std::string(key));
}

inline std::string hash(std::string_view email) {
  return concord::subscriber_hash(concord::normalise_email(email));
}
inline std::string member_path(std::string_view email) {
  return kMembers + "/" + hash(email);
}

// A stand-in for the web: records the webhook validation GETs and deliveries.
struct FakeWeb {
  std::mutex mu;
  std::vector<std::pair<std::string, http::Request>> calls;
  std::atomic<int> validation_status{200};
  std::atomic<int> delivery_status{200};

  sb::UrlTransport transport() {
    return [this](const std::string& url, const http::Request& r) -> Result<http::Response> {
      std::lock_guard<std::mutex> lock(mu);
      calls.emplace_back(url, r);
      if (url.find("unreachable") != std::string::npos) return Status::unavailable("refused");
      http::Response resp;
      resp.status = r.method == "GET" ? validation_status.load() : delivery_status.load();
      return resp;
    };
  }
  std::vector<std::pair<std::string, http::Request>> posts() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::pair<std::string, http::Request>> out;
    for (const auto& c : calls) {
      if (c.second.method == "POST") out.push_back(c);
    }
    return out;
  }
};

// Form body to a map (the last value of a repeated key wins).
inline std::map<std::string, std::string> form(const std::string& body) {
  std::map<std::string, std::string> m;
  for (auto& [k, v] : http::parse_query(body))
    m[k] = v;
  return m;
}

struct Box {
  sb::SandboxClock clock;
  std::shared_ptr<FakeWeb> web = std::make_shared<FakeWeb>();
  std::unique_ptr<sb::MailchimpSandbox> mc;

  explicit Box(const std::string& seed = fixture()) {
    clock.fix(T("2026-03-01T00:00:00+00:00"));
    auto loaded = sb::parse_seed(seed, clock.now());
    INFO(loaded.status().to_string());
    REQUIRE(loaded.is_ok());
    sb::MailchimpOptions o;
    o.transport = web->transport();
    o.delivery_retry_delay = std::chrono::milliseconds(1);
    mc = std::make_unique<sb::MailchimpSandbox>(std::move(loaded->account), &clock, o);
  }

  http::Response call(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& auth = basic(kKey),
                      std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    if (!auth.empty()) r.headers.push_back({"Authorization", auth});
    r.headers.push_back({"Host", "127.0.0.1:8443"});
    for (auto& h : headers)
      r.headers.push_back(h);
    r.body = body;
    http::Peer peer{"127.0.0.1", true};
    http::Reply reply = mc->handle(r, peer);
    return reply.response;
  }
  json get(const std::string& target) {
    auto r = call("GET", target);
    INFO(target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  void advance(int seconds) { clock.fix(clock.now() + seconds * concord::kMicrosPerSecond); }
};

inline json body_of(const http::Response& r) {
  return json::parse(r.body, nullptr, false);
}

inline void check_problem(const http::Response& r, int status, const std::string& title,
                          const std::string& detail, bool with_type = true) {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(r.header("Content-Type") == "application/problem+json; charset=utf-8");
  json b = body_of(r);
  REQUIRE(b.is_object());
  CHECK(b["title"] == title);
  CHECK(b["status"] == status);
  CHECK(b["detail"] == detail);
  CHECK(b["instance"] == std::string(r.header("X-Request-Id")));
  CHECK(b.contains("type") == with_type);
  if (with_type) CHECK(b["type"] == "https://mailchimp.com/developer/marketing/docs/errors/");
}

}  // namespace concord::testing::mailchimp_site
