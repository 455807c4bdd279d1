// MauticClient: the options checked and the site's connection made. (Hooks are in hooks.cpp;
// the segment reader, and MauticClient::reader(), in segment_reader.cpp.)
#include "concord/mautic_client.h"
#include "sides/mautic/session.h"

namespace concord {
namespace {

constexpr int kMaxPage = 100000;

// Which authentication the options ask for: kInvalid naming the missing or extra option.
Status check_auth(const MauticOptions& o) {
  const bool basic = !o.username.empty() || !o.password.empty();
  const bool oauth = !o.client_id.empty() || !o.client_secret.empty();
  if (basic && oauth) {
    return Status::invalid(
        "Mautic: give either username and password (Basic) or client_id and client_secret "
        "(OAuth2), not both");
  }
  if (!basic && !oauth) {
    return Status::invalid(
        "Mautic: no credentials: give username and password (Basic) or client_id and "
        "client_secret (OAuth2)");
  }
  if (basic && o.username.empty()) return Status::invalid("the Mautic username is empty");
  if (basic && o.password.empty()) {
    return Status::invalid("the Mautic password of user \"" + o.username + "\" is empty");
  }
  if (oauth && o.client_id.empty()) return Status::invalid("the Mautic client_id is empty");
  if (oauth && o.client_secret.empty()) {
    return Status::invalid("the Mautic client_secret of client id \"" + o.client_id +
                           "\" is empty");
  }
  return Status::ok();
}

Status check_options(const MauticOptions& o) {
  if (Status s = check_auth(o); !s) return s;
  if (o.page_size < 1 || o.page_size > kMaxPage) {
    return Status::invalid("Mautic page_size must be 1 to " + std::to_string(kMaxPage) + ", not " +
                           std::to_string(o.page_size));
  }
  if (o.id_page_size < 1 || o.id_page_size > kMaxPage) {
    return Status::invalid("Mautic id_page_size must be 1 to " + std::to_string(kMaxPage) +
                           ", not " + std::to_string(o.id_page_size));
  }
  if (o.incremental_overlap < 0 || o.token_margin < 0) {
    return Status::invalid("Mautic incremental_overlap and token_margin must not be negative");
  }
  if (o.rate_limit_retries < 0 || o.max_rate_limit_wait.count() < 0) {
    return Status::invalid(
        "Mautic rate_limit_retries and max_rate_limit_wait must not be negative");
  }
  return Status::ok();
}

}  // namespace

MauticClient::MauticClient(std::unique_ptr<mautic::Session> session)
    : session_(std::move(session)) {}
MauticClient::~MauticClient() = default;

Result<std::unique_ptr<MauticClient>> MauticClient::create(
    MauticOptions options, std::unique_ptr<http::Client> transport) {
  if (Status s = check_options(options); !s) return s.with_origin(Origin::kConfig);
  if (options.base_url.empty()) {
    return Status::invalid("the Mautic base_url is empty").with_origin(Origin::kConfig);
  }
  Result<http::Url> url = http::Url::parse(options.base_url);
  if (!url) return url.status().with_context("Mautic base_url").with_origin(Origin::kConfig);
  if (!transport) {
    // Mautic's 403s are answers (the API or Basic auth disabled, a permission) and its 429s are
    // waited out by the session, by their reset time: only 5xx are the transport's to retry.
    http::ClientOptions o = options.http;
    o.retry.retry_response = [](const http::Response& r) {
      return r.status >= 500 && r.status <= 599;
    };
    Result<std::unique_ptr<http::Client>> c = http::Client::create(*url, std::move(o));
    if (!c) return c.status().with_context("Mautic connection").with_origin(Origin::kMautic);
    transport = std::move(*c);
  }
  // The API is below the site's path ("" or "/…/index.php"), which Url keeps without a trailing
  // '/'.
  std::string base_path = url->path;
  return std::unique_ptr<MauticClient>(new MauticClient(std::make_unique<mautic::Session>(
      std::move(options), std::move(base_path), std::move(transport))));
}

Status MauticClient::ensure_token() {
  return session_->ensure_token().with_origin(Origin::kMautic);
}

std::uint64_t MauticClient::requests() const {
  return session_->requests();
}

std::uint64_t MauticClient::tokens_fetched() const {
  return session_->tokens();
}

std::uint64_t MauticClient::rate_limited() const {
  return session_->rate_limited();
}

}  // namespace concord
