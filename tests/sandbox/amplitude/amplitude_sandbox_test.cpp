// The sandbox's Amplitude part (Behavioral Cohorts API), driven through its handler: what a
// client of the cohort download would notice. The expected answers are those of the Behavioral
// Cohorts API's documentation as docs/sandbox.md ("The Amplitude cohort API") reads it.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/amplitude/sandbox.h"
#include "sandbox/clock.h"

using concord::kMicrosPerSecond;
using concord::Micros;
using concord::sandbox::Part;
using concord::sandbox::SandboxClock;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// 2026-03-01T00:00:00Z.
constexpr std::int64_t kStart = 1772323200;

std::string base64(std::string_view in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6)
      out.push_back(kChars[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {kChars[(v >> 18) & 63], kChars[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kChars[(v >> 18) & 63], kChars[(v >> 12) & 63], kChars[(v >> 6) & 63], '='};
  }
  return out;
}

// A CSV file read as RFC 4180 says (quoted fields, "" inside them), by header name.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
};
Csv parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      rec.push_back(field);
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      rec.push_back(field);
      records.push_back(rec);
      rec.clear();
      field.clear();
    } else {
      field.push_back(c);
      any = true;
    }
  }
  (void)any;
  if (!field.empty() || !rec.empty()) {
    rec.push_back(field);
    records.push_back(rec);
  }
  Csv csv;
  REQUIRE_FALSE(records.empty());
  csv.header = records[0];
  for (std::size_t r = 1; r < records.size(); ++r) {
    REQUIRE(records[r].size() == csv.header.size());
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < csv.header.size(); ++c)
      row[csv.header[c]] = records[r][c];
    csv.rows.push_back(std::move(row));
  }
  return csv;
}

constexpr const char* kSeed = R"({
  "api_key": "key-1", "secret_key": "secret-1", "app_id": 187520,
  "users": [
    {"amplitude_id": 123456789, "user_id": "user-20391",
     "user_properties": {"email": "jane@example.com", "plan": "pro"}},
    {"amplitude_id": 123456790, "user_id": null},
    {"amplitude_id": 123456791, "user_id": "user-3",
     "user_properties": {"email": "o\"brien, \"pat\"@example.com", "plan": "free", "age": 41}},
    {"amplitude_id": 123456792, "user_id": "user-4", "user_properties": {"plan": "pro"}}
  ],
  "cohorts": [
    {"id": "26umsb5", "name": "Active", "description": "test description",
     "owners": ["demo@amplitude.com"], "lastMod": 1679437294, "createdAt": 1679437288,
     "lastComputed": 1679440233, "size": 4,
     "syncMetadata": [{"target": "braze", "frequency": "hourly"}],
     "members": [123456789, 123456790, 123456791, 123456792]},
    {"id": "archd01", "name": "Old", "archived": true}
  ]
})";

struct Answer {
  int status = 0;
  std::string body;
  std::vector<concord::http::Header> headers;
  bool reset = false;
  std::size_t truncate_at = static_cast<std::size_t>(-1);
  std::string fault;
  std::string header(std::string_view n) const {
    return std::string(concord::http::find_header(headers, n));
  }
  json js() const { return json::parse(body); }
};

// One part on a fixed clock, with the test seed installed.
struct Amp {
  SandboxClock clock;
  std::unique_ptr<Part> part;
  std::string host = "127.0.0.1:43121";

  explicit Amp(const char* seed = kSeed) {
    clock.fix(kStart * kMicrosPerSecond);
    part = concord::sandbox::make_amplitude_sandbox(&clock);
    auto r = part->install(std::string_view(seed));
    REQUIRE(r.is_ok());
  }
  void advance(std::int64_t seconds) { clock.fix(clock.now() + seconds * kMicrosPerSecond); }

  Answer send(const std::string& method, const std::string& target, std::optional<std::string> auth,
              std::string body = "", bool loopback = true) {
    concord::http::Request req;
    req.method = method;
    req.target = target;
    req.body = std::move(body);
    req.headers.push_back({"Host", host});
    if (auth) req.headers.push_back({"Authorization", *auth});
    concord::http::Peer peer{loopback ? "127.0.0.1" : "10.0.0.7", loopback};
    Answer a;
    concord::http::Reply r = part->handle(req, peer, &a.fault);
    a.status = r.response.status;
    a.body = r.response.body;
    a.headers = r.response.headers;
    a.reset = r.reset_without_response;
    a.truncate_at = r.truncate_body_at;
    return a;
  }
  static std::string basic(const std::string& user, const std::string& pass) {
    return "Basic " + base64(user + ":" + pass);
  }
  Answer get(const std::string& target) { return send("GET", target, basic("key-1", "secret-1")); }
  Answer admin(const std::string& method, const std::string& path, const json& body = nullptr) {
    return send(method, path, std::nullopt, body.is_null() ? "" : body.dump());
  }
  // Requests an export and returns its request id.
  std::string request(const std::string& cohort, const std::string& query = "props=1") {
    Answer a = get("/api/5/cohorts/request/" + cohort + (query.empty() ? "" : "?" + query));
    REQUIRE(a.status == 202);
    return a.js()["request_id"].get<std::string>();
  }
  // Polls until JOB COMPLETED (at most 20 polls).
  void complete(const std::string& rid) {
    for (int i = 0; i < 20; ++i) {
      Answer s = get("/api/5/cohorts/request-status/" + rid);
      if (s.status == 200) return;
      REQUIRE(s.status == 202);
    }
    FAIL("export " << rid << " never completed");
  }
  // The target (path and query) of an absolute URL.
  static std::string target_of(const std::string& url) {
    auto scheme = url.find("://");
    REQUIRE(scheme != std::string::npos);
    auto slash = url.find('/', scheme + 3);
    REQUIRE(slash != std::string::npos);
    return url.substr(slash);
  }
};

}  // namespace

// ---- authentication ----------------------------------------------------------------------------

TEST_CASE("auth: Basic api_key:secret_key on every route, 401 without it, 403 with wrong keys") {
  Amp a;
  const std::string rid = a.request("26umsb5");
  a.complete(rid);
  struct Row {
    std::optional<std::string> auth;
    int status;
  };
  const std::vector<Row> rows = {
      {std::nullopt, 401},
      {"Bearer secret-1", 401},
      {"Basic !!!not-base64", 401},
      {"Basic " + base64("key-1"), 401},  // no colon
      {Amp::basic("key-1", "wrong"), 403},
      {Amp::basic("other", "secret-1"), 403},
      {Amp::basic("secret-1", "key-1"), 403},
      {Amp::basic("key-1", "secret-1"), 0},
      {"basic " + base64("key-1:secret-1"), 0},  // the scheme is case-insensitive
  };
  const std::vector<std::string> targets = {
      "/api/3/cohorts", "/api/5/cohorts/request/26umsb5?props=1",
      "/api/5/cohorts/request-status/" + rid, "/api/5/cohorts/request/" + rid + "/file"};
  for (const Row& row : rows) {
    for (const std::string& t : targets) {
      INFO(t << " with " << row.auth.value_or("(none)"));
      Answer r = a.send("GET", t, row.auth);
      if (row.status == 0) {
        CHECK(r.status < 400);
        continue;
      }
      CHECK(r.status == row.status);
      json j = json::parse(r.body);
      CHECK(j["error"]["http_code"] == row.status);
      if (row.status == 403) {
        CHECK(
            r.body ==
            R"({"error":{"http_code":403,"type":"unspecified","metadata":{"details":"Invalid API/Secret Key combination"}}})");
      }
    }
  }
}

// ---- the cohort list ---------------------------------------------------------------------------

TEST_CASE("list: GET /api/3/cohorts in the reference's shape, size from the members") {
  Amp a;
  Answer r = a.get("/api/3/cohorts");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  ojson j = ojson::parse(r.body);
  REQUIRE(j["cohorts"].size() == 2);
  const ojson& c = j["cohorts"][0];
  std::vector<std::string> keys;
  for (auto it = c.begin(); it != c.end(); ++it)
    keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{
                    "appId",       "archived",    "definition",    "description",
                    "finished",    "id",          "name",          "owners",
                    "viewers",     "published",   "size",          "type",
                    "lastMod",     "createdAt",   "lastComputed",  "hidden",
                    "metadata",    "view_count",  "popularity",    "last_viewed",
                    "chart_id",    "edit_id",     "is_predictive", "is_official_content",
                    "location_id", "shortcut_ids"});
  CHECK(c["id"] == "26umsb5");
  CHECK(c["name"] == "Active");
  CHECK(c["appId"] == 187520);
  CHECK(c["size"] == 4);
  CHECK(c["archived"] == false);
  CHECK(c["lastComputed"] == 1679440233);
  CHECK(c["lastMod"] == 1679437294);
  CHECK(c["owners"] == ojson::array({"demo@amplitude.com"}));
  CHECK(c["definition"]["cohortType"] == "UNIQUES");
  const ojson& old = j["cohorts"][1];
  CHECK(old["archived"] == true);
  CHECK(old["size"] == 0);
  // Times a seed leaves out are "now".
  CHECK(old["lastComputed"] == kStart);
  CHECK(old["createdAt"] == kStart);
}

TEST_CASE(
    "list: includeSyncInfo adds syncMetadata; cohortIds filters as Amplitude's SDK sends it") {
  Amp a;
  CHECK_FALSE(a.get("/api/3/cohorts").js()["cohorts"][0].contains("syncMetadata"));
  json j = a.get("/api/3/cohorts?includeSyncInfo=true").js();
  CHECK(j["cohorts"][0]["syncMetadata"][0]["target"] == "braze");
  CHECK(j["cohorts"][1]["syncMetadata"] == json::array());
  // Kotlin's joinToString(): ", ".
  json one = a.get("/api/3/cohorts?cohortIds=archd01%2C%20nope").js();
  REQUIRE(one["cohorts"].size() == 1);
  CHECK(one["cohorts"][0]["id"] == "archd01");
  CHECK(a.get("/api/3/cohorts?cohortIds=26umsb5,archd01").js()["cohorts"].size() == 2);
}

// ---- an export's life --------------------------------------------------------------------------

TEST_CASE("export: request 202 -> status JOB INPROGRESS 202 -> JOB COMPLETED 200 -> file") {
  Amp a;
  Answer req =
      a.get("/api/5/cohorts/request/26umsb5?props=1&propKeys=email&lastComputed=1679440233");
  REQUIRE(req.status == 202);
  json rj = req.js();
  CHECK(rj.size() == 2);
  CHECK(rj["cohort_id"] == "26umsb5");
  const std::string rid = rj["request_id"];
  CHECK(rid.size() == 6);
  CHECK(rid.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
        std::string::npos);

  // Before completion the file is not there.
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 400);
  Answer s1 = a.get("/api/5/cohorts/request-status/" + rid);
  CHECK(s1.status == 202);
  CHECK(s1.body ==
        R"({"request_id":")" + rid + R"(","cohort_id":"26umsb5","async_status":"JOB INPROGRESS"})");
  Answer s2 = a.get("/api/5/cohorts/request-status/" + rid);
  CHECK(s2.status == 200);
  CHECK(s2.js()["async_status"] == "JOB COMPLETED");
  // Completed stays completed.
  CHECK(a.get("/api/5/cohorts/request-status/" + rid).status == 200);

  Answer f = a.get("/api/5/cohorts/request/" + rid + "/file");
  REQUIRE(f.status == 200);
  CHECK(f.header("Content-Type") == "text/csv");
  CHECK(f.body ==
        "amplitude_id,user_id,email\n"
        "\"123456789\",\"user-20391\",\"jane@example.com\"\n"
        "\"123456790\",\"\",\"\"\n"
        "\"123456791\",\"user-3\",\"o\"\"brien, \"\"pat\"\"@example.com\"\n"
        "\"123456792\",\"user-4\",\"\"\n");
  // The /file URL can be asked again.
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").body == f.body);
}

TEST_CASE("export: completion after a number of polls and of seconds, both seedable") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings",
                  {{"in_progress_polls", 3}, {"export_seconds", 30}})
              .status == 200);
  const std::string rid = a.request("26umsb5");
  for (int i = 0; i < 3; ++i)
    CHECK(a.get("/api/5/cohorts/request-status/" + rid).status == 202);
  // Three polls done, but not 30 seconds.
  CHECK(a.get("/api/5/cohorts/request-status/" + rid).status == 202);
  a.advance(29);
  CHECK(a.get("/api/5/cohorts/request-status/" + rid).status == 202);
  a.advance(1);
  CHECK(a.get("/api/5/cohorts/request-status/" + rid).status == 200);

  // Zero polls and zero seconds: the first poll completes.
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings",
                  {{"in_progress_polls", 0}, {"export_seconds", 0}})
              .status == 200);
  const std::string quick = a.request("26umsb5");
  CHECK(a.get("/api/5/cohorts/request-status/" + quick).status == 200);
}

TEST_CASE("export: unknown cohort, unknown request, bad props, an export failing") {
  Amp a;
  Answer nc = a.get("/api/5/cohorts/request/nope123");
  CHECK(nc.status == 404);
  CHECK(nc.js()["error"]["metadata"]["details"] == "Cohort nope123 not found");
  CHECK(a.get("/api/5/cohorts/request-status/zzzzzz").status == 404);
  CHECK(a.get("/api/5/cohorts/request/zzzzzz/file").status == 404);
  CHECK(a.get("/api/5/cohorts/request/26umsb5?props=true").status == 400);
  CHECK(a.get("/api/5/cohorts/request/26umsb5?props=2").status == 400);

  const std::string rid = a.request("26umsb5");
  Answer failed = a.admin("POST", "/_sandbox/amplitude/exports/" + rid, {{"fail", true}});
  REQUIRE(failed.status == 200);
  CHECK(failed.js()["state"] == "failed");
  Answer s = a.get("/api/5/cohorts/request-status/" + rid);
  CHECK(s.status == 500);
  CHECK(s.js()["async_status"] == "JOB FAILED");
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 500);
  CHECK(a.admin("POST", "/_sandbox/amplitude/exports/nothere", {{"fail", true}}).status == 404);
}

TEST_CASE("export: the /file URL answers for seven days, then 404") {
  Amp a;
  const std::string rid = a.request("26umsb5");
  a.complete(rid);
  a.advance(7 * 86400 - 1);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 200);
  a.advance(1);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 404);
  CHECK(a.get("/api/5/cohorts/request-status/" + rid).status == 404);
}

// ---- the file ----------------------------------------------------------------------------------

TEST_CASE("csv: columns for props=0, props=1 (every property) and propKeys; read by header name") {
  Amp a;
  auto file = [&](const std::string& query) {
    const std::string rid = a.request("26umsb5", query);
    a.complete(rid);
    Answer f = a.get("/api/5/cohorts/request/" + rid + "/file");
    REQUIRE(f.status == 200);
    return f.body;
  };
  CHECK(parse_csv(file("")).header == std::vector<std::string>{"amplitude_id", "user_id"});
  CHECK(parse_csv(file("props=0&propKeys=email")).header ==
        std::vector<std::string>{"amplitude_id", "user_id"});
  Csv all = parse_csv(file("props=1"));
  CHECK(all.header == std::vector<std::string>{"amplitude_id", "user_id", "age", "email", "plan"});
  Csv two = parse_csv(file("props=1&propKeys=plan&propKeys=email&propKeys=plan&propKeys=missing"));
  CHECK(two.header ==
        std::vector<std::string>{"amplitude_id", "user_id", "plan", "email", "missing"});
  REQUIRE(two.rows.size() == 4);
  CHECK(two.rows[0]["email"] == "jane@example.com");
  CHECK(two.rows[0]["user_id"] == "user-20391");
  // The quoted email reads back whole, commas and quotes included.
  CHECK(two.rows[2]["email"] == "o\"brien, \"pat\"@example.com");
  CHECK(all.rows[2]["age"] == "41");
  // An anonymous user: amplitude_id only.
  CHECK(two.rows[1]["amplitude_id"] == "123456790");
  CHECK(two.rows[1]["user_id"] == "");
  // A user without an email.
  CHECK(two.rows[3]["user_id"] == "user-4");
  CHECK(two.rows[3]["email"] == "");
  CHECK(two.rows[3]["plan"] == "pro");
  CHECK(two.rows[0]["missing"] == "");
}

TEST_CASE("csv: CRLF line ends when set; an empty cohort is the header row alone") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"csv_crlf", true}}).status == 200);
  std::string rid = a.request("26umsb5", "props=1&propKeys=email");
  a.complete(rid);
  std::string body = a.get("/api/5/cohorts/request/" + rid + "/file").body;
  CHECK(body.rfind("amplitude_id,user_id,email\r\n\"123456789\",", 0) == 0);
  CHECK(parse_csv(body).rows.size() == 4);
  rid = a.request("archd01", "props=1");
  a.complete(rid);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").body == "amplitude_id,user_id\r\n");
}

// ---- the 302 and its download URL --------------------------------------------------------------

TEST_CASE("download: a 302 to a URL on another origin, valid one minute, then S3's 403") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"download", "redirect"}}).status ==
          200);
  const std::string rid = a.request("26umsb5", "props=1&propKeys=email");
  a.complete(rid);
  Answer f = a.get("/api/5/cohorts/request/" + rid + "/file");
  REQUIRE(f.status == 302);
  const std::string url = f.header("Location");
  INFO(url);
  // The other loopback name: a client must open a new origin, as for S3.
  CHECK(url.rfind("https://localhost:43121/cohort-exports/187520/" + rid + ".csv?", 0) == 0);
  CHECK(url.find("X-Amz-Algorithm=AWS4-HMAC-SHA256") != std::string::npos);
  CHECK(url.find("X-Amz-Date=20260301T000000Z") != std::string::npos);
  CHECK(url.find("X-Amz-Expires=60") != std::string::npos);
  CHECK(url.find("X-Amz-Signature=") != std::string::npos);

  const std::string target = Amp::target_of(url);
  Answer d = a.send("GET", target, std::nullopt);
  REQUIRE(d.status == 200);
  CHECK(parse_csv(d.body).rows.size() == 4);
  CHECK(d.body.rfind("amplitude_id,user_id,email\n", 0) == 0);

  // Forwarding the Basic credentials to S3 is refused, as S3 refuses two auth mechanisms.
  Answer twice = a.send("GET", target, Amp::basic("key-1", "secret-1"));
  CHECK(twice.status == 400);
  CHECK(twice.header("Content-Type") == "application/xml");
  CHECK(twice.body.find("<Code>InvalidArgument</Code>") != std::string::npos);

  // A tampered signature, another object, no signature at all.
  std::string bad = target;
  bad[bad.size() - 1] = bad.back() == '0' ? '1' : '0';
  CHECK(a.send("GET", bad, std::nullopt).body.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(a.send("GET", "/cohort-exports/187520/" + rid + ".csv", std::nullopt).status == 403);

  a.advance(59);
  CHECK(a.send("GET", target, std::nullopt).status == 200);
  a.advance(1);
  Answer expired = a.send("GET", target, std::nullopt);
  CHECK(expired.status == 403);
  CHECK(expired.body.find("<Code>AccessDenied</Code><Message>Request has expired</Message>") !=
        std::string::npos);
  CHECK(expired.body.find("<Expires>2026-03-01T00:01:00Z</Expires>") != std::string::npos);
  CHECK(expired.body.find("<ServerTime>2026-03-01T00:01:00Z</ServerTime>") != std::string::npos);

  // Asking /file again gives a fresh URL that works.
  Answer again = a.get("/api/5/cohorts/request/" + rid + "/file");
  REQUIRE(again.status == 302);
  CHECK(again.header("Location") != url);
  CHECK(again.header("Location").find("X-Amz-Date=20260301T000100Z") != std::string::npos);
  CHECK(a.send("GET", Amp::target_of(again.header("Location")), std::nullopt).status == 200);
}

TEST_CASE("download: the admin route expires every URL now") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"download", "redirect"}}).status ==
          200);
  const std::string rid = a.request("26umsb5");
  a.complete(rid);
  const std::string t1 =
      Amp::target_of(a.get("/api/5/cohorts/request/" + rid + "/file").header("Location"));
  const std::string t2 =
      Amp::target_of(a.get("/api/5/cohorts/request/" + rid + "/file").header("Location"));
  CHECK(a.send("GET", t1, std::nullopt).status == 200);
  Answer e = a.admin("POST", "/_sandbox/amplitude/download-urls/expire");
  REQUIRE(e.status == 200);
  CHECK(e.js()["expired"] == 2);
  CHECK(a.send("GET", t1, std::nullopt).status == 403);
  CHECK(a.send("GET", t2, std::nullopt).body.find("Request has expired") != std::string::npos);
  const std::string t3 =
      Amp::target_of(a.get("/api/5/cohorts/request/" + rid + "/file").header("Location"));
  CHECK(a.send("GET", t3, std::nullopt).status == 200);
}

TEST_CASE("download: auto is inline up to inline_max_bytes; per-export switch; scheme and host") {
  Amp a;
  const std::string rid = a.request("26umsb5");
  a.complete(rid);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 200);  // auto, small
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"inline_max_bytes", 10}}).status ==
          200);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 302);  // auto, large
  Answer sw = a.admin("POST", "/_sandbox/amplitude/exports/" + rid, {{"download", "inline"}});
  REQUIRE(sw.status == 200);
  CHECK(sw.js()["download"] == "inline");
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 200);
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/exports/" + rid, {{"download", nullptr}}).status ==
          200);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 302);
  // Another export still follows the setting.
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"download", "inline"}}).status == 200);
  const std::string other = a.request("26umsb5");
  a.complete(other);
  REQUIRE(
      a.admin("POST", "/_sandbox/amplitude/exports/" + other, {{"download", "redirect"}}).status ==
      200);
  CHECK(a.get("/api/5/cohorts/request/" + other + "/file").status == 302);
  CHECK(a.get("/api/5/cohorts/request/" + rid + "/file").status == 200);

  a.host = "localhost:9";
  CHECK(a.get("/api/5/cohorts/request/" + other + "/file")
            .header("Location")
            .rfind("https://127.0.0.1:9/", 0) == 0);
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings",
                  {{"download_scheme", "http"}, {"download_host", "s3.sandbox.test"}})
              .status == 200);
  CHECK(a.get("/api/5/cohorts/request/" + other + "/file")
            .header("Location")
            .rfind("http://s3.sandbox.test:9/cohort-exports/", 0) == 0);
}

// ---- cohorts and users changing ----------------------------------------------------------------

TEST_CASE("admin: a cohort shrinks and grows; an export keeps the members it was requested with") {
  Amp a;
  const std::string before = a.request("26umsb5", "props=1&propKeys=email");
  a.advance(3600);
  Answer m = a.admin("POST", "/_sandbox/amplitude/cohorts/26umsb5/members",
                     {{"remove", {123456791, "user-4"}}});
  REQUIRE(m.status == 200);
  CHECK(m.js()["members"] == json::array({123456789, 123456790}));
  json listed = a.get("/api/3/cohorts").js()["cohorts"][0];
  CHECK(listed["size"] == 2);
  CHECK(listed["lastComputed"] == kStart + 3600);
  CHECK(listed["lastMod"] == kStart + 3600);

  const std::string after = a.request("26umsb5", "props=1&propKeys=email");
  a.complete(before);
  a.complete(after);
  CHECK(parse_csv(a.get("/api/5/cohorts/request/" + before + "/file").body).rows.size() == 4);
  Csv shrunk = parse_csv(a.get("/api/5/cohorts/request/" + after + "/file").body);
  REQUIRE(shrunk.rows.size() == 2);
  CHECK(shrunk.rows[0]["amplitude_id"] == "123456789");
  CHECK(shrunk.rows[1]["amplitude_id"] == "123456790");

  // Grows again, by user_id; adding a member twice changes nothing.
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/cohorts/26umsb5/members",
                  {{"add", {"user-4", 123456789}}})
              .status == 200);
  CHECK(a.get("/api/3/cohorts").js()["cohorts"][0]["size"] == 3);
  CHECK(
      a.admin("POST", "/_sandbox/amplitude/cohorts/26umsb5/members", {{"add", {"ghost"}}}).status ==
      400);
  CHECK(a.admin("POST", "/_sandbox/amplitude/cohorts/nope/members", {{"add", json::array()}})
            .status == 404);
}

TEST_CASE("admin: users change their email, lose it, and new users appear") {
  Amp a;
  Answer u = a.admin(
      "POST", "/_sandbox/amplitude/users",
      {{"amplitude_id", 123456789}, {"user_properties", {{"email", "jane.doe@example.org"}}}});
  REQUIRE(u.status == 200);
  CHECK(u.js()["user_properties"] == json({{"email", "jane.doe@example.org"}, {"plan", "pro"}}));
  // By user_id; null removes a property.
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/users",
                  {{"user_id", "user-3"}, {"user_properties", {{"email", nullptr}}}})
              .status == 200);
  Answer created =
      a.admin("POST", "/_sandbox/amplitude/users",
              {{"user_id", "new-user"}, {"user_properties", {{"email", "new@example.com"}}}});
  REQUIRE(created.status == 201);
  const std::int64_t new_id = created.js()["amplitude_id"];
  CHECK(new_id == 123456793);
  REQUIRE(
      a.admin("POST", "/_sandbox/amplitude/cohorts/26umsb5/members", {{"add", {new_id}}}).status ==
      200);
  const std::string rid = a.request("26umsb5", "props=1&propKeys=email");
  a.complete(rid);
  Csv csv = parse_csv(a.get("/api/5/cohorts/request/" + rid + "/file").body);
  REQUIRE(csv.rows.size() == 5);
  CHECK(csv.rows[0]["email"] == "jane.doe@example.org");
  CHECK(csv.rows[2]["email"] == "");
  CHECK(csv.rows[4]["email"] == "new@example.com");
  CHECK(csv.rows[4]["user_id"] == "new-user");
  // A user_id is one user's.
  CHECK(a.admin("POST", "/_sandbox/amplitude/users",
                {{"amplitude_id", 123456790}, {"user_id", "user-3"}})
            .status == 400);
  CHECK(
      a.admin("POST", "/_sandbox/amplitude/users", {{"user_properties", json::object()}}).status ==
      400);
}

TEST_CASE("admin: a new cohort, with a drawn id, listed by the API") {
  Amp a;
  Answer c = a.admin("POST", "/_sandbox/amplitude/cohorts",
                     {{"name", "Paying"}, {"members", {123456789}}});
  REQUIRE(c.status == 201);
  const std::string id = c.js()["id"];
  CHECK(id.size() == 7);
  json listed = a.get("/api/3/cohorts?cohortIds=" + id).js()["cohorts"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["name"] == "Paying");
  CHECK(listed[0]["size"] == 1);
  CHECK(listed[0]["createdAt"] == kStart);
  Answer dup = a.admin("POST", "/_sandbox/amplitude/cohorts", {{"id", "26umsb5"}, {"name", "x"}});
  CHECK(dup.status == 400);
  CHECK(dup.js()["detail"] == "cohort.id: \"26umsb5\" is already the id of another cohort");
  CHECK(a.admin("POST", "/_sandbox/amplitude/cohorts", {{"id", "zz"}}).js()["detail"] ==
        "cohort.name: required");
}

// ---- limits ------------------------------------------------------------------------------------

TEST_CASE("limits: 4 exports in parallel per minute, then 429") {
  Amp a;
  std::vector<std::string> rids;
  for (int i = 0; i < 4; ++i)
    rids.push_back(a.request("26umsb5"));
  Answer fifth = a.get("/api/5/cohorts/request/26umsb5");
  CHECK(fifth.status == 429);
  CHECK(fifth.js()["error"]["http_code"] == 429);
  // One completes: room for one more.
  a.complete(rids[0]);
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 202);
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 429);
  // A minute later the unfinished ones no longer count.
  a.advance(60);
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 202);
}

TEST_CASE("limits: requests per window and per month, configurable") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings",
                  {{"max_parallel_exports", 0}, {"exports_per_window", 3}, {"window_seconds", 600}})
              .status == 200);
  for (int i = 0; i < 3; ++i)
    a.request("26umsb5");
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 429);
  a.advance(599);
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 429);
  a.advance(1);
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 202);
  // Refused requests do not count; the list is not limited.
  CHECK(a.get("/api/3/cohorts").status == 200);

  Amp m;
  REQUIRE(m.admin("POST", "/_sandbox/amplitude/settings",
                  {{"max_parallel_exports", 0}, {"monthly_exports", 2}})
              .status == 200);
  m.request("26umsb5");
  m.request("26umsb5");
  Answer over = m.get("/api/5/cohorts/request/26umsb5");
  CHECK(over.status == 429);
  CHECK(over.js()["error"]["metadata"]["details"].get<std::string>().find("Monthly") !=
        std::string::npos);
  m.advance(31 * 86400);  // April
  CHECK(m.get("/api/5/cohorts/request/26umsb5").status == 202);
}

TEST_CASE("limits: the cohort size cap, and simultaneous requests beyond max_concurrent") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"max_cohort_size", 3}}).status == 200);
  CHECK(a.get("/api/5/cohorts/request/26umsb5").status == 400);

  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"max_concurrent", 1}}).status == 200);
  REQUIRE(a.admin("POST", "/_sandbox/faults", {{"next", {"delay:400"}}}).status == 200);
  auto slow = std::async(std::launch::async, [&] { return a.get("/api/3/cohorts"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  Answer busy = a.get("/api/3/cohorts");
  CHECK(busy.status == 429);
  CHECK(busy.fault.empty());
  CHECK(slow.get().status == 200);
  CHECK(a.get("/api/3/cohorts").status == 200);
}

// ---- seed, state, check ------------------------------------------------------------------------

TEST_CASE("state: seed -> state_part -> install gives the same state, exports and URLs included") {
  Amp a;
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"download", "redirect"}}).status ==
          200);
  const std::string rid = a.request("26umsb5", "props=1&propKeys=email");
  a.complete(rid);
  const std::string url = a.get("/api/5/cohorts/request/" + rid + "/file").header("Location");
  const std::string pending = a.request("archd01");
  const std::string state = a.part->state_part();
  json s = json::parse(state);
  CHECK(s["api_key"] == "key-1");
  CHECK(s["cohorts"][0]["members"].size() == 4);
  CHECK(s["cohorts"][0]["size"] == 4);
  CHECK(s["exports"].size() == 2);
  CHECK(s["download_links"].size() == 1);
  CHECK(s["usage"]["month_count"] == 2);
  CHECK(s["settings"]["download"] == "redirect");

  Amp b;
  REQUIRE(b.part->check(std::string_view(state)).is_ok());
  auto counts = b.part->install(std::string_view(state));
  REQUIRE(counts.is_ok());
  CHECK(json::parse(*counts) == json({{"users", 4}, {"cohorts", 2}}));
  CHECK(b.part->state_part() == state);
  // The reloaded part carries on: the URL still downloads, the pending export still polls.
  CHECK(b.send("GET", Amp::target_of(url), std::nullopt).status == 200);
  CHECK(b.get("/api/5/cohorts/request-status/" + pending).status == 202);
  CHECK(b.get("/api/5/cohorts/request-status/" + pending).status == 200);

  // No object: an empty project with the default keys.
  REQUIRE(b.part->install(std::nullopt).is_ok());
  CHECK(b.send("GET", "/api/3/cohorts",
               Amp::basic("sandbox-amplitude-api-key", "sandbox-amplitude-secret-key"))
            .body == R"({"cohorts":[]})");
}

TEST_CASE("check: a bad seed is refused naming the field, and changes nothing") {
  struct Row {
    const char* seed;
    const char* message;
  };
  const std::vector<Row> rows = {
      {R"([1])", "amplitude: expected an object"},
      {R"({"api_key": 7})", "amplitude.api_key: expected a non-empty string"},
      {R"({"cohort": []})", "amplitude.cohort: unknown key"},
      {R"({"users": [{"user_id": "a"}]})", "amplitude.users[0].amplitude_id: required"},
      {R"({"users": [{"amplitude_id": 1}, {"amplitude_id": 1}]})",
       "amplitude.users[1].amplitude_id: 1 is the amplitude_id of another user"},
      {R"({"users": [{"amplitude_id": 1, "user_id": "u"}, {"amplitude_id": 2, "user_id": "u"}]})",
       "amplitude.users[1].user_id: \"u\" is the user_id of another user"},
      {R"({"users": [{"amplitude_id": 1, "user_properties": []}]})",
       "amplitude.users[0].user_properties: expected an object"},
      {R"({"users": [{"amplitude_id": 1, "email": "x"}]})",
       "amplitude.users[0].email: unknown key"},
      {R"({"cohorts": [{"name": "x"}]})", "amplitude.cohorts[0].id: required"},
      {R"({"cohorts": [{"id": "a"}]})", "amplitude.cohorts[0].name: required"},
      {R"({"cohorts": [{"id": "a", "name": "x"}, {"id": "a", "name": "y"}]})",
       "amplitude.cohorts[1].id: \"a\" is already the id of another cohort"},
      {R"({"cohorts": [{"id": "a", "name": "x", "archived": "no"}]})",
       "amplitude.cohorts[0].archived: expected true or false"},
      {R"({"cohorts": [{"id": "a", "name": "x", "lastComputed": -1}]})",
       "amplitude.cohorts[0].lastComputed: expected epoch seconds (an integer)"},
      {R"({"cohorts": [{"id": "a", "name": "x", "members": [5]}]})",
       "amplitude.cohorts[0].members[0]: 5 is not the amplitude_id of a user"},
      {R"({"users": [{"amplitude_id": 5}], "cohorts": [{"id": "a", "name": "x", "members": [5, 5]}]})",
       "amplitude.cohorts[0].members[1]: 5 is listed twice"},
      {R"({"users": [{"amplitude_id": 5}], "cohorts": [{"id": "a", "name": "x", "size": 2, "members": [5]}]})",
       "amplitude.cohorts[0].size: 2, but the cohort has 1 members (size is their count)"},
      {R"({"settings": {"download": "s3"}})",
       "amplitude.settings.download: expected \"auto\", \"inline\" or \"redirect\""},
      {R"({"settings": {"link_seconds": 0}})",
       "amplitude.settings.link_seconds: expected an integer of at least 1"},
      {R"({"settings": {"speed": 1}})", "amplitude.settings.speed: unknown setting"},
      {R"({"exports": [{"request_id": "r", "cohort_id": "zz", "requested_at": 1, "csv": ""}]})",
       "amplitude.exports[0].cohort_id: \"zz\" is not a cohort's id"},
      {R"({"download_links": [{"signature": "s", "request_id": "r", "issued_at": 1, "expires_at": 2}]})",
       "amplitude.download_links[0].request_id: \"r\" is not an export's request_id"},
      {R"({"usage": {"month": "March"}})", "amplitude.usage.month: expected \"YYYY-MM\""},
  };
  Amp a;
  const std::string before = a.part->state_part();
  for (const Row& row : rows) {
    INFO(row.seed);
    concord::Status s = a.part->check(std::string_view(row.seed));
    CHECK_FALSE(s.is_ok());
    CHECK(s.message() == row.message);
    auto r = a.part->install(std::string_view(row.seed));
    CHECK_FALSE(r.is_ok());
  }
  CHECK(a.part->state_part() == before);
  CHECK(a.part->check(std::string_view("null")).is_ok());
  CHECK(a.part->check(std::nullopt).is_ok());
}

TEST_CASE("state: generation moves on every change, not on reads") {
  Amp a;
  std::uint64_t g = a.part->generation();
  a.get("/api/3/cohorts");
  CHECK(a.part->generation() == g);
  const std::string rid = a.request("26umsb5");
  CHECK(a.part->generation() > g);
  g = a.part->generation();
  a.get("/api/5/cohorts/request-status/" + rid);  // a poll is counted
  CHECK(a.part->generation() > g);
  g = a.part->generation();
  a.admin("POST", "/_sandbox/amplitude/users", {{"amplitude_id", 1}});
  CHECK(a.part->generation() > g);
}

// ---- faults and admin access -------------------------------------------------------------------

TEST_CASE("faults: scripted statuses, resets and truncation, on the API and the download URL") {
  Amp a;
  Answer cfg = a.admin("POST", "/_sandbox/faults",
                       {{"next", {"503", "500", "429", "reset", "truncate", "none"}}});
  REQUIRE(cfg.status == 200);
  CHECK(cfg.js()["part"] == "amplitude");
  Answer r503 = a.get("/api/3/cohorts");
  CHECK(r503.status == 503);
  CHECK(r503.fault == "503");
  CHECK(r503.header("Content-Type") == "text/html");
  Answer r500 = a.get("/api/3/cohorts");
  CHECK(r500.status == 500);
  CHECK(r500.js()["error"]["http_code"] == 500);
  CHECK(a.get("/api/3/cohorts").status == 429);
  Answer reset = a.get("/api/5/cohorts/request/26umsb5");
  CHECK(reset.reset);
  CHECK(reset.fault == "reset");
  // A reset request was not carried out: no export.
  CHECK(a.admin("GET", "/_sandbox/amplitude/exports").js()["exports"].empty());
  Answer cut = a.get("/api/3/cohorts");
  CHECK(cut.status == 200);
  CHECK(cut.truncate_at == cut.body.size() / 2);
  Answer fine = a.get("/api/3/cohorts");
  CHECK(fine.status == 200);
  CHECK(fine.fault.empty());

  // The download URL goes through the faults too, answering as S3.
  REQUIRE(a.admin("POST", "/_sandbox/amplitude/settings", {{"download", "redirect"}}).status ==
          200);
  const std::string rid = a.request("26umsb5");
  a.complete(rid);
  const std::string target =
      Amp::target_of(a.get("/api/5/cohorts/request/" + rid + "/file").header("Location"));
  REQUIRE(
      a.admin("POST", "/_sandbox/faults", {{"next", {"503"}}, {"path_prefix", "/cohort-exports/"}})
          .status == 200);
  CHECK(a.get("/api/3/cohorts").status == 200);  // outside path_prefix
  Answer slow = a.send("GET", target, std::nullopt);
  CHECK(slow.status == 503);
  CHECK(slow.body.find("<Code>SlowDown</Code>") != std::string::npos);
  CHECK(a.send("GET", target, std::nullopt).status == 200);
  CHECK(a.admin("GET", "/_sandbox/faults").js()["path_prefix"] == "/cohort-exports/");
  // A reset of the part clears its faults.
  REQUIRE(a.admin("POST", "/_sandbox/faults", {{"next", {"500"}}}).status == 200);
  REQUIRE(a.part->install(std::string_view(kSeed)).is_ok());
  CHECK(a.get("/api/3/cohorts").status == 200);
}

TEST_CASE("admin: loopback only, never faulted; unknown routes and methods") {
  Amp a;
  Answer remote = a.send("GET", "/_sandbox/amplitude/settings", std::nullopt, "", false);
  CHECK(remote.status == 403);
  CHECK(a.send("POST", "/_sandbox/faults", std::nullopt, "{}", false).status == 403);
  REQUIRE(a.admin("POST", "/_sandbox/faults", {{"next", {"500"}}}).status == 200);
  Answer settings = a.admin("GET", "/_sandbox/amplitude/settings");
  CHECK(settings.status == 200);
  CHECK(settings.fault.empty());
  CHECK(settings.js()["link_seconds"] == 60);
  CHECK(settings.js()["max_concurrent"] == 5);
  CHECK(a.admin("POST", "/_sandbox/amplitude/settings", {{"nope", 1}}).js()["detail"] ==
        "nope: unknown setting");
  CHECK(a.admin("GET", "/_sandbox/amplitude/nothing").status == 404);
  CHECK(a.admin("DELETE", "/_sandbox/amplitude/users").status == 405);
  CHECK(a.send("POST", "/_sandbox/amplitude/users", std::nullopt, "not json").status == 400);
  // The API: unknown routes and other methods.
  CHECK(a.get("/api/3/cohorts").status == 500);  // the scripted fault, used up
  CHECK(a.get("/api/3/cohort").status == 404);
  CHECK(a.send("POST", "/api/3/cohorts", Amp::basic("key-1", "secret-1")).status == 405);
  CHECK(a.get("/elsewhere").status == 404);
}
