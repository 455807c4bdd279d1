// The sandbox's Auth0 part: users-export jobs (create, poll through pending and processing to
// completed, the signed download URL and its expiry, the gzipped NDJSON and CSV files, failures,
// the body's validation, the job's retention) and the admin route that inspects them.
#include <catch2/catch.hpp>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "auth0_site.h"

using namespace concord::testing::auth0_site;

namespace {

Response create(Site& s, const std::string& token, const ojson& body) {
  return s.post_json("/api/v2/jobs/users-exports", body, {{"Authorization", "Bearer " + token}});
}

// The path and query of an absolute URL on the sandbox ("https://127.0.0.1:4430/…").
std::string target_of(const std::string& url) {
  const std::string origin = "https://127.0.0.1:4430";
  REQUIRE(url.rfind(origin, 0) == 0);
  return url.substr(origin.size());
}

std::vector<json> ndjson(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    lines.push_back(json::parse(line));
  return lines;
}

}  // namespace

TEST_CASE("export: a job goes pending, processing, completed, and its file is gzipped NDJSON") {
  Site s;
  const std::string token = s.token();
  // The recorded request.
  Response made = create(s, token,
                         {{"connection_id", kNewsletterId},
                          {"format", "json"},
                          {"limit", 5},
                          {"fields",
                           {{{"name", "user_id"}},
                            {{"name", "email"}},
                            {{"name", "identities[0].connection"}, {"export_as", "provider"}},
                            {{"name", "user_metadata"}},
                            {{"name", "app_metadata"}}}}});
  REQUIRE(made.status == 200);  // 200, not 201 or 202
  json job = made.j();
  const std::string id = job["id"];
  CHECK(std::regex_match(id, std::regex("job_[A-Za-z0-9]{16}")));
  CHECK(
      made.body ==
      R"({"type":"users_export","status":"pending","connection_id":"con_ftSSLHb0O7rcUGmF","format":"json","limit":5,)"
      R"("fields":[{"name":"user_id"},{"name":"email"},{"name":"identities[0].connection","export_as":"provider"},)"
      R"({"name":"user_metadata"},{"name":"app_metadata"}],"connection":"newsletter-db",)"
      R"("created_at":"2026-03-01T12:00:00.000Z","id":")" +
          id + "\"}");

  // Default pace: one poll pending, one processing, then completed.
  Response p1 = s.get("/api/v2/jobs/" + id, token);
  REQUIRE(p1.status == 200);
  CHECK(p1.j()["status"] == "pending");
  CHECK_FALSE(p1.j().contains("location"));
  Response p2 = s.get("/api/v2/jobs/" + id, token);
  CHECK(p2.j()["status"] == "processing");
  CHECK(p2.j()["percentage_done"] == 50);
  Response p3 = s.get("/api/v2/jobs/" + id, token);
  json done = p3.j();
  REQUIRE(done["status"] == "completed");
  const std::string location = done["location"];
  // The documented key order, location before connection.
  CHECK(p3.body.find(R"(],"location":")") != std::string::npos);
  CHECK(p3.body.find(R"(","connection":"newsletter-db","created_at")") != std::string::npos);
  CHECK(std::regex_match(location,
                         std::regex("https://127\\.0\\.0\\.1:4430/user-exports/" + id +
                                    "/acme\\.json\\.gz\\?Expires=[0-9]+&Key-Pair-Id=[A-Z0-9]+&"
                                    "Signature=[A-Za-z0-9_-]+")));
  CHECK(location.find("Expires=" + std::to_string(start_time() / 1000000 + 60)) !=
        std::string::npos);

  // The download needs no token.
  Response file = s.call("GET", target_of(location));
  REQUIRE(file.status == 200);
  CHECK(file.header("Content-Type") == "application/gzip");
  CHECK(static_cast<unsigned char>(file.body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(file.body[1]) == 0x8b);
  const std::string text = gunzip(file.body);
  CHECK(text.back() == '\n');
  std::vector<json> lines = ndjson(text);
  REQUIRE(lines.size() == 4);
  CHECK(
      lines[0] ==
      json::parse(
          R"({"user_id":"auth0|63d17c4dede19c15715de31c","email":"chuck904@example.com","provider":"newsletter-db","user_metadata":{"favourite_attack":"roundhouse_kick"},"app_metadata":{"plan":"gold"}})"));
  // Fields a user lacks are left out.
  CHECK(
      lines[1] ==
      json::parse(
          R"({"user_id":"auth0|000000000000000000000002","email":"wilma@bedrock.org","provider":"newsletter-db"})"));
  CHECK(text.rfind(R"({"user_id":"auth0|63d17c4dede19c15715de31c","email":)", 0) == 0);

  // Polling again answers the same URL; the file expires 60 s after completion.
  CHECK(s.get("/api/v2/jobs/" + id, token).j()["location"] == location);
  s.advance(59);
  CHECK(s.call("GET", target_of(location)).status == 200);
  s.advance(1);
  Response gone = s.call("GET", target_of(location));
  CHECK(gone.status == 403);
  CHECK(gone.header("Content-Type") == "text/xml");
  CHECK(gone.body.find("<Code>AccessDenied</Code>") != std::string::npos);
  CHECK(s.get("/api/v2/jobs/" + id, token).j()["location"] == location);

  // Job data is deleted after 24 hours (the token has expired by then too: a new one).
  s.advance(86400 - 60 - 1);
  CHECK(s.get("/api/v2/jobs/" + id).status == 200);
  s.advance(1);
  Response deleted = s.get("/api/v2/jobs/" + id);
  CHECK(deleted.status == 404);
  CHECK(
      deleted.body ==
      R"({"statusCode":404,"error":"Not Found","message":"The job does not exist.","errorCode":"inexistent_job"})");
}

TEST_CASE("export: a URL the sandbox did not hand out is refused") {
  Site s;
  const std::string token = s.token();
  json job = create(s, token, {{"connection_id", kNewsletterId}}).j();
  const std::string id = job["id"];
  s.get("/api/v2/jobs/" + id, token);
  s.get("/api/v2/jobs/" + id, token);
  const std::string location = s.get("/api/v2/jobs/" + id, token).j()["location"];
  const std::string target = target_of(location);
  CHECK(s.call("GET", target).status == 200);
  CHECK(s.call("GET", target.substr(0, target.size() - 2) + "xx").status == 403);
  CHECK(s.call("GET", target.substr(0, target.find('?'))).status == 403);
  std::string other = target;
  other.replace(other.find("acme.json.gz"), 12, "acme.csv.gz");
  CHECK(s.call("GET", other).status == 403);
  CHECK(s.call("GET", "/user-exports/job_0000000000000000/acme.json.gz").status == 403);
}

TEST_CASE("export: default fields, the whole tenant, and a limit") {
  Site s;
  const std::string token = s.token();
  json job = create(s, token, {{"limit", 5}}).j();
  CHECK_FALSE(job.contains("connection_id"));
  CHECK_FALSE(job.contains("connection"));
  CHECK(job["format"] == "json");
  CHECK(job["fields"].size() == 9);
  const std::string id = job["id"];
  s.get("/api/v2/jobs/" + id, token);
  s.get("/api/v2/jobs/" + id, token);
  const std::string location = s.get("/api/v2/jobs/" + id, token).j()["location"];
  std::vector<json> lines = ndjson(gunzip(s.call("GET", target_of(location)).body));
  REQUIRE(lines.size() == 5);
  CHECK(lines[4]["email"] == "betty@bedrock.org");
  CHECK(lines[0]["updated_at"] == "2024-05-01T00:00:00.000Z");
  CHECK(lines[0]["email_verified"] == true);
}

TEST_CASE("export: CSV escapes strings against injection and leaves Auth0's times bare") {
  Site s;
  const std::string token = s.token();
  json job = create(s, token,
                    {{"connection_id", kNewsletterId},
                     {"format", "csv"},
                     {"fields",
                      {{{"name", "user_id"}},
                       {{"name", "name"}},
                       {{"name", "updated_at"}},
                       {{"name", "email_verified"}},
                       {{"name", "user_metadata.favourite_attack"}, {"export_as", "attack"}}}}})
                 .j();
  const std::string id = job["id"];
  s.get("/api/v2/jobs/" + id, token);
  s.get("/api/v2/jobs/" + id, token);
  const std::string location = s.get("/api/v2/jobs/" + id, token).j()["location"];
  CHECK(location.find("/acme.csv.gz?") != std::string::npos);
  const std::string text = gunzip(s.call("GET", target_of(location)).body);
  CHECK(
      text ==
      "user_id,name,updated_at,email_verified,attack\n"
      "\"'auth0|63d17c4dede19c15715de31c\",\"'chuck904@example.com\",2024-05-01T00:00:00.000Z,"
      "true,\"'roundhouse_kick\"\n"
      "\"'auth0|000000000000000000000002\",\"'wilma@bedrock.org\",2024-05-01T00:00:00.001Z,true,\n"
      "\"'auth0|000000000000000000000003\",\"'fred@bedrock.org\",2024-05-01T10:00:00.000Z,true,\n"
      "\"'auth0|000000000000000000000004\",\"'Barney \"\"B\"\" Rubble\",2024-06-15T08:30:00.000Z,"
      "true,\n");
}

TEST_CASE("export: the pace follows the settings, by polls and by the sandbox clock") {
  ojson sd = seed();
  sd["settings"] = {
      {"export_jobs", {{"pending_polls", 2}, {"processing_polls", 0}, {"processing_seconds", 30}}}};
  Site s(sd);
  const std::string token = s.token();
  const std::string id = create(s, token, {{"connection_id", kNewsletterId}}).j()["id"];
  auto poll = [&] { return s.get("/api/v2/jobs/" + id, token).j(); };
  CHECK(poll()["status"] == "pending");
  CHECK(poll()["status"] == "pending");
  json p = poll();
  CHECK(p["status"] == "processing");
  CHECK(p["time_left_seconds"] == 30);
  s.advance(29);
  CHECK(poll()["status"] == "processing");
  s.advance(1);
  CHECK(poll()["status"] == "completed");
}

TEST_CASE("export: a job created while fail_export_jobs is set ends failed") {
  Site s;
  const std::string token = s.token();
  REQUIRE(s.admin("POST", "/_sandbox/faults", {{"fail_export_jobs", true}}).status == 200);
  const std::string failing = create(s, token, {{"connection_id", kNewsletterId}}).j()["id"];
  REQUIRE(s.admin("POST", "/_sandbox/faults", ojson::object()).status == 200);
  const std::string fine = create(s, token, {{"connection_id", kNewsletterId}}).j()["id"];
  for (int i = 0; i < 3; ++i) {
    s.get("/api/v2/jobs/" + failing, token);
    s.get("/api/v2/jobs/" + fine, token);
  }
  json f = s.get("/api/v2/jobs/" + failing, token).j();
  CHECK(f["status"] == "failed");
  CHECK_FALSE(f.contains("location"));
  CHECK(s.get("/api/v2/jobs/" + fine, token).j()["status"] == "completed");
}

TEST_CASE("export: the body is validated as the API's schema does") {
  Site s;
  const std::string token = s.token();
  struct Case {
    const char* name;
    ojson body;
    int status;
    std::string message;
    std::string code;
  };
  std::vector<Case> cases = {
      {"a format that is not json or csv",
       {{"format", "ndjson"}},
       400,
       "Payload validation error: 'No enum match for: \"ndjson\"' on property format (Format of "
       "the file. Must be `json` or `csv`.).",
       "invalid_body"},
      {"a limit below 1",
       {{"limit", 0}},
       400,
       "Payload validation error: 'Value 0 is less than minimum 1' on property limit (Limit the "
       "number of records.).",
       "invalid_body"},
      {"a connection id of the wrong form",
       {{"connection_id", "newsletter-db"}},
       400,
       "Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$: "
       "newsletter-db' on property connection_id (connection_id of the connection from which "
       "users will be exported.).",
       "invalid_body"},
      {"an unknown connection",
       {{"connection_id", "con_0000000000000000"}},
       404,
       "The connection does not exist",
       "inexistent_connection"},
      {"a field without a name",
       {{"fields", {{{"export_as", "x"}}}}},
       400,
       "Payload validation error: 'Missing required property: name' on property fields[0] (List "
       "of fields to be included in the CSV. Defaults to a predefined set of fields.).",
       "invalid_body"},
      {"an unknown key",
       {{"connection", "newsletter-db"}},
       400,
       "Payload validation error: 'Additional properties not allowed: connection'.",
       "invalid_body"},
      {"the whole user_metadata in CSV",
       {{"format", "csv"}, {"fields", {{{"name", "email"}}, {{"name", "user_metadata"}}}}},
       400,
       "The whole user_metadata cannot be exported in CSV format: list its fields, e.g. "
       "user_metadata.consent.given",
       "invalid_body"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Response r = create(s, token, c.body);
    CHECK(r.status == c.status);
    CHECK(r.j()["message"] == c.message);
    CHECK(r.j()["errorCode"] == c.code);
  }
  ojson many = ojson::array();
  for (int i = 0; i < 31; ++i)
    many.push_back({{"name", "user_metadata.f" + std::to_string(i)}});
  Response wide = create(s, token, {{"format", "csv"}, {"fields", many}});
  CHECK(wide.status == 400);
  CHECK(wide.j()["message"].get<std::string>().find("'Array is too long (31), maximum 30'") !=
        std::string::npos);
  Response not_json =
      s.call("POST", "/api/v2/jobs/users-exports", "{nope",
             {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  CHECK(not_json.status == 400);
  CHECK(not_json.j()["message"] == "Invalid request payload JSON format");

  CHECK(s.get("/api/v2/jobs/job_0000000000000001", token).status == 404);
  Response bad_id = s.get("/api/v2/jobs/12345", token);
  CHECK(bad_id.status == 400);
  CHECK(bad_id.j()["errorCode"] == "invalid_uri");
  // Creating a job needs read:users.
  CHECK(create(s, s.token("ConnOnly", "c0nn"), {{"format", "json"}}).status == 403);
  CHECK(s.post_json("/api/v2/jobs/users-exports", {{"format", "json"}}).status == 401);
}

TEST_CASE("export: the admin route shows jobs without counting a poll") {
  Site s;
  const std::string token = s.token();
  const std::string id = create(s, token, {{"connection_id", kNewsletterId}}).j()["id"];
  Response list = s.admin("GET", "/_sandbox/auth0/jobs");
  REQUIRE(list.status == 200);
  json jobs = list.j()["jobs"];
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["job"]["id"] == id);
  CHECK(jobs[0]["polls"] == 0);
  CHECK(s.admin("GET", "/_sandbox/auth0/jobs/" + id).j()["polls"] == 0);
  for (int i = 0; i < 3; ++i)
    s.get("/api/v2/jobs/" + id, token);
  json one = s.admin("GET", "/_sandbox/auth0/jobs/" + id).j();
  CHECK(one["polls"] == 3);
  CHECK(one["job"]["status"] == "completed");
  CHECK(one["file_bytes"].get<int>() > 20);
  CHECK(one["url_expires_at"] == "2026-03-01T12:01:00.000Z");
  CHECK(s.admin("GET", "/_sandbox/auth0/jobs/job_nope").status == 404);
  CHECK(s.call("GET", "/_sandbox/auth0/jobs", "", {}, false).status == 403);
}
