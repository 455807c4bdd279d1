#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "concord/email.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "sides/mailchimp/members_page.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;
using nlohmann::json;

namespace {

// A member as the Marketing API returns it for kMemberFields.
json member(const std::string& email, const std::string& status, const std::string& last_changed,
            const std::string& timestamp_opt = "", const char* reason = nullptr) {
  json m = {{"email_address", email},
            {"status", status},
            {"timestamp_opt", timestamp_opt},
            {"last_changed", last_changed},
            {"merge_fields",
             {{"FNAME", "Wilma"}, {"LNAME", "Flintstone"}, {"ADDRESS", ""}, {"PHONE", ""}}}};
  if (reason) m["unsubscribe_reason"] = reason;
  return m;
}

std::string page(const json& members, int total) {
  return json{{"members", members}, {"total_items", total}}.dump();
}

// What a page did: the parse's counts and what the snapshot stage wrote of it.
struct Ingested {
  std::uint64_t members = 0, written = 0, rejected = 0;
  std::int64_t total_items = -1;
  Micros max_last_changed = kNoTime;
};

// One page, parsed into records and written by the snapshot stage.
Result<Ingested> ingest(TempStore& t, const std::string& body,
                        SnapshotWriter::Mode mode = SnapshotWriter::Mode::kIncremental) {
  MailchimpIngest in(*t.store, *t.pair, mode);
  auto r = parse_members_page(body, in);
  if (!r) return r.status();
  REQUIRE(in.writer().finish().is_ok());
  REQUIRE(in.counts().members == r->members);
  return Ingested{r->members, in.counts().written, in.counts().rejected, r->total_items,
                  r->max_last_changed};
}

MailchimpState stored(TempStore& t, const std::string& email, std::string* body = nullptr) {
  auto v = t.store->get(*t.pair, Family::kMailchimp, member_key(email).view());
  REQUIRE(v.is_ok());
  REQUIRE(v->has_value());
  SnapshotView view;
  REQUIRE(decode_snapshot(**v, &view).is_ok());
  CHECK(view.email == email);
  if (body) *body = std::string(view.body);
  MailchimpState s;
  REQUIRE(mailchimp_state_of(view.header, &s).is_ok());
  return s;
}

Micros at(const char* iso) {
  return parse_iso8601(iso).value();
}

}  // namespace

TEST_CASE("a members page is keyed, mapped and stored") {
  TempStore t;
  json ms = json::array({
      member("Wilma@Bedrock.org", "subscribed", "2026-01-03T10:00:00+00:00",
             "2026-01-01T09:00:00+00:00"),
      member("barney@bedrock.org", "unsubscribed", "2026-01-02T10:00:00+00:00", "",
             "N/A (Unsubscribed by admin)"),
      member("fred@bedrock.org", "unsubscribed", "2026-01-04T10:00:00+00:00", "",
             "I no longer want these emails"),
      member("dino@bedrock.org", "cleaned", "2026-01-05T10:00:00+00:00"),
      member("pebbles@bedrock.org", "pending", "2026-01-06T10:00:00+00:00"),
  });
  auto r = ingest(t, page(ms, 5));
  REQUIRE(r.is_ok());
  CHECK(r->members == 5);
  CHECK(r->written == 5);
  CHECK(r->rejected == 0);
  CHECK(r->total_items == 5);
  CHECK(r->max_last_changed == at("2026-01-06T10:00:00+00:00"));

  std::string body;
  MailchimpState wilma = stored(t, "wilma@bedrock.org", &body);
  CHECK(wilma.status == MailchimpStatus::kSubscribed);
  // First sight of a subscribed member: the opt-in time, not last_changed.
  CHECK(wilma.changed_at == at("2026-01-01T09:00:00+00:00"));
  json rec = json::parse(body);
  CHECK(rec["merge_fields"]["FNAME"] == "Wilma");
  CHECK(rec["last_changed"] == "2026-01-03T10:00:00+00:00");

  CHECK(stored(t, "barney@bedrock.org").unsubscribe_origin == UnsubscribeOrigin::kAdmin);
  MailchimpState fred = stored(t, "fred@bedrock.org");
  CHECK(fred.unsubscribe_origin == UnsubscribeOrigin::kSelf);
  CHECK(fred.changed_at == at("2026-01-04T10:00:00+00:00"));
  CHECK(stored(t, "dino@bedrock.org").status == MailchimpStatus::kCleaned);
  // Pending without timestamp_opt: last_changed.
  CHECK(stored(t, "pebbles@bedrock.org").changed_at == at("2026-01-06T10:00:00+00:00"));
}

TEST_CASE("status_changed_at: a name edit keeps the time, a status change takes last_changed") {
  TempStore t;
  REQUIRE(ingest(t, page(json::array(
                             {member("wilma@bedrock.org", "subscribed", "2026-01-03T10:00:00+00:00",
                                     "2026-01-01T09:00:00+00:00")}),
                         1))
              .is_ok());
  // A name change moves last_changed only.
  json edited = member("wilma@bedrock.org", "subscribed", "2026-02-01T10:00:00+00:00",
                       "2026-01-01T09:00:00+00:00");
  edited["merge_fields"]["FNAME"] = "Wilhelmina";
  REQUIRE(ingest(t, page(json::array({edited}), 1)).is_ok());
  CHECK(stored(t, "wilma@bedrock.org").changed_at == at("2026-01-01T09:00:00+00:00"));
  // An unsubscribe: the status changed, so last_changed is the change time.
  REQUIRE(ingest(t, page(json::array({member("wilma@bedrock.org", "unsubscribed",
                                             "2026-03-01T10:00:00+00:00", "", "Too many emails")}),
                         1))
              .is_ok());
  MailchimpState s = stored(t, "wilma@bedrock.org");
  CHECK(s.status == MailchimpStatus::kUnsubscribed);
  CHECK(s.changed_at == at("2026-03-01T10:00:00+00:00"));
}

TEST_CASE("bad rows are rejected by name and field; the rest of the page is stored") {
  TempStore t;
  json bad_time = member("slate@bedrock.org", "subscribed", "yesterday");
  json ms = json::array({member("not-an-address", "subscribed", "2026-01-01T00:00:00+00:00"),
                         member("gazoo@bedrock.org", "deleted", "2026-01-01T00:00:00+00:00"),
                         bad_time, json{{"status", "subscribed"}}, json("text"),
                         member("wilma@bedrock.org", "subscribed", "2026-01-01T00:00:00+00:00")});
  auto r = ingest(t, page(ms, 6), SnapshotWriter::Mode::kFull);
  REQUIRE(r.is_ok());
  CHECK(r->members == 6);
  CHECK(r->written == 1);
  CHECK(r->rejected == 5);
  std::map<std::string, json> rejects;
  Cursor c = t.store->scan(*t.pair, Family::kRejects);
  for (c.seek_to_first(); c.valid(); c.next()) {
    json j = json::parse(c.value());
    rejects[j["source_id"]] = j;
  }
  REQUIRE(rejects.size() == 5);
  CHECK(rejects["not-an-address"]["field"] == "email_address");
  CHECK(rejects["not-an-address"]["message"] == "the address has no '@'");
  CHECK(rejects["gazoo@bedrock.org"]["field"] == "status");
  CHECK(rejects["gazoo@bedrock.org"]["message"] == "unknown status \"deleted\"");
  CHECK(rejects["slate@bedrock.org"]["field"] == "last_changed");
  CHECK(rejects["member #4"]["field"] == "email_address");
  CHECK(rejects["member #5"]["field"] == "members[]");
  CHECK(stored(t, "wilma@bedrock.org").status == MailchimpStatus::kSubscribed);
}

TEST_CASE("a malformed or truncated page is an error and writes nothing") {
  TempStore t;
  std::string good = page(json::array({member("wilma@bedrock.org", "subscribed", "")}), 1);
  for (const std::string& body :
       {good.substr(0, good.size() / 2), std::string("<html>502 Bad Gateway</html>"),
        std::string("{\"lists\":[]}"), std::string("[]")}) {
    DYNAMIC_SECTION(body.substr(0, 30)) {
      auto r = ingest(t, body);
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().code() == Status::Code::kInvalid);
      CHECK(r.status().message().find("members") != std::string::npos);
      Cursor c = t.store->scan(*t.pair, Family::kMailchimp);
      c.seek_to_first();
      CHECK_FALSE(c.valid());
    }
  }
}

namespace {

// Keeps what a page hands over.
class CollectingSink final : public MailchimpSink {
 public:
  std::vector<MailchimpRecord> kept;
  std::vector<RejectedRow> rejected;
  Status records(std::vector<MailchimpRecord>& page) override {
    for (MailchimpRecord& r : page)
      kept.push_back(std::move(r));
    return Status::ok();
  }
  void reject(RejectedRow row) override { rejected.push_back(std::move(row)); }
  void gone(const std::string&) override {}
};

}  // namespace

TEST_CASE("a member's tags are read by name and its interests by the ids that are on") {
  json wilma = member("wilma@bedrock.org", "subscribed", "2026-01-03T10:00:00+00:00");
  wilma["tags"] =
      json::array({{{"id", 10001}, {"name", "volunteer"}}, {{"id", 10002}, {"name", "VIP"}}});
  wilma["interests"] = {{"9143cf3bd1", true}, {"3a2a927344", false}, {"c06bb4b529", true}};
  json fred = member("fred@bedrock.org", "subscribed", "2026-01-03T10:00:00+00:00");
  fred["tags"] = json::array();
  fred["interests"] = {{"9143cf3bd1", false}};
  json dino = member("dino@bedrock.org", "cleaned", "2026-01-03T10:00:00+00:00");  // neither key
  CollectingSink sink;
  auto r = parse_members_page(page(json::array({wilma, fred, dino}), 3), sink);
  REQUIRE(r.is_ok());
  REQUIRE(sink.kept.size() == 3);
  CHECK(sink.kept[0].tags == std::vector<std::string>{"volunteer", "VIP"});
  std::vector<std::string> on = sink.kept[0].interests;
  std::sort(on.begin(), on.end());
  CHECK(on == std::vector<std::string>{"9143cf3bd1", "c06bb4b529"});
  for (std::size_t i : {1, 2}) {
    CHECK(sink.kept[i].tags.empty());
    CHECK(sink.kept[i].interests.empty());
    // Members without tags or interests allocate nothing for them.
    CHECK(sink.kept[i].tags.capacity() == 0);
    CHECK(sink.kept[i].interests.capacity() == 0);
  }
}

TEST_CASE("malformed tags or interests are left out; the member is kept with the rest") {
  std::vector<std::pair<json, json>> shapes = {
      {"volunteer", 42},                                  // neither an array nor an object
      {json::array({"volunteer"}), json::array({"a1"})},  // a bare name; interests an array
      {json::array({{{"id", 1}}, {{"id", 2}, {"name", 7}}, {{"id", 3}, {"name", "ok"}}}),
       {{"a1", "true"}, {"a2", 1}, {"a3", nullptr}, {"a4", true}}},
      {nullptr, nullptr},
      {json::object(), "a1"},
  };
  json ms = json::array();
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    json m =
        member("m" + std::to_string(i) + "@bedrock.org", "subscribed", "2026-01-03T10:00:00+00:00");
    m["tags"] = shapes[i].first;
    m["interests"] = shapes[i].second;
    ms.push_back(m);
  }
  CollectingSink sink;
  auto r = parse_members_page(page(ms, static_cast<int>(ms.size())), sink);
  REQUIRE(r.is_ok());
  CHECK(r->rejected == 0);
  CHECK(sink.rejected.empty());
  REQUIRE(sink.kept.size() == shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    INFO(i);
    CHECK(sink.kept[i].status == MailchimpStatus::kSubscribed);
    CHECK(sink.kept[i].merge_fields.find("Wilma") != std::string::npos);
    if (i == 2) {
      CHECK(sink.kept[i].tags == std::vector<std::string>{"ok"});
      CHECK(sink.kept[i].interests == std::vector<std::string>{"a4"});
    } else {
      CHECK(sink.kept[i].tags.empty());
      CHECK(sink.kept[i].interests.empty());
    }
  }
}

TEST_CASE("pages ask for the members' tags and interests") {
  CHECK(kMemberFields.find("members.tags,") != std::string_view::npos);
  CHECK(kMemberFields.find("members.interests,") != std::string_view::npos);
}
