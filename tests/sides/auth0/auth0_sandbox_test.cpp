// concord's Auth0 client against the real concord-sandbox binary (its Auth0 part), over TLS.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "concord/auth0_client.h"
#include "sandbox_process.h"

using namespace concord;
using concord::testing::SandboxProcess;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kSecret = "s3cr3t-Sandbox-Client-Secret";

std::string conn_id(char c) {
  return "con_" + std::string(15, c) + "1";
}

json users_of(const std::string& conn, int n, int from = 0) {
  json out = json::array();
  for (int i = from; i < from + n; ++i) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%08x%016x", static_cast<unsigned>(conn.size()), i);
    char created[40];
    std::snprintf(created, sizeof created, "2024-01-%02dT10:%02d:%02d.000Z", 1 + i / 3600,
                  (i / 60) % 60, i % 60);
    out.push_back({{"user_id", std::string("auth0|") + hex},
                   {"email", conn + "." + std::to_string(i) + "@example.org"},
                   {"email_verified", i % 3 != 0},
                   {"given_name", "Given" + std::to_string(i)},
                   {"created_at", created},
                   {"updated_at", created},
                   {"identities", json::array({{{"connection", conn},
                                                {"user_id", hex},
                                                {"provider", "auth0"},
                                                {"isSocial", false}}})},
                   {"user_metadata", {{"plan", i % 2 == 0 ? "gold" : "free"}}}});
  }
  return out;
}

json seed(int small = 250, int big = 0, json settings = json::object()) {
  json users = users_of("newsletter-db", small);
  if (big > 0) {
    for (json& u : users_of("big-db", big))
      users.push_back(std::move(u));
  }
  json connections = json::array(
      {{{"id", conn_id('N')}, {"name", "newsletter-db"}, {"strategy", "auth0"}},
       {{"id", conn_id('B')}, {"name", "big-db"}, {"strategy", "auth0"}},
       {{"id", conn_id('G')}, {"name", "google-oauth2"}, {"strategy", "google-oauth2"}}});
  return {{"auth0",
           {{"domain", "acme.eu.auth0.com"},
            {"clients", json::array({{{"client_id", "AbC123"},
                                      {"client_secret", kSecret},
                                      {"scopes", {"read:users", "read:connections"}}}})},
            {"connections", connections},
            {"users", users},
            {"settings", settings}}}};
}

struct Harness {
  std::filesystem::path seed_path;
  std::unique_ptr<SandboxProcess> sandbox;
  std::unique_ptr<http::Client> admin;
  std::string url;
  http::ClientOptions ho;

  explicit Harness(const json& s) {
    static int n = 0;
    seed_path =
        std::filesystem::temp_directory_path() /
        ("concord-auth0-seed-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".json");
    std::ofstream(seed_path) << s.dump();
    sandbox = std::make_unique<SandboxProcess>(seed_path.string());
    url = sandbox->ready.at("auth0_url");
    ho.ca_file = sandbox->ca_file();
    ho.retry.base_delay = milliseconds(1);
    ho.retry.max_delay = milliseconds(20);
    ho.retry.max_attempts = 4;
    admin = std::move(http::Client::create(http::Url::parse(url).value(), ho).value());
  }
  ~Harness() { std::filesystem::remove(seed_path); }

  json admin_call(const std::string& method, const std::string& target, const json& body = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    if (!body.is_null()) {
      r.body = body.dump();
      r.headers.push_back({"Content-Type", "application/json"});
    }
    auto resp = admin->send(r);
    REQUIRE(resp.is_ok());
    INFO(target << ": " << resp->body);
    REQUIRE(resp->status < 300);
    return resp->body.empty() ? json() : json::parse(resp->body);
  }
  // The Auth0 part's logged requests whose path starts with `prefix`.
  json requests(const std::string& prefix) {
    return admin_call(
        "GET", "/_sandbox/requests?part=auth0&path_prefix=" + http::url_encode(prefix))["requests"];
  }
  std::size_t count(const std::string& prefix) { return requests(prefix).size(); }

  Auth0Options options(std::string secret = kSecret) {
    Auth0Options o;
    o.domain = "acme.eu.auth0.com";
    o.base_url = url;
    o.client_id = "AbC123";
    o.client_secret = std::move(secret);
    o.http = ho;
    o.export_poll_first = milliseconds(20);
    o.export_poll_max = milliseconds(100);
    return o;
  }
  std::unique_ptr<Auth0Client> client(Auth0Options o) {
    auto c = Auth0Client::create(std::move(o));
    REQUIRE(c.is_ok());
    return std::move(c).value();
  }
  std::unique_ptr<Auth0Client> client() { return client(options()); }
};

struct Collect final : SourceSink {
  std::vector<SourcePerson> people;
  std::vector<RejectedRow> rejects;
  std::function<void(std::size_t pages)> after_page;
  std::size_t pages = 0;
  Status records(std::vector<SourcePerson>& page) override {
    for (auto& p : page)
      people.push_back(std::move(p));
    if (after_page) after_page(++pages);
    return Status::ok();
  }
  void reject(RejectedRow row) override { rejects.push_back(std::move(row)); }
  const SourcePerson* find(const std::string& id) const {
    for (const SourcePerson& p : people)
      if (p.id == id) return &p;
    return nullptr;
  }
  std::size_t distinct() const {
    std::set<std::string> ids;
    for (const SourcePerson& p : people)
      ids.insert(p.id);
    return ids.size();
  }
};

// No secret (the client secret, a JWT) in a message.
void no_secret_in(const std::string& msg) {
  INFO(msg);
  CHECK(msg.find(kSecret) == std::string::npos);
  CHECK(msg.find("eyJ") == std::string::npos);
  CHECK(msg.find("Signature=") == std::string::npos);
}

}  // namespace

TEST_CASE("sandbox: a 250-user connection is read in pages with one token, reused") {
  Harness h(seed(250));
  auto client = h.client();
  auto reader = client->reader("newsletter-db", true, {"given_name", "user_metadata.plan"});
  REQUIRE(reader->resolve());
  Collect sink;
  auto r = reader->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 250);
  CHECK(sink.distinct() == 250);
  CHECK(sink.rejects.empty());
  CHECK(r->pages == 3);
  CHECK(h.count("/api/v2/users") == 3);
  CHECK(h.count("/oauth/token") == 1);
  CHECK_FALSE(client->last_read().export_job);
  // The server's time (the sandbox's Date), close to now.
  CHECK(std::llabs(r->watermark - system_clock().now()) < 60 * kMicrosPerSecond);
  const SourcePerson* p = sink.find(users_of("newsletter-db", 1, 4)[0]["user_id"]);
  REQUIRE(p != nullptr);
  CHECK(p->email == "newsletter-db.4@example.org");
  CHECK(p->email_verified);
  CHECK(p->updated_at == parse_iso8601("2024-01-01T10:00:04.000Z").value());
  CHECK(p->fields == std::vector<std::pair<std::string, std::string>>{
                         {"given_name", "Given4"}, {"user_metadata.plan", "gold"}});
  const SourcePerson* unverified = sink.find(users_of("newsletter-db", 1, 3)[0]["user_id"]);
  REQUIRE(unverified != nullptr);
  CHECK_FALSE(unverified->email_verified);  // emitted: the engine decides

  // A second read, and a second reader, reuse the token.
  Collect again;
  REQUIRE(client->reader("newsletter-db", false, {})->read_all(again).is_ok());
  CHECK(again.people.size() == 250);
  CHECK(h.count("/oauth/token") == 1);
  CHECK(client->requests() == h.count("/"));
  // The log holds no secret in any URL.
  for (const json& e : h.requests("/"))
    no_secret_in(e["path"].get<std::string>());
}

TEST_CASE("sandbox: a token expired mid-run gets one new token, and the read continues") {
  Harness h(seed(250));
  auto client = h.client();
  auto reader = client->reader("newsletter-db", false, {});
  Collect sink;
  sink.after_page = [&](std::size_t page) {
    if (page == 1) CHECK(h.admin_call("POST", "/_sandbox/auth0/tokens/expire")["expired"] == 1);
  };
  auto r = reader->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 250);
  CHECK(h.count("/oauth/token") == 2);
  json users = h.requests("/api/v2/users");
  REQUIRE(users.size() == 4);
  CHECK(users[1]["status"] == 401);
  CHECK(users[2]["status"] == 200);
  CHECK(client->last_read().tokens == 2);  // the first one, and the one after the expiry
}

TEST_CASE("sandbox: a connection is found by name; an unknown one names those there are") {
  Harness h(seed(3));
  auto client = h.client();
  CHECK(client->reader("big-db", false, {})->resolve());
  Status s = client->reader("newsletter", false, {})->resolve();
  CHECK(s.code() == Status::Code::kNotFound);
  CHECK(s.message().find("\"newsletter\"") != std::string::npos);
  CHECK(s.message().find("newsletter-db, big-db, google-oauth2") != std::string::npos);
  no_secret_in(s.message());
  // The name is a phrase: one with a quote is escaped, and simply matches nothing.
  Status q = client->reader("news\"letter", false, {})->resolve();
  CHECK(q.code() == Status::Code::kNotFound);
}

TEST_CASE("sandbox: a 1 500-user connection is read through the export job") {
  json settings = {
      {"export_jobs", {{"pending_polls", 2}, {"processing_polls", 2}, {"processing_seconds", 1}}}};
  Harness h(seed(5, 1500, settings));
  auto client = h.client();
  Collect sink;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client->reader("big-db", false, {"user_metadata.plan", "given_name"})->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(std::chrono::steady_clock::now() - t0 >= milliseconds(1000));
  CHECK(sink.people.size() == 1500);
  CHECK(sink.distinct() == 1500);
  CHECK(sink.rejects.empty());
  CHECK(client->last_read().export_job);
  CHECK(client->last_read().total == 1500);
  const SourcePerson* p = sink.find(users_of("big-db", 1, 1234)[0]["user_id"]);
  REQUIRE(p != nullptr);
  CHECK(p->email == "big-db.1234@example.org");
  CHECK(p->fields[0].second == "gold");  // even users are on gold
  CHECK(p->fields[1].second == "Given1234");
  CHECK(p->updated_at != kNoTime);
  // One job, polled until done, one download; the search stopped at its first page.
  CHECK(h.count("/api/v2/jobs/users-exports") == 1);
  json jobs = h.admin_call("GET", "/_sandbox/auth0/jobs")["jobs"];
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["polls"].get<int>() >= 4);
  CHECK(jobs[0]["job"]["connection_id"] == conn_id('B'));
  CHECK(h.count("/user-exports/") == 1);
  CHECK(h.count("/api/v2/users") == 1);
}

TEST_CASE("sandbox: an expired download URL gets a new job; one that always expires is an error") {
  {
    Harness h(seed(0, 1100, {{"export_jobs", {{"download_ttl_seconds", 1}}}}));
    // The first download is held 1.5 s before it is answered: its URL has expired by then.
    h.admin_call("POST", "/_sandbox/faults",
                 {{"part", "auth0"}, {"next", {"delay:1500"}}, {"path_prefix", "/user-exports/"}});
    auto client = h.client();
    Collect sink;
    auto r = client->reader("big-db", false, {})->read_all(sink);
    REQUIRE(r.is_ok());
    CHECK(sink.distinct() == 1100);
    json downloads = h.requests("/user-exports/");
    REQUIRE(downloads.size() == 2);
    CHECK(downloads[0]["status"] == 403);
    CHECK(downloads[1]["status"] == 200);
    CHECK(h.count("/api/v2/jobs/users-exports") == 2);
  }
  {
    Harness h(seed(0, 1100, {{"export_jobs", {{"download_ttl_seconds", 1}}}}));
    h.admin_call("POST", "/_sandbox/faults",
                 {{"part", "auth0"},
                  {"next", {"delay:1500", "delay:1500", "delay:1500", "delay:1500"}},
                  {"path_prefix", "/user-exports/"}});
    Auth0Options o = h.options();
    o.export_new_jobs = 1;
    auto client = h.client(o);
    Collect sink;
    auto r = client->reader("big-db", false, {})->read_all(sink);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().retryable());
    CHECK(r.status().message().find("expired") != std::string::npos);
    no_secret_in(r.status().message());
    CHECK(h.count("/api/v2/jobs/users-exports") == 2);
  }
}

TEST_CASE(
    "sandbox: read_since after two users changed gives only them; an id survives a new email") {
  Harness h(seed(250));
  auto client = h.client();
  auto reader = client->reader("newsletter-db", false, {"family_name"});
  Collect all;
  auto full = reader->read_all(all);
  REQUIRE(full.is_ok());
  const std::string a = users_of("newsletter-db", 1, 17)[0]["user_id"];
  const std::string b = users_of("newsletter-db", 1, 230)[0]["user_id"];
  h.admin_call("PATCH", "/_sandbox/auth0/users/" + http::url_encode(a),
               {{"email", "fred@quarry.com"}});
  h.admin_call("PATCH", "/_sandbox/auth0/users/" + http::url_encode(b),
               {{"family_name", "Flintstone"}});
  Collect changed;
  auto r = reader->read_since(full->watermark, changed);
  REQUIRE(r.is_ok());
  REQUIRE(changed.people.size() == 2);
  const SourcePerson* pa = changed.find(a);
  const SourcePerson* pb = changed.find(b);
  REQUIRE(pa != nullptr);
  REQUIRE(pb != nullptr);
  CHECK(pa->email == "fred@quarry.com");
  CHECK_FALSE(pa->email_verified);  // a new email is unverified
  CHECK(pb->fields[0].second == "Flintstone");
  CHECK(pb->updated_at >= full->watermark);
  CHECK(r->watermark >= full->watermark);
  CHECK_FALSE(client->last_read().full);
  json q = h.requests("/api/v2/users").back();
  CHECK(q["path"].get<std::string>().find("updated_at%3A%5B") != std::string::npos);
  // Nothing changed since: nothing comes back.
  Collect none;
  auto later = reader->read_since(r->watermark + 600 * kMicrosPerSecond, none);
  REQUIRE(later.is_ok());
  CHECK(none.people.empty());
}

TEST_CASE("sandbox: read_since past the search cap falls back to the export job") {
  Harness h(seed(0, 1200));
  auto client = h.client();
  Collect sink;
  auto r = client->reader("big-db", false, {})
               ->read_since(parse_iso8601("2020-01-01T00:00:00Z").value(), sink);
  REQUIRE(r.is_ok());
  CHECK(sink.distinct() == 1200);
  CHECK(client->last_read().export_job);
  CHECK(client->last_read().full);
}

TEST_CASE("sandbox: a 429 waits until the bucket's reset, and the read goes on") {
  json settings = {
      {"rate_limits",
       json::array(
           {{{"method", "GET"}, {"path", "/api/v2/users"}, {"limit", 1}, {"window_seconds", 2}}})}};
  Harness h(seed(250, 0, settings));
  auto client = h.client();
  Collect sink;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client->reader("newsletter-db", false, {})->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.distinct() == 250);
  const auto took = std::chrono::steady_clock::now() - t0;
  json users = h.requests("/api/v2/users");
  std::size_t limited = 0;
  for (const json& e : users)
    limited += e["status"] == 429 ? 1 : 0;
  CHECK(limited >= 2);
  CHECK(client->last_read().rate_limited == limited);
  // Each wait reached the reset (a token a 2 s window): not hammering meanwhile.
  CHECK(limited <= 4);
  CHECK(took >= milliseconds(2000));

  // A reset further away than the longest wait: a retryable error at once.
  Auth0Options o = h.options();
  o.max_rate_limit_wait = milliseconds(100);
  auto impatient = h.client(o);
  Collect none;
  auto e = impatient->reader("newsletter-db", false, {})->read_all(none);
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().retryable());
  CHECK(e.status().message().find("rate limit") != std::string::npos);
}

TEST_CASE("sandbox: truncated and failed answers are errors, never a crash") {
  Harness h(seed(250, 1100));
  Auth0Options o = h.options();
  o.http.retry.max_attempts = 2;
  auto client = h.client(o);
  auto reader = client->reader("newsletter-db", false, {});
  REQUIRE(reader->resolve());
  struct Case {
    const char* prefix;
    json next;
    const char* connection;
  };
  const std::vector<Case> cases = {
      {"/api/v2/users", {"truncate", "truncate"}, "newsletter-db"},
      {"/oauth/token", {"truncate", "truncate"}, "newsletter-db"},
      {"/api/v2/users", {"503", "500"}, "newsletter-db"},
      {"/user-exports/", {"truncate", "truncate"}, "big-db"},
      {"/api/v2/jobs/", {"truncate", "truncate"}, "big-db"},
  };
  for (const Case& c : cases) {
    INFO(c.prefix << " " << c.next.dump());
    h.admin_call("POST", "/_sandbox/faults",
                 {{"part", "auth0"}, {"next", c.next}, {"path_prefix", c.prefix}});
    h.admin_call("POST", "/_sandbox/auth0/tokens/expire");  // the token endpoint is asked too
    Collect sink;
    Result<SideRead> r = Status::internal("unset");
    CHECK_NOTHROW(r = client->reader(c.connection, false, {})->read_all(sink));
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().retryable());
    no_secret_in(r.status().message());
    h.admin_call("POST", "/_sandbox/faults", {{"part", "auth0"}});
  }
  // One truncated answer is retried by the transport, and the read succeeds.
  h.admin_call("POST", "/_sandbox/faults",
               {{"part", "auth0"}, {"next", {"truncate"}}, {"path_prefix", "/api/v2/users"}});
  Collect sink;
  REQUIRE(reader->read_all(sink).is_ok());
  CHECK(sink.distinct() == 250);
  // A failed export job.
  h.admin_call("POST", "/_sandbox/faults", {{"part", "auth0"}, {"fail_export_jobs", true}});
  Collect none;
  auto f = client->reader("big-db", false, {})->read_all(none);
  REQUIRE_FALSE(f.is_ok());
  CHECK(f.status().message().find("failed") != std::string::npos);
}

TEST_CASE("sandbox: wrong credentials and missing scopes say the client id, never the secret") {
  json s = seed(3);
  s["auth0"]["clients"].push_back(
      {{"client_id", "NoConn"}, {"client_secret", kSecret}, {"scopes", {"read:users"}}});
  s["auth0"]["clients"].push_back(
      {{"client_id", "NoGrant"}, {"client_secret", kSecret}, {"client_grant", false}});
  Harness h(s);
  {
    auto client = h.client(h.options(std::string(kSecret) + "-wrong"));
    Status st = client->reader("newsletter-db", false, {})->resolve();
    CHECK(st.code() == Status::Code::kInvalid);
    CHECK(st.message().find("\"AbC123\"") != std::string::npos);
    CHECK(st.message().find("-wrong") == std::string::npos);
    no_secret_in(st.message());
  }
  for (const char* id : {"NoConn", "NoGrant"}) {
    Auth0Options o = h.options();
    o.client_id = id;
    auto client = h.client(o);
    Status st = client->reader("newsletter-db", false, {})->resolve();
    INFO(st.to_string());
    CHECK(st.code() == Status::Code::kInvalid);
    CHECK(st.message().find(id) != std::string::npos);
    no_secret_in(st.message());
  }
  // A wrong audience (another domain) is refused by the token endpoint.
  Auth0Options o = h.options();
  o.domain = "other.eu.auth0.com";
  Status st = h.client(o)->ensure_token();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("other.eu.auth0.com") != std::string::npos);
  no_secret_in(st.message());
}
