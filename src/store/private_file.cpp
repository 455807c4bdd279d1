#include "store/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <streambuf>
#include <vector>

namespace concord {
namespace {

namespace fs = std::filesystem;

Status sys_error(std::string_view what, const fs::path& path, int err) {
  return Status::io_error(std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

// The mode bits a chmod sets (permissions and the set-id and sticky bits).
constexpr mode_t kModeBits = 07777;

bool write_all(int fd, const char* p, std::size_t n, int* err) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// An output buffer over a file descriptor that keeps the first error (errno) it met.
class FdBuf final : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd), buf_(1 << 16) { setp(buf_.data(), buf_.data() + buf_.size()); }

  // Writes what is buffered; false (and error() says why) when a write failed.
  bool drain() {
    if (error_ != 0) return false;
    const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
    if (n > 0 && !write_all(fd_, pbase(), n, &error_)) return false;
    setp(buf_.data(), buf_.data() + buf_.size());
    return true;
  }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  int fd_;
  std::vector<char> buf_;
  int error_ = 0;
};

// Creates `path` with O_EXCL and sets its mode to exactly 0600 (the umask only narrows the mode
// open() is given). -1 with errno set on failure, the file removed.
int create_private(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (::fchmod(fd, 0600) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    errno = e;
    return -1;
  }
  return fd;
}

// A temporary name beside `path`, unique in this process (pid) and among its calls (n).
fs::path temp_name(const fs::path& path) {
  static std::atomic<std::uint64_t> counter{0};
  return path.string() + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter.fetch_add(1));
}

fs::path dir_of(const fs::path& path) {
  fs::path dir = path.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// The first line of `path`'s content, read through an open descriptor; narrows a file owned by
// this user to 0600 when it is wider.
Result<std::string> read_secret_file(int fd, const fs::path& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("cannot read", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::io_error("cannot read " + path.string() + ": not a file");
  }
  if ((st.st_mode & 077) != 0 && st.st_uid == ::geteuid() && ::fchmod(fd, 0600) != 0) {
    return sys_error("cannot make private", path, errno);
  }
  std::string content;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("cannot read", path, errno);
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
    if (content.size() > 64 * 1024) {
      return Status::io_error("cannot read " + path.string() + ": too long for a secret");
    }
  }
  std::string line = content.substr(0, content.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    return Status::io_error(path.string() +
                            " holds no secret (it is empty): remove it, and a new one is made");
  }
  return line;
}

}  // namespace

Status make_private_dir(const fs::path& dir, ExistingDir existing) {
  if (dir.empty()) return Status::invalid("no directory named");
  // The levels to make, deepest first, up to the first that exists.
  std::vector<fs::path> missing;
  fs::path at = dir;
  struct stat st;
  for (;;) {
    if (::stat(at.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return sys_error("cannot use", at, ENOTDIR);
      break;
    }
    if (errno != ENOENT) return sys_error("cannot use", at, errno);
    missing.push_back(at);
    fs::path parent = at.parent_path();
    if (parent.empty() || parent == at) break;
    at = std::move(parent);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0) {
      // Made at the same moment by another process (or named twice, "a/b/" after "a/b"): the
      // maker sets its mode.
      if (errno == EEXIST && ::stat(it->c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
      return sys_error("cannot create", *it, errno);
    }
    if (::chmod(it->c_str(), 0700) != 0) return sys_error("cannot make private", *it, errno);
  }
  if (!missing.empty() || existing == ExistingDir::kKeep) return Status::ok();
  if ((st.st_mode & kModeBits) == 0700 || st.st_uid != ::geteuid()) return Status::ok();
  if ((st.st_mode & S_ISVTX) != 0) {
    return Status::invalid(dir.string() +
                           " is a shared directory (its sticky bit is set, as /tmp's is): concord "
                           "keeps people's data in a directory of its own; name another");
  }
  if (::chmod(dir.c_str(), 0700) != 0) return sys_error("cannot make private", dir, errno);
  return Status::ok();
}

Status sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("cannot open", dir, errno);
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  if (rc != 0) return sys_error("cannot sync", dir, e);
  return Status::ok();
}

// ---- PrivateFile ------------------------------------------------------------------------------

struct PrivateFile::Impl {
  explicit Impl(int fd) : fd(fd), buf(fd), out(&buf) {}
  int fd;
  FdBuf buf;
  std::ostream out;
};

PrivateFile::PrivateFile(fs::path path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

PrivateFile::~PrivateFile() {
  if (impl_ && impl_->fd >= 0) {
    (void)impl_->buf.drain();
    ::close(impl_->fd);
  }
}

Result<std::unique_ptr<PrivateFile>> PrivateFile::create(const fs::path& path) {
  const int fd = create_private(path);
  if (fd < 0) return sys_error("cannot create", path, errno);
  return std::unique_ptr<PrivateFile>(new PrivateFile(path, std::make_unique<Impl>(fd)));
}

std::ostream& PrivateFile::out() {
  assert(impl_->fd >= 0);
  return impl_->out;
}

Status PrivateFile::close() {
  assert(impl_->fd >= 0);
  const int fd = impl_->fd;
  impl_->fd = -1;
  int err = 0;
  if (!impl_->buf.drain()) {
    err = impl_->buf.error();
  } else if (::fsync(fd) != 0) {
    err = errno;
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) return sys_error("cannot write", path_, err);
  if (!impl_->out) return Status::io_error("cannot write " + path_.string());
  return Status::ok();
}

// ---- AtomicFile -------------------------------------------------------------------------------

Result<std::unique_ptr<AtomicFile>> AtomicFile::create(const fs::path& path) {
  Result<std::unique_ptr<PrivateFile>> f = PrivateFile::create(temp_name(path));
  if (!f) return f.status();
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, std::move(*f)));
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  const fs::path tmp = file_->path();
  file_.reset();
  ::unlink(tmp.c_str());
}

Status AtomicFile::commit() {
  assert(!committed_);
  if (Status s = file_->close(); !s) return s;
  if (::rename(file_->path().c_str(), path_.c_str()) != 0) {
    return sys_error("cannot rename " + file_->path().string() + " to", path_, errno);
  }
  committed_ = true;
  // The rename is done; syncing the directory makes it survive a crash.
  return sync_dir(dir_of(path_));
}

Status write_file_atomically(const fs::path& path, std::string_view contents) {
  Result<std::unique_ptr<AtomicFile>> f = AtomicFile::create(path);
  if (!f) return f.status();
  (*f)->out().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  return (*f)->commit();
}

// ---- secrets ----------------------------------------------------------------------------------

Result<std::string> read_or_create_secret(const fs::path& path, std::string_view secret) {
  assert(!secret.empty() && secret.find_first_of("\r\n") == std::string_view::npos);
  if (secret.empty() || secret.find_first_of("\r\n") != std::string_view::npos) {
    return Status::internal("a secret must be one line of text");
  }
  // Twice at most: a link that lost the race reads the winner's file.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      Result<std::string> s = read_secret_file(fd, path);
      ::close(fd);
      return s;
    }
    if (errno != ENOENT) return sys_error("cannot read", path, errno);

    const fs::path tmp = temp_name(path);
    const int out = create_private(tmp);
    if (out < 0) return sys_error("cannot create", tmp, errno);
    const std::string line = std::string(secret) + "\n";
    int err = 0;
    if (!write_all(out, line.data(), line.size(), &err)) {
      // err set by write_all
    } else if (::fsync(out) != 0) {
      err = errno;
    }
    if (::close(out) != 0 && err == 0) err = errno;
    if (err != 0) {
      ::unlink(tmp.c_str());
      return sys_error("cannot write", tmp, err);
    }
    // link() publishes the whole file under its name, or fails when the name is taken.
    const int linked = ::link(tmp.c_str(), path.c_str());
    const int link_err = errno;
    ::unlink(tmp.c_str());
    if (linked == 0) {
      if (Status s = sync_dir(dir_of(path)); !s) return s;
      return std::string(secret);
    }
    if (link_err != EEXIST) return sys_error("cannot create", path, link_err);
  }
  return Status::io_error("cannot read " + path.string() + ": it came and went while being made");
}

}  // namespace concord
