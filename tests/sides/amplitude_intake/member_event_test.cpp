// From accepted Amplitude events to Mailchimp: member event names, string properties, times,
// the member's address, and an identify's merge-field candidates (reference Amplitude §4.7,
// Mailchimp §5.7, §16.5).
#include "sides/amplitude/member_event.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sides/amplitude/intake.h"

namespace concord::amplitude {
namespace {

IntakeEvent track(const std::string& event_properties = "{}",
                  const std::string& user_properties = "{}") {
  IntakeEvent e;
  e.event_type = "Order Completed";
  e.user_id = "user-20391";
  e.time_ms = 1793817970000;
  e.event_properties = event_properties;
  e.user_properties = user_properties;
  return e;
}

TEST_CASE("member_event_name: Mailchimp's 2 to 30 characters of [a-z0-9_-]") {
  struct Case {
    std::string type;
    std::string name;  // "" = refused
  };
  const std::vector<Case> cases = {
      {"Order Completed", "order_completed"},
      {"[Amplitude] Page Viewed", "amplitude_page_viewed"},
      {"crm_deal_won", "crm_deal_won"},
      {"sign-up", "sign-up"},
      {"  Hello__World  ", "hello_world"},
      {"Checkout: Step 2 / Payment!", "checkout_step_2_payment"},
      {"$identify", "identify"},
      {"Caf\xC3\xA9 Visited", "caf_visited"},
      {"--ab--", "ab"},
      {"ab", "ab"},
      {"404", "404"},
      // Cut at 30; a cut that ends on a separator drops it.
      {"abcdefghij abcdefghij abcdefghij", "abcdefghij_abcdefghij_abcdefgh"},
      {"abcdefghijklmnopqrstuvwxyzabc defg", "abcdefghijklmnopqrstuvwxyzabc"},
      {"A", ""},
      {"", ""},
      {"!?", ""},
      {"a !", ""},
      {"-x-", ""},
      {"\xF0\x9F\x98\x80\xF0\x9F\x98\x80", ""},  // emoji only
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.type) {
      const Result<std::string> name = member_event_name(c.type);
      if (c.name.empty()) {
        REQUIRE(!name.is_ok());
        CHECK(name.status().code() == Status::Code::kInvalid);
        CHECK(name.status().message().find("2 to 30") != std::string::npos);
      } else {
        REQUIRE(name.is_ok());
        CHECK(name.value() == c.name);
        CHECK(name->size() <= 30);
      }
    }
  }
}

TEST_CASE("member_event_properties: every value a string, filtered and bounded") {
  const IntakeEvent e =
      track(R"({"order_id":"88231","total":42.50,"items":["a","b"],"paid":true,"n":7,"none":null,)"
            R"("nested":{"a":1},"":"empty key","big":12345678901234567890})");
  SECTION("all") {
    const auto props = member_event_properties(e, MemberEventOptions{});
    REQUIRE(props.is_ok());
    const std::map<std::string, std::string> want = {{"big", "12345678901234567890"},
                                                     {"items", R"(["a","b"])"},
                                                     {"n", "7"},
                                                     {"nested", R"({"a":1})"},
                                                     {"order_id", "88231"},
                                                     {"paid", "true"},
                                                     {"total", "42.5"}};
    CHECK(props.value() == want);
  }
  SECTION("only the configured ones") {
    MemberEventOptions o;
    o.event_properties = {"order_id", "total", "not_sent", "Order_ID"};
    const auto props = member_event_properties(e, o);
    REQUIRE(props.is_ok());
    CHECK(props.value() ==
          std::map<std::string, std::string>{{"order_id", "88231"}, {"total", "42.5"}});
  }
  SECTION("at most max_properties, the first in key order") {
    MemberEventOptions o;
    o.max_properties = 2;
    const auto props = member_event_properties(e, o);
    REQUIRE(props.is_ok());
    CHECK(props.value() == std::map<std::string, std::string>{{"big", "12345678901234567890"},
                                                              {"items", R"(["a","b"])"}});
  }
  SECTION("long values cut on a character boundary") {
    MemberEventOptions o;
    o.max_value_length = 4;
    const auto props = member_event_properties(
        track(R"({"word":"\u00e9\u00e9\u00e9\u00e9\u00e9","list":["abc"]})"), o);
    REQUIRE(props.is_ok());
    CHECK(props->at("word") == "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9");
    CHECK(props->at("list") == R"(["ab)");
  }
  SECTION("unreadable properties are refused, not guessed") {
    CHECK(member_event_properties(track("not json"), {}).status().code() == Status::Code::kInvalid);
    CHECK(member_event_properties(track("[1]"), {}).status().code() == Status::Code::kInvalid);
  }
}

TEST_CASE("occurred_at: ISO 8601 with an offset, to the second") {
  CHECK(occurred_at(1793817970000) == "2026-11-04T18:46:10+00:00");
  CHECK(occurred_at(1793817971999) == "2026-11-04T18:46:11+00:00");
  CHECK(occurred_at(0) == "1970-01-01T00:00:00+00:00");
  CHECK(occurred_at(kMaxTimeMs) == "9999-12-31T23:59:59+00:00");
}

TEST_CASE("event_email: user_id, then user_properties, then $set, then $setOnce") {
  struct Case {
    const char* name;
    std::string user_id;
    std::string user_properties;
    std::string property;
    std::string email;  // "" = refused
    Status::Code code = Status::Code::kOk;
  };
  const std::vector<Case> cases = {
      {"user_id is an address", " Jane@Example.COM ", "{}", "email", "jane@example.com"},
      {"user_id wins", "jane@example.com", R"({"email":"other@example.com"})", "email",
       "jane@example.com"},
      {"plain property", "user-20391", R"({"email":"Jane@example.com"})", "email",
       "jane@example.com"},
      {"$set", "user-20391", R"({"$set":{"email":"jane@example.com"}})", "email",
       "jane@example.com"},
      {"$setOnce", "user-20391", R"({"$setOnce":{"email":"jane@example.com"}})", "email",
       "jane@example.com"},
      {"$set before $setOnce", "user-20391",
       R"({"$setOnce":{"email":"once@example.com"},"$set":{"email":"set@example.com"}})", "email",
       "set@example.com"},
      {"a configured property name", "user-20391",
       R"({"email":"home@example.com","work_email":"jane@acme.io"})", "work_email", "jane@acme.io"},
      {"a bad user_id falls through to a good property", "jane@", R"({"email":"jane@example.com"})",
       "email", "jane@example.com"},
      {"no address anywhere", "user-20391", R"({"plan":"pro"})", "email", "",
       Status::Code::kNotFound},
      {"an anonymous device", "", "{}", "email", "", Status::Code::kNotFound},
      {"a number is not an address", "user-20391", R"({"email":42})", "email", "",
       Status::Code::kNotFound},
      {"only a broken address", "user-20391", R"({"email":"jane@@example.com"})", "email", "",
       Status::Code::kInvalid},
      {"a broken user_id alone", "jane@example", "{}", "email", "", Status::Code::kInvalid},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      IntakeEvent e = track("{}", c.user_properties);
      e.user_id = c.user_id;
      const Result<std::string> email = event_email(e, c.property);
      if (c.email.empty()) {
        REQUIRE(!email.is_ok());
        CHECK(email.status().code() == c.code);
        // The reason names where it looked, never the text it found.
        CHECK(email.status().message().find("jane") == std::string::npos);
      } else {
        REQUIRE(email.is_ok());
        CHECK(email.value() == c.email);
      }
    }
  }
  SECTION("the default property is \"email\"") {
    const Result<std::string> email = event_email(track("{}", R"({"email":"jane@example.com"})"));
    REQUIRE(email.is_ok());
    CHECK(email.value() == "jane@example.com");
  }
}

TEST_CASE("identify_fields: $set and $setOnce, or plain keys") {
  auto fields = [](const std::string& user_properties, std::vector<std::string> wanted = {}) {
    IntakeEvent e = track("{}", user_properties);
    e.kind = EventKind::kIdentify;
    e.event_type = "$identify";
    Result<std::map<std::string, IdentifyField>> f = identify_fields(e, wanted);
    REQUIRE(f.is_ok());
    std::map<std::string, std::pair<std::string, bool>> out;
    for (const auto& [k, v] : f.value())
      out[k] = {v.value, v.only_if_unset};
    return out;
  };
  using Out = std::map<std::string, std::pair<std::string, bool>>;
  CHECK(
      fields(
          R"({"$set":{"plan":"pro","age":35,"vip":true,"gone":null},"$setOnce":{"first_seen":"2024-05-01","plan":"free"},"$add":{"logins":1},"$unset":{"x":"-"}})") ==
      Out{{"age", {"35", false}},
          {"first_seen", {"2024-05-01", true}},
          {"plan", {"pro", false}},
          {"vip", {"true", false}}});
  CHECK(fields(R"({"plan":"pro","tags":["a","b"]})") ==
        Out{{"plan", {"pro", false}}, {"tags", {R"(["a","b"])", false}}});
  CHECK(fields(R"({"$set":{"plan":"pro","age":35}})", {"plan", "FNAME"}) ==
        Out{{"plan", {"pro", false}}});
  CHECK(fields(R"({"$clearAll":"-"})").empty());
  CHECK(fields("{}").empty());
  IntakeEvent broken = track("{}", "{");
  CHECK(identify_fields(broken, {}).status().code() == Status::Code::kInvalid);
}

TEST_CASE("member_event: from an accepted upload to Mailchimp's body") {
  IntakeOptions intake;
  intake.api_key = "0123456789abcdef0123456789abcdef";
  IntakeRequest request;
  request.path = "/2/httpapi";
  request.now = 1793817971123000;
  const std::string body =
      R"({"api_key":"0123456789abcdef0123456789abcdef","events":[)"
      R"({"event_type":"Order Completed","user_id":"jane@example.com","time":1793817970000,)"
      R"("event_properties":{"order_id":"88231","total":42.5,"coupon":null}},)"
      R"({"event_type":"Signed Up","device_id":"device-1"},)"
      R"({"event_type":"$identify","user_id":"user-20391","user_properties":{"$set":{"email":"jane@example.com"}}}]})";
  request.body = body;
  const IntakeReply reply = intake_httpapi(request, intake);
  REQUIRE(reply.status == 200);
  REQUIRE(reply.events.size() == 3);

  MemberEventOptions o;
  o.is_syncing = true;
  const Result<MemberEvent> order = member_event(reply.events[0], o);
  REQUIRE(order.is_ok());
  CHECK(member_event_body(order.value()) ==
        R"({"name":"order_completed","properties":{"order_id":"88231","total":"42.5"},)"
        R"("is_syncing":true,"occurred_at":"2026-11-04T18:46:10+00:00"})");

  // No time sent: the upload time.
  const Result<MemberEvent> signed_up = member_event(reply.events[1], MemberEventOptions{});
  REQUIRE(signed_up.is_ok());
  CHECK(member_event_body(signed_up.value()) ==
        R"({"name":"signed_up","properties":{},"is_syncing":false,)"
        R"("occurred_at":"2026-11-04T18:46:11+00:00"})");
  CHECK(event_email(reply.events[1]).status().code() == Status::Code::kNotFound);

  // An identify is not a member event; its address and fields come from $set.
  CHECK(member_event(reply.events[2], o).status().code() == Status::Code::kInvalid);
  const Result<std::string> email = event_email(reply.events[2]);
  REQUIRE(email.is_ok());
  CHECK(email.value() == "jane@example.com");

  IntakeEvent bad_name = reply.events[0];
  bad_name.event_type = "!";
  CHECK(member_event(bad_name, o).status().code() == Status::Code::kInvalid);
}

}  // namespace
}  // namespace concord::amplitude
