// The daemon's HTTP listener: address, token, server.
#include "serve/listener.h"

#include <unistd.h>

#include <cstdio>

#include "concord/parse.h"
#include "net/ascii.h"
#include "serve/webhook.h"

namespace concord::serve {
namespace {

// The names the daemon answers as (serve/auth.h): the public URL's host and the listen address's,
// when they are names.
Site site_of(const Config& config, const std::string& bind) {
  Site site;
  auto add_name = [&](std::string_view host) {
    if (!host.empty()) site.hosts.push_back(http::ascii::to_lower(host));
  };
  add_name(bind);
  if (!config.serve.public_url.empty()) {
    if (Result<http::Url> u = http::Url::parse(config.serve.public_url)) {
      add_name(u->host);
      site.public_origin = u->origin();
      site.tls = u->tls();
    }
  }
  return site;
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::invalid("[serve] listen must be address:port (not \"" + listen + "\")");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = listen.substr(colon + 1);
  Result<std::uint64_t> p = parse_uint64(port);
  if (!p || *p > 65535) return Status::invalid("[serve] listen: bad port \"" + port + "\"");
  if (host == "localhost") host = "127.0.0.1";
  return std::make_pair(host, static_cast<std::uint16_t>(*p));
}

Result<ServeToken> serve_token(const Config& config) {
  const ServeConfig& sc = config.serve;
  if (!sc.token_env.empty()) {
    Result<std::string> t = read_secret(sc.token_env, "the status page's token");
    if (!t) return t.status();
    return ServeToken{std::move(*t), {}, false};
  }
  bool made = false;
  Result<std::string> kept = state_secret(config.state_dir, "serve.token", &made);
  if (!kept) return kept.status();
  return ServeToken{std::move(*kept), config.state_dir / "serve.token", made};
}

void show_new_token(const ServeToken& t) {
  if (!t.made) return;
  if (::isatty(STDERR_FILENO) == 1) {
    std::fprintf(stderr,
                 "The status page and API need this token (kept in %s, readable by this user "
                 "only; shown only now):\n\n    %s\n\n",
                 t.file.c_str(), t.token.c_str());
  }
}

Result<std::unique_ptr<Listener>> Listener::start(const Config& config, const std::string& listen,
                                                  DaemonView& view, Log log) {
  const ServeConfig& sc = config.serve;
  Result<std::pair<std::string, std::uint16_t>> where =
      parse_listen(listen.empty() ? sc.listen : listen);
  if (!where) return where.status();
  ApiOptions o;
  Result<ServeToken> token = serve_token(config);
  if (!token) return token.status();
  show_new_token(*token);
  if (token->made && log) {
    // The log says where the token is, never the token.
    log("made a token for the status page and API; it is kept in " + token->file.string());
  }
  o.token = std::move(token->token);
  o.site = site_of(config, where->first);
  if (!sc.signature_header.empty()) {
    Result<std::string> secret =
        read_secret(sc.signature_secret_env, "the webhook signature secret");
    if (!secret) return secret.status();
    o.signature_header = sc.signature_header;
    o.signature_secret = std::move(*secret);
  }
  o.log = log;
  std::unique_ptr<Listener> l(new Listener());
  l->api_ = std::make_unique<Api>(view, std::move(o));
  http::ServerOptions so;
  so.bind = where->first;
  so.port = where->second;
  // Bounds on slow and greedy clients (http.h): every request must arrive whole within 10 s, no
  // body beyond 20 MiB (Amplitude's /batch; Api::admit holds deliveries to 64 KiB and refuses
  // unauthenticated bodies unread), and one address holding many connections gives up its idle
  // ones to its next request rather than keeping anyone out.
  so.max_body_bytes = 20u << 20;
  so.idle_timeout = std::chrono::seconds(10);
  so.max_connections = 512;
  so.max_connections_per_peer = 64;
  Api* api = l->api_.get();
  Result<std::unique_ptr<http::Server>> server = http::Server::start(
      so,
      [api](const http::Request& r, const http::Peer& peer) {
        return api->handle(r, peer.address);
      },
      [api](const http::Request& head, const http::Peer&) { return api->admit(head); });
  if (!server) return server.status().with_context("listening on " + where->first);
  l->server_ = std::move(*server);
  if (log) {
    const std::string host =
        where->first.find(':') != std::string::npos ? "[" + where->first + "]" : where->first;
    const std::size_t pairs = view.syncs().size();
    log("listening on http://" + host + ":" + std::to_string(l->server_->port()) + "/ (" +
        std::to_string(pairs) + " sync pair" + (pairs == 1 ? "" : "s") + ", token required)");
  }
  return l;
}

Listener::~Listener() {
  stop();
}

void Listener::stop() {
  if (server_) server_->stop();
}

}  // namespace concord::serve
