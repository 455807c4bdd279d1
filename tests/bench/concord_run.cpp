#include "concord_run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "bench_util.h"

namespace concord::bench {

using nlohmann::json;

pid_t spawn_concord(const std::filesystem::path& dir, const std::vector<std::string>& args,
                    const std::vector<std::string>& env, const std::filesystem::path& out_file,
                    const std::filesystem::path& err_file) {
  const char* bin = std::getenv("CONCORD_BIN");
  if (bin == nullptr) die("CONCORD_BIN is not set");
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> envv = env;
  envv.push_back("PATH=/usr/bin:/bin");
  // Built before the fork: the child only calls async-signal-safe functions.
  std::vector<char*> a, e;
  for (std::string& s : argv)
    a.push_back(s.data());
  a.push_back(nullptr);
  for (std::string& s : envv)
    e.push_back(s.data());
  e.push_back(nullptr);
  const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err =
      err_file == out_file ? out : open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (out < 0 || err < 0) die("cannot write in " + dir.string());
  const pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    // A benchmark that dies (die() does not unwind) takes its daemons with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (chdir(dir.c_str()) != 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  close(out);
  if (err != out) close(err);
  return pid;
}

ConcordRun run_concord(const std::filesystem::path& dir, const std::vector<std::string>& args,
                       const std::vector<std::string>& env) {
  ConcordRun r;
  r.out = dir / "bench-out.json";
  r.err = dir / "bench-err.txt";
  Timer t;
  const pid_t pid = spawn_concord(dir, args, env, r.out, r.err);
  int st = 0;
  rusage ru{};
  if (wait4(pid, &st, 0, &ru) != pid) die("wait4 failed");
  r.wall_s = t.seconds();
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
  // The lists (one entry per operation: a million for the cohort) are skipped while parsing, so
  // that this process stays small for the next run's fork. The output is an array of one object
  // per pair (depth 1); the lists are that object's members (depth 2).
  std::ifstream in(r.out);
  json all = json::parse(
      in,
      [](int depth, json::parse_event_t event, json& parsed) {
        return !(event == json::parse_event_t::key && depth == 2 &&
                 (parsed == "operations" || parsed == "report"));
      },
      false);
  if (all.is_array() && all.size() == 1) r.summary = std::move(all[0]);
  return r;
}

SandboxAdmin::SandboxAdmin(const std::string& url, const std::string& ca_file) {
  Result<http::Url> u = http::Url::parse(url);
  if (!u) die(u.status().to_string());
  http::ClientOptions o;
  o.ca_file = ca_file;
  o.retry.max_attempts = 1;  // admin routes are never faulted; a change must not be repeated
  o.max_body_bytes = std::size_t{1} << 30;
  auto c = http::Client::create(*u, o);
  if (!c) die(c.status().to_string());
  client_ = std::move(*c);
}

json SandboxAdmin::call(const std::string& method, const std::string& target,
                        const std::string& body) {
  http::Request r;
  r.method = method;
  r.target = target;
  if (!body.empty()) {
    r.body = body;
    r.headers.push_back({"Content-Type", "application/json"});
  }
  Result<http::Response> resp = client_->send(r);
  if (!resp) die(method + " " + target + ": " + resp.status().to_string());
  if (resp->status >= 300) {
    die(method + " " + target + ": " + std::to_string(resp->status) + " " +
        resp->body.substr(0, 500));
  }
  return resp->body.empty() ? json() : json::parse(resp->body);
}

void SandboxAdmin::advance_clock(int seconds) {
  call("POST", "/_sandbox/clock", json{{"advance_seconds", seconds}}.dump());
}

std::uint64_t SandboxAdmin::log_mark() {
  return call("GET", "/_sandbox/requests?limit=0").value("next_seq", std::uint64_t{0});
}

std::uint64_t SandboxAdmin::count_since(std::uint64_t mark, const std::string& filter) {
  return call("GET",
              "/_sandbox/requests?count_only=true&since=" + std::to_string(mark) + "&" + filter)
      .value("count", std::uint64_t{0});
}

void SandboxAdmin::dump_log(std::uint64_t mark) {
  std::map<std::string, std::uint64_t> calls;
  for (std::uint64_t since = mark;;) {
    json page = call("GET", "/_sandbox/requests?limit=10000&since=" + std::to_string(since));
    for (const json& r : page["requests"]) {
      const std::string path = r.value("path", "");
      std::istringstream segments(path.substr(0, path.find('?')));
      std::string shape;
      for (std::string seg; std::getline(segments, seg, '/');) {
        if (seg.empty()) continue;
        shape += "/" + (seg.find_first_of("0123456789") == std::string::npos ? seg : "*");
      }
      ++calls[r.value("part", "") + " " + r.value("method", "") + " " +
              std::to_string(r.value("status", 0)) + " " + shape];
    }
    if (!page.value("more", false) || page["requests"].empty()) break;
    since = page.value("next_seq", since);
  }
  for (const auto& [what, n] : calls)
    std::fprintf(stderr, "  %8llu  %s\n", static_cast<unsigned long long>(n), what.c_str());
}

}  // namespace concord::bench
