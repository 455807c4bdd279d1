// HTTP/1.1 over TCP or TLS: a keep-alive client for one origin, and a small server.
//
// Both are built on Boost.Beast in src/net/; no Beast or Asio type appears here, so that only the
// few files in src/net/ pay for those headers.
//
// Thread-safety: a Client may be used from many threads at once (at most max_connections
// requests are on the wire; the others wait for a connection). A Server calls its handler from
// several threads at once; the handler must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"

namespace concord::http {

struct Header {
  std::string name;
  std::string value;
};

// Looks a header up by name, case-insensitively. Returns "" when absent.
std::string_view find_header(const std::vector<Header>& headers, std::string_view name);

struct Request {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE
  std::string target;          // origin-form: path and query, e.g. "/3.0/lists?count=1000"
  // The client adds Host, User-Agent and Content-Length. A Host or User-Agent given here replaces
  // the client's; a Content-Length or Transfer-Encoding given here is ignored. `Connection: close`
  // here closes the connection after the response (keep-alive is HTTP/1.1's default).
  std::vector<Header> headers;
  std::string body;
  // False for a request that must not be carried out twice (it creates something): once it may
  // have reached the server (a connection lost after writing it, a 5xx), it is not sent again and
  // the failure is returned; only a 429 (refused unread) or a failure to connect is retried.
  bool idempotent = true;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

struct Response {
  int status = 0;
  std::vector<Header> headers;
  std::string body;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

// scheme://host[:port][/base/path]
struct Url {
  std::string scheme;  // "https" or "http"
  std::string host;    // a name or an IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string path;  // "" or starting with '/', without a trailing '/'

  // Parses an absolute http(s) URL. Returns kInvalid naming what is wrong. The default port is
  // 443 for https and 80 for http.
  static Result<Url> parse(std::string_view text);
  bool tls() const { return scheme == "https"; }
  // "https://host:port" (the port only when not the scheme's default).
  std::string origin() const;
};

// The value of an `Authorization` header for HTTP Basic authentication: "Basic " and the
// base64 of "user:secret". (It holds the secret: never log it.)
std::string basic_authorization(std::string_view user, std::string_view secret);

// Percent-encodes a query value or path segment (RFC 3986 unreserved characters pass through).
std::string url_encode(std::string_view s);
// Decodes %XX (and '+' as space when `plus_is_space`, as in form bodies). Returns false on a bad
// escape.
bool url_decode(std::string_view s, std::string* out, bool plus_is_space = false);
// Parses "a=1&b=two" (a query string or an application/x-www-form-urlencoded body) into pairs,
// decoded, in order.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// When and how often the client retries.
struct RetryPolicy {
  int max_attempts = 6;  // including the first
  std::chrono::milliseconds base_delay{500};
  std::chrono::milliseconds max_delay{30000};
  // Which responses are retried. Default: 429, every 5xx, and a 403 whose body is not
  // problem+json (a bare 403 from a proxy or CDN, not an API answer).
  std::function<bool(const Response&)> retry_response;
};

// Whether the default policy retries this response.
bool default_retry_response(const Response& r);

// The delay before retry number `attempt` (1 = the first retry): exponential from base_delay,
// capped at max_delay, with full jitter (uniform in [delay/2, delay]). A Retry-After header in
// seconds, when present and larger, is used instead, but never beyond max_delay (a send() does not
// sleep for an hour because a server asked it to; the caller's next run will try again).
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      const Response* response);

struct ClientOptions {
  // PEM file of trusted root certificates. Empty: the operating system's store. Certificates and
  // host names are always verified for https.
  std::string ca_file;
  // Connections open at once (keep-alive; reused). Default 8 (Mailchimp refuses more than 10 at
  // once per account).
  int max_connections = 8;
  // Name resolution (which cannot be interrupted), TCP connect and TLS handshake, together.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{120000};  // write the request, read the whole response
  RetryPolicy retry;
  std::string user_agent = "concord/0.1";
  // Largest response body accepted. Default 64 MiB. A larger one fails the request with kInvalid,
  // without a retry.
  std::size_t max_body_bytes = 64u << 20;
  // Called before each retry with the number of the attempt that failed (1 = the first; the same
  // number retry_delay() is given) and the reason; for logs and metrics. Must not log secrets
  // (requests are not passed to it; the reason names the method, origin and path, never the
  // query, headers or body). Called on the sending thread.
  std::function<void(int attempt, const Status& why)> on_retry;
};

// A keep-alive HTTP client for one origin.
class Client {
 public:
  // Returns kInvalid for a bad ca_file or options. Only the scheme, host and port of `origin` are
  // used: request targets are complete (its path is not prepended).
  static Result<std::unique_ptr<Client>> create(const Url& origin, ClientOptions options = {});
  // REQUIRES: no send() in progress.
  virtual ~Client() = default;

  // Sends one request and returns the final response, whatever its status, after retrying as the
  // policy says (responses it retries, connection resets, timeouts, truncated bodies). When every
  // attempt failed without a response: kUnavailable naming the last failure. TLS verification
  // failures are kUnavailable too, but are not retried. A response body over max_body_bytes is
  // kInvalid, not retried; so is a malformed request (bad method, target or header), which is not
  // sent at all. A retried request is sent again whole, so only send requests that are safe to
  // repeat, or make them so. A kept-alive connection found closed by the server before any byte of
  // the response came back is replaced and the request sent again at once, within the same
  // attempt (unless max_attempts is 1). Error messages name the method, origin and path, never the
  // query, the headers or the body.
  virtual Result<Response> send(const Request& request) = 0;

  // Requests sent (every attempt, and a request sent again after a kept-alive connection was found
  // closed) and connections opened (TCP connections established) so far: for tests and metrics.
  virtual std::uint64_t attempts() const = 0;
  virtual std::uint64_t connections_opened() const = 0;
};

// ---- server ------------------------------------------------------------------------------------

struct ServerOptions {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see Server::port())
  // PEM files of the certificate chain and private key; both empty: plain HTTP.
  std::string cert_file;
  std::string key_file;
  // Connections served at once. A connection beyond it takes the place of the oldest one still
  // waiting for its request's header (a slow or idle client); when every connection is inside a
  // request, it waits in the accept backlog.
  int max_connections = 256;
  // Connections from one address at once; beyond it, the address's oldest connection still
  // waiting for a request header is closed to make room, or, when there is none, the new one is.
  // So a client holding many slow connections cannot keep others (or its own next request) out.
  int max_connections_per_peer = 256;
  // The deadline of each step of a request: the wait for its header (whole, however slowly it
  // trickles in, and including the idle wait of a kept-alive connection), reading its body,
  // writing the response.
  std::chrono::milliseconds idle_timeout{30000};
  std::size_t max_body_bytes = 64u << 20;
};

struct Peer {
  std::string address;  // the client's IP address
  bool loopback = false;
};

// The handler's answer. Returning `close = true` (or a `Connection: close` header) closes the
// connection after the response; a handler may also ask to reset the connection without
// answering, or to cut the body short (fault injection).
//
// The response's headers are sent as given, except Content-Length, Transfer-Encoding and
// Connection, which the server sets: Content-Length is the body's size (none for 1xx, 204 and
// 304, which never carry a body); a HEAD request gets the headers only. A status outside
// 100..999 is sent as 500.
struct Reply {
  Response response;
  bool close = false;
  bool reset_without_response = false;
  std::size_t truncate_body_at = static_cast<std::size_t>(-1);  // send only this many body bytes
};

using Handler = std::function<Reply(const Request& request, const Peer& peer)>;
// Called with a request's method, target and headers (no body yet) before its body is read: a
// reply refuses the request unread (authentication, a body too large for the route) and closes
// the connection; nullopt lets it through to the handler.
using Admit = std::function<std::optional<Reply>(const Request& head, const Peer& peer)>;

// A threaded HTTP/1.1 server: one thread per connection, keep-alive, optional TLS. It answers by
// itself, and then closes the connection, a malformed request (400), a request header over 64 KiB
// (431) or a body over max_body_bytes (413); `Expect: 100-continue` is honoured. A handler that
// throws gets a 500. A connection idle for idle_timeout (or that takes that long to send a request
// or read a response) is closed.
class Server {
 public:
  // Binds and starts accepting. Returns kUnavailable when the address cannot be bound, kInvalid
  // for unreadable certificate or key files.
  static Result<std::unique_ptr<Server>> start(ServerOptions options, Handler handler,
                                               Admit admit = {});
  virtual ~Server() = default;  // stops the server

  virtual std::uint16_t port() const = 0;
  // Stops accepting, closes connections, waits for handlers to return. Idempotent.
  // REQUIRES: not called from the handler.
  virtual void stop() = 0;
};

// Writes a new self-signed certificate authority and a server certificate signed by it, valid for
// "localhost", 127.0.0.1 and ::1 (for the sandbox and tests): ca.pem, server.pem and server.key
// (mode 0600) in `dir`, which is created if needed. Each call makes a new authority: a client
// trusting one call's ca.pem does not trust another's server. Returns kIoError when they cannot
// be written.
Status write_test_certificates(const std::string& dir);

}  // namespace concord::http
