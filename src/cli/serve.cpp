// `concord serve`: the daemon (src/serve/daemon.h) wired to the command line. This file opens
// what the daemon needs from the configuration (the store, the clients, each pair's sides), starts
// it and its HTTP listener, and stops them on SIGTERM or SIGINT.
//
// Threads: the HTTP server's (one per connection) answer requests; the daemon's worker runs the
// runs; the main thread waits for the signal. On a signal the run in progress stops after its
// current batch (journaled, as the engine stops on RunRequest::stop), the worker ends, the
// listener closes, and the command exits 0.
#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "cli/cli.h"
#include "concord/http.h"
#include "concord/mautic_client.h"
#include "serve/daemon.h"
#include "serve/listener.h"
#include "serve/webhook.h"

namespace concord::cli {
namespace {

void log_line(const std::string& s) {
  std::fprintf(stderr, "concord serve: %s\n", s.c_str());
  std::fflush(stderr);
}

// How a Mautic pair's deliveries are read: signed with the secret `concord webhooks install
// --mautic` gave the hook (derived from the webhook key), naming contacts by id.
Result<serve::PeopleDelivery> mautic_deliveries(const std::filesystem::path& state_dir,
                                                const std::string& sync) {
  Result<std::string> secret = mautic_signing_secret(state_dir, sync);
  if (!secret) return secret.status();
  return serve::PeopleDelivery(
      [secret = std::move(*secret)](
          std::string_view body, std::string_view signature) -> Result<std::vector<std::string>> {
        if (!mautic_signature_ok(secret, body, signature)) {
          return Status::permission_denied("the delivery's Webhook-Signature does not match");
        }
        Result<MauticDelivery> d = parse_mautic_delivery(body);
        if (!d) return d.status();
        std::vector<std::string> ids;
        for (const MauticChange& c : d->changes)
          ids.push_back(std::to_string(c.contact_id));
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        return ids;
      });
}

// Whether the pair's Mautic hook is there and published: Mautic unpublishes a hook after a 410 or
// 100 failed deliveries, and drops what happens meanwhile; the status page says so.
std::function<Result<std::string>()> mautic_hook_check(MauticClient& client,
                                                       const std::string& sync,
                                                       const std::string& secret) {
  const std::string tail = std::string(kMauticWebhookPath) + http::url_encode(sync) + "/" + secret;
  return [&client, tail]() -> Result<std::string> {
    Result<std::vector<MauticHook>> hooks = client.list_hooks();
    if (!hooks) return hooks.status();
    for (const MauticHook& h : *hooks) {
      if (h.url.size() < tail.size() ||
          h.url.compare(h.url.size() - tail.size(), tail.size(), tail) != 0) {
        continue;
      }
      if (h.published) return std::string();
      return "Mautic unpublished this pair's webhook (hook " + std::to_string(h.id) +
             "): changes wait for the schedule until it is published again in Mautic";
    }
    return std::string(
        "no Mautic webhook sends this pair's changes (concord webhooks install --mautic): "
        "changes wait for the schedule");
  };
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
    if (s.people == PeopleKind::kMautic) {
      Result<serve::PeopleDelivery> read = mautic_deliveries(ctx.config().state_dir, s.name);
      if (!read) return read.status().with_context("sync \"" + s.name + "\"");
      d.people_delivery = std::move(*read);
      Result<MauticClient*> mautic = ctx.mautic(s.source);  // made by pair(): shared
      if (!mautic) return mautic.status().with_context("sync \"" + s.name + "\"");
      Result<std::string> secret = webhook_url_secret(ctx.config().state_dir, s.name);
      if (!secret) return secret.status().with_context("sync \"" + s.name + "\"");
      d.people_webhook_warning = mautic_hook_check(**mautic, s.name, *secret);
    }
    out.push_back(std::move(d));
  }
  return out;
}

// Every configured [[stream]], over the context's shared Mailchimp clients. Errors name the stream.
Result<std::vector<std::unique_ptr<serve::Stream>>> daemon_streams(Context& ctx) {
  std::vector<std::unique_ptr<serve::Stream>> out;
  std::vector<std::string> keys;
  for (const StreamConfig& s : ctx.config().streams) {
    const std::string where = "stream \"" + s.name + "\"";
    Result<std::string> key = read_secret(s.api_key_env, where + "'s key (api_key_env)");
    if (!key) return key.status();
    if (std::find(keys.begin(), keys.end(), *key) != keys.end()) {
      // The key is how a request finds its stream.
      return Status::invalid(where + ": another stream has the same key; give each its own");
    }
    keys.push_back(*key);
    Result<MailchimpClient*> mc = ctx.mailchimp(s.mailchimp);
    if (!mc) return mc.status().with_context(where);
    serve::StreamOptions o;
    o.api_key = std::move(*key);
    o.log = log_line;
    o.audience_id = [client = *mc, audience = s.audience]() -> Result<std::string> {
      Result<Audience> a = client->resolve_audience(audience);
      if (!a) return a.status();
      return a->id;
    };
    // One request at a time per worker; the account's client caps them at its connections.
    o.connections = std::min(10, ctx.config().mailchimp.at(s.mailchimp).max_connections);
    Result<std::unique_ptr<serve::Stream>> stream =
        serve::Stream::open(s, ctx.store(), **mc, std::move(o));
    if (!stream) return stream.status();
    out.push_back(std::move(*stream));
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
  Result<std::vector<std::unique_ptr<serve::Stream>>> streams = daemon_streams(c);
  if (!streams) return fail(exit_for(streams.status()), streams.status().message());
  Result<std::unique_ptr<serve::Daemon>> daemon = serve::Daemon::open(
      c.config(), c.store(), std::move(*pairs), std::move(options), std::move(*streams));
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
