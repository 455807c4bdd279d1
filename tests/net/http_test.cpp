// The HTTP client and server over real sockets on the loopback interface, with TLS, and the retry
// policy (the URL helpers are in url_test.cpp). Every test starts its own Server in this process;
// retries use millisecond delays.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "concord/http.h"

namespace http = concord::http;
using concord::Status;
using std::chrono::milliseconds;

namespace {

// A fresh directory under the system's temporary directory, removed afterwards.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "concord-net-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const char* name) const { return (path / name).string(); }
};

// One CA and server certificate for the whole run (generating keys is the slow part).
const TempDir& certs() {
  static TempDir dir;
  static const bool written = [] {
    const Status s = http::write_test_certificates(dir.path.string());
    INFO(s.to_string());
    return s.is_ok();
  }();
  REQUIRE(written);
  return dir;
}

http::Reply reply(int status, std::string body = "", std::vector<http::Header> headers = {}) {
  http::Reply r;
  r.response.status = status;
  r.response.body = std::move(body);
  r.response.headers = std::move(headers);
  return r;
}

std::unique_ptr<http::Server> start(http::Handler handler, http::ServerOptions options = {}) {
  auto server = http::Server::start(std::move(options), std::move(handler));
  INFO(server.status().to_string());
  REQUIRE(server.is_ok());
  REQUIRE(server.value()->port() != 0);
  return std::move(server).value();
}

std::unique_ptr<http::Server> start_tls(http::Handler handler, http::ServerOptions options = {}) {
  options.cert_file = certs().file("server.pem");
  options.key_file = certs().file("server.key");
  return start(std::move(handler), std::move(options));
}

http::RetryPolicy fast_retry(int max_attempts = 6) {
  http::RetryPolicy p;
  p.max_attempts = max_attempts;
  p.base_delay = milliseconds(1);
  p.max_delay = milliseconds(4);
  return p;
}

std::unique_ptr<http::Client> client_for(const std::string& url, http::ClientOptions options = {}) {
  auto origin = http::Url::parse(url);
  INFO(origin.status().to_string());
  REQUIRE(origin.is_ok());
  auto client = http::Client::create(origin.value(), std::move(options));
  INFO(client.status().to_string());
  REQUIRE(client.is_ok());
  return std::move(client).value();
}

std::string local(const http::Server& server, const char* scheme = "http",
                  const char* host = "127.0.0.1") {
  return std::string(scheme) + "://" + host + ":" + std::to_string(server.port());
}

http::Request get(std::string target) {
  http::Request r;
  r.target = std::move(target);
  return r;
}

// A plain TCP connection for speaking raw bytes to the server.
struct RawSocket {
  int fd = -1;
  explicit RawSocket(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{};
    tv.tv_sec = 5;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawSocket() { ::close(fd); }
  void send(std::string_view s) {
    REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
  }
  // Reads until `marker` has been seen, EOF, or an error/timeout.
  std::string read_until(std::string_view marker = {}) {
    std::string out;
    char buf[4096];
    for (;;) {
      if (!marker.empty() && out.find(marker) != std::string::npos) return out;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
};

}  // namespace

// ---- retry policy ------------------------------------------------------------------------------

TEST_CASE("default_retry_response", "[retry]") {
  struct Row {
    int status;
    const char* content_type;
    bool retried;
  };
  const Row rows[] = {
      {200, "", false},
      {204, "", false},
      {400, "application/problem+json", false},
      {404, "", false},
      {409, "", false},
      {403, "text/plain", true},
      {403, "", true},
      {403, "application/problem+json", false},
      {403, "Application/Problem+JSON; charset=utf-8", false},
      {429, "application/problem+json", true},
      {500, "", true},
      {502, "text/html", true},
      {503, "", true},
      {599, "", true},
  };
  for (const Row& row : rows) {
    INFO(row.status << " " << row.content_type);
    http::Response r;
    r.status = row.status;
    if (*row.content_type) r.headers.push_back({"Content-Type", row.content_type});
    CHECK(http::default_retry_response(r) == row.retried);
  }
}

TEST_CASE("retry_delay: exponential, capped, jittered, Retry-After", "[retry]") {
  http::RetryPolicy p;
  p.base_delay = milliseconds(100);
  p.max_delay = milliseconds(1000);
  for (int i = 0; i < 50; ++i) {
    const auto d1 = http::retry_delay(p, 1, nullptr).count();
    CHECK(d1 >= 50);
    CHECK(d1 <= 100);
    const auto d3 = http::retry_delay(p, 3, nullptr).count();
    CHECK(d3 >= 200);
    CHECK(d3 <= 400);
    const auto d30 = http::retry_delay(p, 30, nullptr).count();
    CHECK(d30 >= 500);
    CHECK(d30 <= 1000);
  }
  http::Response r;
  r.status = 429;
  r.headers = {{"Retry-After", " 0 "}};
  CHECK(http::retry_delay(p, 1, &r).count() <= 100);  // smaller than the backoff: backoff
  r.headers = {{"Retry-After", "1"}};
  CHECK(http::retry_delay(p, 1, &r).count() == 1000);
  r.headers = {{"Retry-After", "3600"}};
  CHECK(http::retry_delay(p, 1, &r).count() == 1000);  // never longer than max_delay
  r.headers = {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}};
  CHECK(http::retry_delay(p, 1, &r).count() <= 100);  // not seconds: ignored
}

// ---- round trips -------------------------------------------------------------------------------

TEST_CASE("plain HTTP round trip", "[client][server]") {
  std::mutex mu;
  http::Request seen;
  http::Peer seen_peer;
  auto server = start([&](const http::Request& req, const http::Peer& peer) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req;
    seen_peer = peer;
    return reply(201, "created " + req.body, {{"Content-Type", "text/plain"}, {"X-Id", "7"}});
  });
  auto client = client_for(local(*server));

  http::Request req;
  req.method = "POST";
  req.target = "/3.0/lists?count=1000&fields=a,b";
  req.headers = {{"Content-Type", "application/json"}, {"X-Test", "yes"}};
  req.body = R"({"a":1})";
  auto res = client->send(req);
  INFO(res.status().to_string());
  REQUIRE(res.is_ok());
  CHECK(res->status == 201);
  CHECK(res->body == R"(created {"a":1})");
  CHECK(res->header("x-id") == "7");
  CHECK(res->header("Content-Length") == std::to_string(res->body.size()));

  std::lock_guard<std::mutex> lock(mu);
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/3.0/lists?count=1000&fields=a,b");
  CHECK(seen.body == R"({"a":1})");
  CHECK(seen.header("X-Test") == "yes");
  CHECK(seen.header("Content-Type") == "application/json");
  CHECK(seen.header("Host") == "127.0.0.1:" + std::to_string(server->port()));
  CHECK(seen.header("User-Agent") == "concord/0.1");
  CHECK(seen.header("Content-Length") == "7");
  CHECK(seen_peer.address == "127.0.0.1");
  CHECK(seen_peer.loopback);
  CHECK(client->attempts() == 1);
  CHECK(client->connections_opened() == 1);
}

TEST_CASE("HEAD, 204 and 304 carry no body", "[client][server]") {
  auto server = start([](const http::Request& req, const http::Peer&) {
    if (req.target == "/204") return reply(204, "ignored");
    if (req.target == "/304") return reply(304, "ignored");
    return reply(200, "0123456789");
  });
  auto client = client_for(local(*server));
  http::Request head = get("/x");
  head.method = "HEAD";
  for (int i = 0; i < 2; ++i) {  // twice: the connection stays usable after each
    auto h = client->send(head);
    REQUIRE(h.is_ok());
    CHECK(h->status == 200);
    CHECK(h->header("Content-Length") == "10");
    CHECK(h->body.empty());
    auto r204 = client->send(get("/204"));
    REQUIRE(r204.is_ok());
    CHECK(r204->status == 204);
    CHECK(r204->body.empty());
    CHECK(r204->header("Content-Length").empty());
    auto r304 = client->send(get("/304"));
    REQUIRE(r304.is_ok());
    CHECK(r304->status == 304);
    CHECK(r304->body.empty());
    auto full = client->send(get("/x"));
    REQUIRE(full.is_ok());
    CHECK(full->body == "0123456789");
  }
  CHECK(client->connections_opened() == 1);
}

TEST_CASE("TLS round trip, by IP address and by name", "[client][server][tls]") {
  auto server = start_tls([](const http::Request& req, const http::Peer&) {
    return reply(200, "secure " + req.target);
  });
  http::ClientOptions options;
  options.ca_file = certs().file("ca.pem");
  for (const char* host : {"127.0.0.1", "localhost"}) {
    INFO(host);
    auto client = client_for(local(*server, "https", host), options);
    for (int i = 0; i < 3; ++i) {
      auto res = client->send(get("/hello"));
      INFO(res.status().to_string());
      REQUIRE(res.is_ok());
      CHECK(res->status == 200);
      CHECK(res->body == "secure /hello");
    }
    CHECK(client->connections_opened() == 1);
  }
}

TEST_CASE("TLS: a certificate from another CA is refused at once", "[client][tls]") {
  auto server = start_tls([](const http::Request&, const http::Peer&) { return reply(200); });
  TempDir other;
  REQUIRE(http::write_test_certificates(other.path.string()).is_ok());
  http::ClientOptions options;
  options.ca_file = other.file("ca.pem");
  options.retry = fast_retry();
  int retries = 0;
  options.on_retry = [&](int, const Status&) { ++retries; };
  auto client = client_for(local(*server, "https"), options);
  auto res = client->send(get("/"));
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().code() == Status::Code::kUnavailable);
  CHECK(res.status().message().find("could not be verified") != std::string::npos);
  CHECK(client->attempts() == 1);
  CHECK(retries == 0);
}

TEST_CASE("TLS: the system store does not trust the test CA", "[client][tls]") {
  auto server = start_tls([](const http::Request&, const http::Peer&) { return reply(200); });
  http::ClientOptions options;  // no ca_file: the operating system's store
  options.retry = fast_retry();
  auto client = client_for(local(*server, "https"), options);
  auto res = client->send(get("/"));
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().code() == Status::Code::kUnavailable);
  CHECK(res.status().message().find("could not be verified") != std::string::npos);
  CHECK(client->attempts() == 1);
}

TEST_CASE("TLS: an address the certificate does not name is refused", "[client][tls]") {
  http::ServerOptions options;
  options.bind = "127.0.0.2";  // all of 127/8 is loopback on Linux; the certificate says .1
  options.cert_file = certs().file("server.pem");
  options.key_file = certs().file("server.key");
  auto server = http::Server::start(
      options, [](const http::Request&, const http::Peer&) { return reply(200); });
  if (!server.is_ok()) {
    WARN("cannot bind 127.0.0.2 here: " << server.status().to_string());
    return;
  }
  http::ClientOptions copts;
  copts.ca_file = certs().file("ca.pem");
  copts.retry = fast_retry();
  auto client = client_for(local(*server.value(), "https", "127.0.0.2"), copts);
  auto res = client->send(get("/"));
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().code() == Status::Code::kUnavailable);
  CHECK(res.status().message().find("could not be verified") != std::string::npos);
  CHECK(res.status().message().find("IP address mismatch") != std::string::npos);
  CHECK(client->attempts() == 1);
}

TEST_CASE("TLS: a host name the certificate does not name is refused", "[client][tls]") {
  // Needs a name other than "localhost" that resolves to 127.0.0.1: the machine's own name
  // often does (/etc/hosts); skipped otherwise.
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || std::string_view(name) == "localhost") {
    WARN("no host name to try");
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  bool loopback = false;
  if (::getaddrinfo(name, nullptr, &hints, &found) == 0) {
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      loopback = loopback || ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
    }
    ::freeaddrinfo(found);
  }
  if (!loopback) {
    WARN(name << " does not resolve to 127.0.0.1 here");
    return;
  }
  auto server = start_tls([](const http::Request&, const http::Peer&) { return reply(200); });
  http::ClientOptions options;
  options.ca_file = certs().file("ca.pem");
  options.retry = fast_retry();
  auto client = client_for(local(*server, "https", name), options);
  auto res = client->send(get("/"));
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().code() == Status::Code::kUnavailable);
  CHECK(res.status().message().find("could not be verified: hostname mismatch") !=
        std::string::npos);
  CHECK(client->attempts() == 1);
}

TEST_CASE("IPv6 loopback", "[client][server]") {
  http::ServerOptions options;
  options.bind = "::1";
  auto server = http::Server::start(options, [](const http::Request&, const http::Peer& peer) {
    return reply(200, peer.address + (peer.loopback ? " loopback" : ""));
  });
  if (!server.is_ok()) {
    WARN("no IPv6 loopback here: " << server.status().to_string());
    return;
  }
  auto client = client_for("http://[::1]:" + std::to_string(server.value()->port()));
  auto res = client->send(get("/"));
  REQUIRE(res.is_ok());
  CHECK(res->body == "::1 loopback");
}

// ---- connections -------------------------------------------------------------------------------

TEST_CASE("keep-alive: sequential requests share one connection", "[client][server]") {
  auto server =
      start([](const http::Request& req, const http::Peer&) { return reply(200, req.target); });
  auto client = client_for(local(*server));
  for (int i = 0; i < 50; ++i) {
    auto res = client->send(get("/n/" + std::to_string(i)));
    REQUIRE(res.is_ok());
    CHECK(res->body == "/n/" + std::to_string(i));
  }
  CHECK(client->connections_opened() == 1);
  CHECK(client->attempts() == 50);
}

TEST_CASE("Connection: close from the server", "[client][server]") {
  auto server = start([](const http::Request&, const http::Peer&) {
    http::Reply r = reply(200, "bye");
    r.close = true;
    return r;
  });
  auto client = client_for(local(*server));
  for (int i = 0; i < 3; ++i) {
    auto res = client->send(get("/"));
    REQUIRE(res.is_ok());
    CHECK(res->body == "bye");
    CHECK(res->header("Connection") == "close");
  }
  CHECK(client->connections_opened() == 3);
  CHECK(client->attempts() == 3);
}

TEST_CASE("a connection the server closed while idle is replaced", "[client][server]") {
  http::ServerOptions options;
  options.idle_timeout = milliseconds(50);
  auto server =
      start([](const http::Request&, const http::Peer&) { return reply(200, "ok"); }, options);
  auto client = client_for(local(*server));
  REQUIRE(client->send(get("/")).is_ok());
  std::this_thread::sleep_for(milliseconds(200));
  auto res = client->send(get("/"));
  INFO(res.status().to_string());
  REQUIRE(res.is_ok());
  CHECK(res->body == "ok");
  CHECK(client->connections_opened() == 2);
}

// A raw one-thread server whose first connection answers one request and then, when the second
// request arrives on it, closes without answering: a keep-alive connection lost in a race with
// the server's idle close. Later connections are answered.
struct ForgetfulServer {
  int fd = -1;
  std::uint16_t port = 0;
  std::thread thread;

  ForgetfulServer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{};
    tv.tv_sec = 5;  // accept() and recv() give up after this, so the thread always ends
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    thread = std::thread([this] { run(); });
  }
  ~ForgetfulServer() {
    thread.join();
    ::close(fd);
  }

  static bool read_request(int conn) {
    std::string in;
    char buf[1024];
    while (in.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  static void answer(int conn, std::string_view body) {
    const std::string out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                            "\r\n\r\n" + std::string(body);
    ::send(conn, out.data(), out.size(), MSG_NOSIGNAL);
  }
  void run() {
    const int first = ::accept(fd, nullptr, nullptr);
    if (first < 0) return;
    if (read_request(first)) answer(first, "first");
    read_request(first);
    ::close(first);
    const int second = ::accept(fd, nullptr, nullptr);
    if (second < 0) return;
    timeval tv{};
    tv.tv_sec = 5;
    ::setsockopt(second, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (read_request(second)) answer(second, "second");
    ::close(second);
  }
};

TEST_CASE("a kept-alive connection closed under a request is replaced at once", "[client][retry]") {
  ForgetfulServer server;
  http::ClientOptions options;
  int retries = 0;
  options.on_retry = [&](int, const Status&) { ++retries; };
  SECTION("retries allowed: sent again on a fresh connection, not counted as a retry") {
    options.retry = fast_retry(2);
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port), options);
    auto one = client->send(get("/1"));
    REQUIRE(one.is_ok());
    CHECK(one->body == "first");
    auto two = client->send(get("/2"));
    INFO(two.status().to_string());
    REQUIRE(two.is_ok());
    CHECK(two->body == "second");
    CHECK(retries == 0);
    CHECK(client->connections_opened() == 2);
    CHECK(client->attempts() == 3);
  }
  SECTION("max_attempts = 1: never sent twice") {
    options.retry = fast_retry(1);
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port), options);
    REQUIRE(client->send(get("/1")).is_ok());
    auto two = client->send(get("/2"));
    REQUIRE_FALSE(two.is_ok());
    CHECK(two.status().code() == Status::Code::kUnavailable);
    CHECK(client->attempts() == 2);
    // Let the server's thread finish: it waits for a second connection.
    RawSocket(server.port).send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  }
}

TEST_CASE("the client keeps at most max_connections open", "[client][server]") {
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  auto server = start([&](const http::Request&, const http::Peer&) {
    const int now = ++in_flight;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(milliseconds(15));
    --in_flight;
    return reply(200, "ok");
  });
  http::ClientOptions options;
  options.max_connections = 3;
  auto client = client_for(local(*server), options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&] {
      auto res = client->send(get("/"));
      if (res.is_ok() && res->status == 200) ++ok;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(ok == 20);
  CHECK(most.load() >= 1);
  CHECK(most.load() <= 3);
  CHECK(client->connections_opened() <= 3);
  CHECK(client->attempts() == 20);
}

TEST_CASE("the server serves at most max_connections at once", "[server]") {
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  http::ServerOptions options;
  options.max_connections = 2;
  options.idle_timeout = milliseconds(100);  // frees slots held by idle keep-alive connections
  auto server = start(
      [&](const http::Request&, const http::Peer&) {
        const int now = ++in_flight;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(milliseconds(10));
        --in_flight;
        return reply(200, "ok");
      },
      options);
  http::ClientOptions copts;
  copts.max_connections = 4;
  copts.request_timeout = milliseconds(10000);
  auto client = client_for(local(*server), copts);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto res = client->send(get("/"));
      if (res.is_ok() && res->status == 200) ++ok;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(ok == 8);
  CHECK(most.load() <= 2);
}

TEST_CASE("slow connections give way: a new request is answered at once", "[server]") {
  std::atomic<int> handled{0};
  http::ServerOptions options;
  options.max_connections = 8;
  options.max_connections_per_peer = 4;
  options.idle_timeout = std::chrono::seconds(30);  // the slow ones would hold on for long
  auto server = start(
      [&](const http::Request&, const http::Peer&) {
        ++handled;
        return reply(200, "ok");
      },
      options);
  // Twenty connections trickle half a header each and then wait (slowloris), all from loopback:
  // more than the peer's limit and the server's.
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<RawSocket>(server->port()));
    slow.back()->send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  // A real request from the same address still gets through, promptly.
  const auto start_time = std::chrono::steady_clock::now();
  RawSocket real(server->port());
  real.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string answer = real.read_until("ok");
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start_time < std::chrono::seconds(3));
  CHECK(handled == 1);
  // The oldest slow ones were closed to make room.
  CHECK(slow.front()->read_until().empty());
}

TEST_CASE("admit refuses a request on its header, before its body is read", "[server]") {
  std::atomic<int> handled{0};
  std::atomic<int> admitted{0};
  auto started = http::Server::start(
      http::ServerOptions{},
      [&](const http::Request&, const http::Peer&) {
        ++handled;
        return reply(200, "ok");
      },
      [&](const http::Request& head, const http::Peer&) -> std::optional<http::Reply> {
        ++admitted;
        CHECK(head.body.empty());
        if (head.header("Authorization") != "Bearer yes") return reply(401, "who?");
        return std::nullopt;
      });
  REQUIRE(started.is_ok());
  auto& server = *started;
  // The header announces a body it never sends: the answer comes anyway.
  RawSocket refused(server->port());
  refused.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  CHECK(refused.read_until("who?").rfind("HTTP/1.1 401", 0) == 0);
  // No `100 Continue` invited the body either.
  RawSocket expecting(server->port());
  expecting.send(
      "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  const std::string said = expecting.read_until("who?");
  CHECK(said.find("100 Continue") == std::string::npos);
  CHECK(said.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(handled == 0);

  auto client = client_for(local(*server));
  http::Request ok = get("/x");
  ok.headers.push_back({"Authorization", "Bearer yes"});
  auto res = client->send(ok);
  REQUIRE(res.is_ok());
  CHECK(res->status == 200);
  CHECK(handled == 1);
  CHECK(admitted == 3);
}

// ---- retries -----------------------------------------------------------------------------------

// A handler that answers with `script[i]` for the i-th request, then with the last entry.
struct Script {
  std::vector<http::Reply> replies;
  std::atomic<int> calls{0};
  http::Handler handler() {
    return [this](const http::Request&, const http::Peer&) {
      const int i = calls++;
      return replies[std::min<std::size_t>(static_cast<std::size_t>(i), replies.size() - 1)];
    };
  }
};

http::Reply reset() {
  http::Reply r;
  r.reset_without_response = true;
  return r;
}

TEST_CASE("503 twice, then 200", "[retry]") {
  Script script{{reply(503, "busy"), reply(503, "busy"), reply(200, "done")}};
  auto server = start(script.handler());
  http::ClientOptions options;
  options.retry = fast_retry();
  std::vector<int> retried;
  options.on_retry = [&](int attempt, const Status& why) {
    retried.push_back(attempt);
    CHECK(why.code() == Status::Code::kUnavailable);
    CHECK(why.message().find("503") != std::string::npos);
  };
  auto client = client_for(local(*server), options);
  auto res = client->send(get("/"));
  REQUIRE(res.is_ok());
  CHECK(res->status == 200);
  CHECK(res->body == "done");
  CHECK(client->attempts() == 3);
  CHECK(retried == std::vector<int>{1, 2});
  CHECK(client->connections_opened() == 1);  // a retried response keeps its connection
}

TEST_CASE("429 with Retry-After: 0 is retried", "[retry]") {
  Script script{{reply(429, "slow down", {{"Retry-After", "0"}}), reply(200, "ok")}};
  auto server = start(script.handler());
  http::ClientOptions options;
  options.retry = fast_retry();
  auto client = client_for(local(*server), options);
  auto res = client->send(get("/"));
  REQUIRE(res.is_ok());
  CHECK(res->status == 200);
  CHECK(client->attempts() == 2);
}

TEST_CASE("404 is returned, not retried", "[retry]") {
  Script script{{reply(404, "no such list"), reply(200, "wrong")}};
  auto server = start(script.handler());
  http::ClientOptions options;
  options.retry = fast_retry();
  auto client = client_for(local(*server), options);
  auto res = client->send(get("/"));
  REQUIRE(res.is_ok());
  CHECK(res->status == 404);
  CHECK(res->body == "no such list");
  CHECK(client->attempts() == 1);
}

TEST_CASE("a bare 403 is retried; an API's problem+json 403 is not", "[retry]") {
  http::ClientOptions options;
  options.retry = fast_retry();
  SECTION("text/plain") {
    Script script{{reply(403, "denied by proxy", {{"Content-Type", "text/plain"}}), reply(200)}};
    auto server = start(script.handler());
    auto client = client_for(local(*server), options);
    auto res = client->send(get("/"));
    REQUIRE(res.is_ok());
    CHECK(res->status == 200);
    CHECK(client->attempts() == 2);
  }
  SECTION("problem+json") {
    Script script{{reply(403, R"({"title":"Forbidden"})",
                         {{"Content-Type", "application/problem+json; charset=utf-8"}}),
                   reply(200)}};
    auto server = start(script.handler());
    auto client = client_for(local(*server), options);
    auto res = client->send(get("/"));
    REQUIRE(res.is_ok());
    CHECK(res->status == 403);
    CHECK(client->attempts() == 1);
  }
}

TEST_CASE("a reset without a response is retried", "[retry]") {
  Script script{{reset(), reset(), reply(200, "ok")}};
  auto server = start(script.handler());
  http::ClientOptions options;
  options.retry = fast_retry();
  auto client = client_for(local(*server), options);
  auto res = client->send(get("/"));
  INFO(res.status().to_string());
  REQUIRE(res.is_ok());
  CHECK(res->body == "ok");
  CHECK(client->attempts() == 3);
  CHECK(client->connections_opened() == 3);
}

TEST_CASE("a truncated body is retried", "[retry]") {
  http::Reply cut = reply(200, "0123456789");
  cut.truncate_body_at = 3;
  Script script{{cut, reply(200, "0123456789")}};
  auto server = start(script.handler());
  http::ClientOptions options;
  options.retry = fast_retry();
  Status first_reason;
  options.on_retry = [&](int, const Status& why) { first_reason = why; };
  auto client = client_for(local(*server), options);
  auto res = client->send(get("/"));
  INFO(res.status().to_string());
  REQUIRE(res.is_ok());
  CHECK(res->body == "0123456789");
  CHECK(client->attempts() == 2);
  CHECK(first_reason.message().find("cut short") != std::string::npos);
}

TEST_CASE("a truncated body over TLS is retried", "[retry][tls]") {
  http::Reply cut = reply(200, "0123456789");
  cut.truncate_body_at = 5;
  Script script{{cut, reset(), reply(200, "0123456789")}};
  auto server = start_tls(script.handler());
  http::ClientOptions options;
  options.ca_file = certs().file("ca.pem");
  options.retry = fast_retry();
  auto client = client_for(local(*server, "https"), options);
  auto res = client->send(get("/"));
  INFO(res.status().to_string());
  REQUIRE(res.is_ok());
  CHECK(res->body == "0123456789");
  CHECK(client->attempts() == 3);
}

TEST_CASE("a request that must not be repeated is not sent twice once it may have arrived",
          "[retry]") {
  http::ClientOptions options;
  options.retry = fast_retry();
  auto create = [] {
    http::Request r;
    r.method = "POST";
    r.target = "/create";
    r.body = "x";
    r.idempotent = false;
    return r;
  };
  SECTION("a reset after the request was written: returned, not repeated") {
    Script script{{reset(), reply(200, "created twice")}};
    auto server = start(script.handler());
    auto client = client_for(local(*server), options);
    auto res = client->send(create());
    REQUIRE_FALSE(res.is_ok());
    CHECK(res.status().retryable());
    CHECK(res.status().message().find("not sent again") != std::string::npos);
    CHECK(client->attempts() == 1);
  }
  SECTION("a truncated answer: returned, not repeated") {
    http::Reply cut = reply(200, "0123456789");
    cut.truncate_body_at = 3;
    Script script{{cut, reply(200, "0123456789")}};
    auto server = start(script.handler());
    auto client = client_for(local(*server), options);
    REQUIRE_FALSE(client->send(create()).is_ok());
    CHECK(client->attempts() == 1);
  }
  SECTION("a 503 is returned as it is") {
    Script script{{reply(503, "busy"), reply(200, "done")}};
    auto server = start(script.handler());
    auto client = client_for(local(*server), options);
    auto res = client->send(create());
    REQUIRE(res.is_ok());
    CHECK(res->status == 503);
    CHECK(client->attempts() == 1);
  }
  SECTION("a 429 (refused unread) is sent again") {
    Script script{{reply(429, "slow down", {{"Retry-After", "0"}}), reply(200, "done")}};
    auto server = start(script.handler());
    auto client = client_for(local(*server), options);
    auto res = client->send(create());
    REQUIRE(res.is_ok());
    CHECK(res->body == "done");
    CHECK(client->attempts() == 2);
  }
}

TEST_CASE("retries exhausted", "[retry]") {
  SECTION("without a response: kUnavailable naming the last failure") {
    Script script{{reset()}};
    auto server = start(script.handler());
    http::ClientOptions options;
    options.retry = fast_retry(3);
    auto client = client_for(local(*server), options);
    http::Request req;
    req.method = "PUT";
    req.target = "/3.0/lists/abc?apikey=QUERYSECRET";
    req.headers = {{"Authorization", "Bearer HEADERSECRET"}};
    req.body = "BODYSECRET";
    auto res = client->send(req);
    REQUIRE_FALSE(res.is_ok());
    CHECK(res.status().code() == Status::Code::kUnavailable);
    CHECK(client->attempts() == 3);
    CHECK(script.calls == 3);
    const std::string msg = res.status().message();
    INFO(msg);
    CHECK(msg.find("PUT http://127.0.0.1:") != std::string::npos);
    CHECK(msg.find("/3.0/lists/abc") != std::string::npos);
    CHECK(msg.find("3 attempts") != std::string::npos);
    CHECK(msg.find("SECRET") == std::string::npos);
  }
  SECTION("with responses: the last response") {
    Script script{{reply(503, "still busy")}};
    auto server = start(script.handler());
    http::ClientOptions options;
    options.retry = fast_retry(4);
    auto client = client_for(local(*server), options);
    auto res = client->send(get("/"));
    REQUIRE(res.is_ok());
    CHECK(res->status == 503);
    CHECK(res->body == "still busy");
    CHECK(client->attempts() == 4);
  }
  SECTION("nobody listening") {
    std::uint16_t port = 0;
    {
      auto server = start([](const http::Request&, const http::Peer&) { return reply(200); });
      port = server->port();
    }
    http::ClientOptions options;
    options.retry = fast_retry(2);
    auto client = client_for("http://127.0.0.1:" + std::to_string(port), options);
    auto res = client->send(get("/"));
    REQUIRE_FALSE(res.is_ok());
    CHECK(res.status().code() == Status::Code::kUnavailable);
    CHECK(res.status().message().find("connect") != std::string::npos);
    CHECK(client->connections_opened() == 0);
  }
}

TEST_CASE("a request that outlasts request_timeout is retried, then fails", "[retry]") {
  std::atomic<int> calls{0};
  auto server = start([&](const http::Request&, const http::Peer&) {
    ++calls;
    std::this_thread::sleep_for(milliseconds(300));
    return reply(200, "too late");
  });
  http::ClientOptions options;
  options.request_timeout = milliseconds(60);
  options.retry = fast_retry(2);
  auto client = client_for(local(*server), options);
  const auto t0 = std::chrono::steady_clock::now();
  auto res = client->send(get("/slow"));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(res.is_ok());
  CHECK(res.status().code() == Status::Code::kUnavailable);
  CHECK(res.status().message().find("timed out") != std::string::npos);
  CHECK(client->attempts() == 2);
  CHECK(elapsed < milliseconds(280));
}

// ---- limits and bad input ----------------------------------------------------------------------

TEST_CASE("body limits", "[client][server]") {
  http::ServerOptions options;
  options.max_body_bytes = 16;
  auto server = start(
      [](const http::Request& req, const http::Peer&) {
        return reply(200, req.target == "/big" ? std::string(1000, 'x') : "small");
      },
      options);
  http::ClientOptions copts;
  copts.retry = fast_retry();
  copts.max_body_bytes = 100;
  auto client = client_for(local(*server), copts);

  http::Request post;
  post.method = "POST";
  post.target = "/upload";
  post.body = std::string(17, 'b');
  auto too_big = client->send(post);
  REQUIRE(too_big.is_ok());
  CHECK(too_big->status == 413);
  CHECK(client->attempts() == 1);

  post.body = std::string(16, 'b');
  auto fits = client->send(post);
  REQUIRE(fits.is_ok());
  CHECK(fits->status == 200);

  auto big = client->send(get("/big"));
  REQUIRE_FALSE(big.is_ok());
  CHECK(big.status().code() == Status::Code::kInvalid);
  CHECK(big.status().message().find("max_body_bytes") != std::string::npos);
  CHECK(client->attempts() == 3);  // not retried
}

TEST_CASE("the client refuses to send malformed requests", "[client]") {
  auto server = start([](const http::Request&, const http::Peer&) { return reply(200); });
  auto client = client_for(local(*server));
  http::Request r = get("/");
  r.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  CHECK(client->send(r).status().code() == Status::Code::kInvalid);
  r = get("/a b");
  CHECK(client->send(r).status().code() == Status::Code::kInvalid);
  r = get("no-slash");
  CHECK(client->send(r).status().code() == Status::Code::kInvalid);
  r = get("/");
  r.method = "GE T";
  CHECK(client->send(r).status().code() == Status::Code::kInvalid);
  CHECK(client->attempts() == 0);
}

TEST_CASE("the server answers 400 to garbage and keeps running", "[server]") {
  auto server = start([](const http::Request&, const http::Peer&) { return reply(200, "fine"); });
  {
    RawSocket raw(server->port());
    raw.send("THIS IS NOT HTTP\r\n\r\n");
    const std::string answer = raw.read_until();
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
  }
  {
    RawSocket raw(server->port());
    raw.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n");
    CHECK(raw.read_until().rfind("HTTP/1.1 400", 0) == 0);
  }
  {
    RawSocket raw(server->port());  // connects and says nothing at all, then goes
  }
  auto client = client_for(local(*server));
  auto res = client->send(get("/"));
  REQUIRE(res.is_ok());
  CHECK(res->body == "fine");
}

TEST_CASE("the server honours Expect: 100-continue", "[server]") {
  auto server = start(
      [](const http::Request& req, const http::Peer&) { return reply(200, "got " + req.body); });
  RawSocket raw(server->port());
  raw.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  CHECK(raw.read_until("\r\n\r\n").rfind("HTTP/1.1 100 Continue", 0) == 0);
  raw.send("abcd");
  const std::string answer = raw.read_until("got abcd");
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(answer.find("got abcd") != std::string::npos);
}

TEST_CASE("Server::stop with a connection open returns promptly", "[server]") {
  auto server = start([](const http::Request&, const http::Peer&) { return reply(200); });
  auto client = client_for(local(*server));
  REQUIRE(client->send(get("/")).is_ok());  // leaves a keep-alive connection open
  RawSocket idle(server->port());           // and one that never sent anything
  const auto t0 = std::chrono::steady_clock::now();
  server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < milliseconds(1000));
  server->stop();                    // idempotent
  CHECK(idle.read_until().empty());  // closed without a word
}

TEST_CASE("Server::start and Client::create report bad setups", "[server][client]") {
  auto first = start([](const http::Request&, const http::Peer&) { return reply(200); });
  http::ServerOptions taken;
  taken.port = first->port();
  auto second = http::Server::start(
      taken, [](const http::Request&, const http::Peer&) { return reply(200); });
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == Status::Code::kUnavailable);

  http::ServerOptions missing;
  missing.cert_file = "/nonexistent/server.pem";
  missing.key_file = "/nonexistent/server.key";
  auto no_cert = http::Server::start(
      missing, [](const http::Request&, const http::Peer&) { return reply(200); });
  REQUIRE_FALSE(no_cert.is_ok());
  CHECK(no_cert.status().code() == Status::Code::kInvalid);

  http::ClientOptions bad_ca;
  bad_ca.ca_file = "/nonexistent/ca.pem";
  auto client = http::Client::create(http::Url::parse("https://localhost").value(), bad_ca);
  REQUIRE_FALSE(client.is_ok());
  CHECK(client.status().code() == Status::Code::kInvalid);
}

TEST_CASE("write_test_certificates writes a CA, a certificate and a private key", "[tls]") {
  const TempDir& dir = certs();
  for (const char* name : {"ca.pem", "server.pem", "server.key"}) {
    INFO(name);
    CHECK(std::filesystem::file_size(dir.file(name)) > 100);
  }
  struct stat st {};
  REQUIRE(::stat(dir.file("server.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  CHECK(http::write_test_certificates("/proc/no-such-dir").code() == Status::Code::kIoError);
}
