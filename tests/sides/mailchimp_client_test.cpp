// The Mailchimp client against a scripted in-process fake of the API (no sockets). The same
// client against concord-sandbox over TLS is in tests/integration/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "concord/email.h"
#include "concord/mailchimp_client.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "malformed_answers.h"
#include "sides/mailchimp/members_page.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;
using nlohmann::json;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";

struct FakeMember {
  std::string email;
  std::string status = "subscribed";
  Micros last_changed = 0;
};

// Just enough of the Marketing API for the client's reads and writes.
class FakeMailchimp final : public http::Client {
 public:
  std::vector<FakeMember> members;
  std::vector<std::string> compliance;  // self-unsubscribed: "subscribed" refused
  std::vector<std::string> forgotten;
  std::vector<std::string> silent;           // left out of batch answers
  std::map<std::string, int> delete_status;  // email → status of DELETE
  std::vector<http::Request> log;
  int fail_next_pages = 0;           // answer this many member GETs with 500
  std::vector<std::string> skipped;  // left out of pages, as offset paging can (still members)
  Micros now = kNoTime;              // when set, every answer has this `Date` header
  int fail_member_gets = 0;          // answer this many single-member GETs with 500
  std::vector<json> hooks;           // the list's webhooks, as Mailchimp shows them
  int refuse_hook_url = 0;           // the validation GET of a new webhook got this status
  int lose_hook_posts = 0;           // carry out this many webhook POSTs, but lose the answer
  int drop_hook_posts = 0;           // lose this many webhook POSTs before they are carried out
  std::map<std::int64_t, std::vector<std::string>> segments;  // tag id → members with the tag
  std::vector<std::string> refuse_tag;                        // named in a segment batch's errors
  int fail_segment_posts = 0;          // answer this many segment batches with 500
  std::vector<std::string> tag_names;  // GET …/segments: tag i has id 1000 + i

  Result<http::Response> send(const http::Request& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    log.push_back(req);
    Result<http::Response> r = answer(req);
    if (r && now != kNoTime) r->headers.push_back({"Date", format_http_date(now)});
    return r;
  }

  Result<http::Response> answer(const http::Request& req) {
    std::string path = req.target.substr(0, req.target.find('?'));
    std::map<std::string, std::string> q;
    if (auto qm = req.target.find('?'); qm != std::string::npos) {
      for (auto& [k, v] : http::parse_query(req.target.substr(qm + 1)))
        q[k] = v;
    }
    if (path == "/3.0/lists/L1/members" && req.method == "GET") return members_page(q);
    if (path == "/3.0/lists/L1" && req.method == "POST") return batch(req.body);
    if (path.rfind("/3.0/lists/L1/members/", 0) == 0 && req.method == "GET") {
      if (fail_member_gets > 0) {
        --fail_member_gets;
        return reply(500, problem(500, "Internal Server Error", "boom"));
      }
      for (const FakeMember& m : members) {
        if (path.substr(22) == subscriber_hash(m.email)) {
          json tags = json::array();  // the static segments (tags) the member is in
          for (const auto& [id, in] : segments) {
            if (std::find(in.begin(), in.end(), m.email) != in.end()) {
              tags.push_back({{"id", id}, {"name", "tag " + std::to_string(id)}});
            }
          }
          return reply(200, json{{"email_address", m.email},
                                 {"status", m.status},
                                 {"last_changed", format_iso8601(m.last_changed)},
                                 {"tags", tags}}
                                .dump());
        }
      }
      return reply(
          404, problem(404, "Resource Not Found", "The requested resource could not be found."));
    }
    if (path.rfind("/3.0/lists/L1/members/", 0) == 0 && req.method == "DELETE") {
      for (const FakeMember& m : members) {
        if (path.substr(22) == subscriber_hash(m.email)) {
          int st = delete_status.count(m.email) ? delete_status[m.email] : 204;
          return reply(st, st == 204 ? "" : problem(st, "Method Not Allowed", "cannot archive"));
        }
      }
      return reply(
          404, problem(404, "Resource Not Found", "The requested resource could not be found."));
    }
    if (path.rfind("/3.0/lists/L1/segments/", 0) == 0 && req.method == "POST") {
      return segment_batch(std::stoll(path.substr(23)), req.body);
    }
    if (path == "/3.0/lists/L1/segments" && req.method == "GET") {
      json page = json::array();
      const std::size_t offset = std::stoul(q["offset"]), count = std::stoul(q["count"]);
      for (std::size_t i = offset; i < tag_names.size() && i < offset + count; ++i) {
        page.push_back({{"id", 1000 + i}, {"name", tag_names[i]}, {"member_count", i}});
      }
      return reply(200, json{{"segments", page}, {"total_items", tag_names.size()}}.dump());
    }
    if (path == "/3.0/lists/L1/webhooks" && req.method == "GET") {
      return reply(
          200, json{{"webhooks", hooks}, {"list_id", "L1"}, {"total_items", hooks.size()}}.dump());
    }
    if (path == "/3.0/lists/L1/webhooks" && req.method == "POST") return add_hook(req);
    if (path.rfind("/3.0/lists/L1/webhooks/", 0) == 0 && req.method == "DELETE") {
      const std::string id = path.substr(23);
      auto it =
          std::find_if(hooks.begin(), hooks.end(), [&](const json& h) { return h["id"] == id; });
      if (it == hooks.end()) {
        return reply(
            404, problem(404, "Resource Not Found", "The requested resource could not be found."));
      }
      hooks.erase(it);
      return reply(204, "");
    }
    if (path == "/3.0/lists/L1" && q.count("fields") &&
        q.at("fields").find("stats.unsubscribe_count") != std::string::npos) {
      // The audience's counts, from the members (as Mailchimp's list stats).
      int subscribed = 0, unsubscribed = 0, cleaned = 0;
      for (const FakeMember& m : members) {
        subscribed += m.status == "subscribed";
        unsubscribed += m.status == "unsubscribed";
        cleaned += m.status == "cleaned";
      }
      return reply(200, "{\"stats\":{\"member_count\":" + std::to_string(subscribed) +
                            ",\"unsubscribe_count\":" + std::to_string(unsubscribed) +
                            ",\"cleaned_count\":" + std::to_string(cleaned) + "}}");
    }
    if (path == "/3.0/lists/L1")
      return reply(200, R"({"id":"L1","name":"Newsletter","stats":{"member_count":3}})");
    if (path.rfind("/3.0/lists/", 0) == 0 && path.size() > 11) {
      return reply(
          404, problem(404, "Resource Not Found", "The requested resource could not be found."));
    }
    if (path == "/3.0/lists") {
      return reply(200, R"({"lists":[{"id":"L1","name":"Newsletter"},{"id":"L2","name":"Events"},)"
                        R"({"id":"L3","name":"Events"}],"total_items":3})");
    }
    return reply(404, problem(404, "Resource Not Found", "no route"));
  }
  std::uint64_t attempts() const override { return log.size(); }
  std::uint64_t connections_opened() const override { return 1; }

  std::size_t count(const std::string& method, const std::string& path_prefix) const {
    return std::count_if(log.begin(), log.end(), [&](const http::Request& r) {
      return r.method == method && r.target.rfind(path_prefix, 0) == 0;
    });
  }

 private:
  static http::Response reply(int status, std::string body) {
    http::Response r;
    r.status = status;
    r.headers.push_back({"Content-Type", status < 300 ? "application/json; charset=utf-8"
                                                      : "application/problem+json; charset=utf-8"});
    r.body = std::move(body);
    return r;
  }
  static std::string problem(int status, const char* title, const std::string& detail) {
    return json{{"title", title}, {"status", status}, {"detail", detail}, {"instance", "req-1"}}
        .dump();
  }

  Result<http::Response> members_page(std::map<std::string, std::string>& q) {
    if (fail_next_pages > 0) {
      --fail_next_pages;
      return reply(500, problem(500, "Internal Server Error", "boom"));
    }
    std::vector<const FakeMember*> view;
    Micros since = kNoTime;
    if (q.count("since_last_changed")) since = parse_iso8601(q["since_last_changed"]).value();
    for (const FakeMember& m : members) {
      if (std::find(skipped.begin(), skipped.end(), m.email) != skipped.end()) continue;
      if (m.last_changed >= since) view.push_back(&m);  // inclusive, as far as anyone knows
    }
    if (q["sort_field"] == "last_changed") {
      std::stable_sort(view.begin(), view.end(),
                       [](auto* a, auto* b) { return a->last_changed < b->last_changed; });
    }
    std::size_t offset = std::stoul(q["offset"]),
                count = std::min<std::size_t>(1000, std::stoul(q["count"]));
    json page = json::array();
    for (std::size_t i = offset; i < view.size() && i < offset + count; ++i) {
      page.push_back({{"email_address", view[i]->email},
                      {"status", view[i]->status},
                      {"timestamp_opt", ""},
                      {"last_changed", format_iso8601(view[i]->last_changed)},
                      {"merge_fields", {{"FNAME", ""}}}});
    }
    return reply(200, json{{"members", page}, {"total_items", view.size()}}.dump());
  }

  Result<http::Response> add_hook(const http::Request& req) {
    if (drop_hook_posts > 0) {
      --drop_hook_posts;
      return Status::unavailable(
          "POST: connection reset (not sent again: it may have been "
          "carried out)");
    }
    json b = json::parse(req.body);
    if (refuse_hook_url) {
      return reply(400, problem(400, "Invalid Resource",
                                "We couldn't verify the URL is working. Please double check and "
                                "try again. HTTP Code: " +
                                    std::to_string(refuse_hook_url)));
    }
    for (const json& h : hooks) {
      if (h["url"] == b["url"]) {
        return reply(400, problem(400, "Invalid Resource", "A webhook using this URL exists."));
      }
    }
    json h = {{"id", "wh" + std::to_string(hooks.size() + 1)},
              {"url", b["url"]},
              {"events", b["events"]},
              {"sources", b["sources"]},
              {"list_id", "L1"}};
    hooks.push_back(h);
    if (lose_hook_posts > 0) {
      --lose_hook_posts;
      return Status::unavailable(
          "POST: response cut short (not sent again: it may have been "
          "carried out)");
    }
    return reply(200, h.dump());
  }

  // A static segment's batch: members not on the list are ignored, as are adds of members
  // already in it and removes of members not in it (only changes are listed).
  Result<http::Response> segment_batch(std::int64_t id, const std::string& body) {
    if (fail_segment_posts > 0) {
      --fail_segment_posts;
      return reply(500, problem(500, "Internal Server Error", "boom"));
    }
    json b = json::parse(body);
    std::vector<std::string>& in = segments[id];
    json added = json::array(), removed = json::array(), refused = json::array();
    auto on_list = [&](const std::string& e) {
      return std::any_of(members.begin(), members.end(),
                         [&](const FakeMember& m) { return m.email == e; });
    };
    for (const char* key : {"members_to_add", "members_to_remove"}) {
      if (!b.contains(key)) continue;
      const bool add = std::string(key) == "members_to_add";
      for (const json& item : b[key]) {
        const std::string e = item.get<std::string>();
        if (std::find(refuse_tag.begin(), refuse_tag.end(), e) != refuse_tag.end()) {
          refused.push_back(e);
          continue;
        }
        if (!on_list(e)) continue;
        auto it = std::find(in.begin(), in.end(), e);
        if (add == (it != in.end())) continue;  // nothing to change
        if (add) {
          in.push_back(e);
        } else {
          in.erase(it);
        }
        // Mailchimp answers with the address as it stores it.
        std::string shown = e;
        std::transform(shown.begin(), shown.end(), shown.begin(), ::toupper);
        (add ? added : removed).push_back({{"email_address", shown}, {"status", "subscribed"}});
      }
    }
    json errors = json::array();
    if (!refused.empty()) {
      errors.push_back({{"email_addresses", refused}, {"error", "Tags are not allowed here."}});
    }
    return reply(200, json{{"members_added", added},
                           {"members_removed", removed},
                           {"errors", errors},
                           {"total_added", added.size()},
                           {"total_removed", removed.size()},
                           {"error_count", errors.size()}}
                          .dump());
  }

  Result<http::Response> batch(const std::string& body) {
    json b = json::parse(body);
    json created = json::array(), updated = json::array(), errors = json::array();
    for (const json& m : b["members"]) {
      std::string email = m["email_address"], status = m["status"];
      auto in = [&](const std::vector<std::string>& v) {
        return std::find(v.begin(), v.end(), email) != v.end();
      };
      if (in(silent)) continue;
      if (in(forgotten)) {
        errors.push_back(
            {{"email_address", email},
             {"error", email + " was permanently deleted and cannot be re-imported. The contact "
                               "must re-subscribe to get back on the list."},
             {"error_code", "ERROR_GENERIC"}});
        continue;
      }
      if (in(compliance) && status == "subscribed") {
        errors.push_back({{"email_address", email},
                          {"error", email + " is in a compliance state due to unsubscribe, bounce, "
                                            "or compliance review and cannot be subscribed."},
                          {"error_code", "ERROR_GENERIC"}});
        continue;
      }
      json out = {{"email_address", email},
                  {"status", status},
                  {"last_changed", "2026-05-01T10:00:00+00:00"}};
      auto it =
          std::find_if(members.begin(), members.end(), [&](auto& x) { return x.email == email; });
      if (it == members.end()) {
        members.push_back({email, status, 0});
        created.push_back(out);
      } else {
        it->status = status;
        updated.push_back(out);
      }
    }
    return reply(200, json{{"new_members", created},
                           {"updated_members", updated},
                           {"errors", errors},
                           {"total_created", created.size()},
                           {"total_updated", updated.size()},
                           {"error_count", errors.size()}}
                          .dump());
  }

  std::mutex mu_;
};

struct Fixture {
  FakeMailchimp* fake = nullptr;
  std::unique_ptr<MailchimpClient> client;
  explicit Fixture(std::vector<FakeMember> members = {}) {
    auto f = std::make_unique<FakeMailchimp>();
    f->members = std::move(members);
    fake = f.get();
    MailchimpOptions o;
    o.api_key = kKey;
    o.base_url = "https://127.0.0.1:1/3.0";
    client = std::move(MailchimpClient::create(o, std::move(f)).value());
  }
};

std::vector<FakeMember> audience(int n, Micros first, Micros step) {
  std::vector<FakeMember> v;
  for (int i = 0; i < n; ++i) {
    v.push_back({"person" + std::to_string(i) + "@example.org",
                 i % 7 == 0 ? "unsubscribed" : "subscribed", first + i * step});
  }
  return v;
}

std::size_t snapshot_size(TempStore& t) {
  std::size_t n = 0;
  Cursor c = t.store->scan(*t.pair, Family::kMailchimp);
  for (c.seek_to_first(); c.valid(); c.next())
    ++n;
  return n;
}

Micros t0() {
  return parse_iso8601("2026-01-01T00:00:00+00:00").value();
}

}  // namespace

TEST_CASE("API keys name their datacenter; a bad key is refused without being quoted") {
  CHECK(mailchimp_datacenter(kKey).value() == "us6");
  CHECK(mailchimp_datacenter("0123456789abcdef0123456789abcdef-eu1").value() == "eu1");
  for (const char* bad :
       {"", "nokey", "0123456789abcdef0123456789abcdef", "short-us6",
        "0123456789abcdef0123456789abcdef-u", "0123456789abcdef 123456789abcdef-us6"}) {
    auto dc = mailchimp_datacenter(bad);
    REQUIRE_FALSE(dc.is_ok());
    if (std::string(bad).size() > 3) CHECK(dc.status().message().find(bad) == std::string::npos);
  }
}

TEST_CASE("requests carry Basic auth with the key, and the key appears in no error") {
  Fixture f;
  REQUIRE_FALSE(f.client->ping().is_ok());  // the fake has no /ping: 404
  const http::Request& r = f.fake->log.at(0);
  CHECK(r.target == "/3.0/ping");
  CHECK(r.header("Authorization").rfind("Basic ", 0) == 0);
  CHECK(f.client->ping().message().find(kKey) == std::string::npos);
}

TEST_CASE("problem+json errors become readable error values; `type` is optional") {
  http::Response r;
  r.status = 400;
  r.headers.push_back({"X-Request-Id", "abc"});
  r.body = R"({"title":"Invalid Resource","status":400,"detail":"Your merge fields were invalid.",)"
           R"("errors":[{"field":"LTV","message":"Please enter a number"}]})";
  ApiError e = parse_api_error(r);
  CHECK(e.title == "Invalid Resource");
  CHECK(e.field_errors.size() == 1);
  CHECK(e.describe() ==
        "Mailchimp answered 400 Invalid Resource: Your merge fields were invalid. (LTV: Please "
        "enter a number) [request abc]");
  r.status = 403;
  r.body = "<html>Forbidden</html>";
  CHECK(parse_api_error(r).describe().find("<html>Forbidden</html>") != std::string::npos);
}

TEST_CASE("an audience is found by id or by name; ambiguous and unknown names are clear errors") {
  Fixture f;
  CHECK(f.client->resolve_audience("L1").value().name == "Newsletter");
  CHECK(f.client->resolve_audience("Newsletter").value().id == "L1");
  // A name that cannot be a list id is not asked for as one (a wasted 404 on every run).
  CHECK(f.fake->count("GET", "/3.0/lists/Newsletter") == 0);
  auto amb = f.client->resolve_audience("Events");
  REQUIRE_FALSE(amb.is_ok());
  CHECK(amb.status().message().find("L2, L3") != std::string::npos);
  auto none = f.client->resolve_audience("Nope");
  REQUIRE_FALSE(none.is_ok());
  CHECK(none.status().code() == Status::Code::kNotFound);
  CHECK(none.status().message().find("\"Newsletter\"") != std::string::npos);
}

TEST_CASE("a full fetch pages the audience into the snapshot and stores the watermark") {
  TempStore t;
  Fixture f(audience(2500, t0(), kMicrosPerSecond));
  auto stats = fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->written >= 2500);
  CHECK(snapshot_size(t) == 2500);
  CHECK(stats->watermark == t0() + 2499 * kMicrosPerSecond);
  CHECK(f.fake->count("GET", "/3.0/lists/L1/members?count=1000&offset=") >= 3);
  // Every request asked for exactly the stored fields.
  for (const http::Request& r : f.fake->log) {
    CHECK(r.target.find("fields=" + http::url_encode(kMemberFields)) != std::string::npos);
  }
  // A member who left the audience is removed by the next full fetch.
  f.fake->members.erase(f.fake->members.begin());
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  CHECK(snapshot_size(t) == 2499);
}

TEST_CASE("regression: a member the pages skipped is checked by itself, not deleted") {
  TempStore t;
  Fixture f(audience(1500, t0(), kMicrosPerSecond));
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  f.fake->skipped = {"person5@example.org"};           // still a member, missed by paging
  f.fake->members.erase(f.fake->members.begin() + 9);  // really gone
  auto stats = fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->rechecked == 1);
  CHECK(stats->removed == 1);
  CHECK(snapshot_size(t) == 1499);
  CHECK(t.store->get(*t.pair, Family::kMailchimp, member_key("person5@example.org").view())
            .value()
            .has_value());
}

TEST_CASE("a failed page stops a full fetch without deleting anything") {
  TempStore t;
  Fixture f(audience(1500, t0(), kMicrosPerSecond));
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  f.fake->members.resize(10);
  f.fake->fail_next_pages = 1;
  auto r = fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair);
  REQUIRE_FALSE(r.is_ok());
  CHECK(snapshot_size(t) == 1500);  // nothing swept after a failure
}

TEST_CASE("an incremental fetch reads only what changed, in few pages") {
  TempStore t;
  Fixture f(audience(3000, t0(), kMicrosPerSecond));
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  // 100 changes an hour later.
  for (int i = 0; i < 100; ++i) {
    f.fake->members[i * 3].status = "unsubscribed";
    f.fake->members[i * 3].last_changed = t0() + 3600 * kMicrosPerSecond + i * kMicrosPerSecond;
  }
  std::size_t before = f.fake->log.size();
  auto stats = fetch_mailchimp(*f.client, "L1", false, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(f.fake->log.size() - before <= 3);
  CHECK(stats->watermark == t0() + 3699 * kMicrosPerSecond);
  auto v = t.store->get(*t.pair, Family::kMailchimp, member_key("person3@example.org").view());
  SnapshotHeader h;
  REQUIRE(decode_snapshot_header(**v, &h).is_ok());
  CHECK(h.status == static_cast<std::uint8_t>(MailchimpStatus::kUnsubscribed));
  auto w = t.store->get(*t.pair, Family::kMeta, mailchimp_watermark_key("L1"));
  CHECK(**w == std::to_string(t0() + 3699 * kMicrosPerSecond));
}

TEST_CASE("the watermark is the server's time when a fetch began, so old writes are not re-read") {
  // Members changed long before a fetch (concord's own writes of the run before, say) must not
  // come back in every later incremental fetch: the watermark is the Date of the first answer.
  TempStore t;
  Fixture f(audience(3000, t0(), kMicrosPerSecond));
  const Micros noon = t0() + 86400 * kMicrosPerSecond;
  f.fake->now = noon;
  auto full = fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair);
  REQUIRE(full.is_ok());
  CHECK(full->watermark == noon);
  // 2000 members written just after that fetch (as an apply would), then an hour passes.
  for (int i = 0; i < 2000; ++i)
    f.fake->members[i].last_changed = noon + 60 * kMicrosPerSecond;
  f.fake->now = noon + 3600 * kMicrosPerSecond;
  auto first = fetch_mailchimp(*f.client, "L1", false, *t.store, *t.pair);
  REQUIRE(first.is_ok());
  CHECK(first->watermark == noon + 3600 * kMicrosPerSecond);
  // The next incremental fetch, with nothing changed since, reads a single (empty) page instead
  // of the 2000 members again, and the audience's counts (which agree with the snapshot).
  f.fake->now = noon + 7200 * kMicrosPerSecond;
  std::size_t before = f.fake->log.size();
  auto second = fetch_mailchimp(*f.client, "L1", false, *t.store, *t.pair);
  REQUIRE(second.is_ok());
  CHECK(f.fake->log.size() - before == 2);
  CHECK_FALSE(second->counts_differed);
  CHECK(second->written == 0);
  CHECK(second->watermark == noon + 7200 * kMicrosPerSecond);
  // A server clock behind the watermark never moves it back.
  f.fake->now = noon;
  auto third = fetch_mailchimp(*f.client, "L1", false, *t.store, *t.pair);
  REQUIRE(third.is_ok());
  CHECK(third->watermark == noon + 7200 * kMicrosPerSecond);
}

TEST_CASE("incremental paging survives 2500 changes in one second (offset within the second)") {
  TempStore t;
  Fixture f(audience(10, t0(), kMicrosPerSecond));
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  auto burst = audience(2500, t0() + 7200 * kMicrosPerSecond, 0);
  for (auto& m : burst)
    m.email = "burst-" + m.email;
  f.fake->members.insert(f.fake->members.end(), burst.begin(), burst.end());
  auto stats = fetch_mailchimp(*f.client, "L1", false, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(snapshot_size(t) == 2510);
}

TEST_CASE("writes: batches of 500, per-member results, compliance retried as pending") {
  Fixture f(audience(3, t0(), kMicrosPerSecond));
  f.fake->compliance = {"person1@example.org"};
  f.fake->forgotten = {"gone@example.org"};
  f.fake->silent = {"quiet@example.org"};
  f.fake->delete_status["person2@example.org"] = 405;
  std::vector<MailchimpWrite> w;
  for (int i = 0; i < 1200; ++i) {
    w.push_back({"new" + std::to_string(i) + "@example.org",
                 MailchimpWrite::Kind::kSubscribe,
                 {{"FNAME", "New"}}});
  }
  w.push_back({"person1@example.org", MailchimpWrite::Kind::kSubscribe, {}});
  w.push_back({"gone@example.org", MailchimpWrite::Kind::kSubscribe, {}});
  w.push_back({"quiet@example.org", MailchimpWrite::Kind::kUnsubscribe, {}});
  w.push_back({"person0@example.org", MailchimpWrite::Kind::kArchive, {}});
  w.push_back({"person2@example.org", MailchimpWrite::Kind::kArchive, {}});
  w.push_back({"absent@example.org", MailchimpWrite::Kind::kArchive, {}});
  auto out = f.client->apply("L1", w, Resubscribe::kPending);
  REQUIRE(out.size() == w.size());
  for (int i = 0; i < 1200; ++i) {
    CHECK(out[i].code == WriteOutcome::Code::kDone);
  }
  CHECK(out[0].status == MailchimpStatus::kSubscribed);
  CHECK(out[1200].code == WriteOutcome::Code::kPendingSent);
  CHECK(out[1201].code == WriteOutcome::Code::kForgotten);
  CHECK(out[1202].code == WriteOutcome::Code::kFailed);
  CHECK(out[1203].code == WriteOutcome::Code::kDone);
  CHECK(out[1203].status == MailchimpStatus::kArchived);
  CHECK(out[1204].code == WriteOutcome::Code::kInvalid);
  CHECK(out[1205].code == WriteOutcome::Code::kDone);  // not there: already out
  // ⌈1203/500⌉ = 3 batch calls, one pending retry, three DELETEs.
  CHECK(f.fake->count("POST", "/3.0/lists/L1") == 4);
  CHECK(f.fake->count("DELETE", "/3.0/lists/L1/members/") == 3);
  // Batches of 500 (500, 500, 203, then the pending retry of 1), with the merge fields. The
  // batch calls go out at once: the log holds them in the order they arrived, not the writes'.
  std::vector<std::size_t> sizes;
  for (const http::Request& r : f.fake->log) {
    if (r.method != "POST") continue;
    json body = json::parse(r.body);
    sizes.push_back(body["members"].size());
    CHECK(body["update_existing"] == true);
    for (const json& m : body["members"]) {
      if (m["email_address"].get<std::string>().rfind("new", 0) == 0) {
        CHECK(m["merge_fields"]["FNAME"] == "New");
      }
    }
  }
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<std::size_t>{1, 203, 500, 500});

  // resubscribe = never: the compliance refusal is reported, not retried.
  Fixture g(audience(3, t0(), kMicrosPerSecond));
  g.fake->compliance = {"person1@example.org"};
  auto never = g.client->apply(
      "L1", {{"person1@example.org", MailchimpWrite::Kind::kSubscribe, {}}}, Resubscribe::kNever);
  CHECK(never[0].code == WriteOutcome::Code::kCompliance);
  CHECK(g.fake->count("POST", "/3.0/lists/L1") == 1);
}

namespace {

std::map<std::string, std::string> snapshot_entries(TempStore& t) {
  std::map<std::string, std::string> out;
  Cursor c = t.store->scan(*t.pair, Family::kMailchimp);
  for (c.seek_to_first(); c.valid(); c.next())
    out.emplace(std::string(c.key()), std::string(c.value()));
  return out;
}

MailchimpState stored_state(TempStore& t, const std::string& email) {
  std::optional<MailchimpState> s = t.mailchimp_state(email);
  REQUIRE(s.has_value());
  return *s;
}

}  // namespace

TEST_CASE(
    "a targeted read (refresh_mailchimp) re-reads exactly the members named, removes the gone, "
    "keeps the watermark") {
  TempStore t;
  Fixture f(audience(200, t0(), kMicrosPerSecond));
  const Micros noon = t0() + 86400 * kMicrosPerSecond;
  f.fake->now = noon;
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  const auto before = snapshot_entries(t);
  REQUIRE(before.size() == 200);

  // An hour later: person3 unsubscribes, 120 others change, person4 changes but is not asked
  // for, person5 is deleted permanently.
  const Micros later = noon + 3600 * kMicrosPerSecond;
  f.fake->now = later;
  std::vector<std::string> asked = {" Person3@Example.ORG", "person5@example.org",
                                    "stranger@example.org", "person3@example.org"};
  f.fake->members[3].status = "unsubscribed";
  f.fake->members[3].last_changed = later;
  f.fake->members[4].status = "unsubscribed";
  f.fake->members[4].last_changed = later;
  for (int i = 50; i < 170; ++i) {
    f.fake->members[i].status =
        f.fake->members[i].status == "subscribed" ? "unsubscribed" : "subscribed";
    f.fake->members[i].last_changed = later;
    asked.push_back(f.fake->members[i].email);
  }
  f.fake->members.erase(f.fake->members.begin() + 5);
  const std::size_t log_before = f.fake->log.size();

  auto stats = refresh_mailchimp(*f.client, "L1", asked, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->members == 121);  // person3 and the 120
  CHECK(stats->written == 121);
  CHECK(stats->removed == 1);  // person5; the stranger was never stored
  CHECK(stats->watermark == kNoTime);
  // One GET per distinct address, each for the one member's stored fields.
  CHECK(f.fake->log.size() - log_before == 123);
  for (std::size_t i = log_before; i < f.fake->log.size(); ++i) {
    const http::Request& r = f.fake->log[i];
    CHECK(r.method == "GET");
    CHECK(r.target.rfind("/3.0/lists/L1/members/", 0) == 0);
    CHECK(r.target.find("fields=" +
                        http::url_encode("email_address,status,unsubscribe_reason,timestamp_opt,"
                                         "last_changed,merge_fields")) != std::string::npos);
  }

  MailchimpState p3 = stored_state(t, "person3@example.org");
  CHECK(p3.status == MailchimpStatus::kUnsubscribed);
  CHECK(p3.changed_at == later);
  MailchimpState p60 = stored_state(t, "person60@example.org");
  CHECK(p60.changed_at == later);
  // Not asked for: untouched, although it changed.
  CHECK(stored_state(t, "person4@example.org").status == MailchimpStatus::kSubscribed);
  CHECK_FALSE(t.store->get(*t.pair, Family::kMailchimp, member_key("person5@example.org").view())
                  .value()
                  .has_value());
  CHECK_FALSE(t.store->get(*t.pair, Family::kMailchimp, member_key("stranger@example.org").view())
                  .value()
                  .has_value());
  // Every other member's entry is byte for byte what it was.
  const auto after = snapshot_entries(t);
  CHECK(after.size() == 199);
  std::size_t same = 0;
  for (const auto& [k, v] : before) {
    auto it = after.find(k);
    if (it != after.end() && it->second == v) ++same;
  }
  CHECK(same == 200 - 1 - 1 - 120);
  // The watermark did not move: the next incremental fetch still reads these changes.
  CHECK(t.store->get(*t.pair, Family::kMeta, mailchimp_watermark_key("L1")).value() ==
        std::to_string(noon));
}

TEST_CASE("a targeted read: an error answer fails the call; nothing or an empty list is no call") {
  TempStore t;
  Fixture f(audience(5, t0(), kMicrosPerSecond));
  REQUIRE(fetch_mailchimp(*f.client, "L1", true, *t.store, *t.pair).is_ok());
  const std::size_t log_before = f.fake->log.size();
  auto none = refresh_mailchimp(*f.client, "L1", {}, *t.store, *t.pair);
  REQUIRE(none.is_ok());
  CHECK(none->written == 0);
  CHECK(refresh_mailchimp(*f.client, "L1", {" ", ""}, *t.store, *t.pair).is_ok());
  CHECK(f.fake->log.size() == log_before);

  f.fake->fail_member_gets = 1;
  f.fake->members[1].status = "unsubscribed";
  auto r = refresh_mailchimp(*f.client, "L1", {"person1@example.org"}, *t.store, *t.pair);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().retryable());
  CHECK(r.status().message().find("Mailchimp answered 500 Internal Server Error: boom") !=
        std::string::npos);
  CHECK(r.status().message().find(kKey) == std::string::npos);
  CHECK(stored_state(t, "person1@example.org").status == MailchimpStatus::kSubscribed);
  CHECK(snapshot_size(t) == 5);
}

TEST_CASE("webhooks: listed, created with every event and source spelt out, deleted") {
  Fixture f;
  auto made = f.client->create_webhook("L1", "https://crm.example.org/hook?key=s3cret",
                                       {"subscribe", "unsubscribe", "upemail"}, true, true, false);
  REQUIRE(made.is_ok());
  CHECK(made->id == "wh1");
  CHECK(made->url == "https://crm.example.org/hook?key=s3cret");
  CHECK(made->events == std::vector<std::string>{"subscribe", "unsubscribe", "upemail"});
  CHECK(made->source_user);
  CHECK(made->source_admin);
  CHECK_FALSE(made->source_api);
  const http::Request& post = f.fake->log.back();
  CHECK(post.method == "POST");
  CHECK(post.target == "/3.0/lists/L1/webhooks");
  CHECK_FALSE(post.idempotent);  // the transport must not send it twice
  json body = json::parse(post.body);
  CHECK(body == json{{"url", "https://crm.example.org/hook?key=s3cret"},
                     {"events",
                      {{"subscribe", true},
                       {"unsubscribe", true},
                       {"profile", false},
                       {"cleaned", false},
                       {"upemail", true},
                       {"campaign", false}}},
                     {"sources", {{"user", true}, {"admin", true}, {"api", false}}}});

  auto all = f.client->webhooks("L1");
  REQUIRE(all.is_ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].id == "wh1");
  CHECK((*all)[0].events.size() == 3);

  REQUIRE(f.client->delete_webhook("L1", "wh1").is_ok());
  CHECK(f.client->webhooks("L1")->empty());
  CHECK(f.client->delete_webhook("L1", "wh1").is_ok());  // 404: already gone
}

TEST_CASE("webhooks: Mailchimp's refusal reaches the user verbatim; a bad event sends nothing") {
  Fixture f;
  f.fake->refuse_hook_url = 404;
  auto r = f.client->create_webhook("L1", "https://crm.example.org/hook?key=s3cret", {"subscribe"},
                                    true, true, false);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Status::Code::kInvalid);
  CHECK(r.status().message().find(
            "Mailchimp answered 400 Invalid Resource: We couldn't verify the URL is working. "
            "Please double check and try again. HTTP Code: 404") != std::string::npos);
  CHECK(r.status().message().find("s3cret") == std::string::npos);
  CHECK(r.status().message().find(kKey) == std::string::npos);

  const std::size_t sent = f.fake->log.size();
  auto bad = f.client->create_webhook("L1", "https://crm.example.org/hook", {"subscribe", "open"},
                                      true, true, false);
  REQUIRE_FALSE(bad.is_ok());
  CHECK(bad.status().code() == Status::Code::kInvalid);
  CHECK(bad.status().message().find("\"open\"") != std::string::npos);
  CHECK(f.fake->log.size() == sent);
}

TEST_CASE("webhooks: a registration whose answer was lost is found, not sent again") {
  Fixture f;
  f.fake->lose_hook_posts = 1;
  auto r = f.client->create_webhook("L1", "https://crm.example.org/hook", {"unsubscribe"}, true,
                                    false, false);
  REQUIRE(r.is_ok());
  CHECK(r->id == "wh1");
  CHECK(f.fake->count("POST", "/3.0/lists/L1/webhooks") == 1);
  CHECK(f.fake->hooks.size() == 1);
  // When the lost POST made nothing, the failure is reported.
  f.fake->drop_hook_posts = 1;
  auto lost = f.client->create_webhook("L1", "https://crm.example.org/other", {"unsubscribe"}, true,
                                       false, false);
  REQUIRE_FALSE(lost.is_ok());
  CHECK(lost.status().retryable());
  CHECK(f.fake->hooks.size() == 1);
}

namespace {

MailchimpWrite tag_write(const std::string& email, bool add, std::int64_t tag_id) {
  MailchimpWrite w;
  w.email = email;
  w.kind = add ? MailchimpWrite::Kind::kAddTag : MailchimpWrite::Kind::kRemoveTag;
  w.tag_id = tag_id;
  return w;
}

// The segment batch calls the fake received, in order.
std::vector<std::pair<std::string, json>> segment_calls(const FakeMailchimp& f) {
  std::vector<std::pair<std::string, json>> out;
  for (const http::Request& r : f.log) {
    if (r.method == "POST" && r.target.rfind("/3.0/lists/L1/segments/", 0) == 0) {
      out.emplace_back(r.target, json::parse(r.body));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("tag writes: each tag's adds and removes go in calls of at most 500 of each") {
  Fixture f(audience(1300, t0(), kMicrosPerSecond));
  f.fake->now = t0() + 3600 * kMicrosPerSecond;
  for (int i = 1000; i < 1300; ++i)
    f.fake->segments[7].push_back("person" + std::to_string(i) + "@example.org");
  std::vector<MailchimpWrite> w;
  for (int i = 0; i < 1000; ++i)
    w.push_back(tag_write("person" + std::to_string(i) + "@example.org", true, 7));
  for (int i = 1000; i < 1300; ++i)
    w.push_back(tag_write("person" + std::to_string(i) + "@example.org", false, 7));
  for (int i = 0; i < 200; ++i)  // 1200 adds in all
    w.push_back(tag_write("person" + std::to_string(i) + "@example.org", true, 9));
  auto out = f.client->apply("L1", w, Resubscribe::kPending);
  REQUIRE(out.size() == w.size());
  for (const WriteOutcome& o : out) {
    INFO(o.message);
    CHECK(o.code == WriteOutcome::Code::kDone);
    CHECK(o.status == MailchimpStatus::kAbsent);  // the answer does not say
    CHECK(o.last_changed == t0() + 3600 * kMicrosPerSecond);
  }
  auto calls = segment_calls(*f.fake);
  REQUIRE(calls.size() == 3);  // tag 7: 500 + 300 removes, 500; tag 9: 200
  CHECK(calls[0].first == "/3.0/lists/L1/segments/7");
  CHECK(calls[0].second["members_to_add"].size() == 500);
  CHECK(calls[0].second["members_to_remove"].size() == 300);
  CHECK(calls[0].second["members_to_add"][0] == "person0@example.org");
  CHECK(calls[1].second["members_to_add"].size() == 500);
  CHECK_FALSE(calls[1].second.contains("members_to_remove"));
  CHECK(calls[2].first == "/3.0/lists/L1/segments/9");
  CHECK(calls[2].second["members_to_add"].size() == 200);
  CHECK(f.fake->segments[7].size() == 1000);
  // Adding a tag twice changes nothing, so the transport may send these calls again.
  for (const http::Request& r : f.fake->log)
    CHECK(r.idempotent);

  // 1200 adds of one tag: three calls.
  Fixture g(audience(1200, t0(), kMicrosPerSecond));
  std::vector<MailchimpWrite> many;
  for (int i = 0; i < 1200; ++i)
    many.push_back(tag_write("person" + std::to_string(i) + "@example.org", true, 5));
  g.client->apply("L1", many, Resubscribe::kPending);
  auto three = segment_calls(*g.fake);
  REQUIRE(three.size() == 3);
  CHECK(three[0].second["members_to_add"].size() == 500);
  CHECK(three[1].second["members_to_add"].size() == 500);
  CHECK(three[2].second["members_to_add"].size() == 200);
}

TEST_CASE("tag writes: added or removed is done, named in errors is invalid, neither failed") {
  Fixture f({{"a@example.org"}, {"b@example.org"}, {"c@example.org"}, {"r@example.org"}});
  f.fake->now = t0();
  f.fake->segments[7] = {"c@example.org"};
  f.fake->segments[8] = {"c@example.org"};
  f.fake->refuse_tag = {"r@example.org"};
  std::vector<MailchimpWrite> w = {
      tag_write("a@example.org", true, 7),     // added
      tag_write("gone@example.org", true, 7),  // not on the list: ignored
      tag_write("c@example.org", false, 7),    // removed
      tag_write("r@example.org", true, 7),     // in errors
      tag_write("b@example.org", false, 7),    // did not have it: in neither list
      tag_write("c@example.org", true, 8),     // has it already (tag 8): in neither list
  };
  auto out = f.client->apply("L1", w, Resubscribe::kPending);
  REQUIRE(out.size() == 6);
  CHECK(out[0].code == WriteOutcome::Code::kDone);
  CHECK(out[0].last_changed == t0());
  CHECK(out[1].code == WriteOutcome::Code::kFailed);
  CHECK(out[1].message == "not a member of the audience");
  CHECK(out[2].code == WriteOutcome::Code::kDone);
  CHECK(out[3].code == WriteOutcome::Code::kInvalid);
  CHECK(out[3].message == "Tags are not allowed here.");
  // Mailchimp lists only the members whose tag changed: those it leaves out are read by
  // themselves, and done when they carry the tag as asked (a tag change may not move
  // last_changed, so no incremental read would tell).
  CHECK(out[4].code == WriteOutcome::Code::kDone);
  CHECK(out[5].code == WriteOutcome::Code::kDone);

  // A call that fails fails each of its writes, with Mailchimp's words.
  f.fake->fail_segment_posts = 1;
  auto failed = f.client->apply("L1", {w[0], w[2]}, Resubscribe::kPending);
  for (const WriteOutcome& o : failed) {
    CHECK(o.code == WriteOutcome::Code::kFailed);
    CHECK(o.message.find("Mailchimp answered 500 Internal Server Error: boom") !=
          std::string::npos);
  }
}

TEST_CASE("batch subscribe items carry the write's tags and interests, and only then") {
  Fixture f;
  MailchimpWrite tagged{"a@example.org", MailchimpWrite::Kind::kSubscribe, {}};
  tagged.tags = {"volunteer", "VIP"};
  tagged.interests = {{"9143cf3bd1", true}, {"3a2a927344", false}};
  MailchimpWrite fields{"b@example.org", MailchimpWrite::Kind::kUpdateFields, {}};
  fields.interests = {{"9143cf3bd1", false}};
  MailchimpWrite plain{"c@example.org", MailchimpWrite::Kind::kPending, {}};
  auto out = f.client->apply("L1", {tagged, fields, plain}, Resubscribe::kPending);
  for (const WriteOutcome& o : out)
    CHECK(o.code == WriteOutcome::Code::kDone);
  REQUIRE(f.fake->count("POST", "/3.0/lists/L1") == 1);
  json items = json::parse(f.fake->log.back().body)["members"];
  REQUIRE(items.size() == 3);
  CHECK(items[0]["tags"] == json::array({"volunteer", "VIP"}));
  CHECK(items[0]["interests"] == json{{"9143cf3bd1", true}, {"3a2a927344", false}});
  CHECK_FALSE(items[1].contains("tags"));
  CHECK(items[1]["interests"] == json{{"9143cf3bd1", false}});
  CHECK(items[1]["status"] == "subscribed");
  CHECK_FALSE(items[2].contains("tags"));
  CHECK_FALSE(items[2].contains("interests"));
}

TEST_CASE("a tag is found by name whatever its case, paging through the audience's tags") {
  Fixture f;
  for (int i = 0; i < 1500; ++i)
    f.fake->tag_names.push_back("tag " + std::to_string(i));
  auto t = f.client->find_tag("L1", "TAG 1234");
  REQUIRE(t.is_ok());
  CHECK(t->id == 2234);
  CHECK(t->name == "tag 1234");
  CHECK(t->member_count == 1234);
  CHECK(f.fake->count("GET", "/3.0/lists/L1/segments?type=static&count=1000&offset=1000") == 1);
  auto none = f.client->find_tag("L1", "volunteer");
  REQUIRE_FALSE(none.is_ok());
  CHECK(none.status().code() == Status::Code::kNotFound);
  CHECK(none.status().message().find("\"tag 0\", \"tag 1\"") != std::string::npos);
  CHECK(none.status().message().find("and 1490 more") != std::string::npos);
  CHECK(f.fake->count("GET", "/3.0/lists/L1/segments") == 4);
}

TEST_CASE("single members are read with their tags and interests") {
  Fixture f(audience(2, t0(), kMicrosPerSecond));
  struct Sink final : MailchimpSink {
    Status records(std::vector<MailchimpRecord>&) override { return Status::ok(); }
    void reject(RejectedRow) override {}
    void gone(const std::string&) override {}
  } sink;
  REQUIRE(f.client->read_members("L1", {"person1@example.org"}, sink).is_ok());
  const std::string& target = f.fake->log.back().target;
  CHECK(target.find(http::url_encode("contact_id,tags,interests")) != std::string::npos);
}

TEST_CASE("tag and interest look-ups and tag writes read answers of any shape without throwing") {
  std::vector<std::string> bodies = concord::testing::malformed_bodies();
  for (const char* b : {
           R"({"segments":[null,1,{"id":"x","name":5},{"id":1e400}],"total_items":"x"})",
           R"({"segments":"x","total_items":-5})",
           R"({"id":"7","name":null,"member_count":"x"})",
           R"({"members_added":"x","members_removed":[null,5,{"email_address":7}]})",
           R"({"errors":[1,{"email_addresses":"a@example.org"},{"email_addresses":[5,null]}]})",
           R"({"errors":[{"email_addresses":["a@example.org"],"error":{}}]})",
           R"({"categories":[null,{"id":5,"title":[]},{"id":"c1","title":"Topics"}]})",
           R"({"interests":[null,{"id":[],"name":"Rocks"}],"categories":{}})",
       }) {
    bodies.emplace_back(b);
  }
  for (const std::string& body : bodies) {
    for (int status : {200, 400, 500}) {
      INFO(status << " " << body);
      MailchimpOptions o;
      o.api_key = kKey;
      o.base_url = "https://127.0.0.1:1/3.0";
      o.http.retry.max_attempts = 1;
      auto client =
          std::move(MailchimpClient::create(
                        o, std::make_unique<concord::testing::CannedTransport>(body, status))
                        .value());
      CHECK_NOTHROW(client->find_tag("L", "vip"));
      CHECK_NOTHROW(client->create_tag("L", "vip"));
      CHECK_NOTHROW(client->find_interest("L", "Topics", "Rocks"));
      std::vector<WriteOutcome> out;
      CHECK_NOTHROW(out = client->apply(
                        "L",
                        {tag_write("a@example.org", true, 1), tag_write("b@example.org", false, 1)},
                        Resubscribe::kPending));
      REQUIRE(out.size() == 2);
      // Nothing in these answers lists the address as added or removed.
      CHECK(out[0].code != WriteOutcome::Code::kDone);
      CHECK(out[1].code != WriteOutcome::Code::kDone);
    }
  }
}
