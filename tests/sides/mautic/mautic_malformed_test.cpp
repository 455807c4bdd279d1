// Answers of any shape, without a server: the Mautic client reads them without throwing or
// aborting; a page it cannot read fails the read naming the page, a contact it cannot read is a
// rejected row naming the contact and the field, and no message quotes a secret.
#include <catch2/catch.hpp>

#include "fake_mautic.h"

using namespace concord;
using namespace concord::testing;

namespace {

// A contact as the API writes it, with one member replaced (or removed, for a null `value`
// with `remove`).
json contact(std::int64_t id) {
  return {{"id", id},
          {"dateModified", "2026-12-01T10:00:00+00:00"},
          {"doNotContact", json::array()},
          {"fields", {{"all", {{"id", id}, {"email", "c@example.org"}}}}}};
}

// The client reading segment "news" whose contacts answer is `body`.
struct OneAnswer {
  Setup s;
  std::unique_ptr<MauticClient> client;
  explicit OneAnswer(std::string body, int status = 200) {
    s.fake.add_segment(3, "News", "news");
    s.fake.intercept = [this, body,
                        status](const http::Request& req) -> std::optional<http::Response> {
      if (req.target.rfind("/api/contacts", 0) != 0) return {};
      http::Response r = s.fake.answer(status, nullptr);
      r.body = body;
      return r;
    };
    client = s.client();
  }
};

}  // namespace

TEST_CASE("mautic: malformed contact pages fail the read, naming the page") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"{", "not JSON"},
      {"[]", "not an object but array"},
      {"\"x\"", "not an object but string"},
      {"null", "not an object but null"},
      {"42", "not an object"},
      {"{}", "has no contacts"},
      {R"({"total":"0"})", "has no contacts"},
      {R"({"total":"1","contacts":"x"})", "contacts are not an object but string"},
      {R"({"total":"1","contacts":7})", "contacts are not an object"},
      {R"({"total":"many","contacts":{}})", "total \"many\" is not a count"},
      {R"({"total":-1,"contacts":{}})", "is not a count"},
      {R"({"total":99999999999999999999,"contacts":{}})", "is not a count"},
      {R"({"total":{},"contacts":{}})", "is not a count"},
      {std::string(10000, '[') + std::string(10000, ']'), "sane depth"},
  };
  for (const auto& [body, says] : cases) {
    INFO(body.substr(0, 60));
    OneAnswer one(body);
    Collect sink;
    Result<SideRead> read = one.client->reader("news", {})->read_all(sink);
    REQUIRE_FALSE(read.is_ok());
    INFO(read.status().message());
    CHECK(read.status().code() == Status::Code::kUnavailable);
    CHECK(read.status().message().find(says) != std::string::npos);
    CHECK(read.status().message().find("page 0") != std::string::npos);
    CHECK(read.status().origin() == Origin::kMautic);
    check_no_secret(read.status());
  }
}

TEST_CASE("mautic: empty results in every spelling end the read") {
  for (const std::string body : {R"({"total":"0","contacts":{}})", R"({"total":0,"contacts":[]})",
                                 R"({"contacts":{}})", R"({"total":null,"contacts":[]})"}) {
    INFO(body);
    OneAnswer one(body);
    Collect sink;
    Result<SideRead> read = one.client->reader("news", {})->read_all(sink);
    REQUIRE(read.is_ok());
    CHECK(sink.people.empty());
    CHECK(sink.rejected.empty());
  }
}

TEST_CASE("mautic: malformed contacts are rejected rows naming the contact and the field") {
  auto with = [](std::int64_t id, const std::function<void(json&)>& change) {
    json c = contact(id);
    change(c);
    return c;
  };
  struct Case {
    json contacts;  // the answer's contacts
    std::string id, field, says;
  };
  const std::vector<Case> cases = {
      {json::array({1}), "contact [0]", "id", "not an object but number"},
      {{{"x", 1}}, "contact x", "id", "not an object"},
      {{{"7", "text"}}, "7", "id", "not an object but string"},
      {{{"7", with(8, [](json&) {})}}, "contact 7", "id", "id 8 is not its key"},
      {json::array({with(1, [](json& c) { c.erase("id"); })}), "contact [0]", "id", "no id"},
      {json::array({with(1, [](json& c) { c["id"] = 99999999999999999999.0; })}), "contact [0]",
       "id", "not a positive integer"},
      {{{"99999999999999999999", with(1, [](json& c) { c.erase("id"); })}},
       "contact 99999999999999999999",
       "id",
       "no id"},
      {json::array({with(1, [](json& c) { c["id"] = -3; })}), "contact [0]", "id",
       "not a positive integer"},
      {{{"5", with(5, [](json& c) { c.erase("fields"); })}}, "5", "fields.all", "no fields.all"},
      {{{"5", with(5, [](json& c) { c["fields"]["all"] = "x"; })}},
       "5",
       "fields.all",
       "not an object"},
      {{{"5", with(5, [](json& c) { c["fields"]["all"]["email"] = 12; })}},
       "5",
       "fields.all.email",
       "not a string"},
      {{{"5", with(5, [](json& c) { c["dateModified"] = "yesterday"; })}},
       "5",
       "dateModified",
       "not a time"},
      {{{"5", with(5, [](json& c) { c["dateModified"] = 5; })}}, "5", "dateModified", "not a time"},
      {{{"5", with(5, [](json& c) { c.erase("doNotContact"); })}},
       "5",
       "doNotContact",
       "no doNotContact"},
      {{{"5", with(5, [](json& c) { c["doNotContact"] = "none"; })}},
       "5",
       "doNotContact",
       "not a list"},
      {{{"5", with(5, [](json& c) { c["doNotContact"] = json::array({1}); })}},
       "5",
       "doNotContact[0]",
       "not an object"},
      {{{"5", with(5,
                   [](json& c) {
                     c["doNotContact"] = {{{"reason", 1}}};
                   })}},
       "5",
       "doNotContact[0].channel",
       "not a string"},
      {{{"5", with(5,
                   [](json& c) {
                     c["doNotContact"] = {{{"reason", "often"}, {"channel", "email"}}};
                   })}},
       "5",
       "doNotContact[0].reason",
       "not an integer"},
  };
  for (const Case& c : cases) {
    INFO(c.contacts.dump().substr(0, 200));
    OneAnswer one(json({{"total", "1"}, {"contacts", c.contacts}}).dump());
    Collect sink;
    Result<SideRead> read = one.client->reader("news", {})->read_all(sink);
    REQUIRE(read.is_ok());
    CHECK(sink.people.empty());
    REQUIRE(sink.rejected.size() == 1);
    const RejectedRow& row = sink.rejected[0];
    INFO(row.source_id << " | " << row.field << " | " << row.message);
    CHECK(row.source_id.find(c.id) != std::string::npos);
    CHECK(row.field == c.field);
    CHECK(row.message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("mautic: odd but readable contacts are read") {
  json c = contact(5);
  c["id"] = "5";                                                          // digits
  c["dateModified"] = nullptr;                                            // never modified
  c["doNotContact"] = {{"12", {{"reason", "2"}, {"channel", "email"}}}};  // an object of entries
  c["fields"]["all"]["email"] = nullptr;
  json d = contact(6);
  d["fields"]["all"] = json::array();  // an empty map, as PHP writes it
  d["doNotContact"] = {{{"channel", "email"}, {"reason", nullptr}}};  // no reason: still DNC
  OneAnswer one(json({{"total", "2"}, {"contacts", {{"5", c}, {"6", d}}}}).dump());
  Collect sink;
  Result<SideRead> read = one.client->reader("news", {"firstname"})->read_all(sink);
  REQUIRE(read.is_ok());
  REQUIRE(sink.people.size() == 2);
  CHECK(sink.rejected.empty());
  CHECK(sink.people[0].id == "5");
  CHECK(sink.people[0].email.empty());
  CHECK(sink.people[0].updated_at == kNoTime);
  CHECK(sink.people[0].do_not_contact);
  CHECK(sink.people[1].do_not_contact);
  CHECK(sink.people[1].fields ==
        std::vector<std::pair<std::string, std::string>>{{"firstname", ""}});
}

TEST_CASE("mautic: malformed segment lists and error answers never crash or leak") {
  const std::vector<std::pair<std::string, std::string>> lists = {
      {"[]", "no \"lists\" list"},
      {"{}", "no \"lists\" list"},
      {R"({"lists":"x"})", "no \"lists\" list"},
      {R"({"total":1,"lists":[1]})", "segment [0] has no id"},
      {R"({"total":1,"lists":[{"id":"x","name":"a","alias":"a"}]})", "has no id"},
      {R"({"total":1,"lists":[{"id":3,"name":null,"alias":"a"}]})", "no name or alias"},
      {R"({"total":1,"lists":[{"id":3,"name":"a","alias":[]}]})", "no name or alias"},
      {"<html>", "not JSON"},
  };
  for (const auto& [body, says] : lists) {
    INFO(body);
    Setup s;
    http::Response r = s.fake.answer(200, nullptr);
    r.body = body;
    s.fake.script.push_back(r);
    Status st = s.client()->reader("news", {})->resolve();
    REQUIRE_FALSE(st.is_ok());
    CHECK(st.code() == Status::Code::kUnavailable);
    CHECK(st.message().find(says) != std::string::npos);
  }
  // Error answers of any shape become errors with the status, never a crash.
  for (const std::string body :
       {"", "null", "[]", R"({"errors":"x"})", R"({"errors":[1]})",
        R"({"errors":[{"message":5,"type":[]}]})",
        R"({"error":{"message":"old shape","code":400}})", R"({"error":"invalid_request"})"}) {
    INFO(body);
    for (int status : {400, 403, 404, 500}) {
      Setup s;
      http::Response r = s.fake.answer(status, nullptr);
      r.body = body;
      s.fake.script.push_back(r);
      Status st = s.client()->reader("news", {})->resolve();
      REQUIRE_FALSE(st.is_ok());
      CHECK(st.message().find("HTTP " + std::to_string(status)) != std::string::npos);
      CHECK(st.retryable() == (status == 500));
    }
  }
}
