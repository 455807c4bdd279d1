// The CiviCRM client against a small in-process fake of APIv4 (no sockets): the query shapes the
// client sends, answered from tables. The client against concord-sandbox is in
// tests/integration/civicrm_sandbox_test.cpp.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "concord/civicrm_client.h"
#include "concord/email.h"
#include "concord/record.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;
using nlohmann::json;

namespace {

struct Contact {
  std::int64_t id;
  std::string first, last;
  bool deleted = false, dne = false, optout = false;
};
struct Email {
  std::int64_t id, contact_id;
  std::string email;
  bool primary = false, bulk = false;
  int on_hold = 0;
};
struct History {
  std::int64_t id, contact_id, group_id;
  std::string status, date;
};

class FakeCivi final : public http::Client {
 public:
  std::vector<Contact> contacts;
  std::vector<Email> emails;
  std::vector<History> history;
  std::vector<json> calls;  // {"entity","action","params"}
  std::string now = "2026-06-01 12:00:00";
  int fail_status = 0;  // answer every call with this status
  std::int64_t next_id = 1000;
  Micros date_header = kNoTime;  // when set, every answer says this is the server's time
  int lose_contact_saves = 0;    // carry out this many Contact.save calls, but lose the answer
  std::string refuse_email;      // a Contact.save reaching this address fails there (400)

  Result<http::Response> send(const http::Request& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    http::Response r;
    r.status = 200;
    if (date_header != kNoTime) r.headers.push_back({"Date", format_http_date(date_header)});
    std::string path = req.target;  // /civicrm/ajax/api4/Entity/action
    auto parts = path.substr(std::string("/civicrm/ajax/api4/").size());
    std::string entity = parts.substr(0, parts.find('/'));
    std::string action = parts.substr(parts.find('/') + 1);
    json params;
    for (auto& [k, v] : http::parse_query(req.body)) {
      if (k == "params") params = json::parse(v);
    }
    calls.push_back({{"entity", entity},
                     {"action", action},
                     {"params", params},
                     {"auth", std::string(req.header("X-Civi-Auth"))}});
    if (req.header("X-Civi-Auth") != "Bearer KEY" || req.header("X-Civi-Key") != "SITE") {
      r.status = 401;
      r.body = "HTTP 401 Invalid credential";
      return r;
    }
    if (fail_status) {
      r.status = fail_status;
      r.body = R"({"error_code":"1","error_message":"Sorry an error occurred","status":500})";
      return r;
    }
    json values = json::array();
    if (entity == "Group") {
      values.push_back({{"id", 42}, {"name", "newsletter"}, {"title", "Newsletter"}});
    } else if (entity == "SubscriptionHistory" && action == "get") {
      std::string since;
      for (auto& w : params["where"]) {
        if (w[0] == "date") since = w[2];
      }
      std::vector<History> rows;
      for (auto& h : history) {
        if (h.date >= since) rows.push_back(h);
      }
      std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) {
        return a.contact_id != b.contact_id ? a.contact_id < b.contact_id : a.id < b.id;
      });
      std::size_t off = params.value("offset", 0), lim = params.value("limit", 0);
      for (std::size_t i = off; i < rows.size() && (lim == 0 || i < off + lim); ++i) {
        const Contact& c = contact(rows[i].contact_id);
        values.push_back({{"id", rows[i].id},
                          {"contact_id", rows[i].contact_id},
                          {"status", rows[i].status},
                          {"date", rows[i].date},
                          {"contact_id.is_deleted", c.deleted},
                          {"contact_id.do_not_email", c.dne},
                          {"contact_id.is_opt_out", c.optout},
                          {"contact_id.first_name", c.first},
                          {"contact_id.last_name", c.last}});
      }
    } else if (entity == "Email" && action == "get") {
      const json& w = params["where"][0];
      for (auto& e : emails) {
        bool match = false;
        for (auto& v : w[2]) {
          match |= w[0] == "contact_id" ? v.get<std::int64_t>() == e.contact_id
                                        : v.get<std::string>() == e.email;
        }
        if (match && !(w[0] == "email" && contact(e.contact_id).deleted)) {
          values.push_back({{"id", e.id},
                            {"contact_id", e.contact_id},
                            {"email", e.email},
                            {"is_primary", e.primary},
                            {"is_bulkmail", e.bulk},
                            {"on_hold", e.on_hold}});
        }
      }
    } else if (entity == "Contact" && action == "save") {
      // As CiviCRM: record by record, no transaction; email_primary.email makes the email.
      for (auto& rec : params["records"]) {
        const std::string email = rec.value("email_primary.email", "");
        if (email == refuse_email) {
          r.status = 400;
          r.body = R"({"error_code":0,"error_message":"DB Error: unknown error","status":400})";
          return r;
        }
        contacts.push_back({next_id, rec.value("first_name", ""), rec.value("last_name", "")});
        if (!email.empty()) emails.push_back({next_id + 1, next_id, email, true});
        values.push_back({{"id", next_id}, {"email_primary", next_id + 1}});
        next_id += 2;
      }
      if (lose_contact_saves > 0) {
        --lose_contact_saves;
        return Status::unavailable(
            "response cut short (not sent again: it may have been "
            "carried out)");
      }
    } else if (entity == "Email" && action == "save") {
      for (auto& rec : params["records"]) {
        emails.push_back({next_id++, rec["contact_id"], rec["email"], true});
        values.push_back({{"id", next_id - 1}});
      }
    } else if (entity == "GroupContact" && action == "save") {
      for (auto& rec : params["records"]) {
        if (rec["contact_id"] == 666) {
          r.status = 500;
          r.body = R"({"error_code":0,"error_message":"DB Error: no such contact","status":500})";
          return r;
        }
        history.push_back({next_id++, rec["contact_id"], rec["group_id"], rec["status"], now});
        values.push_back(rec);
      }
    } else if (entity == "Email" && action == "update") {
      for (auto& e : emails) {
        if (e.contact_id == params["where"][0][2] && e.email == params["where"][1][2])
          e.on_hold = 1;
      }
    }
    r.body = json{{"values", values}, {"entity", entity},       {"action", action},
                  {"version", 4},     {"count", values.size()}, {"countFetched", values.size()}}
                 .dump();
    return r;
  }
  std::uint64_t attempts() const override { return calls.size(); }
  std::uint64_t connections_opened() const override { return 1; }

  const Contact& contact(std::int64_t id) {
    for (auto& c : contacts) {
      if (c.id == id) return c;
    }
    static Contact none{0, "", ""};
    return none;
  }

 private:
  std::mutex mu_;
};

struct Fixture {
  FakeCivi* fake;
  std::unique_ptr<CiviCrmClient> client;
  explicit Fixture(int page_size = 1000, std::string key = "KEY") {
    auto f = std::make_unique<FakeCivi>();
    fake = f.get();
    CiviCrmOptions o;
    o.url = "https://crm.example.org";
    o.api_key = key;
    o.site_key = "SITE";
    o.timezone = "Europe/London";
    o.page_size = page_size;
    o.http.retry.base_delay = std::chrono::milliseconds(1);
    client = std::move(CiviCrmClient::create(o, std::move(f)).value());
  }
};

CrmState stored(TempStore& t, const std::string& email, CrmRecord* rec = nullptr) {
  auto v = t.store->get(*t.pair, Family::kCrm, member_key(email).view());
  REQUIRE(v.is_ok());
  REQUIRE(v->has_value());
  SnapshotView view;
  REQUIRE(decode_snapshot(**v, &view).is_ok());
  CrmState s;
  REQUIRE(crm_state_of(view.header, &s).is_ok());
  if (rec) *rec = parse_crm_record(view.body).value();
  return s;
}

Micros utc(const char* s) {
  return parse_civil(s).value();
}

void seed(FakeCivi& f) {
  f.contacts = {{101, "Wilma", "Flintstone"},
                {102, "Barney", "Rubble"},
                {103, "Fred", "Flintstone"},
                {104, "Dino", "", true},
                {105, "Gazoo", "", false, true},
                {106, "Betty", "Rubble"},
                {107, "Betty", "Rubble (old)"},
                {108, "Slate", ""},
                {109, "Nomail", ""}};
  f.emails = {
      {1, 101, "wilma@bedrock.org", true},         {2, 102, "barney@home.org", true},
      {3, 102, "barney@bedrock.org", false, true},  // bulk-mail wins
      {4, 103, "fred@bedrock.org", true},          {5, 104, "dino@bedrock.org", true},
      {6, 105, "gazoo@bedrock.org", true},         {7, 106, "Betty@Bedrock.org", true},
      {8, 107, "betty@bedrock.org", true},         {9, 108, "old@slate.org", true, false, 1},
      {10, 108, "slate@bedrock.org", false},       {11, 109, "not an address", true}};
  f.history = {{1, 101, 42, "Added", "2026-01-05 12:00:00"},
               {2, 102, 42, "Added", "2026-01-01 12:00:00"},
               {3, 103, 42, "Added", "2025-12-01 09:00:00"},
               {4, 103, 42, "Removed", "2026-07-04 12:00:00"},
               {5, 104, 42, "Added", "2026-01-01 12:00:00"},
               {6, 105, 42, "Added", "2026-01-01 12:00:00"},
               {7, 106, 42, "Removed", "2026-02-01 12:00:00"},
               {8, 107, 42, "Added", "2026-01-01 12:00:00"},
               {9, 108, 42, "Added", "2026-01-01 12:00:00"},
               {10, 109, 42, "Added", "2026-01-01 12:00:00"}};
}

}  // namespace

TEST_CASE("CiviCRM: a full read keys each contact by its representative email") {
  for (int page_size : {1000, 3}) {  // 3: contacts' rows straddle pages
    DYNAMIC_SECTION("page size " << page_size) {
      TempStore t;
      Fixture f(page_size);
      seed(*f.fake);
      auto stats = f.client->fetch_full(42, *t.store, *t.pair);
      REQUIRE(stats.is_ok());
      // Wilma: Added 5 Jan 12:00 London (GMT) = 12:00 UTC.
      CrmState wilma = stored(t, "wilma@bedrock.org");
      CHECK(wilma.status == CrmStatus::kAdded);
      CHECK(wilma.changed_at == utc("2026-01-05 12:00:00"));
      // Fred's latest row wins; 4 July 12:00 BST = 11:00 UTC.
      CrmState fred = stored(t, "fred@bedrock.org");
      CHECK(fred.status == CrmStatus::kRemoved);
      CHECK(fred.changed_at == utc("2026-07-04 11:00:00"));
      CHECK(stored(t, "barney@bedrock.org").status == CrmStatus::kAdded);  // the bulk-mail address
      CHECK(stored(t, "dino@bedrock.org").trashed);
      CHECK(stored(t, "dino@bedrock.org").membership() == Membership::kOut);
      CHECK(stored(t, "gazoo@bedrock.org").do_not_email);
      CrmState slate = stored(t, "slate@bedrock.org");  // the on-hold address is skipped
      CHECK_FALSE(slate.email_on_hold);
      // Two Bettys share an address: one member, the one in the group (107), flagged.
      CrmRecord rec;
      CrmState betty = stored(t, "betty@bedrock.org", &rec);
      CHECK(betty.duplicate);
      CHECK(rec.contact_id == 107);
      CHECK(rec.duplicates == std::vector<std::int64_t>{106});
      CHECK(betty.status == CrmStatus::kAdded);
      CHECK(stats->rejected == 1);  // "not an address"
      Cursor c = t.store->scan(*t.pair, Family::kRejects);
      c.seek_to_first();
      REQUIRE(c.valid());
      CHECK(std::string(c.value()).find("contact 109") != std::string::npos);
      // The watermark: the latest history date, in UTC.
      CHECK(stats->watermark == utc("2026-07-04 11:00:00"));
    }
  }
}

TEST_CASE("CiviCRM: an incremental read asks for rows since the watermark, in site-local time") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  REQUIRE(f.client->fetch_full(42, *t.store, *t.pair).is_ok());
  f.fake->history.push_back({11, 101, 42, "Removed", "2026-08-01 10:00:00"});
  f.fake->calls.clear();
  auto stats = f.client->fetch_incremental(42, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  // Watermark 11:00 UTC less 5 minutes = 11:55 BST.
  std::string since;
  for (auto& w : f.fake->calls.at(0)["params"]["where"]) {
    if (w[0] == "date") since = w[2];
  }
  CHECK(since == "2026-07-04 11:55:00");
  CHECK(stored(t, "wilma@bedrock.org").status == CrmStatus::kRemoved);
  CHECK(stats->watermark == utc("2026-08-01 09:00:00"));
}

TEST_CASE("CiviCRM: the watermark is the server's time when the read began (its Date header)") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  f.fake->date_header = utc("2026-07-05 08:00:00");
  auto full = f.client->fetch_full(42, *t.store, *t.pair);
  REQUIRE(full.is_ok());
  CHECK(full->watermark == utc("2026-07-05 08:00:00"));
  // The next read asks from that time (less five minutes), in site-local time, so the rows of
  // the day before are not read again.
  f.fake->calls.clear();
  f.fake->date_header = utc("2026-07-05 09:00:00");
  auto inc = f.client->fetch_incremental(42, *t.store, *t.pair);
  REQUIRE(inc.is_ok());
  std::string since;
  for (auto& w : f.fake->calls.at(0)["params"]["where"]) {
    if (w[0] == "date") since = w[2];
  }
  CHECK(since == "2026-07-05 08:55:00");
  CHECK(inc->watermark == utc("2026-07-05 09:00:00"));
  // A server clock behind the watermark does not move it back.
  f.fake->date_header = utc("2026-07-01 00:00:00");
  auto again = f.client->fetch_incremental(42, *t.store, *t.pair);
  REQUIRE(again.is_ok());
  CHECK(again->watermark == utc("2026-07-05 09:00:00"));
}

TEST_CASE("CiviCRM: wrong credentials and server errors are clear, and never show the keys") {
  TempStore t;
  Fixture f(1000, "WRONGKEY");
  auto r = f.client->fetch_full(42, *t.store, *t.pair);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().message().find("refused the API key") != std::string::npos);
  CHECK(r.status().message().find("WRONGKEY") == std::string::npos);
  CHECK(r.status().message().find("SITE") == std::string::npos);
  Fixture g;
  g.fake->fail_status = 500;
  auto s = g.client->resolve_group("newsletter");
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.status().retryable());
  CHECK(s.status().message().find("Sorry an error occurred") != std::string::npos);
}

TEST_CASE("CiviCRM: writes are batched; a bad record does not fail its batch") {
  Fixture f;
  seed(*f.fake);
  std::vector<CrmWrite> w = {
      {CrmWrite::Kind::kAdd, 103, "", "", ""},
      {CrmWrite::Kind::kRemove, 101, "", "", ""},
      {CrmWrite::Kind::kAdd, 666, "", "", ""},  // the fake refuses this contact
      {CrmWrite::Kind::kCreateContact, 0, "pebbles@bedrock.org", "Pebbles", "Flintstone"},
      {CrmWrite::Kind::kCreateContact, 0, "fred@bedrock.org", "Fred", "F"},  // exists: 103
      {CrmWrite::Kind::kHoldEmail, 104, "dino@bedrock.org", "", ""},
  };
  auto out = f.client->apply(42, w);
  CHECK(out[0].code == CrmWriteOutcome::Code::kDone);
  CHECK(out[1].code == CrmWriteOutcome::Code::kDone);
  CHECK(out[2].code == CrmWriteOutcome::Code::kFailed);  // a 500: retry later
  CHECK(out[3].code == CrmWriteOutcome::Code::kDone);
  CHECK(out[3].contact_id >= 1000);  // new
  CHECK(out[4].code == CrmWriteOutcome::Code::kDone);
  CHECK(out[4].contact_id == 103);  // found by email, not duplicated
  CHECK(out[5].code == CrmWriteOutcome::Code::kDone);
  CHECK(f.fake->emails[4].on_hold == 1);
  int contact_saves = 0, group_saves = 0;
  for (auto& c : f.fake->calls) {
    contact_saves += c["entity"] == "Contact" && c["action"] == "save";
    group_saves += c["entity"] == "GroupContact" && c["action"] == "save";
    if (c["entity"] == "GroupContact") CHECK(c["params"]["method"] == "API");
  }
  CHECK(contact_saves == 1);
  CHECK(group_saves == 1 + 5);  // one batch, then record by record after it failed
}

TEST_CASE("CiviCRM: a contact creation whose answer was lost is not repeated") {
  Fixture f;
  seed(*f.fake);
  const std::size_t contacts_before = f.fake->contacts.size();
  f.fake->lose_contact_saves = 1;
  std::vector<CrmWrite> w = {
      {CrmWrite::Kind::kCreateContact, 0, "pebbles@bedrock.org", "Pebbles", "Flintstone"},
      {CrmWrite::Kind::kCreateContact, 0, "bamm@bedrock.org", "Bamm-Bamm", "Rubble"},
  };
  auto out = f.client->apply(42, w);
  REQUIRE(out[0].code == CrmWriteOutcome::Code::kDone);
  REQUIRE(out[1].code == CrmWriteOutcome::Code::kDone);
  // The contacts made by the call whose answer was lost are found by their addresses and used.
  CHECK(f.fake->contacts.size() == contacts_before + 2);
  CHECK(f.fake->contact(out[0].contact_id).first == "Pebbles");
  CHECK(f.fake->contact(out[1].contact_id).first == "Bamm-Bamm");
  int contact_saves = 0, lookups = 0;
  for (auto& c : f.fake->calls) {
    contact_saves += c["entity"] == "Contact" && c["action"] == "save";
    lookups += c["entity"] == "Email" && c["action"] == "get";
  }
  CHECK(contact_saves == 1);
  CHECK(lookups == 2);
}

TEST_CASE("CiviCRM: a refused contact creation fails alone, and nothing is created twice") {
  Fixture f;
  seed(*f.fake);
  const std::size_t contacts_before = f.fake->contacts.size();
  f.fake->refuse_email = "bad@bedrock.org";
  std::vector<CrmWrite> w = {
      {CrmWrite::Kind::kCreateContact, 0, "pebbles@bedrock.org", "Pebbles", "Flintstone"},
      {CrmWrite::Kind::kCreateContact, 0, "bad@bedrock.org", "Bad", "Record"},
      {CrmWrite::Kind::kCreateContact, 0, "bamm@bedrock.org", "Bamm-Bamm", "Rubble"},
  };
  auto out = f.client->apply(42, w);
  CHECK(out[0].code == CrmWriteOutcome::Code::kDone);
  CHECK(out[1].code == CrmWriteOutcome::Code::kInvalid);
  CHECK(out[1].message.find("DB Error") != std::string::npos);
  CHECK(out[2].code == CrmWriteOutcome::Code::kDone);
  // Pebbles was written by the refused batch before it failed; she is found, not made again.
  CHECK(f.fake->contacts.size() == contacts_before + 2);
  // Both new contacts joined the group.
  int added = 0;
  for (auto& h : f.fake->history) {
    added += (h.contact_id == out[0].contact_id || h.contact_id == out[2].contact_id) &&
             h.status == "Added";
  }
  CHECK(added == 2);
}

TEST_CASE("CiviCRM: groups by id, name or title") {
  Fixture f;
  CHECK(f.client->resolve_group("42").value().title == "Newsletter");
  CHECK(f.client->resolve_group("Newsletter").value().id == 42);
}
