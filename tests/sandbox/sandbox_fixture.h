// Helpers shared by the sandbox's tests: the checked-in fixtures and a temporary directory.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace concord::testing {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The path of a file of the source tree (e.g. "fixtures/sandbox-seed.json"): under
// $CONCORD_SOURCE_ROOT, else found from this header's path as the compiler saw it (relative to the
// build directory, two levels above the test binary, or absolute). "" when not found.
inline std::string source_file(const std::string& relative) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* root = std::getenv("CONCORD_SOURCE_ROOT"))
    candidates.push_back(root / fs::path(relative));
  const fs::path source_root = fs::path(__FILE__).parent_path().parent_path().parent_path();
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && source_root.is_relative()) {
    candidates.push_back(exe.parent_path().parent_path() / source_root / relative);
  }
  candidates.push_back(source_root / relative);
  for (const auto& c : candidates) {
    if (fs::exists(c)) return c.string();
  }
  return "";
}

// The text of fixtures/sandbox-seed.json.
inline const std::string& fixture() {
  static const std::string text = [] {
    std::string path = source_file("fixtures/sandbox-seed.json");
    return path.empty() ? std::string() : read_text(path);
  }();
  REQUIRE_FALSE(text.empty());
  return text;
}

// A fresh directory under the system's temporary directory, removed with its contents at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "concord-sandbox-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
};

}  // namespace concord::testing
