// The daemon's HTTP listener: where it listens, the token it requires, and the server that
// answers with the Api.
//
// Every listener needs a token (serve/auth.h): the one [serve] token_env names, or one made at
// first start (or by `concord init`) and kept in state_dir/serve.token, mode 0600. A token made
// is shown once on a terminal, never written to the log.
//
// Thread-safety: stop() from one thread.
#pragma once

#include <cstdint>
#include <filesystem>
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

// The token the status page and API require.
struct ServeToken {
  std::string token;
  std::filesystem::path file;  // where it is kept; empty when it comes from [serve] token_env
  bool made = false;           // made just now
};
// The token [serve] token_env names, or the one kept in state_dir/serve.token, made now when
// there is none. kInvalid when token_env names an unset variable; kIoError when the file cannot
// be read or made.
Result<ServeToken> serve_token(const Config& config);
// Shows a token just made on the terminal (stderr, when it is one); nothing otherwise.
void show_new_token(const ServeToken& t);

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
