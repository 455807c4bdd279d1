// scripts/bench cohort: a Mixpanel cohort of 1 000 000 people (--members) mirrored into the tag
// named after it (a cohort's default target) by `concord sync --json`, through concord-sandbox
// over TLS; then 1 000 people leave the cohort and 1 000 new ones join, and a second sync.
//
// The audience starts with every other person of the cohort (even numbers) as a subscribed member
// without the tag: the first run tags those through the tag's segment and adds the others
// carrying the tag (batch subscribe), so both of concord's ways of putting a tag on are measured.
// The Mixpanel project serves its real page size (1 000 profiles) but without the Query API's
// hourly limit (60 queries: a million-person cohort would take 17 hours of quota).
//
// Prints (name: value): members; the first run's mailchimp_requests, tag_write_calls (POSTs to
// /lists/{id}/segments/{id}… in the sandbox's request log), mixpanel_requests, wall_s and
// concord's peak_rss_mb; per_member_calls (one tag call per member); then the second run's
// incremental_mailchimp_requests, incremental_tag_write_calls, incremental_wall_s and
// incremental_peak_rss_mb.
//
// BENCH_DUMP_LOG=1 also writes to stderr where each run's requests went (by part, method,
// status and path).
//
// Needs CONCORD_BIN and CONCORD_SANDBOX_BIN (scripts/bench sets them).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "bench_util.h"
#include "concord_run.h"
#include "sandbox_process.h"

using namespace concord;
using namespace concord::bench;
using nlohmann::json;

namespace {

constexpr const char* kMailchimpKey = "0123456789abcdef0123456789abcdef-us6";
constexpr const char* kSecret = "s3cret-0123456789";
constexpr const char* kListId = "b3d1c0ffee";
constexpr int kCohortId = 1000;
constexpr std::uint64_t kChanges = 1000;  // people who leave, and people who join

// Person i's Mixpanel distinct id (in distinct-id order, as the sandbox serves them) and address.
std::string distinct_id(std::uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "d%08llu", static_cast<unsigned long long>(i));
  return buf;
}
std::string email(std::uint64_t i) {
  return "person." + std::to_string(i) + "@bedrock.org";
}

// Streamed to a file: the cohort, a profile with $email for each of its members, and the
// audience "Newsletter" holding the even-numbered ones.
void write_seed(const std::string& path, std::uint64_t n) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) die("cannot write " + path);
  std::fprintf(f,
               "{\"clock\":\"2026-03-01T09:00:00+00:00\",\"mailchimp\":{\"api_key\":\"%s\","
               "\"lists\":[{\"id\":\"%s\",\"name\":\"Newsletter\",\"merge_fields\":["
               "{\"tag\":\"FNAME\",\"type\":\"text\"},{\"tag\":\"LNAME\",\"type\":\"text\"}],"
               "\"members\":[",
               kMailchimpKey, kListId);
  for (std::uint64_t i = 0; i < n; i += 2) {
    std::fprintf(f,
                 "%s{\"email_address\":\"%s\",\"status\":\"subscribed\","
                 "\"timestamp_opt\":\"2025-06-01T00:00:00+00:00\","
                 "\"last_changed\":\"2025-06-01T00:00:00+00:00\"}",
                 i ? "," : "", email(i).c_str());
  }
  std::fprintf(f,
               "]}]},\"mixpanel\":{\"project_id\":1234567,\"service_accounts\":[{\"username\":"
               "\"concord.mp-service-account\",\"secret\":\"%s\"}],\"limits\":{"
               "\"queries_per_hour\":0,\"page_size\":1000,\"session_ttl_seconds\":86400},"
               "\"cohorts\":[{\"id\":%d,\"name\":\"Power users\",\"members\":[",
               kSecret, kCohortId);
  for (std::uint64_t i = 0; i < n; ++i)
    std::fprintf(f, "%s\"%s\"", i ? "," : "", distinct_id(i).c_str());
  std::fprintf(f, "]}],\"profiles\":[");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::fprintf(f, "%s{\"$distinct_id\":\"%s\",\"$properties\":{\"$email\":\"%s\"}}", i ? "," : "",
                 distinct_id(i).c_str(), email(i).c_str());
  }
  std::fprintf(f, "]}}\n");
  std::fclose(f);
}

ConcordRun sync(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"sync", "--json"});
  ConcordRun run = run_concord(dir, args,
                               {std::string("MAILCHIMP_API_KEY=") + kMailchimpKey,
                                std::string("MIXPANEL_SECRET=") + kSecret});
  if (run.code != 0) {
    die("sync: exit " + std::to_string(run.code) + "; see " + run.err.string() + " and " +
        run.out.string());
  }
  if (run.summary.value("failed", std::uint64_t{1}) != 0)
    die("sync: writes failed; see " + run.out.string());
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 1'000'000);
  if (args.members < 2 * kChanges) die("--members must be at least 2000");
  std::filesystem::create_directories(args.dir);
  const std::string seed = args.dir + "/seed.json";
  write_seed(seed, args.members);
  testing::SandboxProcess sandbox(seed);
  std::filesystem::remove(seed);
  const std::string mixpanel_url = sandbox.ready.at("mixpanel_url");
  SandboxAdmin admin(mixpanel_url, sandbox.ca_file());

  // No max_removal_fraction: 1 000 leaving a million-person cohort is 0.1%, under the guard.
  std::ofstream(args.dir + "/concord.toml")
      << "state_dir = \"state\"\n[mailchimp.main]\napi_key_env = \"MAILCHIMP_API_KEY\"\n"
      << "base_url = \"" << sandbox.mailchimp_url() << "\"\nca_file = \"" << sandbox.ca_file()
      << "\"\n[mixpanel.main]\nproject_id = 1234567\n"
      << "service_account = \"concord.mp-service-account\"\nsecret_env = \"MIXPANEL_SECRET\"\n"
      << "base_url = \"" << mixpanel_url << "\"\nca_file = \"" << sandbox.ca_file() << "\"\n"
      << "[[sync]]\nname = \"power-users\"\nmixpanel = \"main\"\ncohort = \"Power users\"\n"
      << "audience = \"Newsletter\"\n";
  const std::string tag_writes =
      "part=mailchimp&method=POST&path_prefix=/3.0/lists/" + std::string(kListId) + "/segments/";

  std::uint64_t mark = admin.log_mark();
  ConcordRun first = sync(args.dir, {});
  if (std::getenv("BENCH_DUMP_LOG") != nullptr) admin.dump_log(mark);
  print("members", args.members);
  print("mailchimp_requests", first.summary.value("mailchimp_requests", std::uint64_t{0}));
  print("tag_write_calls", admin.count_since(mark, tag_writes));
  print("mixpanel_requests", admin.count_since(mark, "part=mixpanel"));
  print("wall_s", first.wall_s);
  print("peak_rss_mb", first.peak_rss_mb, 1);
  print("per_member_calls", args.members);

  // An hour later, 1 000 people spread over the cohort leave it and 1 000 new people (with a
  // profile) join it.
  admin.advance_clock(3600);
  json leave = json::array(), join = json::array(), profiles = json::array();
  const std::uint64_t step = args.members / kChanges;
  for (std::uint64_t k = 0; k < kChanges; ++k) {
    leave.push_back(distinct_id(k * step + 1));
    const std::uint64_t i = args.members + k;
    join.push_back(distinct_id(i));
    profiles.push_back({{"$distinct_id", distinct_id(i)}, {"$set", {{"$email", email(i)}}}});
  }
  admin.call("POST", "/_sandbox/mixpanel/profiles", profiles.dump());
  admin.call("POST", "/_sandbox/mixpanel/cohorts/" + std::to_string(kCohortId) + "/members",
             json{{"add", join}, {"remove", leave}}.dump());
  admin.advance_clock(60);
  first = {};
  leave = join = profiles = nullptr;
  malloc_trim(0);

  mark = admin.log_mark();
  // Below 10 000 members the 1 000 changes pass the guards' shares (10% removed, 25% added):
  // small runs, made while working on this benchmark, lift them.
  std::vector<std::string> lift;
  if (args.members < 10 * kChanges) lift = {"--allow-mass-removal", "--allow-mass-addition"};
  ConcordRun second = sync(args.dir, lift);
  if (std::getenv("BENCH_DUMP_LOG") != nullptr) admin.dump_log(mark);
  print("incremental_mailchimp_requests",
        second.summary.value("mailchimp_requests", std::uint64_t{0}));
  print("incremental_tag_write_calls", admin.count_since(mark, tag_writes));
  print("incremental_wall_s", second.wall_s);
  print("incremental_peak_rss_mb", second.peak_rss_mb, 1);
  return 0;
}
