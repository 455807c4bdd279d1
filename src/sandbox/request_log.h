// The sandbox's request log: every API request either part answered (never an admin route), so
// that end-to-end tests can count a client's calls and check from the server's side that no write
// was repeated (docs/sandbox.md "The request log").
//
// Entries are numbered by one `seq` shared by both parts, in the order their answers were made, so
// a reader that asks for "everything after seq N" never misses an entry logged later. The log
// keeps the last kMaxEntries entries, and fewer when their bodies add up to more than
// kMaxTotalBodyBytes (the oldest go first); each body is kept up to kMaxBodyBytes. Clearing the log
// does not restart the numbering.
//
// Thread-safety: every method may be called from many threads at once. record() holds the log's
// mutex only to append; answer() copies the matching entries under it (bodies are shared, not
// copied) and writes the JSON outside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "concord/http.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord::sandbox {

enum class ApiPart : std::uint8_t { kMailchimp, kCivicrm, kAuth0, kMixpanel, kAmplitude, kMautic };
// "mailchimp", "civicrm", "auth0", "mixpanel", "amplitude", "mautic".
std::string_view part_name(ApiPart part);
// The part of that name; nullopt when there is none.
std::optional<ApiPart> api_part(std::string_view name);

class RequestLog {
 public:
  static constexpr std::size_t kMaxEntries = 200000;
  static constexpr std::size_t kMaxBodyBytes = std::size_t{1} << 20;
  static constexpr std::size_t kMaxTotalBodyBytes = std::size_t{512} << 20;
  static constexpr std::size_t kDefaultLimit = 10000;
  static constexpr std::size_t kMaxLimit = 100000;

  // Logs one answered request. `fault` is the fault injected into it ("" when none, else as in
  // the faults' `next` script); `at` the sandbox clock when it arrived; `seconds` how long it took
  // to answer; `in_flight` how many of the part's requests were being answered when it arrived,
  // itself included. A reply that resets the connection is logged with status 0.
  void record(ApiPart part, const http::Request& request, const http::Reply& reply,
              std::string fault, Micros at, double seconds, int in_flight = 1);

  // Answers GET /_sandbox/requests for the query string `query` (since, part, method,
  // path_prefix, limit, count_only): the JSON body, or kInvalid naming the bad parameter.
  Result<std::string> answer(std::string_view query) const;

  // Forgets every entry; the numbering goes on.
  void clear();

  // How many entries are kept.
  std::size_t size() const;

 private:
  struct Entry {
    std::uint64_t seq = 0;
    ApiPart part = ApiPart::kMailchimp;
    bool body_truncated = false;
    int status = 0;
    int unsent_status = 0;  // reset_after: the status of the answer that was not sent
    std::string method;
    std::string path;                         // the target: path and query
    std::shared_ptr<const std::string> body;  // null when empty
    std::string fault;
    Micros at = kNoTime;
    double ms = 0;
    int in_flight = 1;
  };
  static void write_entry(std::string* out, const Entry& e);

  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // by seq
  std::size_t body_bytes_ = 0;
  std::uint64_t last_seq_ = 0;
};

}  // namespace concord::sandbox
