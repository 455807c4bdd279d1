// concord-sandbox: emulators of the APIs concord talks to, for tests, benchmarks and rehearsals.
//
//   concord-sandbox --state-dir DIR [--seed FILE | --from-exports EXPORTS [--interest-column T]…]
//                   [--mailchimp-port N] [--civicrm-port N]
//                   [--auth0-port N] [--mixpanel-port N] [--amplitude-port N]
//                   [--mautic-port N] [--no-tls]
//   concord-sandbox --generate-seed FILE [--members N] [--overlap F] [--disagree F]
//                   [--random-seed S] [--base FILE]
//
// Serves the Mailchimp Marketing API and CiviCRM's APIv4 REST interface on 127.0.0.1, each on its
// own port (HTTPS with one certificate authority it writes into DIR once; --no-tls for plain
// HTTP), prints one JSON line on stdout when it is ready, e.g.
//   {"mailchimp_url":"https://127.0.0.1:PORT/3.0","civicrm_url":"https://127.0.0.1:PORT2",
//    "auth0_url":…,"mixpanel_url":…,"amplitude_url":…,"mautic_url":…,"ca_file":"/abs/DIR/ca.pem"}
// (the parts of part.h, each on its own port: see sandbox/parts.h)
// and runs until SIGTERM or SIGINT. The state is DIR/state.json: loaded at start when present
// (else the --seed file, else the seed --from-exports reads from Mailchimp's and CiviCRM's
// downloads (sandbox/exports/exports.h; the ready line then has an "exports" object listing the
// rows it could not read), else an empty account and an empty site), saved about once a second
// after changes and at shutdown. With --generate-seed it writes a seed with two populated,
// overlapping lists (sandbox/seed_generator.h) and exits. docs/sandbox.md has the details.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "concord/http.h"
#include "sandbox/civicrm/sandbox.h"
#include "sandbox/clock.h"
#include "sandbox/exports/exports.h"
#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/sandbox.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/parts.h"
#include "sandbox/persister.h"
#include "sandbox/router.h"
#include "sandbox/seed_generator.h"

namespace {

namespace fs = std::filesystem;
using namespace concord;
using namespace concord::sandbox;

// The ready line lists at most this many unread rows (all of them go to stderr): a reader of
// the line keeps a bounded buffer.
constexpr std::size_t kReadyProblems = 100;

int fail(const std::string& msg) {
  std::fprintf(stderr, "concord-sandbox: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"concord-sandbox: emulators of the Mailchimp Marketing API and CiviCRM's APIv4"};
  std::string state_dir, seed_file, webhook_ca;
  int port = 0;
  int civicrm_port = 0;
  bool no_tls = false;
  app.add_option("--state-dir", state_dir,
                 "Directory for the state (state.json) and the TLS certificates (required unless "
                 "--generate-seed)");
  auto* seed_option = app.add_option(
      "--seed", seed_file,
      "Seed file (JSON, see docs/sandbox.md); used when DIR/state.json does not exist");
  std::string exports_dir;
  std::vector<std::string> interest_columns;
  auto* exports_option =
      app.add_option(
             "--from-exports", exports_dir,
             "A folder of Mailchimp's audience export and CiviCRM's contact export and "
             "SubscriptionHistory download, read as the seed (docs/sandbox.md \"Starting from "
             "exports\"); used when DIR/state.json does not exist")
          ->excludes(seed_option);
  app.add_option("--interest-column", interest_columns,
                 "--from-exports: a column of the audience export that is an interest category "
                 "(group), not a merge field; may be given more than once")
      ->needs(exports_option);
  app.add_option("--mailchimp-port", port, "Port of the Mailchimp API on 127.0.0.1 (0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--civicrm-port", civicrm_port,
                 "Port of the CiviCRM API on 127.0.0.1 (0: any free)")
      ->check(CLI::Range(0, 65535));
  app.add_flag("--no-tls", no_tls, "Serve plain HTTP instead of HTTPS");
  // The other parts' ports are options too; the parts themselves are made once --no-tls is known.
  const std::vector<std::string> part_names = {"auth0", "mixpanel", "amplitude", "mautic"};
  std::vector<int> part_ports(part_names.size(), 0);
  for (std::size_t i = 0; i < part_names.size(); ++i) {
    app.add_option("--" + part_names[i] + "-port", part_ports[i],
                   "Port of the " + part_names[i] + " API on 127.0.0.1 (0: any free)")
        ->check(CLI::Range(0, 65535));
  }
  app.add_option("--webhook-ca-file", webhook_ca,
                 "PEM roots trusted for https webhook URLs (default: the system's store)");
  std::string generate_file, base_file;
  SeedOptions gen;
  app.add_option("--generate-seed", generate_file,
                 "Write a seed with two populated, overlapping lists to FILE and exit");
  app.add_option("--members", gen.members,
                 "--generate-seed: about N members in the list and N contacts in the group")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{10000000}));
  app.add_option("--overlap", gen.overlap, "--generate-seed: the fraction on both sides")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--disagree", gen.disagree,
                 "--generate-seed: the fraction of those on both sides whose membership differs")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--random-seed", gen.random_seed, "--generate-seed: seeds the generator");
  app.add_option("--base", base_file,
                 "--generate-seed: a seed whose first list and first group receive the people");
  CLI11_PARSE(app, argc, argv);

  if (!generate_file.empty()) {
    if (!base_file.empty()) {
      auto text = read_file(base_file);
      if (!text.is_ok()) return fail(text.status().to_string());
      gen.base = std::move(text).value();
    }
    auto seed = generate_seed(gen);
    if (!seed.is_ok()) return fail(seed.status().message());
    Status s = write_file_atomically(generate_file, *seed);
    if (!s.is_ok()) return fail(s.to_string());
    return 0;
  }
  if (state_dir.empty()) return fail("--state-dir is required");

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
  std::vector<std::unique_ptr<Part>> parts = make_parts(&clock, !no_tls, webhook_ca);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i]->name() != part_names[i]) return fail("internal: the parts are out of order");
  }
  std::unique_ptr<Account> account;
  CiviSitePtr site;
  bool from_state_file = false;
  std::string source_file;
  std::optional<std::string> text;
  std::string exports_ready;  // the ready line's "exports" object
  if (fs::exists(state_path)) {
    source_file = state_path;
    from_state_file = true;
  } else if (!seed_file.empty()) {
    source_file = seed_file;
  } else if (!exports_dir.empty()) {
    exports::ExportsOptions eo;
    eo.interest_columns = interest_columns;
    auto loaded = exports::load_exports(exports_dir, eo);
    if (!loaded.is_ok()) return fail(loaded.status().message());
    // Listed before anything is served, so that no unread row goes unmentioned.
    if (!loaded->problems.empty()) {
      std::fprintf(stderr, "concord-sandbox: %s: %zu rows or files not used:\n",
                   exports_dir.c_str(), loaded->problems.size());
      for (const exports::ExportProblem& p : loaded->problems)
        std::fprintf(stderr, "  %s\n", p.text().c_str());
    }
    std::fprintf(stderr,
                 "concord-sandbox: %s: read %zu files: %zu audiences, %lld contacts, %lld "
                 "history rows\n",
                 exports_dir.c_str(), loaded->summary.files.size(),
                 loaded->summary.audiences.size(), static_cast<long long>(loaded->summary.contacts),
                 static_cast<long long>(loaded->summary.history_rows));
    exports_ready = exports::ready_object(*loaded, kReadyProblems);
    source_file = exports_dir + " (the seed read from its exports)";
    text = std::move(loaded->seed);
  }
  if (!source_file.empty()) {
    if (!text) {
      auto read = read_file(source_file);
      if (!read.is_ok()) return fail(read.status().to_string());
      text = std::move(read).value();
    }
    // The two parts are read in parallel: each parser skips the other's part.
    Result<CiviSitePtr> civi = Status::internal("not parsed");
    std::thread civi_reader([&] { civi = parse_civicrm_seed(*text, system_clock().now()); });
    auto loaded = parse_seed(*text, clock.now());
    civi_reader.join();
    if (!loaded.is_ok()) return fail(source_file + ": " + loaded.status().message());
    if (!civi.is_ok()) return fail(source_file + ": " + civi.status().message());
    account = std::move(loaded->account);
    if (loaded->clock != kNoTime) clock.fix(loaded->clock);
    site = std::move(civi).value();
    for (auto& part : parts) {
      auto object = seed_object(*text, part->name());
      if (!object.is_ok()) return fail(source_file + ": " + object.status().message());
      std::optional<std::string_view> view;
      if (*object) view = **object;
      auto installed = part->install(view);
      if (!installed.is_ok()) {
        return fail(source_file + ": " + std::string(part->name()) + ": " +
                    installed.status().message());
      }
    }
  } else {
    account = empty_account();
    site = empty_civicrm_site();
  }

  MailchimpOptions mo;
  mo.webhook_ca_file = webhook_ca;
  MailchimpSandbox mailchimp(std::move(account), &clock, mo);
  CivicrmSandbox civicrm(std::move(site), &clock);
  std::vector<Part*> part_ptrs;
  for (auto& part : parts)
    part_ptrs.push_back(part.get());
  SandboxRouter router(&mailchimp, &civicrm, &clock, part_ptrs);

  Persister persister(
      state_path, [&] { return router.generation(); }, [&] { return router.state_document(); });
  router.on_reset([&persister] {
    if (Status s = persister.flush(); !s.is_ok())
      std::fprintf(stderr, "concord-sandbox: saving state: %s\n", s.to_string().c_str());
  });
  if (from_state_file) {
    persister.mark_saved(router.generation());
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
      so, [&](const http::Request& r, const http::Peer& p) { return router.mailchimp_port(r, p); });
  if (!server.is_ok()) return fail("starting the server: " + server.status().to_string());
  http::ServerOptions co = so;
  co.port = static_cast<std::uint16_t>(civicrm_port);
  auto civicrm_server = http::Server::start(
      co, [&](const http::Request& r, const http::Peer& p) { return router.civicrm_port(r, p); });
  if (!civicrm_server.is_ok()) {
    return fail("starting the CiviCRM server: " + civicrm_server.status().to_string());
  }

  std::vector<std::unique_ptr<http::Server>> part_servers;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    http::ServerOptions po = so;
    po.port = static_cast<std::uint16_t>(part_ports[i]);
    auto started =
        http::Server::start(po, [&router, i](const http::Request& r, const http::Peer& p) {
          return router.part_port(i, r, p);
        });
    if (!started.is_ok()) {
      return fail("starting the " + std::string(parts[i]->name()) +
                  " server: " + started.status().to_string());
    }
    part_servers.push_back(std::move(started).value());
  }

  const std::string scheme = no_tls ? "http" : "https";
  std::string url = scheme + "://127.0.0.1:" + std::to_string((*server)->port()) + "/3.0";
  std::string civicrm_url = scheme + "://127.0.0.1:" + std::to_string((*civicrm_server)->port());
  std::string line = "{\"mailchimp_url\":" + json_quoted(url);
  line += ",\"civicrm_url\":" + json_quoted(civicrm_url);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    line += ",\"" + std::string(parts[i]->name()) + "_url\":";
    line += json_quoted(scheme + "://127.0.0.1:" + std::to_string(part_servers[i]->port()));
  }
  if (!no_tls) line += ",\"ca_file\":" + json_quoted(ca);
  if (!exports_ready.empty()) line += ",\"exports\":" + exports_ready;
  line += "}";
  std::cout << line << std::endl;  // flushed

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "concord-sandbox: stopping (signal %d)\n", sig);
  (*server)->stop();
  (*civicrm_server)->stop();
  for (auto& part_server : part_servers)
    part_server->stop();
  persister.stop();  // the final save
  return 0;
}
