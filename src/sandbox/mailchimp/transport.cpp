#include "sandbox/mailchimp/transport.h"

#include <algorithm>
#include <chrono>

#include "net/ascii.h"

namespace concord::sandbox {

UrlTransport default_url_transport(std::string ca_file) {
  return [ca_file](const std::string& url, const http::Request& request) -> Result<http::Response> {
    std::string base = url, path_and_query;
    if (auto hash = base.find('#'); hash != std::string::npos) base.resize(hash);
    std::string query;
    if (auto q = base.find('?'); q != std::string::npos) {
      query = base.substr(q);
      base.resize(q);
    }
    auto parsed = http::Url::parse(base);
    if (!parsed.is_ok()) return parsed.status();
    http::Url origin = *parsed;
    path_and_query = (origin.path.empty() ? "/" : origin.path) + query;
    origin.path.clear();
    http::ClientOptions o;
    o.ca_file = ca_file;
    o.max_connections = 1;
    o.connect_timeout = std::chrono::milliseconds(5000);
    o.request_timeout = std::chrono::milliseconds(10000);
    o.retry.max_attempts = 1;
    o.retry.retry_response = [](const http::Response&) { return false; };
    std::string_view ua = request.header("User-Agent");
    o.user_agent = ua.empty() ? "MailChimp.com" : std::string(ua);
    auto client = http::Client::create(origin, o);
    if (!client.is_ok()) return client.status();
    http::Request r = request;
    r.target = path_and_query;
    r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                   [](const http::Header& h) {
                                     return http::ascii::iequals(h.name, "User-Agent");
                                   }),
                    r.headers.end());
    return (*client)->send(r);
  };
}

}  // namespace concord::sandbox
