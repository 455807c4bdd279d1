// concord's Mailchimp client against the real concord-sandbox binary, over TLS sockets.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "concord/email.h"
#include "concord/mailchimp_client.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "sandbox_process.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::SandboxProcess;
using concord::testing::TempStore;
using nlohmann::json;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";

std::string seed_file() {
  return std::string(std::getenv("CONCORD_SOURCE_ROOT")) + "/fixtures/sandbox-seed.json";
}

struct Harness {
  SandboxProcess sandbox;
  std::unique_ptr<http::Client> admin;
  std::unique_ptr<MailchimpClient> client;

  explicit Harness(const std::string& seed = seed_file()) : sandbox(seed) {
    http::Url url = http::Url::parse(sandbox.mailchimp_url()).value();
    http::ClientOptions ho;
    ho.ca_file = sandbox.ca_file();
    ho.retry.base_delay = std::chrono::milliseconds(1);
    ho.retry.max_delay = std::chrono::milliseconds(20);
    ho.retry.max_attempts = 12;
    admin = std::move(http::Client::create(url, ho).value());
    MailchimpOptions o;
    o.api_key = kKey;
    o.base_url = sandbox.mailchimp_url();
    o.http = ho;
    client = std::move(MailchimpClient::create(o).value());
  }

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

  json members_in_sandbox() {
    return admin_call("GET", "/_sandbox/state")["mailchimp"]["lists"][0]["members"];
  }

  // Deletes a member permanently, through the API (as another program would); the HTTP status.
  int forget(const std::string& list_id, const std::string& email) {
    http::Request r;
    r.method = "POST";
    r.target = "/3.0/lists/" + list_id + "/members/" + subscriber_hash(email) +
               "/actions/delete-permanent";
    r.headers.push_back(
        {"Authorization", "Basic Y29uY29yZDowMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZi11czY="});
    auto resp = admin->send(r);
    return resp.is_ok() ? resp->status : 0;
  }

  // Requests the sandbox logged of this method under this path.
  int logged(const std::string& method, const std::string& path_prefix) {
    return admin_call("GET", "/_sandbox/requests?count_only=true&method=" + method +
                                 "&path_prefix=" + http::url_encode(path_prefix))["count"];
  }
};

// A webhook receiver: answers Mailchimp's validation GET with `get_status`, keeps the POSTs.
struct Receiver {
  std::atomic<int> get_status{200};
  std::atomic<int> validations{0};
  std::mutex mu;
  std::vector<std::string> posts;
  std::unique_ptr<http::Server> server;

  Receiver() {
    server = std::move(http::Server::start({}, [this](const http::Request& req, const http::Peer&) {
                         http::Reply r;
                         if (req.method == "GET") {
                           ++validations;
                           r.response.status = get_status;
                         } else {
                           std::lock_guard<std::mutex> lock(mu);
                           posts.push_back(req.body);
                           r.response.status = 200;
                         }
                         return r;
                       }).value());
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  // The deliveries received within a few seconds, once there are `n`.
  std::vector<std::string> wait_for(std::size_t n) {
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (posts.size() >= n) return posts;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard<std::mutex> lock(mu);
    return posts;
  }
};

MailchimpState stored(TempStore& t, const std::string& email) {
  std::optional<MailchimpState> s = t.mailchimp_state(email);
  REQUIRE(s.has_value());
  return *s;
}

std::size_t snapshot_size(TempStore& t) {
  std::size_t n = 0;
  Cursor c = t.store->scan(*t.pair, Family::kMailchimp);
  for (c.seek_to_first(); c.valid(); c.next())
    ++n;
  return n;
}

json big_seed(int n) {
  json members = json::array();
  for (int i = 0; i < n; ++i) {
    members.push_back({{"email_address", "person" + std::to_string(i) + "@example.org"},
                       {"status", i % 10 == 0 ? "unsubscribed" : "subscribed"},
                       {"unsubscribe_origin", "admin"},
                       {"last_changed", "2026-01-01T00:00:00+00:00"},
                       {"merge_fields", {{"FNAME", "P" + std::to_string(i)}}}});
  }
  return {
      {"mailchimp",
       {{"api_key", kKey},
        {"lists", json::array({{{"id", "big0000001"}, {"name", "Big"}, {"members", members}}})}}},
      {"clock", "2026-03-01T00:00:00+00:00"}};
}

}  // namespace

TEST_CASE("over TLS: the audience is found by name and fetched whole into the snapshot") {
  Harness h;
  REQUIRE(h.client->ping().is_ok());
  Audience a = h.client->resolve_audience("Newsletter").value();
  CHECK(a.id == "b3d1c0ffee");
  TempStore t;
  auto stats = fetch_mailchimp(*h.client, a.id, true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(snapshot_size(t) == h.members_in_sandbox().size());
  CHECK(stored(t, "wilma@bedrock.org").status == MailchimpStatus::kSubscribed);
  MailchimpState barney = stored(t, "barney@bedrock.org");
  CHECK(barney.status == MailchimpStatus::kUnsubscribed);
  CHECK(barney.unsubscribe_origin == UnsubscribeOrigin::kSelf);
  CHECK(barney.changed_at == parse_iso8601("2026-01-02T12:00:00+00:00").value());
  auto fields = h.client->merge_fields(a.id);
  REQUIRE(fields.is_ok());
  CHECK(fields->size() == 4);
}

TEST_CASE("over TLS: a wrong key is refused, and the error does not show it") {
  SandboxProcess sandbox(seed_file());
  MailchimpOptions o;
  o.api_key = "ffffffffffffffffffffffffffffffff-us6";
  o.base_url = sandbox.mailchimp_url();
  o.http.ca_file = sandbox.ca_file();
  auto c = MailchimpClient::create(o).value();
  Status s = c->ping();
  CHECK(s.code() == Status::Code::kInvalid);
  CHECK(s.message().find("API Key Invalid") != std::string::npos);
  CHECK(s.message().find("ffffffff") == std::string::npos);
}

TEST_CASE("over TLS: an incremental fetch sees a self-unsubscribe and a bounce in one page") {
  Harness h;
  TempStore t;
  REQUIRE(fetch_mailchimp(*h.client, "b3d1c0ffee", true, *t.store, *t.pair).is_ok());
  h.admin_call("POST", "/_sandbox/clock", {{"advance_seconds", 3600}});
  h.admin_call("POST", "/_sandbox/mailchimp/members",
               {{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}});
  h.admin_call("POST", "/_sandbox/mailchimp/members",
               {{"email_address", "fred@bedrock.org"}, {"action", "clean"}});
  std::uint64_t before = h.client->requests();
  auto stats = fetch_mailchimp(*h.client, "b3d1c0ffee", false, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  // One page, and the audience's counts (which agree: nobody was deleted).
  CHECK(h.client->requests() - before == 2);
  CHECK_FALSE(stats->counts_differed);
  MailchimpState wilma = stored(t, "wilma@bedrock.org");
  CHECK(wilma.status == MailchimpStatus::kUnsubscribed);
  CHECK(wilma.unsubscribe_origin == UnsubscribeOrigin::kSelf);
  CHECK(stored(t, "fred@bedrock.org").status == MailchimpStatus::kCleaned);
}

TEST_CASE("over TLS: writes follow the state machine, one outcome per member") {
  Harness h;
  std::vector<MailchimpWrite> w = {
      {"betty@bedrock.org", MailchimpWrite::Kind::kSubscribe, {{"FNAME", "Betty"}}},
      {"barney@bedrock.org", MailchimpWrite::Kind::kSubscribe, {}},  // unsubscribed himself
      {"fred@bedrock.org", MailchimpWrite::Kind::kUnsubscribe, {}},
      {"pebbles@bedrock.org", MailchimpWrite::Kind::kArchive, {}},
      {"not an address", MailchimpWrite::Kind::kSubscribe, {}},
  };
  auto out = h.client->apply("b3d1c0ffee", w, Resubscribe::kPending);
  CHECK(out[0].code == WriteOutcome::Code::kDone);
  CHECK(out[0].status == MailchimpStatus::kSubscribed);
  CHECK(out[1].code == WriteOutcome::Code::kPendingSent);
  CHECK(out[1].status == MailchimpStatus::kPending);
  CHECK(out[2].code == WriteOutcome::Code::kDone);
  CHECK(out[3].code == WriteOutcome::Code::kDone);
  CHECK(out[3].status == MailchimpStatus::kArchived);
  CHECK(out[4].code == WriteOutcome::Code::kInvalid);
  std::map<std::string, json> by_email;
  for (const json& m : h.members_in_sandbox())
    by_email[m["email_address"]] = m;
  CHECK(by_email["betty@bedrock.org"]["status"] == "subscribed");
  CHECK(by_email["betty@bedrock.org"]["merge_fields"]["FNAME"] == "Betty");
  CHECK(by_email["barney@bedrock.org"]["status"] == "pending");
  CHECK(by_email["fred@bedrock.org"]["status"] == "unsubscribed");
  CHECK(by_email["pebbles@bedrock.org"]["status"] == "archived");

  // Archiving again is refused (405); never retried as a success.
  auto again = h.client->apply("b3d1c0ffee", {w[3]}, Resubscribe::kPending);
  CHECK(again[0].code == WriteOutcome::Code::kInvalid);
}

TEST_CASE("over TLS: a member deleted while we page does not make another disappear") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", big_seed(3500));
  // Slow down the pages after the first, and delete an early member meanwhile: every member
  // after it shifts one place, and one crosses back into a page already read.
  h.admin_call("POST", "/_sandbox/faults",
               {{"path_prefix", "/3.0/lists/big0000001/members"},
                {"next", {"none", "delay:600", "delay:600", "delay:600", "none"}}});
  TempStore t;
  std::thread deleter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    CHECK(h.forget("big0000001", "person10@example.org") == 204);
  });
  auto stats = fetch_mailchimp(*h.client, "big0000001", true, *t.store, *t.pair);
  deleter.join();
  REQUIRE(stats.is_ok());
  INFO("rechecked " << stats->rechecked << ", removed " << stats->removed);
  // person10 was read before it was deleted; no one else may be missing (person1010 moved into
  // the first page's range, which the second page overlaps).
  CHECK(snapshot_size(t) == 3500);
}

TEST_CASE("over TLS: with 429s, 5xx, resets and truncated bodies, fetches and writes converge") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", big_seed(2500));
  h.admin_call("POST", "/_sandbox/faults",
               {{"error_rates", {{"429", 0.15}, {"503", 0.1}, {"403", 0.05}}},
                {"reset_rate", 0.05},
                {"reset_after_rate", 0.05},
                {"truncate_rate", 0.05},
                {"seed", 7}});
  TempStore t;
  auto stats = fetch_mailchimp(*h.client, "big0000001", true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(snapshot_size(t) == 2500);

  std::vector<MailchimpWrite> w;
  for (int i = 0; i < 1200; ++i) {
    w.push_back({"new" + std::to_string(i) + "@bedrock.org", MailchimpWrite::Kind::kSubscribe, {}});
  }
  auto out = h.client->apply("big0000001", w, Resubscribe::kPending);
  std::size_t done = 0;
  for (const auto& o : out)
    done += o.code == WriteOutcome::Code::kDone;
  INFO("first outcome: " << out[0].message);
  CHECK(done == w.size());
  h.admin_call("POST", "/_sandbox/faults", json::object());
  CHECK(h.members_in_sandbox().size() == 3700);
}

TEST_CASE("over TLS: more than 10 requests at once meet 429s, and the client still converges") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", big_seed(20000));
  // Long enough that the 16 requests overlap even when a loaded machine sets up their TLS
  // connections one after another (at 30 ms the test saw no 429 about one run in three under
  // a parallel suite).
  h.admin_call("POST", "/_sandbox/faults", {{"latency_ms", 250}});
  SandboxProcess& s = h.sandbox;
  MailchimpOptions o;
  o.api_key = kKey;
  o.base_url = s.mailchimp_url();
  o.http.ca_file = s.ca_file();
  o.http.max_connections = 16;  // more than Mailchimp allows
  o.http.retry.base_delay = std::chrono::milliseconds(5);
  o.http.retry.max_attempts = 20;
  o.parallel_pages = 16;
  std::atomic<int> retries_429{0};  // on_retry runs on the fetching threads
  o.http.on_retry = [&](int, const Status& why) {
    if (why.message().find("429") != std::string::npos) ++retries_429;
  };
  auto greedy = MailchimpClient::create(o).value();
  TempStore t;
  auto stats = fetch_mailchimp(*greedy, "big0000001", true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(snapshot_size(t) == 20000);
  CHECK(retries_429 > 0);
}

TEST_CASE(
    "over TLS: a targeted read re-reads the members named, removes the gone, keeps the watermark") {
  Harness h;
  TempStore t;
  REQUIRE(fetch_mailchimp(*h.client, "b3d1c0ffee", true, *t.store, *t.pair).is_ok());
  auto w = t.store->get(*t.pair, Family::kMeta, mailchimp_watermark_key("b3d1c0ffee")).value();
  REQUIRE(w.has_value());
  const std::size_t members = snapshot_size(t);
  h.admin_call("POST", "/_sandbox/clock", {{"now", "2026-06-01T12:00:00Z"}});
  h.admin_call("POST", "/_sandbox/mailchimp/members",
               {{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}});
  h.admin_call("POST", "/_sandbox/mailchimp/members",
               {{"email_address", "fred@bedrock.org"}, {"action", "clean"}});  // not asked for
  REQUIRE(h.forget("b3d1c0ffee", "pebbles@bedrock.org") == 204);

  const std::uint64_t before = h.client->requests();
  auto stats = refresh_mailchimp(*h.client, "b3d1c0ffee",
                                 {"Wilma@Bedrock.org", "pebbles@bedrock.org", "nobody@bedrock.org"},
                                 *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(h.client->requests() - before == 3);
  CHECK(stats->written == 1);
  CHECK(stats->removed == 1);
  MailchimpState wilma = stored(t, "wilma@bedrock.org");
  CHECK(wilma.status == MailchimpStatus::kUnsubscribed);
  CHECK(wilma.unsubscribe_origin == UnsubscribeOrigin::kSelf);
  CHECK(wilma.changed_at == parse_iso8601("2026-06-01T12:00:00+00:00").value());
  CHECK(stored(t, "fred@bedrock.org").status == MailchimpStatus::kSubscribed);
  CHECK_FALSE(t.store->get(*t.pair, Family::kMailchimp, member_key("pebbles@bedrock.org").view())
                  .value()
                  .has_value());
  CHECK(snapshot_size(t) == members - 1);
  CHECK(t.store->get(*t.pair, Family::kMeta, mailchimp_watermark_key("b3d1c0ffee")).value() == w);
}

TEST_CASE("over TLS: a webhook is registered once Mailchimp has checked its URL, then delivers") {
  Harness h;
  Receiver rx;
  const std::string url = rx.url("/hooks/mailchimp?key=s3cret");
  auto made = h.client->create_webhook(
      "b3d1c0ffee", url, {"subscribe", "unsubscribe", "profile", "cleaned", "upemail"}, true, true,
      false);
  REQUIRE(made.is_ok());
  CHECK(rx.validations == 1);
  CHECK_FALSE(made->id.empty());
  CHECK(made->url == url);
  CHECK(made->events ==
        std::vector<std::string>{"subscribe", "unsubscribe", "profile", "cleaned", "upemail"});
  CHECK(made->source_user);
  CHECK(made->source_admin);
  CHECK_FALSE(made->source_api);
  auto all = h.client->webhooks("b3d1c0ffee");
  REQUIRE(all.is_ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].id == made->id);
  CHECK((*all)[0].events == made->events);
  CHECK_FALSE((*all)[0].source_api);

  // A contact unsubscribes in Mailchimp: the delivery arrives. concord's own (API) write does not.
  auto out =
      h.client->apply("b3d1c0ffee", {{"fred@bedrock.org", MailchimpWrite::Kind::kUnsubscribe, {}}},
                      Resubscribe::kPending);
  REQUIRE(out[0].code == WriteOutcome::Code::kDone);
  h.admin_call("POST", "/_sandbox/mailchimp/members",
               {{"email_address", "wilma@bedrock.org"}, {"action", "unsubscribe"}});
  std::vector<std::string> posts = rx.wait_for(1);
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].find("type=unsubscribe") != std::string::npos);
  CHECK(posts[0].find("wilma%40bedrock.org") != std::string::npos);

  // The same URL again is refused, in Mailchimp's words.
  auto twice = h.client->create_webhook("b3d1c0ffee", url, {"subscribe"}, true, true, false);
  REQUIRE_FALSE(twice.is_ok());
  CHECK(twice.status().code() == Status::Code::kInvalid);
  CHECK(twice.status().message().find("already exists") != std::string::npos);

  REQUIRE(h.client->delete_webhook("b3d1c0ffee", made->id).is_ok());
  CHECK(h.client->webhooks("b3d1c0ffee")->empty());
  CHECK(h.client->delete_webhook("b3d1c0ffee", made->id).is_ok());  // already gone
}

TEST_CASE("over TLS: a URL that fails Mailchimp's check is refused verbatim, without the key") {
  Harness h;
  Receiver rx;
  rx.get_status = 404;
  auto r = h.client->create_webhook("b3d1c0ffee", rx.url("/hooks/mailchimp?key=s3cret"),
                                    {"subscribe", "unsubscribe"}, true, true, false);
  REQUIRE_FALSE(r.is_ok());
  CHECK(rx.validations == 1);
  CHECK(r.status().code() == Status::Code::kInvalid);
  INFO(r.status().message());
  CHECK(r.status().message().find(
            "Mailchimp answered 400 Invalid Resource: We couldn't verify the URL is working. "
            "Please double check and try again. HTTP Code: 404") != std::string::npos);
  CHECK(r.status().message().find(kKey) == std::string::npos);
  CHECK(r.status().message().find("s3cret") == std::string::npos);
  CHECK(h.client->webhooks("b3d1c0ffee")->empty());
}

TEST_CASE("over TLS: a registration whose answer is lost is not sent again, and is found") {
  Harness h;
  Receiver rx;
  // The POST is carried out, then the connection is reset before the answer.
  h.admin_call("POST", "/_sandbox/faults",
               {{"next", {"reset_after"}}, {"path_prefix", "/3.0/lists/b3d1c0ffee/webhooks"}});
  auto made =
      h.client->create_webhook("b3d1c0ffee", rx.url("/hook"), {"unsubscribe"}, true, true, false);
  REQUIRE(made.is_ok());
  CHECK(made->url == rx.url("/hook"));
  CHECK(h.logged("POST", "/3.0/lists/b3d1c0ffee/webhooks") == 1);
  CHECK(rx.validations == 1);
  CHECK(h.client->webhooks("b3d1c0ffee")->size() == 1);
}

namespace {

// The fixture's seed with tags and interest groups on its list: "volunteer" (10001, on Wilma)
// and "Quarry Crew" (10002); the categories "Topics" (Rocks, Dinosaurs) and "Region" (Bedrock),
// Wilma in Rocks.
json groups_seed() {
  std::ifstream in(seed_file());
  json seed = json::parse(in);
  json& list = seed["mailchimp"]["lists"][0];
  list["tags"] = json::array(
      {{{"id", 10001}, {"name", "volunteer"}}, {{"id", 10002}, {"name", "Quarry Crew"}}});
  list["interest_categories"] =
      json::array({{{"id", "aaaa000001"},
                    {"title", "Topics"},
                    {"interests", json::array({{{"id", "1111111111"}, {"name", "Rocks"}},
                                               {{"id", "2222222222"}, {"name", "Dinosaurs"}}})}},
                   {{"id", "bbbb000002"},
                    {"title", "Region"},
                    {"interests", json::array({{{"id", "3333333333"}, {"name", "Bedrock"}}})}}});
  for (json& m : list["members"]) {
    if (m["email_address"] == "wilma@bedrock.org") m["interests"] = {{"1111111111", true}};
  }
  return seed;
}

// The records a read hands over, by address.
class RecordsSink final : public MailchimpSink {
 public:
  std::map<std::string, MailchimpRecord> by_email;
  Status records(std::vector<MailchimpRecord>& page) override {
    for (MailchimpRecord& r : page)
      by_email[r.email] = std::move(r);
    return Status::ok();
  }
  void reject(RejectedRow) override {}
  void gone(const std::string&) override {}
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("over TLS: tags and interests are found by name; a missing one names what exists") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", groups_seed());
  auto volunteer = h.client->find_tag("b3d1c0ffee", "VOLUNTEER");
  REQUIRE(volunteer.is_ok());
  CHECK(volunteer->id == 10001);
  CHECK(volunteer->name == "volunteer");
  CHECK(volunteer->member_count == 1);
  auto missing = h.client->find_tag("b3d1c0ffee", "Gravel");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK(missing.status().message().find("\"volunteer\", \"Quarry Crew\"") != std::string::npos);

  auto made = h.client->create_tag("b3d1c0ffee", "Gravel");
  REQUIRE(made.is_ok());
  CHECK(made->id > 0);
  CHECK(made->name == "Gravel");
  CHECK(made->member_count == 0);
  CHECK(h.client->find_tag("b3d1c0ffee", "gravel").value().id == made->id);
  // A second tag of that name (in any case) is refused in Mailchimp's words.
  auto twice = h.client->create_tag("b3d1c0ffee", "GRAVEL");
  REQUIRE_FALSE(twice.is_ok());
  CHECK(twice.status().code() == Status::Code::kInvalid);
  CHECK(twice.status().message().find("already exists") != std::string::npos);

  auto rocks = h.client->find_interest("b3d1c0ffee", "topics", "ROCKS");
  REQUIRE(rocks.is_ok());
  CHECK(rocks->category_id == "aaaa000001");
  CHECK(rocks->category_title == "Topics");
  CHECK(rocks->id == "1111111111");
  CHECK(rocks->name == "Rocks");
  auto no_category = h.client->find_interest("b3d1c0ffee", "Colours", "Red");
  REQUIRE_FALSE(no_category.is_ok());
  CHECK(no_category.status().code() == Status::Code::kNotFound);
  CHECK(no_category.status().message().find("\"Topics\", \"Region\"") != std::string::npos);
  auto no_interest = h.client->find_interest("b3d1c0ffee", "Topics", "Shale");
  REQUIRE_FALSE(no_interest.is_ok());
  CHECK(no_interest.status().code() == Status::Code::kNotFound);
  CHECK(no_interest.status().message().find("\"Rocks\", \"Dinosaurs\"") != std::string::npos);
}

TEST_CASE("over TLS: tags put on and taken off are read back by a full read") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", groups_seed());
  auto mk = [](const char* email, MailchimpWrite::Kind kind, std::int64_t tag) {
    MailchimpWrite w;
    w.email = email;
    w.kind = kind;
    w.tag_id = tag;
    return w;
  };
  const auto add = MailchimpWrite::Kind::kAddTag, remove = MailchimpWrite::Kind::kRemoveTag;
  auto out =
      h.client->apply("b3d1c0ffee",
                      {mk("fred@bedrock.org", add, 10002), mk("wilma@bedrock.org", add, 10002),
                       mk("wilma@bedrock.org", remove, 10001),
                       mk("betty@bedrock.org", add, 10002)},  // not in the audience
                      Resubscribe::kPending);
  REQUIRE(out.size() == 4);
  for (int i = 0; i < 3; ++i) {
    INFO(i << ": " << out[i].message);
    CHECK(out[i].code == WriteOutcome::Code::kDone);
    CHECK(out[i].last_changed >= parse_iso8601("2026-03-01T00:00:00+00:00").value());
  }
  CHECK(out[3].code == WriteOutcome::Code::kFailed);
  CHECK(out[3].message == "not a member of the audience");
  // One call for each tag.
  CHECK(h.logged("POST", "/3.0/lists/b3d1c0ffee/segments/") == 2);

  RecordsSink sink;
  REQUIRE(h.client->read_all("b3d1c0ffee", sink).is_ok());
  CHECK(sink.by_email.at("fred@bedrock.org").tags == std::vector<std::string>{"Quarry Crew"});
  CHECK(sink.by_email.at("wilma@bedrock.org").tags == std::vector<std::string>{"Quarry Crew"});
  CHECK(sink.by_email.at("pebbles@bedrock.org").tags.empty());
  CHECK(sink.by_email.at("wilma@bedrock.org").interests == std::vector<std::string>{"1111111111"});
  CHECK(sink.by_email.at("fred@bedrock.org").interests.empty());
}

TEST_CASE("over TLS: a member subscribed with tags and interests has them when read back") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", groups_seed());
  MailchimpWrite betty{"betty@bedrock.org", MailchimpWrite::Kind::kSubscribe, {{"FNAME", "Betty"}}};
  betty.tags = {"volunteer", "Rubbles"};  // one the audience has, one it does not yet
  betty.interests = {{"2222222222", true}, {"3333333333", true}, {"1111111111", false}};
  auto out = h.client->apply("b3d1c0ffee", {betty}, Resubscribe::kPending);
  REQUIRE(out[0].code == WriteOutcome::Code::kDone);
  CHECK(out[0].status == MailchimpStatus::kSubscribed);

  RecordsSink sink;
  REQUIRE(h.client->read_all("b3d1c0ffee", sink).is_ok());
  const MailchimpRecord& r = sink.by_email.at("betty@bedrock.org");
  CHECK(sorted(r.tags) == std::vector<std::string>{"Rubbles", "volunteer"});
  CHECK(sorted(r.interests) == std::vector<std::string>{"2222222222", "3333333333"});
  CHECK(h.client->find_tag("b3d1c0ffee", "rubbles").is_ok());
}

TEST_CASE("over TLS: an update-fields write turns interests on and off; the others stay") {
  Harness h;
  h.admin_call("POST", "/_sandbox/reset", groups_seed());
  MailchimpWrite wilma{"wilma@bedrock.org", MailchimpWrite::Kind::kUpdateFields, {}};
  wilma.interests = {{"1111111111", false}, {"2222222222", true}};
  auto out = h.client->apply("b3d1c0ffee", {wilma}, Resubscribe::kPending);
  REQUIRE(out[0].code == WriteOutcome::Code::kDone);
  CHECK(out[0].status == MailchimpStatus::kSubscribed);
  RecordsSink one;
  REQUIRE(h.client->read_members("b3d1c0ffee", {"wilma@bedrock.org"}, one).is_ok());
  const MailchimpRecord& r = one.by_email.at("wilma@bedrock.org");
  CHECK(r.interests == std::vector<std::string>{"2222222222"});
  CHECK(r.tags == std::vector<std::string>{"volunteer"});  // a fields write leaves tags alone

  wilma.interests = {{"3333333333", true}};
  REQUIRE(h.client->apply("b3d1c0ffee", {wilma}, Resubscribe::kPending)[0].code ==
          WriteOutcome::Code::kDone);
  RecordsSink all;
  REQUIRE(h.client->read_all("b3d1c0ffee", all).is_ok());
  CHECK(sorted(all.by_email.at("wilma@bedrock.org").interests) ==
        std::vector<std::string>{"2222222222", "3333333333"});
}
