// Finding the export files in the folder given to --from-exports: CSV files, loose or inside ZIP
// archives, in the folder and its subfolders (docs/sandbox.md "Starting from exports").
//
// Unpacking a ZIP beside itself is common (a double click does it), so a CSV whose file name was
// already read from an archive is not read again: it is listed as a note instead, and a member
// is not seen twice.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "concord/status.h"
#include "sandbox/exports/problems.h"

namespace concord::sandbox::exports {

struct ExportFile {
  std::string name;       // for messages: relative to the folder ("a.zip/b.csv" for an entry)
  std::string base_name;  // the file's name without its folders
  std::string zip_stem;   // the archive's name without ".zip" for an entry, else ""
  std::string text;
};

// Every .csv file under `dir` and every .csv entry of every .zip file under it: the archives'
// entries first, then the loose files, each in name order. Files that are neither, archives that
// cannot be read, and repeated file names are added to `notes` (line 0). Hidden files (a name
// starting with ".") and macOS's "__MACOSX" folders, which hold file-system metadata and no
// exports, are passed over. Returns kNotFound when `dir` is not a readable folder.
Result<std::vector<ExportFile>> collect_export_files(const std::string& dir, ExportProblems* notes);

}  // namespace concord::sandbox::exports
