// Persistence of the sandbox's state document (docs/sandbox.md "The state and its persistence"):
// the file helpers, and the Persister that saves the document after changes.
//
// Thread-safety: the functions may be called from any thread; Persister's methods too.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "concord/status.h"
#include "store/private_file.h"

namespace concord::sandbox {

// The state is written with write_file_atomically (store/private_file.h): whole or not at all,
// 0600 whatever the umask.
// Reads a whole file. kNotFound when it does not exist, kIoError when it cannot be read.
Result<std::string> read_file(const std::string& path);

// Saves the state document from a background thread once it changed and then stayed unchanged
// for an interval (a second), or at the latest ten intervals (or ten times the last save's
// duration, if longer) after the change was seen; and once more at stop(). A burst of changes (a
// migration) is saved after it, not in its middle, and a large state is saved less often rather
// than most of the time.
class Persister {
 public:
  // `generation` returns a counter that moves on every change; `snapshot` returns the document.
  // Both are called from the persister's thread and must be thread-safe.
  Persister(std::string path, std::function<std::uint64_t()> generation,
            std::function<std::string()> snapshot,
            std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  ~Persister();  // stop()
  // Marks the current generation as saved (after loading the file it came from).
  void mark_saved(std::uint64_t generation) { saved_ = generation; }
  // Saves now if changed. Returns the write status.
  Status flush();
  // Stops the thread after a final flush. Idempotent.
  void stop();

 private:
  void run();
  std::string path_;
  std::function<std::uint64_t()> generation_;
  std::function<std::string()> snapshot_;
  std::chrono::milliseconds interval_;
  std::atomic<std::uint64_t> saved_{~std::uint64_t{0}};
  std::mutex mu_;
  std::mutex flush_mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace concord::sandbox
