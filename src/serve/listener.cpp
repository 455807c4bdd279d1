// The daemon's HTTP listener: address, token, server.
#include "serve/listener.h"

#include <sys/stat.h>

#include <fstream>

#include "concord/parse.h"
#include "serve/webhook.h"

namespace concord::serve {
namespace {

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The token the data routes require (empty: none).
Result<std::string> set_up_token(const Config& config, bool loopback, const Log& log) {
  const ServeConfig& sc = config.serve;
  if (!sc.token_env.empty()) return read_secret(sc.token_env, "the status page's token");
  if (loopback) return std::string();
  // Off loopback, a token is required: made once, kept in the state directory.
  const std::filesystem::path file = config.state_dir / "serve.token";
  std::string token;
  std::ifstream in(file);
  if (in && std::getline(in, token) && !token.empty()) return token;
  token = random_secret();
  {
    std::ofstream out(file, std::ios::trunc);
    out << token << "\n";
    if (!out) return Status::io_error("cannot write " + file.string());
  }
  ::chmod(file.c_str(), 0600);
  if (log) {
    log("the status page and API need a token; it is kept in " + file.string() +
        " (readable by this user only). Token: " + token);
  }
  return token;
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

Result<std::unique_ptr<Listener>> Listener::start(const Config& config, const std::string& listen,
                                                  DaemonView& view, Log log) {
  const ServeConfig& sc = config.serve;
  Result<std::pair<std::string, std::uint16_t>> where =
      parse_listen(listen.empty() ? sc.listen : listen);
  if (!where) return where.status();
  ApiOptions o;
  Result<std::string> token = set_up_token(config, loopback_host(where->first), log);
  if (!token) return token.status();
  o.token = std::move(*token);
  if (!sc.signature_header.empty()) {
    Result<std::string> secret =
        read_secret(sc.signature_secret_env, "the webhook signature secret");
    if (!secret) return secret.status();
    o.signature_header = sc.signature_header;
    o.signature_secret = std::move(*secret);
  }
  o.log = log;
  const bool with_token = !o.token.empty();
  std::unique_ptr<Listener> l(new Listener());
  l->api_ = std::make_unique<Api>(view, std::move(o));
  http::ServerOptions so;
  so.bind = where->first;
  so.port = where->second;
  so.max_body_bytes = 1u << 20;
  Api* api = l->api_.get();
  Result<std::unique_ptr<http::Server>> server = http::Server::start(
      so, [api](const http::Request& r, const http::Peer&) { return api->handle(r); });
  if (!server) return server.status().with_context("listening on " + where->first);
  l->server_ = std::move(*server);
  if (log) {
    const std::string host =
        where->first.find(':') != std::string::npos ? "[" + where->first + "]" : where->first;
    const std::size_t pairs = view.syncs().size();
    log("listening on http://" + host + ":" + std::to_string(l->server_->port()) + "/ (" +
        std::to_string(pairs) + " sync pair" + (pairs == 1 ? "" : "s") +
        (with_token ? ", token required" : ", no token: loopback only") + ")");
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
