// Who may talk to the daemon: the token, browser sessions, and the checks against cross-site
// requests and DNS rebinding.
//
// Every route but /healthz and the webhook path needs the token, also on loopback (the documented
// setup puts a TLS proxy in front of 127.0.0.1, so the peer's address says nothing about who
// asks). Scripts send it as `Authorization: Bearer …`; a browser gives it once to the login form
// and then carries a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS). The token
// never travels in a URL, so it never lands in a proxy's log or a browser's history.
//
// A request whose Host names neither this daemon's public URL, nor its listen address, nor
// localhost, nor an IP address is answered 421: a page on another site that makes its own name
// resolve to 127.0.0.1 (DNS rebinding) reaches nothing. State-changing requests must also come
// from this daemon's own pages (Origin and Sec-Fetch-Site, when the browser sends them) and be
// JSON, which no cross-site form can send.
//
// Thread-safety: Sessions may be used from several threads at once; the rest is pure.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"

namespace concord::serve {

inline constexpr std::string_view kSessionCookie = "concord_session";

// The names this daemon answers as, and the origin of its pages.
struct Site {
  // Host names (lower case, no port) besides localhost and IP literals: the public URL's host and
  // the listen address's, when they are names.
  std::vector<std::string> hosts;
  // The public URL's origin ("https://concord.example.org"), empty when none is configured.
  std::string public_origin;
  // Whether the browser reaches the daemon over TLS (the public URL is https): the session
  // cookie is then marked Secure.
  bool tls = false;

  // Whether a request with this Host header is for this daemon (an absent header is: browsers
  // always send one).
  bool host_ok(std::string_view host_header) const;
  // Whether a state-changing request comes from this daemon's own pages: its Origin, when sent,
  // is the public origin or the origin of the request's own Host; Sec-Fetch-Site, when sent, is
  // not "cross-site".
  bool same_origin(const http::Request& req) const;
};

// Whether the request's Content-Type is `type` (parameters such as charset ignored).
bool content_type_is(const http::Request& req, std::string_view type);

// The value of cookie `name` in the request's Cookie headers; empty when absent.
std::string cookie(const http::Request& req, std::string_view name);

// Browser sessions: random ids, each valid for `lifetime` from its login, at most `limit` at once
// (the oldest is dropped first). Kept in memory: a restart logs everyone out.
class Sessions {
 public:
  explicit Sessions(std::chrono::seconds lifetime = std::chrono::hours(12),
                    std::size_t limit = 1024)
      : lifetime_(lifetime), limit_(limit) {}

  // A new session's id.
  std::string open();
  bool valid(std::string_view id);
  void close(std::string_view id);
  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  using Clock = std::chrono::steady_clock;
  const std::chrono::seconds lifetime_;
  const std::size_t limit_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point, std::less<>> expiry_;  // GUARDED_BY(mu_)
};

// The Set-Cookie value that keeps `id` (or, for an empty id, clears the cookie).
std::string session_cookie(std::string_view id, std::chrono::seconds lifetime, bool secure);

}  // namespace concord::serve
