// The Auth0 client against a small in-process fake of the Management API (no sockets): the
// requests it sends, its token handling, rate limits, the export job and its file, and answers
// of any shape. The client against concord-sandbox is in auth0_sandbox_test.cpp.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "concord/auth0_client.h"
#include "malformed_answers.h"
#include "sides/auth0/export_file.h"
#include "sides/auth0/users.h"

using namespace concord;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kSecret = "very-secret-client-secret";

std::string gzip(const std::string& text) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                       Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

json user(int i, const std::string& conn = "db", const std::string& updated = "") {
  char id[32];
  std::snprintf(id, sizeof id, "auth0|%024d", i);
  char created[40];
  std::snprintf(created, sizeof created, "2024-01-01T00:00:%02d.000Z", i % 60);
  return {{"user_id", id},
          {"email", "user" + std::to_string(i) + "@example.org"},
          {"email_verified", i % 2 == 0},
          {"given_name", "Given" + std::to_string(i)},
          {"created_at", created},
          {"updated_at", updated.empty() ? std::string(created) : updated},
          {"identities", json::array({{{"connection", conn}, {"provider", "auth0"}}})},
          {"user_metadata", {{"plan", "gold"}, {"seats", i}}}};
}

// The tenant, shared by every origin's fake client.
struct FakeAuth0 {
  std::mutex mu;
  std::vector<json> users;
  std::vector<json> log;  // {origin, method, path, query, auth, body}
  std::vector<std::string> issued;
  std::string date = "Sun, 06 Dec 2026 12:00:00 GMT";
  int token_status = 200;
  std::int64_t expires_in = 86400;
  bool revoke_all = false;             // tokens issued so far are refused (401)
  std::vector<http::Response> script;  // answered, in order, to /api/v2 requests before the rest
  std::string users_body;              // when set, the answer to every user search
  int polls_to_complete = 2;
  std::map<std::string, int> polls;
  int expired_downloads = 0;  // the first n downloads answer 403
  int jobs = 0;
  bool fail_jobs = false;  // jobs end "failed"

  static std::map<std::string, std::string> query_of(const std::string& target) {
    std::map<std::string, std::string> q;
    auto at = target.find('?');
    if (at != std::string::npos) {
      for (auto& [k, v] : http::parse_query(target.substr(at + 1)))
        q[k] = v;
    }
    return q;
  }

  http::Response answer(int status, const json& body) {
    http::Response r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json; charset=utf-8"}, {"Date", date}};
    r.body = body.dump();
    return r;
  }

  http::Response handle(const http::Url& origin, const http::Request& req) {
    std::lock_guard<std::mutex> lock(mu);
    const std::string path = req.target.substr(0, req.target.find('?'));
    auto q = query_of(req.target);
    log.push_back({{"origin", origin.origin()},
                   {"method", req.method},
                   {"path", path},
                   {"query", q},
                   {"auth", std::string(req.header("Authorization"))},
                   {"body", req.body}});
    if (origin.host == "exports.example") {
      if (expired_downloads > 0) {
        --expired_downloads;
        http::Response r;
        r.status = 403;
        r.body = "<Error><Code>AccessDenied</Code></Error>";
        return r;
      }
      std::string nd;
      std::string decoded;
      REQUIRE(http::url_decode(path.substr(1), &decoded, /*plus_is_space=*/false));
      const json spec = json::parse(decoded);
      for (const json& u : users) {
        json line = json::object();
        for (const json& f : spec.at("fields")) {
          const std::string n = f.at("name");
          if (u.contains(n)) line[n] = u[n];
        }
        nd += line.dump() + "\n";
      }
      http::Response r;
      r.status = 200;
      r.body = gzip(nd);
      return r;
    }
    if (path == "/oauth/token") {
      json b = json::parse(req.body);
      if (token_status != 200) {
        return answer(token_status,
                      {{"error", "access_denied"}, {"error_description", "Unauthorized"}});
      }
      CHECK(b.at("grant_type") == "client_credentials");
      CHECK(b.at("audience") == "https://acme.eu.auth0.com/api/v2/");
      if (b.at("client_secret") != kSecret) {
        return answer(401, {{"error", "access_denied"}, {"error_description", "Unauthorized"}});
      }
      issued.push_back("tok" + std::to_string(issued.size() + 1));
      return answer(
          200,
          {{"access_token", issued.back()}, {"expires_in", expires_in}, {"token_type", "Bearer"}});
    }
    const std::string auth(req.header("Authorization"));
    if (issued.empty() || auth != "Bearer " + issued.back() || (revoke_all && issued.size() < 3)) {
      return answer(401,
                    {{"statusCode", 401}, {"error", "Unauthorized"}, {"message", "Invalid token"}});
    }
    if (!script.empty()) {
      http::Response r = script.front();
      script.erase(script.begin());
      return r;
    }
    if (path == "/api/v2/connections") {
      json all = json::array({{{"id", "con_ftSSLHb0O7rcUGmF"}, {"name", "db"}},
                              {{"id", "con_AAAAAAAAAAAAAAAA"}, {"name", "social"}}});
      json out = json::array();
      for (const json& c : all) {
        if (!q.count("name") || c["name"] == q["name"]) out.push_back(c);
      }
      return answer(200, out);
    }
    if (path == "/api/v2/users") {
      if (!users_body.empty()) {
        http::Response r = answer(200, nullptr);
        r.body = users_body;
        return r;
      }
      const std::string qs = q["q"];
      const std::string prefix = "identities.connection:\"db\"";
      REQUIRE(qs.substr(0, prefix.size()) == prefix);
      std::string since;
      if (qs.size() > prefix.size()) {
        const std::string range = " AND updated_at:[";
        REQUIRE(qs.substr(prefix.size(), range.size()) == range);
        since = qs.substr(prefix.size() + range.size(), 24);
        REQUIRE(qs.substr(prefix.size() + range.size() + 24) == " TO *]");
      }
      std::vector<json> match;
      for (const json& u : users) {
        if (u["identities"][0]["connection"] == "db" &&
            u["updated_at"].get<std::string>() >= since) {
          match.push_back(u);
        }
      }
      const int page = std::stoi(q["page"]), per = std::stoi(q["per_page"]);
      if (page * per >= 1000) {
        return answer(400, {{"statusCode", 400},
                            {"error", "Bad Request"},
                            {"message", "You can only page through the first 1000 records."},
                            {"errorCode", "invalid_paging"}});
      }
      json list = json::array();
      for (int i = page * per; i < static_cast<int>(match.size()) && i < (page + 1) * per; ++i)
        list.push_back(match[i]);
      return answer(200, {{"start", page * per},
                          {"limit", per},
                          {"length", list.size()},
                          {"users", list},
                          {"total", match.size()}});
    }
    if (path == "/api/v2/jobs/users-exports") {
      json b = json::parse(req.body);
      std::string id = "job_" + std::to_string(++jobs);
      polls[id] = 0;
      fields_of[id] = b.at("fields");
      return answer(200, {{"type", "users_export"}, {"status", "pending"}, {"id", id}});
    }
    if (path.rfind("/api/v2/jobs/", 0) == 0) {
      std::string id = path.substr(13);
      if (fail_jobs)
        return answer(200, {{"status", "failed"}, {"id", id}, {"status_details", "boom"}});
      if (++polls[id] < polls_to_complete)
        return answer(200, {{"status", "processing"}, {"id", id}});
      json f = {{"fields", fields_of[id]}};
      return answer(200, {{"status", "completed"},
                          {"id", id},
                          // The fields ride in the file's path, percent-encoded as a URL's
                          // path must be.
                          {"location", "https://exports.example/" + http::url_encode(f.dump()) +
                                           "?Signature=SIG"}});
    }
    return answer(404, {{"statusCode", 404}, {"error", "Not Found"}, {"message", "Not Found"}});
  }

  std::map<std::string, json> fields_of;

  std::vector<json> requests_to(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<json> out;
    for (const json& e : log)
      if (e["path"] == path) out.push_back(e);
    return out;
  }
};

class FakeClient final : public http::Client {
 public:
  FakeClient(FakeAuth0& t, http::Url origin) : t_(t), origin_(std::move(origin)) {}
  Result<http::Response> send(const http::Request& req) override {
    ++attempts_;
    return t_.handle(origin_, req);
  }
  std::uint64_t attempts() const override { return attempts_; }
  std::uint64_t connections_opened() const override { return 1; }

 private:
  FakeAuth0& t_;
  http::Url origin_;
  std::uint64_t attempts_ = 0;
};

class FixedClock final : public Clock {
 public:
  Micros now() const override { return t; }
  Micros t = 1'765'000'000 * kMicrosPerSecond;
};

struct Collect final : SourceSink {
  std::vector<SourcePerson> people;
  std::vector<RejectedRow> rejects;
  Status records(std::vector<SourcePerson>& page) override {
    for (auto& p : page)
      people.push_back(std::move(p));
    return Status::ok();
  }
  void reject(RejectedRow row) override { rejects.push_back(std::move(row)); }
};

struct Fixture {
  FakeAuth0 tenant;
  FixedClock clock;
  std::vector<milliseconds> slept;
  Auth0Options options() {
    Auth0Options o;
    o.domain = "acme.eu.auth0.com";
    o.client_id = "AbC123";
    o.client_secret = kSecret;
    o.clock = &clock;
    o.sleep = [this](milliseconds d) { slept.push_back(d); };
    o.export_poll_first = milliseconds(100);
    o.export_poll_max = milliseconds(400);
    return o;
  }
  std::unique_ptr<Auth0Client> client(Auth0Options o) {
    auto c =
        Auth0Client::create(std::move(o), [this](const http::Url& u, const http::ClientOptions&) {
          return Result<std::unique_ptr<http::Client>>(std::make_unique<FakeClient>(tenant, u));
        });
    REQUIRE(c.is_ok());
    return std::move(c).value();
  }
  std::unique_ptr<Auth0Client> client() { return client(options()); }
};

void no_secret_in(const Status& s) {
  CHECK(s.message().find(kSecret) == std::string::npos);
  CHECK(s.message().find("tok1") == std::string::npos);
}

}  // namespace

// ---- the pieces ---------------------------------------------------------------------------------

TEST_CASE("a user object becomes a person, or a reject naming the field") {
  const std::vector<std::string> fields = {"given_name", "user_metadata.plan",
                                           "user_metadata.seats", "user_metadata.none",
                                           "app_metadata.x"};
  auto v = auth0::read_user(user(3), fields);
  REQUIRE(std::holds_alternative<SourcePerson>(v));
  const SourcePerson& p = std::get<SourcePerson>(v);
  CHECK(p.id == "auth0|000000000000000000000003");
  CHECK(p.email == "user3@example.org");
  CHECK_FALSE(p.email_verified);
  CHECK(p.updated_at == parse_iso8601("2024-01-01T00:00:03.000Z").value());
  CHECK(p.fields == std::vector<std::pair<std::string, std::string>>{{"given_name", "Given3"},
                                                                     {"user_metadata.plan", "gold"},
                                                                     {"user_metadata.seats", "3"},
                                                                     {"user_metadata.none", ""},
                                                                     {"app_metadata.x", ""}});

  json no_email = user(4);
  no_email.erase("email");
  no_email.erase("email_verified");
  auto e = auth0::read_user(no_email, {});
  REQUIRE(std::holds_alternative<SourcePerson>(e));
  CHECK(std::get<SourcePerson>(e).email.empty());
  CHECK_FALSE(std::get<SourcePerson>(e).email_verified);

  struct Case {
    json u;
    const char* field;
  };
  json no_id = user(1);
  no_id.erase("user_id");
  json num_id = user(1);
  num_id["user_id"] = 5;
  json bad_email = user(1);
  bad_email["email"] = json::array();
  json bad_time = user(1);
  bad_time["updated_at"] = "yesterday";
  json num_time = user(1);
  num_time["updated_at"] = 5;
  json bad_verified = user(1);
  bad_verified["email_verified"] = 1;
  const std::vector<Case> cases = {{no_id, "user_id"},       {num_id, "user_id"},
                                   {bad_email, "email"},     {bad_time, "updated_at"},
                                   {num_time, "updated_at"}, {bad_verified, "email_verified"},
                                   {json(5), "user"},        {json(nullptr), "user"}};
  for (const Case& c : cases) {
    INFO(c.u.dump());
    auto r = auth0::read_user(c.u, {});
    REQUIRE(std::holds_alternative<RejectedRow>(r));
    CHECK(std::get<RejectedRow>(r).field == c.field);
  }
}

TEST_CASE("the query's pieces: phrases escaped, times to the millisecond in UTC, top-level keys") {
  CHECK(auth0::lucene_phrase("newsletter-db") == "\"newsletter-db\"");
  CHECK(auth0::lucene_phrase("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(auth0::search_time(parse_iso8601("2024-05-01T10:20:30.456Z").value()) ==
        "2024-05-01T10:20:30.456Z");
  CHECK(auth0::search_time(0) == "1970-01-01T00:00:00.000Z");
  CHECK(auth0::top_level_keys({"given_name", "user_metadata.plan", "user_metadata.x", "email"}) ==
        std::vector<std::string>{"user_id", "email", "email_verified", "updated_at", "given_name",
                                 "user_metadata"});
}

TEST_CASE("an export file is read line by line, and a damaged one is an error") {
  std::vector<std::string> lines;
  auto collect = [&](std::string_view l, std::uint64_t) {
    lines.emplace_back(l);
    return Status::ok();
  };
  REQUIRE(auth0::read_gzip_lines(gzip("{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}"), 1000, collect));
  CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"});
  lines.clear();
  // Two members one after another.
  REQUIRE(auth0::read_gzip_lines(gzip("x\n") + gzip("y\n"), 1000, collect));
  CHECK(lines == std::vector<std::string>{"x", "y"});

  std::string big;
  for (int i = 0; i < 20000; ++i)
    big += "{\"user_id\":\"auth0|" + std::to_string(i) + "\"}\n";
  const std::string gz = gzip(big);
  lines.clear();
  REQUIRE(auth0::read_gzip_lines(gz, 1000, collect));
  CHECK(lines.size() == 20000);
  CHECK_FALSE(auth0::read_gzip_lines(gz.substr(0, gz.size() / 2), 1000, collect));
  CHECK_FALSE(auth0::read_gzip_lines("{\"not\":\"gzip\"}", 1000, collect));
  std::string corrupt = gz;
  corrupt[corrupt.size() / 2] ^= 0x55;
  corrupt[corrupt.size() / 2 + 1] ^= 0x55;
  CHECK_FALSE(auth0::read_gzip_lines(corrupt, 1000, collect));
  CHECK_FALSE(auth0::read_gzip_lines(gzip(std::string(2000, 'x')), 1000, collect));
  // The callback's error stops the read.
  int n = 0;
  Status s = auth0::read_gzip_lines(gz, 1000, [&](std::string_view, std::uint64_t) {
    return ++n == 3 ? Status::invalid("stop") : Status::ok();
  });
  CHECK(s.message() == "stop");
  CHECK(n == 3);
}

// ---- the client ---------------------------------------------------------------------------------

TEST_CASE("options are checked, and the secret is never quoted") {
  Fixture f;
  auto bad = [&](auto change) {
    Auth0Options o = f.options();
    change(o);
    auto c = Auth0Client::create(o);
    CHECK_FALSE(c.is_ok());
    no_secret_in(c.status());
  };
  bad([](Auth0Options& o) { o.client_id.clear(); });
  bad([](Auth0Options& o) { o.client_secret.clear(); });
  bad([](Auth0Options& o) { o.domain.clear(); });
  bad([](Auth0Options& o) { o.per_page = 101; });
  bad([](Auth0Options& o) { o.per_page = 0; });
  bad([](Auth0Options& o) { o.base_url = "ftp://x"; });
}

TEST_CASE("a read pages the connection sorted by created_at, with one token") {
  Fixture f;
  for (int i = 0; i < 250; ++i)
    f.tenant.users.push_back(user(i));
  f.tenant.users.push_back(user(999, "social"));
  auto client = f.client();
  auto reader = client->reader("db", true, {"given_name", "user_metadata.plan"});
  REQUIRE(reader->resolve());
  CHECK(reader->set_name() == "db");
  Collect sink;
  auto r = reader->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 250);
  CHECK(sink.rejects.empty());
  CHECK(r->pages == 3);
  CHECK(r->watermark == parse_http_date(f.tenant.date).value());
  CHECK(client->tokens_fetched() == 1);
  CHECK(f.tenant.requests_to("/oauth/token").size() == 1);
  auto pages = f.tenant.requests_to("/api/v2/users");
  REQUIRE(pages.size() == 3);
  for (const json& p : pages) {
    CHECK(p["query"]["q"] == "identities.connection:\"db\"");
    CHECK(p["query"]["search_engine"] == "v3");
    CHECK(p["query"]["per_page"] == "100");
    CHECK(p["query"]["include_totals"] == "true");
    CHECK(p["query"]["sort"] == "created_at:1");
    CHECK(p["query"]["fields"] ==
          "user_id,email,email_verified,updated_at,given_name,user_metadata");
    CHECK(p["auth"] == "Bearer tok1");
  }
  CHECK(pages[2]["query"]["page"] == "2");
  auto info = client->last_read();
  CHECK(info.full);
  CHECK_FALSE(info.export_job);
  CHECK(info.total == 250);
  // Both readers of the client share its token.
  Collect again;
  REQUIRE(client->reader("db", false, {})->read_all(again).is_ok());
  CHECK(client->tokens_fetched() == 1);
  CHECK(client->requests() == f.tenant.log.size());
}

TEST_CASE("without a Date header the watermark is the local time the read began") {
  Fixture f;
  f.tenant.date = "";
  f.tenant.users.push_back(user(1));
  auto client = f.client();
  Collect sink;
  auto r = client->reader("db", false, {})->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(r->watermark == f.clock.t);
}

TEST_CASE("a token is fetched again shortly before it expires, and after a 401") {
  Fixture f;
  f.tenant.expires_in = 1000;
  f.tenant.users.push_back(user(1));
  auto client = f.client();
  auto reader = client->reader("db", false, {});
  Collect sink;
  REQUIRE(reader->read_all(sink).is_ok());
  CHECK(client->tokens_fetched() == 1);
  f.clock.t += 850 * kMicrosPerSecond;  // within the margin (a tenth of 1000 s)
  REQUIRE(reader->read_all(sink).is_ok());
  CHECK(client->tokens_fetched() == 1);
  f.clock.t += 100 * kMicrosPerSecond;
  REQUIRE(reader->read_all(sink).is_ok());
  CHECK(client->tokens_fetched() == 2);
  // Revoked: the API answers 401 once; one new token, the request again.
  f.tenant.issued.push_back("revoked-elsewhere");
  const std::size_t before = f.tenant.log.size();
  REQUIRE(reader->read_all(sink).is_ok());
  CHECK(client->tokens_fetched() == 3);
  CHECK(f.tenant.log.size() - before == 3);  // 401, token, the page again
  CHECK(client->last_read().tokens == 1);
}

TEST_CASE("a token the API keeps refusing is an error after one new token") {
  Fixture f;
  f.tenant.revoke_all = true;
  auto client = f.client();
  Status s = client->reader("db", false, {})->resolve();
  CHECK(s.code() == Status::Code::kInvalid);
  CHECK(s.message().find("AbC123") != std::string::npos);
  CHECK(client->tokens_fetched() == 2);
  no_secret_in(s);
}

TEST_CASE("wrong credentials are an error naming the client id, never the secret") {
  for (int status : {401, 403}) {
    Fixture f;
    f.tenant.token_status = status;
    auto client = f.client();
    Status s = client->reader("db", false, {})->resolve();
    INFO(s.to_string());
    CHECK(s.code() == Status::Code::kInvalid);
    CHECK(s.message().find("\"AbC123\"") != std::string::npos);
    no_secret_in(s);
  }
  Fixture f;
  Auth0Options o = f.options();
  o.client_secret = "wrong-but-still-a-secret";
  auto client = f.client(o);
  Status s = client->ensure_token();
  CHECK(s.message().find("wrong-but-still-a-secret") == std::string::npos);
  CHECK(s.message().find("wrong client id or secret") != std::string::npos);
}

TEST_CASE("an unknown connection is kNotFound naming those there are") {
  Fixture f;
  auto client = f.client();
  Status s = client->reader("nope", false, {})->resolve();
  CHECK(s.code() == Status::Code::kNotFound);
  CHECK(s.message().find("\"nope\"") != std::string::npos);
  CHECK(s.message().find("db, social") != std::string::npos);
  Collect sink;
  CHECK_FALSE(client->reader("nope", false, {})->read_all(sink).is_ok());
}

TEST_CASE("read_since asks for updated_at from the watermark less the overlap") {
  Fixture f;
  for (int i = 0; i < 5; ++i)
    f.tenant.users.push_back(
        user(i, "db", i < 3 ? "2026-01-01T00:00:00.000Z" : "2026-06-01T11:58:00.000Z"));
  auto client = f.client();
  auto reader = client->reader("db", false, {});
  REQUIRE(reader->incremental());
  Collect sink;
  const Micros w = parse_iso8601("2026-06-01T12:00:00Z").value();
  auto r = reader->read_since(w, sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 2);
  auto pages = f.tenant.requests_to("/api/v2/users");
  CHECK(pages.back()["query"]["q"] ==
        "identities.connection:\"db\" AND updated_at:[2026-06-01T11:55:00.000Z TO *]");
  CHECK(r->watermark == parse_http_date(f.tenant.date).value());  // the server's time
  // A server time before the watermark handed in: never before it.
  f.tenant.date = "Mon, 01 Jun 2026 11:00:00 GMT";
  auto early = reader->read_since(w, sink);
  REQUIRE(early.is_ok());
  CHECK(early->watermark == w);
  CHECK_FALSE(client->last_read().full);
}

TEST_CASE("a set past the search cap is read through an export job, without the token") {
  Fixture f;
  for (int i = 0; i < 12; ++i)
    f.tenant.users.push_back(user(i));
  json bad = user(50);
  bad.erase("user_id");
  f.tenant.users.push_back(bad);
  f.tenant.polls_to_complete = 4;
  Auth0Options o = f.options();
  o.search_cap = 10;
  o.per_page = 5;
  auto client = f.client(o);
  Collect sink;
  auto r = client->reader("db", false, {"user_metadata.plan"})->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 12);
  REQUIRE(sink.rejects.size() == 1);
  CHECK(sink.rejects[0].field == "user_id");
  CHECK(sink.people[0].fields[0].second == "gold");
  CHECK(client->last_read().export_job);
  CHECK(client->last_read().full);
  auto jobs = f.tenant.requests_to("/api/v2/jobs/users-exports");
  REQUIRE(jobs.size() == 1);
  json body = json::parse(jobs[0]["body"].get<std::string>());
  CHECK(body["connection_id"] == "con_ftSSLHb0O7rcUGmF");
  CHECK(body["format"] == "json");
  CHECK(body["fields"] == json::parse(R"([{"name":"user_id"},{"name":"email"},
      {"name":"email_verified"},{"name":"updated_at"},{"name":"user_metadata"}])"));
  // Polled with a growing wait, capped.
  CHECK(f.slept == std::vector<milliseconds>{milliseconds(100), milliseconds(200),
                                             milliseconds(400), milliseconds(400)});
  // The download went to the file's origin, without the token.
  bool downloaded = false;
  for (const json& e : f.tenant.log) {
    if (e["origin"] == "https://exports.example") {
      downloaded = true;
      CHECK(e["auth"] == "");
      CHECK(e["query"]["Signature"] == "SIG");
    }
  }
  CHECK(downloaded);
  CHECK(r->watermark == parse_http_date(f.tenant.date).value());
}

TEST_CASE("an expired download URL is asked for again, then a new job is made") {
  Fixture f;
  for (int i = 0; i < 3; ++i)
    f.tenant.users.push_back(user(i));
  f.tenant.expired_downloads = 1;
  Auth0Options o = f.options();
  o.search_cap = 2;
  auto client = f.client(o);
  Collect sink;
  auto r = client->reader("db", false, {})->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 3);
  CHECK(f.tenant.jobs == 2);  // the fake's URL does not change on a new poll

  Fixture g;
  g.tenant.users.push_back(user(1));
  g.tenant.users.push_back(user(2));
  g.tenant.expired_downloads = 100;
  o = g.options();
  o.search_cap = 1;
  o.export_new_jobs = 1;
  Collect none;
  auto e = g.client(o)->reader("db", false, {})->read_all(none);
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().code() == Status::Code::kUnavailable);
  CHECK(e.status().message().find("expired") != std::string::npos);
  CHECK(e.status().message().find("SIG") == std::string::npos);
}

TEST_CASE("a failed export job, or one never done, is an error") {
  Fixture f;
  f.tenant.users = {user(1), user(2)};
  Auth0Options o = f.options();
  o.search_cap = 1;
  f.tenant.fail_jobs = true;
  Collect sink;
  auto failed = f.client(o)->reader("db", false, {})->read_all(sink);
  REQUIRE_FALSE(failed.is_ok());
  CHECK(failed.status().retryable());
  CHECK(failed.status().message().find("failed: \"boom\"") != std::string::npos);

  f.tenant.fail_jobs = false;
  f.tenant.polls_to_complete = 100;
  o.export_timeout = milliseconds(1000);
  auto r = f.client(o)->reader("db", false, {})->read_all(sink);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("not done") != std::string::npos);
  CHECK(f.tenant.polls.at("job_2") < 10);  // the waits grew
  CHECK(sink.people.empty());
}

TEST_CASE("a 429 waits until x-ratelimit-reset by the server's clock, bounded") {
  Fixture f;
  f.tenant.users.push_back(user(1));
  auto client = f.client();
  auto reader = client->reader("db", false, {});
  REQUIRE(reader->resolve());
  http::Response limited;
  limited.status = 429;
  const Micros server_now = parse_http_date(f.tenant.date).value();
  limited.headers = {{"Date", f.tenant.date},
                     {"x-ratelimit-reset", std::to_string(server_now / kMicrosPerSecond + 3)}};
  limited.body =
      R"({"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"})";
  f.tenant.script = {limited, limited};
  Collect sink;
  auto r = reader->read_all(sink);
  REQUIRE(r.is_ok());
  CHECK(sink.people.size() == 1);
  CHECK(f.slept == std::vector<milliseconds>{milliseconds(3000), milliseconds(3000)});
  CHECK(client->last_read().rate_limited == 2);

  // Retry-After, when later, wins.
  f.slept.clear();
  http::Response after = limited;
  after.headers.push_back({"Retry-After", "7"});
  f.tenant.script = {after};
  REQUIRE(reader->read_all(sink).is_ok());
  CHECK(f.slept == std::vector<milliseconds>{milliseconds(7000)});

  // A reset beyond the longest wait fails the read at once, retryable.
  f.slept.clear();
  http::Response hour = limited;
  hour.headers[1].value = std::to_string(server_now / kMicrosPerSecond + 3600);
  f.tenant.script = {hour};
  auto e = reader->read_all(sink);
  REQUIRE_FALSE(e.is_ok());
  CHECK(e.status().retryable());
  CHECK(f.slept.empty());

  // Waits are bounded in number.
  Auth0Options o = f.options();
  o.rate_limit_retries = 2;
  auto few = f.client(o);
  auto fr = few->reader("db", false, {});
  REQUIRE(fr->resolve());
  f.tenant.script = {limited, limited, limited, limited};
  auto e2 = fr->read_all(sink);
  REQUIRE_FALSE(e2.is_ok());
  CHECK(e2.status().retryable());
  f.tenant.script.clear();
}

TEST_CASE("a 403 for a missing scope is not retried and names the client") {
  Fixture f;
  auto client = f.client();
  f.tenant.script = {
      f.tenant.answer(403, {{"statusCode", 403},
                            {"error", "Forbidden"},
                            {"message", "Insufficient scope, expected any of: read:connections"},
                            {"errorCode", "insufficient_scope"}})};
  Status s = client->reader("db", false, {})->resolve();
  CHECK(s.code() == Status::Code::kInvalid);
  CHECK(s.message().find("read:connections") != std::string::npos);
  CHECK(s.message().find("AbC123") != std::string::npos);
  CHECK(f.tenant.requests_to("/api/v2/connections").size() == 1);
}

TEST_CASE("answers that stop short of their total are an error, not the end") {
  Fixture f;
  f.tenant.users_body =
      R"({"start":0,"limit":100,"length":2,"users":[{"user_id":"auth0|1"},{"user_id":"auth0|2"}],"total":5})";
  auto client = f.client();
  Collect sink;
  auto r = client->reader("db", false, {})->read_all(sink);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().retryable());
}

TEST_CASE("Auth0 answers of any shape are errors or rejects, never exceptions") {
  std::vector<std::string> bodies = concord::testing::malformed_bodies();
  for (const char* b :
       {R"({"users":[null,5,{"user_id":7},{"user_id":"auth0|1","email":{}}],"total":4})",
        R"({"users":{"a":1},"total":1})", R"({"users":[],"total":-1})",
        R"({"users":[],"total":1e400})",
        R"({"users":[{"user_id":"a","updated_at":"x"}],"total":1})",
        R"({"start":0,"limit":100,"length":1,"users":[{"user_id":"auth0|1"}],"total":1)"}) {
    bodies.push_back(b);
  }
  for (const std::string& body : bodies) {
    INFO(body);
    Fixture f;
    f.tenant.users_body = body;
    auto client = f.client();
    Collect sink;
    Result<SideRead> r = Status::internal("unset");
    CHECK_NOTHROW(r = client->reader("db", false, {"user_metadata.plan"})->read_all(sink));
    for (const RejectedRow& row : sink.rejects)
      CHECK_FALSE(row.field.empty());
  }
  // Every route answering one canned body, of any status: no exception, no secret.
  for (const std::string& body : bodies) {
    for (int status : {200, 400, 401, 403, 500}) {
      INFO(status << " " << body);
      Auth0Options o;
      o.domain = "acme.eu.auth0.com";
      o.client_id = "AbC123";
      o.client_secret = kSecret;
      o.http.retry.max_attempts = 1;
      o.sleep = [](milliseconds) {};
      auto c = Auth0Client::create(o, [&](const http::Url&, const http::ClientOptions&) {
        return Result<std::unique_ptr<http::Client>>(
            std::make_unique<concord::testing::CannedTransport>(body, status));
      });
      REQUIRE(c.is_ok());
      Collect sink;
      auto reader = (*c)->reader("db", false, {});
      Result<SideRead> r = Status::internal("unset");
      CHECK_NOTHROW(r = reader->read_all(sink));
      CHECK_FALSE(r.is_ok());
      no_secret_in(r.status());
    }
  }
}
