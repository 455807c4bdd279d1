// scripts/bench auth0: an Auth0 connection of 100 000 users (--members) mirrored into an empty
// Mailchimp audience by one `concord sync --json`, through concord-sandbox over TLS.
//
// Past 1 000 users concord reads the connection through an export job; the sandbox's jobs
// complete at the first poll, so the run waits only concord's first poll delay (1 s).
//
// Prints (name: value): users; auth0_requests (the sandbox's log of the Auth0 part: token,
// search, job, polls, download) and crm_requests (concord's own count of its people-side
// requests); mailchimp_requests; the sync's wall_s and concord's peak_rss_mb; per_member_calls,
// what one Auth0 call per user would take, beside auth0_requests.
//
// BENCH_DUMP_LOG=1 also writes to stderr where each run's requests went (by part, method,
// status and path).
//
// Needs CONCORD_BIN and CONCORD_SANDBOX_BIN (scripts/bench sets them).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "bench_util.h"
#include "concord_run.h"
#include "sandbox_process.h"

using namespace concord;
using namespace concord::bench;

namespace {

constexpr const char* kMailchimpKey = "0123456789abcdef0123456789abcdef-us6";
constexpr const char* kSecret = "s3cr3t-Sandbox-Client-Secret";

// Streamed to a file: users in one database connection, each with a verified address and a given
// name; an empty audience "Newsletter" with FNAME.
void write_seed(const std::string& path, std::uint64_t n) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) die("cannot write " + path);
  std::fprintf(f,
               "{\"clock\":\"2026-03-01T09:00:00+00:00\",\"mailchimp\":{\"api_key\":\"%s\","
               "\"lists\":[{\"id\":\"b3d1c0ffee\",\"name\":\"Newsletter\",\"merge_fields\":["
               "{\"tag\":\"FNAME\",\"type\":\"text\"},{\"tag\":\"LNAME\",\"type\":\"text\"}],"
               "\"members\":[]}]},\"auth0\":{\"domain\":\"acme.eu.auth0.com\",\"clients\":["
               "{\"client_id\":\"AbC123\",\"client_secret\":\"%s\",\"scopes\":[\"read:users\","
               "\"read:connections\"]}],\"connections\":[{\"id\":\"con_ftSSLHb0O7rcUGmF\","
               "\"name\":\"newsletter-db\",\"strategy\":\"auth0\"}],\"settings\":{\"export_jobs\":"
               "{\"pending_polls\":0,\"processing_polls\":0}},\"users\":[",
               kMailchimpKey, kSecret);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto u = static_cast<unsigned long long>(i);
    std::fprintf(f,
                 "%s{\"user_id\":\"auth0|%024llx\",\"email\":\"user.%llu@quarry.org\","
                 "\"email_verified\":true,\"given_name\":\"Given %llu\",\"created_at\":"
                 "\"2026-01-10T10:00:00.000Z\",\"updated_at\":\"2026-01-10T10:00:00.000Z\","
                 "\"identities\":[{\"connection\":\"newsletter-db\",\"user_id\":\"%024llx\","
                 "\"provider\":\"auth0\",\"isSocial\":false}]}",
                 i ? "," : "", u, u, u, u);
  }
  std::fprintf(f, "]}}\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 100'000);
  std::filesystem::create_directories(args.dir);
  const std::string seed = args.dir + "/seed.json";
  write_seed(seed, args.members);
  testing::SandboxProcess sandbox(seed);
  std::filesystem::remove(seed);
  const std::string auth0_url = sandbox.ready.at("auth0_url");
  SandboxAdmin admin(auth0_url, sandbox.ca_file());

  std::ofstream(args.dir + "/concord.toml")
      << "state_dir = \"state\"\n[mailchimp.main]\napi_key_env = \"MAILCHIMP_API_KEY\"\n"
      << "base_url = \"" << sandbox.mailchimp_url() << "\"\nca_file = \"" << sandbox.ca_file()
      << "\"\n[auth0.main]\ndomain = \"acme.eu.auth0.com\"\nclient_id = \"AbC123\"\n"
      << "client_secret_env = \"AUTH0_CLIENT_SECRET\"\nbase_url = \"" << auth0_url
      << "\"\nca_file = \"" << sandbox.ca_file() << "\"\n[[sync]]\nname = \"app-users\"\n"
      << "auth0 = \"main\"\nconnection = \"newsletter-db\"\naudience = \"Newsletter\"\n"
      << "fields = { FNAME = \"given_name\" }\n";

  const std::uint64_t mark = admin.log_mark();
  ConcordRun run = run_concord(args.dir, {"sync", "--json"},
                               {std::string("MAILCHIMP_API_KEY=") + kMailchimpKey,
                                std::string("AUTH0_CLIENT_SECRET=") + kSecret});
  if (run.code != 0) {
    die("sync: exit " + std::to_string(run.code) + "; see " + run.err.string() + " and " +
        run.out.string());
  }
  if (run.summary.value("failed", std::uint64_t{1}) != 0)
    die("sync: writes failed; see " + run.out.string());
  const auto& counts = run.summary["counts"];
  if (counts.value("add_to_mailchimp", std::uint64_t{0}) != args.members) {
    die("sync added " + counts.value("add_to_mailchimp", nlohmann::json()).dump() +
        " members, not " + std::to_string(args.members));
  }
  if (std::getenv("BENCH_DUMP_LOG") != nullptr) admin.dump_log(mark);
  print("users", args.members);
  print("auth0_requests", admin.count_since(mark, "part=auth0"));
  print("crm_requests", run.summary.value("crm_requests", std::uint64_t{0}));
  print("mailchimp_requests", run.summary.value("mailchimp_requests", std::uint64_t{0}));
  print("wall_s", run.wall_s);
  print("peak_rss_mb", run.peak_rss_mb, 1);
  print("per_member_calls", args.members);
  return 0;
}
