// The HTTP client: a pool of keep-alive connections to one origin, with timeouts and retries.
//
// Each Connection owns its io_context, its stream (TCP or TLS over TCP) and its read buffer, in the
// manner of Beast's example/http/client/async-ssl. The API is synchronous: the calling thread
// starts one asynchronous operation and runs the connection's io_context until it completes, so
// that every operation is bounded by the stream's timer (expires_after / expires_at). Only one
// thread uses a connection at a time (the pool hands it out), so nothing here needs a strand.
//
// Pool: at most max_connections Connections exist at once; a sender takes an idle one (the most
// recently used first), opens a new one when below the limit, or waits. A connection goes back to
// the pool after a complete response unless either side asked to close it; after any failure it is
// discarded.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "concord/http.h"
#include "net/ascii.h"

namespace concord::http {
namespace {

using ascii::icontains;
using ascii::iequals;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using std::chrono::milliseconds;

// RFC 9110 token characters (method and header names).
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool has_control(std::string_view s, bool allow_tab) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(allow_tab && c == '\t')) || u == 0x7f) return true;
  }
  return false;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string host_for_url(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// An idle pooled connection older than this is closed rather than reused.
constexpr std::chrono::seconds kMaxIdle{60};

// How one attempt ended when it did not produce a response.
struct Failure {
  Status status;       // kUnavailable (or kInvalid for a response over the size limit)
  bool retry = true;   // worth another attempt
  bool stale = false;  // the connection was found closed before anything came back
  bool sent = false;   // the request was (at least partly) written: it may have been carried out
};

// The text of an Asio/Beast/OpenSSL error, without anything from the request.
// `limit` is the timeout that applied, for the message when it expired.
std::string describe(const beast::error_code& ec, milliseconds limit = milliseconds(0)) {
  if (ec == beast::error::timeout) {
    return "timed out after " + std::to_string(limit.count()) + " ms";
  }
  if (ec == bhttp::error::end_of_stream) return "connection closed by the server";
  if (ec == bhttp::error::partial_message) return "response cut short (connection closed)";
  if (ec == ssl::error::stream_truncated) return "connection closed by the server (TLS truncated)";
  return ec.message();
}

class Connection {
 public:
  // `tls` is null for plain TCP; otherwise it must outlive the connection.
  explicit Connection(ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(ioc_, *tls);
    } else {
      tcp_.emplace(ioc_);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ~Connection() { close(); }

  bool reused = false;                               // has carried a request before
  std::chrono::steady_clock::time_point idle_since;  // when it last went back to the pool

  // Resolves, connects and (for TLS) handshakes with verification, all within `timeout`.
  std::optional<Failure> open(const Url& url, milliseconds timeout,
                              std::atomic<std::uint64_t>* opened) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;

    // Name resolution cannot be interrupted (getaddrinfo); it counts against the same deadline.
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    beast::error_code ec = asio::error::would_block;
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [&](const beast::error_code& e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    drive();
    if (ec) return Failure{Status::unavailable("cannot resolve " + url.host + ": " + describe(ec))};

    ec = asio::error::would_block;
    lowest().expires_at(deadline);
    lowest().async_connect(endpoints,
                           [&](const beast::error_code& e, const tcp::endpoint&) { ec = e; });
    drive();
    if (ec) return Failure{Status::unavailable("cannot connect: " + describe(ec, timeout))};
    opened->fetch_add(1);
    boost::system::error_code ignored;
    lowest().socket().set_option(tcp::no_delay(true), ignored);
    if (!tls_) return std::nullopt;

    // SNI for names (RFC 6066 forbids IP literals there) and host-name or IP verification by
    // OpenSSL itself, so that a mismatch is reported as such by SSL_get_verify_result.
    SSL* ssl = tls_->native_handle();
    if (is_ip_literal(url.host)) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) != 1) {
        return Failure{Status::invalid("bad IP address " + url.host), false};
      }
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1 ||
          SSL_set1_host(ssl, url.host.c_str()) != 1) {
        return Failure{Status::invalid("bad host name " + url.host), false};
      }
    }
    ec = asio::error::would_block;
    lowest().expires_at(deadline);
    tls_->async_handshake(ssl::stream_base::client, [&](const beast::error_code& e) { ec = e; });
    drive();
    lowest().expires_never();
    if (!ec) return std::nullopt;

    const long verify = SSL_get_verify_result(ssl);
    const bool verify_failed =
        verify != X509_V_OK ||
        (ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
    if (verify_failed) {
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : describe(ec);
      return Failure{
          Status::unavailable("the server's TLS certificate could not be verified: " + why), false};
    }
    if (ec.category() == asio::error::get_ssl_category()) {
      // A protocol failure (no common version or cipher, not TLS at all): a retry will not help.
      return Failure{Status::unavailable("TLS handshake failed: " + describe(ec)), false};
    }
    return Failure{Status::unavailable("TLS handshake failed: " + describe(ec, timeout))};
  }

  // True when an idle connection still looks usable: not idle for too long (a NAT or firewall may
  // have forgotten it without a word), and nothing to read (no EOF, no stray bytes).
  bool idle_and_open() {
    if (!lowest().socket().is_open() || buffer_.size() != 0) return false;
    if (std::chrono::steady_clock::now() - idle_since > kMaxIdle) return false;
    pollfd pfd{};
    pfd.fd = lowest().socket().native_handle();
    pfd.events = POLLIN;
    return ::poll(&pfd, 1, 0) == 0;
  }

  // Writes `req` and reads the whole response into `out`, within `timeout`. On success sets
  // `*keep_alive` to whether the connection may carry another request.
  std::optional<Failure> exchange(const bhttp::request<bhttp::string_body>& req, bool head,
                                  milliseconds timeout, std::size_t body_limit, Response* out,
                                  bool* keep_alive) {
    lowest().expires_after(timeout);
    beast::error_code ec = asio::error::would_block;
    visit([&](auto& stream) {
      bhttp::async_write(stream, req, [&](const beast::error_code& e, std::size_t) { ec = e; });
    });
    drive();
    if (ec) {
      lowest().expires_never();
      const bool timed_out = ec == beast::error::timeout;
      return Failure{Status::unavailable("sending the request: " + describe(ec, timeout)), true,
                     !timed_out};
    }

    // Interim 1xx responses (a 100 Continue we did not ask for) are skipped.
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
    bool got_any = false;
    for (;;) {
      parser.emplace();
      parser->body_limit(static_cast<std::uint64_t>(body_limit));
      parser->header_limit(64 * 1024);
      if (head) parser->skip(true);
      ec = asio::error::would_block;
      visit([&](auto& stream) {
        bhttp::async_read(stream, buffer_, *parser,
                          [&](const beast::error_code& e, std::size_t) { ec = e; });
      });
      drive();
      got_any = got_any || parser->got_some();
      const unsigned code = parser->get().result_int();
      if (ec || code < 100 || code >= 200 || code == 101) break;
    }
    lowest().expires_never();
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        return Failure{Status::invalid("response body larger than max_body_bytes (" +
                                       std::to_string(body_limit) + ")"),
                       false};
      }
      if (ec == bhttp::error::header_limit) {
        return Failure{Status::invalid("response header larger than 64 KiB"), false};
      }
      const bool nothing_read = !got_any;
      const bool closed = ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                          ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
                          ec == ssl::error::stream_truncated;
      if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return Failure{Status::unavailable("malformed response: " + describe(ec))};
      }
      if (!nothing_read && closed) {
        return Failure{Status::unavailable("response cut short: " + describe(ec, timeout))};
      }
      return Failure{Status::unavailable("reading the response: " + describe(ec, timeout)), true,
                     nothing_read && closed};
    }

    auto& msg = parser->get();
    *keep_alive = msg.keep_alive() && !parser->need_eof() && req.keep_alive();
    out->status = static_cast<int>(msg.result_int());
    out->headers.clear();
    for (const auto& field : msg) {
      out->headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
    }
    out->body = std::move(msg.body());
    return std::nullopt;
  }

  void close() {
    boost::system::error_code ignored;
    if (lowest().socket().is_open()) {
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().socket().close(ignored);
    }
  }

 private:
  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

  template <typename F>
  void visit(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*tcp_);
    }
  }

  // Runs the operation just started to completion (its handler, and the stream's timer).
  void drive() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_{1};  // declared first: destroyed after the streams that use it
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;  // bytes read past a response stay here for the next one
};

class ClientImpl final : public Client {
 public:
  ClientImpl(Url origin, ClientOptions options, std::unique_ptr<ssl::context> tls)
      : origin_(std::move(origin)), options_(std::move(options)), tls_(std::move(tls)) {
    host_header_ = host_for_url(origin_.host);
    if (origin_.port != (origin_.tls() ? 443 : 80)) {
      host_header_ += ":" + std::to_string(origin_.port);
    }
  }

  ~ClientImpl() override {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.clear();
  }

  Result<Response> send(const Request& request) override {
    try {
      return send_impl(request);
    } catch (const std::exception& e) {
      return Status::internal(std::string("HTTP client: ") + e.what());
    }
  }

  std::uint64_t attempts() const override { return attempts_.load(); }
  std::uint64_t connections_opened() const override { return opened_.load(); }

 private:
  // How one attempt ended: a response, or a failure.
  struct Outcome {
    std::optional<Response> response;
    Failure failure;
  };

  Result<Response> send_impl(const Request& request) {
    // Names the request in errors: method, origin and path, never the query, headers or body.
    std::string what = request.method + " " + origin_.origin();
    what += std::string_view(request.target).substr(0, request.target.find('?'));

    if (!is_token(request.method)) return Status::invalid("bad HTTP method in " + what);
    if (request.target.empty() || request.target.front() != '/' ||
        has_control(request.target, false) || request.target.find(' ') != std::string::npos) {
      return Status::invalid("bad request target in " + what);
    }
    for (const Header& h : request.headers) {
      if (!is_token(h.name) || has_control(h.value, true)) {
        return Status::invalid("bad header '" + h.name + "' in " + what);
      }
    }

    bhttp::request<bhttp::string_body> req;
    const bhttp::verb verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) {
      req.method_string(request.method);
    } else {
      req.method(verb);
    }
    req.target(request.target);
    req.version(11);
    req.set(bhttp::field::host, host_header_);
    req.set(bhttp::field::user_agent, options_.user_agent);
    for (const Header& h : request.headers) {
      if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding")) continue;
      if (iequals(h.name, "host") || iequals(h.name, "user-agent")) {
        req.set(h.name, h.value);
      } else {
        req.insert(h.name, h.value);
      }
    }
    req.body() = request.body;
    req.prepare_payload();
    const bool head = verb == bhttp::verb::head;

    const RetryPolicy& policy = options_.retry;
    for (int attempt = 1;; ++attempt) {
      Outcome outcome = attempt_once(req, head, request.idempotent);
      Status why;
      std::chrono::milliseconds delay{0};
      if (outcome.response) {
        Response& response = *outcome.response;
        // A request that must not be repeated is sent again only after a 429 (refused unread).
        const bool again =
            request.idempotent ? policy.retry_response(response) : response.status == 429;
        if (attempt >= policy.max_attempts || !again) return std::move(response);
        why = Status::unavailable(what + ": HTTP " + std::to_string(response.status));
        delay = retry_delay(policy, attempt, &response);
      } else {
        const Failure& f = outcome.failure;
        if (!f.retry) return f.status.with_context(what);
        if (f.sent && !request.idempotent) {
          return Status::unavailable(what + ": " + f.status.message() +
                                     " (not sent again: it may have been carried out)");
        }
        if (attempt >= policy.max_attempts) {
          return Status::unavailable(what + ": " + f.status.message() + " (gave up after " +
                                     std::to_string(attempt) + " attempts)");
        }
        why = f.status.with_context(what);
        delay = retry_delay(policy, attempt, nullptr);
      }
      if (options_.on_retry) options_.on_retry(attempt, why);
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
    }
  }

  // One attempt. A reused keep-alive connection that turns out to have been closed by the server
  // before anything came back is replaced by a fresh one within the same attempt.
  // A request that must not be repeated (`idempotent` false) is not sent again on a fresh
  // connection, as the server may have read it before closing.
  Outcome attempt_once(const bhttp::request<bhttp::string_body>& req, bool head, bool idempotent) {
    bool fresh = false;
    for (int pass = 0;; ++pass) {
      attempts_.fetch_add(1);
      std::unique_ptr<Connection> conn;
      if (std::optional<Failure> f = acquire(fresh, &conn)) return Outcome{std::nullopt, *f};
      const bool reused = conn->reused;
      conn->reused = true;
      Response response;
      bool keep_alive = false;
      std::optional<Failure> f = conn->exchange(req, head, options_.request_timeout,
                                                options_.max_body_bytes, &response, &keep_alive);
      release(std::move(conn), !f && keep_alive);
      if (!f) return Outcome{std::move(response), {}};
      // Sent again at once only when the policy allows repeating requests at all.
      if (reused && f->stale && pass == 0 && options_.retry.max_attempts > 1 && idempotent) {
        fresh = true;
        continue;
      }
      f->sent = true;
      return Outcome{std::nullopt, *f};
    }
  }

  // Hands out a connection: an idle one that still looks open (unless `fresh`), a new one while
  // fewer than max_connections exist, or waits for one to come back.
  std::optional<Failure> acquire(bool fresh, std::unique_ptr<Connection>* out) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      while (!fresh && !idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        if (c->idle_and_open()) {
          *out = std::move(c);
          return std::nullopt;
        }
        --open_;  // closed by the server while idle: drop it
      }
      if (open_ < options_.max_connections) break;
      if (fresh && !idle_.empty()) {
        idle_.erase(idle_.begin());  // make room for the fresh one
        --open_;
        continue;
      }
      cv_.wait(lock);
    }
    ++open_;
    lock.unlock();

    auto conn = std::make_unique<Connection>(tls_.get());
    std::optional<Failure> f = conn->open(origin_, options_.connect_timeout, &opened_);
    if (f) {
      conn.reset();
      lock.lock();
      --open_;
      cv_.notify_one();
      return f;
    }
    *out = std::move(conn);
    return std::nullopt;
  }

  void release(std::unique_ptr<Connection> conn, bool reusable) {
    if (!reusable) conn.reset();  // closes it, outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    if (reusable) {
      conn->idle_since = std::chrono::steady_clock::now();
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  const Url origin_;
  const ClientOptions options_;
  const std::unique_ptr<ssl::context> tls_;  // null for http
  std::string host_header_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mu_)
  int open_ = 0;                                   // GUARDED_BY(mu_): idle and in use

  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<std::uint64_t> opened_{0};
};

}  // namespace

bool default_retry_response(const Response& r) {
  if (r.status == 429 || (r.status >= 500 && r.status <= 599)) return true;
  if (r.status == 403) return !icontains(r.header("Content-Type"), "application/problem+json");
  return false;
}

std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      const Response* response) {
  const std::int64_t base = std::max<std::int64_t>(0, policy.base_delay.count());
  const std::int64_t cap = std::max<std::int64_t>(0, policy.max_delay.count());
  std::int64_t delay = base;
  for (int i = 1; i < attempt && delay > 0 && delay < cap; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, cap);

  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> jitter(delay / 2, delay);
  std::int64_t ms = jitter(rng);

  // Retry-After in seconds (the HTTP-date form is not used by the APIs concord talks to).
  if (response != nullptr) {
    std::string_view after = response->header("Retry-After");
    while (!after.empty() && (after.front() == ' ' || after.front() == '\t'))
      after.remove_prefix(1);
    while (!after.empty() && (after.back() == ' ' || after.back() == '\t'))
      after.remove_suffix(1);
    std::int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(after.data(), after.data() + after.size(), seconds);
    if (!after.empty() && ec == std::errc() && ptr == after.data() + after.size() && seconds >= 0) {
      const std::int64_t wanted = seconds > cap / 1000 ? cap : seconds * 1000;
      ms = std::max(ms, std::min(wanted, cap));
    }
  }
  return std::chrono::milliseconds(ms);
}

Result<std::unique_ptr<Client>> Client::create(const Url& origin, ClientOptions options) {
  if (origin.scheme != "https" && origin.scheme != "http") {
    return Status::invalid("HTTP client: the scheme must be http or https");
  }
  if (origin.host.empty() || origin.port == 0) {
    return Status::invalid("HTTP client: the origin needs a host and a port");
  }
  if (options.max_connections < 1) {
    return Status::invalid("HTTP client: max_connections must be at least 1");
  }
  if (options.retry.max_attempts < 1) {
    return Status::invalid("HTTP client: retry.max_attempts must be at least 1");
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return Status::invalid("HTTP client: timeouts must be positive");
  }
  if (options.retry.base_delay.count() < 0 || options.retry.max_delay.count() < 0) {
    return Status::invalid("HTTP client: retry delays must not be negative");
  }
  if (!options.retry.retry_response) options.retry.retry_response = default_retry_response;

  std::unique_ptr<ssl::context> tls;
  if (origin.tls()) {
    try {
      tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    } catch (const std::exception& e) {
      return Status::internal(std::string("HTTP client: cannot create a TLS context: ") + e.what());
    }
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    tls->set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (options.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
      if (ec) {
        return Status::invalid("HTTP client: cannot load the system certificate store: " +
                               ec.message());
      }
    } else {
      tls->load_verify_file(options.ca_file, ec);
      if (ec) {
        return Status::invalid("HTTP client: cannot load ca_file " + options.ca_file + ": " +
                               ec.message());
      }
    }
  }
  return std::unique_ptr<Client>(
      std::make_unique<ClientImpl>(origin, std::move(options), std::move(tls)));
}

}  // namespace concord::http
