#include "sandbox/exports/zip_reader.h"

#include <zip.h>

#include <memory>

namespace concord::sandbox::exports {

namespace {

constexpr zip_uint64_t kMaxEntryBytes = zip_uint64_t{1} << 30;

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct EntryCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

std::string open_error(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

}  // namespace

Result<std::vector<ZipEntry>> read_zip(const std::string& path) {
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(zip_open(path.c_str(), ZIP_RDONLY, &code));
  if (!archive) return Status::invalid(path + ": not a readable ZIP archive: " + open_error(code));
  std::vector<ZipEntry> out;
  zip_int64_t n = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive.get(), index, 0, &st) != 0) {
      return Status::invalid(path + ": entry " + std::to_string(i) + ": " +
                             zip_strerror(archive.get()));
    }
    std::string name = (st.valid & ZIP_STAT_NAME) ? st.name : "";
    if (name.empty() || name.back() == '/') continue;  // a folder
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > kMaxEntryBytes) {
      return Status::invalid(path + "/" + name + ": larger than 1 GiB unpacked");
    }
    std::unique_ptr<zip_file_t, EntryCloser> file(zip_fopen_index(archive.get(), index, 0));
    if (!file) return Status::invalid(path + "/" + name + ": " + zip_strerror(archive.get()));
    ZipEntry entry;
    entry.name = std::move(name);
    entry.data.resize(st.size);
    zip_uint64_t got = 0;
    while (got < st.size) {
      zip_int64_t r = zip_fread(file.get(), entry.data.data() + got, st.size - got);
      if (r <= 0) {
        return Status::invalid(path + "/" + entry.name + ": " +
                               (r < 0 ? zip_file_strerror(file.get()) : "shorter than stated"));
      }
      got += static_cast<zip_uint64_t>(r);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace concord::sandbox::exports
