// The Mautic client against an in-process fake of the REST API (no sockets): the requests it sends,
// segments resolved, contacts read by key set, the reads an incremental mirror needs besides,
// authentication (Basic, OAuth2 tokens cached and renewed) and rate limits.
#include <catch2/catch.hpp>

#include "fake_mautic.h"

using namespace concord;
using namespace concord::testing;

namespace {

const std::string kTime = "2026-12-06T12:00:00+00:00";

Micros at(const char* iso) {
  Result<Micros> t = parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

std::string field(const SourcePerson& p, const std::string& name) {
  for (const auto& [k, v] : p.fields) {
    if (k == name) return v;
  }
  FAIL("no field " << name);
  return {};
}

// The queries of the fake's log to one path.
std::vector<std::map<std::string, std::string>> queries(const FakeMautic& fake,
                                                        const std::string& path) {
  std::vector<std::map<std::string, std::string>> out;
  for (const http::Request& r : fake.log) {
    if (r.target.substr(0, r.target.find('?')) == path)
      out.push_back(FakeMautic::query_of(r.target));
  }
  return out;
}

}  // namespace

TEST_CASE("mautic: options are checked, naming the option and never the secret") {
  struct Case {
    std::function<void(MauticOptions&)> change;
    std::string says;
  };
  const std::vector<Case> cases = {
      {[](MauticOptions& o) { o.base_url.clear(); }, "base_url"},
      {[](MauticOptions& o) { o.base_url = "ftp://x"; }, "base_url"},
      {[](MauticOptions& o) { o.username.clear(); }, "username"},
      {[](MauticOptions& o) { o.password.clear(); }, "password of user \"admin\""},
      {[](MauticOptions& o) { o.client_id = "1_x"; }, "not both"},
      {[](MauticOptions& o) {
         o.username.clear();
         o.password.clear();
       },
       "no credentials"},
      {[](MauticOptions& o) {
         o.username.clear();
         o.password.clear();
         o.client_id = "1_client";
       },
       "client_secret of client id \"1_client\""},
      {[](MauticOptions& o) {
         o.username.clear();
         o.password.clear();
         o.client_secret = kClientSecret;
       },
       "client_id"},
      {[](MauticOptions& o) { o.page_size = 0; }, "page_size"},
      {[](MauticOptions& o) { o.id_page_size = 1000000; }, "id_page_size"},
      {[](MauticOptions& o) { o.rate_limit_retries = -1; }, "rate_limit_retries"},
  };
  for (const Case& c : cases) {
    Setup s;
    MauticOptions o = s.options();
    c.change(o);
    auto r = MauticClient::create(o, std::make_unique<FakeTransport>(s.fake));
    REQUIRE_FALSE(r.is_ok());
    INFO(r.status().message());
    CHECK(r.status().code() == Status::Code::kInvalid);
    CHECK(r.status().message().find(c.says) != std::string::npos);
    check_no_secret(r.status());
  }
}

TEST_CASE("mautic: a segment resolves by id, alias or name; errors list what exists") {
  Setup s;
  for (int i = 1; i <= 450; ++i)  // three pages of segments
    s.fake.add_segment(i, "Segment " + std::to_string(i), "segment-" + std::to_string(i));
  s.fake.add_segment(500, "Newsletter", "news");
  s.fake.add_segment(501, "Twice", "twice-a");
  s.fake.add_segment(502, "Twice", "twice-b");
  auto c = s.client();

  auto by_id = c->reader("0500", {});
  REQUIRE(by_id->resolve().is_ok());
  CHECK(by_id->segment_id() == 500);
  CHECK(by_id->segment_alias() == "news");
  CHECK(by_id->set_name() == "Newsletter");
  CHECK(queries(s.fake, "/api/segments").size() == 3);
  REQUIRE(by_id->resolve().is_ok());  // once
  CHECK(queries(s.fake, "/api/segments").size() == 3);

  auto by_alias = c->reader("news", {});
  REQUIRE(by_alias->resolve().is_ok());
  CHECK(by_alias->segment_id() == 500);
  auto by_name = c->reader("Newsletter", {});
  REQUIRE(by_name->resolve().is_ok());
  CHECK(by_name->segment_alias() == "news");

  Status twice = c->reader("Twice", {})->resolve();
  CHECK(twice.code() == Status::Code::kInvalid);
  CHECK(twice.message().find("501, 502") != std::string::npos);
  CHECK(twice.message().find("give the id") != std::string::npos);
  CHECK(twice.origin() == Origin::kMautic);

  Status missing = c->reader("Newsleter", {})->resolve();
  CHECK(missing.code() == Status::Code::kNotFound);
  CHECK(missing.message().find("\"Segment 1\"") != std::string::npos);
  CHECK(missing.message().find("more") != std::string::npos);
  CHECK(c->reader("", {})->resolve().code() == Status::Code::kInvalid);
}

TEST_CASE("mautic: read_all pages by key set on the id and reads each contact") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  // Ids 1..12 in the segment (2 and 11 not), keyed as text in the answer ("10" before "9").
  for (int id = 1; id <= 12; ++id) {
    if (id == 2 || id == 11) {
      s.fake.add_contact(id, "out" + std::to_string(id) + "@example.org", {"other"});
    } else {
      s.fake.add_contact(id, "c" + std::to_string(id) + "@example.org", {"news"});
    }
  }
  s.fake.add_contact(
      4, "dnc@example.org", {"news"}, "2026-12-02 08:30:00",
      json::array({{{"id", 1}, {"reason", 1}, {"channel", "email"}, {"channelId", nullptr}}}),
      {{"points", 42}, {"vip", true}, {"company", nullptr}});
  s.fake.add_contact(5, "sms@example.org", {"news"}, "2026-12-01 10:00:00",
                     json::array({{{"reason", 1}, {"channel", "sms"}}}));
  s.fake.add_contact(6, "contactable@example.org", {"news"}, "2026-12-01 10:00:00",
                     json::array({{{"reason", 0}, {"channel", "email"}}}));
  MauticOptions o = s.options();
  o.page_size = 3;
  auto c = s.client(o);
  auto r = c->reader("news", {"firstname", "points", "vip", "company", "nothing"});
  Collect sink;
  Result<SideRead> read = r->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(ids_of(sink) ==
        std::vector<std::string>{"1", "3", "4", "5", "6", "7", "8", "9", "10", "12"});
  CHECK(sink.rejected.empty());
  CHECK(read->pages == 4);  // 3 + 3 + 3 + 1
  CHECK(read->watermark == at(kTime.c_str()));

  const auto qs = queries(s.fake, "/api/contacts");
  REQUIRE(qs.size() == 4);
  const std::vector<std::string> cursors = {"0", "4", "7", "10"};
  for (std::size_t i = 0; i < qs.size(); ++i) {
    CHECK(qs[i].at("search") == "segment:news");
    CHECK(qs[i].at("where[0][col]") == "id");
    CHECK(qs[i].at("where[0][expr]") == "gt");
    CHECK(qs[i].at("where[0][val]") == cursors[i]);
    CHECK(qs[i].at("limit") == "3");
    CHECK(qs[i].count("where[1][col]") == 0);
  }

  const SourcePerson& dnc = sink.people[2];
  CHECK(dnc.id == "4");
  CHECK(dnc.email == "dnc@example.org");
  CHECK(dnc.do_not_contact);
  CHECK(dnc.updated_at == at("2026-12-02T08:30:00Z"));
  CHECK(field(dnc, "firstname") == "First4");
  CHECK(field(dnc, "points") == "42");
  CHECK(field(dnc, "vip") == "true");
  CHECK(field(dnc, "company") == "");
  CHECK(field(dnc, "nothing") == "");
  CHECK_FALSE(sink.people[3].do_not_contact);  // an SMS entry is not about email
  CHECK_FALSE(sink.people[4].do_not_contact);  // reason 0: contactable
  CHECK_FALSE(sink.people[0].do_not_contact);
  CHECK(r->requests() == c->requests());
}

TEST_CASE("mautic: a page short of the total goes on; an integer total is read too") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  s.fake.total_as_int = true;
  for (int id = 1; id <= 5; ++id)
    s.fake.add_contact(id, "c" + std::to_string(id) + "@example.org", {"news"});
  // The first answer holds two contacts of the five it counts (a server capping its pages).
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    auto q = FakeMautic::query_of(req.target);
    if (req.target.rfind("/api/contacts", 0) != 0 || q["where[0][val]"] != "0") return {};
    json page = json::object();
    for (int id : {1, 2})
      page[std::to_string(id)] = s.fake.contacts.at(id).body;
    return s.fake.answer(200, {{"total", 5}, {"contacts", page}});
  };
  auto c = s.client();
  Collect sink;
  Result<SideRead> read = c->reader("news", {})->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(ids_of(sink) == std::vector<std::string>{"1", "2", "3", "4", "5"});
  CHECK(read->pages == 2);
}

TEST_CASE("mautic: a server that ignores the key set fails the read instead of looping") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  for (int id = 1; id <= 4; ++id)
    s.fake.add_contact(id, "c" + std::to_string(id) + "@example.org", {"news"});
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.target.rfind("/api/contacts", 0) != 0) return {};
    json page = json::object();
    for (int id : {1, 2})
      page[std::to_string(id)] = s.fake.contacts.at(id).body;
    return s.fake.answer(200, {{"total", "4"}, {"contacts", page}});
  };
  MauticOptions o = s.options();
  o.page_size = 2;
  auto c = s.client(o);
  Collect sink;
  Result<SideRead> read = c->reader("news", {})->read_all(sink);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().code() == Status::Code::kUnavailable);
  CHECK(read.status().message().find("page 1") != std::string::npos);
  CHECK(read.status().message().find("not after 2") != std::string::npos);
  CHECK(read.status().origin() == Origin::kMautic);
}

TEST_CASE("mautic: read_since asks for date_modified from the watermark less the overlap") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  s.fake.add_contact(1, "old@example.org", {"news"}, "2026-12-01 09:00:00");
  s.fake.add_contact(2, "edge@example.org", {"news"}, "2026-12-05 11:55:00");
  s.fake.add_contact(3, "new@example.org", {"news"}, "2026-12-05 13:00:00");
  auto c = s.client();
  auto r = c->reader("news", {});
  REQUIRE(r->incremental());
  Collect sink;
  const Micros watermark = at("2026-12-05T12:00:00Z");
  Result<SideRead> read = r->read_since(watermark, sink);
  REQUIRE(read.is_ok());
  CHECK(ids_of(sink) == std::vector<std::string>{"2", "3"});
  const auto qs = queries(s.fake, "/api/contacts");
  REQUIRE(qs.size() == 1);
  CHECK(qs[0].at("where[1][col]") == "date_modified");
  CHECK(qs[0].at("where[1][expr]") == "gte");
  CHECK(qs[0].at("where[1][val]") == "2026-12-05 11:55:00");
  CHECK(read->watermark == at(kTime.c_str()));

  // Without a Date header: the local time the read began; never before the watermark handed in.
  s.fake.date.clear();
  Collect again;
  read = r->read_since(watermark, again);
  REQUIRE(read.is_ok());
  CHECK(read->watermark == s.clock.now());
  read = r->read_since(s.clock.now() + 3600 * kMicrosPerSecond, again);
  REQUIRE(read.is_ok());
  CHECK(read->watermark == s.clock.now() + 3600 * kMicrosPerSecond);

  // No watermark at all: everyone.
  Collect all;
  REQUIRE(r->read_since(kNoTime, all).is_ok());
  CHECK(ids_of(all) == std::vector<std::string>{"1", "2", "3"});
  CHECK(queries(s.fake, "/api/contacts").back().count("where[1][col]") == 0);
}

TEST_CASE("mautic: member_ids lists everyone in the segment, cheaply, by key set") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  for (int id = 1; id <= 25; ++id)
    s.fake.add_contact(id, "c@example.org", {id % 5 == 0 ? "other" : "news"});
  MauticOptions o = s.options();
  o.id_page_size = 7;
  auto c = s.client(o);
  auto r = c->reader("news", {});
  Result<std::vector<std::int64_t>> ids = r->member_ids();
  REQUIRE(ids.is_ok());
  std::vector<std::int64_t> want;
  for (int id = 1; id <= 25; ++id) {
    if (id % 5 != 0) want.push_back(id);
  }
  CHECK(*ids == want);
  const auto qs = queries(s.fake, "/api/contacts");
  REQUIRE(qs.size() == 3);  // 7 + 7 + 6
  for (const auto& q : qs) {
    CHECK(q.at("select[]") == "id");
    CHECK(q.at("limit") == "7");
  }

  // An id that cannot be read fails the call: it would look like someone who left.
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.target.rfind("/api/contacts", 0) != 0) return {};
    return s.fake.answer(200,
                         {{"total", "2"}, {"contacts", json::array({{{"id", 1}}, {{"x", 1}}})}});
  };
  Result<std::vector<std::int64_t>> bad = r->member_ids();
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == Status::Code::kUnavailable);
  CHECK(bad.status().message().find("contact [1]") != std::string::npos);
}

TEST_CASE("mautic: read_contacts reads given ids and says which are not in the segment") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  for (int id = 1; id <= 450; ++id)
    s.fake.add_contact(id, "c" + std::to_string(id) + "@example.org", {id == 7 ? "other" : "news"});
  auto c = s.client();
  auto r = c->reader("news", {"firstname"});
  std::vector<std::int64_t> asked = {9, 7, 3, 3, 0, -4, 9999};
  for (int id = 100; id < 400; ++id)
    asked.push_back(id);
  Collect sink;
  Result<MauticContactsRead> got = r->read_contacts(asked, sink);
  REQUIRE(got.is_ok());
  CHECK(got->not_in_segment == std::vector<std::int64_t>{7, 9999});
  CHECK(sink.people.size() == 302);  // 3, 9, 100..399
  CHECK(sink.people.front().id == "3");
  CHECK(field(sink.people.front(), "firstname") == "First3");
  CHECK(got->read.pages == 2);  // 303 ids, 200 a request
  CHECK(got->read.watermark == kNoTime);
  const auto qs = queries(s.fake, "/api/contacts");
  REQUIRE(qs.size() == 2);
  CHECK(qs[0].at("where[0][expr]") == "in");
  CHECK(qs[0].at("where[0][val]").rfind("3,7,9,100,101,", 0) == 0);
  CHECK(qs[0].at("search") == "segment:news");

  // A contact that was not asked for means the server did not filter: an error, not a guess.
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.target.rfind("/api/contacts", 0) != 0) return {};
    return s.fake.answer(200, {{"total", "1"}, {"contacts", {{"8", s.fake.contacts.at(8).body}}}});
  };
  Collect other;
  Result<MauticContactsRead> wrong = r->read_contacts({3}, other);
  REQUIRE_FALSE(wrong.is_ok());
  CHECK(wrong.status().message().find("contact 8, which was not asked for") != std::string::npos);
  // Nor is a cut answer read as contacts gone.
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.target.rfind("/api/contacts", 0) != 0) return {};
    return s.fake.answer(200, {{"total", "2"}, {"contacts", {{"3", s.fake.contacts.at(3).body}}}});
  };
  wrong = r->read_contacts({3, 4}, other);
  REQUIRE_FALSE(wrong.is_ok());
  CHECK(wrong.status().message().find("1 contacts of the 2") != std::string::npos);
}

TEST_CASE("mautic: Basic auth failures are clear errors without the password") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  MauticOptions o = s.options();
  o.password = std::string(kPassword) + "-wrong";
  auto c = s.client(o);
  Status st = c->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("refused the credentials of user \"admin\"") != std::string::npos);
  CHECK(st.message().find("Authorization denied") != std::string::npos);
  check_no_secret(st);

  s.fake.script.push_back(s.fake.error(
      403,
      "API disabled. You need to enable the API in the API settings of Mautic's Configuration.",
      "api_disabled"));
  auto ok = s.client();
  st = ok->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("API disabled") != std::string::npos);
  CHECK(st.message().find("HTTP 403 api_disabled") != std::string::npos);
  CHECK(st.origin() == Origin::kMautic);

  s.fake.script.push_back(s.fake.error(
      403,
      "Basic Auth disabled. You need to enable HTTP basic auth in the API settings of Mautic's "
      "Configuration.",
      "access_denied"));
  st = ok->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("Basic Auth disabled") != std::string::npos);

  // A server echoing the credentials back does not get them into a message.
  s.fake.script.push_back(s.fake.error(
      500, std::string("oops ") + kPassword + " " + http::basic_authorization("admin", kPassword)));
  st = ok->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kUnavailable);
  CHECK(st.message().find("[redacted]") != std::string::npos);
  check_no_secret(st);
}

TEST_CASE("mautic: OAuth2 tokens are cached, renewed before expiry and once after a 401") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  for (int id = 1; id <= 6; ++id)
    s.fake.add_contact(id, "c" + std::to_string(id) + "@example.org", {"news"});
  MauticOptions o = s.options(/*oauth=*/true);
  o.page_size = 2;
  auto c = s.client(o);
  auto r = c->reader("news", {});
  Collect sink;
  REQUIRE(r->read_all(sink).is_ok());
  CHECK(c->tokens_fetched() == 1);
  CHECK(sink.people.size() == 6);
  REQUIRE(s.fake.log.front().target == "/oauth/v2/token");
  CHECK(s.fake.log.front().method == "POST");
  CHECK(s.fake.log.front().header("Content-Type") == "application/x-www-form-urlencoded");

  // Close to expiry (within the margin): a new one before the next request.
  s.clock.advance((3600 - 30) * kMicrosPerSecond);
  REQUIRE(c->ensure_token().is_ok());
  CHECK(c->tokens_fetched() == 2);

  // Revoked mid-read: the 401 fetches one new token and the read goes on.
  sink = Collect();
  int contacts_asked = 0;
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.target.rfind("/api/contacts", 0) == 0 && ++contacts_asked == 2) {
      s.fake.revoked.insert(s.fake.issued.back());
    }
    return {};
  };
  Result<SideRead> read = r->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(sink.people.size() == 6);
  CHECK(c->tokens_fetched() == 3);

  // A token refused again after renewal is an error, not a loop.
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.target.rfind("/api/", 0) != 0) return {};
    return s.fake.error(401, "The access token provided has expired.", "invalid_grant");
  };
  read = r->read_all(sink);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().code() == Status::Code::kInvalid);
  CHECK(read.status().message().find("a fresh token for client id \"1_client\"") !=
        std::string::npos);
  CHECK(c->tokens_fetched() == 4);
  check_no_secret(read.status(), &s.fake);
}

TEST_CASE("mautic: refused client credentials are a clear error without the secret") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  MauticOptions o = s.options(true);
  o.client_secret = std::string(kClientSecret) + "x";
  auto c = s.client(o);
  Status st = c->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("refused the client credentials of client id \"1_client\"") !=
        std::string::npos);
  CHECK(st.message().find("invalid_client") != std::string::npos);
  check_no_secret(st);
  CHECK(st.message().find(o.client_secret) == std::string::npos);
  CHECK(st.origin() == Origin::kMautic);

  // An answer without a token.
  Setup t;
  t.fake.script.push_back(t.fake.answer(200, {{"token_type", "bearer"}}));
  auto d = t.client(t.options(true));
  st = d->ensure_token();
  CHECK(st.code() == Status::Code::kUnavailable);
  CHECK(st.message().find("no access_token") != std::string::npos);
}

TEST_CASE("mautic: 429s are waited out by their reset time, within bounds") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  auto limited = [&](const std::string& reset, const std::string& retry_after = "") {
    http::Response r = s.fake.error(429, "You exceeded the rate limit of 100 API calls per hour.");
    r.headers.push_back({"X-RateLimit-Limit", "100"});
    r.headers.push_back({"X-RateLimit-Remaining", "0"});
    if (!reset.empty()) r.headers.push_back({"X-RateLimit-Reset", reset});
    if (!retry_after.empty()) r.headers.push_back({"Retry-After", retry_after});
    return r;
  };
  // The reset is a Unix time, read against the server's Date (12:00:00): 20 s, then 3 s.
  s.fake.script.push_back(limited(std::to_string(1'796'558'400 + 20)));
  s.fake.script.push_back(limited("", "3"));
  auto c = s.client();
  REQUIRE(c->reader("news", {})->resolve().is_ok());
  REQUIRE(s.slept.size() == 2);
  CHECK(s.slept[0] == std::chrono::seconds(20));
  CHECK(s.slept[1] == std::chrono::seconds(3));
  CHECK(c->rate_limited() == 2);

  // An hour away is beyond the longest wait: kUnavailable at once, saying so.
  s.fake.script.push_back(limited(std::to_string(1'796'558'400 + 3600)));
  Status st = c->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kUnavailable);
  CHECK(st.message().find("resets in 3600 s") != std::string::npos);
  CHECK(s.slept.size() == 2);

  // Too many in a row.
  for (int i = 0; i < 10; ++i)
    s.fake.script.push_back(limited("", "1"));
  st = c->reader("news", {})->resolve();
  CHECK(st.code() == Status::Code::kUnavailable);
  CHECK(st.message().find("held after 5 waits") != std::string::npos);
}

TEST_CASE("mautic: a base ending in /index.php keeps it for the API and the token") {
  Setup s;
  s.fake.add_segment(3, "News", "news");
  s.fake.prefix = "/crm/index.php";
  MauticOptions o = s.options(true);
  o.base_url = "https://mautic.example/crm/index.php/";
  auto c = s.client(o);
  REQUIRE(c->reader("news", {})->resolve().is_ok());
  REQUIRE(s.fake.log.size() == 2);
  CHECK(s.fake.log[0].target == "/crm/index.php/oauth/v2/token");
  CHECK(s.fake.log[1].target.rfind("/crm/index.php/api/segments?", 0) == 0);
}
