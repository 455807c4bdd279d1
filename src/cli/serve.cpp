// `concord serve`: the daemon (src/serve/daemon.h) wired to the command line. This file opens
// what the daemon needs from the configuration (the store, the clients, each pair's sides), starts
// it and its HTTP listener, and stops them on SIGTERM or SIGINT.
//
// Threads: the HTTP server's (one per connection) answer requests; the daemon's worker runs the
// runs; the main thread waits for the signal. On a signal the run in progress stops after its
// current batch (journaled, as the engine stops on RunRequest::stop), the worker ends, the
// listener closes, and the command exits 0.
#include <signal.h>

#include <cstdio>

#include "cli/cli.h"
#include "serve/daemon.h"
#include "serve/listener.h"

namespace concord::cli {
namespace {

void log_line(const std::string& s) {
  std::fprintf(stderr, "concord serve: %s\n", s.c_str());
  std::fflush(stderr);
}

// Every configured pair with its sides over the context's shared clients. Errors name the pair.
Result<std::vector<serve::DaemonPair>> daemon_pairs(Context& ctx) {
  std::vector<serve::DaemonPair> out;
  for (const SyncConfig& s : ctx.config().syncs) {
    Result<Context::Pair> p = ctx.pair(s);
    if (!p) return p.status().with_context("sync \"" + s.name + "\"");
    serve::DaemonPair d;
    d.config = &s;
    d.handle = p->handle;
    d.mailchimp = std::move(p->mailchimp);
    d.crm = std::move(p->crm);
    // An address changed in Mailchimp is carried to CiviCRM; a one-way source is never written.
    if (!s.one_way()) {
      Result<CiviCrmClient*> crm = ctx.civicrm(s.civicrm);  // made by pair(): shared, not new
      if (!crm) return crm.status().with_context("sync \"" + s.name + "\"");
      d.change_crm_email = [client = *crm](std::int64_t contact_id, const std::string& old_email,
                                           const std::string& new_email) {
        return client->change_email(contact_id, old_email, new_email);
      };
    }
    Result<MailchimpClient*> mc = ctx.mailchimp(s.mailchimp);  // shared, as above
    if (!mc) return mc.status().with_context("sync \"" + s.name + "\"");
    d.audience_id = [client = *mc, audience = s.audience]() -> Result<std::string> {
      Result<Audience> a = client->resolve_audience(audience);
      if (!a) return a.status();
      return a->id;
    };
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

int serve(const Global& g, const ServeOptions& o) {
  // SIGTERM and SIGINT are taken by sigwait() in this thread only (the daemon's threads, started
  // below, inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<Context>> ctx = Context::open(g);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Context& c = **ctx;
  Result<std::vector<serve::DaemonPair>> pairs = daemon_pairs(c);
  if (!pairs) return fail(exit_for(pairs.status()), pairs.status().message());
  serve::DaemonOptions options;
  options.backup_dir = c.backup_dir();
  options.log = log_line;
  options.retried_errors = [&c](Side side) { return c.retried_errors(side); };
  Result<std::unique_ptr<serve::Daemon>> daemon =
      serve::Daemon::open(c.config(), c.store(), std::move(*pairs), std::move(options));
  if (!daemon) return fail(exit_for(daemon.status()), daemon.status().message());
  Result<std::unique_ptr<serve::Listener>> listener =
      serve::Listener::start(c.config(), o.listen, **daemon, log_line);
  if (!listener) return fail(exit_for(listener.status()), listener.status().message());
  (*daemon)->start();

  int sig = 0;
  sigwait(&signals, &sig);
  log_line(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
           "): the run in progress ends after its current batch");
  (*daemon)->stop();
  (*listener)->stop();
  log_line("stopped");
  return kExitOk;
}

}  // namespace concord::cli
