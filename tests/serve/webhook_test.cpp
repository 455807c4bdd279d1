// Mailchimp webhook deliveries as the daemon reads them.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "serve/webhook.h"

using namespace concord;

TEST_CASE("webhook: each event type is read from Mailchimp's form body") {
  struct Row {
    const char* body;
    const char* type;
    const char* email;
    const char* old_email;
    const char* action;
  };
  const Row rows[] = {
      {"type=subscribe&fired_at=2026-11-23+10%3A00%3A00&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D="
       "a6b5da1054&data%5Bemail%5D=Wilma%40Bedrock.org&data%5Bemail_type%5D=html&data%5Bmerges%5D"
       "%5BFNAME%5D=Wilma",
       "subscribe", "wilma@bedrock.org", "", ""},
      {"type=unsubscribe&fired_at=2026-11-23 10:00:00&data[action]=unsub&data[reason]=manual&"
       "data[list_id]=a6b5da1054&data[email]=barney@bedrock.org",
       "unsubscribe", "barney@bedrock.org", "", "unsub"},
      {"type=unsubscribe&data[action]=delete&data[list_id]=L&data[email]=fred@bedrock.org",
       "unsubscribe", "fred@bedrock.org", "", "delete"},
      {"type=profile&data[list_id]=L&data[email]=betty@bedrock.org&data[merges][LNAME]=Rubble",
       "profile", "betty@bedrock.org", "", ""},
      {"type=upemail&data[list_id]=L&data[new_id]=51aa6d2ee9&data[new_email]=pebbles%2Bnew%40"
       "bedrock.org&data[old_email]=pebbles@bedrock.org",
       "upemail", "pebbles+new@bedrock.org", "pebbles@bedrock.org", ""},
      {"type=cleaned&data[list_id]=L&data[campaign_id]=&data[reason]=hard&data[email]=dino@"
       "bedrock.org",
       "cleaned", "dino@bedrock.org", "", "hard"},
  };
  for (const Row& r : rows) {
    INFO(r.body);
    Result<WebhookEvent> e = parse_mailchimp_webhook(r.body);
    REQUIRE(e.is_ok());
    CHECK(webhook_type_name(e->type) == r.type);
    CHECK(e->email == r.email);
    CHECK(e->old_email == r.old_email);
    CHECK(e->action == r.action);
    CHECK_FALSE(e->list_id.empty());
  }
  Result<WebhookEvent> first = parse_mailchimp_webhook(rows[0].body);
  CHECK(first->fired_at == parse_civil("2026-11-23 10:00:00").value());
  CHECK(first->list_id == "a6b5da1054");
}

TEST_CASE("webhook: a malformed delivery is refused naming the field") {
  struct Row {
    const char* body;
    const char* error;
  };
  const Row rows[] = {
      {"", "webhook: type is missing"},
      {"type=resubscribe&data[list_id]=L&data[email]=a@b.org",
       "webhook: unknown type \"resubscribe\""},
      {"type=subscribe&data[email]=a@b.org", "webhook: data[list_id] is missing"},
      {"type=subscribe&data[list_id]=L", "webhook: data[email] is missing"},
      {"type=subscribe&data[list_id]=L&data[email]=not-an-address",
       "webhook: data[email] \"not-an-address\" is not an email address"},
      {"type=upemail&data[list_id]=L&data[new_email]=a@b.org",
       "webhook: data[old_email] is missing"},
      {"type=upemail&data[list_id]=L&data[old_email]=a@b.org",
       "webhook: data[new_email] is missing"},
      // concord's own type for a people side's deliveries is not Mailchimp's to send.
      {"type=people&data[list_id]=L&data[email]=a@b.org", "webhook: unknown type \"people\""},
  };
  for (const Row& r : rows) {
    INFO(r.body);
    Result<WebhookEvent> e = parse_mailchimp_webhook(r.body);
    REQUIRE_FALSE(e.is_ok());
    CHECK(e.status().code() == Status::Code::kInvalid);
    CHECK(e.status().message().rfind(r.error, 0) == 0);
  }
  // A campaign event is read and carries no member.
  Result<WebhookEvent> c = parse_mailchimp_webhook("type=campaign&data[id]=1&data[list_id]=L");
  REQUIRE(c.is_ok());
  CHECK(c->type == WebhookType::kCampaign);
  CHECK(c->email.empty());
}

TEST_CASE("webhook: events survive their stored form") {
  WebhookEvent e = parse_mailchimp_webhook(
                       "type=upemail&fired_at=2026-01-02 03:04:05&data[list_id]=L&data[new_email]"
                       "=new@b.org&data[old_email]=old@b.org")
                       .value();
  e.received_at = 42;
  Result<WebhookEvent> back = decode_webhook_event(encode_webhook_event(e));
  REQUIRE(back.is_ok());
  CHECK(back->type == WebhookType::kUpemail);
  CHECK(back->email == "new@b.org");
  CHECK(back->old_email == "old@b.org");
  CHECK(back->list_id == "L");
  CHECK(back->fired_at == e.fired_at);
  CHECK(back->received_at == 42);
  CHECK(decode_webhook_event("{nope").status().code() == Status::Code::kCorruption);
  // The stored form names the type as Mailchimp does; a name concord does not know is unreadable.
  CHECK(encode_webhook_event(e).find(R"("type":"upemail")") != std::string::npos);
  CHECK(decode_webhook_event(R"({"type":"resubscribe","email":"a@b.org"})").status().code() ==
        Status::Code::kCorruption);
  // A people side's delivery keeps the ids it names.
  WebhookEvent people;
  people.type = WebhookType::kPeople;
  people.people = {"47", "1001"};
  Result<WebhookEvent> p = decode_webhook_event(encode_webhook_event(people));
  REQUIRE(p.is_ok());
  CHECK(p->type == WebhookType::kPeople);
  CHECK(p->people == std::vector<std::string>{"47", "1001"});
  CHECK(decode_webhook_event(R"({"type":"people","people":[47]})").status().code() ==
        Status::Code::kCorruption);
}

TEST_CASE("webhook: each type's name is read back as the same type") {
  for (std::size_t i = 0; i < kWebhookTypeCount; ++i) {
    const WebhookType t = static_cast<WebhookType>(i);
    INFO(webhook_type_name(t));
    CHECK(parse_webhook_type(webhook_type_name(t)) == t);
  }
  CHECK(webhook_type_name(WebhookType::kCampaign) == "campaign");
  CHECK_FALSE(parse_webhook_type("Subscribe").has_value());
  CHECK_FALSE(parse_webhook_type("").has_value());
}

TEST_CASE("webhook: signatures are HMAC-SHA256 of the body") {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  const std::string expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  CHECK(webhook_signature("Jefe", "what do ya want for nothing?") == expected);
  CHECK(webhook_signature_ok("Jefe", "what do ya want for nothing?", expected));
  CHECK(webhook_signature_ok("Jefe", "what do ya want for nothing?", "sha256=" + expected));
  std::string upper = expected;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(webhook_signature_ok("Jefe", "what do ya want for nothing?", upper));
  CHECK_FALSE(webhook_signature_ok("Jefe", "what do ya want for nothing!", expected));
  CHECK_FALSE(webhook_signature_ok("jefe", "what do ya want for nothing?", expected));
  CHECK_FALSE(webhook_signature_ok("Jefe", "what do ya want for nothing?", ""));
}

TEST_CASE("webhook: secrets are random and compared exactly") {
  const std::string a = random_secret(), b = random_secret();
  CHECK(a.size() == 32);
  CHECK(a != b);
  CHECK(secrets_equal(a, a));
  CHECK_FALSE(secrets_equal(a, b));
  CHECK_FALSE(secrets_equal(a, a.substr(0, 31)));
}

TEST_CASE("webhook: the URL key is made once, 0600 in a 0700 state directory, whatever the umask") {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    DYNAMIC_SECTION("umask " << std::oct << mask) {
      const std::filesystem::path state =
          std::filesystem::temp_directory_path() /
          ("concord-webhook-key-" + std::to_string(::getpid()) + "-" + std::to_string(mask));
      std::filesystem::remove_all(state);
      const mode_t old = ::umask(mask);
      Result<std::string> first = webhook_url_secret(state, "newsletter");
      Result<std::string> again = webhook_url_secret(state, "newsletter");
      Result<std::string> other = webhook_url_secret(state, "members");
      ::umask(old);
      REQUIRE(first.is_ok());
      REQUIRE(again.is_ok());
      REQUIRE(other.is_ok());
      CHECK(first->size() == 32);
      CHECK(*again == *first);  // the key was kept, not made again
      CHECK(*other != *first);
      struct stat st;
      REQUIRE(::stat(state.c_str(), &st) == 0);
      CHECK((st.st_mode & 07777) == 0700);
      REQUIRE(::stat((state / "webhook.key").c_str(), &st) == 0);
      CHECK((st.st_mode & 07777) == 0600);
      std::filesystem::remove_all(state);
    }
  }
}

// Found by the webhook_form fuzz target (tests/fuzz): a stored event of a wrong shape threw out of
// decode_webhook_event, and a huge number was converted to an integer it does not fit.
TEST_CASE("fuzz: a stored event with a field of the wrong type is corruption, not an exception") {
  for (const char* stored :
       {R"({"type":"subscribe","fired_at":"x"})", R"({"type":"subscribe","list_id":5})",
        R"({"type":"subscribe","fired_at":1e300})", R"({"type":"subscribe","email":[]})",
        R"({"type":"subscribe","received_at":-0.5})"}) {
    INFO(stored);
    Result<WebhookEvent> e = decode_webhook_event(stored);
    REQUIRE_FALSE(e.is_ok());
    CHECK(e.status().code() == Status::Code::kCorruption);
  }
}

// Found by the webhook_form fuzz target: an action that is not UTF-8 was stored re-encoded, so the
// inbox kept a different event from the one delivered.
TEST_CASE("fuzz: an action or reason that is not a short word is not kept") {
  Result<WebhookEvent> e = parse_mailchimp_webhook(
      "type=cleaned&data[list_id]=a1&data[email]=a%40example.org&data[reason]=%FF");
  REQUIRE(e.is_ok());
  CHECK(e->action.empty());
  Result<WebhookEvent> stored = decode_webhook_event(encode_webhook_event(*e));
  REQUIRE(stored.is_ok());
  CHECK(stored->action == e->action);
  Result<WebhookEvent> unsub = parse_mailchimp_webhook(
      "type=unsubscribe&data[list_id]=a1&data[email]=a%40example.org&data[action]=unsub");
  REQUIRE(unsub.is_ok());
  CHECK(unsub->action == "unsub");
}
