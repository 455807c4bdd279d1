// The daemon's checks of who asks: Host, Origin, content types, cookies, sessions.
#include "serve/auth.h"

#include <arpa/inet.h>

#include <algorithm>

#include "net/ascii.h"
#include "serve/webhook.h"

namespace concord::serve {
namespace {

using http::ascii::iequals;
using http::ascii::to_lower;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool ip_literal(const std::string& host, bool v6) {
  unsigned char buf[16];
  return ::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) == 1;
}

}  // namespace

bool Site::host_ok(std::string_view host_header) const {
  std::string_view h = trim(host_header);
  if (h.empty()) return true;
  if (h.front() == '[') {  // "[::1]:8080"
    const std::size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    return ip_literal(std::string(h.substr(1, close - 1)), true);
  }
  if (const std::size_t colon = h.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = h.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    h = h.substr(0, colon);
  }
  std::string name = to_lower(h);
  if (!name.empty() && name.back() == '.') name.pop_back();  // "example.org." is the same name
  if (name == "localhost" || ip_literal(name, false)) return true;
  return std::find(hosts.begin(), hosts.end(), name) != hosts.end();
}

bool Site::same_origin(const http::Request& req) const {
  if (iequals(trim(req.header("Sec-Fetch-Site")), "cross-site")) return false;
  const std::string_view origin = trim(req.header("Origin"));
  if (origin.empty()) return true;  // not a browser, or one that sends none for same-origin
  Result<http::Url> o = http::Url::parse(origin);
  if (!o || !o->path.empty()) return false;  // "null" (a sandboxed frame, a file) among others
  const std::string given = o->origin();
  if (!public_origin.empty() && iequals(given, public_origin)) return true;
  const std::string_view host = trim(req.header("Host"));
  if (host.empty()) return false;
  Result<http::Url> own = http::Url::parse(o->scheme + "://" + std::string(host));
  return own && own->path.empty() && iequals(own->origin(), given);
}

bool content_type_is(const http::Request& req, std::string_view type) {
  std::string_view v = req.header("Content-Type");
  v = trim(v.substr(0, v.find(';')));
  return iequals(v, type);
}

std::string cookie(const http::Request& req, std::string_view name) {
  for (const http::Header& h : req.headers) {
    if (!iequals(h.name, "cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return std::string(pair.substr(eq + 1));
      }
    }
  }
  return std::string();
}

std::string Sessions::open() {
  std::string id = random_secret() + random_secret();
  const Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = expiry_.begin(); it != expiry_.end();) {
    it = it->second <= now ? expiry_.erase(it) : std::next(it);
  }
  while (expiry_.size() >= limit_) {
    auto oldest =
        std::min_element(expiry_.begin(), expiry_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    expiry_.erase(oldest);
  }
  expiry_.emplace(id, now + lifetime_);
  return id;
}

bool Sessions::valid(std::string_view id) {
  if (id.empty()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  // The ids are random and 256 bits long: a map look-up leaks nothing an attacker can use.
  auto it = expiry_.find(id);
  if (it == expiry_.end()) return false;
  if (it->second <= Clock::now()) {
    expiry_.erase(it);
    return false;
  }
  return true;
}

void Sessions::close(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = expiry_.find(id); it != expiry_.end()) expiry_.erase(it);
}

std::string session_cookie(std::string_view id, std::chrono::seconds lifetime, bool secure) {
  std::string c(kSessionCookie);
  c += '=';
  c += id;
  c += "; Path=/; HttpOnly; SameSite=Strict; Max-Age=";
  c += id.empty() ? "0" : std::to_string(lifetime.count());
  if (secure) c += "; Secure";
  return c;
}

}  // namespace concord::serve
