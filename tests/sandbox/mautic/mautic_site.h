// What the Mautic emulator's tests share: the real concord-sandbox binary started with a
// "mautic" seed (five contacts, two segments, a fixed clock), a client for its Mautic port over
// TLS, and a webhook receiver over TLS with its own certificate authority, which the sandbox is
// told to trust (--webhook-ca-file).
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "sandbox_process.h"

namespace concord::testing::mautic_site {

namespace http = concord::http;
// Bodies keep Mautic's key order.
using json = nlohmann::ordered_json;

inline constexpr const char* kUser = "api-user";
inline constexpr const char* kPassword = "s3cret";
inline constexpr const char* kClientId = "1_concord";
inline constexpr const char* kClientSecret = "client-secret";
// The sandbox clock of every test: a month after the seed's last change.
inline constexpr const char* kNow = "2024-06-01T00:00:00+00:00";

inline std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

inline std::string basic(std::string_view user, std::string_view password) {
  return "Basic " + base64(std::string(user) + ":" + std::string(password));
}

// base64(HMAC-SHA256(secret, body)), computed here independently of the sandbox.
inline std::string hmac_base64(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &n);
  return base64(std::string_view(reinterpret_cast<const char*>(mac), n));
}

// Contacts 1 (Alice), 2 (Bob, unsubscribed), 3 (Carol, unpublished, a custom field), 5 (a '/'
// and an 'ä'), 7 (an anonymous visitor). Segment 1 "newsletter" holds 1, 2 and 5; segment 2
// "customers" holds 3.
inline json base_seed() {
  return json::parse(R"({
    "username": "api-user", "password": "s3cret",
    "oauth2_clients": [{"client_id": "1_concord", "client_secret": "client-secret"}],
    "settings": {"site_url": "https://mautic.test", "version": "5.1.1"},
    "custom_fields": [{"alias": "plan", "label": "Plan", "group": "professional"}],
    "contacts": [
      {"id": 1, "dateAdded": "2024-05-01T10:00:00+00:00", "dateModified": "2024-05-01T10:00:00+00:00",
       "lastActive": "2024-05-03T00:00:00+00:00", "points": 10, "tags": ["vip"],
       "fields": {"all": {"email": "alice@example.org", "firstname": "Alice", "lastname": "Liddell"}}},
      {"id": 2, "dateAdded": "2024-05-02T10:00:00+00:00", "dateModified": "2024-05-04T09:00:00+00:00",
       "lastActive": "2024-05-04T00:00:00+00:00",
       "fields": {"all": {"email": "bob@example.org", "firstname": "Bob"}},
       "doNotContact": [{"id": 1, "dateAdded": "2024-05-04T09:00:00+00:00", "reason": 1,
                         "comments": "User unsubscribed.", "channel": "email", "channelId": null}]},
      {"id": 3, "isPublished": false, "dateAdded": "2024-05-03T10:00:00+00:00",
       "dateModified": "2024-05-05T12:30:00+00:00",
       "fields": {"all": {"email": "carol@example.com", "firstname": "Carol", "plan": "pro"}}},
      {"id": 5, "dateAdded": "2024-05-04T00:00:00+00:00", "dateModified": "2024-05-06T00:00:00+00:00",
       "fields": {"all": {"email": "dave/slash@example.org", "firstname": "D\u00e4vid"}}},
      {"id": 7, "dateAdded": "2024-05-05T00:00:00+00:00", "dateModified": "2024-05-05T00:00:00+00:00"}
    ],
    "segments": [
      {"id": 1, "name": "Newsletter", "alias": "newsletter", "members": [1, 2, 5]},
      {"id": 2, "name": "Customers", "alias": "customers", "members": [3]}
    ]
  })");
}

struct Answer {
  int status = 0;
  std::vector<http::Header> headers;
  std::string body;

  std::string header(std::string_view name) const {
    return std::string(http::find_header(headers, name));
  }
  json j() const {
    json v = json::parse(body, nullptr, false);
    INFO(body);
    REQUIRE_FALSE(v.is_discarded());
    return v;
  }
};

// The ids of a contacts answer, in its order.
inline std::vector<int> ids_of(const json& answer) {
  std::vector<int> ids;
  for (auto it = answer["contacts"].begin(); it != answer["contacts"].end(); ++it)
    ids.push_back(std::stoi(it.key()));
  return ids;
}

// The sandbox, started with `mautic` as the seed's "mautic" object and the clock at kNow.
class Mautic {
 public:
  explicit Mautic(const json& mautic = base_seed(), std::vector<std::string> extra = {})
      : process_(write_seed(mautic), std::move(extra)) {
    std::filesystem::remove(seed_path_);
    url = process_.ready.at("mautic_url").get<std::string>();
    auto parsed = http::Url::parse(url);
    REQUIRE(parsed.is_ok());
    http::ClientOptions o;
    o.ca_file = process_.ca_file();
    o.retry.max_attempts = 1;
    auto c = http::Client::create(*parsed, o);
    REQUIRE(c.is_ok());
    client_ = std::move(c).value();
  }

  // An API call with `auth` as its Authorization (Basic by default).
  Answer api(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& content_type = "application/x-www-form-urlencoded") {
    std::vector<http::Header> headers;
    if (!auth.empty()) headers.push_back({"Authorization", auth});
    if (!body.empty()) headers.push_back({"Content-Type", content_type});
    return send(method, target, body, std::move(headers));
  }
  Answer get(const std::string& target) { return api("GET", target); }

  // An admin route, with a JSON body.
  Answer admin(const std::string& method, const std::string& path, const json& body = nullptr) {
    std::vector<http::Header> headers;
    std::string text = body.is_null() ? "" : body.dump();
    if (!text.empty()) headers.push_back({"Content-Type", "application/json"});
    return send(method, path, text, std::move(headers));
  }
  // The delivery log, once the immediate deliveries were sent.
  json deliveries() {
    Answer a = admin("GET", "/_sandbox/mautic/deliveries?wait=true");
    REQUIRE(a.status == 200);
    return a.j();
  }
  void settings(const json& s) {
    REQUIRE(admin("POST", "/_sandbox/mautic/settings", s).status == 200);
  }
  void advance(int seconds) {
    REQUIRE(admin("POST", "/_sandbox/clock", {{"advance_seconds", seconds}}).status == 200);
  }

  std::string url;
  std::string auth = basic(kUser, kPassword);

 private:
  Answer send(const std::string& method, const std::string& target, const std::string& body,
              std::vector<http::Header> headers) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    auto resp = client_->send(r);
    INFO(method << " " << target);
    REQUIRE(resp.is_ok());
    return {resp->status, resp->headers, resp->body};
  }

  std::string write_seed(const json& mautic) {
    static int n = 0;
    seed_path_ = (std::filesystem::temp_directory_path() /
                  ("mautic-seed-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
                     .string();
    json seed = json::object();
    seed["mautic"] = mautic;
    seed["clock"] = kNow;
    std::ofstream(seed_path_) << seed.dump();
    return seed_path_;
  }

  std::string seed_path_;
  SandboxProcess process_;
  std::unique_ptr<http::Client> client_;
};

// A webhook receiver over TLS, with a certificate authority of its own: what it was sent, and
// the statuses it answers with (200 when none is scripted).
class Receiver {
 public:
  struct Received {
    std::vector<http::Header> headers;
    std::string body;
    std::string header(std::string_view name) const {
      return std::string(http::find_header(headers, name));
    }
    json j() const { return json::parse(body); }
  };

  Receiver() {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("mautic-receiver-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    REQUIRE(http::write_test_certificates(dir_.string()).is_ok());
    http::ServerOptions so;
    so.cert_file = (dir_ / "server.pem").string();
    so.key_file = (dir_ / "server.key").string();
    auto s = http::Server::start(so, [this](const http::Request& r, const http::Peer&) {
      if (delay_ms.load() > 0) ::usleep(static_cast<useconds_t>(delay_ms.load()) * 1000);
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back({r.headers, r.body});
      int status = 200;
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      }
      http::Reply reply;
      reply.response.status = status;
      return reply;
    });
    REQUIRE(s.is_ok());
    server_ = std::move(s).value();
  }
  ~Receiver() {
    server_->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The sandbox's flag to trust this receiver.
  std::vector<std::string> trust() const {
    return {"--webhook-ca-file", (dir_ / "ca.pem").string()};
  }
  std::string url(const std::string& path = "/hook") const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  // The next answers' statuses.
  void answer(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.assign(statuses.begin(), statuses.end());
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    received_.clear();
  }

  std::atomic<int> delay_ms{0};

 private:
  std::filesystem::path dir_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::deque<int> script_;
  std::unique_ptr<http::Server> server_;
};

// The event keys of every body received, in order (a queued body's keys in its order).
inline std::vector<std::string> event_keys(const std::vector<Receiver::Received>& received) {
  std::vector<std::string> keys;
  for (const auto& r : received) {
    json b = r.j();
    for (auto it = b.begin(); it != b.end(); ++it)
      keys.push_back(it.key());
  }
  return keys;
}

}  // namespace concord::testing::mautic_site
