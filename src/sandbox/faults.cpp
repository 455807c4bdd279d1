#include "sandbox/faults.h"

#include <chrono>
#include <thread>

namespace concord::sandbox {

bool valid_fault_action(std::string_view a) {
  if (a == "reset" || a == "reset_after" || a == "truncate" || a == "none") return true;
  if (a.rfind("delay:", 0) == 0) return parse_int64(a.substr(6)).has_value();
  auto n = parse_int64(a);
  return n && *n >= 400 && *n <= 599;
}

void InjectedFault::wait() const {
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
}

int InjectedFault::status() const {
  auto code = parse_int64(action);
  return code && *code >= 400 ? static_cast<int>(*code) : 0;
}

http::Reply InjectedFault::reset_reply() {
  http::Reply r;
  r.reset_without_response = true;
  return r;
}

void InjectedFault::finish(http::Reply* reply) const {
  if (action == "reset_after") {
    reply->reset_without_response = true;
  } else if (action == "truncate") {
    reply->truncate_body_at = reply->response.body.size() / 2;
    reply->close = true;
  }
}

InjectedFault FaultConfig::pick(std::string_view path, std::mt19937_64& rng) {
  InjectedFault f;
  if (!path_prefix.empty() && path.rfind(path_prefix, 0) != 0) return f;
  if (!next.empty()) {
    f.action = next.front();
    next.pop_front();
  } else {
    double r = std::uniform_real_distribution<double>(0, 1)(rng);
    double acc = 0;
    for (const auto& [status, rate] : error_rates) {
      acc += rate;
      if (f.action.empty() && r < acc) f.action = std::to_string(status);
    }
    if (f.action.empty() && r < (acc += reset_rate)) f.action = "reset";
    if (f.action.empty() && r < (acc += reset_after_rate)) f.action = "reset_after";
    if (f.action.empty() && r < (acc += truncate_rate)) f.action = "truncate";
  }
  f.delay_ms = latency_ms;
  if (latency_jitter_ms > 0) {
    f.delay_ms += std::uniform_int_distribution<int>(0, latency_jitter_ms)(rng);
  }
  if (f.action.rfind("delay:", 0) == 0) {
    f.delay_ms += static_cast<int>(parse_int64(f.action.substr(6)).value_or(0));
  } else if (f.action == "none") {
    f.action.clear();
  }
  return f;
}

void FaultConfig::write(ojson& j) const {
  j["latency_ms"] = latency_ms;
  j["latency_jitter_ms"] = latency_jitter_ms;
  ojson rates = ojson::object();
  for (const auto& [s, r] : error_rates)
    rates[std::to_string(s)] = r;
  j["error_rates"] = rates;
  j["reset_rate"] = reset_rate;
  j["reset_after_rate"] = reset_after_rate;
  j["truncate_rate"] = truncate_rate;
  j["next"] = ojson(std::vector<std::string>(next.begin(), next.end()));
  j["path_prefix"] = path_prefix;
}

}  // namespace concord::sandbox
