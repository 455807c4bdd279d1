// The HTTP server: an acceptor thread and one thread per connection.
//
// Like the client, every connection owns an io_context and its stream; its thread starts one
// asynchronous operation at a time and runs the io_context until it completes, so that each read
// and write is bounded by the stream's timer (idle_timeout). stop() reaches a connection only
// through its io_context (asio::post is thread-safe; the socket is not): the posted close runs on
// the connection's own thread, inside its next run(), and aborts whatever it is waiting for.
//
// Lifetime: a Conn is owned by conns_ until stop() or the acceptor reaps it after its thread has
// finished; threads are always joined, never detached.
//
// Slow clients: a connection counts against max_connections and its peer's
// max_connections_per_peer from its accept until its thread finishes or it is evicted. A new
// connection over either limit evicts the oldest connection (of its peer, for the per-peer limit)
// that is still waiting for a request header — closed through its io_context like stop() does —
// so connections that trickle bytes, or sit idle, never keep a real request out.
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "concord/http.h"
#include "net/ascii.h"

namespace concord::http {
namespace {

using ascii::iequals;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using std::chrono::milliseconds;

constexpr std::uint32_t kHeaderLimit = 64 * 1024;
// After an error answer sent before the request was read whole, how long and how much of the
// rest is read and dropped, so that closing does not reset the connection before the client has
// read the answer.
constexpr milliseconds kLingerTime{500};
constexpr std::size_t kLingerBytes = 1 << 20;

bool header_ok(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// A request's method, target and headers (its body is added by the caller once read).
template <typename Fields>
Request head_of(const bhttp::request<bhttp::string_body, Fields>& msg) {
  Request request;
  request.method = std::string(msg.method_string());
  request.target = std::string(msg.target());
  for (const auto& field : msg) {
    request.headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
  }
  return request;
}

Reply internal_error() {
  Reply reply;
  reply.response.status = 500;
  reply.response.headers = {{"Content-Type", "text/plain"}};
  reply.response.body = "internal error\n";
  reply.close = true;
  return reply;
}

// One accepted connection. The streams are built by the acceptor before the thread starts and
// are then used only by that thread (and by handlers posted to `ioc`, which run on it).
struct Conn {
  asio::io_context ioc{1};  // first: destroyed after the streams
  std::optional<beast::tcp_stream> tcp;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::thread thread;
  Peer peer;             // set before the thread starts, then read-only
  bool done = false;     // GUARDED_BY(ServerImpl::mu_): the thread has finished its work
  bool waiting = true;   // GUARDED_BY(ServerImpl::mu_): no request header read since the last
                         // response (handshake, idle keep-alive, or a header trickling in)
  bool evicted = false;  // GUARDED_BY(ServerImpl::mu_): closed to make room; no longer counted

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }

  // Runs the operation just started to completion.
  void drive() {
    ioc.restart();
    ioc.run();
  }
};

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions options, Handler handler, Admit admit, std::unique_ptr<ssl::context> tls)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        admit_(std::move(admit)),
        tls_(std::move(tls)) {}

  ~ServerImpl() override { stop(); }

  Status listen() {
    boost::system::error_code ec;
    tcp::endpoint endpoint;
    const asio::ip::address address = asio::ip::make_address(options_.bind, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, options_.port);
    } else {
      tcp::resolver resolver(accept_ioc_);
      auto results = resolver.resolve(options_.bind, std::to_string(options_.port),
                                      tcp::resolver::passive, ec);
      if (ec || results.empty()) {
        return Status::unavailable("cannot resolve bind address " + options_.bind + ": " +
                                   (ec ? ec.message() : "no address"));
      }
      endpoint = results.begin()->endpoint();
    }
    const std::string where = options_.bind + ":" + std::to_string(options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
      acceptor_.set_option(asio::ip::v6_only(false), ec);  // "::" takes IPv4 too
    }
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::unavailable("cannot listen on " + where + ": " + ec.message());
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return Status::unavailable("cannot listen on " + where + ": " + ec.message());
    accept_thread_ = std::thread([this] { accept_loop(); });
    return Status::ok();
  }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    std::lock_guard<std::mutex> stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    asio::post(accept_ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    if (accept_thread_.joinable()) accept_thread_.join();
    boost::system::error_code ignored;
    acceptor_.close(ignored);

    std::list<std::shared_ptr<Conn>> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      conns.swap(conns_);
      // The raw pointer is safe: the handler runs only inside the connection thread's run(),
      // and the Conn outlives that thread (joined below).
      for (const auto& c : conns) {
        Conn* conn = c.get();
        asio::post(conn->ioc, [conn] { conn->lowest().close(); });
      }
    }
    for (const auto& c : conns) {
      if (c->thread.joinable()) c->thread.join();
    }
  }

 private:
  void accept_loop() {
    for (;;) {
      reap_finished();
      auto conn = std::make_shared<Conn>();
      tcp::socket socket(conn->ioc);
      beast::error_code ec = asio::error::would_block;
      acceptor_.async_accept(socket, [&](const beast::error_code& e) { ec = e; });
      accept_ioc_.restart();
      accept_ioc_.run();
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        // Out of descriptors or a connection aborted before it was accepted: try again shortly.
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // responses go out in one or two writes
      {
        const tcp::endpoint remote = socket.remote_endpoint(ec);
        if (ec) continue;  // gone already
        asio::ip::address a = remote.address();
        if (a.is_v6() && a.to_v6().is_v4_mapped()) {
          a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
        }
        conn->peer.address = a.to_string();
        conn->peer.loopback = a.is_loopback();
      }

      std::unique_lock<std::mutex> lock(mu_);
      if (per_peer_[conn->peer.address] >= options_.max_connections_per_peer &&
          !evict_oldest_waiting(&conn->peer.address)) {
        continue;  // every connection of this peer is inside a request: this one is refused
      }
      if (live_ >= options_.max_connections) evict_oldest_waiting(nullptr);
      // Nothing to evict: wait (as in the accept backlog) for a connection to finish.
      cv_.wait(lock, [this] { return stopping_ || live_ < options_.max_connections; });
      if (stopping_) return;  // `socket` closes as it goes out of scope
      if (tls_) {
        conn->tls.emplace(std::move(socket), *tls_);
      } else {
        conn->tcp.emplace(std::move(socket));
      }
      try {
        conn->thread = std::thread([this, c = conn.get()] { serve(*c); });
      } catch (const std::system_error&) {
        continue;  // no thread to be had: the connection is dropped (closed with `conn`)
      }
      ++live_;
      ++per_peer_[conn->peer.address];
      conns_.push_back(std::move(conn));
    }
  }

  // Joins and forgets the connections whose threads have finished.
  void reap_finished() {
    std::list<std::shared_ptr<Conn>> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = conns_.begin(); it != conns_.end();) {
        if ((*it)->done) {
          finished.push_back(std::move(*it));
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (const auto& c : finished) {
      c->thread.join();
    }
  }

  // Closes the oldest counted connection still waiting for a request header (of `peer`, when
  // given) and stops counting it. False when there is none.
  bool evict_oldest_waiting(const std::string* peer) /* REQUIRES(mu_) */ {
    for (const auto& c : conns_) {  // oldest first
      if (c->done || c->evicted || !c->waiting) continue;
      if (peer != nullptr && c->peer.address != *peer) continue;
      c->evicted = true;
      uncount(*c);
      Conn* conn = c.get();  // alive until reaped, which joins its thread first
      asio::post(conn->ioc, [conn] { conn->lowest().close(); });
      return true;
    }
    return false;
  }

  void uncount(const Conn& c) /* REQUIRES(mu_) */ {
    --live_;
    auto it = per_peer_.find(c.peer.address);
    if (it != per_peer_.end() && --it->second <= 0) per_peer_.erase(it);
  }

  // Marks the connection as waiting for a request header or not. False when it was evicted
  // (it must not go on: it is no longer counted); once it is not waiting, it cannot be.
  bool set_waiting(Conn& c, bool waiting) {
    std::lock_guard<std::mutex> lock(mu_);
    c.waiting = waiting;
    return !c.evicted;
  }

  void serve(Conn& c) {
    try {
      if (c.tls) {
        handshake_and_serve(c);
      } else {
        session(c, *c.tcp);
      }
    } catch (const std::exception&) {
      // Only allocation failures and the like get here; the connection is dropped.
    }
    beast::error_code ignored;
    c.lowest().socket().close(ignored);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!c.evicted) uncount(c);
      c.done = true;
    }
    cv_.notify_all();
  }

  void handshake_and_serve(Conn& c) {
    beast::error_code ec = asio::error::would_block;
    c.lowest().expires_after(options_.idle_timeout);
    c.tls->async_handshake(ssl::stream_base::server, [&](const beast::error_code& e) { ec = e; });
    c.drive();
    if (ec) return;
    if (session(c, *c.tls)) {
      // Send close_notify without waiting for the peer's: mark the peer's as received first.
      SSL* ssl = c.tls->native_handle();
      SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
      c.lowest().expires_after(std::min(options_.idle_timeout, kLingerTime));
      c.tls->async_shutdown([](const beast::error_code&) {});
      c.drive();
    }
  }

  // Serves requests until the connection should close. Returns true when it should be closed
  // gracefully (TLS: with close_notify), false after a reset or a transport failure.
  template <typename Stream>
  bool session(Conn& c, Stream& stream) {
    const Peer& peer = c.peer;
    beast::flat_buffer buffer;
    for (;;) {
      if (stopping_.load()) return true;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));

      set_waiting(c, true);
      beast::error_code ec = asio::error::would_block;
      c.lowest().expires_after(options_.idle_timeout);
      bhttp::async_read_header(stream, buffer, parser,
                               [&](const beast::error_code& e, std::size_t) { ec = e; });
      c.drive();
      if (!ec) {
        if (!set_waiting(c, false)) return false;
        const auto& head = parser.get();
        if (admit_) {
          Request request = head_of(head);
          std::optional<Reply> refused;
          try {
            refused = admit_(request, peer);
          } catch (...) {
            refused = internal_error();
          }
          if (refused) return refuse(c, stream, std::move(*refused));
        }
        if (iequals(head[bhttp::field::expect], "100-continue") && !parser.is_done()) {
          bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
          ec = asio::error::would_block;
          c.lowest().expires_after(options_.idle_timeout);
          bhttp::async_write(stream, cont,
                             [&](const beast::error_code& e, std::size_t) { ec = e; });
          c.drive();
          if (ec) return false;
        }
        ec = asio::error::would_block;
        c.lowest().expires_after(options_.idle_timeout);
        bhttp::async_read(stream, buffer, parser,
                          [&](const beast::error_code& e, std::size_t) { ec = e; });
        c.drive();
      }
      if (ec) {
        if (ec == bhttp::error::body_limit) {
          return error_reply(c, stream, 413, "request body too large\n");
        }
        if (ec == bhttp::error::header_limit) {
          return error_reply(c, stream, 431, "request header too large\n");
        }
        if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          return error_reply(c, stream, 400, "bad request\n");
        }
        return false;  // closed, timed out, reset, or stopped
      }

      auto& msg = parser.get();
      Request request = head_of(msg);
      request.body = std::move(msg.body());
      const bool head_request = msg.method() == bhttp::verb::head;
      const bool client_keeps_alive = msg.keep_alive();

      Reply reply;
      try {
        reply = handler_(request, peer);
      } catch (...) {
        reply = internal_error();
      }

      if (reply.reset_without_response) {
        boost::system::error_code ignored;
        c.lowest().socket().set_option(asio::socket_base::linger(true, 0), ignored);
        c.lowest().socket().close(ignored);
        return false;
      }
      bool close = reply.close || !client_keeps_alive || stopping_.load();
      if (iequals(reply.response.header("Connection"), "close")) close = true;
      const bool truncated = reply.truncate_body_at < reply.response.body.size();
      if (!write_response(c, stream, std::move(reply), head_request, close)) return false;
      if (close || truncated) return true;
    }
  }

  // Writes the response: the handler's headers as given (without any Content-Length,
  // Transfer-Encoding or Connection of its own), our Content-Length and Connection, then the body,
  // or only its first truncate_body_at bytes. Returns false when the write failed.
  template <typename Stream>
  bool write_response(Conn& c, Stream& stream, Reply reply, bool head_request, bool close) {
    int status = reply.response.status;
    if (status < 100 || status > 999) status = 500;
    const bool no_body = status < 200 || status == 204 || status == 304;

    bhttp::response<bhttp::string_body> res;
    res.result(static_cast<unsigned>(status));
    res.version(11);
    for (const Header& h : reply.response.headers) {
      if (!header_ok(h.name, h.value) || iequals(h.name, "Content-Length") ||
          iequals(h.name, "Transfer-Encoding") || iequals(h.name, "Connection")) {
        continue;
      }
      res.insert(h.name, h.value);
    }
    if (!no_body) res.content_length(reply.response.body.size());
    if (close) res.set(bhttp::field::connection, "close");
    res.body() = std::move(reply.response.body);

    std::size_t body_bytes = no_body || head_request ? 0 : res.body().size();
    body_bytes = std::min(body_bytes, reply.truncate_body_at);

    bhttp::response_serializer<bhttp::string_body> serializer(res);
    beast::error_code ec = asio::error::would_block;
    c.lowest().expires_after(options_.idle_timeout);
    if (body_bytes == res.body().size() && body_bytes > 0) {
      // The whole message, header and body in one gathered write.
      bhttp::async_write(stream, serializer,
                         [&](const beast::error_code& e, std::size_t) { ec = e; });
      c.drive();
      return !ec;
    }
    bhttp::async_write_header(stream, serializer,
                              [&](const beast::error_code& e, std::size_t) { ec = e; });
    c.drive();
    if (ec) return false;
    if (body_bytes == 0) return true;
    ec = asio::error::would_block;
    c.lowest().expires_after(options_.idle_timeout);
    asio::async_write(stream, asio::buffer(res.body().data(), body_bytes),
                      [&](const beast::error_code& e, std::size_t) { ec = e; });
    c.drive();
    return !ec;
  }

  // Answers a request that could not be read whole (400, 413, 431), then closes: sends our half
  // of the close, and reads and drops what the client still sends for a moment, so that the
  // answer is not lost to a reset. Returns false: the connection is finished.
  template <typename Stream>
  bool error_reply(Conn& c, Stream& stream, int status, std::string body) {
    Reply reply;
    reply.response.status = status;
    reply.response.headers = {{"Content-Type", "text/plain"}};
    reply.response.body = std::move(body);
    return refuse(c, stream, std::move(reply));
  }

  // error_reply() with the reply given (admit_'s refusal).
  template <typename Stream>
  bool refuse(Conn& c, Stream& stream, Reply reply) {
    if (!write_response(c, stream, std::move(reply), false, true)) return false;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      SSL* ssl = c.tls->native_handle();
      SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
      beast::error_code ec = asio::error::would_block;
      c.lowest().expires_after(kLingerTime);
      c.tls->async_shutdown([&](const beast::error_code& e) { ec = e; });
      c.drive();
    }
    boost::system::error_code ignored;
    c.lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    c.lowest().expires_after(kLingerTime);
    std::size_t drained = 0;
    char scratch[4096];
    for (;;) {
      beast::error_code ec = asio::error::would_block;
      std::size_t n = 0;
      c.lowest().async_read_some(asio::buffer(scratch),
                                 [&](const beast::error_code& e, std::size_t got) {
                                   ec = e;
                                   n = got;
                                 });
      c.drive();
      drained += n;
      if (ec || drained >= kLingerBytes) break;
    }
    return false;
  }

  const ServerOptions options_;
  const Handler handler_;
  const Admit admit_;                        // may be empty
  const std::unique_ptr<ssl::context> tls_;  // null for plain HTTP

  asio::io_context accept_ioc_{1};
  tcp::acceptor acceptor_{accept_ioc_};  // used by the accept thread only, until it is joined
  std::uint16_t port_ = 0;
  std::thread accept_thread_;

  std::mutex stop_mu_;
  bool stopped_ = false;  // GUARDED_BY(stop_mu_)

  std::mutex mu_;
  std::condition_variable cv_;
  std::list<std::shared_ptr<Conn>> conns_;  // GUARDED_BY(mu_), oldest first
  int live_ = 0;                            // GUARDED_BY(mu_): counted connections
  std::map<std::string, int> per_peer_;     // GUARDED_BY(mu_): counted connections per address
  std::atomic<bool> stopping_{false};       // set under mu_ (for cv_); read without it too
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Handler handler, Admit admit) {
  if (!handler) return Status::invalid("HTTP server: no handler");
  if (options.max_connections < 1 || options.max_connections_per_peer < 1) {
    return Status::invalid("HTTP server: max_connections(_per_peer) must be at least 1");
  }
  if (options.idle_timeout.count() <= 0) {
    return Status::invalid("HTTP server: idle_timeout must be positive");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status::invalid("HTTP server: give both cert_file and key_file, or neither");
  }

  std::unique_ptr<ssl::context> tls;
  if (!options.cert_file.empty()) {
    try {
      tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    } catch (const std::exception& e) {
      return Status::internal(std::string("HTTP server: cannot create a TLS context: ") + e.what());
    }
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    tls->use_certificate_chain_file(options.cert_file, ec);
    if (ec) {
      return Status::invalid("HTTP server: cannot load the certificate " + options.cert_file +
                             ": " + ec.message());
    }
    tls->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) {
      return Status::invalid("HTTP server: cannot load the key " + options.key_file + ": " +
                             ec.message());
    }
    if (SSL_CTX_check_private_key(tls->native_handle()) != 1) {
      return Status::invalid("HTTP server: the key " + options.key_file +
                             " does not match the certificate " + options.cert_file);
    }
  }

  auto server = std::make_unique<ServerImpl>(std::move(options), std::move(handler),
                                             std::move(admit), std::move(tls));
  try {
    if (Status s = server->listen(); !s.is_ok()) return s;
  } catch (const std::exception& e) {
    return Status::internal(std::string("HTTP server: ") + e.what());
  }
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace concord::http
