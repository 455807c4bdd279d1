// Private files: the state directory, the store's directory, backups, reports and secrets.
//
// concord keeps people's data (snapshots, backups, reports) and secrets (the webhook key, the
// serve token) on disk, so what it makes is readable by its user only, whatever the umask: the
// directories it makes are 0700 and its files 0600. The modes are set with chmod/fchmod after
// creation, because the mode handed to mkdir/open is only narrowed by the umask (a umask of 0277
// would make a file its owner cannot write, one of 0 leaves nothing to narrow). A file is
// created with O_EXCL and mode 0600 from the start, so there is no moment at which it exists with
// a wider mode or with someone else's content.
//
// What replaces a file is written whole to a temporary file beside it, synced, renamed over it,
// and the directory synced: after a crash the old file or the new one is there, never a part.
// docs/operations.md ("Security") lists the files and their modes.
//
// Errors are kIoError naming the path and the system's words (strerror), unless said otherwise.
// Thread-safety: the functions may be called from several threads and processes at once
// (temporary names are unique per process and call); one PrivateFile or AtomicFile per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "concord/status.h"

namespace concord {

// What make_private_dir() does with a directory that exists already.
enum class ExistingDir : std::uint8_t {
  kKeep,     // leave it as it is (a directory the user named, e.g. `backup --output /srv/x`)
  kTighten,  // narrow it to 0700 (concord's own: the state directory, the store's directory)
};

// Makes `dir` and each missing parent with mode 0700 (each level it creates: an existing parent
// is never changed). With kTighten an existing `dir` owned by this user that is not 0700 becomes
// 0700 (one owned by another user is left alone); a sticky directory (such as /tmp) is refused
// with kInvalid, since it is shared by design and narrowing it would break the system.
// kIoError when a level cannot be made, or `dir` or a parent is not a directory.
[[nodiscard]] Status make_private_dir(const std::filesystem::path& dir,
                                      ExistingDir existing = ExistingDir::kTighten);

// Syncs a directory, so that the entries made, renamed or removed in it survive a crash.
[[nodiscard]] Status sync_dir(const std::filesystem::path& dir);

// A new file, mode 0600 from its creation, written through out(). create() fails with kIoError
// when `path` exists (O_EXCL) or its directory is missing. Writes are buffered; close() flushes,
// fsyncs and closes, and says whether every write reached the file. Destroyed without close(),
// the file is closed unsynced and left in place.
class PrivateFile {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PrivateFile>> create(
      const std::filesystem::path& path);
  ~PrivateFile();
  PrivateFile(const PrivateFile&) = delete;
  PrivateFile& operator=(const PrivateFile&) = delete;

  // REQUIRES: close() has not been called.
  std::ostream& out();
  // kIoError naming the path when a write, the fsync or the close failed. REQUIRES: called once.
  [[nodiscard]] Status close();
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Impl;
  PrivateFile(std::filesystem::path path, std::unique_ptr<Impl> impl);
  std::filesystem::path path_;
  std::unique_ptr<Impl> impl_;
};

// A file that replaces `path` (or makes it) all at once, mode 0600: written through out() to a
// temporary file beside it (`path`.tmp.<pid>.<n>); commit() syncs it, renames it over `path` and
// syncs the directory. Destroyed without a successful commit(), the temporary file is removed
// and `path` is as it was. kIoError when the temporary file cannot be made (the directory is
// missing or not writable) or commit() fails.
class AtomicFile {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AtomicFile>> create(
      const std::filesystem::path& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // REQUIRES: commit() has not been called.
  std::ostream& out() { return file_->out(); }
  // REQUIRES: called once.
  [[nodiscard]] Status commit();

 private:
  AtomicFile(std::filesystem::path path, std::unique_ptr<PrivateFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}
  std::filesystem::path path_;
  std::unique_ptr<PrivateFile> file_;
  bool committed_ = false;
};

// An AtomicFile holding `contents`.
[[nodiscard]] Status write_file_atomically(const std::filesystem::path& path,
                                           std::string_view contents);

// The secret kept in `path` (one line): the one there, or `secret`, written there now when there
// is none. For the secrets concord makes once and keeps (the webhook key, the serve token):
// callers pass a fresh random_secret() and use what this returns.
//
// The new file appears whole or not at all, 0600 from the start: the secret is written to a
// temporary file (O_EXCL, 0600), synced, then hard-linked to `path`, which fails if `path` exists.
// So two processes making it at once both return the same secret (the first link wins; the other
// reads it), and a reader never sees an empty or partly written file. An existing file wider
// than 0600 and owned by this user is narrowed to 0600. The directory must exist (see
// make_private_dir()); a symlink at `path` is refused. kIoError naming the path when it cannot be
// read or made, or holds no secret (an empty first line: remove the file to have a new one made).
// REQUIRES: `secret` is not empty and holds no line break.
[[nodiscard]] Result<std::string> read_or_create_secret(const std::filesystem::path& path,
                                                        std::string_view secret);

}  // namespace concord
