// The Mautic client against the real concord-sandbox binary, over TLS: a segment resolved and read
// by key set (a large one, one whose members leave while it is read), both authentications and
// their refusals, Do-Not-Contact and segment changes that an incremental read cannot see, the rate
// limit, and webhooks: created, listed, unpublished after a 410, deleted, and the deliveries the
// sandbox sends to a receiver here checked by their signature and read.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <set>

#include "concord/mautic_client.h"
#include "concord/time.h"
#include "sides/cohorts/cohort_sandbox.h"

namespace concord {
namespace {

using testing::Admin;
using testing::Collect;
using testing::json;
using testing::sandbox;

constexpr const char* kUser = "api-user";
constexpr const char* kPassword = "mautic-pw-DO-NOT-LEAK-42";
constexpr const char* kClientId = "1_concord";
constexpr const char* kClientSecret = "mautic-cs-DO-NOT-LEAK-42";
constexpr const char* kHookSecret = "hook-secret-DO-NOT-LEAK-42";
const char* const kNow = "2026-12-06T12:00:00Z";

// The webhook receiver: a plain HTTP server (the signature is what proves a delivery, and the
// sandbox's client trusts no authority of ours) that keeps every request and answers `status`.
struct Receiver {
  std::unique_ptr<http::Server> server;
  std::mutex mu;
  std::vector<http::Request> got;
  int status = 200;

  Receiver() {
    auto s = http::Server::start({}, [this](const http::Request& req, const http::Peer&) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(req);
      http::Reply r;
      r.response.status = status;
      return r;
    });
    REQUIRE(s.is_ok());
    server = std::move(*s);
  }
  ~Receiver() { server->stop(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  std::vector<http::Request> take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(got, {});
  }
};

Receiver& receiver() {
  static Receiver r;
  return r;
}

std::string url() {
  return sandbox().ready.at("mautic_url");
}

Admin& admin() {
  static Admin a(url());
  return a;
}
json admin(const std::string& method, const std::string& target, const json& body = nullptr) {
  return admin().call(method, target, body);
}

// The sandbox's log of the client's requests to paths starting with `prefix` since `since`.
struct Logged {
  std::string method, path;
  std::map<std::string, std::string> query;
};
std::vector<Logged> requests(std::uint64_t since, const std::string& prefix) {
  std::vector<Logged> out;
  for (const json& e : admin().requests("mautic", since)) {
    const std::string full = e.at("path");
    Logged l{e.at("method"), full.substr(0, full.find('?')), {}};
    if (l.path.rfind(prefix, 0) != 0) continue;
    if (full.find('?') != std::string::npos) {
      for (auto& [k, v] : http::parse_query(full.substr(full.find('?') + 1)))
        l.query[k] = v;
    }
    out.push_back(std::move(l));
  }
  return out;
}

// Contacts 1..n (c<i>@example.org, Given<i>, plan "p<i>"), contact 2 unsubscribed by email.
// Segment 1 "Newsletter" (newsletter) holds every contact whose id is not a multiple of 7;
// segment 2 "Others" (others) the rest.
json seed(int n, json settings = json::object()) {
  json contacts = json::array(), news = json::array(), others = json::array();
  for (int i = 1; i <= n; ++i) {
    json c = {{"id", i},
              {"dateAdded", "2026-12-01T10:00:00+00:00"},
              {"dateModified", "2026-12-01T10:00:00+00:00"},
              {"fields",
               {{"all",
                 {{"email", "c" + std::to_string(i) + "@example.org"},
                  {"firstname", "Given" + std::to_string(i)},
                  {"plan", "p" + std::to_string(i)}}}}}};
    if (i == 2) {
      c["doNotContact"] =
          json::array({{{"reason", 1}, {"channel", "email"}, {"comments", "User unsubscribed."}}});
    }
    contacts.push_back(c);
    (i % 7 == 0 ? others : news).push_back(i);
  }
  settings["queue_mode"] = "immediate_process";
  return {{"clock", kNow},
          {"mautic",
           {{"username", kUser},
            {"password", kPassword},
            {"oauth2_clients",
             json::array({{{"client_id", kClientId}, {"client_secret", kClientSecret}}})},
            {"settings", settings},
            {"custom_fields", json::array({{{"alias", "plan"},
                                            {"label", "Plan"},
                                            {"type", "text"},
                                            {"group", "professional"}}})},
            {"contacts", contacts},
            {"segments",
             json::array(
                 {{{"id", 1}, {"name", "Newsletter"}, {"alias", "newsletter"}, {"members", news}},
                  {{"id", 2}, {"name", "Others"}, {"alias", "others"}, {"members", others}}})}}}};
}

void reset(const json& s) {
  admin("POST", "/_sandbox/reset", s);
  admin("POST", "/_sandbox/clock", {{"now", kNow}});
}

MauticOptions options(bool oauth = false) {
  MauticOptions o;
  o.base_url = url();
  if (oauth) {
    o.client_id = kClientId;
    o.client_secret = kClientSecret;
  } else {
    o.username = kUser;
    o.password = kPassword;
  }
  o.http.ca_file = sandbox().ca_file();
  o.http.retry.max_attempts = 2;
  o.http.retry.base_delay = std::chrono::milliseconds(10);
  o.http.retry.max_delay = std::chrono::milliseconds(20);
  return o;
}

std::unique_ptr<MauticClient> client(MauticOptions o) {
  auto c = MauticClient::create(std::move(o));
  REQUIRE(c.is_ok());
  return std::move(*c);
}

void check_no_secret(const Status& s) {
  INFO(s.message());
  for (const char* secret : {kPassword, kClientSecret, kHookSecret})
    CHECK(s.message().find(secret) == std::string::npos);
}

Micros at(const char* iso) {
  Result<Micros> t = parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

std::set<std::string> ids_of(const Collect& sink) {
  std::set<std::string> out;
  for (const SourcePerson& p : sink.people)
    out.insert(p.id);
  return out;
}

// The ids of segment "newsletter" in seed(n), as text.
std::set<std::string> newsletter(int n, std::set<int> without = {}) {
  std::set<std::string> out;
  for (int i = 1; i <= n; ++i) {
    if (i % 7 != 0 && !without.count(i)) out.insert(std::to_string(i));
  }
  return out;
}

}  // namespace

TEST_CASE("mautic sandbox: a large segment is read whole, by key set on the id") {
  const int n = 1203;
  reset(seed(n));
  MauticOptions o = options();
  o.page_size = 500;
  auto c = client(o);
  auto r = c->reader("Newsletter", {"firstname", "plan", "lastname"});
  REQUIRE(r->resolve().is_ok());
  CHECK(r->segment_alias() == "newsletter");
  CHECK(c->reader("newsletter", {})->resolve().is_ok());
  CHECK(c->reader("2", {})->resolve().is_ok());
  Status missing = c->reader("Newsleter", {})->resolve();
  CHECK(missing.code() == Status::Code::kNotFound);
  CHECK(missing.message().find("\"Newsletter\"") != std::string::npos);

  const std::uint64_t since = admin().next_seq();
  Collect sink;
  Result<SideRead> read = r->read_all(sink);
  REQUIRE(read.is_ok());
  CHECK(sink.rejected.empty());
  CHECK(sink.people.size() == newsletter(n).size());
  CHECK(ids_of(sink) == newsletter(n));
  CHECK(read->watermark == at(kNow));

  const std::vector<Logged> log = requests(since, "/api/contacts");
  REQUIRE(log.size() == 3);  // 500 + 500 + 32
  for (const Logged& l : log) {
    CHECK(l.query.at("search") == "segment:newsletter");
    CHECK(l.query.at("where[0][col]") == "id");
    CHECK(l.query.at("where[0][expr]") == "gt");
    CHECK(l.query.at("orderBy") == "id");
    CHECK(l.query.count("minimal") == 0);
  }
  CHECK(log[0].query.at("where[0][val]") == "0");

  const SourcePerson* two = sink.find("2");
  REQUIRE(two != nullptr);
  CHECK(two->do_not_contact);
  CHECK(two->email == "c2@example.org");
  CHECK(two->updated_at == at("2026-12-01T10:00:00Z"));
  CHECK(sink.field("2", "firstname") == "Given2");
  CHECK(sink.field("2", "plan") == "p2");
  CHECK(sink.field("2", "lastname") == "");
  CHECK_FALSE(sink.find("3")->do_not_contact);
}

TEST_CASE("mautic sandbox: contacts leaving the segment while it is read skip no one") {
  reset(seed(40));
  MauticOptions o = options();
  o.page_size = 5;
  auto c = client(o);
  auto r = c->reader("newsletter", {});
  // After the first page, the first two contacts read leave the segment (offset paging would now
  // skip two contacts of the next page).
  struct Leaving final : SourceSink {
    Collect inner;
    bool done = false;
    Status records(std::vector<SourcePerson>& page) override {
      if (!done) {
        done = true;
        admin("POST", "/_sandbox/mautic/segments/1/members",
              {{"remove", json::array({std::stoll(page[0].id), std::stoll(page[1].id)})}});
      }
      return inner.records(page);
    }
    void reject(RejectedRow row) override { inner.reject(std::move(row)); }
  } sink;
  REQUIRE(r->read_all(sink).is_ok());
  CHECK(ids_of(sink.inner) == newsletter(40));
  // And the next read has them gone.
  Collect again;
  REQUIRE(r->read_all(again).is_ok());
  CHECK(ids_of(again) == newsletter(40, {1, 2}));
}

TEST_CASE("mautic sandbox: what an incremental read misses, member_ids and read_contacts find") {
  reset(seed(30));
  auto c = client(options());
  auto r = c->reader("newsletter", {"firstname"});
  Collect all;
  Result<SideRead> first = r->read_all(all);
  REQUIRE(first.is_ok());

  admin("POST", "/_sandbox/clock", {{"advance_seconds", 60}});
  admin("PATCH", "/_sandbox/mautic/contacts/5", {{"fields", {{"firstname", "Renamed"}}}});
  admin("POST", "/_sandbox/mautic/contacts/6/dnc", {{"channel", "email"}, {"reason", 2}});
  admin("POST", "/_sandbox/mautic/segments/1/members",
        {{"add", json::array({7})}, {"remove", json::array({8})}});

  Collect changed;
  Result<SideRead> since = r->read_since(first->watermark, changed);
  REQUIRE(since.is_ok());
  CHECK(ids_of(changed) == std::set<std::string>{"5"});  // not 6 (DNC), 7 (joined)
  CHECK(changed.field("5", "firstname") == "Renamed");
  CHECK(since->watermark == at(kNow) + 60 * kMicrosPerSecond);

  Result<std::vector<std::int64_t>> ids = r->member_ids();
  REQUIRE(ids.is_ok());
  std::vector<std::int64_t> want;
  for (const std::string& id : newsletter(30, {8}))
    want.push_back(std::stoll(id));
  want.push_back(7);
  std::sort(want.begin(), want.end());
  CHECK(*ids == want);

  Collect named;
  Result<MauticContactsRead> got = r->read_contacts({6, 7, 8, 99999}, named);
  REQUIRE(got.is_ok());
  CHECK(ids_of(named) == std::set<std::string>{"6", "7"});
  CHECK(named.find("6")->do_not_contact);
  CHECK_FALSE(named.find("7")->do_not_contact);
  CHECK(got->not_in_segment == std::vector<std::int64_t>{8, 99999});
}

TEST_CASE("mautic sandbox: OAuth2 tokens, renewed once when they expire mid-read") {
  reset(seed(30));
  MauticOptions o = options(/*oauth=*/true);
  o.page_size = 4;
  auto c = client(o);
  auto r = c->reader("newsletter", {});
  struct Expiring final : SourceSink {
    Collect inner;
    int pages = 0;
    Status records(std::vector<SourcePerson>& page) override {
      if (++pages == 2) admin("POST", "/_sandbox/mautic/tokens/expire");
      return inner.records(page);
    }
    void reject(RejectedRow row) override { inner.reject(std::move(row)); }
  } sink;
  const std::uint64_t since = admin().next_seq();
  REQUIRE(r->read_all(sink).is_ok());
  CHECK(ids_of(sink.inner) == newsletter(30));
  CHECK(c->tokens_fetched() == 2);
  const std::vector<Logged> tokens = requests(since, "/oauth/v2/token");
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0].method == "POST");

  // Wrong client secret: OAuth2's refusal, without the secret.
  o.client_secret = std::string(kClientSecret) + "-wrong";
  Status st = client(o)->ensure_token();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("invalid_client") != std::string::npos);
  check_no_secret(st);
  CHECK(st.message().find(o.client_secret) == std::string::npos);
}

TEST_CASE("mautic sandbox: refusals of Basic credentials and of a disabled API are clear") {
  reset(seed(3));
  MauticOptions o = options();
  o.password = std::string(kPassword) + "-wrong";
  Status st = client(o)->reader("newsletter", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("Authorization denied") != std::string::npos);
  CHECK(st.message().find("user \"api-user\"") != std::string::npos);
  check_no_secret(st);

  reset(seed(3, {{"basic_auth_enabled", false}}));
  st = client(options())->reader("newsletter", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("Basic Auth disabled") != std::string::npos);

  reset(seed(3, {{"api_enabled", false}}));
  st = client(options())->reader("newsletter", {})->resolve();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("api_disabled") != std::string::npos);
  st = client(options(true))->ensure_token();
  CHECK(st.code() == Status::Code::kInvalid);
  CHECK(st.message().find("API is disabled") != std::string::npos);
  CHECK(st.origin() == Origin::kMautic);
  check_no_secret(st);
}

TEST_CASE("mautic sandbox: the hourly rate limit fails the read at once, saying so") {
  reset(seed(10, {{"rate_limit_per_hour", 2}}));
  MauticOptions o = options();
  o.page_size = 2;
  std::vector<std::chrono::milliseconds> slept;
  o.sleep = [&](std::chrono::milliseconds d) { slept.push_back(d); };
  auto c = client(o);
  Collect sink;
  Result<SideRead> read = c->reader("newsletter", {})->read_all(sink);
  REQUIRE_FALSE(read.is_ok());
  CHECK(read.status().code() == Status::Code::kUnavailable);
  CHECK(read.status().message().find("rate limit resets in") != std::string::npos);
  CHECK(slept.empty());  // the hour's end is beyond the longest wait
}

TEST_CASE("mautic sandbox: a site under /index.php") {
  reset(seed(3));
  MauticOptions o = options(true);
  o.base_url = url() + "/index.php";
  auto c = client(o);
  const std::uint64_t since = admin().next_seq();
  Collect sink;
  REQUIRE(c->reader("newsletter", {})->read_all(sink).is_ok());
  CHECK(sink.people.size() == 3);
  for (const Logged& l : requests(since, "/")) {
    INFO(l.path);
    CHECK(l.path.rfind("/index.php/", 0) == 0);
  }
}

TEST_CASE("mautic sandbox: webhooks are created, signed, read, unpublished and deleted") {
  reset(seed(12));
  receiver().take();
  receiver().status = 200;
  auto c = client(options());
  Result<MauticHook> made = c->create_hook(
      "concord newsletter", receiver().url("/webhooks/mautic/newsletter"), kHookSecret);
  REQUIRE(made.is_ok());
  CHECK(made->published);
  CHECK(made->triggers.size() == kMauticHookTriggers.size());
  Result<std::vector<MauticHook>> hooks = c->list_hooks();
  REQUIRE(hooks.is_ok());
  REQUIRE(hooks->size() == 1);
  CHECK(hooks->at(0).id == made->id);
  CHECK(hooks->at(0).url == made->url);

  admin("PATCH", "/_sandbox/mautic/contacts/3", {{"fields", {{"firstname", "Changed"}}}});
  admin("POST", "/_sandbox/mautic/segments/1/members", {{"remove", json::array({4})}});
  admin("POST", "/_sandbox/mautic/contacts/5/dnc", {{"channel", "email"}, {"reason", 1}});
  admin("DELETE", "/_sandbox/mautic/contacts/9");
  admin("GET", "/_sandbox/mautic/deliveries?wait=true");

  std::vector<MauticChange> changes;
  for (const http::Request& req : receiver().take()) {
    CHECK(req.method == "POST");
    CHECK(req.target == "/webhooks/mautic/newsletter");
    const std::string sig(req.header("Webhook-Signature"));
    CHECK(mautic_signature_ok(kHookSecret, req.body, sig));
    CHECK_FALSE(mautic_signature_ok("another secret", req.body, sig));
    Result<MauticDelivery> d = parse_mautic_delivery(req.body);
    REQUIRE(d.is_ok());
    for (MauticChange& ch : d->changes)
      changes.push_back(std::move(ch));
  }
  auto has = [&](MauticEvent e, std::int64_t id) -> const MauticChange* {
    for (const MauticChange& ch : changes) {
      if (ch.event == e && ch.contact_id == id) return &ch;
    }
    return nullptr;
  };
  const MauticChange* update = has(MauticEvent::kUpdated, 3);
  REQUIRE(update != nullptr);
  CHECK(update->email == "c3@example.org");
  CHECK(update->timestamp == at(kNow));
  const MauticChange* left = has(MauticEvent::kSegmentChanged, 4);
  REQUIRE(left != nullptr);
  CHECK(left->segment_id == 1);
  CHECK_FALSE(left->added);
  const MauticChange* dnc = has(MauticEvent::kDncChanged, 5);
  REQUIRE(dnc != nullptr);
  CHECK(dnc->channel == "email");
  CHECK(dnc->old_status == "contactable");
  CHECK(dnc->new_status == "unsubscribed");
  CHECK(has(MauticEvent::kDeleted, 9) != nullptr);

  // A 410 from the receiver: Mautic unpublishes the hook, which hook() shows.
  receiver().status = 410;
  admin("PATCH", "/_sandbox/mautic/contacts/3", {{"fields", {{"firstname", "Again"}}}});
  admin("GET", "/_sandbox/mautic/deliveries?wait=true");
  Result<MauticHook> now = c->hook(made->id);
  REQUIRE(now.is_ok());
  CHECK_FALSE(now->published);

  REQUIRE(c->delete_hook(made->id).is_ok());
  CHECK(c->hook(made->id).status().code() == Status::Code::kNotFound);
  CHECK(c->delete_hook(made->id).is_ok());
  hooks = c->list_hooks();
  REQUIRE(hooks.is_ok());
  CHECK(hooks->empty());
  receiver().status = 200;
}

}  // namespace concord
