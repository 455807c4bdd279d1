// Backups: both sides of a pair, in full, as CSV and JSON files (docs/operations.md, "nothing is
// lost").
//
// A backup is written from the pair's snapshots right after a full fetch, so it holds every
// member each side returned with everything concord reads of it (Mailchimp: email, status, change
// times, unsubscribe reason, merge fields; CiviCRM: email, contact id and names, the group
// status and date, the contact's flags and duplicate contacts). docs/operations.md says how to
// restore from one.
//
// Thread-safety: reads both snapshots as they were when its BackupSource was opened; the store
// may be written meanwhile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

struct BackupResult {
  std::filesystem::path dir;  // <parent>/<sync>-<UTC time>
  std::uint64_t mailchimp_members = 0;
  std::uint64_t crm_members = 0;
};

// What a backup reads: both snapshots of a pair as they are when it is opened (a cursor on each,
// made at once), so that what is written to the store afterwards — the look-up of contacts outside
// the group that a first sync runs beside its backup — is not in it.
class BackupSource {
 public:
  BackupSource(Store& store, const PairHandle& pair)
      : mailchimp_(store.scan(pair, Family::kMailchimp)), crm_(store.scan(pair, Family::kCrm)) {}
  Cursor& mailchimp() { return mailchimp_; }
  Cursor& crm() { return crm_; }

 private:
  Cursor mailchimp_, crm_;
};

// Writes mailchimp.csv, mailchimp.json, crm.csv and crm.json into a new directory under
// `parent` (created as a temporary directory and renamed when complete, so a backup directory
// is never half-written). The directory is 0700 and the files 0600 whatever the umask (`parent`
// is made 0700 when missing, left as it is when not); the files and the directory are synced to
// disk before this returns, so a backup recorded as taken survives a crash. kIoError names the
// file that could not be written.
Result<BackupResult> write_backup(BackupSource& source, const std::filesystem::path& parent,
                                  std::string_view sync, Micros now);
// The same, from the snapshots as they are now.
Result<BackupResult> write_backup(Store& store, const PairHandle& pair,
                                  const std::filesystem::path& parent, std::string_view sync,
                                  Micros now);

}  // namespace concord
