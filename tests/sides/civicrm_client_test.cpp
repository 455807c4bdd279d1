// The CiviCRM client against a small in-process fake of APIv4 (no sockets): the query shapes the
// client sends, answered from tables. The client against concord-sandbox is in
// tests/integration/civicrm_sandbox_test.cpp.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "concord/civicrm_client.h"
#include "concord/email.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::TempStore;
using nlohmann::json;

namespace {

struct Contact {
  std::int64_t id;
  std::string first, last;
  bool deleted = false, dne = false, optout = false;
  bool deceased = false;
  std::string modified = "2026-01-01 00:00:00";  // modified_date, site-local
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
// A membership as GroupContact holds it (the fake derives none from the history: a test lists
// those it wants GroupContact.get to answer).
struct GroupMembership {
  std::int64_t contact_id, group_id;
  std::string status;
};

class FakeCivi final : public http::Client {
 public:
  std::vector<Contact> contacts;
  std::vector<Email> emails;
  std::vector<History> history;
  std::vector<GroupMembership> memberships;
  std::vector<json> calls;  // {"entity","action","params"}
  std::string now = "2026-06-01 12:00:00";
  int fail_status = 0;  // answer every call with this status
  std::int64_t next_id = 1000;
  Micros date_header = kNoTime;      // when set, every answer says this is the server's time
  int lose_contact_saves = 0;        // carry out this many Contact.save calls, but lose the answer
  std::string refuse_email;          // a Contact.save reaching this address fails there (400)
  bool refuse_chained_adds = false;  // a GroupContact.save chained to a Contact.save fails (500)
  // SubscriptionHistory.get answers only the first this many matching rows, while its count
  // announces them all (a read cut short by a proxy, a server limit or an ACL).
  std::size_t history_cap = SIZE_MAX;

  // A row naming a contact, with the contact's columns joined as APIv4 joins them.
  json with_contact(std::int64_t id) {
    const Contact& c = contact(id);
    return {{"contact_id", id},
            {"contact_id.is_deleted", c.deleted},
            {"contact_id.do_not_email", c.dne},
            {"contact_id.is_opt_out", c.optout},
            {"contact_id.is_deceased", c.deceased},
            {"contact_id.modified_date", c.modified},
            {"contact_id.first_name", c.first},
            {"contact_id.last_name", c.last}};
  }

  // Every call takes this long, outside the fake's lock: calls sent at once overlap.
  std::chrono::milliseconds latency{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> most_in_flight{0};  // the most calls that were being answered at once

  Result<http::Response> send(const http::Request& req) override {
    const int now_in_flight = ++in_flight;
    for (int most = most_in_flight; now_in_flight > most;) {
      if (most_in_flight.compare_exchange_weak(most, now_in_flight)) break;
    }
    std::this_thread::sleep_for(latency);
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{in_flight};
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
    std::optional<std::size_t> matched;  // countMatched, when the answer carries it
    if (entity == "Group") {
      values.push_back({{"id", 42}, {"name", "newsletter"}, {"title", "Newsletter"}});
    } else if (entity == "SubscriptionHistory" && action == "get") {
      std::vector<History> rows;
      for (auto& h : history) {
        bool match = true;
        for (auto& w : params["where"]) {
          if (w[0] == "date") match &= h.date >= w[2].get<std::string>();
          if (w[0] == "group_id") match &= h.group_id == w[2].get<std::int64_t>();
          if (w[0] == "contact_id") match &= in(w[2], h.contact_id);
          if (w[0] == "contact_id.modified_date") {
            match &= contact(h.contact_id).modified >= w[2].get<std::string>();
          }
        }
        if (match) rows.push_back(h);
      }
      std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) {
        return a.contact_id != b.contact_id ? a.contact_id < b.contact_id : a.id < b.id;
      });
      std::size_t off = params.value("offset", 0), lim = params.value("limit", 0);
      const json& select = params["select"];
      if (std::find(select.begin(), select.end(), "row_count") != select.end()) {
        matched = rows.size();
      }
      for (std::size_t i = off; i < rows.size() && i < history_cap && (lim == 0 || i < off + lim);
           ++i) {
        json row = with_contact(rows[i].contact_id);
        row["id"] = rows[i].id;
        row["date"] = rows[i].date;
        row["status"] = rows[i].status;
        values.push_back(std::move(row));
      }
    } else if (entity == "GroupContact" && action == "get") {
      std::vector<GroupMembership> rows;
      for (const GroupMembership& m : memberships) {
        bool match = true;
        for (auto& w : params["where"]) {
          if (w[0] == "group_id") match &= m.group_id == w[2].get<std::int64_t>();
          if (w[0] == "contact_id") match &= in(w[2], m.contact_id);
        }
        if (match) rows.push_back(m);
      }
      const json& select = params["select"];
      if (std::find(select.begin(), select.end(), "row_count") != select.end()) {
        matched = rows.size();
      } else {
        std::size_t off = params.value("offset", 0), lim = params.value("limit", 0);
        for (std::size_t i = off; i < rows.size() && (lim == 0 || i < off + lim); ++i) {
          json row = with_contact(rows[i].contact_id);
          row["status"] = rows[i].status;
          values.push_back(std::move(row));
        }
      }
    } else if (entity == "Email" && action == "get") {
      for (auto& e : emails) {
        if (matches(params["where"], e)) {
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
      // Chains, as APIv4 runs them: each chained call once for every row saved, "$id" that row's
      // id; a chained call that fails fails the whole call (the contacts stay made).
      const json chain = params.value("chain", json::object());
      for (auto& [name, chained] : chain.items()) {
        for (json& row : values) {
          json sub = chained.at(2);
          for (json& rec : sub["records"]) {
            if (rec["contact_id"] == "$id") rec["contact_id"] = row["id"];
          }
          REQUIRE(chained.at(0) == "GroupContact");
          REQUIRE(chained.at(1) == "save");
          if (refuse_chained_adds) {
            r.status = 500;
            r.body = R"({"error_code":0,"error_message":"DB Error: deadlock","status":500})";
            return r;
          }
          calls.push_back(
              {{"entity", "GroupContact"}, {"action", "save"}, {"params", sub}, {"chained", true}});
          row[name] = json::array();
          for (auto& rec : sub["records"]) {
            history.push_back({next_id++, rec["contact_id"], rec["group_id"], rec["status"], now});
            row[name].push_back(rec);
          }
        }
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
        if (!matches(params["where"], e)) continue;
        const json& v = params["values"];
        if (v.contains("on_hold")) e.on_hold = v["on_hold"];
        if (v.contains("email")) e.email = v["email"];
        json row = v;
        row["id"] = e.id;
        values.push_back(row);
      }
    }
    json body = {{"values", values}, {"entity", entity},       {"action", action},
                 {"version", 4},     {"count", values.size()}, {"countFetched", values.size()}};
    if (matched) {  // as APIv4 answers a get selecting row_count
      body["count"] = *matched;
      body["countMatched"] = *matched;
    }
    r.body = body.dump();
    return r;
  }
  std::uint64_t attempts() const override { return calls.size(); }
  std::uint64_t connections_opened() const override { return 1; }

  // MySQL compares text without regard to case (and trailing spaces, not modelled here).
  static bool same_text(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }
  static bool in(const json& list, std::int64_t id) {
    for (auto& v : list) {
      if (v.get<std::int64_t>() == id) return true;
    }
    return false;
  }
  // The where clauses the client sends for emails: contact_id = / IN, email = / IN,
  // contact_id.is_deleted =. Trashed contacts' emails are returned unless that last is given.
  bool matches(const json& where, const Email& e) {
    for (auto& w : where) {
      const std::string field = w[0], op = w[1];
      const json& v = w[2];
      bool ok = false;
      if (field == "contact_id") {
        ok = op == "IN" ? in(v, e.contact_id) : v.get<std::int64_t>() == e.contact_id;
      } else if (field == "email") {
        if (op == "IN") {
          for (auto& x : v)
            ok |= same_text(x, e.email);
        } else {
          ok = same_text(v, e.email);
        }
      } else if (field == "contact_id.is_deleted") {
        ok = contact(e.contact_id).deleted == v.get<bool>();
      } else {
        throw std::runtime_error("the fake does not filter emails on " + field);
      }
      if (!ok) return false;
    }
    return true;
  }

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

CrmState stored(TempStore& t, const std::string& email, CrmBody* rec = nullptr) {
  auto v = t.store->get(*t.pair, Family::kCrm, member_key(email).view());
  REQUIRE(v.is_ok());
  REQUIRE(v->has_value());
  SnapshotView view;
  REQUIRE(decode_snapshot(**v, &view).is_ok());
  CrmState s;
  REQUIRE(crm_state_of(view.header, &s).is_ok());
  CrmBody body;
  REQUIRE(decode_crm_body(view.body, &body).is_ok());
  s.consent_changed_at = body.consent_changed_at;
  if (rec) *rec = std::move(body);
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
      auto stats = fetch_crm(*f.client, 42, true, *t.store, *t.pair);
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
      CrmBody rec;
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

TEST_CASE("CiviCRM: memberships with no history row are members, their change time unknown") {
  for (int page_size : {1000, 2}) {
    DYNAMIC_SECTION("page size " << page_size) {
      TempStore t;
      Fixture f(page_size);
      seed(*f.fake);
      // Three more members of the group that an import wrote without history rows, and one of
      // a group that is not read; GroupContact also holds the members that have rows.
      for (std::int64_t id : {201, 202, 203, 204}) {
        f.fake->contacts.push_back({id, "Imported", std::to_string(id)});
        f.fake->emails.push_back(
            {id + 1000, id, "import" + std::to_string(id) + "@bedrock.org", true});
      }
      std::set<std::int64_t> with_history;
      for (const History& h : f.fake->history) {
        if (h.group_id == 42 && with_history.insert(h.contact_id).second) {
          f.fake->memberships.push_back({h.contact_id, 42, "Added"});
        }
      }
      f.fake->memberships.push_back({201, 42, "Added"});
      f.fake->memberships.push_back({202, 42, "Added"});
      f.fake->memberships.push_back({203, 42, "Pending"});
      f.fake->memberships.push_back({204, 43, "Added"});

      auto stats = fetch_crm(*f.client, 42, true, *t.store, *t.pair);
      REQUIRE(stats.is_ok());
      CrmState imported = stored(t, "import201@bedrock.org");
      CHECK(imported.status == CrmStatus::kAdded);
      CHECK(imported.changed_at == kNoTime);
      CHECK(stored(t, "import202@bedrock.org").membership() == Membership::kIn);
      CHECK(stored(t, "import203@bedrock.org").status == CrmStatus::kPending);
      CHECK_FALSE(t.store->get(*t.pair, Family::kCrm, member_key("import204@bedrock.org").view())
                      .value()
                      .has_value());
      // The members with rows are read from their history as before.
      CHECK(stored(t, "wilma@bedrock.org").changed_at == utc("2026-01-05 12:00:00"));

      // A targeted read of one of them finds it too (it is not taken for someone who left).
      REQUIRE(refresh_crm(*f.client, 42, {"import201@bedrock.org"}, *t.store, *t.pair).is_ok());
      CHECK(stored(t, "import201@bedrock.org").membership() == Membership::kIn);
    }
  }
}

TEST_CASE("CiviCRM: a full read asks GroupContact only for a count when every member has rows") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  std::set<std::int64_t> with_history;
  for (const History& h : f.fake->history) {
    if (h.group_id == 42 && with_history.insert(h.contact_id).second) {
      f.fake->memberships.push_back({h.contact_id, 42, "Added"});
    }
  }
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  int group_contact_gets = 0;
  for (const json& c : f.fake->calls)
    group_contact_gets += c["entity"] == "GroupContact" && c["action"] == "get";
  CHECK(group_contact_gets == 1);
}

TEST_CASE("CiviCRM: a page cut short before the announced count is an error, not the end") {
  // The seed has 10 history rows in group 42. With pages of 3 and a read cut after `cap` rows,
  // the page at `offset` is short while the first page announced 10.
  struct Row {
    std::size_t cap;
    const char* page;  // how the message describes the short page
    const char* beyond;
  };
  for (const Row& row : {Row{4, "at offset 3 had 1 row (of 3 asked)", "6 announced beyond it"},
                         Row{6, "at offset 6 had 0 rows", "4 announced beyond it"},
                         Row{2, "at offset 0 had 2 rows", "8 announced beyond it"}}) {
    DYNAMIC_SECTION("cut after " << row.cap << " rows") {
      TempStore t;
      Fixture f(3);
      seed(*f.fake);
      REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
      const auto before = t.entries(Family::kCrm);
      REQUIRE(before.size() > 4);
      f.fake->history_cap = row.cap;
      f.fake->calls.clear();
      Result<FetchStats> cut = fetch_crm(*f.client, 42, true, *t.store, *t.pair);
      REQUIRE_FALSE(cut.is_ok());
      CHECK(cut.status().code() == Status::Code::kUnavailable);
      const std::string m = cut.status().message();
      CHECK_THAT(m, Catch::Matchers::Contains("CiviCRM group 42"));
      CHECK_THAT(m, Catch::Matchers::Contains(row.page));
      CHECK_THAT(m, Catch::Matchers::Contains(row.beyond));
      CHECK_THAT(m, Catch::Matchers::Contains("a truncated read is not the end of the group"));
      // No member left the snapshot: the full read never reached its end.
      CHECK(t.entries(Family::kCrm) == before);
      // Only the first page asks for the count (a count on every page would cost a query each).
      std::vector<bool> asked;
      for (const json& c : f.fake->calls) {
        if (c["entity"] != "SubscriptionHistory") continue;
        const json& sel = c["params"]["select"];
        asked.push_back(std::find(sel.begin(), sel.end(), "row_count") != sel.end());
      }
      REQUIRE_FALSE(asked.empty());
      CHECK(asked.front());
      CHECK(std::count(asked.begin(), asked.end(), true) == 1);
    }
  }
}

TEST_CASE("CiviCRM: a read ending where the count says is whole, also on a page boundary") {
  for (int page_size : {3, 5, 10, 1000}) {  // the seed's 10 rows: short last page, or an empty one
    DYNAMIC_SECTION("page size " << page_size) {
      TempStore t;
      Fixture f(page_size);
      seed(*f.fake);
      REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
    }
  }
}

TEST_CASE("CiviCRM: a full read fetches its pages a few at once and hands them over in order") {
  // The same group read page by page (one connection) and with pages of three rows, up to four
  // at once: the same contacts, each with its status, names and addresses.
  TempStore one, many;
  Fixture a(1000), b(3);
  seed(*a.fake);
  seed(*b.fake);
  b.fake->latency = std::chrono::milliseconds(20);
  REQUIRE(fetch_crm(*a.client, 42, true, *one.store, *one.pair).is_ok());
  auto stats = fetch_crm(*b.client, 42, true, *many.store, *many.pair);
  REQUIRE(stats.is_ok());
  CHECK(b.fake->most_in_flight >= 2);
  for (const char* e :
       {"wilma@bedrock.org", "barney@bedrock.org", "fred@bedrock.org", "dino@bedrock.org",
        "gazoo@bedrock.org", "betty@bedrock.org", "slate@bedrock.org"}) {
    INFO(e);
    CrmBody x, y;
    const CrmState sx = stored(one, e, &x), sy = stored(many, e, &y);
    CHECK(sx.status == sy.status);
    CHECK(sx.changed_at == sy.changed_at);
    CHECK(x == y);
  }
}

TEST_CASE("CiviCRM: contacts looked up by address, a few calls at once, come back in order") {
  Fixture f;
  f.fake->latency = std::chrono::milliseconds(20);
  std::vector<std::string> asked;
  for (int i = 0; i < 1200; ++i) {  // three calls of 500 addresses at most
    const std::string email = "p" + std::to_string(i) + "@bedrock.org";
    f.fake->contacts.push_back({2000 + i, "P", std::to_string(i)});
    f.fake->emails.push_back({5000 + i, 2000 + i, email, true});
    asked.push_back(email);
  }
  struct Collect final : CrmSink {
    std::vector<std::int64_t> ids;
    Status records(std::vector<CrmContact>& page) override {
      for (const CrmContact& c : page)
        ids.push_back(c.contact_id);
      return Status::ok();
    }
  } sink;
  Result<SideRead> read = f.client->read_by_address(asked, sink);
  REQUIRE(read.is_ok());
  CHECK(read->pages == 3);
  CHECK(f.fake->most_in_flight >= 2);
  std::vector<std::int64_t> expected(1200);
  std::iota(expected.begin(), expected.end(), 2000);
  CHECK(sink.ids == expected);
}

TEST_CASE("CiviCRM: an incremental read asks for rows since the watermark, in site-local time") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  f.fake->history.push_back({11, 101, 42, "Removed", "2026-08-01 10:00:00"});
  f.fake->calls.clear();
  auto stats = fetch_crm(*f.client, 42, false, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  // Watermark 11:00 UTC less 5 minutes = 11:55 BST.
  std::string since;
  for (auto& w : f.fake->calls.at(0)["params"]["where"]) {
    if (w[0] == "date") since = w[2];
  }
  CHECK(since == "2026-07-04 11:55:00");
  CHECK(stored(t, "wilma@bedrock.org").status == CrmStatus::kRemoved);
  // No duplicates involved: the history since, its emails, and the contacts modified since (none).
  CHECK(f.fake->calls.size() == 3);
  CHECK(f.fake->calls.at(2)["params"]["where"][1] ==
        json::array({"contact_id.modified_date", ">=", "2026-07-04 11:55:00"}));
  CHECK(stats->watermark == utc("2026-08-01 09:00:00"));
}

TEST_CASE(
    "CiviCRM: an incremental read sees consent flags by modified_date, and keeps their time") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  CrmBody body;
  CHECK_FALSE(stored(t, "wilma@bedrock.org", &body).consent_withheld());
  CHECK(body.consent_changed_at == kNoTime);

  // Wilma opts out on 1 August (no history row: the group does not change); CiviCRM moves
  // modified_date. 10:00 BST = 09:00 UTC.
  f.fake->contacts[0].optout = true;
  f.fake->contacts[0].modified = "2026-08-01 10:00:00";
  REQUIRE(fetch_crm(*f.client, 42, false, *t.store, *t.pair).is_ok());
  CrmState wilma = stored(t, "wilma@bedrock.org", &body);
  CHECK(wilma.is_opt_out);
  CHECK(wilma.status == CrmStatus::kAdded);  // still in the group
  CHECK(wilma.consent_changed_at == utc("2026-08-01 09:00:00"));

  // A later edit of her name moves modified_date, not the consent time.
  f.fake->contacts[0].first = "Wilhelmina";
  f.fake->contacts[0].modified = "2026-08-03 10:00:00";
  REQUIRE(fetch_crm(*f.client, 42, false, *t.store, *t.pair).is_ok());
  CHECK(stored(t, "wilma@bedrock.org", &body).consent_changed_at == utc("2026-08-01 09:00:00"));
  CHECK(body.first_name == "Wilhelmina");

  // Deceased counts as well; lifting every flag is a change of its own.
  f.fake->contacts[0].optout = false;
  f.fake->contacts[0].modified = "2026-08-05 10:00:00";
  REQUIRE(fetch_crm(*f.client, 42, false, *t.store, *t.pair).is_ok());
  wilma = stored(t, "wilma@bedrock.org");
  CHECK_FALSE(wilma.consent_withheld());
  CHECK(wilma.consent_changed_at == utc("2026-08-05 09:00:00"));
  f.fake->contacts[0].deceased = true;
  f.fake->contacts[0].modified = "2026-08-07 10:00:00";
  REQUIRE(fetch_crm(*f.client, 42, false, *t.store, *t.pair).is_ok());
  wilma = stored(t, "wilma@bedrock.org");
  CHECK(wilma.deceased);
  CHECK(wilma.consent_changed_at == utc("2026-08-07 09:00:00"));
}

TEST_CASE("CiviCRM: a first read takes an opted-out contact's modified_date as its consent time") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  f.fake->contacts[0].dne = true;
  f.fake->contacts[0].modified = "2026-03-01 12:00:00";
  // Fred's only address is on hold as an opt-out (on_hold = 2): consent withheld too.
  f.fake->emails[3].on_hold = 2;
  f.fake->contacts[2].modified = "2026-03-02 12:00:00";
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  CrmState wilma = stored(t, "wilma@bedrock.org");
  CHECK(wilma.do_not_email);
  CHECK(wilma.consent_changed_at == utc("2026-03-01 12:00:00"));
  CrmState fred = stored(t, "fred@bedrock.org");
  CHECK(fred.hold_opt_out);
  CHECK(fred.consent_withheld());
  CHECK(fred.consent_changed_at == utc("2026-03-02 12:00:00"));
  // Contacts without a flag have no consent time.
  CHECK(stored(t, "barney@bedrock.org").consent_changed_at == kNoTime);
}

TEST_CASE("CiviCRM: the watermark is the server's time when the read began (its Date header)") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  f.fake->date_header = utc("2026-07-05 08:00:00");
  auto full = fetch_crm(*f.client, 42, true, *t.store, *t.pair);
  REQUIRE(full.is_ok());
  CHECK(full->watermark == utc("2026-07-05 08:00:00"));
  // The next read asks from that time (less five minutes), in site-local time, so the rows of
  // the day before are not read again.
  f.fake->calls.clear();
  f.fake->date_header = utc("2026-07-05 09:00:00");
  auto inc = fetch_crm(*f.client, 42, false, *t.store, *t.pair);
  REQUIRE(inc.is_ok());
  std::string since;
  for (auto& w : f.fake->calls.at(0)["params"]["where"]) {
    if (w[0] == "date") since = w[2];
  }
  CHECK(since == "2026-07-05 08:55:00");
  CHECK(inc->watermark == utc("2026-07-05 09:00:00"));
  // A server clock behind the watermark does not move it back.
  f.fake->date_header = utc("2026-07-01 00:00:00");
  auto again = fetch_crm(*f.client, 42, false, *t.store, *t.pair);
  REQUIRE(again.is_ok());
  CHECK(again->watermark == utc("2026-07-05 09:00:00"));
}

TEST_CASE("CiviCRM: wrong credentials and server errors are clear, and never show the keys") {
  TempStore t;
  Fixture f(1000, "WRONGKEY");
  auto r = fetch_crm(*f.client, 42, true, *t.store, *t.pair);
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

namespace {

// Two contacts to create: Pebbles and Bamm-Bamm, whom the seed does not have.
std::vector<CrmWrite> two_new_contacts() {
  return {{CrmWrite::Kind::kCreateContact,
           0,
           "pebbles@bedrock.org",
           {{"first_name", "Pebbles"}, {"last_name", "Flintstone"}}},
          {CrmWrite::Kind::kCreateContact,
           0,
           "bamm@bedrock.org",
           {{"first_name", "Bamm-Bamm"}, {"last_name", "Rubble"}}}};
}

// How many times the contact was added to group 42 (its history's "Added" rows).
int times_added(const FakeCivi& fake, std::int64_t contact_id) {
  int n = 0;
  for (const History& h : fake.history)
    n += h.contact_id == contact_id && h.group_id == 42 && h.status == "Added";
  return n;
}

// Both of two_new_contacts() were written, each made once: the fake holds two contacts more
// than `before`, theirs.
void check_two_made_once(FakeCivi& fake, const std::vector<CrmWriteOutcome>& out,
                         std::size_t before) {
  REQUIRE(out.size() == 2);
  REQUIRE(out[0].code == CrmWriteOutcome::Code::kDone);
  REQUIRE(out[1].code == CrmWriteOutcome::Code::kDone);
  CHECK(fake.contacts.size() == before + 2);
  CHECK(fake.contact(out[0].contact_id).first == "Pebbles");
  CHECK(fake.contact(out[1].contact_id).first == "Bamm-Bamm");
}

}  // namespace

TEST_CASE("CiviCRM: writes are batched; a bad record does not fail its batch") {
  Fixture f;
  seed(*f.fake);
  std::vector<CrmWrite> w = {
      {CrmWrite::Kind::kAdd, 103, "", {}},
      {CrmWrite::Kind::kRemove, 101, "", {}},
      {CrmWrite::Kind::kAdd, 666, "", {}},  // the fake refuses this contact
      {CrmWrite::Kind::kCreateContact,
       0,
       "pebbles@bedrock.org",
       {{"first_name", "Pebbles"}, {"last_name", "Flintstone"}}},
      {CrmWrite::Kind::kCreateContact,
       0,
       "fred@bedrock.org",
       {{"first_name", "Fred"}, {"last_name", "F"}}},  // exists: 103
      {CrmWrite::Kind::kHoldEmail, 104, "dino@bedrock.org", {}},
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
  int contact_saves = 0, group_saves = 0, chained = 0;
  for (auto& c : f.fake->calls) {
    contact_saves += c["entity"] == "Contact" && c["action"] == "save";
    const bool group_save = c["entity"] == "GroupContact" && c["action"] == "save";
    (c.value("chained", false) ? chained : group_saves) += group_save;
    if (c["entity"] == "GroupContact") CHECK(c["params"]["method"] == "API");
  }
  CHECK(contact_saves == 1);
  // Pebbles joined the group in her Contact.save's chain; Fred (found) with the adds and removes:
  // one batch, then record by record after it failed.
  CHECK(chained == 1);
  CHECK(group_saves == 1 + 4);
  CHECK(times_added(*f.fake, out[3].contact_id) == 1);
}

TEST_CASE("CiviCRM: new contacts join the group in their Contact.save, each kind in batches") {
  Fixture f;
  seed(*f.fake);
  // More writes than a save takes (write_batch: 200), of three kinds, interleaved.
  std::vector<CrmWrite> w;
  for (int i = 0; i < 450; ++i) {
    w.push_back({CrmWrite::Kind::kCreateContact,
                 0,
                 "new" + std::to_string(i) + "@bedrock.org",
                 {{"first_name", "New"}, {"last_name", std::to_string(i)}}});
    if (i < 250) w.push_back({CrmWrite::Kind::kAdd, 101 + i % 4, "", {}});
  }
  auto out = f.client->apply(42, w);
  std::set<std::int64_t> made;
  for (std::size_t i = 0; i < w.size(); ++i) {
    INFO("write " << i);
    REQUIRE(out[i].code == CrmWriteOutcome::Code::kDone);
    if (w[i].kind == CrmWrite::Kind::kCreateContact) made.insert(out[i].contact_id);
  }
  CHECK(made.size() == 450);
  std::map<std::string, int> calls;
  int chained = 0;
  for (auto& c : f.fake->calls) {
    if (c.value("chained", false)) {
      ++chained;
      continue;
    }
    ++calls[c["entity"].get<std::string>() + "." + c["action"].get<std::string>()];
  }
  CHECK(calls["Email.get"] == 1);          // the 450 addresses looked up at once (500 a call)
  CHECK(calls["Contact.save"] == 3);       // 200 + 200 + 50, each joining the group
  CHECK(calls["GroupContact.save"] == 2);  // the 250 adds: 200 + 50
  CHECK(chained == 450);
  for (std::int64_t id : made)
    CHECK(times_added(*f.fake, id) == 1);
}

TEST_CASE(
    "CiviCRM: a new contact whose chained group add failed is found and added, not made twice") {
  Fixture f;
  seed(*f.fake);
  const std::size_t contacts_before = f.fake->contacts.size();
  f.fake->refuse_chained_adds = true;
  const std::vector<CrmWriteOutcome> out = f.client->apply(42, two_new_contacts());
  check_two_made_once(*f.fake, out, contacts_before);
  for (std::size_t i = 0; i < 2; ++i)
    CHECK(times_added(*f.fake, out[i].contact_id) == 1);
  int contact_saves = 0, group_saves = 0;
  for (auto& c : f.fake->calls) {
    contact_saves += c["entity"] == "Contact" && c["action"] == "save";
    group_saves += c["entity"] == "GroupContact" && c["action"] == "save";
  }
  CHECK(contact_saves == 1);
  CHECK(group_saves == 1);  // the two found, added together
}

TEST_CASE("CiviCRM: a contact creation whose answer was lost is not repeated") {
  Fixture f;
  seed(*f.fake);
  const std::size_t contacts_before = f.fake->contacts.size();
  f.fake->lose_contact_saves = 1;
  // The contacts made by the call whose answer was lost are found by their addresses and used.
  const std::vector<CrmWriteOutcome> out = f.client->apply(42, two_new_contacts());
  check_two_made_once(*f.fake, out, contacts_before);
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
      {CrmWrite::Kind::kCreateContact,
       0,
       "pebbles@bedrock.org",
       {{"first_name", "Pebbles"}, {"last_name", "Flintstone"}}},
      {CrmWrite::Kind::kCreateContact,
       0,
       "bad@bedrock.org",
       {{"first_name", "Bad"}, {"last_name", "Record"}}},
      {CrmWrite::Kind::kCreateContact,
       0,
       "bamm@bedrock.org",
       {{"first_name", "Bamm-Bamm"}, {"last_name", "Rubble"}}},
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

namespace {

std::optional<std::string> watermark(TempStore& t) {
  return t.store->get(*t.pair, Family::kMeta, civicrm_watermark_key(42)).value();
}

std::vector<std::string> all_addresses(const FakeCivi& f) {
  std::vector<std::string> out;
  for (const Email& e : f.emails)
    out.push_back(e.email);
  return out;
}

// The seed read in full: the Bettys are one member, 107 (in the group), with 106 its duplicate.
void read_bettys(Fixture& f, TempStore& t) {
  seed(*f.fake);
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  CrmBody rec;
  REQUIRE(stored(t, "betty@bedrock.org", &rec).duplicate);
  REQUIRE(rec.contact_id == 107);
}

}  // namespace

TEST_CASE("CiviCRM: a targeted read (refresh_crm) builds members exactly as the group read does") {
  for (int page_size : {1000, 3}) {  // 3: contacts' rows straddle pages
    DYNAMIC_SECTION("page size " << page_size) {
      TempStore full, targeted;
      Fixture f(page_size);
      seed(*f.fake);
      REQUIRE(fetch_crm(*f.client, 42, true, *full.store, *full.pair).is_ok());
      // Every address, into an empty snapshot: the same members, byte for byte (representative
      // emails, the Bettys' duplicate, trashed Dino, flags, names, times).
      auto stats =
          refresh_crm(*f.client, 42, all_addresses(*f.fake), *targeted.store, *targeted.pair);
      REQUIRE(stats.is_ok());
      CHECK(targeted.entries(Family::kCrm) == full.entries(Family::kCrm));
      CHECK(stats->removed == 0);
      CHECK(stats->watermark == kNoTime);
      CHECK_FALSE(watermark(targeted).has_value());
      // Again over the full read's snapshot: nothing changes (a stored duplicate is replaced, not
      // merged with itself).
      const std::optional<std::string> w = watermark(full);
      REQUIRE(refresh_crm(*f.client, 42, all_addresses(*f.fake), *full.store, *full.pair).is_ok());
      CHECK(full.entries(Family::kCrm) == targeted.entries(Family::kCrm));
      CHECK(watermark(full) == w);
    }
  }
}

// Regression: an incremental read of a large group defers thousands of shared addresses to one
// targeted read, which sent them all in one IN list and failed on a million-member migration's
// next run. The addresses and contacts now go a few hundred per call, with the same result.
TEST_CASE("CiviCRM: a targeted read of many addresses asks a few hundred per call") {
  TempStore full, targeted;
  Fixture f(1000);
  for (int i = 0; i < 1200; ++i) {
    const std::int64_t id = 1000 + i;
    f.fake->contacts.push_back({id, "P" + std::to_string(i), "Many"});
    f.fake->emails.push_back({id, id, "p" + std::to_string(i) + "@many.org", true});
    f.fake->history.push_back({id, id, 42, "Added", "2026-01-01 12:00:00"});
  }
  REQUIRE(fetch_crm(*f.client, 42, true, *full.store, *full.pair).is_ok());
  f.fake->calls.clear();
  auto stats = refresh_crm(*f.client, 42, all_addresses(*f.fake), *targeted.store, *targeted.pair);
  REQUIRE(stats.is_ok());
  CHECK(targeted.entries(Family::kCrm) == full.entries(Family::kCrm));
  int email_gets = 0;
  for (const json& c : f.fake->calls) {
    for (const json& w : c["params"].value("where", json::array())) {
      if (w.is_array() && w.size() == 3 && w[1] == "IN") CHECK(w[2].size() <= 500);
    }
    if (c["entity"] == "Email" && c["action"] == "get") ++email_gets;
  }
  CHECK(email_gets >= 3);  // 1200 addresses: at least three lookups
}

TEST_CASE("CiviCRM: a targeted read updates exactly the members named, and not the watermark") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  f.fake->date_header = utc("2026-07-05 08:00:00");
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  const auto before = t.entries(Family::kCrm);
  const std::optional<std::string> w = watermark(t);
  REQUIRE(w.has_value());
  // In August (BST) Wilma and Barney leave the group; only Wilma's address is asked about.
  f.fake->history.push_back({11, 101, 42, "Removed", "2026-08-01 10:00:00"});
  f.fake->history.push_back({12, 102, 42, "Removed", "2026-08-01 10:00:00"});
  f.fake->history.push_back({13, 101, 43, "Added", "2026-08-02 10:00:00"});  // another group
  f.fake->calls.clear();
  auto stats = refresh_crm(*f.client, 42, {" WILMA@Bedrock.org"}, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->members == 1);
  CHECK(stats->written == 1);
  CHECK(stats->removed == 0);
  CrmState wilma = stored(t, "wilma@bedrock.org");
  CHECK(wilma.status == CrmStatus::kRemoved);
  CHECK(wilma.changed_at == utc("2026-08-01 09:00:00"));
  CHECK(stored(t, "barney@bedrock.org").status == CrmStatus::kAdded);  // not asked: untouched
  const auto after = t.entries(Family::kCrm);
  REQUIRE(after.size() == before.size());
  std::size_t changed = 0;
  for (const auto& [k, v] : before)
    changed += after.at(k) != v;
  CHECK(changed == 1);
  CHECK(watermark(t) == w);
  // The calls: the address's contacts, their history in the group, their emails.
  REQUIRE(f.fake->calls.size() == 3);
  CHECK(f.fake->calls[0]["entity"] == "Email");
  CHECK(f.fake->calls[0]["params"]["where"] ==
        json::parse(R"([["email","IN",["wilma@bedrock.org"]]])"));
  CHECK(f.fake->calls[1]["entity"] == "SubscriptionHistory");
  CHECK(f.fake->calls[1]["params"]["where"] ==
        json::parse(R"([["group_id","=",42],["contact_id","IN",[101]]])"));
  CHECK(f.fake->calls[2]["entity"] == "Email");
}

TEST_CASE("CiviCRM: a targeted read removes addresses that left, and re-decides duplicates") {
  TempStore t;
  Fixture f;
  read_bettys(f, t);
  CrmBody rec;
  // Fred changes his address in the CRM; Gazoo's memberships are deleted with their history;
  // Betty 107 leaves the group, so the lower id (106, out of the group too) represents the two.
  f.fake->emails[3].email = "fred@quarry.org";
  std::erase_if(f.fake->history, [](const History& h) { return h.contact_id == 105; });
  f.fake->history.push_back({11, 107, 42, "Removed", "2026-08-01 10:00:00"});
  auto stats = refresh_crm(
      *f.client, 42,
      {"fred@bedrock.org", "gazoo@bedrock.org", "pebbles@bedrock.org", "Betty@Bedrock.org"},
      *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->removed == 2);
  CHECK_FALSE(t.has(Family::kCrm, "fred@bedrock.org"));
  CHECK_FALSE(t.has(Family::kCrm, "gazoo@bedrock.org"));
  CHECK_FALSE(t.has(Family::kCrm, "pebbles@bedrock.org"));  // never in the group
  // Fred's contact, found through the stored member, is under his new address.
  CrmBody fred;
  CHECK(stored(t, "fred@quarry.org", &fred).status == CrmStatus::kRemoved);
  CHECK(fred.contact_id == 103);
  CrmState betty = stored(t, "betty@bedrock.org", &rec);
  CHECK(betty.duplicate);
  CHECK(betty.status == CrmStatus::kRemoved);
  CHECK(betty.changed_at == utc("2026-02-01 12:00:00"));  // 106's
  CHECK(rec.contact_id == 106);
  CHECK(rec.duplicates == std::vector<std::int64_t>{107});
}

TEST_CASE("CiviCRM: an incremental read re-decides a duplicate as a full read does") {
  TempStore t;
  Fixture f;
  read_bettys(f, t);
  CrmBody rec;
  SECTION("both Bettys change: 107 is trashed and leaves, 106 joins") {
    f.fake->contacts[6].deleted = true;
    f.fake->history.push_back({11, 107, 42, "Removed", "2026-08-01 10:00:00"});
    f.fake->history.push_back({12, 106, 42, "Added", "2026-08-01 10:00:00"});
  }
  SECTION("only the winner changes: 107 leaves") {
    f.fake->history.push_back({11, 107, 42, "Removed", "2026-08-01 10:00:00"});
  }
  REQUIRE(fetch_crm(*f.client, 42, false, *t.store, *t.pair).is_ok());
  // The Bettys' member is what a full read stores, not the stored winner merged with itself.
  TempStore fresh;
  REQUIRE(fetch_crm(*f.client, 42, true, *fresh.store, *fresh.pair).is_ok());
  const std::string key(member_key("betty@bedrock.org").view());
  CHECK(t.entries(Family::kCrm).at(key) == fresh.entries(Family::kCrm).at(key));
  CHECK(stored(t, "betty@bedrock.org", &rec).duplicate);
  CHECK(rec.contact_id == 106);
  CHECK(rec.duplicates == std::vector<std::int64_t>{107});
  CHECK(t.entries(Family::kCrm) == fresh.entries(Family::kCrm));
}

TEST_CASE("CiviCRM: change_email changes the contact's address once, and reads see it") {
  TempStore t;
  Fixture f;
  seed(*f.fake);
  REQUIRE(fetch_crm(*f.client, 42, true, *t.store, *t.pair).is_ok());
  f.fake->calls.clear();
  REQUIRE(f.client->change_email(101, "Wilma@Bedrock.org", " Wilma@Quarry.org ").is_ok());
  CHECK(f.fake->emails[0].email == "Wilma@Quarry.org");
  CHECK(f.fake->emails[0].primary);
  REQUIRE(f.fake->calls.size() == 2);
  const json& update = f.fake->calls[1];
  CHECK(update["entity"] == "Email");
  CHECK(update["action"] == "update");
  CHECK(update["params"]["values"] == json{{"email", "Wilma@Quarry.org"}});
  CHECK(update["params"]["where"] ==
        json::parse(R"([["contact_id","=",101],["email","=","wilma@bedrock.org"]])"));

  // The same webhook again: the contact has the new address; nothing is written.
  f.fake->calls.clear();
  REQUIRE(f.client->change_email(101, "wilma@bedrock.org", "wilma@quarry.org").is_ok());
  REQUIRE(f.fake->calls.size() == 1);
  CHECK(f.fake->calls[0]["action"] == "get");

  // A contact that has both addresses keeps both.
  REQUIRE(f.client->change_email(102, "barney@home.org", "barney@bedrock.org").is_ok());
  CHECK(f.fake->emails[1].email == "barney@home.org");
  CHECK(f.fake->emails[2].email == "barney@bedrock.org");

  Status none = f.client->change_email(101, "nobody@bedrock.org", "someone@bedrock.org");
  CHECK(none.code() == Status::Code::kNotFound);
  CHECK(none.message().find("nobody@bedrock.org") != std::string::npos);
  CHECK(f.client->change_email(999, "wilma@quarry.org", "w@bedrock.org").code() ==
        Status::Code::kNotFound);
  const std::size_t calls = f.fake->calls.size();
  Status bad = f.client->change_email(101, "wilma@quarry.org", "not an address");
  CHECK(bad.code() == Status::Code::kInvalid);
  CHECK(f.fake->calls.size() == calls);  // nothing sent

  // The targeted read of both addresses moves Wilma's member to her new address.
  auto stats =
      refresh_crm(*f.client, 42, {"wilma@bedrock.org", "wilma@quarry.org"}, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->removed == 1);
  CHECK_FALSE(t.has(Family::kCrm, "wilma@bedrock.org"));
  CrmBody rec;
  CrmState wilma = stored(t, "wilma@quarry.org", &rec);
  CHECK(wilma.status == CrmStatus::kAdded);
  CHECK(wilma.changed_at == utc("2026-01-05 12:00:00"));
  CHECK(rec.contact_id == 101);
  CHECK(rec.first_name == "Wilma");
}
