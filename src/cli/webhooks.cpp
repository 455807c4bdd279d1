// `concord webhooks install` and `concord webhooks list`: the Mailchimp list webhooks that tell
// `concord serve` of changes. They read the webhook key (not the store), so they run beside the
// daemon.
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/cli.h"
#include "concord/http.h"
#include "serve/webhook.h"

namespace concord::cli {
namespace {

// A webhook URL as it may be shown: the secret segment of concord's own URLs replaced by "…".
std::string shown_url(const std::string& url) {
  for (std::string_view path : {kWebhookPath, kMauticWebhookPath}) {
    const std::size_t at = url.find(path);
    if (at == std::string::npos) continue;
    const std::size_t slash = url.find('/', at + path.size());
    return slash == std::string::npos ? url : url.substr(0, slash + 1) + "…";
  }
  return url;
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

// The public URL a webhook is registered under: --public-url or [serve] public_url, without a
// trailing slash; "" when neither is an http(s) address.
std::string public_base(const Context& ctx, const std::string& public_url) {
  const std::string base =
      trim_slash(public_url.empty() ? ctx.config().serve.public_url : public_url);
  return base.rfind("https://", 0) == 0 || base.rfind("http://", 0) == 0 ? base : "";
}

using nlohmann::json;

void print_json(const json& j) {
  std::cout << j.dump(2) << "\n";
}

}  // namespace

int mautic_webhooks_install(const Global& g, const std::string& sync, const std::string& public_url,
                            bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/false);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  const std::string base = public_base(**ctx, public_url);
  if (base.empty()) {
    return fail(kExitUsage,
                "give --public-url (or [serve] public_url): the http(s) address where Mautic "
                "reaches `concord serve`");
  }
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  int code = kExitOk;
  int installed = 0;
  json out = json::array();
  for (const SyncConfig* s : *syncs) {
    if (s->people != PeopleKind::kMautic) continue;
    Result<MauticClient*> client = (*ctx)->mautic(s->source);
    if (!client) return fail(exit_for(client.status()), client.status().message());
    const std::filesystem::path& state = (*ctx)->config().state_dir;
    Result<std::string> url_secret = webhook_url_secret(state, s->name);
    if (!url_secret) return fail(kExitError, url_secret.status().message());
    Result<std::string> signing = mautic_signing_secret(state, s->name);
    if (!signing) return fail(kExitError, signing.status().message());
    const std::string url = webhook_url(base, s->name, *url_secret, kMauticWebhookPath);
    Result<std::vector<MauticHook>> existing = (*client)->list_hooks();
    if (!existing) {
      std::fprintf(stderr, "concord: %s: %s\n", s->name.c_str(),
                   existing.status().message().c_str());
      out.push_back(
          {{"sync", s->name}, {"state", "failed"}, {"error", existing.status().message()}});
      code = exit_for(existing.status());
      continue;
    }
    const MauticHook* found = nullptr;
    for (const MauticHook& h : *existing) {
      if (h.url == url) found = &h;
    }
    ++installed;
    if (found != nullptr) {
      out.push_back({{"sync", s->name},
                     {"state", "present"},
                     {"hook_id", found->id},
                     {"published", found->published},
                     {"url", shown_url(url)}});
      if (!as_json) {
        std::printf("%s: the Mautic webhook is installed already (hook %lld, %s)%s\n",
                    s->name.c_str(), static_cast<long long>(found->id), shown_url(url).c_str(),
                    found->published ? "" : "; it is UNPUBLISHED: publish it again in Mautic");
      }
      continue;
    }
    Result<MauticHook> made = (*client)->create_hook("concord: " + s->name, url, *signing);
    if (!made) {
      std::fprintf(stderr, "concord: %s: %s\n", s->name.c_str(), made.status().message().c_str());
      out.push_back({{"sync", s->name}, {"state", "failed"}, {"error", made.status().message()}});
      code = exit_for(made.status());
      continue;
    }
    out.push_back({{"sync", s->name},
                   {"state", "installed"},
                   {"hook_id", made->id},
                   {"published", made->published},
                   {"url", shown_url(url)}});
    if (!as_json) {
      std::printf("%s: installed Mautic webhook %lld: %s\n", s->name.c_str(),
                  static_cast<long long>(made->id), shown_url(url).c_str());
    }
  }
  if (installed == 0 && code == kExitOk) {
    return fail(kExitUsage, sync.empty() ? "no sync reads a Mautic segment"
                                         : "sync \"" + sync + "\" does not read a Mautic segment");
  }
  if (as_json) print_json(out);
  return code;
}

int webhooks_install(const Global& g, const std::string& sync, const std::string& public_url,
                     bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/false);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  const std::string base = public_base(**ctx, public_url);
  if (base.empty()) {
    return fail(kExitUsage,
                "give --public-url (or [serve] public_url): the http(s) address where Mailchimp "
                "reaches `concord serve`");
  }
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  int code = kExitOk;
  json out = json::array();
  for (const SyncConfig* s : *syncs) {
    Result<MailchimpClient*> mc = (*ctx)->mailchimp(s->mailchimp);
    if (!mc) return fail(exit_for(mc.status()), mc.status().message());
    Result<Audience> audience = (*mc)->resolve_audience(s->audience);
    if (!audience) return fail(exit_for(audience.status()), audience.status().message());
    Result<std::string> secret = webhook_url_secret((*ctx)->config().state_dir, s->name);
    if (!secret) return fail(kExitError, secret.status().message());
    const std::string url = webhook_url(base, s->name, *secret);
    Result<std::vector<Webhook>> existing = (*mc)->webhooks(audience->id);
    if (!existing) return fail(exit_for(existing.status()), existing.status().message());
    bool found = false;
    for (const Webhook& w : *existing)
      found = found || w.url == url;
    if (found) {
      out.push_back({{"sync", s->name},
                     {"state", "present"},
                     {"audience", audience->id},
                     {"url", shown_url(url)}});
      if (!as_json) {
        std::printf("%s: the webhook is installed already (%s)\n", s->name.c_str(),
                    shown_url(url).c_str());
      }
      continue;
    }
    // Never `api`: concord's own writes must not come back as deliveries.
    Result<Webhook> made = (*mc)->create_webhook(
        audience->id, url, {"subscribe", "unsubscribe", "profile", "upemail", "cleaned"},
        /*user=*/true, /*admin=*/true, /*api=*/false);
    if (!made) {
      std::fprintf(stderr, "concord: %s: %s\n", s->name.c_str(), made.status().message().c_str());
      out.push_back({{"sync", s->name},
                     {"state", "failed"},
                     {"audience", audience->id},
                     {"error", made.status().message()}});
      code = exit_for(made.status());
      continue;
    }
    out.push_back({{"sync", s->name},
                   {"state", "installed"},
                   {"audience", audience->id},
                   {"webhook_id", made->id},
                   {"url", shown_url(url)}});
    if (!as_json) {
      std::printf("%s: installed webhook %s on audience %s: %s\n", s->name.c_str(),
                  made->id.c_str(), audience->id.c_str(), shown_url(url).c_str());
    }
  }
  if (as_json) print_json(out);
  return code;
}

int webhooks_list(const Global& g, const std::string& sync, bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/false);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Result<std::vector<const SyncConfig*>> syncs = (*ctx)->syncs(sync);
  if (!syncs) return fail(kExitUsage, syncs.status().message());
  json out = json::array();
  for (const SyncConfig* s : *syncs) {
    Result<MailchimpClient*> mc = (*ctx)->mailchimp(s->mailchimp);
    if (!mc) return fail(exit_for(mc.status()), mc.status().message());
    Result<Audience> audience = (*mc)->resolve_audience(s->audience);
    if (!audience) return fail(exit_for(audience.status()), audience.status().message());
    Result<std::vector<Webhook>> hooks = (*mc)->webhooks(audience->id);
    if (!hooks) return fail(exit_for(hooks.status()), hooks.status().message());
    json listed = json::array();
    for (const Webhook& w : *hooks) {
      listed.push_back(
          {{"id", w.id},
           {"url", shown_url(w.url)},
           {"events", w.events},
           {"sources",
            {{"user", w.source_user}, {"admin", w.source_admin}, {"api", w.source_api}}}});
    }
    out.push_back({{"sync", s->name}, {"audience", audience->id}, {"webhooks", listed}});
    if (as_json) continue;
    std::printf("%s (audience %s): %zu webhook%s\n", s->name.c_str(), audience->id.c_str(),
                hooks->size(), hooks->size() == 1 ? "" : "s");
    for (const Webhook& w : *hooks) {
      std::string events;
      for (const std::string& e : w.events)
        events += (events.empty() ? "" : ",") + e;
      std::printf("  %s %s events=%s sources=%s%s%s\n", w.id.c_str(), shown_url(w.url).c_str(),
                  events.c_str(), w.source_user ? "user," : "", w.source_admin ? "admin," : "",
                  w.source_api ? "api" : "");
    }
  }
  if (as_json) print_json(out);
  return kExitOk;
}

}  // namespace concord::cli
