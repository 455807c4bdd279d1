#include "apply/first_backup.h"

#include <system_error>

#include "concord/meta_keys.h"

namespace concord {

Result<bool> FirstBackup::due() {
  Result<std::optional<std::string>> done = store_.get(pair_, Family::kMeta, meta::kFirstBackup);
  if (!done) return done.status();
  return !done->has_value();
}

Status FirstBackup::write(BackupSource* source, Micros now) {
  Result<BackupResult> b = source != nullptr ? write_backup(*source, dir_, sync_, now)
                                             : write_backup(store_, pair_, dir_, sync_, now);
  if (!b) return b.status().with_context("backing up both sides before the first apply");
  written_ = std::move(*b);
  return Status::ok();
}

Result<std::optional<std::filesystem::path>> FirstBackup::record(Micros now) {
  if (!written_) {
    Result<bool> is_due = due();
    if (!is_due) return is_due.status();
    if (!*is_due) return std::optional<std::filesystem::path>();
    if (Status s = write(nullptr, now); !s) return s;
  }
  const std::filesystem::path dir = written_->dir;
  if (Status s = store_.put(pair_, Family::kMeta, meta::kFirstBackup, dir.string()); !s) return s;
  written_.reset();  // recorded: kept
  return std::optional<std::filesystem::path>(dir);
}

void FirstBackup::discard() {
  if (!written_) return;
  std::error_code ec;
  std::filesystem::remove_all(written_->dir, ec);
  written_.reset();
}

}  // namespace concord
