// End-to-end harness: the real `concord` binary (CONCORD_BIN) run with fork/exec against the real
// concord-sandbox binary (CONCORD_SANDBOX_BIN) over TLS, the way a user runs them.
//
//   Sandbox      one concord-sandbox process, its admin routes (reset, state, clock, faults,
//                member hooks, request log) and CiviCRM's APIv4 as a CRM user would call it.
//   Workdir      a temporary directory holding concord.toml (pointing at a Sandbox) and the state
//                directory; runs `concord` there with the sandbox's keys in the environment.
//   Command      what a run printed and its exit status.
//
// Nothing here reads concord's store: tests look at the two sides through the sandbox.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "concord/email.h"
#include "concord/http.h"
#include "sandbox_process.h"

namespace concord::testing {

// The keys of fixtures/sandbox-seed.json.
inline constexpr const char* kMailchimpKey = "0123456789abcdef0123456789abcdef-us6";
inline constexpr const char* kCivicrmKey = "bedrock-api-key-0123456789abcdef";
inline constexpr const char* kSiteKey = "bedrock-site-key-0123456789abcdef";
// The sandbox clock every test starts from (the fixture's dates are in January and February).
inline constexpr const char* kStartClock = "2026-03-01T09:00:00+00:00";

inline std::string source_root() {
  const char* r = std::getenv("CONCORD_SOURCE_ROOT");
  if (r == nullptr) throw std::runtime_error("CONCORD_SOURCE_ROOT is not set");
  return r;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// fixtures/sandbox-seed.json with the sandbox clock fixed at kStartClock.
inline nlohmann::json fixture_seed() {
  nlohmann::json seed = nlohmann::json::parse(
      read_file(std::filesystem::path(source_root()) / "fixtures" / "sandbox-seed.json"));
  seed["clock"] = kStartClock;
  return seed;
}

struct Command {
  int code = -1;  // exit status; 128 + N when killed by signal N
  std::string out;
  std::string err;
  std::string text() const { return "exit " + std::to_string(code) + "\n" + out + err; }
  nlohmann::json json() const { return nlohmann::json::parse(out); }
  // `plan --json` / `sync --json` of one pair: the array's only object.
  nlohmann::json pair_json() const {
    nlohmann::json all = json();
    if (!all.is_array() || all.size() != 1) {
      throw std::runtime_error("expected an array of one pair, got: " + out.substr(0, 200));
    }
    return all[0];
  }
};

// The sanitizers' settings of this test's environment ("NAME=value"), for the programs it starts
// with an environment of its own: under `scripts/test --sanitize` they say that any report fails
// the program (UBSan's default is to print and go on) and that leaks are not looked for.
inline std::vector<std::string> sanitizer_env() {
  std::vector<std::string> out;
  for (const char* name :
       {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "ASAN_SYMBOLIZER_PATH"}) {
    if (const char* v = std::getenv(name)) out.push_back(std::string(name) + "=" + v);
  }
  return out;
}

// Runs argv[0] with `argv`, exactly the environment `env` ("NAME=value") and the sanitizers'
// settings (sanitizer_env()), in `cwd`; captures stdout and stderr. Kills the process after
// `timeout`.
inline Command run_process(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const std::filesystem::path& cwd,
                           std::chrono::seconds timeout = std::chrono::seconds(300)) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      close(fd);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> a, e;
    for (const std::string& s : argv)
      a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    const std::vector<std::string> sanitizers = sanitizer_env();
    for (const std::vector<std::string>* list : {&env, &sanitizers}) {
      for (const std::string& s : *list)
        e.push_back(const_cast<char*>(s.c_str()));
    }
    e.push_back(nullptr);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  Command c;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&c.out, &c.err};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (poll(fds, 2, 200) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int st = 0;
  waitpid(pid, &st, 0);
  c.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return c;
}

// One concord-sandbox for a whole test binary (tests reset it to their seed).
// Starts `concord ARGS` in `dir` with the sandbox's keys (and `extra_env` "K=V" entries), its
// stderr and stdout to `stderr_fd` and `stdout_fd` (-1: /dev/null); returns its pid.
inline pid_t spawn_concord(const std::filesystem::path& dir, const std::vector<std::string>& args,
                           const std::vector<std::string>& extra_env = {}, int stderr_fd = -1,
                           int stdout_fd = -1) {
  std::vector<std::string> argv = {std::getenv("CONCORD_BIN")};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = {std::string("MAILCHIMP_API_KEY=") + kMailchimpKey,
                                  std::string("CIVICRM_API_KEY=") + kCivicrmKey,
                                  std::string("CIVICRM_SITE_KEY=") + kSiteKey,
                                  "PATH=/usr/bin:/bin"};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  for (std::string& s : sanitizer_env())
    env.push_back(std::move(s));
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    int null = open("/dev/null", O_WRONLY);
    dup2(stdout_fd >= 0 ? stdout_fd : null, STDOUT_FILENO);
    dup2(stderr_fd >= 0 ? stderr_fd : null, STDERR_FILENO);
    std::vector<char*> a, e;
    for (auto& s : argv)
      a.push_back(s.data());
    a.push_back(nullptr);
    for (auto& s : env)
      e.push_back(s.data());
    e.push_back(nullptr);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  return pid;
}

// The operations a `plan --json` / `sync --json` printed for one address (copies: safe in a
// range-for).
inline std::vector<nlohmann::json> ops_for(const nlohmann::json& run, const std::string& email) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& op : run["operations"]) {
    if (op["email"] == email) out.push_back(op);
  }
  return out;
}

// A generated pair of populated lists (`concord-sandbox --generate-seed`) over the fixture's
// base: about `members` members per side, overlapping, some disagreeing.
inline nlohmann::json generated_seed(int members) {
  static int n = 0;
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("concord-seed-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".json");
  Command gen = run_process(
      {std::getenv("CONCORD_SANDBOX_BIN"), "--generate-seed", file.string(), "--members",
       std::to_string(members), "--base", source_root() + "/fixtures/sandbox-seed.json"},
      {}, std::filesystem::temp_directory_path());
  if (gen.code != 0) throw std::runtime_error("concord-sandbox --generate-seed: " + gen.text());
  nlohmann::json seed = nlohmann::json::parse(read_file(file));
  std::filesystem::remove(file);
  return seed;
}

class Sandbox {
 public:
  Sandbox() : process_() {
    http::ClientOptions o;
    o.ca_file = process_.ca_file();
    o.retry.max_attempts = 1;  // admin routes are never faulted; an API call here must not repeat
    admin_ = std::move(http::Client::create(http::Url::parse(civicrm_url()).value(), o).value());
    mailchimp_ =
        std::move(http::Client::create(http::Url::parse(mailchimp_url()).value(), o).value());
  }

  std::string mailchimp_url() const { return process_.mailchimp_url(); }
  std::string civicrm_url() const { return process_.ready.at("civicrm_url"); }
  // Another part's URL from the ready line ("auth0_url", "mixpanel_url", "amplitude_url").
  std::string url_of(const std::string& key) const { return process_.ready.at(key); }
  std::string ca_file() const { return process_.ca_file(); }
  // The sandbox process (benchmarks read its CPU time in /proc).
  pid_t pid() const { return process_.pid(); }

  // An admin route; throws unless the answer is 2xx.
  nlohmann::json admin(const std::string& method, const std::string& target,
                       const nlohmann::json& body = nullptr) {
    http::Request r;
    r.method = method;
    r.target = target;
    if (!body.is_null()) {
      r.body = body.dump();
      r.headers.push_back({"Content-Type", "application/json"});
    }
    Result<http::Response> resp = admin_->send(r);
    if (!resp) throw std::runtime_error(target + ": " + resp.status().to_string());
    if (resp->status >= 300) {
      throw std::runtime_error(method + " " + target + ": " + std::to_string(resp->status) + " " +
                               resp->body);
    }
    return resp->body.empty() ? nlohmann::json() : nlohmann::json::parse(resp->body);
  }

  // Replaces both parts (clears faults); the clock starts at the seed's "clock".
  void reset(const nlohmann::json& seed) { admin("POST", "/_sandbox/reset", seed); }
  nlohmann::json state() { return admin("GET", "/_sandbox/state"); }
  void advance_clock(int seconds) {
    admin("POST", "/_sandbox/clock", {{"advance_seconds", seconds}});
  }
  void faults(const std::string& part, const nlohmann::json& f) {
    nlohmann::json body = f;
    body["part"] = part;
    admin("POST", "/_sandbox/faults?part=" + part, body);
  }
  void clear_faults() {
    faults("mailchimp", nlohmann::json::object());
    faults("civicrm", nlohmann::json::object());
  }
  // What a person does in Mailchimp's pages (docs/sandbox.md "Member hooks").
  nlohmann::json member_hook(const nlohmann::json& body) {
    return admin("POST", "/_sandbox/mailchimp/members", body);
  }

  // The request log (GET /_sandbox/requests), if this sandbox has one.
  bool has_request_log() {
    if (!request_log_) {
      http::Request r;
      r.target = "/_sandbox/requests?limit=1";
      Result<http::Response> resp = admin_->send(r);
      request_log_ = resp.is_ok() && resp->status == 200;
    }
    return *request_log_;
  }
  // The seq after which later requests are logged (0 without a log).
  std::uint64_t log_mark() {
    if (!has_request_log()) return 0;
    return admin("GET", "/_sandbox/requests?limit=0").value("next_seq", 0ull);
  }
  // Every API request logged after `mark` (empty without a log).
  std::vector<nlohmann::json> requests_since(std::uint64_t mark) {
    std::vector<nlohmann::json> out;
    if (!has_request_log()) return out;
    std::uint64_t since = mark;
    while (true) {
      nlohmann::json page =
          admin("GET", "/_sandbox/requests?limit=1000&since=" + std::to_string(since));
      for (const nlohmann::json& r : page["requests"])
        out.push_back(r);
      if (!page.value("more", false) || page["requests"].empty()) break;
      since = page.value("next_seq", since);
    }
    return out;
  }
  // Requests that could change something: Mailchimp calls other than GET, CiviCRM calls whose
  // action is not a get.
  static bool is_write(const nlohmann::json& r) {
    const std::string part = r.value("part", "");
    const std::string method = r.value("method", "");
    const std::string path = r.value("path", "");
    if (part == "mailchimp") return method != "GET";
    const std::string action = path.substr(path.rfind('/') + 1);
    return action.rfind("get", 0) != 0;
  }

  // CiviCRM's APIv4 as a CRM user's script calls it; throws unless it succeeds.
  nlohmann::json civicrm(const std::string& entity, const std::string& action,
                         const nlohmann::json& params) {
    http::Request r;
    r.method = "POST";
    r.target = "/civicrm/ajax/api4/" + entity + "/" + action;
    r.headers.push_back({"X-Civi-Auth", std::string("Bearer ") + kCivicrmKey});
    r.headers.push_back({"X-Civi-Key", kSiteKey});
    r.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    r.body = "params=" + http::url_encode(params.dump());
    Result<http::Response> resp = admin_->send(r);
    if (!resp) throw std::runtime_error(entity + "." + action + ": " + resp.status().to_string());
    if (resp->status != 200) {
      throw std::runtime_error(entity + "." + action + ": " + std::to_string(resp->status) + " " +
                               resp->body);
    }
    return nlohmann::json::parse(resp->body);
  }
  // Sets a contact's membership of a group as CiviCRM's UI does (GroupContact.save, which writes a
  // history row dated by the sandbox clock).
  void set_group_status(int contact_id, const std::string& status, int group_id = 42) {
    civicrm(
        "GroupContact", "save",
        {{"records", {{{"group_id", group_id}, {"contact_id", contact_id}, {"status", status}}}},
         {"match", {"group_id", "contact_id"}}});
  }
  // Creates a contact with one (primary) email; returns its id.
  int create_contact(const std::string& first, const std::string& last, const std::string& email) {
    nlohmann::json r = civicrm(
        "Contact", "create",
        {{"values", {{"contact_type", "Individual"}, {"first_name", first}, {"last_name", last}}},
         {"chain",
          {{"email",
            {"Email",
             "create",
             {{"values", {{"contact_id", "$id"}, {"email", email}, {"is_primary", true}}}}}}}}});
    return r["values"][0]["id"].get<int>();
  }

  // Deletes a member permanently, as a person can in Mailchimp (it then lists no trace of it).
  void delete_permanently(const std::string& list_id, const std::string& email) {
    http::Request r;
    r.method = "POST";
    r.target = "/3.0/lists/" + list_id + "/members/" + subscriber_hash(normalise_email(email)) +
               "/actions/delete-permanent";
    r.headers.push_back({"Authorization", std::string("apikey ") + kMailchimpKey});
    Result<http::Response> resp = mailchimp_->send(r);
    if (!resp) throw std::runtime_error("delete-permanent: " + resp.status().to_string());
    if (resp->status != 204) {
      throw std::runtime_error("delete-permanent: " + std::to_string(resp->status) + " " +
                               resp->body);
    }
  }

  // A Marketing API call as a person's script makes it; throws unless the answer is 2xx.
  nlohmann::json mailchimp_api(const std::string& method, const std::string& target,
                               const nlohmann::json& body = nullptr) {
    http::Request r;
    r.method = method;
    r.target = "/3.0" + target;
    r.headers.push_back({"Authorization", std::string("apikey ") + kMailchimpKey});
    if (!body.is_null()) {
      r.body = body.dump();
      r.headers.push_back({"Content-Type", "application/json"});
    }
    Result<http::Response> resp = mailchimp_->send(r);
    if (!resp) throw std::runtime_error(method + " " + target + ": " + resp.status().to_string());
    if (resp->status >= 300) {
      throw std::runtime_error(method + " " + target + ": " + std::to_string(resp->status) + " " +
                               resp->body);
    }
    return resp->body.empty() ? nlohmann::json() : nlohmann::json::parse(resp->body);
  }

  // A Mailchimp member through the Marketing API (nullopt: 404).
  std::optional<nlohmann::json> mailchimp_member(const std::string& list_id,
                                                 const std::string& email) {
    http::Request r;
    r.target = "/3.0/lists/" + list_id + "/members/" + subscriber_hash(normalise_email(email));
    r.headers.push_back({"Authorization", std::string("apikey ") + kMailchimpKey});
    Result<http::Response> resp = mailchimp_->send(r);
    if (!resp) throw std::runtime_error("GET member: " + resp.status().to_string());
    if (resp->status == 404) return std::nullopt;
    if (resp->status != 200) {
      throw std::runtime_error("GET member: " + std::to_string(resp->status) + " " + resp->body);
    }
    return nlohmann::json::parse(resp->body);
  }

 private:
  SandboxProcess process_;
  std::unique_ptr<http::Client> admin_;
  std::unique_ptr<http::Client> mailchimp_;
  std::optional<bool> request_log_;
};

// Views of a /_sandbox/state document.
struct SideState {
  explicit SideState(nlohmann::json s) : doc(std::move(s)) {}
  nlohmann::json doc;

  const nlohmann::json& list(std::size_t i = 0) const { return doc["mailchimp"]["lists"][i]; }
  // The member (seed format) or null.
  nlohmann::json member(const std::string& email) const {
    const std::string e = normalise_email(email);
    for (const nlohmann::json& m : list()["members"]) {
      if (normalise_email(m.value("email_address", "")) == e) return m;
    }
    return nullptr;
  }
  // The member's status, or "absent".
  std::string mc_status(const std::string& email) const {
    nlohmann::json m = member(email);
    return m.is_null() ? "absent" : m.value("status", "subscribed");
  }
  const nlohmann::json& civicrm() const { return doc["civicrm"]; }
  nlohmann::json contact(int id) const {
    for (const nlohmann::json& c : civicrm()["contacts"]) {
      if (c["id"] == id) return c;
    }
    return nullptr;
  }
  // The ids of the contacts (trashed too) with an email equal to `email`, ignoring case.
  std::vector<int> contacts_with(const std::string& email) const {
    std::vector<int> ids;
    const std::string e = normalise_email(email);
    for (const nlohmann::json& c : civicrm()["contacts"]) {
      for (const nlohmann::json& m : c.value("emails", nlohmann::json::array())) {
        if (normalise_email(m.value("email", "")) == e) {
          ids.push_back(c["id"].get<int>());
          break;
        }
      }
    }
    return ids;
  }
  // The contact's membership of a group: "Added", "Removed", "Pending", or "" when it has none.
  std::string group_status(int contact_id, int group_id = 42) const {
    for (const nlohmann::json& gc : civicrm()["group_contacts"]) {
      if (gc["contact_id"] == contact_id && gc["group_id"] == group_id) {
        return gc.value("status", "Added");
      }
    }
    return "";
  }
  // The latest history row of a contact for a group (null when none).
  nlohmann::json latest_history(int contact_id, int group_id = 42) const {
    nlohmann::json last;
    for (const nlohmann::json& r : civicrm()["subscription_history"]) {
      if (r["contact_id"] == contact_id && r["group_id"] == group_id) last = r;
    }
    return last;
  }
  // The on_hold value of a contact's email.
  int on_hold(int contact_id, const std::string& email) const {
    for (const nlohmann::json& m : contact(contact_id).value("emails", nlohmann::json::array())) {
      if (normalise_email(m.value("email", "")) == normalise_email(email)) {
        return m.value("on_hold", 0);
      }
    }
    return -1;
  }

  // What a person sees, keyed by address: "mailchimp <email>" → status, "crm <email>" → the
  // group status of the contacts having that address (sorted, joined), "hold <email>" → on_hold.
  // Contact ids are left out, so that two runs creating the same people compare equal.
  std::map<std::string, std::string> by_email(int group_id = 42) const {
    std::map<std::string, std::string> out;
    for (const nlohmann::json& m : list()["members"]) {
      out["mailchimp " + normalise_email(m.value("email_address", ""))] =
          m.value("status", "subscribed");
    }
    std::map<std::string, std::vector<std::string>> crm;
    for (const nlohmann::json& c : civicrm()["contacts"]) {
      const std::string st = group_status(c["id"].get<int>(), group_id);
      std::set<std::string> seen;  // a contact with one address twice counts once
      for (const nlohmann::json& m : c.value("emails", nlohmann::json::array())) {
        const std::string e = normalise_email(m.value("email", ""));
        if (m.value("on_hold", 0) != 0) out["hold " + e] = std::to_string(m.value("on_hold", 0));
        if (!seen.insert(e).second) continue;
        if (!st.empty()) crm[e].push_back(st + (c.value("is_deleted", false) ? "(trashed)" : ""));
      }
    }
    for (auto& [e, v] : crm) {
      std::sort(v.begin(), v.end());
      std::string s;
      for (const std::string& x : v)
        s += (s.empty() ? "" : ",") + x;
      out["crm " + e] = s;
    }
    return out;
  }
};

// A directory with a concord.toml pointing at `sandbox`, and the state directory under it.
class Workdir {
 public:
  // `sync_extra`: more lines for the [[sync]] table (e.g. `resubscribe = "never"`); `fields`: the
  // sync's field mapping (a TOML inline table).
  explicit Workdir(Sandbox& sandbox, const std::string& sync_extra = "",
                   const std::string& fields = R"({ FNAME = "first_name", LNAME = "last_name" })") {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("concord-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "concord.toml") << config(sandbox, sync_extra, fields);
    const char* bin = std::getenv("CONCORD_BIN");
    if (bin == nullptr) throw std::runtime_error("CONCORD_BIN is not set");
    bin_ = bin;
    env_ = {{"MAILCHIMP_API_KEY", kMailchimpKey},
            {"CIVICRM_API_KEY", kCivicrmKey},
            {"CIVICRM_SITE_KEY", kSiteKey},
            {"PATH", "/usr/bin:/bin"}};
  }
  ~Workdir() {
    std::error_code ec;
    if (std::getenv("CONCORD_E2E_KEEP") == nullptr) std::filesystem::remove_all(dir_, ec);
  }
  Workdir(const Workdir&) = delete;
  Workdir& operator=(const Workdir&) = delete;

  static std::string config(
      Sandbox& sandbox, const std::string& sync_extra,
      const std::string& fields = R"({ FNAME = "first_name", LNAME = "last_name" })") {
    return "state_dir = \"state\"\n"
           "[mailchimp.main]\n"
           "api_key_env = \"MAILCHIMP_API_KEY\"\n"
           "base_url = \"" +
           sandbox.mailchimp_url() +
           "\"\n"
           "ca_file = \"" +
           sandbox.ca_file() +
           "\"\n"
           "[civicrm.main]\n"
           "url = \"" +
           sandbox.civicrm_url() +
           "\"\n"
           "api_key_env = \"CIVICRM_API_KEY\"\n"
           "site_key_env = \"CIVICRM_SITE_KEY\"\n"
           "timezone = \"Europe/London\"\n"
           "ca_file = \"" +
           sandbox.ca_file() +
           "\"\n"
           "[[sync]]\n"
           "name = \"newsletter\"\n"
           "audience = \"Newsletter\"\n"
           "group = \"Newsletter\"\n"
           "fields = " +
           fields + "\n" + sync_extra + "\n";
  }

  // Runs `concord ARGS…` here. `env` overrides (or, with an empty value, removes) variables.
  Command concord(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {}) const {
    std::vector<std::string> argv = {bin_};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> e = env_;
    for (const auto& [k, v] : env) {
      if (v.empty()) {
        e.erase(k);
      } else {
        e[k] = v;
      }
    }
    std::vector<std::string> envv;
    for (const auto& [k, v] : e)
      envv.push_back(k + "=" + v);
    return run_process(argv, envv, dir_);
  }

  // Replaces concord.toml (a pair other than the fixture's CiviCRM one).
  void write_config(const std::string& text) const { std::ofstream(dir_ / "concord.toml") << text; }
  // Sets (or, empty, removes) a variable of every later run.
  void set_env(const std::string& name, const std::string& value) {
    if (value.empty()) {
      env_.erase(name);
    } else {
      env_[name] = value;
    }
  }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path state_dir() const { return dir_ / "state"; }

 private:
  std::filesystem::path dir_;
  std::string bin_;
  std::map<std::string, std::string> env_;
};

}  // namespace concord::testing
