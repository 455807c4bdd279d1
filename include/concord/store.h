// The persistent store: one RocksDB database under the state directory.
//
// Each sync pair has its own column families ("families" here): the Mailchimp snapshot, the CRM
// snapshot, the base, the journal, the runs, metadata (watermarks, config hash) and rejected rows.
// Snapshot and base keys are the 16-byte MemberKey, so every member-keyed family iterates in the
// same order and the diff can merge-join them. docs/store-format.md is the grammar of every key
// and value.
//
// No RocksDB type appears in this header; only src/store/ includes RocksDB.
//
// Thread-safety: a Store may be used from several threads at once (RocksDB is thread-safe). A
// Cursor or a Batch belongs to one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"

namespace concord {

enum class Family : std::uint8_t {
  kMailchimp = 0,  // Mailchimp snapshot: MemberKey → snapshot value
  kCrm = 1,        // CRM snapshot: MemberKey → snapshot value
  kBase = 2,       // MemberKey → base value
  kJournal = 3,    // run id, sequence → planned/applied operation
  kRuns = 4,       // run id → run record
  kMeta = 5,       // name → value (watermarks, config hash)
  kRejects = 6,    // rows a side returned that could not be keyed (invalid email)
};
inline constexpr int kFamilyCount = 7;
std::string_view family_name(Family f);  // "mailchimp", "crm", "base", …

// A test's way to make the disk under a store full: while `full` is set, every write to the
// store's files fails as it would with ENOSPC. (The store then refuses writes until a
// check_writable() finds room again.)
struct DiskFaults {
  std::atomic<bool> full{false};
};

struct StoreOptions {
  // Create the database when the directory holds none. Default: true.
  bool create_if_missing = true;
  // Shared block cache for all families. Default: 32 MiB.
  std::size_t block_cache_bytes = 32u << 20;
  // Memtable budget shared by all families (RocksDB's WriteBufferManager). Default: 64 MiB.
  std::size_t write_buffer_budget_bytes = 64u << 20;
  // Memtable size of one family before it is flushed. Default: 16 MiB.
  std::size_t write_buffer_bytes = 16u << 20;
  // Open for reading only, beside a process that has it open for writing (`concord status` while
  // `concord serve` runs): what was written up to the open is seen; writes fail; a pair with no
  // state yet is kNotFound. The store must exist. Default: false.
  bool read_only = false;
  // Tests only: the faults to inject into the store's file writes (REQUIRES: outlives the store).
  DiskFaults* faults = nullptr;
};

// The families of one sync pair. Owned by the Store; valid until the Store is destroyed.
class PairHandle {
 public:
  virtual ~PairHandle() = default;
  virtual const std::string& name() const = 0;
};

// A key-ordered iterator over one family of one pair. Positioned before use with seek_to_first()
// or seek(). key()/value() are valid until the next move.
class Cursor {
 public:
  Cursor(Cursor&&) noexcept;
  Cursor& operator=(Cursor&&) noexcept;
  ~Cursor();

  void seek_to_first();
  void seek(std::string_view key);
  bool valid() const;
  // REQUIRES: valid().
  void next();
  std::string_view key() const;
  std::string_view value() const;
  // Not OK when iteration stopped on an error rather than at the end.
  Status status() const;

  struct Impl;
  explicit Cursor(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// An atomic group of writes across the families of one or more pairs.
class Batch {
 public:
  Batch();
  Batch(Batch&&) noexcept;
  ~Batch();
  void put(const PairHandle& pair, Family f, std::string_view key, std::string_view value);
  void del(const PairHandle& pair, Family f, std::string_view key);
  // Deletes every key in [begin, end).
  void del_range(const PairHandle& pair, Family f, std::string_view begin, std::string_view end);
  // Deletes every key of the family.
  void del_all(const PairHandle& pair, Family f);
  std::size_t count() const;
  std::size_t bytes() const;
  void clear();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Opens (or creates) the store in `dir`. Fails with kFailedPrecondition, naming both versions,
  // when the store was written by another store format version; with kIoError when the
  // directory cannot be used (for example another concord holds its lock).
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                             const StoreOptions& options = {});
  virtual ~Store() = default;

  // The families of a pair, created on first use. Pair names are 1-64 characters of
  // [A-Za-z0-9_.-]; anything else is kInvalid.
  virtual Result<const PairHandle*> pair(std::string_view name) = 0;
  // Names of all pairs that have families in the store, sorted.
  virtual std::vector<std::string> pair_names() const = 0;

  // Point reads. A missing key gives nullopt.
  virtual Result<std::optional<std::string>> get(const PairHandle& pair, Family f,
                                                 std::string_view key) = 0;
  // Reads many keys of one family at once (faster than get() per key). (*values)[i] belongs to
  // keys[i].
  virtual Status multi_get(const PairHandle& pair, Family f,
                           const std::vector<std::string_view>& keys,
                           std::vector<std::optional<std::string>>* values) = 0;

  virtual Status put(const PairHandle& pair, Family f, std::string_view key,
                     std::string_view value) = 0;
  // Applies the batch atomically. sync: wait until the write-ahead log is on disk (use for journal
  // entries that must survive a power cut).
  virtual Status write(Batch& batch, bool sync = false) = 0;

  // Whether the store can write now: a small synced write. After the first write error (a full
  // disk) every write fails at once with that error, RocksDB untouched (it would refuse them, and
  // Debian's build of it aborts the process on a write to a log file that failed before). Then
  // this call also tries to recover: when a 1 MiB synced probe file fits on the disk again and
  // no cursor is open, it closes and reopens the database in place (pair handles stay valid),
  // and the store writes again. It never waits for other threads: when the store is in use, the
  // next call tries again. The engine calls it before every run and the daemon's /healthz at
  // most once a second. The error when it cannot write (kIoError naming the cause).
  virtual Status check_writable() = 0;

  // A cursor over one family. It sees the store as it was when scan() was called.
  virtual Cursor scan(const PairHandle& pair, Family f) = 0;

  // Deletes every key of one family.
  virtual Status clear(const PairHandle& pair, Family f) = 0;

  // Writes memtables to disk (tests and benchmarks use it to measure reads from files).
  virtual Status flush() = 0;
  // Compacts one family fully (benchmarks; the store compacts by itself otherwise).
  virtual Status compact(const PairHandle& pair, Family f) = 0;
};

// Key encodings of the run-keyed families (big-endian, so keys sort by number).
std::string run_key(std::uint64_t run_id);
std::string journal_key(std::uint64_t run_id, std::uint32_t seq);
bool decode_journal_key(std::string_view key, std::uint64_t* run_id, std::uint32_t* seq);

// The store format version kept in the default family under this key.
inline constexpr std::string_view kFormatVersionKey = "concord.store_format";
// Written (synced) by Store::check_writable(), in the default column family.
inline constexpr std::string_view kProbeKey = "concord.write_probe";

}  // namespace concord
