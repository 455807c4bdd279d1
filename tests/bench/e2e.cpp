// scripts/bench e2e: an initial migration of two populated lists through concord-sandbox with
// 20 ms of latency per API request, then an incremental run after 100 changes on each side.
//
// Prints (name: value): members per side, the migration's wall time, Mailchimp writes and
// Mailchimp write calls (goal ≤ ⌈writes/500⌉ + 10), the peak RSS of the concord process, then the
// incremental run's wall time and the Mailchimp member pages it fetched.
//
// Needs CONCORD_BIN, CONCORD_SANDBOX_BIN and CONCORD_SOURCE_ROOT (scripts/bench sets them).
#include <sys/resource.h>

#include <cmath>

#include "bench_util.h"
#include "e2e_harness.h"

using namespace concord;
using namespace concord::testing;
using nlohmann::json;

namespace {

double children_peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

std::uint64_t count(const std::vector<json>& requests, const std::string& part, bool writes,
                    const std::string& path_part = "") {
  std::uint64_t n = 0;
  for (const json& r : requests) {
    if (r.value("part", "") != part) continue;
    if (Sandbox::is_write(r) != writes) continue;
    if (!path_part.empty() && r.value("path", "").find(path_part) == std::string::npos) continue;
    ++n;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 100000);
  std::filesystem::create_directories(args.dir);
  // scripts/bench writes the seed first, so that this process's children are only concord runs
  // (their peak RSS is what peak_rss_mb reports).
  const std::string seed_file = args.dir + "/seed.json";
  if (!std::filesystem::exists(seed_file)) {
    Command gen =
        run_process({std::getenv("CONCORD_SANDBOX_BIN"), "--generate-seed", seed_file, "--members",
                     std::to_string(args.members), "--overlap", "0.5", "--disagree", "0.1",
                     "--base", source_root() + "/fixtures/sandbox-seed.json"},
                    {}, args.dir);
    if (gen.code != 0) bench::die("generating the seed: " + gen.text());
  }
  const json seed = json::parse(read_file(seed_file));
  Sandbox sandbox;
  sandbox.reset(seed);
  Workdir work(sandbox);
  bench::print("members_per_side", args.members);
  sandbox.faults("mailchimp", {{"latency_ms", 20}});
  sandbox.faults("civicrm", {{"latency_ms", 20}});

  std::uint64_t mark = sandbox.log_mark();
  bench::Timer t;
  Command first = work.concord({"sync", "--allow-mass-removal", "--json"});
  const double wall = t.seconds();
  if (first.code != 0 && first.code != 4) bench::die("first sync: " + first.text());
  json r = first.json();
  const json& c = r["counts"];
  const std::uint64_t writes = c["add_to_mailchimp"].get<std::uint64_t>() +
                               c["pending_in_mailchimp"].get<std::uint64_t>() +
                               c["unsubscribe_in_mailchimp"].get<std::uint64_t>() +
                               c["archive_in_mailchimp"].get<std::uint64_t>();
  std::vector<json> log = sandbox.requests_since(mark);
  bench::print("migration_wall_s", wall);
  bench::print("migration_operations", r["applied"].get<std::uint64_t>());
  bench::print("mailchimp_writes", writes);
  bench::print("mailchimp_write_calls", count(log, "mailchimp", true));
  bench::print("mailchimp_write_calls_goal",
               static_cast<std::uint64_t>(std::ceil(static_cast<double>(writes) / 500.0)) + 10);
  bench::print("mailchimp_get_calls", count(log, "mailchimp", false));
  bench::print("crm_write_calls", count(log, "civicrm", true));
  bench::print("crm_get_calls", count(log, "civicrm", false));
  bench::print("peak_rss_mb", children_peak_rss_mb(), 1);

  // 100 changes on each side, made as people would, an hour later.
  sandbox.clear_faults();
  sandbox.advance_clock(3600);
  // Members picked from the seed (the sandbox's whole state is too large to read back here).
  SideState state(seed);
  int mc_changes = 0, crm_changes = 0;
  for (const json& m : state.list()["members"]) {
    if (mc_changes == 100) break;
    if (m.value("status", "") != "subscribed") continue;
    sandbox.member_hook({{"email_address", m["email_address"]}, {"action", "unsubscribe"}});
    ++mc_changes;
  }
  std::set<int> in_group;
  for (const json& gc : state.civicrm()["group_contacts"]) {
    if (gc["group_id"] == 42 && gc.value("status", "Added") == "Added") {
      in_group.insert(gc["contact_id"].get<int>());
    }
  }
  for (int id : in_group) {
    if (crm_changes == 100) break;
    sandbox.set_group_status(id, "Removed");
    ++crm_changes;
  }
  sandbox.advance_clock(60);
  sandbox.faults("mailchimp", {{"latency_ms", 20}});
  sandbox.faults("civicrm", {{"latency_ms", 20}});

  mark = sandbox.log_mark();
  bench::Timer t2;
  Command second = work.concord({"sync", "--allow-mass-removal", "--json"});
  const double wall2 = t2.seconds();
  if (second.code != 0 && second.code != 4) bench::die("second sync: " + second.text());
  log = sandbox.requests_since(mark);
  bench::print("incremental_changes_per_side", static_cast<std::uint64_t>(mc_changes));
  bench::print("incremental_wall_s", wall2);
  bench::print("incremental_operations", second.json()["applied"].get<std::uint64_t>());
  bench::print("mailchimp_get_pages", count(log, "mailchimp", false, "/members"));
  bench::print("incremental_mailchimp_write_calls", count(log, "mailchimp", true));
  bench::print("incremental_crm_calls", count(log, "civicrm", true) + count(log, "civicrm", false));
  return 0;
}
