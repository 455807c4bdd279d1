// scripts/bench stream: `concord serve` with an Amplitude [[stream]] into an audience of 1 000
// members, through concord-sandbox over TLS with 20 ms of latency on every Mailchimp request.
//
// Intake: 100 000 events (--members) as SDK-shaped uploads of 100 events (POST /2/httpapi) from 4
// sender threads, each on its own keep-alive connection. concord answers an upload 200 only once
// its events are synced to the stream's queue, so the rate is that of durable acceptance. The
// stream forwards meanwhile (10 connections), as it would in production.
//
// Forwarding: a second daemon, in a fresh state directory (the first one's backlog would hold the
// sandbox's 10 connections), takes 5 000 events the same way; timed from its first 200 until
// /api/streams shows nothing queued and every accepted event forwarded or dropped. The time is
// read by polling every 20 ms, so it is late by at most about that.
//
// Every event has its own insert_id and a member's address as user_id: each one is a real
// POST /3.0/lists/{id}/members/{hash}/events (the run fails when any is dropped).
//
// Prints (name: value): accept_events and accepted_events_per_s (from the first send to the last
// 200); forward_events, latency_ms, connections, forward_wall_s and forwarded_events_per_s;
// forward_floor_events_per_s, what the connections allow at that latency (connections / latency),
// beside it; peak_rss_mb, the larger VmHWM of the two daemons.
//
// Needs CONCORD_BIN and CONCORD_SANDBOX_BIN (scripts/bench sets them).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "concord_run.h"
#include "sandbox_process.h"

using namespace concord;
using namespace concord::bench;
using nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr const char* kMailchimpKey = "0123456789abcdef0123456789abcdef-us6";
constexpr const char* kIntakeKey = "0123456789abcdef0123456789abcdef";
constexpr std::uint64_t kMembers = 1000;
constexpr std::uint64_t kBatch = 100;  // events per upload, as the SDKs batch them
constexpr int kSenders = 4;
constexpr std::uint64_t kForwardEvents = 5000;
constexpr int kLatencyMs = 20;
constexpr int kConnections = 10;  // [mailchimp.main] max_connections: the stream's workers

std::string member_email(std::uint64_t i) {
  return "member." + std::to_string(i) + "@example.org";
}

// The audience "Newsletter" with kMembers subscribed members.
void write_seed(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) die("cannot write " + path);
  std::fprintf(f,
               "{\"clock\":\"2026-03-01T09:00:00+00:00\",\"mailchimp\":{\"api_key\":\"%s\","
               "\"lists\":[{\"id\":\"b3d1c0ffee\",\"name\":\"Newsletter\",\"merge_fields\":["
               "{\"tag\":\"FNAME\",\"type\":\"text\"}],\"members\":[",
               kMailchimpKey);
  for (std::uint64_t i = 0; i < kMembers; ++i) {
    std::fprintf(f,
                 "%s{\"email_address\":\"%s\",\"status\":\"subscribed\","
                 "\"timestamp_opt\":\"2026-01-01T12:00:00+00:00\","
                 "\"last_changed\":\"2026-01-01T12:00:00+00:00\"}",
                 i ? "," : "", member_email(i).c_str());
  }
  std::fprintf(f, "]}]}}\n");
  std::fclose(f);
}

// A workdir whose concord.toml runs the stream "product" into the audience, the status API on a
// free port.
void write_config(const std::filesystem::path& dir, const testing::SandboxProcess& sandbox) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "concord.toml")
      << "state_dir = \"state\"\n[mailchimp.main]\napi_key_env = \"MAILCHIMP_API_KEY\"\n"
      << "base_url = \"" << sandbox.mailchimp_url() << "\"\nca_file = \"" << sandbox.ca_file()
      << "\"\nmax_connections = " << kConnections << "\n[[stream]]\nname = \"product\"\n"
      << "kind = \"amplitude\"\napi_key_env = \"AMPLITUDE_INTAKE_KEY\"\n"
      << "audience = \"Newsletter\"\n[serve]\nlisten = \"127.0.0.1:0\"\n";
}

// One POST /2/httpapi body and the number of events in it.
struct Upload {
  std::string body;
  std::uint64_t events = 0;
};

// Uploads of the events first, first + 1, …, count in all, kBatch to an upload, shaped as the
// browser SDK sends them. Event i is member i % kMembers's. Made before the clock starts.
std::vector<Upload> make_uploads(std::uint64_t first, std::uint64_t count) {
  std::vector<Upload> out;
  for (std::uint64_t start = first; start < first + count; start += kBatch) {
    json events = json::array();
    for (std::uint64_t i = start; i < std::min(start + kBatch, first + count); ++i) {
      const std::uint64_t m = i % kMembers;
      const long long time_ms = 1790000000000LL + static_cast<long long>(i) * 1000;
      events.push_back({{"user_id", member_email(m)},
                        {"device_id", "device-" + std::to_string(m)},
                        {"session_id", time_ms - time_ms % 1800000},
                        {"time", time_ms},
                        {"event_type", i % 3 == 0 ? "Order Completed" : "Page Viewed"},
                        {"event_properties",
                         {{"n", std::to_string(i)}, {"path", "/p/" + std::to_string(i % 50)}}},
                        {"insert_id", "ins-" + std::to_string(i)},
                        {"platform", "Web"},
                        {"os_name", "Firefox"},
                        {"language", "en-GB"},
                        {"library", "amplitude-ts/2.11.0"},
                        {"ip", "$remote"}});
    }
    const std::uint64_t n = events.size();
    out.push_back({json{{"api_key", kIntakeKey}, {"events", std::move(events)}}.dump(), n});
  }
  return out;
}

// One `concord serve` (CONCORD_BIN) in `dir`, its stdout and stderr in dir/serve.log. It is
// killed when this process ends, also when a step fails (spawn_concord).
class Serve {
 public:
  explicit Serve(const std::filesystem::path& dir) : log_(dir / "serve.log") {
    pid_ = spawn_concord(dir, {"serve"},
                         {std::string("MAILCHIMP_API_KEY=") + kMailchimpKey,
                          std::string("AMPLITUDE_INTAKE_KEY=") + kIntakeKey},
                         log_, log_);
    // "concord serve: listening on http://HOST:PORT/ …", once the stream is open.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int port = 0;
    while (port == 0) {
      std::ifstream in(log_);
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      const std::size_t at = text.find("listening on http://");
      const std::size_t slash = at == std::string::npos ? at : text.find('/', at + 20);
      if (slash != std::string::npos) {
        port = std::atoi(text.c_str() + text.rfind(':', slash) + 1);
        break;
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        die("concord serve exited; see " + log_.string());
      }
      if (std::chrono::steady_clock::now() > deadline)
        die("concord serve did not listen; see " + log_.string());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    url_ = "http://127.0.0.1:" + std::to_string(port);
    std::ifstream(dir / "state" / "serve.token") >> token_;
    const http::ClientOptions options;  // (named: g++ 12 -O2 warns of a braced temporary's)
    auto c = http::Client::create(http::Url::parse(url_).value(), options);
    if (!c) die(c.status().to_string());
    api_ = std::move(*c);
  }
  ~Serve() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Serve(const Serve&) = delete;
  Serve& operator=(const Serve&) = delete;

  const std::string& url() const { return url_; }

  // The stream's entry in GET /api/streams (accepted, forwarded, queued, dropped, …).
  json stream_view() {
    http::Request r;
    r.target = "/api/streams";
    r.headers.push_back({"Authorization", "Bearer " + token_});
    Result<http::Response> resp = api_->send(r);
    if (!resp) die("/api/streams: " + resp.status().to_string());
    if (resp->status != 200)
      die("/api/streams: " + std::to_string(resp->status) + " " + resp->body);
    json all = json::parse(resp->body);
    if (all["streams"].size() != 1) die("/api/streams: not one stream: " + resp->body);
    return all["streams"][0];
  }

  // The daemon's peak resident set so far (VmHWM), in MB.
  double peak_rss_mb() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    }
    return 0;
  }

  // SIGTERM, as an operator stops it; dies unless it exits 0 within a minute.
  void stop() {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int st = 0;
    while (waitpid(pid_, &st, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > deadline)
        die("concord serve did not stop; see " + log_.string());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      die("concord serve stopped badly; see " + log_.string());
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::string url_;
  std::string token_;
  std::unique_ptr<http::Client> api_;
};

// The events_ingested of a 200's body (0 when it has none).
std::uint64_t ingested(const std::string& body) {
  const json reply = json::parse(body, nullptr, false);
  return reply.is_object() ? reply.value("events_ingested", std::uint64_t{0}) : 0;
}

struct Sent {
  SteadyTime first_ok = SteadyTime::max();  // the first 200
  SteadyTime last_ok = SteadyTime::min();   // the last 200
};

// Posts `uploads` to `url`'s /2/httpapi from kSenders threads, each with its own client holding
// one keep-alive connection; sender t takes uploads t, t + kSenders, …. Without retries: every
// upload must be answered 200 with all its events ingested the first time, or the run fails.
Sent send_all(const std::string& url, const std::vector<Upload>& uploads) {
  std::mutex mu;
  Sent sent;                        // GUARDED_BY(mu)
  std::string failure;              // GUARDED_BY(mu): the first failure
  std::atomic<bool> failed{false};  // stops the other senders
  auto sender = [&](std::size_t t) {
    http::ClientOptions o;
    o.max_connections = 1;
    o.retry.max_attempts = 1;
    auto c = http::Client::create(http::Url::parse(url).value(), o);
    Sent mine;
    std::string error = c ? "" : c.status().to_string();
    for (std::size_t u = t; error.empty() && !failed && u < uploads.size(); u += kSenders) {
      http::Request r;
      r.method = "POST";
      r.target = "/2/httpapi";
      r.headers = {{"Content-Type", "application/json"}, {"Accept", "*/*"}};
      r.body = uploads[u].body;
      Result<http::Response> resp = (*c)->send(r);
      if (!resp) {
        error = "upload: " + resp.status().to_string();
      } else if (resp->status != 200 || ingested(resp->body) != uploads[u].events) {
        error = "upload: " + std::to_string(resp->status) + " " + resp->body.substr(0, 500);
      } else {
        mine.last_ok = std::chrono::steady_clock::now();
        mine.first_ok = std::min(mine.first_ok, mine.last_ok);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!error.empty()) {
      failed = true;
      if (failure.empty()) failure = error;
    }
    sent.first_ok = std::min(sent.first_ok, mine.first_ok);
    sent.last_ok = std::max(sent.last_ok, mine.last_ok);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kSenders; ++t)
    threads.emplace_back(sender, static_cast<std::size_t>(t));
  for (std::thread& t : threads)
    t.join();
  if (!failure.empty()) die(failure);
  return sent;
}

double seconds(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

// Dies unless the stream has accepted `accepted` events and dropped none.
void check_not_dropped(const json& view, std::uint64_t accepted) {
  if (view["accepted"] != accepted || view["dropped"] != 0)
    die("the stream took the events otherwise than expected: " + view.dump());
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv, 100'000);
  std::filesystem::create_directories(args.dir);
  const std::string seed = args.dir + "/seed.json";
  write_seed(seed);
  testing::SandboxProcess sandbox(seed);
  std::filesystem::remove(seed);
  SandboxAdmin admin(sandbox.mailchimp_url(), sandbox.ca_file());
  admin.call("POST", "/_sandbox/faults?part=mailchimp",
             json{{"part", "mailchimp"}, {"latency_ms", kLatencyMs}}.dump());

  // Intake, with forwarding running behind it.
  const std::vector<Upload> accept_uploads = make_uploads(0, args.members);
  write_config(args.dir + "/accept", sandbox);
  double peak_rss = 0;
  {
    Serve daemon(args.dir + "/accept");
    const SteadyTime start = std::chrono::steady_clock::now();
    const Sent sent = send_all(daemon.url(), accept_uploads);
    check_not_dropped(daemon.stream_view(), args.members);
    peak_rss = daemon.peak_rss_mb();
    daemon.stop();
    print("accept_events", args.members);
    print("accepted_events_per_s", static_cast<double>(args.members) / seconds(start, sent.last_ok),
          1);
  }

  // Forwarding alone, in a fresh state directory; its events are numbered on from the first
  // phase's, so that no insert_id repeats.
  const std::vector<Upload> forward_uploads = make_uploads(args.members, kForwardEvents);
  write_config(args.dir + "/forward", sandbox);
  Serve daemon(args.dir + "/forward");
  const Sent sent = send_all(daemon.url(), forward_uploads);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  json view;
  for (;;) {
    view = daemon.stream_view();
    if (view["queued"] == 0 &&
        view["forwarded"].get<std::uint64_t>() + view["dropped"].get<std::uint64_t>() ==
            view["accepted"].get<std::uint64_t>()) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline)
      die("the stream did not settle its events in 10 minutes: " + view.dump());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double forward_wall_s = seconds(sent.first_ok, std::chrono::steady_clock::now());
  check_not_dropped(view, kForwardEvents);
  peak_rss = std::max(peak_rss, daemon.peak_rss_mb());
  daemon.stop();
  print("forward_events", kForwardEvents);
  print("latency_ms", static_cast<std::uint64_t>(kLatencyMs));
  print("connections", static_cast<std::uint64_t>(kConnections));
  print("forward_wall_s", forward_wall_s);
  print("forwarded_events_per_s", static_cast<double>(kForwardEvents) / forward_wall_s, 1);
  print("forward_floor_events_per_s", kConnections * 1000.0 / kLatencyMs, 1);
  print("peak_rss_mb", peak_rss, 1);
  return 0;
}
