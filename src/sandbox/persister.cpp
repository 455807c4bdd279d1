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
  std::unique_lock<std::mutex> lock(mu_);
  std::chrono::steady_clock::duration last_save{0};
  while (!stopping_) {
    // A save serialises the whole state while the parts wait (a 100 000-member list takes a
    // third of a second): after a long one the next waits ten times as long, so that a large
    // state's saves take a tenth of the sandbox's time, not most of it.
    const auto wait = std::max<std::chrono::steady_clock::duration>(interval_, 10 * last_save);
    cv_.wait_for(lock, wait, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    Status s = flush();
    last_save = std::chrono::steady_clock::now() - start;
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
