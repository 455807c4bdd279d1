// Fault injection, shared by the sandbox's two parts (docs/sandbox.md "Faults").
//
// Each part keeps a FaultInjector. For every API request (never an admin route) it calls pick(),
// which consumes one entry of the `next` script or draws from the rates, then waits the delay the
// fault asks for, answers an injected status or resets the connection without handling the
// request, or handles it and then applies finish() (reset_after, truncate). POST
// /_sandbox/faults goes to configure(), GET to to_json(), with the same keys for both parts (a
// part may add its own).
//
// Thread-safety: FaultConfig and InjectedFault are plain data; FaultInjector's methods may be
// called from many threads at once.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "concord/http.h"
#include "sandbox/json_writer.h"
#include "sandbox/text.h"

namespace concord::sandbox {

// Whether `a` is an entry of the `next` script: a status 400-599, reset, reset_after, truncate,
// delay:<ms> or none.
bool valid_fault_action(std::string_view a);

// The fault of one request.
struct InjectedFault {
  // The fault injected, in the vocabulary of `next`: "" (none), "503", "reset", "reset_after",
  // "truncate" or "delay:<ms>". The latency of `latency_ms` alone is not a fault.
  std::string action;
  int delay_ms = 0;  // to wait before the request is handled (latency, jitter and delay:<ms>)

  // Sleeps delay_ms.
  void wait() const;
  // The status to answer instead of handling the request, or 0.
  int status() const;
  // The connection is reset without handling the request.
  bool reset_before() const { return action == "reset"; }
  // The reply that resets the connection (for reset_before()).
  static http::Reply reset_reply();
  // Applies what happens after the request was handled: reset_after resets the connection,
  // truncate cuts the answer after half its body.
  void finish(http::Reply* reply) const;
};

// The keys every part's fault configuration has.
struct FaultConfig {
  int latency_ms = 0;
  int latency_jitter_ms = 0;
  std::vector<std::pair<int, double>> error_rates;  // (status, probability), in the order given
  double reset_rate = 0;
  double reset_after_rate = 0;
  double truncate_rate = 0;
  std::deque<std::string> next;
  std::string path_prefix;

  // This request's fault: for a path under path_prefix (or any, without one), the next scripted
  // entry when there is one, else a draw from the rates; "delay:<ms>" adds to the latency.
  InjectedFault pick(std::string_view path, std::mt19937_64& rng);

  // Writes the keys above into a JSON object.
  void write(ojson& j) const;

  // Reads the keys above from a POST /_sandbox/faults body (absent keys keep their defaults).
  // Returns "" or the problem, e.g. "next: \"7\" is not a status 400-599, …". The body's type
  // decides the order error_rates are drawn in (a json object's keys are sorted, an ojson's keep
  // their order).
  template <typename Json>
  std::string read(const Json& body);
};

// One part's faults: its settings behind a mutex, and the generator the rates draw from.
// `Settings` is FaultConfig, or a struct derived from it that adds the part's own keys and hides
// read() and write() with versions that call FaultConfig's first.
template <typename Settings = FaultConfig>
class FaultInjector {
 public:
  InjectedFault pick(std::string_view path) {
    std::lock_guard<std::mutex> lock(mu_);
    return settings_.pick(path, rng_);
  }

  // fn(settings) under the lock: how a part reads its own keys.
  template <typename Fn>
  auto read(Fn fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    return fn(std::as_const(settings_));
  }

  // Back to no faults (a reset of the part's state).
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    settings_ = Settings{};
  }

  // POST /_sandbox/faults: the settings of `body` (a JSON object) replace the current ones, and
  // its "seed" reseeds the generator. Returns "" or the problem; nothing changes then.
  template <typename Json>
  std::string configure(const Json& body) {
    Settings next;
    std::string err = next.read(body);
    if (!err.empty()) return err;
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = body.find("seed"); it != body.end() && it->is_number_unsigned()) {
      rng_.seed(it->template get<std::uint64_t>());
    }
    settings_ = std::move(next);
    return "";
  }

  // GET /_sandbox/faults (and the answer to a POST): the settings as a JSON object.
  ojson to_json() const {
    ojson j = ojson::object();
    std::lock_guard<std::mutex> lock(mu_);
    settings_.write(j);
    return j;
  }

 private:
  mutable std::mutex mu_;
  Settings settings_;
  std::mt19937_64 rng_{std::random_device{}()};
};

template <typename Json>
std::string FaultConfig::read(const Json& body) {
  std::string err;
  auto num = [&](const char* k, auto* out) {
    if (auto it = body.find(k); it != body.end() && err.empty()) {
      if (!it->is_number()) {
        err = std::string(k) + ": expected a number";
        return;
      }
      *out = it->template get<std::remove_pointer_t<decltype(out)>>();
    }
  };
  num("latency_ms", &latency_ms);
  num("latency_jitter_ms", &latency_jitter_ms);
  num("reset_rate", &reset_rate);
  num("reset_after_rate", &reset_after_rate);
  num("truncate_rate", &truncate_rate);
  if (auto it = body.find("error_rates"); it != body.end() && err.empty()) {
    if (!it->is_object()) return "error_rates: expected an object such as {\"503\": 0.1}";
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      auto code = parse_int64(kv.key());
      if (!code || *code < 400 || *code > 599 || !kv->is_number()) {
        return "error_rates: \"" + kv.key() + "\": expected a status 400-599 and a rate 0-1";
      }
      error_rates.emplace_back(static_cast<int>(*code), kv->template get<double>());
    }
  }
  if (auto it = body.find("next"); it != body.end() && err.empty()) {
    if (!it->is_array()) return "next: expected an array";
    for (const auto& a : *it) {
      std::string s = a.is_string() ? a.template get<std::string>() : a.is_number() ? a.dump() : "";
      if (!valid_fault_action(s)) {
        return "next: \"" + s +
               "\" is not a status 400-599, reset, reset_after, truncate, delay:<ms> or none";
      }
      next.push_back(s);
    }
  }
  if (auto it = body.find("path_prefix"); it != body.end() && it->is_string()) {
    path_prefix = it->template get<std::string>();
  }
  return err;
}

}  // namespace concord::sandbox
