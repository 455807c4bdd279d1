#include "sandbox/mautic/auth.h"

#include <openssl/evp.h>

#include <string>

#include "sandbox/mautic/columns.h"
#include "sandbox/mautic/params.h"
#include "sandbox/mautic/replies.h"
#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

constexpr std::string_view kBasicDisabled =
    "Basic Auth disabled. You need to enable HTTP basic auth in the API settings of Mautic's "
    "Configuration.";
constexpr std::string_view kInvalidCredentials = "Authorization denied, invalid credentials.";

// Standard base64 with its padding; nullopt for other text.
std::optional<std::string> unbase64(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i)
    --size;
  out.resize(size);
  return out;
}

// The scheme and credentials of an Authorization header ("" when none).
std::pair<std::string, std::string_view> split_authorization(std::string_view header) {
  header = trim_view(header);
  const std::size_t space = header.find(' ');
  if (space == std::string_view::npos) return {ascii_lower(header), {}};
  return {ascii_lower(header.substr(0, space)), trim_view(header.substr(space + 1))};
}

// The access_token parameter of the query string or a form body.
std::string access_token_param(const http::Request& request, std::string_view query) {
  std::string token = member_text(php_query(query), "access_token");
  if (token.empty()) token = member_text(php_query(request.body), "access_token");
  return token;
}

std::optional<http::Reply> check_bearer(const Site& site, std::string_view token, Micros now) {
  for (const Token& t : site.tokens) {
    if (t.access_token != token) continue;
    if (now >= t.expires) {
      return auth_error(401, "The access token provided has expired.", "invalid_grant");
    }
    return std::nullopt;
  }
  return auth_error(401, "The access token provided is invalid.", "invalid_grant");
}

}  // namespace

std::optional<http::Reply> authenticate(const Site& site, const http::Request& request,
                                        std::string_view query, Micros now) {
  auto [scheme, credentials] = split_authorization(request.header("Authorization"));
  if (scheme == "basic") {
    if (!site.settings.basic_auth_enabled) return auth_error(403, kBasicDisabled, "access_denied");
    std::optional<std::string> pair = unbase64(credentials);
    const std::size_t colon = pair ? pair->find(':') : std::string::npos;
    if (colon == std::string::npos || pair->substr(0, colon) != site.username ||
        pair->substr(colon + 1) != site.password) {
      return auth_error(401, kInvalidCredentials, "access_denied");
    }
    return std::nullopt;
  }
  if (scheme == "bearer") return check_bearer(site, credentials, now);
  const std::string token = access_token_param(request, query);
  if (!token.empty()) return check_bearer(site, token, now);
  return auth_error(401, "OAuth2 authentication required", "access_denied");
}

http::Reply grant_token(Site& site, const http::Request& request, std::string_view query,
                        Micros now, bool* changed) {
  auto params = Params::read(request, query);
  if (!params.is_ok()) return oauth_error("invalid_request", "Invalid request.");
  auto text = [&](std::string_view name) {
    auto v = params->text(name);
    return v.is_ok() ? *v : std::string();
  };
  std::string client_id = text("client_id");
  std::string secret = text("client_secret");
  // The client may authenticate with HTTP Basic instead (RFC 6749 §2.3.1).
  auto [scheme, credentials] = split_authorization(request.header("Authorization"));
  if (client_id.empty() && scheme == "basic") {
    if (std::optional<std::string> pair = unbase64(credentials)) {
      const std::size_t colon = pair->find(':');
      client_id = pair->substr(0, colon);
      if (colon != std::string::npos) secret = pair->substr(colon + 1);
    }
  }
  const std::string grant = text("grant_type");
  if (grant != "client_credentials") {
    return oauth_error("unsupported_grant_type",
                       "Invalid grant_type parameter or parameter missing");
  }
  if (client_id.empty()) {
    return oauth_error("invalid_client", "Client id was not found in the headers or body");
  }
  bool known = false;
  for (const OauthClient& c : site.oauth_clients)
    known = known || (c.client_id == client_id && c.client_secret == secret);
  if (!known) return oauth_error("invalid_client", "The client credentials are invalid");

  Token t;
  t.access_token = random_hex(43);
  t.client_id = client_id;
  t.expires = now + Micros{site.settings.access_token_lifetime} * kMicrosPerSecond;
  site.tokens.push_back(t);
  if (site.tokens.size() > kMaxTokens) {
    site.tokens.erase(
        site.tokens.begin(),
        site.tokens.begin() + static_cast<std::ptrdiff_t>(site.tokens.size() - kMaxTokens));
  }
  *changed = true;
  ojson j = ojson::object();
  j["access_token"] = t.access_token;
  j["expires_in"] = site.settings.access_token_lifetime;
  j["token_type"] = "bearer";
  j["scope"] = "";
  http::Reply r = json_reply(200, j);
  r.response.headers.push_back({"Cache-Control", "no-store"});
  r.response.headers.push_back({"Pragma", "no-cache"});
  return r;
}

std::size_t expire_tokens(Site& site, Micros now) {
  std::size_t n = 0;
  for (Token& t : site.tokens) {
    if (t.expires > now) {
      t.expires = now;
      ++n;
    }
  }
  return n;
}

}  // namespace concord::sandbox::mautic
