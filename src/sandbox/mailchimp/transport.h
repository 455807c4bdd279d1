// How the Mailchimp part reaches webhook receivers: the validation GET when a webhook is added
// or its URL changes, and the deliveries.
//
// Thread-safety: default_url_transport()'s transport may be called from many threads at once.
#pragma once

#include <functional>
#include <string>

#include "concord/http.h"
#include "concord/status.h"

namespace concord::sandbox {

// Sends one request to an absolute URL and returns the response. A failure to connect is a
// non-OK Status.
using UrlTransport =
    std::function<Result<http::Response>(const std::string& url, const http::Request& request)>;

// The transport over http::Client: verifies https certificates against `ca_file` (empty: the
// system's store), 5 s to connect, 10 s for the answer (Mailchimp waits 10 s), no retries.
UrlTransport default_url_transport(std::string ca_file);

}  // namespace concord::sandbox
