#include "sandbox/persister.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace concord::sandbox {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return Status::not_found(path + " does not exist");
    return Status::io_error("cannot open " + path);
  }
  std::string s;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size > 0) {
    s.resize(static_cast<std::size_t>(size));
    in.seekg(0);
    in.read(s.data(), size);
  }
  if (!in) return Status::io_error("cannot read " + path);
  return s;
}

Persister::Persister(std::string path, std::function<std::uint64_t()> generation,
                     std::function<std::string()> snapshot, std::chrono::milliseconds interval)
    : path_(std::move(path)),
      generation_(std::move(generation)),
      snapshot_(std::move(snapshot)),
      interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

Persister::~Persister() {
  stop();
}

Status Persister::flush() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  std::uint64_t g = generation_();
  if (g == saved_.load()) return Status::ok();
  std::string doc = snapshot_();
  Status s = write_file_atomically(path_, doc);
  if (s.is_ok()) saved_.store(g);
  return s;
}

void Persister::run() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  Clock::duration last_save{0};
  std::uint64_t seen = saved_.load();  // the generation at the last look
  bool dirty = false;                  // a change is not saved
  Clock::time_point dirty_since;       // the first look that found it
  while (!stopping_) {
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    const std::uint64_t g = generation_();
    const Clock::time_point now = Clock::now();
    if (g == saved_.load()) {
      seen = g;
      dirty = false;
      continue;
    }
    if (!dirty) dirty_since = now;
    dirty = true;
    const bool quiet = g == seen;  // nothing changed for a whole interval
    seen = g;
    // A save serialises the whole state while the parts wait (a 100 000-member list takes a
    // third of a second): it waits for the requests that change the state to pause, so that a
    // burst of them (a migration) is not slowed by saves in its middle; but no longer than ten
    // intervals, or ten times the last save (a large state's saves then take a tenth of the
    // sandbox's time, not most of it).
    const Clock::duration longest = std::max<Clock::duration>(10 * interval_, 10 * last_save);
    if (!quiet && now - dirty_since < longest) continue;
    lock.unlock();
    const Clock::time_point start = Clock::now();
    Status s = flush();
    last_save = Clock::now() - start;
    dirty = false;
    if (!s.is_ok())
      std::fprintf(stderr, "concord-sandbox: saving state: %s\n", s.to_string().c_str());
    lock.lock();
  }
}

void Persister::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    Status s = flush();
    if (!s.is_ok())
      std::fprintf(stderr, "concord-sandbox: saving state: %s\n", s.to_string().c_str());
  }
}

}  // namespace concord::sandbox
