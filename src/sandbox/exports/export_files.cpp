#include "sandbox/exports/export_files.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "sandbox/exports/ascii.h"
#include "sandbox/exports/zip_reader.h"
#include "sandbox/persister.h"

namespace concord::sandbox::exports {

namespace {

namespace fs = std::filesystem;

bool ends_with_ci(const std::string& s, std::string_view suffix) {
  return ascii_lower(s).ends_with(suffix);
}

// Whether a path's part is metadata rather than an export: hidden files, macOS's ZIP folders.
bool passed_over(const std::string& part) {
  return part.empty() || part[0] == '.' || part == "__MACOSX";
}

bool any_part_passed_over(const fs::path& p) {
  for (const fs::path& part : p) {
    if (passed_over(part.string())) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<ExportFile>> collect_export_files(const std::string& dir,
                                                     ExportProblems* notes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::not_found(dir + ": not a folder");
  std::vector<fs::path> zips, csvs;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status::not_found(dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::not_found(dir + ": " + ec.message());
    fs::path rel = it->path().lexically_relative(dir);
    if (any_part_passed_over(rel)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    std::string name = rel.generic_string();
    if (ends_with_ci(name, ".zip")) {
      zips.push_back(rel);
    } else if (ends_with_ci(name, ".csv")) {
      csvs.push_back(rel);
    } else {
      notes->push_back({name, 0, "not read: neither a .csv nor a .zip file"});
    }
  }
  std::sort(zips.begin(), zips.end());
  std::sort(csvs.begin(), csvs.end());

  std::vector<ExportFile> out;
  std::map<std::string, std::string> read_by_base;  // base name -> the file read under it
  auto add = [&](ExportFile f) {
    auto [at, fresh] = read_by_base.emplace(f.base_name, f.name);
    if (!fresh) {
      notes->push_back({f.name, 0,
                        "not read: a file of the same name was read (" + at->second +
                            "); an unpacked copy of an archive, as a rule"});
      return;
    }
    out.push_back(std::move(f));
  };
  for (const fs::path& rel : zips) {
    std::string zip_name = rel.generic_string();
    auto entries = read_zip((fs::path(dir) / rel).string());
    if (!entries.is_ok()) {
      notes->push_back({zip_name, 0, "not read: " + entries.status().message()});
      continue;
    }
    for (ZipEntry& e : *entries) {
      fs::path inner(e.name);
      if (any_part_passed_over(inner)) continue;
      std::string name = zip_name + "/" + e.name;
      if (!ends_with_ci(e.name, ".csv")) {
        notes->push_back({name, 0, "not read: not a .csv file"});
        continue;
      }
      add(ExportFile{name, inner.filename().string(), rel.stem().string(), std::move(e.data)});
    }
  }
  for (const fs::path& rel : csvs) {
    std::string name = rel.generic_string();
    auto text = read_file((fs::path(dir) / rel).string());
    if (!text.is_ok()) {
      notes->push_back({name, 0, "not read: " + text.status().message()});
      continue;
    }
    add(ExportFile{name, rel.filename().string(), "", std::move(text).value()});
  }
  return out;
}

}  // namespace concord::sandbox::exports
