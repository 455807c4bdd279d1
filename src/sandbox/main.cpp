// concord-sandbox: emulators of the APIs concord talks to, for tests, benchmarks and rehearsals.
//
//   concord-sandbox --state-dir DIR [--seed FILE] [--mailchimp-port N] [--no-tls]
//
// Serves the Mailchimp Marketing API on 127.0.0.1 (HTTPS with a certificate authority it writes
// into DIR once; --no-tls for plain HTTP), prints one JSON line on stdout when it is ready, e.g.
//   {"mailchimp_url":"https://127.0.0.1:PORT/3.0","ca_file":"/abs/DIR/ca.pem"}
// and runs until SIGTERM or SIGINT. The state is DIR/state.json: loaded at start when present
// (else the --seed file, else an empty account), saved about once a second after changes and at
// shutdown. docs/sandbox.md has the details.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "concord/http.h"
#include "sandbox/mailchimp.h"
#include "sandbox/state.h"

namespace {

namespace fs = std::filesystem;
using namespace concord;
using namespace concord::sandbox;

int fail(const std::string& msg) {
  std::fprintf(stderr, "concord-sandbox: %s\n", msg.c_str());
  return 1;
}

std::string json_string(const std::string& s) {
  std::string out;
  append_json_string(&out, s);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"concord-sandbox: emulators of the Mailchimp Marketing API (and, later, CiviCRM)"};
  std::string state_dir, seed_file, webhook_ca;
  int port = 0;
  bool no_tls = false;
  app.add_option("--state-dir", state_dir,
                 "Directory for the state (state.json) and the TLS certificates")
      ->required();
  app.add_option("--seed", seed_file,
                 "Seed file (JSON, see docs/sandbox.md); used when DIR/state.json does not exist");
  app.add_option("--mailchimp-port", port, "Port of the Mailchimp API on 127.0.0.1 (0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_flag("--no-tls", no_tls, "Serve plain HTTP instead of HTTPS");
  app.add_option("--webhook-ca-file", webhook_ca,
                 "PEM roots trusted for https webhook URLs (default: the system's store)");
  CLI11_PARSE(app, argc, argv);

  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return fail("cannot create " + state_dir + ": " + ec.message());
  fs::path dir = fs::absolute(state_dir, ec);
  if (ec) dir = state_dir;
  std::string ca = (dir / "ca.pem").string();
  std::string cert = (dir / "server.pem").string();
  std::string key = (dir / "server.key").string();
  std::string state_path = (dir / "state.json").string();

  if (!no_tls && !(fs::exists(ca) && fs::exists(cert) && fs::exists(key))) {
    Status s = http::write_test_certificates(dir.string());
    if (!s.is_ok()) return fail("writing certificates: " + s.to_string());
  }

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  SandboxClock clock;
  std::unique_ptr<Account> account;
  bool from_state_file = false;
  std::string source_file;
  if (fs::exists(state_path)) {
    source_file = state_path;
    from_state_file = true;
  } else if (!seed_file.empty()) {
    source_file = seed_file;
  }
  if (!source_file.empty()) {
    auto text = read_file(source_file);
    if (!text.is_ok()) return fail(text.status().to_string());
    auto loaded = parse_seed(*text, clock.now());
    if (!loaded.is_ok()) return fail(source_file + ": " + loaded.status().message());
    account = std::move(loaded->account);
    if (loaded->clock != kNoTime) clock.fix(loaded->clock);
  } else {
    account = empty_account();
  }

  MailchimpOptions mo;
  mo.webhook_ca_file = webhook_ca;
  MailchimpSandbox mailchimp(std::move(account), &clock, mo);

  Persister persister(
      state_path, [&] { return mailchimp.generation(); },
      [&] { return mailchimp.state_document(); });
  if (from_state_file) {
    persister.mark_saved(mailchimp.generation());
  } else {
    // Write the initial state so that a restart finds it even if nothing changes.
    Status s = persister.flush();
    if (!s.is_ok()) return fail(s.to_string());
  }

  http::ServerOptions so;
  so.bind = "127.0.0.1";
  so.port = static_cast<std::uint16_t>(port);
  so.max_body_bytes = std::size_t{2} << 30;  // a million-member seed is a few hundred MB
  if (!no_tls) {
    so.cert_file = cert;
    so.key_file = key;
  }
  auto server = http::Server::start(
      so, [&](const http::Request& r, const http::Peer& p) { return mailchimp.handle(r, p); });
  if (!server.is_ok()) return fail("starting the server: " + server.status().to_string());

  std::string url = std::string(no_tls ? "http" : "https") +
                    "://127.0.0.1:" + std::to_string((*server)->port()) + "/3.0";
  std::string line = "{\"mailchimp_url\":" + json_string(url);
  if (!no_tls) line += ",\"ca_file\":" + json_string(ca);
  line += "}";
  std::cout << line << std::endl;  // flushed

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "concord-sandbox: stopping (signal %d)\n", sig);
  (*server)->stop();
  persister.stop();  // the final save
  return 0;
}
