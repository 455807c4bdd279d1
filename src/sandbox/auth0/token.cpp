#include "sandbox/auth0/token.h"

#include <algorithm>

#include "net/ascii.h"
#include "sandbox/auth0/base64.h"
#include "sandbox/auth0/errors.h"
#include "sandbox/auth0/ids.h"
#include "sandbox/http_helpers.h"
#include "sandbox/text.h"

namespace concord::sandbox::auth0 {
namespace {

// The token request's parameters, from a JSON or a form body.
struct TokenParams {
  std::optional<std::string> grant_type, client_id, client_secret, audience, scope;
};

std::string media_type(std::string_view content_type) {
  return http::ascii::to_lower(trim_view(content_type.substr(0, content_type.find(';'))));
}

// nullopt: the body is JSON that does not parse (the only body a request can get wrong; any
// other type of body, or none, simply has no parameters).
std::optional<TokenParams> read_params(const http::Request& req) {
  TokenParams p;
  const std::string type = media_type(req.header("Content-Type"));
  if (type == "application/json") {
    ojson body = ojson::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return std::nullopt;
    auto field = [&](const char* k, std::optional<std::string>* out) {
      auto it = body.find(k);
      if (it != body.end() && it->is_string()) *out = it->get<std::string>();
    };
    field("grant_type", &p.grant_type);
    field("client_id", &p.client_id);
    field("client_secret", &p.client_secret);
    field("audience", &p.audience);
    field("scope", &p.scope);
  } else if (type == "application/x-www-form-urlencoded") {
    const Pairs pairs = http::parse_query(req.body);
    auto field = [&](const char* k, std::optional<std::string>* out) {
      bool found = false;
      std::string_view v = pair_value(pairs, k, &found);
      if (found) *out = std::string(v);
    };
    field("grant_type", &p.grant_type);
    field("client_id", &p.client_id);
    field("client_secret", &p.client_secret);
    field("audience", &p.audience);
    field("scope", &p.scope);
  }
  return p;
}

std::vector<std::string> split_scopes(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = s.find(' ', pos);
    if (end == std::string_view::npos) end = s.size();
    if (end > pos) out.emplace_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string s;
  for (const std::string& i : items) {
    if (!s.empty()) s += sep;
    s += i;
  }
  return s;
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A JWT as Auth0 signs them (RS256): its payload says what the token is for; its signature is
// random, and is what makes the token unguessable.
std::string mint(const Tenant& t, const Client& c, const std::string& scope, Micros now,
                 Micros expires) {
  ojson header = {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "sandbox-" + t.tenant_name()}};
  ojson payload = {{"iss", "https://" + t.domain + "/"},
                   {"sub", c.client_id + "@clients"},
                   {"aud", t.audience()},
                   {"iat", now / kMicrosPerSecond},
                   {"exp", expires / kMicrosPerSecond},
                   {"jti", random_hex(16)},
                   {"scope", scope},
                   {"gty", "client-credentials"},
                   {"azp", c.client_id}};
  return base64url(header.dump()) + "." + base64url(payload.dump()) + "." +
         base64url(random_bytes(256));
}

void remember(Tenant& t, Token token) {
  t.token_index[token.access_token] = t.tokens.size();
  t.tokens.push_back(std::move(token));
  if (t.tokens.size() <= kMaxTokens) return;
  // Tokens are kept in the order they were issued: the oldest go first.
  t.tokens.erase(t.tokens.begin(), t.tokens.begin() + (t.tokens.size() - kMaxTokens));
  t.reindex();
}

}  // namespace

http::Reply grant_token(Tenant& tenant, const http::Request& req, Micros now, bool* changed) {
  std::optional<TokenParams> params = read_params(req);
  if (!params) return oauth_error(400, "invalid_request", "Invalid JSON body");
  TokenParams& p = *params;
  if (!p.grant_type || p.grant_type->empty()) {
    return oauth_error(400, "invalid_request", "Missing required parameter: grant_type");
  }
  static constexpr std::string_view kOtherGrants[] = {
      "authorization_code",
      "password",
      "refresh_token",
      "implicit",
      "http://auth0.com/oauth/grant-type/password-realm",
      "urn:ietf:params:oauth:grant-type:device_code",
      "http://auth0.com/oauth/grant-type/mfa-otp"};
  const bool other = std::find(std::begin(kOtherGrants), std::end(kOtherGrants), *p.grant_type) !=
                     std::end(kOtherGrants);
  if (*p.grant_type != "client_credentials" && !other) {
    return oauth_error(400, "unsupported_grant_type", "Unsupported grant type: " + *p.grant_type);
  }
  const Client* c = p.client_id ? tenant.client(*p.client_id) : nullptr;
  if (!c || !p.client_secret || *p.client_secret != c->client_secret) {
    return oauth_error(401, "access_denied", "Unauthorized");
  }
  // The sandbox grants client credentials only: another grant type is one the application has
  // not enabled, as far as a client can tell.
  if (other || !contains(c->grant_types, "client_credentials")) {
    return oauth_error(403, "unauthorized_client",
                       "Grant type '" + *p.grant_type + "' not allowed for the client.",
                       "https://auth0.com/docs/clients/client-grant-types");
  }
  if (!p.audience || p.audience->empty()) {
    return oauth_error(403, "access_denied",
                       "No audience parameter was provided, and no default audience has been "
                       "configured");
  }
  // The tenant's domain, or the host the request came to (which is the domain when the client
  // talks to the real tenant).
  const std::string host(req.header("Host"));
  if (*p.audience != tenant.audience() &&
      (host.empty() || *p.audience != "https://" + host + "/api/v2/")) {
    return oauth_error(403, "access_denied", "Service not enabled within domain: " + *p.audience);
  }
  if (!c->client_grant) {
    return oauth_error(403, "access_denied",
                       "Client is not authorized to access \"" + *p.audience +
                           "\". You need to create a \"client-grant\" associated to this API. "
                           "See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants");
  }
  std::vector<std::string> scopes = c->scopes;
  if (p.scope && !trim_view(*p.scope).empty()) {
    std::vector<std::string> asked = split_scopes(*p.scope);
    std::vector<std::string> refused;
    for (const std::string& s : asked) {
      if (!contains(c->scopes, s)) refused.push_back(s);
    }
    if (!refused.empty()) {
      return oauth_error(403, "access_denied",
                         "Client has not been granted scopes: " + join(refused, ", "));
    }
    scopes = std::move(asked);
  }
  const std::string scope = join(scopes, " ");
  const Micros expires = now + tenant.settings.token_lifetime_seconds * kMicrosPerSecond;
  Token token;
  token.access_token = mint(tenant, *c, scope, now, expires);
  token.client_id = c->client_id;
  token.scopes = scopes;
  token.issued_at = now;
  token.expires_at = expires;
  JsonOut o;
  o.begin_object();
  o.key("access_token");
  o.str(token.access_token);
  o.key("expires_in");
  o.integer(tenant.settings.token_lifetime_seconds);
  o.key("scope");
  o.str(scope);
  o.key("token_type");
  o.str("Bearer");
  o.end_object();
  remember(tenant, std::move(token));
  *changed = true;
  http::Reply r = json_reply(200, std::move(o.buf));
  r.response.headers.push_back({"Cache-Control", "no-store"});
  r.response.headers.push_back({"Pragma", "no-cache"});
  return r;
}

std::optional<http::Reply> authorize(const Tenant& tenant, const http::Request& req, Micros now,
                                     std::initializer_list<std::string_view> scopes) {
  std::string_view auth = trim_view(req.header("Authorization"));
  const std::size_t space = auth.find(' ');
  if (auth.empty() || space == std::string_view::npos ||
      !http::ascii::iequals(auth.substr(0, space), "Bearer")) {
    return missing_authentication();
  }
  std::string_view value = trim_view(auth.substr(space + 1));
  if (value.empty()) return missing_authentication();
  auto it = tenant.token_index.find(std::string(value));
  if (it == tenant.token_index.end()) return invalid_token("Invalid token");
  const Token& token = tenant.tokens[it->second];
  if (now >= token.expires_at) {
    return invalid_token("Expired token received for JSON Web Token validation");
  }
  std::string wanted;
  for (std::string_view s : scopes) {
    if (contains(token.scopes, s)) return std::nullopt;
    if (!wanted.empty()) wanted += ',';
    wanted += s;
  }
  return api_error(403, "Insufficient scope, expected any of: " + wanted, "insufficient_scope");
}

std::size_t expire_tokens(Tenant& tenant, Micros now) {
  std::size_t n = 0;
  for (Token& t : tenant.tokens) {
    if (t.expires_at > now) {
      t.expires_at = now;
      ++n;
    }
  }
  return n;
}

}  // namespace concord::sandbox::auth0
