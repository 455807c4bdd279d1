// Mautic's webhook deliveries, without a server: the signature (against RFC 4231's HMAC vector and
// one computed here with OpenSSL) and the body read into the changes it names.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "concord/mautic_client.h"

using namespace concord;
using nlohmann::json;

namespace {

// base64(HMAC-SHA256), computed here independently of the client.
std::string openssl_signature(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac,
               &len) != nullptr);
  unsigned char out[128];
  const int n = EVP_EncodeBlock(out, mac, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

json contact(std::int64_t id, const std::string& email) {
  return {{"id", id},
          {"points", 0},
          {"fields",
           {{"core",
             {{"email", {{"id", "6"}, {"alias", "email"}, {"group", "core"}, {"value", email}}}}},
            {"social", json::array()},
            {"personal", json::array()},
            {"professional", json::array()}}},
          {"tags", json::array({json::array()})},  // as Mautic's own samples have it
          {"doNotContact", json::array()},
          {"ipAddresses", json::array()}};
}

Micros utc(const char* iso) {
  Result<Micros> t = parse_iso8601(iso);
  REQUIRE(t.is_ok());
  return *t;
}

}  // namespace

TEST_CASE("mautic signature: base64 HMAC-SHA256 of the raw body, compared exactly") {
  // RFC 4231, test case 2 (hex 5bdcc146…3843), in base64.
  CHECK(mautic_signature("Jefe", "what do ya want for nothing?") ==
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  CHECK(mautic_signature_ok("Jefe", "what do ya want for nothing?",
                            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="));

  // PHP's json_encode writes "\/": the signature is over those bytes, not a re-serialisation.
  const std::string body =
      R"({"mautic.lead_post_save_update":[{"contact":{"id":52,"fields":{"core":{"website":)"
      R"({"value":"https:\/\/example.org"}}}},"timestamp":"2024-05-02T14:12:03+00:00"}]})";
  const std::string secret = "a-webhook-secret";
  const std::string sig = openssl_signature(secret, body);
  CHECK(mautic_signature(secret, body) == sig);
  CHECK(mautic_signature_ok(secret, body, sig));
  CHECK(mautic_signature_ok(secret, body, "  " + sig + " "));
  CHECK_FALSE(mautic_signature_ok(secret, json::parse(body).dump(), sig));  // re-serialised
  CHECK_FALSE(mautic_signature_ok(secret, body + " ", sig));
  CHECK_FALSE(mautic_signature_ok("another-secret", body, sig));
  CHECK_FALSE(mautic_signature_ok(secret, body, ""));
  CHECK_FALSE(mautic_signature_ok(secret, body, sig.substr(0, sig.size() - 1)));
  CHECK_FALSE(mautic_signature_ok("", body, openssl_signature("", body)));  // no secret: nothing
}

TEST_CASE("mautic delivery: several event keys, ordered by timestamp then event") {
  json body = {
      {"mautic.lead_post_save_update",
       json::array(
           {{{"contact", contact(52, "john@doe.name")}, {"timestamp", "2024-05-02T14:12:05+00:00"}},
            {{"contact", contact(53, "jane@doe.name")},
             {"timestamp", "2024-05-02T08:12:03-06:00"}}})},  // 14:12:03 UTC
      {"mautic.lead_channel_subscription_changed",
       json::array({{{"contact", contact(52, "john@doe.name")},
                     {"channel", "email"},
                     {"old_status", "contactable"},
                     {"new_status", "unsubscribed"},
                     {"timestamp", "2024-05-02T14:12:05+00:00"}}})},
      {"mautic.lead_list_change",
       json::array({{{"contact", contact(54, "")},
                     {"segment", {{"id", 3}, {"name", "News"}, {"alias", "news"}}},
                     {"action", "removed"},
                     {"timestamp", "2024-05-02T14:12:04+00:00"}}})},
      {"mautic.lead_post_delete",
       json::array({{{"id", 55},
                     {"contact", {{"id", nullptr}, {"fields", json::array()}}},
                     {"timestamp", "2024-05-02T14:12:05+00:00"}}})},
      {"mautic.lead_post_save_new", json::array({{{"contact", contact(56, "new@doe.name")},
                                                  {"timestamp", "2024-05-02T14:12:05+00:00"}}})},
      {"mautic.lead_points_change",
       json::array({{{"contact", contact(57, "p@doe.name")},
                     {"points", {{"old_points", 0}, {"new_points", 5}}}}})},  // no timestamp
      {"mautic.lead_company_change", json::array({{{"added", true}}})},
      {"timestamp", "2024-05-02T14:12:05+00:00"},  // the test payload's
  };
  Result<MauticDelivery> d = parse_mautic_delivery(body.dump());
  REQUIRE(d.is_ok());
  const auto& c = d->changes;
  REQUIRE(c.size() == 7);
  // No timestamp first; then 14:12:03, 14:12:04; then the four at 14:12:05 in kMauticEvents'
  // order (new, update, DNC, delete).
  CHECK(c[0].event == MauticEvent::kPointsChanged);
  CHECK(c[0].contact_id == 57);
  CHECK(c[0].timestamp == kNoTime);
  CHECK(c[1].event == MauticEvent::kUpdated);
  CHECK(c[1].contact_id == 53);
  CHECK(c[1].email == "jane@doe.name");
  CHECK(c[1].timestamp == utc("2024-05-02T14:12:03Z"));
  CHECK(c[2].event == MauticEvent::kSegmentChanged);
  CHECK(c[2].contact_id == 54);
  CHECK(c[2].segment_id == 3);
  CHECK(c[2].segment_alias == "news");
  CHECK_FALSE(c[2].added);
  CHECK(c[3].event == MauticEvent::kIdentified);
  CHECK(c[3].contact_id == 56);
  CHECK(c[4].event == MauticEvent::kUpdated);
  CHECK(c[4].contact_id == 52);
  CHECK(c[4].email == "john@doe.name");
  CHECK(c[5].event == MauticEvent::kDncChanged);
  CHECK(c[5].channel == "email");
  CHECK(c[5].old_status == "contactable");
  CHECK(c[5].new_status == "unsubscribed");
  CHECK(c[6].event == MauticEvent::kDeleted);
  CHECK(c[6].contact_id == 55);
  CHECK(c[6].email.empty());
  CHECK(d->ignored == std::vector<std::string>{"mautic.lead_company_change", "timestamp"});
  CHECK(d->duplicates == 0);
  CHECK(mautic_event_name(MauticEvent::kDncChanged) == "mautic.lead_channel_subscription_changed");
}

TEST_CASE("mautic delivery: a redelivered item is kept once") {
  const json item = {{"contact", contact(52, "john@doe.name")},
                     {"timestamp", "2024-05-02T14:12:05+00:00"}};
  json body = {{"mautic.lead_post_save_update", json::array({item, item, item})}};
  Result<MauticDelivery> d = parse_mautic_delivery(body.dump());
  REQUIRE(d.is_ok());
  CHECK(d->changes.size() == 1);
  CHECK(d->duplicates == 2);
  // An empty delivery, or one of events concord does not act on, names nothing.
  d = parse_mautic_delivery(R"({"mautic.lead_post_save_update":[]})");
  REQUIRE(d.is_ok());
  CHECK(d->changes.empty());
  d = parse_mautic_delivery(R"({"mautic.email_on_open":[{"stat":{}}]})");
  REQUIRE(d.is_ok());
  CHECK(d->changes.empty());
  CHECK(d->ignored == std::vector<std::string>{"mautic.email_on_open"});
}

TEST_CASE("mautic delivery: malformed items are named in the error; bodies are bounded") {
  const json good = {{"contact", contact(52, "john@doe.name")},
                     {"timestamp", "2024-05-02T14:12:05+00:00"}};
  struct Case {
    std::string body;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {"", {"not JSON"}},
      {"{", {"not JSON"}},
      {"[]", {"not an object but array"}},
      {"\"x\"", {"not an object but string"}},
      {std::string(5000, '[') + std::string(5000, ']'), {"nested too deep"}},
      {R"({"mautic.lead_post_save_update":"x"})",
       {"mautic.lead_post_save_update is not a list but string"}},
      {json({{"mautic.lead_post_save_update", json::array({good, 1})}}).dump(),
       {"mautic.lead_post_save_update[1]: the item is not an object but number"}},
      {R"({"mautic.lead_post_save_update":[{"contact":{"id":"x"}}]})", {"[0]: contact.id"}},
      {R"({"mautic.lead_post_save_update":[{"contact":null}]})", {"[0]: contact is not an object"}},
      {R"({"mautic.lead_post_save_update":[{"contact":{"id":1},"timestamp":"noon"}]})",
       {"[0]: timestamp \"noon\" is not a time"}},
      {R"({"mautic.lead_post_delete":[{"contact":{"id":null}}]})",
       {"mautic.lead_post_delete[0]: id (the deleted contact's) is missing"}},
      {R"({"mautic.lead_list_change":[{"contact":{"id":1},"action":"added"}]})",
       {"segment has no id"}},
      {R"({"mautic.lead_list_change":[{"contact":{"id":1},"segment":{"id":3},"action":"moved"}]})",
       {"action is neither"}},
      {R"({"mautic.lead_channel_subscription_changed":[{"contact":{"id":1},"new_status":"bounced"}]})",
       {"channel is not"}},
      {R"({"mautic.lead_channel_subscription_changed":[{"contact":{"id":1},"channel":"email"}]})",
       {"new_status is not"}},
      // Several, each named.
      {R"({"mautic.lead_post_save_new":[1,{"contact":{"id":2}}],"mautic.lead_post_delete":[{}]})",
       {"2 malformed items", "mautic.lead_post_save_new[0]", "mautic.lead_post_delete[0]"}},
  };
  for (const Case& c : cases) {
    INFO(c.body.substr(0, 120));
    Result<MauticDelivery> d = parse_mautic_delivery(c.body);
    REQUIRE_FALSE(d.is_ok());
    CHECK(d.status().code() == Status::Code::kInvalid);
    CHECK(d.status().origin() == Origin::kMautic);
    for (const std::string& says : c.says) {
      INFO(d.status().message());
      CHECK(d.status().message().find(says) != std::string::npos);
    }
  }

  // A segment given by its id alone, and an id as digits, are read.
  Result<MauticDelivery> d = parse_mautic_delivery(
      R"({"mautic.lead_list_change":[{"contact":{"id":"7"},"segment":4,"action":"added"}]})");
  REQUIRE(d.is_ok());
  REQUIRE(d->changes.size() == 1);
  CHECK(d->changes[0].contact_id == 7);
  CHECK(d->changes[0].segment_id == 4);
  CHECK(d->changes[0].added);

  // Over 64 KiB, or over 100 items: refused whole.
  json padded = {{"mautic.lead_post_save_update", json::array({good})},
                 {"padding", std::string(kMauticDeliveryMaxBytes, 'x')}};
  d = parse_mautic_delivery(padded.dump());
  REQUIRE_FALSE(d.is_ok());
  CHECK(d.status().message().find("bytes, over the 65536") != std::string::npos);
  json many = {{"mautic.lead_post_delete", json::array()}};
  for (int i = 0; i < 101; ++i)
    many["mautic.lead_post_delete"].push_back({{"id", i + 1}});
  d = parse_mautic_delivery(many.dump());
  REQUIRE_FALSE(d.is_ok());
  CHECK(d.status().message().find("more than 100 items") != std::string::npos);
  many["mautic.lead_post_delete"].erase(100);
  CHECK(parse_mautic_delivery(many.dump()).is_ok());

  // Ten malformed items named, the rest counted.
  json bad = {{"mautic.lead_post_save_update", json::array()}};
  for (int i = 0; i < 14; ++i)
    bad["mautic.lead_post_save_update"].push_back(i);
  d = parse_mautic_delivery(bad.dump());
  REQUIRE_FALSE(d.is_ok());
  CHECK(d.status().message().find("[9]") != std::string::npos);
  CHECK(d.status().message().find("[10]") == std::string::npos);
  CHECK(d.status().message().find("and 4 more") != std::string::npos);
}
