// scripts/bench e2e: an initial migration of two populated lists through concord-sandbox with
// 20 ms of latency per API request, then an incremental run after 100 changes on each side.
//
// Prints (name: value): members per side; the migration run once without --json (its wall time
// and concord's peak RSS), then, from the seed again, with --json: its wall time
// (migration_wall_s), concord's and the sandbox's CPU during it (concord_cpu_s, sandbox_cpu_s),
// request_floor_s (each side's requests × latency ÷ its connections, the larger side), floor_s
// (the larger of that and both CPUs ÷ cores) and wall_over_floor; Mailchimp writes and write calls
// (goal ≤ ⌈writes/500⌉ + 10), concord's peak RSS (peak_rss_mb); then the incremental run's wall
// time and the Mailchimp member pages it fetched.
// BENCH_LATENCY_MS sets the latency per request (default 20; 0 for the 1M runs); BENCH_SKIP_PLAIN
// skips the run without --json; BENCH_CALLS prints on stderr where the migration's requests went
// and its plan's counts; BENCH_LOG=<file> writes its requests there, one JSON line each.
//
// Needs CONCORD_BIN, CONCORD_SANDBOX_BIN and CONCORD_SOURCE_ROOT (scripts/bench sets them).
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "bench_util.h"
#include "concord/parse.h"
#include "e2e_harness.h"

using namespace concord;
using namespace concord::testing;
using nlohmann::json;

namespace {

struct Run {
  int code = -1;
  std::string out;
  double peak_rss_mb = 0;  // VmHWM of the concord process, read until it exits
  double wall_s = 0;
  double cpu_s = 0;  // concord's user + system CPU (wait4)
};

// A process's user + system CPU time so far, from /proc/PID/stat (0 when it cannot be read).
double process_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // The fields after the command name (which may hold spaces, inside parentheses): utime and
  // stime are the 14th and 15th of the line, the 12th and 13th after ')'.
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i >= 12) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Runs `concord ARGS` in the work directory, watching its peak RSS (VmHWM) in /proc.
Run run_concord(const Workdir& work, const std::vector<std::string>& args) {
  const std::filesystem::path out_file = work.dir() / "bench-out.json";
  const int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // concord's stderr is kept beside its output: a failed run says why there.
  const std::filesystem::path err_file = work.dir() / "bench-err.txt";
  const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  bench::Timer t;
  const pid_t pid = spawn_concord(work.dir(), args, {}, err, fd);
  close(fd);
  close(err);
  Run r;
  const std::string proc = "/proc/" + std::to_string(pid);
  // Until the child has exec'd concord, its memory is a copy of this process's (fork), and its
  // VmHWM is this process's: only readings taken after the exec are concord's.
  const std::filesystem::path binary = std::filesystem::canonical(std::getenv("CONCORD_BIN"));
  bool execed = false;
  while (true) {
    if (!execed) {
      std::error_code ec;
      execed = std::filesystem::read_symlink(proc + "/exe", ec) == binary;
    }
    std::ifstream in(proc + "/status");
    for (std::string line; execed && std::getline(in, line);) {
      if (line.rfind("VmHWM:", 0) == 0) {
        r.peak_rss_mb = std::max(r.peak_rss_mb, std::strtod(line.c_str() + 6, nullptr) / 1024.0);
      }
    }
    int st = 0;
    rusage ru{};
    if (wait4(pid, &st, WNOHANG, &ru) == pid) {
      r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
      r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.wall_s = t.seconds();
  r.out = read_file(out_file);
  return r;
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
  // The members to change after the migration, picked from the seed; the seed is freed before
  // concord runs (a forked child's peak RSS includes what this process held when it forked).
  std::vector<std::string> to_unsubscribe;
  std::vector<int> to_remove;
  Sandbox sandbox;
  {
    json seed = json::parse(read_file(seed_file));
    sandbox.reset(seed);
    for (const json& m : seed["mailchimp"]["lists"][0]["members"]) {
      if (to_unsubscribe.size() < 100 && m.value("status", "") == "subscribed") {
        to_unsubscribe.push_back(m["email_address"]);
      }
    }
    std::map<int, std::string> last;  // contact → its latest status in the group
    for (const json& h : seed["civicrm"]["subscription_history"]) {
      if (h.value("group_id", 0) == 42) last[h["contact_id"].get<int>()] = h.value("status", "");
    }
    for (const auto& [id, status] : last) {
      if (to_remove.size() < 100 && status == "Added") to_remove.push_back(id);
    }
  }
  malloc_trim(0);
  const char* latency_env = std::getenv("BENCH_LATENCY_MS");
  const std::int64_t latency_ms = latency_env != nullptr ? parse_int64(latency_env).value() : 20;
  bench::print("members_per_side", args.members);
  bench::print("latency_ms", static_cast<std::uint64_t>(latency_ms));
  if (std::getenv("BENCH_SKIP_PLAIN") == nullptr) {
    // The same migration without --json first, for its peak RSS: what concord holds apart from
    // the JSON output (both must stay under the memory goal). Then the sandbox starts again from
    // the seed, and the measured migration below runs in a fresh state directory.
    Workdir plain(sandbox);
    sandbox.faults("mailchimp", {{"latency_ms", latency_ms}});
    sandbox.faults("civicrm", {{"latency_ms", latency_ms}});
    Run run = run_concord(plain, {"sync", "--allow-mass-removal"});
    if (run.code != 0 && run.code != 4) {
      bench::die("sync without --json: exit " + std::to_string(run.code));
    }
    bench::print("migration_without_json_wall_s", run.wall_s);
    bench::print("peak_rss_mb_without_json", run.peak_rss_mb, 1);
    json seed = json::parse(read_file(seed_file));
    sandbox.reset(seed);
  }
  malloc_trim(0);
  Workdir work(sandbox);
  sandbox.faults("mailchimp", {{"latency_ms", latency_ms}});
  sandbox.faults("civicrm", {{"latency_ms", latency_ms}});

  std::uint64_t mark = sandbox.log_mark();
  const double sandbox_cpu_before = process_cpu_s(sandbox.pid());
  Run first = run_concord(work, {"sync", "--allow-mass-removal", "--json"});
  const double sandbox_cpu = process_cpu_s(sandbox.pid()) - sandbox_cpu_before;
  if (first.code != 0 && first.code != 4)
    bench::die("first sync: exit " + std::to_string(first.code));
  bench::print("migration_wall_s", first.wall_s);
  bench::print("peak_rss_mb", first.peak_rss_mb, 1);  // the migration with --json
  bench::print("concord_cpu_s", first.cpu_s);
  bench::print("sandbox_cpu_s", sandbox_cpu);
  const json r = json::parse(first.out).at(0);  // the one pair's object
  const json& c = r["counts"];
  const std::uint64_t writes = c["add_to_mailchimp"].get<std::uint64_t>() +
                               c["pending_in_mailchimp"].get<std::uint64_t>() +
                               c["unsubscribe_in_mailchimp"].get<std::uint64_t>() +
                               c["archive_in_mailchimp"].get<std::uint64_t>();
  std::vector<json> log = sandbox.requests_since(mark);
  bench::print("migration_operations", r["applied"].get<std::uint64_t>());
  bench::print("mailchimp_writes", writes);
  bench::print("mailchimp_write_calls", count(log, "mailchimp", true));
  bench::print("mailchimp_write_calls_goal",
               static_cast<std::uint64_t>(std::ceil(static_cast<double>(writes) / 500.0)) + 10);
  if (count(log, "mailchimp", true) >
      static_cast<std::uint64_t>(std::ceil(static_cast<double>(writes) / 500.0)) + 10) {
    // Over the goal: where the write calls went, on stderr (method and path, ids as '*').
    std::map<std::string, std::uint64_t> by;
    for (const json& q : log) {
      if (q.value("part", "") != "mailchimp" || !Sandbox::is_write(q)) continue;
      std::string path = q.value("path", "");
      if (path.size() > 40) path = path.substr(0, path.find('/', 20)) + "/…";
      ++by[q.value("method", "") + " " + path];
    }
    for (const auto& [what, n] : by)
      std::fprintf(stderr, "mailchimp write calls: %6llu %s\n", static_cast<unsigned long long>(n),
                   what.c_str());
  }
  if (std::getenv("BENCH_CALLS") != nullptr) {
    // Where the migration's requests went (method and the path's start), and its plan's counts.
    std::map<std::string, std::pair<std::uint64_t, double>> by;  // calls, milliseconds answering
    for (const json& q : log) {
      auto& [n, ms] = by[q.value("part", "") + " " + q.value("method", "") + " " +
                         q.value("path", "").substr(0, 40)];
      ++n;
      ms += q.value("ms", 0.0);
    }
    for (const auto& [what, n_ms] : by) {
      std::fprintf(stderr, "calls: %6llu %8.0f ms %s\n",
                   static_cast<unsigned long long>(n_ms.first), n_ms.second, what.c_str());
    }
    std::fprintf(stderr, "counts: %s\n", c.dump().c_str());
  }
  if (const char* to = std::getenv("BENCH_LOG"); to != nullptr) {
    // The migration's requests, one JSON line each without its body, for a timeline of the
    // connections (arrival `at`, milliseconds answering `ms`).
    std::ofstream out(to);
    for (json q : log) {
      q.erase("body");
      out << q.dump() << '\n';
    }
  }
  bench::print("mailchimp_get_calls", count(log, "mailchimp", false));
  bench::print("crm_write_calls", count(log, "civicrm", true));
  bench::print("crm_get_calls", count(log, "civicrm", false));
  // The migration's floor: the requests each side needs, sent within its connection budget
  // (Mailchimp: max_connections, 10 by default; CiviCRM: 4, issue 18's budget), at the latency
  // each one waits; or the CPU both processes need on this machine's cores, whichever is larger.
  const double mailchimp_requests =
      static_cast<double>(count(log, "mailchimp", true) + count(log, "mailchimp", false));
  const double crm_requests =
      static_cast<double>(count(log, "civicrm", true) + count(log, "civicrm", false));
  const double latency_s = static_cast<double>(latency_ms) / 1000.0;
  const double request_floor =
      std::max(mailchimp_requests * latency_s / 10.0, crm_requests * latency_s / 4.0);
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  const double floor = std::max(request_floor, (first.cpu_s + sandbox_cpu) / cores);
  bench::print("request_floor_s", request_floor);
  bench::print("floor_s", floor);
  bench::print("wall_over_floor", first.wall_s / floor);

  // The next run reads back concord's own writes once (they changed the members after the
  // watermark); from then on incremental runs fetch only what people changed.
  // Scheduled runs come at least a few minutes apart.
  sandbox.advance_clock(600);
  mark = sandbox.log_mark();
  Run settle = run_concord(work, {"sync", "--json"});
  if (settle.code != 0 && settle.code != 4) {
    bench::die("settling sync failed: exit " + std::to_string(settle.code) + ": " +
               read_file(work.dir() / "bench-err.txt") +
               read_file(work.dir() / "bench-out.json").substr(0, 2000));
  }
  log = sandbox.requests_since(mark);
  bench::print("settle_wall_s", settle.wall_s);
  bench::print("settle_mailchimp_get_pages", count(log, "mailchimp", false, "/members"));
  bench::print("settle_peak_rss_mb", settle.peak_rss_mb, 1);

  // 100 changes on each side, made as people would, an hour later.
  sandbox.clear_faults();
  sandbox.advance_clock(3600);
  for (const std::string& email : to_unsubscribe) {
    sandbox.member_hook({{"email_address", email}, {"action", "unsubscribe"}});
  }
  for (int id : to_remove)
    sandbox.set_group_status(id, "Removed");
  sandbox.advance_clock(60);
  sandbox.faults("mailchimp", {{"latency_ms", latency_ms}});
  sandbox.faults("civicrm", {{"latency_ms", latency_ms}});

  mark = sandbox.log_mark();
  Run second = run_concord(work, {"sync", "--allow-mass-removal", "--json"});
  if (second.code != 0 && second.code != 4) bench::die("incremental sync failed");
  log = sandbox.requests_since(mark);
  bench::print("incremental_changes_mailchimp", static_cast<std::uint64_t>(to_unsubscribe.size()));
  bench::print("incremental_changes_crm", static_cast<std::uint64_t>(to_remove.size()));
  bench::print("incremental_wall_s", second.wall_s);
  bench::print("incremental_operations",
               json::parse(second.out).at(0).value("applied", std::uint64_t{0}));
  bench::print("mailchimp_get_pages", count(log, "mailchimp", false, "/members"));
  bench::print("incremental_mailchimp_write_calls", count(log, "mailchimp", true));
  bench::print("incremental_crm_calls", count(log, "civicrm", true) + count(log, "civicrm", false));
  bench::print("incremental_peak_rss_mb", second.peak_rss_mb, 1);
  return 0;
}
