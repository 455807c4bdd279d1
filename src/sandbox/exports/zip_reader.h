// Reading the files of a ZIP archive (Mailchimp's "Export Audience" download is one), through
// libzip: the CSV files inside are small, so each entry is read whole into memory.
//
// Thread-safety: pure functions (each call opens the archive itself).
#pragma once

#include <string>
#include <vector>

#include "concord/status.h"

namespace concord::sandbox::exports {

struct ZipEntry {
  std::string name;  // as stored, with its folders ("audience_export_x/subscribed_….csv")
  std::string data;
};

// The archive's file entries (folders left out), in the archive's order. Returns kInvalid
// naming the archive when it cannot be opened or an entry cannot be read (a damaged archive, an
// encrypted entry), and when an entry would be larger than 1 GiB unpacked.
Result<std::vector<ZipEntry>> read_zip(const std::string& path);

}  // namespace concord::sandbox::exports
