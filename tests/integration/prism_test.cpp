// The Mailchimp client's requests and concord-sandbox's responses, checked against the Marketing
// API's OpenAPI spec by Prism in proxy mode with --errors:
//   client ──http──▶ prism proxy ──http──▶ concord-sandbox --no-tls
// Prism rejects a request that breaks the spec (422) and replaces a response that breaks it
// (500), both with an error type under https://stoplight.io/prism/errors#; the client then
// fails, and so does this test. Every response is also checked for an sl-violations header.
//
// Needs PRISM_BIN (scripts/test installs @stoplight/prism-cli under the build directory) and
// PRISM_SPEC. Without PRISM_BIN it is skipped (exit 77), unless CONCORD_REQUIRE_PRISM is set.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "concord/mailchimp_client.h"
#include "concord/snapshot.h"
#include "sandbox_process.h"
#include "temp_store.h"

using namespace concord;
using concord::testing::SandboxProcess;
using concord::testing::TempStore;

namespace {

constexpr const char* kKey = "0123456789abcdef0123456789abcdef-us6";

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

class Prism {
 public:
  Prism(const std::string& upstream, int port, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      dup2(STDOUT_FILENO, STDERR_FILENO);
      std::string p = std::to_string(port);
      execl(std::getenv("PRISM_BIN"), "prism", "proxy", "-h", "127.0.0.1", "-p", p.c_str(),
            "--errors", std::getenv("PRISM_SPEC"), upstream.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 600; ++i) {  // up to 60 s: Prism reads a 2 MB spec
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      if (ss.str().find("Prism is listening") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("Prism did not start; see " + log);
  }
  ~Prism() {
    kill(pid_, SIGTERM);
    int st;
    waitpid(pid_, &st, 0);
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

// Wraps the transport to record any sl-violations header Prism adds.
class Recording final : public http::Client {
 public:
  explicit Recording(std::unique_ptr<http::Client> inner) : inner_(std::move(inner)) {}
  Result<http::Response> send(const http::Request& r) override {
    Result<http::Response> resp = inner_->send(r);
    if (resp.is_ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!resp->header("sl-violations").empty()) {
        violations.push_back(r.method + " " + r.target + ": " +
                             std::string(resp->header("sl-violations")));
      }
      if (resp->body.find("stoplight.io/prism/errors") != std::string::npos) {
        violations.push_back(r.method + " " + r.target + ": " + resp->body.substr(0, 2000));
      }
    }
    return resp;
  }
  std::uint64_t attempts() const override { return inner_->attempts(); }
  std::uint64_t connections_opened() const override { return inner_->connections_opened(); }
  std::vector<std::string> violations;

 private:
  std::unique_ptr<http::Client> inner_;
  std::mutex mu_;
};

}  // namespace

int prism_available() {
  const char* bin = std::getenv("PRISM_BIN");
  return bin != nullptr && access(bin, X_OK) == 0;
}

TEST_CASE("prism: fetches and writes validate against the Marketing API spec") {
  SandboxProcess sandbox(
      std::string(std::getenv("CONCORD_SOURCE_ROOT")) + "/fixtures/sandbox-seed.json",
      {"--no-tls"});
  std::string upstream = sandbox.mailchimp_url();  // http://127.0.0.1:PORT/3.0
  int port = free_port();
  Prism prism(upstream, port, (sandbox.dir() / "prism.log").string());

  std::string base = "http://127.0.0.1:" + std::to_string(port);  // no /3.0 on Prism's side
  http::ClientOptions ho;
  ho.retry.max_attempts = 1;  // a violation must not be retried away
  auto inner = http::Client::create(http::Url::parse(base).value(), ho).value();
  auto recording = std::make_unique<Recording>(std::move(inner));
  Recording* rec = recording.get();
  MailchimpOptions o;
  o.api_key = kKey;
  o.base_url = base;
  auto client = MailchimpClient::create(o, std::move(recording)).value();

  REQUIRE(client->ping().is_ok());
  Audience a = client->resolve_audience("Newsletter").value();
  REQUIRE(client->merge_fields(a.id).is_ok());
  TempStore t;
  REQUIRE(fetch_mailchimp(*client, a.id, true, *t.store, *t.pair).is_ok());
  REQUIRE(fetch_mailchimp(*client, a.id, false, *t.store, *t.pair).is_ok());
  auto out =
      client->apply(a.id,
                    {{"betty@bedrock.org", MailchimpWrite::Kind::kSubscribe, {{"FNAME", "Betty"}}},
                     {"barney@bedrock.org", MailchimpWrite::Kind::kSubscribe, {}},
                     {"fred@bedrock.org", MailchimpWrite::Kind::kUnsubscribe, {}},
                     {"wilma@bedrock.org", MailchimpWrite::Kind::kArchive, {}},
                     {"wilma@bedrock.org", MailchimpWrite::Kind::kArchive, {}}},
                    Resubscribe::kPending);
  CHECK(out[0].code == WriteOutcome::Code::kDone);
  CHECK(out[1].code == WriteOutcome::Code::kPendingSent);
  CHECK(out[2].code == WriteOutcome::Code::kDone);
  CHECK(out[3].code == WriteOutcome::Code::kDone);
  CHECK(out[4].code == WriteOutcome::Code::kInvalid);  // 405: already archived
  for (const std::string& v : rec->violations) {
    FAIL_CHECK(v);
  }
  CHECK(rec->violations.empty());
}

int main(int argc, char** argv) {
  if (!prism_available()) {
    if (std::getenv("CONCORD_REQUIRE_PRISM") != nullptr) {
      std::fprintf(stderr, "PRISM_BIN is not an executable: run scripts/test, which installs it\n");
      return 1;
    }
    std::fprintf(stderr, "skipped: PRISM_BIN not set (scripts/test installs Prism)\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
