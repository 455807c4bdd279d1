// One-way mirrors and tag/interest targets end to end: the real `concord` binary against the real
// concord-sandbox (Mailchimp, CiviCRM, Auth0 and Mixpanel parts) over TLS, configured as
// docs/configuration.md shows.
#include <catch2/catch.hpp>

#include <thread>

#include "serve_daemon.h"

using namespace concord::testing;
using nlohmann::json;

namespace {

constexpr const char* kAuth0Secret = "s3cr3t-Sandbox-Client-Secret";
constexpr const char* kMixpanelSecret = "s3cret-0123456789";

Sandbox& sandbox() {
  static Sandbox s;
  return s;
}

// The Auth0 part: one database connection with three users (one without an address).
json auth0_seed() {
  auto user = [](const std::string& id, const std::string& email, const std::string& given) {
    json u = {{"user_id", "auth0|" + id},
              {"email_verified", true},
              {"given_name", given},
              {"created_at", "2026-01-10T10:00:00.000Z"},
              {"updated_at", "2026-01-10T10:00:00.000Z"},
              {"identities", json::array({{{"connection", "newsletter-db"},
                                           {"user_id", id},
                                           {"provider", "auth0"},
                                           {"isSocial", false}}})}};
    if (!email.empty()) u["email"] = email;
    return u;
  };
  return {
      {"domain", "acme.eu.auth0.com"},
      {"clients", json::array({{{"client_id", "AbC123"},
                                {"client_secret", kAuth0Secret},
                                {"scopes", {"read:users", "read:connections"}}}})},
      {"connections",
       json::array(
           {{{"id", "con_ftSSLHb0O7rcUGmF"}, {"name", "newsletter-db"}, {"strategy", "auth0"}}})},
      {"users",
       json::array({user("0001", "ann@quarry.org", "Dino"), user("0002", "bob@quarry.org", "Hoppy"),
                    user("0003", "", "Nobody")})}};
}

json mixpanel_seed() {
  return {
      {"project_id", 1234567},
      {"service_accounts",
       json::array({{{"username", "concord.mp-service-account"}, {"secret", kMixpanelSecret}}})},
      {"cohorts", json::array({{{"id", 1000},
                                {"name", "Power users"},
                                {"members", {"d-dino", "d-wilma", "d-nomail"}}}})},
      {"profiles",
       json::array(
           {{{"$distinct_id", "d-dino"}, {"$properties", {{"$email", "ann@quarry.org"}}}},
            {{"$distinct_id", "d-wilma"}, {"$properties", {{"$email", "wilma@bedrock.org"}}}},
            {{"$distinct_id", "d-nomail"}, {"$properties", json::object()}}})}};
}

// A configuration with the Mixpanel project and one [[sync]] whose keys are `sync`.
std::string mixpanel_config(Sandbox& sb, const std::string& sync);

std::string mailchimp_section(Sandbox& sb) {
  return "state_dir = \"state\"\n[mailchimp.main]\napi_key_env = \"MAILCHIMP_API_KEY\"\n"
         "base_url = \"" +
         sb.mailchimp_url() + "\"\nca_file = \"" + sb.ca_file() + "\"\n";
}

std::string mixpanel_config(Sandbox& sb, const std::string& sync) {
  return mailchimp_section(sb) + "[mixpanel.main]\nproject_id = 1234567\n" +
         "service_account = \"concord.mp-service-account\"\n" +
         "secret_env = \"MIXPANEL_SECRET\"\nbase_url = \"" + sb.url_of("mixpanel_url") +
         "\"\nca_file = \"" + sb.ca_file() + "\"\n[[sync]]\nmixpanel = \"main\"\n" +
         "audience = \"Newsletter\"\n" + sync;
}

// The sandbox reset to the fixture plus the Mixpanel project; `w` configured with one cohort
// pair whose keys are `sync` (and `extra` after it: a [serve] table).
void mixpanel_pair(Sandbox& sb, Workdir& w, const std::string& sync,
                   const std::string& extra = "") {
  json seed = fixture_seed();
  seed["mixpanel"] = mixpanel_seed();
  sb.reset(seed);
  w.write_config(mixpanel_config(sb, sync) + extra);
  w.set_env("MIXPANEL_SECRET", kMixpanelSecret);
}

// The member's tag names in the sandbox's state (seed format: names, or {name} objects).
std::set<std::string> tags_of(const SideState& st, const std::string& email) {
  std::set<std::string> out;
  json m = st.member(email);
  if (m.is_null()) return out;
  for (const json& t : m.value("tags", json::array()))
    out.insert(t.is_string() ? t.get<std::string>() : t.value("name", ""));
  return out;
}

// Whether a member (seed format) has the interest `id` on.
bool interest_on(const json& member, const std::string& id) {
  if (!member.is_object() || !member.contains("interests")) return false;
  const json& i = member["interests"];
  return i.is_object() && i.contains(id) && i[id].is_boolean() && i[id].get<bool>();
}

}  // namespace

TEST_CASE("Auth0 users are mirrored into the audience with their names; nobody is removed") {
  Sandbox& sb = sandbox();
  json seed = fixture_seed();
  seed["auth0"] = auth0_seed();
  sb.reset(seed);
  Workdir w(sb);
  w.write_config(mailchimp_section(sb) + "[auth0.main]\ndomain = \"acme.eu.auth0.com\"\n" +
                 "client_id = \"AbC123\"\nclient_secret_env = \"AUTH0_CLIENT_SECRET\"\n" +
                 "base_url = \"" + sb.url_of("auth0_url") + "\"\nca_file = \"" + sb.ca_file() +
                 "\"\n[[sync]]\nname = \"app-users\"\nauth0 = \"main\"\n" +
                 "connection = \"newsletter-db\"\naudience = \"Newsletter\"\n" +
                 "fields = { FNAME = \"given_name\" }\n");
  w.set_env("AUTH0_CLIENT_SECRET", kAuth0Secret);
  Command check = w.concord({"check"});
  INFO(check.text());
  CHECK(check.code == 0);
  CHECK(check.out.find("auth0 connection \"newsletter-db\"") != std::string::npos);
  CHECK(check.out.find(kAuth0Secret) == std::string::npos);

  const SideState before(sb.state());
  Command c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  CHECK(c.out.find(kAuth0Secret) == std::string::npos);
  CHECK(c.err.find(kAuth0Secret) == std::string::npos);
  SideState after(sb.state());
  CHECK(after.mc_status("ann@quarry.org") == "subscribed");
  CHECK(after.member("ann@quarry.org")["merge_fields"].value("FNAME", "") == "Dino");
  CHECK(after.mc_status("bob@quarry.org") == "subscribed");
  // The audience's other members are not the source's: left as they were.
  for (const json& m : before.list()["members"]) {
    const std::string e = m.value("email_address", "");
    CHECK(after.mc_status(e) == before.mc_status(e));
  }
  // The user without an address is a report row naming the user.
  Command report = w.concord({"report", "--sync", "app-users", "--format", "json"});
  INFO(report.text());
  CHECK(report.out.find("Auth0 user auth0|0003") != std::string::npos);

  // explain tells where the member comes from and why.
  Command why = w.concord({"explain", "ann@quarry.org", "--sync", "app-users"});
  INFO(why.text());
  CHECK(why.code == 0);
  CHECK(why.out.find("auth0:") != std::string::npos);
  CHECK(why.out.find("id auth0|0001") != std::string::npos);
  CHECK(why.out.find("one-way") != std::string::npos);

  // Hoppy's address changes in Auth0; Dino's user is deleted.
  sb.admin("PATCH", "/_sandbox/auth0/users/auth0%7C0002",
           {{"email", "bob@gravel.org"}, {"email_verified", true}});
  sb.admin("DELETE", "/_sandbox/auth0/users/auth0%7C0001");
  sb.advance_clock(60);
  c = w.concord({"sync", "--json", "--full"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  SideState later(sb.state());
  CHECK(later.mc_status("bob@gravel.org") == "subscribed");
  CHECK(later.mc_status("bob@quarry.org") == "absent");      // the member moved, not re-added
  CHECK(later.mc_status("ann@quarry.org") == "subscribed");  // removal = "none"
}

TEST_CASE(
    "a Mixpanel cohort is mirrored into a tag named after it, exactly, unsubscribing no one") {
  Sandbox& sb = sandbox();
  Workdir w(sb);
  mixpanel_pair(sb, w,
                "name = \"power-users\"\ncohort = \"Power users\"\n"
                // A small cohort: one leaving is half of it.
                "max_removal_fraction = 1.0\n");
  Command check = w.concord({"check"});
  INFO(check.text());
  CHECK(check.code == 0);
  CHECK(check.out.find("mixpanel cohort \"Power users\"") != std::string::npos);
  CHECK(check.out.find("target: the tag \"Power users\"") != std::string::npos);

  Command c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  SideState st(sb.state());
  CHECK(tags_of(st, "ann@quarry.org").count("Power users") == 1);  // added carrying the tag
  CHECK(st.mc_status("ann@quarry.org") == "subscribed");
  CHECK(tags_of(st, "wilma@bedrock.org").count("Power users") == 1);
  CHECK(tags_of(st, "wilma@bedrock.org").count("volunteer") == 1);  // her other tag stays

  // Wilma leaves the cohort: her tag comes off; she stays subscribed.
  sb.admin("POST", "/_sandbox/mixpanel/cohorts/1000/members", {{"remove", {"d-wilma"}}});
  c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  SideState later(sb.state());
  CHECK(tags_of(later, "wilma@bedrock.org").count("Power users") == 0);
  CHECK(later.mc_status("wilma@bedrock.org") == "subscribed");
  CHECK(tags_of(later, "ann@quarry.org").count("Power users") == 1);
}

TEST_CASE("a one-time cohort mirror runs once and then refuses to run") {
  Sandbox& sb = sandbox();
  Workdir w(sb);
  mixpanel_pair(sb, w,
                "name = \"once\"\ncohort = 1000\nmode = \"one-time\"\n"
                "target = \"audience\"\nmax_removal_fraction = 1.0\n");
  Command c = w.concord({"sync"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  CHECK(SideState(sb.state()).mc_status("ann@quarry.org") == "subscribed");
  c = w.concord({"sync"});
  INFO(c.text());
  CHECK(c.code != 0);
  CHECK(c.err.find("one-time") != std::string::npos);
}

TEST_CASE("a CiviCRM group is kept in agreement with an interest, both ways; statuses stay") {
  Sandbox& sb = sandbox();
  json seed = fixture_seed();
  const std::string yes = "a1b2c3d4e5";
  seed["mailchimp"]["lists"][0]["interest_categories"] =
      json::array({{{"id", "c0ffee0001"},
                    {"title", "Volunteering"},
                    {"type", "checkboxes"},
                    {"interests", json::array({{{"id", yes}, {"name", "Yes"}}})}}});
  sb.reset(seed);
  Workdir w(sb, "interest = \"Volunteering: Yes\"\n");
  const SideState before(sb.state());
  Command c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE((c.code == 0 || c.code == 4));
  SideState after(sb.state());
  // Wilma is in the group: she gets the interest, and her status stays.
  CHECK(interest_on(after.member("wilma@bedrock.org"), yes));
  CHECK(after.mc_status("wilma@bedrock.org") == "subscribed");
  // No one's status is changed by an interest pair: nobody is unsubscribed.
  for (const json& m : before.list()["members"]) {
    const std::string e = m.value("email_address", "");
    const std::string was = before.mc_status(e);
    if (was == "subscribed" || was == "unsubscribed" || was == "cleaned") {
      CHECK(after.mc_status(e) == was);
    }
  }

  // Wilma clears the interest on her preferences page: she leaves the group, and stays
  // subscribed.
  sb.advance_clock(60);
  sb.mailchimp_api("PATCH",
                   "/lists/b3d1c0ffee/members/" + concord::subscriber_hash("wilma@bedrock.org"),
                   {{"interests", {{yes, false}}}});
  sb.advance_clock(60);
  // (One of the group's eight: more than the removal guard's 10%.)
  c = w.concord({"sync", "--json", "--allow-mass-removal"});
  INFO(c.text());
  REQUIRE((c.code == 0 || c.code == 4));
  SideState later(sb.state());
  CHECK(later.group_status(101) == "Removed");
  CHECK(later.mc_status("wilma@bedrock.org") == "subscribed");
  CHECK_FALSE(interest_on(later.member("wilma@bedrock.org"), yes));
}

TEST_CASE("an Amplitude cohort is mirrored into a tag; users without an address are reported") {
  Sandbox& sb = sandbox();
  json seed = fixture_seed();
  seed["amplitude"] = {
      {"api_key", "amp-key-0123"},
      {"secret_key", "amp-secret-0123"},
      {"users", json::array({{{"amplitude_id", 1001},
                              {"user_id", "u-1"},
                              {"user_properties", {{"email", "ann@quarry.org"}}}},
                             {{"amplitude_id", 1002}, {"user_id", "u-2"}},
                             {{"amplitude_id", 1003},
                              {"user_id", "u-3"},
                              {"user_properties", {{"email", "wilma@bedrock.org"}}}}})},
      {"cohorts",
       json::array(
           {{{"id", "26umsb5"}, {"name", "Active users"}, {"members", {1001, 1002, 1003}}}})}};
  sb.reset(seed);
  Workdir w(sb);
  w.write_config(mailchimp_section(sb) + "[amplitude.main]\napi_key_env = \"AMPLITUDE_API_KEY\"\n" +
                 "secret_key_env = \"AMPLITUDE_SECRET_KEY\"\nbase_url = \"" +
                 sb.url_of("amplitude_url") + "\"\nca_file = \"" + sb.ca_file() + "\"\n" +
                 "[[sync]]\nname = \"actives\"\namplitude = \"main\"\ncohort = \"Active users\"\n" +
                 "audience = \"Newsletter\"\n");
  w.set_env("AMPLITUDE_API_KEY", "amp-key-0123");
  w.set_env("AMPLITUDE_SECRET_KEY", "amp-secret-0123");
  Command c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  CHECK(c.out.find("amp-secret-0123") == std::string::npos);
  SideState st(sb.state());
  CHECK(tags_of(st, "ann@quarry.org").count("Active users") == 1);
  CHECK(tags_of(st, "wilma@bedrock.org").count("Active users") == 1);
  CHECK(c.out.find("Amplitude user") != std::string::npos);  // the user without an address
}

TEST_CASE("concord serve runs cohort mirrors: the kind on the API, a one-time mirror disabled") {
  Sandbox& sb = sandbox();
  Workdir w(sb);
  mixpanel_pair(sb, w,
                "name = \"once\"\ncohort = 1000\nmode = \"one-time\"\nschedule = \"every 1d\"\n",
                "[serve]\nlisten = \"127.0.0.1:0\"\n");
  Daemon d(w, {}, {{"MIXPANEL_SECRET", kMixpanelSecret}});
  json syncs = d.api("GET", "/api/syncs");
  INFO(syncs.dump() << "\n" << d.log());
  REQUIRE(syncs["syncs"].size() == 1);
  CHECK(syncs["syncs"][0]["kind"] == "mixpanel \u2192 tag");
  d.api("POST", "/api/syncs/once/run");
  auto tagged = [&] {
    return tags_of(SideState(sb.state()), "wilma@bedrock.org").count("Power users") == 1;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!tagged() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(tagged());
  // Mirrored once: the pair is disabled, and stays so.
  bool disabled = false;
  for (int i = 0; i < 100 && !disabled; ++i) {
    disabled = d.api("GET", "/api/syncs")["syncs"][0]["enabled"] == false;
    if (!disabled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(disabled);
}

namespace {

constexpr const char* kMauticPassword = "m4utic-Sandbox-Password";

// The Mautic part: a "Newsletter" segment of four contacts (one without an address, one who asked
// not to be emailed) and one contact outside it.
json mautic_seed() {
  auto contact = [](int id, const std::string& email, const std::string& first) {
    json all = {{"firstname", first}};
    if (!email.empty()) all["email"] = email;
    return json{{"id", id},
                {"dateAdded", "2024-05-01T10:00:00+00:00"},
                {"dateModified", "2024-05-01T10:00:00+00:00"},
                {"fields", {{"all", all}}}};
  };
  json cat = contact(4, "cat@quarry.org", "Cat");
  cat["doNotContact"] = json::array({{{"reason", 1}, {"channel", "email"}}});
  return {{"username", "concord"},
          {"password", kMauticPassword},
          {"contacts",
           json::array({contact(1, "ann@quarry.org", "Dino"), contact(2, "bob@quarry.org", "Hoppy"),
                        contact(3, "", "Nobody"), cat, contact(5, "dan@quarry.org", "Dan")})},
          {"segments", json::array({{{"id", 1},
                                     {"name", "Newsletter"},
                                     {"alias", "newsletter"},
                                     {"members", {1, 2, 3, 4}}}})}};
}

// The sandbox reset to the fixture plus the Mautic install; `w` configured with the segment pair
// (and `extra` after it: a [serve] table).
void mautic_pair(Sandbox& sb, Workdir& w, const std::string& extra = "") {
  json seed = fixture_seed();
  seed["mautic"] = mautic_seed();
  sb.reset(seed);
  w.write_config(mailchimp_section(sb) + "[mautic.main]\nurl = \"" + sb.url_of("mautic_url") +
                 "\"\nusername = \"concord\"\npassword_env = \"MAUTIC_PASSWORD\"\nca_file = \"" +
                 sb.ca_file() + "\"\n[[sync]]\nname = \"segment\"\nmautic = \"main\"\n" +
                 "segment = \"newsletter\"\naudience = \"Newsletter\"\n" +
                 "fields = { FNAME = \"firstname\" }\nmax_removal_fraction = 1.0\n" + extra);
  w.set_env("MAUTIC_PASSWORD", kMauticPassword);
}

}  // namespace

TEST_CASE("a Mautic segment is mirrored; leaving it or a Do-Not-Contact unsubscribes") {
  Sandbox& sb = sandbox();
  Workdir w(sb);
  mautic_pair(sb, w);
  Command check = w.concord({"check"});
  INFO(check.text());
  CHECK(check.code == 0);
  CHECK(check.out.find("mautic segment \"Newsletter\"") != std::string::npos);
  CHECK(check.out.find(kMauticPassword) == std::string::npos);

  Command c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  CHECK(c.out.find(kMauticPassword) == std::string::npos);
  SideState after(sb.state());
  CHECK(after.mc_status("ann@quarry.org") == "subscribed");
  CHECK(after.member("ann@quarry.org")["merge_fields"].value("FNAME", "") == "Dino");
  CHECK(after.mc_status("bob@quarry.org") == "subscribed");
  CHECK(after.mc_status("cat@quarry.org") == "absent");  // Do-Not-Contact: never subscribed
  CHECK(after.mc_status("dan@quarry.org") == "absent");  // not in the segment
  Command report = w.concord({"report", "--sync", "segment", "--format", "json"});
  CHECK(report.out.find("Mautic contact 3") != std::string::npos);

  // Bob leaves the segment and Dan joins it (neither moves dateModified): the next run, an
  // incremental one, sees both by the segment's ids.
  sb.admin("POST", "/_sandbox/mautic/segments/1/members", {{"add", {5}}, {"remove", {2}}});
  sb.advance_clock(60);
  c = w.concord({"sync", "--json"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  CHECK(c.out.find("\"full_fetch\": false") != std::string::npos);
  SideState later(sb.state());
  CHECK(later.mc_status("dan@quarry.org") == "subscribed");
  CHECK(later.mc_status("bob@quarry.org") == "unsubscribed");
  CHECK(later.mc_status("cat@quarry.org") == "absent");

  // Ann asks not to be emailed. On recent Mautic that alone moves no dateModified: the webhook
  // tells at once (next test), the full read (daily) in any case.
  sb.admin("POST", "/_sandbox/mautic/contacts/1/dnc", {{"channel", "email"}, {"reason", 1}});
  sb.advance_clock(60);
  c = w.concord({"sync", "--json", "--full"});
  INFO(c.text());
  REQUIRE(c.code == 0);
  CHECK(SideState(sb.state()).mc_status("ann@quarry.org") == "unsubscribed");
}

TEST_CASE("concord serve takes Mautic's signed webhook and mirrors the change at once") {
  Sandbox& sb = sandbox();
  Workdir w(sb);
  mautic_pair(sb, w, "schedule = \"every 1d\"\n[serve]\nlisten = \"127.0.0.1:0\"\n");
  REQUIRE(w.concord({"sync"}).code == 0);
  Daemon d(w, {}, {{"MAUTIC_PASSWORD", kMauticPassword}});
  Command install = w.concord({"webhooks", "install", "--mautic", "--public-url", d.url()});
  INFO(install.text() << "\n" << d.log());
  REQUIRE(install.code == 0);
  CHECK(install.out.find("installed Mautic webhook") != std::string::npos);
  // Installing again finds it.
  CHECK(w.concord({"webhooks", "install", "--mautic", "--public-url", d.url()})
            .out.find("installed already") != std::string::npos);

  // Dan joins the segment in Mautic, and Ann asks not to be emailed (a change that moves no
  // dateModified): the signed deliveries reach the daemon, which reads contacts 5 and 1 again and
  // reconciles them at once, without waiting for the daily schedule.
  sb.admin("POST", "/_sandbox/mautic/segments/1/members", {{"add", {5}}});
  sb.admin("POST", "/_sandbox/mautic/contacts/1/dnc", {{"channel", "email"}, {"reason", 1}});
  auto status = [&](const char* email) { return SideState(sb.state()).mc_status(email); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((status("dan@quarry.org") != "subscribed" || status("ann@quarry.org") != "unsubscribed") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  INFO(d.log());
  CHECK(status("dan@quarry.org") == "subscribed");
  CHECK(status("ann@quarry.org") == "unsubscribed");
  json deliveries = sb.admin("GET", "/_sandbox/mautic/deliveries?wait=true");
  REQUIRE_FALSE(deliveries["deliveries"].empty());
  CHECK(deliveries["deliveries"].back()["status"] == 200);
}

TEST_CASE("a Mautic pair must map every required merge field, as Mautic's plugin asks") {
  Sandbox& sb = sandbox();
  Workdir w(sb);
  mautic_pair(sb, w);
  json seed = fixture_seed();
  seed["mautic"] = mautic_seed();
  for (json& f : seed["mailchimp"]["lists"][0]["merge_fields"]) {
    if (f.value("tag", "") == "LNAME") f["required"] = true;
  }
  sb.reset(seed);
  Command check = w.concord({"check"});
  INFO(check.text());
  CHECK(check.code != 0);
  CHECK(check.text().find("merge field LNAME is required") != std::string::npos);
  Command c = w.concord({"sync"});
  INFO(c.text());
  CHECK(c.code != 0);
  CHECK(c.text().find("merge field LNAME is required") != std::string::npos);
  CHECK(SideState(sb.state()).mc_status("ann@quarry.org") == "absent");  // nothing was written
}
