// concord's CiviCRM client against the real concord-sandbox binary, over TLS sockets.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "concord/civicrm_client.h"
#include "concord/email.h"
#include "concord/record.h"
#include "concord/snapshot.h"
#include "sandbox_process.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::SandboxProcess;
using concord::testing::TempStore;
using nlohmann::json;

namespace {

json contact(int id, const char* first, std::vector<json> emails, bool deleted = false,
             bool dne = false) {
  return {{"id", id},
          {"first_name", first},
          {"last_name", "Test"},
          {"is_deleted", deleted},
          {"do_not_email", dne},
          {"is_opt_out", false},
          {"emails", emails}};
}
json email(const char* e, bool primary = true, bool bulk = false, int hold = 0) {
  return {{"email", e}, {"is_primary", primary}, {"is_bulkmail", bulk}, {"on_hold", hold}};
}
json row(int cid, const char* status, const char* date) {
  return {{"contact_id", cid},
          {"group_id", 42},
          {"status", status},
          {"date", date},
          {"method", "Admin"}};
}

// A site in London: winter dates are UTC, summer dates UTC+1.
json seed(int extra = 0) {
  json contacts = json::array({
      contact(101, "Wilma", {email("wilma@bedrock.org")}),
      contact(102, "Barney", {email("barney@home.org"), email("barney@bedrock.org", false, true)}),
      contact(103, "Fred", {email("fred@bedrock.org")}),
      contact(104, "Dino", {email("dino@bedrock.org")}, true),
      contact(105, "Gazoo", {email("gazoo@bedrock.org")}, false, true),
      contact(106, "Betty", {email("betty@bedrock.org")}),
      contact(107, "Betty2", {email("Betty@Bedrock.org")}),
      contact(108, "Slate",
              {email("old@slate.org", true, false, 1), email("slate@bedrock.org", false)}),
      contact(109, "Pebbles", {email("pebbles@bedrock.org")}),
  });
  json history = json::array(
      {row(101, "Added", "2026-01-05 12:00:00"), row(102, "Added", "2026-01-01 12:00:00"),
       row(103, "Added", "2025-12-01 09:00:00"), row(103, "Removed", "2026-07-04 12:00:00"),
       row(104, "Added", "2026-01-01 12:00:00"), row(105, "Added", "2026-01-01 12:00:00"),
       row(106, "Removed", "2026-02-01 12:00:00"), row(107, "Added", "2026-01-01 12:00:00"),
       row(108, "Added", "2026-01-01 12:00:00")});
  for (int i = 0; i < extra; ++i) {
    int id = 1000 + i;
    std::string e = "member" + std::to_string(i) + "@bedrock.org";
    contacts.push_back(contact(id, "Member", {email(e.c_str())}));
    history.push_back(row(id, "Added", "2026-03-01 10:00:00"));
  }
  return {
      {"civicrm",
       {{"api_key", "civi-api-key"},
        {"site_key", "civi-site-key"},
        {"timezone", "Europe/London"},
        {"groups", json::array({{{"id", 42}, {"name", "newsletter"}, {"title", "Newsletter"}}})},
        {"contacts", contacts},
        {"subscription_history", history}}},
      {"clock", "2026-08-01T09:00:00+00:00"}};
}

struct Harness {
  std::filesystem::path seed_path;
  std::unique_ptr<SandboxProcess> sandbox;
  std::unique_ptr<http::Client> admin;
  std::unique_ptr<CiviCrmClient> client;

  explicit Harness(const json& s = seed(), std::string key = "civi-api-key") {
    seed_path = std::filesystem::temp_directory_path() /
                ("concord-civi-seed-" + std::to_string(::getpid()) + ".json");
    std::ofstream(seed_path) << s.dump();
    sandbox = std::make_unique<SandboxProcess>(seed_path.string());
    std::string url = sandbox->ready.at("civicrm_url");
    http::ClientOptions ho;
    ho.ca_file = sandbox->ca_file();
    ho.retry.base_delay = std::chrono::milliseconds(1);
    ho.retry.max_delay = std::chrono::milliseconds(20);
    ho.retry.max_attempts = 12;
    admin = std::move(http::Client::create(http::Url::parse(url).value(), ho).value());
    CiviCrmOptions o;
    o.url = url;
    o.api_key = key;
    o.site_key = "civi-site-key";
    o.timezone = "Europe/London";
    o.http = ho;
    o.page_size = 4;  // contacts' rows straddle pages
    client = std::move(CiviCrmClient::create(o).value());
  }
  ~Harness() { std::filesystem::remove(seed_path); }

  json admin_call(const std::string& method, const std::string& target, const json& body = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    if (!body.is_null()) {
      r.body = body.dump();
      r.headers.push_back({"Content-Type", "application/json"});
    }
    auto resp = admin->send(r);
    REQUIRE(resp.is_ok());
    INFO(target << ": " << resp->body);
    REQUIRE(resp->status < 300);
    return resp->body.empty() ? json() : json::parse(resp->body);
  }
  json civi_state() { return admin_call("GET", "/_sandbox/state")["civicrm"]; }
};

CrmState stored(TempStore& t, const std::string& e, CrmBody* rec = nullptr) {
  auto v = t.store->get(*t.pair, Family::kCrm, member_key(e).view());
  REQUIRE(v.is_ok());
  REQUIRE(v->has_value());
  SnapshotView view;
  REQUIRE(decode_snapshot(**v, &view).is_ok());
  CrmState s;
  REQUIRE(crm_state_of(view.header, &s).is_ok());
  if (rec) REQUIRE(decode_crm_body(view.body, rec).is_ok());
  return s;
}

Micros utc(const char* s) {
  return parse_civil(s).value();
}

// The latest history row of a contact in the sandbox's state.
json latest_row(const json& civi, int contact_id) {
  json last;
  for (const json& r : civi["subscription_history"]) {
    if (r["contact_id"] == contact_id && r["group_id"] == 42) last = r;
  }
  return last;
}

}  // namespace

TEST_CASE("over TLS: the group is read into the snapshot with site-local times converted") {
  Harness h;
  CHECK(h.client->resolve_group("Newsletter").value().id == 42);
  CHECK(h.client->resolve_group("newsletter").value().id == 42);
  CHECK(h.client->resolve_group("42").value().title == "Newsletter");
  CHECK(h.client->resolve_group("nope").status().code() == Status::Code::kNotFound);
  TempStore t;
  auto stats = fetch_crm(*h.client, 42, true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stored(t, "wilma@bedrock.org").changed_at == utc("2026-01-05 12:00:00"));  // GMT
  CrmState fred = stored(t, "fred@bedrock.org");
  CHECK(fred.status == CrmStatus::kRemoved);
  CHECK(fred.changed_at == utc("2026-07-04 11:00:00"));                // BST
  CHECK(stored(t, "barney@bedrock.org").status == CrmStatus::kAdded);  // bulk-mail address
  CHECK(stored(t, "dino@bedrock.org").trashed);
  CHECK(stored(t, "gazoo@bedrock.org").do_not_email);
  CHECK_FALSE(stored(t, "slate@bedrock.org").email_on_hold);
  CrmBody rec;
  CHECK(stored(t, "betty@bedrock.org", &rec).duplicate);
  CHECK(rec.contact_id == 107);  // in the group, unlike 106
  CHECK_FALSE(t.store->get(*t.pair, Family::kCrm, member_key("pebbles@bedrock.org").view())
                  .value()
                  .has_value());  // never in the group
}

TEST_CASE("over TLS: writes record history rows in site-local time, and reads see them") {
  Harness h;
  TempStore t;
  REQUIRE(fetch_crm(*h.client, 42, true, *t.store, *t.pair).is_ok());
  std::vector<CrmWrite> w = {
      {CrmWrite::Kind::kRemove, 101, "", {}},
      {CrmWrite::Kind::kAdd, 103, "", {}},
      {CrmWrite::Kind::kCreateContact,
       0,
       "pebbles@bedrock.org",
       {{"first_name", "Pebbles"}, {"last_name", "Flintstone"}}},
      {CrmWrite::Kind::kCreateContact,
       0,
       "bamm@bedrock.org",
       {{"first_name", "Bamm-Bamm"}, {"last_name", "Rubble"}}},
      {CrmWrite::Kind::kHoldEmail, 103, "fred@bedrock.org", {}},
  };
  auto out = h.client->apply(42, w);
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO(i << ": " << out[i].message);
    CHECK(out[i].code == CrmWriteOutcome::Code::kDone);
  }
  CHECK(out[2].contact_id == 109);  // Pebbles existed: added, not duplicated
  CHECK(out[3].contact_id > 109);   // Bamm-Bamm is new
  json civi = h.civi_state();
  // The sandbox clock is 09:00 UTC on 1 August: 10:00 in London.
  json wilma = latest_row(civi, 101);
  CHECK(wilma["status"] == "Removed");
  CHECK(wilma["date"] == "2026-08-01 10:00:00");
  CHECK(latest_row(civi, 103)["status"] == "Added");
  CHECK(latest_row(civi, 109)["status"] == "Added");

  auto inc = fetch_crm(*h.client, 42, false, *t.store, *t.pair);
  REQUIRE(inc.is_ok());
  CrmState w2 = stored(t, "wilma@bedrock.org");
  CHECK(w2.status == CrmStatus::kRemoved);
  CHECK(w2.changed_at == utc("2026-08-01 09:00:00"));
  CHECK(stored(t, "pebbles@bedrock.org").status == CrmStatus::kAdded);
  CHECK(stored(t, "bamm@bedrock.org").status == CrmStatus::kAdded);
  CHECK(stored(t, "fred@bedrock.org").email_on_hold);
}

TEST_CASE("over TLS: wrong credentials are refused without showing the key") {
  Harness h(seed(), "wrong-key-123");
  TempStore t;
  auto r = fetch_crm(*h.client, 42, true, *t.store, *t.pair);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Status::Code::kInvalid);
  CHECK(r.status().message().find("refused") != std::string::npos);
  CHECK(r.status().message().find("wrong-key-123") == std::string::npos);
  CHECK(r.status().message().find("civi-site-key") == std::string::npos);
}

TEST_CASE("over TLS: 503s, resets and truncated bodies on CiviCRM calls, and the read converges") {
  Harness h(seed(300));
  h.admin_call("POST", "/_sandbox/faults",
               {{"error_rates", {{"503", 0.15}}},
                {"reset_rate", 0.05},
                {"truncate_rate", 0.05},
                {"seed", 3}});
  TempStore t;
  auto stats = fetch_crm(*h.client, 42, true, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  std::size_t n = 0;
  Cursor c = t.store->scan(*t.pair, Family::kCrm);
  for (c.seek_to_first(); c.valid(); c.next())
    ++n;
  CHECK(n == 7 + 300);  // betty's two contacts are one member
}

TEST_CASE("over TLS: a group name that matches two groups is a clear error naming both ids") {
  json s = seed();
  s["civicrm"]["groups"].push_back({{"id", 43}, {"name", "Newsletter"}, {"title", "Events"}});
  Harness h(s);
  auto g = h.client->resolve_group("Newsletter");
  REQUIRE_FALSE(g.is_ok());
  CHECK(g.status().code() == Status::Code::kInvalid);
  CHECK(g.status().message().find("42, 43") != std::string::npos);
  CHECK(h.client->resolve_group("43").value().title == "Events");
}

namespace {

std::optional<std::string> watermark(TempStore& t) {
  return t.store->get(*t.pair, Family::kMeta, civicrm_watermark_key(42)).value();
}

std::vector<std::string> addresses(const json& civi) {
  std::vector<std::string> out;
  for (const json& c : civi["contacts"]) {
    for (const json& e : c["emails"])
      out.push_back(e["email"]);
  }
  return out;
}

}  // namespace

TEST_CASE("over TLS: a targeted read builds the members the group read builds") {
  Harness h;
  TempStore full, targeted;
  REQUIRE(fetch_crm(*h.client, 42, true, *full.store, *full.pair).is_ok());
  auto stats =
      refresh_crm(*h.client, 42, addresses(h.civi_state()), *targeted.store, *targeted.pair);
  REQUIRE(stats.is_ok());
  CHECK(targeted.entries(Family::kCrm).size() ==
        7);  // the Bettys are one member; Pebbles is in no group
  CHECK(targeted.entries(Family::kCrm) == full.entries(Family::kCrm));
  CHECK_FALSE(watermark(targeted).has_value());
}

TEST_CASE("over TLS: after a change in the CRM, a targeted read updates exactly that member") {
  Harness h;
  TempStore t;
  REQUIRE(fetch_crm(*h.client, 42, true, *t.store, *t.pair).is_ok());
  const auto before = t.entries(Family::kCrm);
  const std::optional<std::string> w = watermark(t);
  REQUIRE(w.has_value());
  // An hour later (10:00 UTC, 11:00 in London), Wilma and Barney are removed from the group.
  h.admin_call("POST", "/_sandbox/clock", {{"advance_seconds", 3600}});
  auto out = h.client->apply(
      42, {{CrmWrite::Kind::kRemove, 101, "", {}}, {CrmWrite::Kind::kRemove, 102, "", {}}});
  REQUIRE(out[0].code == CrmWriteOutcome::Code::kDone);
  auto stats = refresh_crm(*h.client, 42, {"Wilma@Bedrock.org"}, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CrmState wilma = stored(t, "wilma@bedrock.org");
  CHECK(wilma.status == CrmStatus::kRemoved);
  CHECK(wilma.changed_at == utc("2026-08-01 10:00:00"));
  CHECK(stored(t, "barney@bedrock.org").status == CrmStatus::kAdded);  // not asked for
  const auto after = t.entries(Family::kCrm);
  std::size_t changed = 0;
  for (const auto& [k, v] : before)
    changed += after.at(k) != v;
  CHECK(changed == 1);
  CHECK(watermark(t) == w);
}

TEST_CASE("over TLS: an email change in the CRM, then the targeted read moves the member") {
  Harness h;
  TempStore t;
  REQUIRE(fetch_crm(*h.client, 42, true, *t.store, *t.pair).is_ok());
  REQUIRE(h.client->change_email(101, "WILMA@bedrock.org", "Wilma@Quarry.org").is_ok());
  json civi = h.civi_state();
  std::vector<std::string> wilmas;
  for (const json& c : civi["contacts"]) {
    if (c["id"] == 101) {
      for (const json& e : c["emails"])
        wilmas.push_back(e["email"]);
    }
  }
  CHECK(wilmas == std::vector<std::string>{"Wilma@Quarry.org"});
  // Delivered twice: the second is a no-op. Another contact's address is not found on 101.
  CHECK(h.client->change_email(101, "wilma@bedrock.org", "wilma@quarry.org").is_ok());
  CHECK(h.client->change_email(101, "fred@bedrock.org", "fred@quarry.org").code() ==
        Status::Code::kNotFound);
  CHECK(h.client->change_email(101, "wilma@quarry.org", "nope").code() == Status::Code::kInvalid);

  auto stats =
      refresh_crm(*h.client, 42, {"wilma@bedrock.org", "wilma@quarry.org"}, *t.store, *t.pair);
  REQUIRE(stats.is_ok());
  CHECK(stats->removed == 1);
  CHECK_FALSE(t.has(Family::kCrm, "wilma@bedrock.org"));
  CrmBody rec;
  CrmState wilma = stored(t, "wilma@quarry.org", &rec);
  CHECK(wilma.status == CrmStatus::kAdded);
  CHECK(wilma.changed_at == utc("2026-01-05 12:00:00"));
  CHECK(rec.contact_id == 101);

  // Dino (trashed) and Betty's duplicate are read as the group read has them.
  REQUIRE(refresh_crm(*h.client, 42, {"dino@bedrock.org", "betty@bedrock.org"}, *t.store, *t.pair)
              .is_ok());
  CHECK(stored(t, "dino@bedrock.org").trashed);
  CHECK(stored(t, "betty@bedrock.org", &rec).duplicate);
  CHECK(rec.contact_id == 107);
  CHECK(rec.duplicates == std::vector<std::int64_t>{106});
}

TEST_CASE("over TLS: an incremental read re-decides a duplicate as the full read does") {
  Harness h;
  TempStore t, fresh;
  REQUIRE(fetch_crm(*h.client, 42, true, *t.store, *t.pair).is_ok());
  // An hour later the Bettys swap: 107 (the member) leaves the group, 106 joins it.
  h.admin_call("POST", "/_sandbox/clock", {{"advance_seconds", 3600}});
  auto out = h.client->apply(
      42, {{CrmWrite::Kind::kRemove, 107, "", {}}, {CrmWrite::Kind::kAdd, 106, "", {}}});
  REQUIRE(out[0].code == CrmWriteOutcome::Code::kDone);
  REQUIRE(out[1].code == CrmWriteOutcome::Code::kDone);
  REQUIRE(fetch_crm(*h.client, 42, false, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_crm(*h.client, 42, true, *fresh.store, *fresh.pair).is_ok());
  CHECK(t.entries(Family::kCrm) == fresh.entries(Family::kCrm));
  CrmBody rec;
  CHECK(stored(t, "betty@bedrock.org", &rec).status == CrmStatus::kAdded);
  CHECK(rec.contact_id == 106);
  CHECK(rec.duplicates == std::vector<std::int64_t>{107});
}
