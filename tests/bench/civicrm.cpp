// civicrm: a 1M-contact group in concord-sandbox (over TLS) read into the CRM snapshot.
//
// Prints civicrm_members_per_s (of wall time), civicrm_members_per_concord_cpu_s (of this process's
// CPU: the client and the snapshot stage, concord's share; the sandbox is another process),
// requests, peak_rss_mb (this process: client and store).
#include <cstdio>
#include <filesystem>

#include "bench_util.h"
#include "concord/civicrm_client.h"
#include "concord/snapshot.h"
#include "sandbox_process.h"

using namespace concord;
using namespace concord::bench;

namespace {

// Streamed to a file so that this process never holds it.
void write_seed(const std::string& path, std::uint64_t n) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) die("cannot write " + path);
  std::fprintf(f,
               "{\"civicrm\":{\"api_key\":\"bench-key\",\"site_key\":\"bench-site\","
               "\"timezone\":\"Europe/London\",\"groups\":[{\"id\":42,\"name\":\"newsletter\","
               "\"title\":\"Newsletter\"}],\"contacts\":[");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::fprintf(f,
                 "%s{\"id\":%llu,\"first_name\":\"Person\",\"last_name\":\"Number %llu\","
                 "\"is_deleted\":false,\"do_not_email\":%s,\"is_opt_out\":false,\"emails\":["
                 "{\"email\":\"person.%llu@bedrock.org\",\"is_primary\":true,\"is_bulkmail\":false,"
                 "\"on_hold\":0}]}",
                 i ? "," : "", static_cast<unsigned long long>(i + 1),
                 static_cast<unsigned long long>(i), i % 50 == 0 ? "true" : "false",
                 static_cast<unsigned long long>(i));
  }
  std::fprintf(f, "],\"subscription_history\":[");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::fprintf(f,
                 "%s{\"contact_id\":%llu,\"group_id\":42,\"status\":\"%s\",\"date\":\"2026-%02llu-"
                 "%02llu 10:00:00\",\"method\":\"Admin\"}",
                 i ? "," : "", static_cast<unsigned long long>(i + 1),
                 i % 10 == 0 ? "Removed" : "Added", static_cast<unsigned long long>(1 + i % 12),
                 static_cast<unsigned long long>(1 + i % 28));
  }
  std::fprintf(f, "]}}\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 1'000'000);
  std::filesystem::create_directories(args.dir);
  const std::string seed = args.dir + "/seed.json";
  write_seed(seed, args.members);
  Timer start;
  testing::SandboxProcess sandbox(seed);
  print("sandbox_start_s", start.seconds());
  std::filesystem::remove(seed);

  std::unique_ptr<Store> store = fresh_store(args.dir + "/store");
  const PairHandle& pair = *store->pair("bench").value();
  CiviCrmOptions o;
  o.url = sandbox.ready.at("civicrm_url");
  o.api_key = "bench-key";
  o.site_key = "bench-site";
  o.timezone = "Europe/London";
  o.http.ca_file = sandbox.ca_file();
  auto client = CiviCrmClient::create(o);
  if (!client) die(client.status().to_string());

  Timer t;
  const double cpu_before = cpu_seconds();
  auto stats = fetch_crm(**client, 42, true, *store, pair);
  const double s = t.seconds();
  const double cpu = cpu_seconds() - cpu_before;
  if (!stats) die(stats.status().to_string());
  print("members", stats->written);
  print("civicrm_s", s);
  print("civicrm_members_per_s", static_cast<double>(stats->written) / s, 0);
  print("concord_cpu_s", cpu);
  print("civicrm_members_per_concord_cpu_s", static_cast<double>(stats->written) / cpu, 0);
  print("requests", (*client)->requests());
  print("peak_rss_mb", peak_rss_mb(), 1);
  return 0;
}
