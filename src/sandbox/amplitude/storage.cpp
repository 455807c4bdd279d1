// The download URLs that /file redirects to. Amplitude's are pre-signed S3 URLs valid for one
// minute; these stand in for them on the part's own port, and answer as S3 does: the file while
// valid, then 403 AccessDenied "Request has expired". Like S3, they refuse a request that also
// carries an Authorization header (a client that forwards its Basic credentials on the redirect
// fails against S3 too).
#include <algorithm>
#include <string>

#include "sandbox/amplitude/replies.h"
#include "sandbox/amplitude/routing.h"

namespace concord::sandbox::amplitude {
namespace {

// The file's path, without the query.
std::string object_path(const Project& p, std::string_view request_id) {
  return std::string(kStoragePrefix) + std::to_string(p.app_id) + "/" + std::string(request_id) +
         ".csv";
}

// A Host header split into its name and its ":port" ("" when none).
std::pair<std::string, std::string> split_host(std::string_view host) {
  std::size_t colon = host.rfind(':');
  // "[::1]:443": the port's colon is after the bracket; "[::1]" has none.
  if (colon == std::string_view::npos || host.find(']', colon) != std::string_view::npos) {
    return {std::string(host), ""};
  }
  return {std::string(host.substr(0, colon)), std::string(host.substr(colon))};
}

// The request's host under its other loopback name, so that the download is another origin.
std::string other_loopback(std::string_view name) {
  if (name.empty() || name == "127.0.0.1" || name == "[::1]") return "localhost";
  if (name == "localhost") return "127.0.0.1";
  return std::string(name);
}

}  // namespace

std::string link_url(const Project& p, const Link& link, std::string_view request_host) {
  auto [name, port] = split_host(request_host);
  std::string host;
  if (p.settings.download_host.empty()) {
    host = other_loopback(name) + port;
  } else {
    host = p.settings.download_host;
    if (split_host(host).second.empty()) host += port;
  }
  const std::string date = amz_date(link.issued_at);
  std::string url = p.settings.download_scheme + "://" + host + object_path(p, link.request_id);
  url += "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIASANDBOXAMPLITUDE%2F";
  url += date.substr(0, 8);
  url += "%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=" + date;
  url += "&X-Amz-Expires=" + std::to_string(link.expires_at - link.issued_at);
  url += "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + link.signature;
  return url;
}

http::Reply storage(Site& site, const http::Request& req, std::string_view path,
                    const Pairs& query) {
  const std::string_view signature = pair_value(query, "X-Amz-Signature");
  if (signature.empty()) return storage_error(403, "AccessDenied", "Access Denied");
  if (std::string_view auth = req.header("Authorization"); !auth.empty()) {
    return storage_error(400, "InvalidArgument",
                         "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                         "parameter, Signature query string parameter or the Authorization header "
                         "should be specified",
                         {{"ArgumentName", "Authorization"}, {"ArgumentValue", std::string(auth)}});
  }
  std::lock_guard<std::mutex> lock(site.mu);
  const Project& p = site.project;
  const std::int64_t now = site.now();
  auto link = std::find_if(p.links.begin(), p.links.end(),
                           [&](const Link& l) { return l.signature == signature; });
  // The signature covers the method and the path: another method or object does not match it.
  if (link == p.links.end() || path != object_path(p, link->request_id) ||
      (req.method != "GET" && req.method != "HEAD")) {
    return storage_error(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature you "
                         "provided. Check your key and signing method.");
  }
  if (now >= link->expires_at) {
    return storage_error(403, "AccessDenied", "Request has expired",
                         {{"X-Amz-Expires", std::string(pair_value(query, "X-Amz-Expires"))},
                          {"Expires", zulu_text(link->expires_at)},
                          {"ServerTime", zulu_text(now)}});
  }
  const Export* e = p.find_export(link->request_id);
  if (e == nullptr) {
    return storage_error(404, "NoSuchKey", "The specified key does not exist.",
                         {{"Key", std::string(path.substr(1))}});
  }
  return plain_reply(200, e->csv, "text/csv");
}

}  // namespace concord::sandbox::amplitude
