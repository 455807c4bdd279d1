// The Mautic emulator's webhooks, delivered over TLS to a receiver in the test: the request
// (headers, a signature checked here with OpenSSL over the raw body, PHP's escaping, the contact
// without fields.all), the events each change fires, immediate and queued delivery with their
// failure rules, 410 and auto-disabling, and that a slow receiver does not slow the API. The
// expected behaviour is the reference's §5.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "mautic_site.h"

using namespace concord::testing::mautic_site;

namespace {

const std::vector<std::string> kContactEvents = {"mautic.lead_post_save_new",
                                                 "mautic.lead_post_save_update",
                                                 "mautic.lead_points_change",
                                                 "mautic.lead_post_delete",
                                                 "mautic.lead_channel_subscription_changed",
                                                 "mautic.lead_list_change"};

// A published hook posting `triggers` to the receiver, created through the API. Returns its id.
int create_hook(Mautic& m, const Receiver& r, const std::vector<std::string>& triggers,
                const std::string& secret = "hook-secret") {
  json body = {
      {"name", "concord"}, {"webhookUrl", r.url()}, {"secret", secret}, {"triggers", triggers}};
  Answer a = m.api("POST", "/api/hooks/new", body.dump(), "application/json");
  REQUIRE(a.status == 201);
  return a.j()["hook"]["id"];
}

// A seed whose hook 1 posts every contact event to the receiver, last modified long ago.
json seed_with_hook(const Receiver& r, const json& responses = json::array()) {
  json seed = base_seed();
  seed["hooks"] = json::array({{{"id", 1},
                                {"name", "old hook"},
                                {"webhookUrl", r.url()},
                                {"secret", "old-secret"},
                                {"triggers", kContactEvents},
                                {"dateAdded", "2024-01-01T00:00:00+00:00"},
                                {"dateModified", "2024-01-01T00:00:00+00:00"},
                                {"responses", responses}}});
  return seed;
}

// A person edits contact 1's city; returns once its deliveries were sent.
void update_city(Mautic& m, const std::string& city) {
  REQUIRE(m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", city}}}}).status ==
          200);
  m.deliveries();
}

bool hook_published(Mautic& m, int id) {
  return m.get("/api/hooks/" + std::to_string(id)).j()["hook"]["isPublished"];
}

}  // namespace

TEST_CASE("delivery: signed JSON, PHP's escaping, the contact without fields.all") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  create_hook(m, r, {"mautic.lead_post_save_update"});
  REQUIRE(m.admin("PATCH", "/_sandbox/mautic/contacts/5", {{"fields", {{"lastname", "Ünal"}}}})
              .status == 200);
  m.deliveries();
  auto got = r.received();
  REQUIRE(got.size() == 1);
  const auto& d = got[0];
  CHECK(d.header("Content-Type") == "application/json");
  CHECK(d.header("X-Origin-Base-URL") == "https://mautic.test");
  // The signature is the receiver's to check, over the bytes it received.
  CHECK(d.header("Webhook-Signature") == hmac_base64("hook-secret", d.body));
  CHECK(d.header("Webhook-Signature") != hmac_base64("another-secret", d.body));
  CHECK(d.body.find(R"("dave\/slash@example.org")") != std::string::npos);
  CHECK(d.body.find(R"("\u00dcnal")") != std::string::npos);

  json body = d.j();
  REQUIRE(body.size() == 1);
  const json& items = body["mautic.lead_post_save_update"];
  REQUIRE(items.size() == 1);
  CHECK(items[0]["timestamp"] == kNow);
  const json& contact = items[0]["contact"];
  CHECK(contact["id"] == 5);
  CHECK(contact["fields"]["core"]["lastname"]["value"] == "Ünal");
  CHECK(contact["fields"]["core"]["email"]["object"] == "lead");
  CHECK(contact["fields"]["core"]["email"]["is_fixed"] == "1");
  CHECK_FALSE(contact["fields"].contains("all"));
  CHECK(contact["fields"]["personal"] == json::array());
  CHECK(contact["dateModified"] == kNow);
}

TEST_CASE("delivery: each change fires Mautic's events, one POST per event") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  create_hook(m, r, kContactEvents);
  struct Step {
    const char* name;
    std::string method, path;
    json body;
    std::vector<std::string> events;
  };
  const std::vector<Step> steps = {
      {"a contact created with an email is identified",
       "POST",
       "/_sandbox/mautic/contacts",
       {{"fields", {{"email", "new@example.org"}}}},
       {"mautic.lead_post_save_new"}},
      {"an anonymous visitor fires no save event",
       "POST",
       "/_sandbox/mautic/contacts",
       json::object(),
       {}},
      {"the visitor identified",
       "PATCH",
       "/_sandbox/mautic/contacts/7",
       {{"fields", {{"email", "visitor@example.org"}}}},
       {"mautic.lead_post_save_new"}},
      {"a field changed",
       "PATCH",
       "/_sandbox/mautic/contacts/1",
       {{"fields", {{"firstname", "Alicia"}}}},
       {"mautic.lead_post_save_update"}},
      {"nothing changed",
       "PATCH",
       "/_sandbox/mautic/contacts/1",
       {{"fields", {{"firstname", "Alicia"}}}},
       {}},
      {"points changed",
       "PATCH",
       "/_sandbox/mautic/contacts/1",
       {{"points", 25}},
       {"mautic.lead_post_save_update", "mautic.lead_points_change"}},
      {"do-not-contact added",
       "POST",
       "/_sandbox/mautic/contacts/1/dnc",
       {{"reason", 1}},
       {"mautic.lead_post_save_update", "mautic.lead_channel_subscription_changed"}},
      {"do-not-contact lifted",
       "DELETE",
       "/_sandbox/mautic/contacts/2/dnc/email",
       nullptr,
       {"mautic.lead_post_save_update", "mautic.lead_channel_subscription_changed"}},
      {"added to a segment",
       "POST",
       "/_sandbox/mautic/segments/2/members",
       {{"add", {1}}},
       {"mautic.lead_list_change"}},
      {"deleted", "DELETE", "/_sandbox/mautic/contacts/3", nullptr, {"mautic.lead_post_delete"}},
  };
  for (const Step& s : steps) {
    INFO(s.name);
    r.clear();
    Answer a = m.admin(s.method, s.path, s.body);
    REQUIRE(a.status == 200);
    CHECK(a.j()["events"] == json(s.events));
    m.deliveries();
    CHECK(event_keys(r.received()) == s.events);
  }

  // The payloads' own keys.
  r.clear();
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"points", 30}});
  m.api("POST", "/api/contacts/5/dnc/email/add", "reason=2");
  m.api("POST", "/api/segments/1/contact/2/remove");
  m.admin("DELETE", "/_sandbox/mautic/contacts/5");
  m.deliveries();
  std::vector<json> items;
  for (const auto& got : r.received()) {
    const json body = got.j();
    for (auto it = body.begin(); it != body.end(); ++it)
      items.push_back(json{{"event", it.key()}, {"item", it.value()[0]}});
  }
  auto find = [&](const std::string& key) {
    for (const json& i : items) {
      if (i["event"] == key) return i["item"];
    }
    FAIL("no " << key);
    return json();
  };
  CHECK(find("mautic.lead_points_change")["points"] ==
        json::parse(R"({"old_points":25,"new_points":30})"));
  const json channel = find("mautic.lead_channel_subscription_changed");
  CHECK(channel["channel"] == "email");
  CHECK(channel["old_status"] == "contactable");
  CHECK(channel["new_status"] == "bounced");
  const json list = find("mautic.lead_list_change");
  CHECK(list["action"] == "removed");
  CHECK(list["segment"]["alias"] == "newsletter");
  CHECK(list["contact"]["id"] == 2);
  const json deleted = find("mautic.lead_post_delete");
  CHECK(deleted["id"] == 5);
  CHECK(deleted["contact"]["id"].is_null());
  CHECK_FALSE(deleted["contact"].contains("tags"));
}

TEST_CASE("delivery: only published hooks subscribed to the event get it") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  const int subscribed = create_hook(m, r, {"mautic.lead_list_change"});
  Answer unpublished = m.api("POST", "/api/hooks/new",
                             json({{"name", "off"},
                                   {"webhookUrl", r.url("/off")},
                                   {"isPublished", false},
                                   {"triggers", {"mautic.lead_post_save_update"}}})
                                 .dump(),
                             "application/json");
  REQUIRE(unpublished.status == 201);
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Oxford"}}}});
  m.api("POST", "/api/segments/2/contact/1/add");
  json log = m.deliveries();
  REQUIRE(log["deliveries"].size() == 1);
  CHECK(log["deliveries"][0]["webhook_id"] == subscribed);
  CHECK(log["deliveries"][0]["events"] == json{"mautic.lead_list_change"});
  CHECK(log["deliveries"][0]["status"] == 200);
  CHECK(event_keys(r.received()) == std::vector<std::string>{"mautic.lead_list_change"});
}

TEST_CASE("immediate delivery: a failure is not retried") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  create_hook(m, r, {"mautic.lead_post_save_update"});
  r.answer({500});
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Oxford"}}}});
  m.deliveries();
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Leeds"}}}});
  json log = m.deliveries();
  REQUIRE(r.received().size() == 2);  // the first once, then the second
  CHECK(log["deliveries"][0]["status"] == 500);
  CHECK(log["deliveries"][1]["status"] == 200);
  CHECK(r.received()[1].j()["mautic.lead_post_save_update"][0]["contact"]["fields"]["core"]["city"]
                           ["value"] == "Leeds");
}

TEST_CASE("queued delivery: rows wait for the process route, 10 to a POST grouped by event") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  m.settings({{"queue_mode", "command_process"}});
  create_hook(m, r, kContactEvents);
  for (int i = 0; i < 5; ++i) {
    m.admin("PATCH", "/_sandbox/mautic/contacts/1",
            {{"fields", {{"city", "C" + std::to_string(i)}}}});
  }
  m.api("POST", "/api/contacts/1/dnc/email/add", "reason=1");  // two events
  for (int i = 0; i < 5; ++i) {
    m.admin("PATCH", "/_sandbox/mautic/contacts/2", {{"points", i + 1}});  // two events each
  }
  json before = m.deliveries();
  CHECK(before["deliveries"].empty());
  CHECK(before["queue"].size() == 17);
  CHECK(r.received().empty());

  json run = m.admin("POST", "/_sandbox/mautic/webhooks/process").j();
  CHECK(run["remaining"] == 0);
  REQUIRE(run["requests"].size() == 2);
  CHECK(run["requests"][0]["rows"] == 10);
  CHECK(run["requests"][1]["rows"] == 7);
  auto got = r.received();
  REQUIRE(got.size() == 2);
  json first = got[0].j();
  // Regrouped by event, in the order each key first appears.
  std::vector<std::string> keys;
  for (auto& [key, list] : first.items())
    keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"mautic.lead_post_save_update",
                                         "mautic.lead_channel_subscription_changed",
                                         "mautic.lead_points_change"});
  // Rows 1-10: five edits, the DNC's save and channel change, then a save and a points change
  // and one more save.
  CHECK(first["mautic.lead_post_save_update"].size() == 8);
  CHECK(first["mautic.lead_post_save_update"][0]["contact"]["fields"]["core"]["city"]["value"] ==
        "C0");
  CHECK(got[0].header("Webhook-Signature") == hmac_base64("hook-secret", got[0].body));
  CHECK(event_keys({got[1]}) ==
        std::vector<std::string>{"mautic.lead_points_change", "mautic.lead_post_save_update"});
}

TEST_CASE("queued delivery: a non-2xx answer drops its rows, a transport error keeps them") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  m.settings({{"queue_mode", "command_process"}});
  create_hook(m, r, {"mautic.lead_post_save_update"});
  for (int i = 0; i < 12; ++i) {
    m.admin("PATCH", "/_sandbox/mautic/contacts/1",
            {{"fields", {{"city", "C" + std::to_string(i)}}}});
  }
  r.answer({500});
  json run = m.admin("POST", "/_sandbox/mautic/webhooks/process").j();
  // The rows were deleted before the status was looked at, and the run stopped.
  REQUIRE(run["requests"].size() == 1);
  CHECK(run["requests"][0]["status"] == 500);
  CHECK(run["remaining"] == 2);
  run = m.admin("POST", "/_sandbox/mautic/webhooks/process").j();
  CHECK(run["remaining"] == 0);
  CHECK(r.received().size() == 2);

  // A receiver that cannot be reached: the rows stay for the next run.
  Answer moved = m.api("PATCH", "/api/hooks/1/edit", "webhookUrl=https://127.0.0.1:1/gone");
  REQUIRE(moved.status == 200);
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Nowhere"}}}});
  run = m.admin("POST", "/_sandbox/mautic/webhooks/process").j();
  REQUIRE(run["requests"].size() == 1);
  CHECK(run["requests"][0]["status"] == 0);
  CHECK(run["remaining"] == 1);
  m.api("PATCH", "/api/hooks/1/edit", "webhookUrl=" + r.url());
  run = m.admin("POST", "/_sandbox/mautic/webhooks/process").j();
  CHECK(run["remaining"] == 0);
  CHECK(r.received().back().j()["mautic.lead_post_save_update"][0]["contact"]["fields"]["core"]
                               ["city"]["value"] == "Nowhere");
}

TEST_CASE("410 Gone unpublishes the hook at once; events after it are lost") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  const int id = create_hook(m, r, {"mautic.lead_post_save_update"});
  r.answer({410});
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Oxford"}}}});
  m.deliveries();
  CHECK_FALSE(hook_published(m, id));
  json state = m.admin("GET", "/_sandbox/state").j();
  CHECK(state["mautic"]["hooks"][0]["isPublished"] == false);
  CHECK(state["mautic"]["hooks"][0]["responses"] == json{410});
  m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Leeds"}}}});
  m.deliveries();
  CHECK(r.received().size() == 1);
}

TEST_CASE("auto-disable: a failure with no 2xx among the last answers unpublishes the hook") {
  struct Case {
    const char* name;
    json responses;  // the hook's earlier answers, oldest first
    int disable_limit;
    bool published;
  };
  const std::vector<Case> cases = {
      {"a hook untouched for days whose answers all failed", {500, 502}, 100, false},
      {"one 2xx among the last answers keeps it", {200, 500}, 100, true},
      {"only the last webhook_disable_limit answers count", {200, 500, 500}, 2, false},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      Receiver r;
      json seed = seed_with_hook(r, c.responses);
      seed["settings"]["webhook_disable_limit"] = c.disable_limit;
      Mautic m(seed, r.trust());
      r.answer({503});
      update_city(m, "Oxford");
      CHECK(hook_published(m, 1) == c.published);
    }
  }
}

TEST_CASE("auto-disable: a hook modified in the last two days is spared") {
  Receiver r;
  Mautic m(seed_with_hook(r), r.trust());
  m.api("PATCH", "/api/hooks/1/edit", "name=renamed");
  r.answer({500});
  update_city(m, "Oxford");
  CHECK(hook_published(m, 1));
  m.advance(2 * 86400 + 1);
  r.answer({500});
  update_city(m, "Leeds");
  CHECK_FALSE(hook_published(m, 1));
}

TEST_CASE("a slow receiver does not slow the request that fired the event") {
  Receiver r;
  Mautic m(base_seed(), r.trust());
  create_hook(m, r, {"mautic.lead_post_save_update", "mautic.lead_channel_subscription_changed"});
  r.delay_ms = 1500;
  const auto start = std::chrono::steady_clock::now();
  CHECK(m.api("POST", "/api/contacts/1/dnc/email/add", "reason=1").status == 200);
  CHECK(
      m.admin("PATCH", "/_sandbox/mautic/contacts/1", {{"fields", {{"city", "Oxford"}}}}).status ==
      200);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
  m.deliveries();
  CHECK(r.received().size() == 3);
}
