// The daemon's HTTP listener: where it listens, the token it requires, and the server that
// answers with the Api.
//
// A listener on loopback only needs no token unless [serve] token_env names one; any other needs
// one, made at first start (printed once in the log, kept in state_dir/serve.token, mode 0600)
// when token_env is not set.
//
// Thread-safety: stop() from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "concord/config.h"
#include "concord/http.h"
#include "concord/status.h"
#include "serve/api.h"

namespace concord::serve {

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80", "localhost:80" → bind address and port.
// kInvalid naming the text otherwise.
Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& listen);

class Listener {
 public:
  // Listens on `listen` (empty: config.serve.listen) and answers every request with an Api over
  // `view`, with the token and the webhook signature secret [serve] names (read from the
  // environment). Logs where it listens. Errors: kInvalid for a bad address or a missing secret,
  // kUnavailable when the address cannot be bound, kIoError when the token cannot be kept.
  // REQUIRES: `view` outlives the listener.
  static Result<std::unique_ptr<Listener>> start(const Config& config, const std::string& listen,
                                                 DaemonView& view, Log log);
  ~Listener();  // stops

  std::uint16_t port() const { return server_->port(); }
  // Closes the listener and its connections; waits for requests being answered. Idempotent.
  void stop();

 private:
  Listener() = default;

  std::unique_ptr<Api> api_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace concord::serve
