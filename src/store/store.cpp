// RocksDB behind the Store interface. The only file that includes RocksDB headers.
#include "concord/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <system_error>
#include <utility>

#include "concord/record.h"
#include "store/private_file.h"

namespace concord {
namespace {

constexpr std::array<std::string_view, kFamilyCount> kFamilyNames = {
    "mailchimp", "crm", "base", "journal", "runs", "meta", "rejects"};
constexpr char kFamilySeparator = ':';  // "<pair>:<family>"

// A column family's name split into its pair and its family; nullopt for a name that is not a
// pair's (RocksDB's "default").
std::optional<std::pair<std::string_view, std::string_view>> split_cf_name(std::string_view name) {
  const auto pos = name.rfind(kFamilySeparator);
  if (pos == std::string_view::npos) return std::nullopt;
  return std::make_pair(name.substr(0, pos), name.substr(pos + 1));
}

Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok();
  std::string msg(what);
  msg += ": ";
  msg += s.ToString();
  Status out;
  if (s.IsCorruption()) {
    out = Status::corruption(std::move(msg));
  } else if (s.IsNotFound()) {
    out = Status::not_found(std::move(msg));
  } else if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    out = Status::unavailable(std::move(msg));
  } else if (s.IsInvalidArgument()) {
    out = Status::invalid(std::move(msg));
  } else {
    out = Status::io_error(std::move(msg));
  }
  return out.with_origin(Origin::kStore);
}

bool valid_pair_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class RocksPair final : public PairHandle {
 public:
  explicit RocksPair(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount> cf{};

 private:
  std::string name_;
};

rocksdb::ColumnFamilyHandle* cf_of(const PairHandle& pair, Family f) {
  return static_cast<const RocksPair&>(pair).cf[static_cast<int>(f)];
}

}  // namespace

std::string_view family_name(Family f) {
  return kFamilyNames[static_cast<int>(f)];
}

// ---- Cursor ----

struct Cursor::Impl {
  std::unique_ptr<rocksdb::Iterator> it;
  const rocksdb::Snapshot* snapshot = nullptr;
  rocksdb::DB* db = nullptr;
  // The store's count of live cursors: while it is not zero the store is not reopened, so `db`
  // stays valid for as long as this cursor uses it.
  std::atomic<int>* live = nullptr;
  ~Impl() {
    it.reset();
    if (snapshot != nullptr) db->ReleaseSnapshot(snapshot);
    if (live != nullptr) live->fetch_sub(1, std::memory_order_release);
  }
};

Cursor::Cursor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Cursor::Cursor(Cursor&&) noexcept = default;
Cursor& Cursor::operator=(Cursor&&) noexcept = default;
Cursor::~Cursor() = default;
void Cursor::seek_to_first() {
  impl_->it->SeekToFirst();
}
void Cursor::seek(std::string_view key) {
  impl_->it->Seek(rocksdb::Slice(key));
}
bool Cursor::valid() const {
  return impl_->it->Valid();
}
void Cursor::next() {
  impl_->it->Next();
}
std::string_view Cursor::key() const {
  return impl_->it->key().ToStringView();
}
std::string_view Cursor::value() const {
  return impl_->it->value().ToStringView();
}
Status Cursor::status() const {
  return from_rocks(impl_->it->status(), "reading the store");
}

// ---- Batch ----

// Member keys are 16 bytes and run keys 8-12; every key of a family sorts below 257 bytes of 0xff.
const std::string kPastEveryKey(257, '\xff');

struct Batch::Impl {
  rocksdb::WriteBatch wb;
};

Batch::Batch() : impl_(std::make_unique<Impl>()) {}
Batch::Batch(Batch&&) noexcept = default;
Batch::~Batch() = default;
void Batch::put(const PairHandle& pair, Family f, std::string_view key, std::string_view value) {
  // WriteBatch::Put only fails when the batch exceeds its size limit, which is unlimited here.
  (void)impl_->wb.Put(cf_of(pair, f), rocksdb::Slice(key), rocksdb::Slice(value));
}
void Batch::del(const PairHandle& pair, Family f, std::string_view key) {
  (void)impl_->wb.Delete(cf_of(pair, f), rocksdb::Slice(key));
}
void Batch::del_range(const PairHandle& pair, Family f, std::string_view begin,
                      std::string_view end) {
  (void)impl_->wb.DeleteRange(cf_of(pair, f), rocksdb::Slice(begin), rocksdb::Slice(end));
}
void Batch::del_all(const PairHandle& pair, Family f) {
  del_range(pair, f, "", kPastEveryKey);
}
std::size_t Batch::count() const {
  return impl_->wb.Count();
}
std::size_t Batch::bytes() const {
  return impl_->wb.GetDataSize();
}
void Batch::clear() {
  impl_->wb.Clear();
}

// ---- Store ----

namespace {

// DiskFaults made real: a file system whose writable files fail with "no space" while
// `faults.full` is set (RocksDB's own fault-injection file systems are not among the installed
// headers).
class FullDiskFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskFile(std::unique_ptr<rocksdb::FSWritableFile> file, const DiskFaults& faults)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(faults) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    if (faults_.full) return rocksdb::IOStatus::NoSpace("injected: the disk is full");
    return FSWritableFileOwnerWrapper::Append(data, o, d);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* d) override {
    if (faults_.full) return rocksdb::IOStatus::NoSpace("injected: the disk is full");
    return FSWritableFileOwnerWrapper::Append(data, o, v, d);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (faults_.full) return rocksdb::IOStatus::NoSpace("injected: the disk is full");
    return FSWritableFileOwnerWrapper::Sync(o, d);
  }

 private:
  const DiskFaults& faults_;
};

// RocksDB's diagnostic log (LOG in the store's directory), written with stdio. RocksDB's own
// logger asserts — aborting the process, in Debian's build — when it writes a line after a line
// it could not write, which a full disk makes happen at the first write error. Here a line that
// cannot be written is simply lost. Rotated at open (LOG.old); periodic statistics are off, so
// it stays small.
class StoreLogger final : public rocksdb::Logger {
 public:
  explicit StoreLogger(std::FILE* f) : Logger(rocksdb::InfoLogLevel::INFO_LEVEL), f_(f) {}
  ~StoreLogger() override {
    if (f_ != nullptr) std::fclose(f_);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (f_ == nullptr) return;
    std::vfprintf(f_, format, ap);
    std::fputc('\n', f_);
    std::fflush(f_);
  }

 private:
  std::FILE* f_;
};

// A logger over dir/LOG (0600; the old one kept as LOG.old); nullptr when it cannot be made, in
// which case RocksDB logs nothing.
std::shared_ptr<rocksdb::Logger> store_logger(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::rename(dir / "LOG", dir / "LOG.old", ec);
  const int fd = ::open((dir / "LOG").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  ::fchmod(fd, 0600);
  std::FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return nullptr;
  }
  return std::make_shared<StoreLogger>(f);
}

class FullDiskFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base, const DiskFaults& faults)
      : FileSystemWrapper(base), faults_(faults) {}
  const char* Name() const override { return "ConcordFullDisk"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* out,
                                    rocksdb::IODebugContext* d) override {
    if (faults_.full) return rocksdb::IOStatus::NoSpace("injected: the disk is full");
    rocksdb::IOStatus s = FileSystemWrapper::NewWritableFile(name, o, out, d);
    if (s.ok()) *out = std::make_unique<FullDiskFile>(std::move(*out), faults_);
    return s;
  }

 private:
  const DiskFaults& faults_;
};

class RocksStore final : public Store {
 public:
  ~RocksStore() override {
    pairs_.clear();
    close_db();
  }

  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir,
                                             const StoreOptions& o) {
    auto store = std::unique_ptr<RocksStore>(new RocksStore());
    Status s = store->do_open(dir, o);
    if (!s) return s;
    return std::unique_ptr<Store>(std::move(store));
  }

  Result<const PairHandle*> pair(std::string_view name) override {
    if (!valid_pair_name(name)) {
      return Status::invalid("sync name \"" + std::string(name.substr(0, 80)) +
                             "\" must be 1-64 characters of letters, digits, '_', '-', '.'");
    }
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pairs_.find(std::string(name));
    if (it != pairs_.end()) return static_cast<const PairHandle*>(it->second.get());
    auto p = std::make_unique<RocksPair>(std::string(name));
    if (Status s = map_families(*p); !s) return s;
    const PairHandle* out = p.get();
    pairs_[std::string(name)] = std::move(p);
    return out;
  }

  std::vector<std::string> pair_names() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [cf_name, h] : by_name_) {
      const auto parts = split_cf_name(cf_name);
      if (!parts) continue;
      if (names.empty() || names.back() != parts->first) names.emplace_back(parts->first);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  Result<std::optional<std::string>> get(const PairHandle& pair, Family f,
                                         std::string_view key) override {
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (db_ == nullptr) return closed();
    std::string value;
    rocksdb::Status rs = db_->Get(read_options_, cf_of(pair, f), rocksdb::Slice(key), &value);
    if (rs.IsNotFound()) return std::optional<std::string>();
    if (!rs.ok()) return from_rocks(rs, "reading " + std::string(family_name(f)));
    return std::optional<std::string>(std::move(value));
  }

  Status multi_get(const PairHandle& pair, Family f, const std::vector<std::string_view>& keys,
                   std::vector<std::optional<std::string>>* values) override {
    const std::size_t n = keys.size();
    values->assign(n, std::nullopt);
    if (n == 0) return Status::ok();
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (db_ == nullptr) return closed();
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> pinned(n);
    std::vector<rocksdb::Status> statuses(n);
    db_->MultiGet(read_options_, cf_of(pair, f), n, slices.data(), pinned.data(), statuses.data(),
                  /*sorted_input=*/false);
    for (std::size_t i = 0; i < n; ++i) {
      if (statuses[i].IsNotFound()) continue;
      if (!statuses[i].ok())
        return from_rocks(statuses[i], "reading " + std::string(family_name(f)));
      (*values)[i].emplace(pinned[i].data(), pinned[i].size());
    }
    return Status::ok();
  }

  Status put(const PairHandle& pair, Family f, std::string_view key,
             std::string_view value) override {
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (Status failed = write_failure(); !failed) return failed;
    return wrote(
        db_->Put(write_options_, cf_of(pair, f), rocksdb::Slice(key), rocksdb::Slice(value)),
        "writing " + std::string(family_name(f)));
  }

  Status write(Batch& batch, bool sync) override {
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (Status failed = write_failure(); !failed) return failed;
    rocksdb::WriteOptions wo = write_options_;
    wo.sync = sync;
    return wrote(db_->Write(wo, &batch.impl().wb), "writing to the store");
  }

  Status check_writable() override {
    if (read_only_) return Status::failed_precondition("the store is open for reading only");
    if (Status failed = write_failure(); !failed) {
      if (Status recovered = recover(); !recovered) return recovered;
    }
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (Status failed = write_failure(); !failed) return failed;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return wrote(db_->Put(wo, rocksdb::Slice(kProbeKey), rocksdb::Slice("1")),
                 "writing to the store");
  }

  Cursor scan(const PairHandle& pair, Family f) override {
    auto impl = std::make_unique<Cursor::Impl>();
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (db_ == nullptr) {
      impl->it.reset(rocksdb::NewErrorIterator(rocksdb::Status::IOError(closed().message())));
      return Cursor(std::move(impl));
    }
    live_cursors_.fetch_add(1, std::memory_order_acquire);
    impl->live = &live_cursors_;
    impl->db = db_;
    impl->snapshot = db_->GetSnapshot();
    rocksdb::ReadOptions ro = read_options_;
    ro.snapshot = impl->snapshot;
    ro.readahead_size = 512u << 10;  // sequential scans: read ahead 512 KiB
    ro.fill_cache = false;           // a full scan would only evict the working set
    ro.async_io = false;
    impl->it.reset(db_->NewIterator(ro, cf_of(pair, f)));
    return Cursor(std::move(impl));
  }

  Status clear(const PairHandle& pair, Family f) override {
    Batch b;
    b.del_all(pair, f);
    return write(b, /*sync=*/false).with_context("clearing " + std::string(family_name(f)));
  }

  Status flush() override {
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (db_ == nullptr) return closed();
    rocksdb::FlushOptions fo;
    fo.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.assign(handles_.begin(), handles_.end());
    }
    all.push_back(db_->DefaultColumnFamily());
    return from_rocks(db_->Flush(fo, all), "flushing the store");
  }

  Status compact(const PairHandle& pair, Family f) override {
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    if (db_ == nullptr) return closed();
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    return from_rocks(db_->CompactRange(co, cf_of(pair, f), nullptr, nullptr),
                      "compacting " + std::string(family_name(f)));
  }

 private:
  RocksStore() = default;

  // The first write error (a full disk, a failing device) stops every later write here, before
  // RocksDB sees it: RocksDB refuses writes after such an error anyway, and Debian's build of it
  // asserts (aborting the process) when a write reaches a log file that failed before. The next
  // check_writable() that finds room on the disk again reopens the database (recover()), and the
  // store writes again.
  Status write_failure() const {
    std::lock_guard<std::mutex> lock(failure_mu_);
    return failure_;
  }
  Status wrote(const rocksdb::Status& rs, const std::string& what) {
    Status s = from_rocks(rs, what);
    if (!s && (rs.IsIOError() || rs.IsCorruption())) {
      std::lock_guard<std::mutex> lock(failure_mu_);
      if (failure_) {
        failure_ = Status::io_error(
            s.message() + "; the store writes nothing more until there is room on the disk");
      }
    }
    return s;
  }
  // What reads see while the database is closed (a reopen that failed).
  Status closed() const {
    Status failed = write_failure();
    return failed ? Status::io_error("the store is closed").with_origin(Origin::kStore) : failed;
  }

  // Whether the disk takes writes again: a synced 1 MiB file written through the store's own
  // file system (so that a test's DiskFaults apply to it too), then removed.
  Status disk_has_room() {
    rocksdb::Env* env = db_options_.env;
    const std::string probe = (dir_ / "concord-room-probe").string();
    std::unique_ptr<rocksdb::WritableFile> file;
    rocksdb::Status rs = env->NewWritableFile(probe, &file, rocksdb::EnvOptions());
    const std::string block(64 * 1024, '\0');
    for (int i = 0; rs.ok() && i < 16; ++i)
      rs = file->Append(rocksdb::Slice(block));
    if (rs.ok()) rs = file->Sync();
    if (file) (void)file->Close();
    (void)env->DeleteFile(probe);
    return from_rocks(rs, "probing the disk for room");
  }

  // After a write error: when the disk has room again and no cursor is open, closes the
  // database and opens it again, which clears RocksDB's own error state, and the store writes
  // again. Never blocks behind another thread's use of the store: when it is busy, the next
  // check tries again. OK when the store can write now; otherwise the error that stops it.
  Status recover() {
    std::unique_lock<std::shared_mutex> db_lock(db_mu_, std::try_to_lock);
    if (!db_lock.owns_lock() || live_cursors_.load(std::memory_order_acquire) != 0) {
      return write_failure();
    }
    if (write_failure()) return Status::ok();  // recovered meanwhile
    if (Status room = disk_has_room(); !room) return write_failure();
    std::lock_guard<std::mutex> lock(mu_);
    close_db();
    if (Status s = open_db(); !s) {
      close_db();
      std::lock_guard<std::mutex> failure_lock(failure_mu_);
      failure_ = Status::io_error(s.message() + "; the store is closed until it can be reopened")
                     .with_origin(Origin::kStore);
      return failure_;
    }
    {
      std::lock_guard<std::mutex> failure_lock(failure_mu_);
      failure_ = Status::ok();
    }
    for (auto& [name, p] : pairs_) {
      if (Status s = map_families(*p); !s) {
        close_db();
        std::lock_guard<std::mutex> failure_lock(failure_mu_);
        failure_ = s;
        return s;
      }
    }
    return Status::ok();
  }

  // Points a pair's families at their column families, creating those that do not exist yet.
  // REQUIRES: mu_ held; db_ open.
  Status map_families(RocksPair& p) {
    std::vector<rocksdb::ColumnFamilyDescriptor> missing;
    std::vector<int> missing_index;
    for (int i = 0; i < kFamilyCount; ++i) {
      std::string cf_name = p.name() + kFamilySeparator + std::string(kFamilyNames[i]);
      auto found = by_name_.find(cf_name);
      if (found != by_name_.end()) {
        p.cf[i] = found->second;
        continue;
      }
      missing.emplace_back(cf_name, cf_options_for(cf_name));
      missing_index.push_back(i);
    }
    if (missing.empty()) return Status::ok();
    if (read_only_) return Status::not_found("sync \"" + p.name() + "\" has no state yet");
    if (Status failed = write_failure(); !failed) return failed;
    // All at once: RocksDB rewrites its OPTIONS file once a call, not once a family.
    std::vector<rocksdb::ColumnFamilyHandle*> made;
    rocksdb::Status rs = db_->CreateColumnFamilies(missing, &made);
    for (std::size_t k = 0; k < made.size(); ++k) {
      handles_.push_back(made[k]);
      by_name_[missing[k].name] = made[k];
      p.cf[missing_index[k]] = made[k];
    }
    if (!rs.ok()) return from_rocks(rs, "creating the column families of sync " + p.name());
    return Status::ok();
  }

  Status do_open(const std::filesystem::path& dir, const StoreOptions& o) {
    dir_ = dir;
    cache_ = rocksdb::NewLRUCache(o.block_cache_bytes);
    wbm_ = std::make_shared<rocksdb::WriteBufferManager>(o.write_buffer_budget_bytes, cache_);

    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache_;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
    // Filter and index blocks stay with their open tables (at most max_open_files), not in the
    // block cache: the memtables are charged to that cache (the write buffer manager), and while
    // a fetch fills them they pushed the filters out, so that every multi_get of a page read its
    // tables' filter blocks from the file again and checked their checksums (a tenth of a
    // CiviCRM group read's CPU). A filter is ten bits a key: 1.2 MiB per million members.
    table.cache_index_and_filter_blocks = false;
    table.block_size = 16 * 1024;
    table.format_version = 5;

    cf_options_.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf_options_.write_buffer_size = o.write_buffer_bytes;
    cf_options_.max_write_buffer_number = 3;
    cf_options_.level_compaction_dynamic_level_bytes = true;
    // Members' keys are hashes, spread over the whole key space: every flushed table overlaps
    // all of the base level, and each compaction of level 0 rewrites that level whole. Eight
    // tables a compaction rather than RocksDB's four halve those rewrites (a 1M migration:
    // concord's CPU 64-66 s -> 55-56 s; compaction was a fifth of it). Reads check up to that
    // many more tables' filters, kept in memory. The write stalls stay that far above it.
    cf_options_.level0_file_num_compaction_trigger = 8;
    cf_options_.level0_slowdown_writes_trigger = 24;
    cf_options_.level0_stop_writes_trigger = 40;
    auto supported = rocksdb::GetSupportedCompressions();
    if (std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) !=
        supported.end()) {
      cf_options_.compression = rocksdb::kLZ4Compression;
      // Flushed tables (level 0) are left uncompressed: they are merged into the levels below
      // within minutes, which compress them, so compressing them at the flush too was a fetch's
      // CPU spent twice (LZ4 was 3% of a migration's CPU). With dynamic level sizes the other
      // entries are the levels from the base level down. The base level is left uncompressed
      // too: every compaction of level 0 rewrites it (keys are hashes), and compressing it each
      // time was a third of compaction's CPU (a 1M migration, alternated on one machine:
      // concord's CPU 56.9 / 58.2 s -> 50.0 / 51.3 s). It is a tenth of the data once there is
      // a level below it (over 256 MiB); a smaller store is that much larger on disk.
      cf_options_.compression_per_level = {rocksdb::kNoCompression,  rocksdb::kNoCompression,
                                           rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                           rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                           rocksdb::kLZ4Compression};
    }

    db_options_.create_if_missing = o.create_if_missing;
    db_options_.create_missing_column_families = true;
    db_options_.write_buffer_manager = wbm_;
    db_options_.max_background_jobs = 2;
    db_options_.keep_log_file_num = 5;
    db_options_.max_open_files = 512;
    db_options_.bytes_per_sync = 1u << 20;
    if (o.faults != nullptr) {
      env_ = rocksdb::NewCompositeEnv(
          std::make_shared<FullDiskFileSystem>(rocksdb::FileSystem::Default(), *o.faults));
      db_options_.env = env_.get();
    }

    std::error_code ec;
    const bool existed = std::filesystem::exists(dir / "CURRENT", ec);
    read_only_ = o.read_only;
    if (!existed && (!o.create_if_missing || o.read_only)) {
      return Status::not_found("no concord store in " + dir.string());
    }
    // The store holds people's data: its directory is 0700 (made so, or narrowed when an older
    // concord or a wide umask left it open). RocksDB makes its files 0644 and offers no way to
    // narrow them in this version (Env::SetAllowNonOwnerAccess answers OK but does nothing), so
    // the directory is what keeps them private.
    if (!o.read_only) {
      if (Status s = make_private_dir(dir); !s) return s;
      db_options_.info_log = store_logger(dir);
      if (!db_options_.info_log) db_options_.info_log = std::make_shared<StoreLogger>(nullptr);
      db_options_.stats_dump_period_sec = 0;
    }
    read_options_.verify_checksums = true;
    if (Status s = open_db(); !s) return s;
    return check_format(existed);
  }

  // The options of one column family ("<pair>:<family>"). The families looked up member by member
  // (the snapshots, as a fetch writes them; the bases, read for each chunk the apply answers; the
  // identity index in meta, for each member new to a snapshot) get a bloom filter over whole keys
  // in their memtables, for on a first fetch most keys are not there yet. The others do not: each
  // filter is a zeroed allocation of 5% of the memtable (800 KiB) made when the store opens and at
  // each memtable switch, for every family of every pair.
  rocksdb::ColumnFamilyOptions cf_options_for(const std::string& cf_name) const {
    rocksdb::ColumnFamilyOptions o = cf_options_;
    const auto parts = split_cf_name(cf_name);
    if (!parts) return o;
    for (Family f : {Family::kMailchimp, Family::kCrm, Family::kBase, Family::kMeta}) {
      if (parts->second == family_name(f)) {
        o.memtable_prefix_bloom_size_ratio = 0.05;
        o.memtable_whole_key_filtering = true;
      }
    }
    return o;
  }

  // Opens the database in dir_ with every column family it has. REQUIRES: db_ closed.
  Status open_db() {
    std::error_code ec;
    std::vector<std::string> names;
    if (std::filesystem::exists(dir_ / "CURRENT", ec)) {
      rocksdb::Status rs = rocksdb::DB::ListColumnFamilies(db_options_, dir_.string(), &names);
      if (!rs.ok()) return from_rocks(rs, "opening the store in " + dir_.string());
    } else {
      names.push_back(rocksdb::kDefaultColumnFamilyName);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names)
      descriptors.emplace_back(n, cf_options_for(n));
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::Status rs =
        read_only_
            ? rocksdb::DB::OpenForReadOnly(db_options_, dir_.string(), descriptors, &handles, &db_)
            : rocksdb::DB::Open(db_options_, dir_.string(), descriptors, &handles, &db_);
    if (rs.IsIOError() && rs.ToString().find("lock") != std::string::npos) {
      return Status::io_error("the store in " + dir_.string() +
                              " is in use by another concord process (`concord serve`?): "
                              "stop it first; status, report and explain work beside it");
    }
    if (!rs.ok()) return from_rocks(rs, "opening the store in " + dir_.string());
    for (std::size_t i = 0; i < handles.size(); ++i) {
      if (names[i] == rocksdb::kDefaultColumnFamilyName) {
        db_->DestroyColumnFamilyHandle(handles[i]);  // the default handle is owned by the DB
        continue;
      }
      handles_.push_back(handles[i]);
      by_name_[names[i]] = handles[i];
    }
    return Status::ok();
  }

  // Closes the database (nothing when it is closed). Pairs keep pointing at the released
  // column families until map_families() runs again. REQUIRES: no live cursor.
  void close_db() {
    if (db_ == nullptr) return;
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    by_name_.clear();
    (void)db_->Close();
    delete db_;
    db_ = nullptr;
  }

  Status check_format(bool existed) {
    const std::string dir = dir_.string();
    std::string value;
    rocksdb::Status rs = db_->Get(read_options_, rocksdb::Slice(kFormatVersionKey), &value);
    if (rs.IsNotFound() && read_only_) {
      return Status::failed_precondition("the database in " + dir +
                                         " is not a concord store (it has no format version)");
    }
    if (rs.IsNotFound()) {
      // Adopt only an empty database (a creation cut short before the version was written);
      // anything holding data is some other program's.
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options_));
      it->SeekToFirst();
      if (existed && (!by_name_.empty() || it->Valid())) {
        return Status::failed_precondition("the database in " + dir +
                                           " is not a concord store (it has no format version)");
      }
      std::string v = std::to_string(kFormatVersion);
      rocksdb::WriteOptions wo;
      wo.sync = true;
      return from_rocks(db_->Put(wo, rocksdb::Slice(kFormatVersionKey), rocksdb::Slice(v)),
                        "writing the store format version");
    }
    if (!rs.ok()) return from_rocks(rs, "reading the store format version");
    if (value != std::to_string(kFormatVersion)) {
      return Status::failed_precondition(
          "the store in " + dir + " was written with store format version " + value +
          ", but this concord reads version " + std::to_string(kFormatVersion) +
          "; use the concord release that wrote it, or move the directory aside and run again "
          "(a new store starts with a first run)");
    }
    return Status::ok();
  }

  std::unique_ptr<rocksdb::Env> env_;  // with DiskFaults only; outlives db_ (declared first)
  std::filesystem::path dir_;
  rocksdb::DBOptions db_options_;
  bool read_only_ = false;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> wbm_;
  rocksdb::ColumnFamilyOptions cf_options_;
  rocksdb::ReadOptions read_options_;
  rocksdb::WriteOptions write_options_;

  // Shared by every use of db_ and exclusive while recover() reopens it. Cursors do not hold it
  // (a cursor may outlive the call and move between threads); they count in live_cursors_.
  mutable std::shared_mutex db_mu_;
  std::atomic<int> live_cursors_{0};
  rocksdb::DB* db_ = nullptr;  // GUARDED_BY(db_mu_); nullptr after a reopen that failed

  mutable std::mutex failure_mu_;
  Status failure_;  // GUARDED_BY(failure_mu_): the first write error, or OK

  mutable std::mutex mu_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
  std::map<std::string, std::unique_ptr<RocksPair>> pairs_;
};

void put_be(std::string* out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_be(std::string_view s, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir,
                                           const StoreOptions& options) {
  return RocksStore::open(dir, options);
}

std::string run_key(std::uint64_t run_id) {
  std::string k;
  put_be(&k, run_id, 8);
  return k;
}

std::string journal_key(std::uint64_t run_id, std::uint32_t seq) {
  std::string k;
  put_be(&k, run_id, 8);
  put_be(&k, seq, 4);
  return k;
}

bool decode_journal_key(std::string_view key, std::uint64_t* run_id, std::uint32_t* seq) {
  if (key.size() != 12) return false;
  *run_id = get_be(key, 0, 8);
  *seq = static_cast<std::uint32_t>(get_be(key, 8, 4));
  return true;
}

}  // namespace concord
