// Runs the real `concord` binary (CONCORD_BIN) on the bundled fixture, as a user would.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Run {
  int status = -1;
  std::string out;
};

Run run(const std::string& args) {
  const char* bin = std::getenv("CONCORD_BIN");
  REQUIRE(bin != nullptr);
  std::string cmd = std::string(bin) + " " + args + " 2>&1";
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string fixture() {
  return std::string(std::getenv("CONCORD_SOURCE_ROOT")) + "/fixtures/flintstones.json";
}

std::string state_dir() {
  auto d =
      std::filesystem::temp_directory_path() / ("concord-cli-test-" + std::to_string(::getpid()));
  return d.string();
}

}  // namespace

TEST_CASE("concord rehearse plans the five people of the design as documented") {
  Run r = run("rehearse --json --table " + fixture() + " --state-dir " + state_dir());
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["first_run"] == true);
  std::map<std::string, std::string> action;
  for (const auto& op : j["operations"]) {
    action[op["email"]] += std::string(op["action"]) + ";";
  }
  CHECK(action.count("wilma@bedrock.org") == 0);                     // stays subscribed
  CHECK(action["barney@bedrock.org"] == "remove_from_crm;");         // removed from the group
  CHECK(action["fred@bedrock.org"] == "unsubscribe_in_mailchimp;");  // unsubscribed in Mailchimp
  CHECK(action["betty@bedrock.org"] == "add_to_mailchimp;");         // added to Mailchimp
  CHECK(action["pebbles@bedrock.org"] == "create_crm_contact;");     // added to the CRM group
  CHECK(action["slate@bedrock.org"] == "pending_in_mailchimp;");     // self-unsubscribed: confirm
  CHECK(action["dino@bedrock.org"] == "remove_from_crm;hold_crm_email;");  // cleaned
  CHECK(action.count("gazoo@bedrock.org") == 0);                           // do-not-email: reported
  CHECK(j["counts"]["report_rows"] == 7);
  bool invalid = false;
  for (const auto& row : j["report"])
    invalid |= row["class"] == "invalid-email";
  CHECK(invalid);
  CHECK(j["guard"]["stop"] == true);  // 2 of 7 removals: more than 10%
  std::filesystem::remove_all(state_dir());
}

TEST_CASE("concord rehearse --trust crm lets the CRM win every disagreement") {
  Run r = run("rehearse --json --trust crm --table " + fixture() + " --state-dir " + state_dir());
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  for (const auto& op : j["operations"]) {
    CHECK(op["reason"] == "trust-crm");
    if (op["email"] == "pebbles@bedrock.org") CHECK(op["action"] == "unsubscribe_in_mailchimp");
    // Barney unsubscribed himself: the CRM may only ask him to confirm.
    if (op["email"] == "barney@bedrock.org") CHECK(op["action"] == "pending_in_mailchimp");
  }
  std::filesystem::remove_all(state_dir());
}

TEST_CASE("concord explains bad usage and bad tables, with exit status 2") {
  CHECK(run("").status == 2);
  CHECK(run("rehearse --table /nonexistent.json --state-dir " + state_dir()).status == 2);
  Run r = run("rehearse --trust both --table " + fixture());
  CHECK(r.status == 2);
  CHECK(r.out.find("--trust") != std::string::npos);
  std::filesystem::remove_all(state_dir());
}
