// The daemon's counters and gauges, rendered in the Prometheus text exposition format (0.0.4).
//
// Thread-safe: any thread may count; render() reads a consistent copy.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace concord {

class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Declares a family (its HELP text and TYPE "counter" or "gauge"); families render in the
  // order declared, even before any sample.
  void declare(const std::string& name, const std::string& type, const std::string& help);
  // Adds to a counter sample (created at 0).
  void add(const std::string& name, const Labels& labels, double by = 1);
  // Sets a gauge sample.
  void set(const std::string& name, const Labels& labels, double value);
  double value(const std::string& name, const Labels& labels) const;

  // "# HELP …\n# TYPE …\nname{a="b"} value\n" for every family, label values escaped (\\, \",
  // \n); integers printed without a decimal point.
  std::string render() const;

 private:
  struct Family {
    std::string type, help;
    std::map<Labels, double> samples;
  };
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

}  // namespace concord
