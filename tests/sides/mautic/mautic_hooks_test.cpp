// The Mautic client's webhooks against the in-process fake: created with the body Mautic's API
// takes, listed, looked up (published or not), deleted, and a create whose answer is lost.
#include <catch2/catch.hpp>

#include "fake_mautic.h"

using namespace concord;
using namespace concord::testing;

TEST_CASE("mautic: a hook is created published, with concord's triggers, oldest first") {
  Setup s;
  auto c = s.client();
  Result<MauticHook> made = c->create_hook(
      "concord sync news", "https://concord.example/webhooks/mautic/news/x", kHookSecret);
  REQUIRE(made.is_ok());
  CHECK(made->id == 1);
  CHECK(made->published);
  CHECK(made->url == "https://concord.example/webhooks/mautic/news/x");
  CHECK(made->name == "concord sync news");
  CHECK(made->events_order == "ASC");
  CHECK(made->triggers ==
        std::vector<std::string>(kMauticHookTriggers.begin(), kMauticHookTriggers.end()));

  REQUIRE(s.fake.log.size() == 1);
  const http::Request& req = s.fake.log[0];
  CHECK(req.method == "POST");
  CHECK(req.target == "/api/hooks/new");
  CHECK(req.header("Content-Type") == "application/json");
  const json body = json::parse(req.body);
  CHECK(body.at("secret") == kHookSecret);
  CHECK(body.at("isPublished") == true);
  CHECK(body.at("eventsOrderbyDir") == "ASC");
  CHECK(body.at("webhookUrl") == "https://concord.example/webhooks/mautic/news/x");
  const std::vector<std::string> want = {
      "mautic.lead_post_save_new", "mautic.lead_post_save_update",
      "mautic.lead_points_change", "mautic.lead_channel_subscription_changed",
      "mautic.lead_list_change",   "mautic.lead_post_delete"};
  CHECK(body.at("triggers").get<std::vector<std::string>>() == want);

  // Given triggers are sent as given.
  Result<MauticHook> other =
      c->create_hook("x", "https://concord.example/2", kHookSecret, {"mautic.lead_post_delete"});
  REQUIRE(other.is_ok());
  CHECK(other->triggers == std::vector<std::string>{"mautic.lead_post_delete"});
}

TEST_CASE("mautic: hooks are listed, looked up and deleted; a gone hook is done") {
  Setup s;
  for (int i = 0; i < 205; ++i) {  // two pages
    s.fake.hooks[i + 1] = {
        {"id", i + 1},
        {"name", "h" + std::to_string(i)},
        {"webhookUrl", "https://x/" + std::to_string(i)},
        {"isPublished", i % 2 == 0},
        {"secret", kHookSecret},
        {"events", json::array({{{"id", 1}, {"eventType", "mautic.lead_post_delete"}}})}};
  }
  auto c = s.client();
  Result<std::vector<MauticHook>> hooks = c->list_hooks();
  REQUIRE(hooks.is_ok());
  REQUIRE(hooks->size() == 205);
  CHECK(hooks->at(0).published);
  CHECK_FALSE(hooks->at(1).published);
  CHECK(hooks->at(1).triggers == std::vector<std::string>{"mautic.lead_post_delete"});
  CHECK(hooks->at(204).url == "https://x/204");

  Result<MauticHook> h = c->hook(2);
  REQUIRE(h.is_ok());
  CHECK_FALSE(h->published);  // Mautic unpublished it (a 410, or 100 failures)
  REQUIRE(c->delete_hook(2).is_ok());
  CHECK(s.fake.log.back().method == "DELETE");
  CHECK(s.fake.log.back().target == "/api/hooks/2/delete");
  Result<MauticHook> gone = c->hook(2);
  CHECK(gone.status().code() == Status::Code::kNotFound);
  CHECK(gone.status().origin() == Origin::kMautic);
  CHECK(c->delete_hook(2).is_ok());  // already gone
}

TEST_CASE("mautic: a create whose answer is lost finds the hook it made instead of another") {
  Setup s;
  auto c = s.client();
  // The hook is made, but a 502 comes back.
  s.fake.intercept = [&](const http::Request& req) -> std::optional<http::Response> {
    if (req.method != "POST") return {};
    s.fake.intercept = nullptr;
    s.fake.handle(req);
    return s.fake.error(502, "Bad Gateway");
  };
  Result<MauticHook> made = c->create_hook("concord", "https://concord.example/h", kHookSecret);
  REQUIRE(made.is_ok());
  CHECK(made->id == 1);
  CHECK(s.fake.hooks.size() == 1);

  // Refused for good (400): the error, in Mautic's words, without the hook's secret.
  s.fake.script.push_back(s.fake.error(
      400, std::string("webhookUrl: This value is not a valid URL. secret=") + kHookSecret));
  Result<MauticHook> refused = c->create_hook("concord", "not a url", kHookSecret);
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().code() == Status::Code::kInvalid);
  CHECK(refused.status().message().find("not a valid URL") != std::string::npos);
  check_no_secret(refused.status());

  // A 5xx where the POST made nothing: the error.
  s.fake.script.push_back(s.fake.error(503, "Service Unavailable"));
  Result<MauticHook> failed = c->create_hook("concord", "https://concord.example/2", kHookSecret);
  REQUIRE_FALSE(failed.is_ok());
  CHECK(failed.status().retryable());
}

TEST_CASE("mautic: malformed hook answers are errors, not crashes") {
  for (const std::string body : {"[]", "{}", R"({"hook":[]})", R"({"hook":{"id":"x"}})",
                                 R"({"hook":{"id":3,"triggers":"x","isPublished":"yes"}})"}) {
    INFO(body);
    Setup s;
    http::Response r = s.fake.answer(200, nullptr);
    r.body = body;
    s.fake.script.push_back(r);
    Result<MauticHook> h = s.client()->hook(3);
    if (h.is_ok()) {
      CHECK(h->id == 3);  // the last: odd members are read past
      CHECK_FALSE(h->published);
      CHECK(h->triggers.empty());
    } else {
      CHECK(h.status().code() == Status::Code::kUnavailable);
    }
  }
}
