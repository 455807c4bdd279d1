// What the client targets share: a transport that answers with the fuzzer's bytes, and the split
// of those bytes into an HTTP status and a body.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "concord/http.h"

namespace concord::fuzz {

// An answer made of the fuzzer's input: "!NNN " at the start sets the HTTP status (so that error
// answers, 404s and 5xx are explored from the same corpus), otherwise it is 200; the rest is the
// body.
struct Answer {
  int status = 200;
  std::string body;
};

inline Answer answer_of(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Answer a;
  if (in.size() >= 5 && in[0] == '!' && in[4] == ' ') {
    int status = 0;
    for (char c : in.substr(1, 3)) {
      if (c < '0' || c > '9') return {200, std::string(in)};
      status = status * 10 + (c - '0');
    }
    a.status = status;
    in.remove_prefix(5);
  }
  a.body = std::string(in);
  return a;
}

// Answers every request with one answer, like tests/sides/malformed_answers.h's CannedTransport,
// but only kBudget times: a client paging over an answer that always says "there is more" would
// otherwise ask forever, which is no bug of the client (a real server's pages move on). After the
// budget it fails as an unreachable server does.
class BoundedTransport final : public http::Client {
 public:
  static constexpr std::uint64_t kBudget = 8;

  explicit BoundedTransport(Answer answer) : answer_(std::move(answer)) {}
  Result<http::Response> send(const http::Request&) override {
    if (++attempts_ > kBudget) return Status::unavailable("fuzz: request budget spent");
    http::Response r;
    r.status = answer_.status;
    r.body = answer_.body;
    return r;
  }
  std::uint64_t attempts() const override { return attempts_; }
  std::uint64_t connections_opened() const override { return 1; }

 private:
  Answer answer_;
  std::atomic<std::uint64_t> attempts_{0};  // a full read pages from a thread of its own
};

}  // namespace concord::fuzz
