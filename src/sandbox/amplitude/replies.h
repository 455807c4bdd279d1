// The Amplitude part's answers that are not data: the API's error shape, the storage's (S3's)
// XML errors for the download URLs, and the answers of injected faults.
//
// The API's error bodies are undocumented; the one shape on record (a third-party mock of the
// 403) is used for every error: {"error":{"http_code":N,"type":"unspecified","metadata":
// {"details":"…"}}}. Clients should go by the status.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "concord/http.h"
#include "sandbox/amplitude/project.h"

namespace concord::sandbox::amplitude {

// An API error: the status and the details in the error shape, as JSON.
http::Reply api_error(const ApiError& e);
// A JSON answer of the API.
http::Reply api_json(int status, std::string body);

// S3's <Error> document with this status and code, message and extra elements (name, value).
http::Reply storage_error(
    int status, std::string_view code, std::string_view message,
    std::initializer_list<std::pair<std::string_view, std::string>> extra = {});

// The answer of a status injected by a fault, as the API (or the edge in front of it: 502-504
// are HTML pages) would give it; `storage`: as the download URL's host would.
http::Reply injected_reply(int status, bool storage);

// "2026-03-01T00:01:00Z" (S3's error times).
std::string zulu_text(std::int64_t seconds);
// "20260301T000100Z" (SigV4's X-Amz-Date).
std::string amz_date(std::int64_t seconds);

}  // namespace concord::sandbox::amplitude
