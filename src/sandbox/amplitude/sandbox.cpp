#include "sandbox/amplitude/sandbox.h"

#include "sandbox/amplitude/replies.h"
#include "sandbox/amplitude/routing.h"
#include "sandbox/amplitude/seed.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace amplitude {

std::int64_t Site::now() const {
  return to_seconds(clock->now()) / kMicrosPerSecond;
}

namespace {

class AmplitudeSandbox final : public Part {
 public:
  explicit AmplitudeSandbox(SandboxClock* clock) : site_(clock) {}

  std::string_view name() const override { return "amplitude"; }

  http::Reply handle(const http::Request& request, const http::Peer& peer,
                     std::string* injected_fault) override {
    if (injected_fault) injected_fault->clear();
    const Target target = split_target(request.target);
    if (is_admin_path(target.path)) {
      if (!peer.loopback) return admin_forbidden();
      return admin(site_, request, target.path);
    }
    const bool to_storage = is_storage_path(target.path);
    InjectedFault fault = site_.faults.pick(target.path);
    if (injected_fault) *injected_fault = fault.action;

    // The API's concurrency limit counts requests while they are answered, injected delays
    // included; the download URLs are S3's, outside it.
    struct Slot {
      std::atomic<std::int64_t>* n = nullptr;
      ~Slot() {
        if (n) n->fetch_sub(1);
      }
    } slot;
    if (!to_storage) {
      std::int64_t max;
      {
        std::lock_guard<std::mutex> lock(site_.mu);
        max = site_.project.settings.max_concurrent;
      }
      if (site_.in_flight.fetch_add(1) >= max && max > 0) {
        site_.in_flight.fetch_sub(1);
        if (injected_fault) injected_fault->clear();  // the limit answered, not the fault
        return amplitude::api_error(
            {429, "Too many concurrent requests: the limit is " + std::to_string(max)});
      }
      slot.n = &site_.in_flight;
    }
    fault.wait();
    if (fault.reset_before()) return InjectedFault::reset_reply();
    if (int status = fault.status(); status != 0) return injected_reply(status, to_storage);
    const Pairs query = http::parse_query(target.query);
    http::Reply r = to_storage ? storage(site_, request, target.path, query)
                               : api(site_, request, target.path, query);
    fault.finish(&r);
    return r;
  }

  std::uint64_t generation() const override { return site_.generation.load(); }

  std::string state_part() const override {
    JsonOut o;
    std::lock_guard<std::mutex> lock(site_.mu);
    write_project(o, site_.project);
    return std::move(o.buf);
  }

  Result<std::string> install(std::optional<std::string_view> object) override {
    Result<Project> parsed = read_project(object, site_.now());
    if (!parsed.is_ok()) return parsed.status();
    Project fresh = std::move(parsed).value();
    const ojson counts = {{"users", fresh.users.size()}, {"cohorts", fresh.cohorts.size()}};
    {
      std::lock_guard<std::mutex> lock(site_.mu);
      std::swap(site_.project, fresh);
    }
    site_.faults.clear();
    site_.changed();
    return counts.dump();
  }

  Status check(std::optional<std::string_view> object) const override {
    Result<Project> parsed = read_project(object, site_.now());
    return parsed.is_ok() ? Status::ok() : parsed.status();
  }

 private:
  Site site_;
};

}  // namespace
}  // namespace amplitude

std::unique_ptr<Part> make_amplitude_sandbox(SandboxClock* clock) {
  return std::make_unique<amplitude::AmplitudeSandbox>(clock);
}

}  // namespace concord::sandbox
