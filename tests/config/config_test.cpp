#include <catch2/catch.hpp>

#include <cstdlib>

#include "concord/config.h"
#include "config/schedule.h"

using namespace concord;

TEST_CASE("the example configuration reads back with the documented defaults") {
  auto c = parse_config(example_config(), "/etc/concord/concord.toml");
  REQUIRE(c.is_ok());
  CHECK(c->state_dir == "/etc/concord/state");
  REQUIRE(c->syncs.size() == 1);
  const SyncConfig& s = c->syncs[0];
  CHECK(s.name == "newsletter");
  CHECK(s.mailchimp == "main");  // the only account
  CHECK(s.civicrm == "main");
  CHECK(s.options.tie == TieRule::kCrm);
  CHECK(s.options.resubscribe == Resubscribe::kPending);
  CHECK(s.options.removal == RemovalMode::kUnsubscribe);
  CHECK(s.options.max_removal_fraction == Approx(0.10));
  CHECK(s.options.max_addition_fraction == Approx(0.25));
  REQUIRE(s.fields.size() == 2);
  CHECK(s.fields[0].tag == "FNAME");
  CHECK(s.fields[0].crm_field == "first_name");
  CHECK(c->civicrm.at("main").timezone == "Europe/London");
  CHECK(c->sync("").value()->name == "newsletter");
  CHECK_FALSE(c->sync("other").is_ok());
}

TEST_CASE("configuration errors name the file, the line and the key") {
  struct Row {
    const char* text;
    const char* expect;
  };
  const Row rows[] = {
      {"state_dir = \"s\"\nstat_dir = \"x\"\n",
       "c.toml:2: unknown key 'stat_dir' in the top level"},
      {"[mailchimp.main]\napi_key = \"abc\"\n",
       "c.toml:2: unknown key 'api_key' in [mailchimp.main]"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\ntie=\"later\"\n",
       "c.toml:8: tie must be one of crm, mailchimp, out (not \"later\")"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nskew_margin=\"soon\"\n",
       "skew_margin: \"soon\" is not a duration"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nmax_removal_fraction=2\n",
       "max_removal_fraction must be a number from 0 to 1"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nmax_addition_fraction=-0.5\n",
       "c.toml:8: sync \"a\": max_addition_fraction must be a number from 0 to 1000000"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nmax_addition_fraction=inf\n",
       "max_addition_fraction must be a number from 0 to 1000000"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nmax_addition_fraction=\"a lot\"\n",
       "max_addition_fraction must be a number from 0 to 1000000"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nkeep_runs=0\n",
       "c.toml:8: sync \"a\": keep_runs must be a whole number from 1 to 1000000"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nkeep_days=\"90d\"\n",
       "keep_days must be a whole number"},
      {"[mailchimp.m]\n[mailchimp.n]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\n",
       "sync \"a\": name its mailchimp (there are 2)"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\nmailchimp=\"x\"\naudience=\"A\"\ngroup=\"G\"\n",
       "no [mailchimp.x] section"},
      {"[mailchimp.m]\nmax_connections = 20\n", "max_connections must be 1 to 10"},
      {"[civicrm.c]\nurl=\"https://x\"\nmax_connections = 0\n",
       "c.toml:3: [civicrm.c] max_connections must be 1 to 32"},
      {"[civicrm.c]\nurl=\"https://x\"\nmax_connections = \"4\"\n",
       "[civicrm.c] max_connections must be 1 to 32"},
      {"[[sync]]\nname=\"a b\"\n", "needs a name"},
      {"[[sync]]\nname=\"a\"\ngroup=\"G\"\n", "audience is required"},
      {"state_dir = \n", "c.toml:1:"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nschedule=\"every 0m\"\n",
       "c.toml:8: sync \"a\": schedule \"every 0m\": the interval must be at least 1 minute"},
      {"[mailchimp.m]\n[civicrm.c]\nurl=\"https://"
       "x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\nschedule=\"61 * * * *\"\n",
       "minute 61 is out of range 0-59"},
      {"[serve]\nlisten = \"127.0.0.1:8080\"\nport = 1\n",
       "c.toml:3: unknown key 'port' in [serve]"},
      {"[serve]\nsignature_header = \"X-Sig\"\n",
       "signature_header and signature_secret_env go together"},
      {"[serve]\ntimezone = \"Mars/Olympus\"\n", "c.toml:2: [serve] timezone:"},
  };
  for (const Row& r : rows) {
    DYNAMIC_SECTION(r.expect) {
      auto c = parse_config(r.text, "c.toml");
      REQUIRE_FALSE(c.is_ok());
      CHECK(c.status().code() == Status::Code::kInvalid);
      INFO(c.status().message());
      CHECK(c.status().message().find(r.expect) != std::string::npos);
    }
  }
}

TEST_CASE("a CiviCRM connection's request budget: 4 unless set") {
  auto c = parse_config(
      "[civicrm.a]\nurl=\"https://a\"\n[civicrm.b]\nurl=\"https://b\"\nmax_connections = 12\n",
      "c.toml");
  REQUIRE(c.is_ok());
  CHECK(c->civicrm.at("a").max_connections == 4);
  CHECK(c->civicrm.at("b").max_connections == 12);
}

TEST_CASE("durations and fractions out of range are errors, never overflows or nan") {
  CHECK_FALSE(parse_duration("999999999d").is_ok());
  CHECK_FALSE(parse_duration("99999999999999999999s").is_ok());
  CHECK(parse_duration("3650d").is_ok());
  auto c = parse_config(
      "[mailchimp.m]\n[civicrm.c]\nurl=\"https://x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\n"
      "group=\"99999999999999999999\"\nmax_removal_fraction = nan\n",
      "c.toml");
  REQUIRE_FALSE(c.is_ok());
  CHECK_THAT(c.status().message(), Catch::Matchers::Contains("max_removal_fraction"));
}

TEST_CASE("plain http:// is refused unless the host is this machine, naming the key") {
  auto with = [](const std::string& mc, const std::string& civi) {
    return parse_config("[mailchimp.m]\nbase_url = \"" + mc + "\"\n[civicrm.c]\nurl=\"" + civi +
                            "\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\n",
                        "c.toml");
  };
  CHECK(with("https://us6.api.mailchimp.com/3.0", "https://crm.example.org").is_ok());
  CHECK(with("http://127.0.0.1:8443/3.0", "http://localhost:8080").is_ok());
  CHECK(with("http://[::1]:8443/3.0", "https://crm.example.org").is_ok());
  auto mc = with("http://us6.api.mailchimp.com/3.0", "https://crm.example.org");
  REQUIRE_FALSE(mc.is_ok());
  CHECK_THAT(mc.status().message(), Catch::Matchers::Contains("[mailchimp.m] base_url"));
  auto civi = with("https://us6.api.mailchimp.com/3.0", "HTTP://crm.example.org");
  REQUIRE_FALSE(civi.is_ok());
  CHECK_THAT(civi.status().message(), Catch::Matchers::Contains("[civicrm.c] url"));
  // A loopback-looking user part does not make a remote host local.
  CHECK_FALSE(with("http://127.0.0.1@evil.example.org/3.0", "https://crm.example.org").is_ok());
}

TEST_CASE("durations") {
  CHECK(parse_duration("0").value() == 0);
  CHECK(parse_duration("0s").value() == 0);
  CHECK(parse_duration("30s").value() == 30 * kMicrosPerSecond);
  CHECK(parse_duration("5m").value() == 300 * kMicrosPerSecond);
  CHECK(parse_duration("2h").value() == 7200 * kMicrosPerSecond);
  CHECK_FALSE(parse_duration("5").is_ok());
  CHECK_FALSE(parse_duration("m").is_ok());
  CHECK_FALSE(parse_duration("5 minutes").is_ok());
}

TEST_CASE("secrets come from the environment; errors name the variable, never a value") {
  ::setenv("CONCORD_TEST_SECRET", "s3cr3t-value", 1);
  CHECK(read_secret("CONCORD_TEST_SECRET", "Mailchimp account main").value() == "s3cr3t-value");
  ::unsetenv("CONCORD_TEST_MISSING");
  auto missing = read_secret("CONCORD_TEST_MISSING", "Mailchimp account main");
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().message() ==
        "Mailchimp account main: the environment variable CONCORD_TEST_MISSING is not set");
}

TEST_CASE("field mappings may give a direction") {
  auto c = parse_config(
      "[mailchimp.m]\n[civicrm.c]\nurl=\"https://x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\n"
      "group=\"G\"\nfields = { FNAME = \"first_name\", PHONE = { crm = \"phone\", direction = "
      "\"to_mailchimp\" } }\n",
      "c.toml");
  REQUIRE(c.is_ok());
  REQUIRE(c->syncs[0].fields.size() == 2);
  CHECK(c->syncs[0].fields[1].tag == "PHONE");
  CHECK(c->syncs[0].fields[1].direction == FieldMapping::Direction::kToMailchimp);
}

TEST_CASE("field mappings name a contact field: core or Group.Field, never the address, once") {
  auto with = [](const std::string& fields) {
    return parse_config(
        "[mailchimp.m]\n[civicrm.c]\nurl=\"https://x\"\n[[sync]]\nname=\"a\"\naudience=\"A\"\n"
        "group=\"G\"\nfields = " +
            fields + "\n",
        "c.toml");
  };
  auto ok = with(R"({ JOINED = "Member_Info.Member_Since", TITLE = "job_title" })");
  REQUIRE(ok.is_ok());
  CHECK(ok->syncs[0].fields[0].crm_field == "Member_Info.Member_Since");
  struct Bad {
    const char* fields;
    const char* says;
  };
  for (const Bad& b : {
           Bad{R"({ EMAIL2 = "email_primary.email" })",
               "the contact's email is the member's address"},
           Bad{R"({ X = "first name" })", "not a contact field name"},
           Bad{R"({ X = "a.b.c" })", "custom fields are Group.Field"},
           Bad{R"({ A = "first_name", B = "first_name" })",
               "fields.B maps first_name, which fields.A maps already"},
       }) {
    auto c = with(b.fields);
    INFO(b.fields);
    REQUIRE_FALSE(c.is_ok());
    CHECK_THAT(c.status().message(), Catch::Matchers::Contains(b.says));
  }
}

TEST_CASE("the daemon's settings: schedules and [serve]") {
  auto c = parse_config(
      "[mailchimp.m]\n[civicrm.c]\nurl=\"https://x\"\n"
      "[[sync]]\nname=\"a\"\naudience=\"A\"\ngroup=\"G\"\n"
      "[[sync]]\nname=\"b\"\naudience=\"B\"\ngroup=\"G\"\nschedule=\"30 2 * * mon-fri\"\n"
      "[serve]\nlisten=\"0.0.0.0:9090\"\ntoken_env=\"CONCORD_TOKEN\"\n"
      "public_url=\"https://concord.example.org\"\n",
      "c.toml");
  REQUIRE(c.is_ok());
  CHECK(c->syncs[0].schedule == "every 1h");  // the default
  CHECK(c->syncs[1].schedule == "30 2 * * mon-fri");
  CHECK(c->serve.listen == "0.0.0.0:9090");
  CHECK(c->serve.token_env == "CONCORD_TOKEN");
  CHECK(c->serve.public_url == "https://concord.example.org");
  // Cron schedules are read in [serve] timezone (UTC by default).
  CHECK(schedule_of(*c, c->syncs[1])
            .value()
            .next_after(parse_iso8601("2026-07-01T00:00:00Z").value()) ==
        parse_iso8601("2026-07-01T02:30:00Z").value());
  auto london = parse_config(
      "[mailchimp.m]\n[civicrm.c]\nurl=\"https://x\"\n"
      "[serve]\ntimezone=\"Europe/London\"\n"
      "[[sync]]\nname=\"b\"\naudience=\"B\"\ngroup=\"G\"\nschedule=\"30 2 * * mon-fri\"\n",
      "c.toml");
  REQUIRE(london.is_ok());
  CHECK(schedule_of(*london, london->syncs[0])
            .value()
            .next_after(parse_iso8601("2026-07-01T00:00:00Z").value()) ==
        parse_iso8601("2026-07-01T01:30:00Z").value());  // 02:30 BST
  auto d = parse_config(example_config(), "c.toml");
  REQUIRE(d.is_ok());
  CHECK(d->serve.listen == "127.0.0.1:8080");
  CHECK(d->serve.token_env.empty());
}

// The one-way sources and the Mailchimp targets (issue 15's configuration, as documented).
TEST_CASE("one-way sources, cohorts and targets read as documented") {
  const char* text = R"(
[mailchimp.main]
[civicrm.main]
url = "https://crm.example.org"
[auth0.main]
domain = "acme.eu.auth0.com"
client_id = "AbC123"
client_secret_env = "AUTH0_CLIENT_SECRET"
base_url = "https://127.0.0.1:8444"
[mixpanel.main]
project_id = 123456
service_account = "concord.abc.mp-service-account"
secret_env = "MIXPANEL_SECRET"
region = "eu"
[amplitude.main]
region = "us"

[[sync]]
name = "app-users"
auth0 = "main"
connection = "Username-Password-Authentication"
audience = "Newsletter"
schedule = "every 5m"
status_if_new = "pending"
verified_only = true
fields = { FNAME = "given_name", LNAME = "family_name" }

[[sync]]
name = "power-users"
mixpanel = "main"
cohort = "Power users"
mode = "one-time"
audience = "Newsletter"

[[sync]]
name = "cohort-audience"
amplitude = "main"
cohort = 4321
target = "audience"
audience = "Newsletter"

[[sync]]
name = "volunteers"
group = "Volunteers"
audience = "Newsletter"
interest = "Volunteering: Yes"
)";
  auto c = parse_config(text, "/etc/concord/concord.toml");
  REQUIRE(c.is_ok());
  REQUIRE(c->syncs.size() == 4);
  CHECK(c->auth0.at("main").domain == "acme.eu.auth0.com");
  CHECK(c->mixpanel.at("main").project_id == 123456);
  CHECK(c->mixpanel.at("main").region == "eu");
  CHECK(c->amplitude.at("main").api_key_env == "AMPLITUDE_API_KEY");

  const SyncConfig& auth0 = c->syncs[0];
  CHECK(auth0.people == PeopleKind::kAuth0);
  CHECK(auth0.one_way());
  CHECK(auth0.source == "main");
  CHECK(auth0.connection == "Username-Password-Authentication");
  CHECK(auth0.verified_only);
  CHECK(auth0.options.direction == Direction::kToMailchimp);
  CHECK(auth0.options.removal == RemovalMode::kNone);  // the extension never removes anyone
  CHECK(auth0.options.double_opt_in);                  // status_if_new = "pending"
  CHECK(auth0.target == TargetKind::kAudience);
  REQUIRE(auth0.fields.size() == 2);
  CHECK(auth0.fields[0].crm_field == "given_name");
  CHECK(auth0.fields[0].direction == FieldDirection::kToMailchimp);

  const SyncConfig& mixpanel = c->syncs[1];
  CHECK(mixpanel.people == PeopleKind::kMixpanel);
  CHECK(mixpanel.cohort == "Power users");
  CHECK(mixpanel.mode == CohortMode::kOneTime);
  CHECK(mixpanel.target == TargetKind::kTag);  // cohorts default to a tag (named when resolved)
  CHECK(mixpanel.schedule == "every 2h");
  CHECK(mixpanel.options.removal == RemovalMode::kUnsubscribe);

  const SyncConfig& amplitude = c->syncs[2];
  CHECK(amplitude.people == PeopleKind::kAmplitude);
  CHECK(amplitude.cohort == "4321");
  CHECK(amplitude.target == TargetKind::kAudience);

  const SyncConfig& volunteers = c->syncs[3];
  CHECK(volunteers.people == PeopleKind::kCivicrm);
  CHECK_FALSE(volunteers.one_way());
  CHECK(volunteers.civicrm == "main");
  CHECK(volunteers.target == TargetKind::kInterest);
  CHECK(volunteers.interest == "Volunteering: Yes");
}

TEST_CASE("one-way and target mistakes are errors naming the key") {
  const std::string head =
      "[mailchimp.m]\n[civicrm.c]\nurl=\"https://x\"\n[auth0.a]\ndomain=\"t.auth0.com\"\n"
      "client_id=\"c\"\n[mixpanel.p]\nproject_id=1\nservice_account=\"s\"\n[[sync]]\n"
      "name=\"s\"\naudience=\"A\"\n";
  struct Row {
    std::string body;
    const char* expect;
  };
  const Row rows[] = {
      {"auth0=\"a\"\nmixpanel=\"p\"\nconnection=\"c\"\n", "name exactly one people side"},
      {"auth0=\"a\"\n", "connection is required"},
      {"auth0=\"a\"\nconnection=\"c\"\ngroup=\"G\"\n", "group is for civicrm syncs only"},
      {"mixpanel=\"p\"\n", "cohort is required"},
      {"mixpanel=\"p\"\ncohort=\"x\"\nmode=\"sometimes\"\n",
       "mode must be one of dynamic, one-time"},
      {"group=\"G\"\ncohort=\"x\"\n", "cohort is for mixpanel and amplitude syncs"},
      {"group=\"G\"\ntag=\"T\"\ninterest=\"C: I\"\n", "a sync has one target"},
      {"group=\"G\"\ninterest=\"Volunteering\"\n", "\"Category: Interest\""},
      {"group=\"G\"\ntarget=\"tag\"\n", "target = \"tag\" needs tag"},
      {"group=\"G\"\ntarget=\"audience\"\ntag=\"T\"\n", "does not go with tag"},
      {"group=\"G\"\ntag=\"T\"\nremoval=\"archive\"\n", "never unsubscribes"},
      {"auth0=\"a\"\nconnection=\"c\"\nfields={ EMAIL = \"email\" }\n",
       "the address is the member's identity"},
      {"auth0=\"a\"\nconnection=\"c\"\nfields={ FNAME = { crm = \"x\" } }\n",
       "fields of a one-way sync go to Mailchimp only"},
      {"group=\"G\"\nstatus_if_new=\"pending\"\ndouble_opt_in=false\n",
       "status_if_new and double_opt_in say different things"},
      {"auth0=\"nope\"\nconnection=\"c\"\n", "no [auth0.nope] section"},
  };
  for (const Row& row : rows) {
    auto c = parse_config(head + row.body, "c.toml");
    INFO(row.body);
    REQUIRE_FALSE(c.is_ok());
    CHECK(c.status().message().find(row.expect) != std::string::npos);
  }
  const Row sections[] = {
      {"[auth0.a]\nclient_id=\"c\"\n", "[auth0.a] domain is required"},
      {"[auth0.a]\ndomain=\"https://t.auth0.com\"\nclient_id=\"c\"\n", "not a URL"},
      {"[auth0.a]\ndomain=\"t.auth0.com\"\nclient_id=\"c\"\nbase_url=\"http://t.example\"\n",
       "http:// is refused"},
      {"[auth0.a]\ndomain=\"t\"\nclient_id=\"c\"\nclient_secret=\"x\"\n",
       "unknown key 'client_secret' in [auth0.a]"},
      {"[mixpanel.p]\nproject_id=\"x\"\nservice_account=\"s\"\n", "project_id is required"},
      {"[mixpanel.p]\nproject_id=99999999999999999999\nservice_account=\"s\"\n", "c.toml"},
      {"[mixpanel.p]\nproject_id=1\nservice_account=\"s\"\nregion=\"mars\"\n",
       "region must be one of us, eu, in"},
      {"[amplitude.x]\nregion=\"in\"\n", "region must be one of us, eu"},
  };
  for (const Row& row : sections) {
    auto c = parse_config(row.body, "c.toml");
    INFO(row.body);
    REQUIRE_FALSE(c.is_ok());
    CHECK(c.status().message().find(row.expect) != std::string::npos);
  }
}

TEST_CASE("a Mautic segment pair: Basic or OAuth2 credentials, unsubscribe on leaving") {
  const std::string text = R"(
[mailchimp.main]
[mautic.basic]
url = "https://mautic.example.com"
username = "concord"
password_env = "MAUTIC_PW"
[mautic.oauth]
url = "https://mautic.example.org/index.php"
client_id = "1_abc"

[[sync]]
name = "newsletter"
mautic = "basic"
segment = "newsletter"
audience = "Newsletter"
status_if_new = "pending"
fields = { FNAME = "firstname" }

[[sync]]
name = "by-id"
mautic = "oauth"
segment = 3
audience = "Newsletter"
removal = "none"
)";
  auto c = parse_config(text, "/etc/concord/concord.toml");
  REQUIRE(c.is_ok());
  CHECK_FALSE(c->mautic.at("basic").oauth());
  CHECK(c->mautic.at("basic").password_env == "MAUTIC_PW");
  CHECK(c->mautic.at("oauth").oauth());
  CHECK(c->mautic.at("oauth").client_secret_env == "MAUTIC_CLIENT_SECRET");
  const SyncConfig& s = c->syncs[0];
  CHECK(s.people == PeopleKind::kMautic);
  CHECK(s.one_way());
  CHECK(s.source == "basic");
  CHECK(s.segment == "newsletter");
  CHECK(s.options.direction == Direction::kToMailchimp);
  CHECK(s.options.removal == RemovalMode::kUnsubscribe);  // leaving the segment unsubscribes
  CHECK(s.options.double_opt_in);
  CHECK_FALSE(s.options.exact_mirror);
  CHECK(s.target == TargetKind::kAudience);
  CHECK(s.schedule == "every 1h");  // the backstop for deliveries Mautic never retries
  CHECK(c->syncs[1].segment == "3");
  CHECK(c->syncs[1].options.removal == RemovalMode::kNone);

  const std::string head = "[mailchimp.m]\n";
  const std::pair<std::string, const char*> rows[] = {
      {"[mautic.x]\nusername=\"u\"\n", "[mautic.x] url is required"},
      {"[mautic.x]\nurl=\"http://mautic.example.com\"\nusername=\"u\"\n", "http:// is refused"},
      {"[mautic.x]\nurl=\"https://m\"\n", "needs one way to sign in"},
      {"[mautic.x]\nurl=\"https://m\"\nusername=\"u\"\nclient_id=\"c\"\n",
       "needs one way to sign in"},
      {"[mautic.x]\nurl=\"https://m\"\nusername=\"u\"\npassword=\"p\"\n",
       "unknown key 'password' in [mautic.x]"},
      {"[mautic.x]\nurl=\"https://m\"\nusername=\"u\"\n[[sync]]\nname=\"s\"\n"
       "audience=\"A\"\nmautic=\"x\"\n",
       "segment is required"},
      {"[mautic.x]\nurl=\"https://m\"\nusername=\"u\"\n[[sync]]\nname=\"s\"\n"
       "audience=\"A\"\nmautic=\"x\"\nsegment=\"a\"\ncohort=\"c\"\n",
       "cohort is for mixpanel and amplitude syncs"},
      {"[civicrm.c]\nurl=\"https://x\"\n[[sync]]\nname=\"s\"\naudience=\"A\"\ngroup=\"G\"\n"
       "segment=\"a\"\n",
       "segment is for mautic syncs only"},
  };
  for (const auto& [body, expect] : rows) {
    auto bad = parse_config(head + body, "c.toml");
    INFO(body);
    REQUIRE_FALSE(bad.is_ok());
    CHECK(bad.status().message().find(expect) != std::string::npos);
  }
}

TEST_CASE("an Amplitude [[stream]]: defaults, filters, and mistakes named by key") {
  const std::string text = R"(
[mailchimp.main]
[[stream]]
name = "product"
kind = "amplitude"
api_key_env = "AMPLITUDE_INTAKE_KEY"
audience = "Newsletter"
events = ["Order Completed", "Signed Up", "Order Completed"]
event_properties = ["plan"]
status_if_new = "pending"

[[stream]]
name = "users-only"
kind = "amplitude"
api_key_env = "K2"
audience = "abc123"
send_events = false
user_properties = ["FNAME"]
email_property = "Email"
max_events_per_second = 30
)";
  auto c = parse_config(text, "/etc/concord/concord.toml");
  INFO(c.status().to_string());
  REQUIRE(c.is_ok());
  REQUIRE(c->streams.size() == 2);
  const StreamConfig& s = c->streams[0];
  CHECK(s.kind == StreamKind::kAmplitude);
  CHECK(s.mailchimp == "main");  // the only account
  CHECK(s.send_events);
  CHECK(s.send_users);
  CHECK(s.events == std::vector<std::string>{"Order Completed", "Signed Up"});
  CHECK(s.event_properties == std::vector<std::string>{"plan"});
  CHECK(s.user_properties.empty());
  CHECK(s.status_if_new_pending);
  CHECK(s.email_property == "email");
  CHECK(s.max_events_per_second == 1000);
  CHECK(c->streams[1].max_events_per_second == 30);
  CHECK_FALSE(c->streams[1].send_events);
  CHECK_FALSE(c->streams[1].status_if_new_pending);
  CHECK(c->streams[1].email_property == "Email");

  const std::string head = "[mailchimp.m]\n";
  const std::string ok =
      "[[stream]]\nname=\"s\"\nkind=\"amplitude\"\napi_key_env=\"K\"\n"
      "audience=\"A\"\n";
  const std::pair<std::string, const char*> rows[] = {
      {"[[stream]]\nname=\"s\"\napi_key_env=\"K\"\naudience=\"A\"\n", "kind is required"},
      {"[[stream]]\nname=\"s\"\nkind=\"mixpanel\"\n", "kind must be one of amplitude"},
      {"[[stream]]\nname=\"s\"\nkind=\"amplitude\"\naudience=\"A\"\n", "api_key_env is required"},
      {"[[stream]]\nname=\"s\"\nkind=\"amplitude\"\napi_key_env=\"K\"\n", "audience is required"},
      {ok + "api_key=\"secret\"\n", "unknown key 'api_key' in [[stream]]"},
      {ok + "events=\"Signed Up\"\n", "events must be a list of strings"},
      {ok + "events=[\"\"]\n", "events must be a list of non-empty strings"},
      {ok + "send_events=false\nsend_users=false\n", "nothing would be sent"},
      {ok + "status_if_new=\"unsubscribed\"\n", "status_if_new must be one of"},
      {ok + "mailchimp=\"other\"\n", "no [mailchimp.other] section"},
      {ok + "max_events_per_second=0\n", "max_events_per_second must be a number from 1"},
      {ok + "max_events_per_second=nan\n", "max_events_per_second must be a number from 1"},
      {ok + ok, "two streams are named \"s\""},
      {"[[stream]]\nname=\"a b\"\n", "needs a name"},
      {"[civicrm.c]\nurl=\"https://x\"\n[[sync]]\nname=\"stream.x\"\naudience=\"A\"\n"
       "group=\"G\"\n",
       "kept for streams"},
  };
  for (const auto& [body, expect] : rows) {
    auto bad = parse_config(head + body, "c.toml");
    INFO(body);
    REQUIRE_FALSE(bad.is_ok());
    CHECK(bad.status().message().find(expect) != std::string::npos);
  }
  auto not_array = parse_config("stream = 1\n[mailchimp.m]\n", "c.toml");
  REQUIRE_FALSE(not_array.is_ok());
  CHECK(not_array.status().message().find("streams are written [[stream]]") != std::string::npos);
}

TEST_CASE("an interest target splits into its category and interest, without spaces") {
  using P = std::pair<std::string, std::string>;
  CHECK(split_interest("Volunteering: Yes") == P{"Volunteering", "Yes"});
  CHECK(split_interest("  Topics  :  Rocks and gravel ") == P{"Topics", "Rocks and gravel"});
  CHECK(split_interest("Time: 10:30") == P{"Time", "10:30"});  // the first colon splits
  CHECK(split_interest("no colon") == P{"no colon", ""});
}
