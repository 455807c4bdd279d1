// The pair's first backup (backup.h): written before the first run that applies anything, and
// recorded in meta (kFirstBackup) once that run goes on to apply, before anything is sent. A run
// may write it early (beside the outside look-up) and record it later; one that then applies
// nothing removes it. Internal to src/apply/.
//
// Thread-safety: one FirstBackup per run; write() may run on another thread than the others, never
// at the same time as them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "concord/backup.h"
#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

class FirstBackup {
 public:
  // Backups go to <dir>/<sync>-<UTC time>.
  FirstBackup(Store& store, const PairHandle& pair, std::filesystem::path dir, std::string sync)
      : store_(store), pair_(pair), dir_(std::move(dir)), sync_(std::move(sync)) {}

  // Whether a run that applies writes it: none was recorded.
  Result<bool> due();
  // Writes it, not yet recorded, from `source` (nullptr: the snapshots as they are now).
  Status write(BackupSource* source, Micros now);
  // Records the backup written (first writing one, when none was and one is due) and returns its
  // directory; nullopt when none is due.
  Result<std::optional<std::filesystem::path>> record(Micros now);
  // Removes a backup written and not recorded (its run applies nothing): the next run that
  // applies writes its own, rather than this one lying beside it unexplained.
  void discard();

 private:
  Store& store_;
  const PairHandle& pair_;
  const std::filesystem::path dir_;
  const std::string sync_;
  std::optional<BackupResult> written_;  // written, not yet recorded
};

}  // namespace concord
