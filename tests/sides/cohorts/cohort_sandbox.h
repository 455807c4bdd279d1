// What the cohort clients' sandbox tests share: a sandbox started once per test program, its admin
// routes, and a sink that keeps what it is handed.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "concord/http.h"
#include "concord/side.h"
#include "sandbox_process.h"

namespace concord::testing {

using json = nlohmann::json;

// The sandbox, started with an empty seed the first time a test asks for it; each test resets it
// to its own seed.
inline std::string empty_seed() {
  const std::string seed = (std::filesystem::temp_directory_path() /
                            ("concord-cohort-seed-" + std::to_string(::getpid()) + ".json"))
                               .string();
  std::ofstream(seed) << "{}";
  return seed;
}

// The seed file is read before the sandbox prints its ready line: it is removed once it has (each
// test program used to leave one behind in the temporary directory).
inline SandboxProcess& sandbox() {
  static const std::string seed = empty_seed();
  static SandboxProcess process(seed);  // stopped at exit
  static const bool removed = [] {
    std::error_code ignored;
    return std::filesystem::remove(seed, ignored);
  }();
  (void)removed;
  return process;
}

// Admin calls (and any other) to one of the sandbox's ports.
class Admin {
 public:
  explicit Admin(const std::string& url) {
    Result<http::Url> u = http::Url::parse(url);
    REQUIRE(u.is_ok());
    http::ClientOptions o;
    o.ca_file = sandbox().ca_file();
    o.retry.max_attempts = 1;
    auto c = http::Client::create(*u, o);
    REQUIRE(c.is_ok());
    client_ = std::move(*c);
  }
  // The answer's JSON (null for an empty body). REQUIRES a 2xx answer.
  json call(const std::string& method, const std::string& target, const json& body = nullptr) {
    http::Request req;
    req.method = method;
    req.target = target;
    if (!body.is_null()) {
      req.body = body.dump();
      req.headers.push_back({"Content-Type", "application/json"});
    }
    Result<http::Response> r = client_->send(req);
    REQUIRE(r.is_ok());
    INFO(method << " " << target << " → " << r->status << " " << r->body);
    REQUIRE(r->status / 100 == 2);
    return r->body.empty() ? json() : json::parse(r->body);
  }
  // A call from another thread than the test's (Catch2's assertions are not thread-safe): no
  // checks; whether it was answered 2xx.
  bool call_quietly(const std::string& method, const std::string& target) {
    http::Request req;
    req.method = method;
    req.target = target;
    Result<http::Response> r = client_->send(req);
    return r.is_ok() && r->status / 100 == 2;
  }
  // The sandbox's request log of one part since `since`.
  json requests(const std::string& part, std::uint64_t since = 0) {
    return call("GET", "/_sandbox/requests?part=" + part + "&since=" + std::to_string(since))
        .at("requests");
  }
  std::uint64_t next_seq() { return call("GET", "/_sandbox/requests?limit=0").at("next_seq"); }

 private:
  std::unique_ptr<http::Client> client_;
};

struct Collect final : SourceSink {
  std::vector<SourcePerson> people;
  std::vector<RejectedRow> rejected;
  std::size_t calls = 0;
  Status records(std::vector<SourcePerson>& page) override {
    ++calls;
    for (SourcePerson& p : page)
      people.push_back(std::move(p));
    return Status::ok();
  }
  void reject(RejectedRow row) override { rejected.push_back(std::move(row)); }
  const SourcePerson* find(const std::string& id) const {
    for (const SourcePerson& p : people) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }
  std::string field(const std::string& id, const std::string& name) const {
    const SourcePerson* p = find(id);
    REQUIRE(p != nullptr);
    for (const auto& [k, v] : p->fields) {
      if (k == name) return v;
    }
    FAIL("no field " << name);
    return {};
  }
};

}  // namespace concord::testing
