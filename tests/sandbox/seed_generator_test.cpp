// The seed generator (concord-sandbox --generate-seed): what it generates loads into both parts,
// holds every case the decision rules name, keeps the base's people as they were, and is the
// same for the same options. With CONCORD_SANDBOX_BIN, also through the binary.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "concord/email.h"
#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/router.h"
#include "sandbox/seed_generator.h"
#include "sandbox_fixture.h"
#include "sandbox_process.h"

namespace http = concord::http;
namespace sb = concord::sandbox;
using concord::testing::fixture;
using concord::testing::TempDir;
using json = nlohmann::ordered_json;

namespace {

std::string generated(std::int64_t members, std::uint64_t random_seed = 1,
                      const std::string& base = fixture(), double overlap = 0.5,
                      double disagree = 0.1) {
  sb::SeedOptions o;
  o.members = members;
  o.random_seed = random_seed;
  o.base = base;
  o.overlap = overlap;
  o.disagree = disagree;
  auto seed = sb::generate_seed(o);
  INFO(seed.status().to_string());
  REQUIRE(seed.is_ok());
  return std::move(seed).value();
}

// Loads a seed into both parts (as --seed does) and answers the router's reset counts.
json load(const std::string& seed) {
  sb::SandboxClock clock;
  clock.fix(concord::parse_iso8601("2026-03-01T00:00:00+00:00").value());
  auto loaded = sb::parse_seed(seed, clock.now());
  INFO(loaded.status().to_string());
  REQUIRE(loaded.is_ok());
  auto site = sb::parse_civicrm_seed(seed, clock.now());
  INFO(site.status().to_string());
  REQUIRE(site.is_ok());
  sb::MailchimpSandbox mc(sb::empty_account(), &clock);
  sb::CivicrmSandbox civi(sb::empty_civicrm_site(), &clock);
  sb::SandboxRouter router(&mc, &civi, &clock);
  http::Request reset;
  reset.method = "POST";
  reset.target = "/_sandbox/reset";
  reset.body = seed;
  auto r = router.mailchimp_port(reset, http::Peer{"127.0.0.1", true}).response;
  INFO(r.body.substr(0, 500));
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

bool is_generated(const std::string& email) {
  static const std::regex kNumbered(R"([0-9]+@)");
  return std::regex_search(email, kNumbered);
}

// What a seed holds, reduced to the facts the tests check.
struct Facts {
  std::map<std::string, int> statuses;  // Mailchimp: status, or "unsubscribed:<origin>"
  std::map<std::string, bool> mc_in;    // normalised email -> subscribed or pending
  std::set<std::string> reasons;        // self-unsubscribe reasons
  std::size_t members = 0, forgotten = 0;
  std::map<std::int64_t, std::vector<std::string>> history;  // group 42, in id (file) order
  std::map<std::int64_t, const json*> contacts;
  std::map<std::string, std::vector<std::int64_t>> by_email;  // normalised
  std::size_t summer = 0, winter = 0, repeated_hour = 0;

  explicit Facts(const json& seed) {
    const json& list = seed["mailchimp"]["lists"][0];
    members = list["members"].size();
    forgotten = list.value("forgotten", json::array()).size();
    for (const json& m : list["members"]) {
      std::string st = m.value("status", "subscribed");
      if (st == "unsubscribed") {
        std::string origin = m.value("unsubscribe_origin", "user");
        st += ":" + origin;
        if (origin == "user") reasons.insert(m.value("unsubscribe_reason", ""));
      }
      ++statuses[st];
      mc_in[concord::normalise_email(m["email_address"].get<std::string>())] =
          st == "subscribed" || st == "pending";
      CHECK(m.value("last_changed", "+00:00").find("+00:00") != std::string::npos);
    }
    const json& civi = seed["civicrm"];
    for (const json& c : civi["contacts"]) {
      contacts[c["id"].get<std::int64_t>()] = &c;
      for (const json& e : c.value("emails", json::array()))
        by_email[concord::normalise_email(e["email"].get<std::string>())].push_back(c["id"]);
    }
    for (const json& h : civi["subscription_history"]) {
      std::string date = h["date"];
      REQUIRE(date.size() == 19);
      if (h["group_id"] != 42) continue;
      history[h["contact_id"].get<std::int64_t>()].push_back(h["status"]);
      std::string month = date.substr(0, 7);
      if (month >= "2025-04" && month <= "2025-09") ++summer;
      if (month >= "2025-11" || month <= "2025-02") ++winter;
      if (date.rfind("2025-10-26 01:", 0) == 0) ++repeated_hour;
    }
  }
  // CRM membership as docs/decision-rules.md defines it: the latest row Added, and the contact
  // not trashed.
  bool crm_in(std::int64_t id) const {
    auto h = history.find(id);
    return h != history.end() && h->second.back() == "Added" &&
           !contacts.at(id)->value("is_deleted", false);
  }
};

}  // namespace

TEST_CASE("seed generator: loads into both parts, with every case the rules name") {
  const std::string seed = generated(500);
  json counts = load(seed);
  const json doc = json::parse(seed);
  const json base = json::parse(fixture());
  Facts f(doc);

  // About 500 members and 500 contacts in the group, beside the base's.
  CHECK(counts["lists"] == 1);
  CHECK(counts["members"] == 500 + 11);
  CHECK(f.members == 511);
  CHECK(counts["civicrm"]["groups"] == 2);
  CHECK(counts["civicrm"]["contacts"].get<int>() > 550);
  CHECK(f.history.size() >= 500);
  CHECK(f.history.size() <= 530);

  // The base is kept: keys, list, group, zone, and its people exactly as they were.
  CHECK(doc["mailchimp"]["api_key"] == base["mailchimp"]["api_key"]);
  CHECK(doc["civicrm"]["api_key"] == base["civicrm"]["api_key"]);
  CHECK(doc["civicrm"]["site_key"] == base["civicrm"]["site_key"]);
  CHECK(doc["civicrm"]["timezone"] == "Europe/London");
  CHECK(doc["civicrm"]["groups"] == base["civicrm"]["groups"]);
  const json& list = doc["mailchimp"]["lists"][0];
  CHECK(list["id"] == "b3d1c0ffee");
  CHECK(list["name"] == "Newsletter");
  CHECK(list["merge_fields"] == base["mailchimp"]["lists"][0]["merge_fields"]);
  for (std::size_t i = 0; i < base["mailchimp"]["lists"][0]["members"].size(); ++i)
    CHECK(list["members"][i] == base["mailchimp"]["lists"][0]["members"][i]);
  for (std::size_t i = 0; i < base["civicrm"]["contacts"].size(); ++i)
    CHECK(doc["civicrm"]["contacts"][i] == base["civicrm"]["contacts"][i]);
  for (const json& row : base["civicrm"]["subscription_history"]) {
    INFO(row.dump());
    CHECK(std::count(doc["civicrm"]["subscription_history"].begin(),
                     doc["civicrm"]["subscription_history"].end(), row) == 1);
  }
  // Wilma, Barney, Fred, Betty and Pebbles keep their order of history rows.
  CHECK(f.history.at(103) == std::vector<std::string>{"Added", "Removed"});
  CHECK(f.history.count(105) == 0);

  // Mailchimp: every status, both kinds of unsubscribe with their reasons, forgotten addresses.
  for (const char* st : {"subscribed", "pending", "unsubscribed:user", "unsubscribed:admin",
                         "unsubscribed:api", "cleaned", "archived", "transactional"}) {
    INFO(st);
    CHECK(f.statuses[st] >= 2);
  }
  CHECK(f.statuses["subscribed"] > 300);
  CHECK(f.reasons.size() >= 3);
  CHECK(f.forgotten >= 2);
  CHECK(seed.find("\"unsubscribe_reason\":\"N/A (Unsubscribed by admin)\"") != std::string::npos);
  CHECK(seed.find("\"clean_reason\":\"hard\"") != std::string::npos);
  CHECK(seed.find("\"status_before_archive\":\"unsubscribed\"") != std::string::npos);

  // CiviCRM: histories of every shape.
  std::map<std::string, int> latest;
  int multi = 0;
  for (const auto& [id, rows] : f.history) {
    ++latest[rows.back()];
    if (rows.size() >= 3) ++multi;
  }
  CHECK(latest["Added"] > 250);
  CHECK(latest["Removed"] > 20);
  CHECK(latest["Pending"] >= 2);
  CHECK(latest["Deleted"] >= 2);
  CHECK(multi > 50);
  // Contacts: trashed (some still Added), do-not-email, opted out, on hold (bounce and opt-out),
  // several emails with the bulk-mail one apart from the primary, in no group, duplicates.
  int trashed_added = 0, dne = 0, opt_out = 0, hold1 = 0, hold2 = 0, bulk = 0, several = 0,
      no_group = 0, no_email = 0;
  for (const auto& [id, c] : f.contacts) {
    if (c->value("is_deleted", false) && f.history.count(id) && f.history.at(id).back() == "Added")
      ++trashed_added;
    dne += c->value("do_not_email", false);
    opt_out += c->value("is_opt_out", false);
    const json emails = c->value("emails", json::array());
    several += emails.size() > 1;
    no_email += emails.empty();
    for (std::size_t i = 0; i < emails.size(); ++i) {
      hold1 += emails[i].value("on_hold", 0) == 1;
      hold2 += emails[i].value("on_hold", 0) == 2;
      bulk += i > 0 && emails[i].value("is_bulkmail", false);
    }
    no_group += f.history.count(id) == 0;
  }
  CHECK(trashed_added >= 2);
  CHECK(dne >= 2);
  CHECK(opt_out >= 2);
  CHECK(hold1 >= 2);
  CHECK(hold2 >= 2);
  CHECK(bulk >= 2);
  CHECK(several >= 4);
  CHECK(no_group >= 40);
  CHECK(no_email >= 1);
  int duplicates = 0;
  for (const auto& [email, ids] : f.by_email)
    duplicates += ids.size() > 1;
  CHECK(duplicates >= 3 + 1);  // and the Rockheads
  // Invalid addresses (CiviCRM takes anything), and fake-looking ones Mailchimp would refuse.
  int invalid = 0, fake = 0;
  for (const auto& [email, ids] : f.by_email) {
    if (concord::check_email(email) != concord::EmailProblem::kOk) ++invalid;
    if (email.find("@example.") != std::string::npos || email.ends_with(".test")) ++fake;
  }
  CHECK(invalid >= 3);
  CHECK(fake >= 2);
  // Case and spacing differences between the sides.
  CHECK(std::regex_search(seed, std::regex(R"("email":" [a-z])")));
  CHECK(std::regex_search(seed, std::regex(R"("email_address":"[A-Z][a-z_.]*[0-9]+@[A-Z])")));
  // No generated address on a reserved domain in Mailchimp.
  for (const json& m : list["members"]) {
    std::string e = m["email_address"];
    CHECK(e.find("example.") == std::string::npos);
    CHECK_FALSE(e.ends_with(".test"));
  }
  // Times: CRM rows in both daylight-saving periods, two in the repeated hour of 26 October.
  CHECK(f.summer > 100);
  CHECK(f.winter > 100);
  CHECK(f.repeated_hour >= 2);
  // Names in merge fields and contacts, non-ASCII ones too.
  CHECK(seed.find("\"FNAME\":") != std::string::npos);
  CHECK(std::regex_search(seed, std::regex("\"first_name\":\"[^\"]*[\\x80-\\xff]")));

  // Overlap and disagreement, among the generated people: 250 on both sides, 25 disagreeing.
  int both = 0, disagree = 0;
  for (const auto& [email, in_mc] : f.mc_in) {
    auto it = f.by_email.find(email);
    if (!is_generated(email) || it == f.by_email.end()) continue;
    std::int64_t id = it->second.front();
    if (f.history.count(id) == 0) continue;  // a contact in no group
    ++both;
    disagree += in_mc != f.crm_in(id);
  }
  CHECK(both >= 245);
  CHECK(both <= 260);
  CHECK(disagree >= 20);
  CHECK(disagree <= 35);
}

TEST_CASE("seed generator: the same options give the same bytes, others differ") {
  const std::string a = generated(300, 7);
  CHECK(generated(300, 7) == a);
  CHECK(generated(300, 8) != a);
  CHECK(generated(300, 7, fixture(), 0.3) != a);
  CHECK(generated(301, 7) != a);
  // One member, contact or history row a line.
  CHECK(std::count(a.begin(), a.end(), '\n') > 300 * 2);
}

TEST_CASE("seed generator: without a base, from a state document, and bad options") {
  // Without a base: the defaults, still loading.
  const std::string alone = generated(200, 1, "");
  json doc = json::parse(alone);
  CHECK(doc["mailchimp"]["lists"][0]["id"] == "b3d1c0ffee");
  CHECK(doc["civicrm"]["groups"][0]["id"] == 42);
  CHECK(doc["civicrm"]["timezone"] == "Europe/London");
  json counts = load(alone);
  CHECK(counts["members"] == 200);

  // A state document (with explicit memberships and ids) as the base: the generated people get
  // memberships too, the same as when they follow the history.
  const json plain = load(generated(200));
  sb::SandboxClock clock;
  auto loaded = sb::parse_seed(fixture(), 0);
  auto site = sb::parse_civicrm_seed(fixture(), 0);
  REQUIRE(loaded.is_ok());
  REQUIRE(site.is_ok());
  sb::MailchimpSandbox mc(std::move(loaded->account), &clock);
  sb::CivicrmSandbox civi(std::move(site).value(), &clock);
  sb::SandboxRouter router(&mc, &civi, &clock);
  std::string state = router.state_document();
  REQUIRE(state.find("\"group_contacts\"") != std::string::npos);
  json from_state = load(generated(200, 1, state));
  CHECK(from_state["civicrm"] == plain["civicrm"]);
  CHECK(from_state["members"] == plain["members"]);

  sb::SeedOptions bad;
  bad.members = -1;
  CHECK(sb::generate_seed(bad).status().code() == concord::Status::Code::kInvalid);
  bad.members = 10;
  bad.overlap = 1.5;
  CHECK_FALSE(sb::generate_seed(bad).is_ok());
  bad.overlap = 0.5;
  bad.base = "not json";
  CHECK(sb::generate_seed(bad).status().message() == "base: not JSON");
  bad.base = R"({"civicrm":{"timezone":"Mars/Olympus"}})";
  CHECK_FALSE(sb::generate_seed(bad).is_ok());
  // Everyone on both sides, or no one.
  for (double overlap : {0.0, 1.0}) {
    INFO(overlap);
    load(generated(100, 1, fixture(), overlap, 1.0));
  }
  load(generated(0));
}

TEST_CASE("seed generator: through the binary, which starts from what it wrote") {
  const char* bin = std::getenv("CONCORD_SANDBOX_BIN");
  if (bin == nullptr) {
    WARN("CONCORD_SANDBOX_BIN is not set: the binary is not tried");
    return;
  }
  TempDir dir;
  std::string base = concord::testing::source_file("fixtures/sandbox-seed.json");
  REQUIRE_FALSE(base.empty());
  std::string out = dir.file("seed.json");
  std::string cmd = std::string(bin) + " --generate-seed " + out +
                    " --members 400 --overlap 0.4 --disagree 0.2 --random-seed 3 --base " + base;
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(concord::testing::read_text(out) == generated(400, 3, fixture(), 0.4, 0.2));
  // A bad option: exit status 1, nothing written.
  std::string bad = std::string(bin) + " --generate-seed " + dir.file("bad.json") +
                    " --base /nonexistent/seed.json 2>/dev/null";
  int status = std::system(bad.c_str());
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.json")));

  concord::testing::SandboxProcess sandbox(out, {"--no-tls"});
  auto url = http::Url::parse(sandbox.mailchimp_url());
  REQUIRE(url.is_ok());
  auto client = http::Client::create(*url, http::ClientOptions{});
  REQUIRE(client.is_ok());
  http::Request req;
  req.target = "/_sandbox/state";
  auto state = (*client)->send(req);
  REQUIRE(state.is_ok());
  REQUIRE(state->status == 200);
  json doc = json::parse(state->body);
  CHECK(doc["mailchimp"]["lists"][0]["members"].size() == 411);
  CHECK(doc["civicrm"]["contacts"].size() ==
        json::parse(concord::testing::read_text(out))["civicrm"]["contacts"].size());
}
