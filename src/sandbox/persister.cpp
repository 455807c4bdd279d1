#include "sandbox/persister.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace concord::sandbox {

Status write_file_atomically(const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // The state names people (made up, but shaped like real ones): 0600, whatever the umask, from
  // the moment the file exists. A temporary file left by a killed process of the same pid goes.
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
  if (::fchmod(fd, 0600) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::io_error("cannot make " + tmp + " private: " + std::strerror(e));
  }
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::io_error("cannot write " + tmp + ": " + std::strerror(e));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::io_error("cannot sync " + tmp + ": " + std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::io_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

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
  while (!stopping_) {
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Status s = flush();
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
