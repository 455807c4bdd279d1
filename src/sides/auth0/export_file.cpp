#include "sides/auth0/export_file.h"

#include <zlib.h>

#include <string>

namespace concord::auth0 {

Status read_gzip_lines(std::string_view gz, std::size_t max_line,
                       const std::function<Status(std::string_view, std::uint64_t)>& line) {
  if (gz.size() < 2 || static_cast<unsigned char>(gz[0]) != 0x1f ||
      static_cast<unsigned char>(gz[1]) != 0x8b) {
    return Status::invalid("the export file is not gzip");
  }
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip wrapper only (not zlib's, not raw deflate).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Status::internal("inflateInit2 failed");
  std::string pending;  // the current line's bytes so far
  std::uint64_t number = 0;
  Status status;
  auto emit = [&]() -> Status {
    ++number;
    if (!pending.empty() && pending.back() == '\r') pending.pop_back();
    Status s = pending.empty() ? Status::ok() : line(pending, number);
    pending.clear();
    return s;
  };
  char out[1 << 16];
  std::size_t offset = 0;
  bool ended = false;  // the last member ended
  while (status.is_ok()) {
    if (ended) {
      if (offset >= gz.size()) break;
      // Another member follows (concatenated gzip files read as one).
      if (inflateReset(&zs) != Z_OK) {
        status = Status::internal("inflateReset failed");
        break;
      }
      ended = false;
    }
    const std::size_t chunk = std::min<std::size_t>(gz.size() - offset, 1u << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data() + offset));
    zs.avail_in = static_cast<uInt>(chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out);
    zs.avail_out = sizeof out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    offset += chunk - zs.avail_in;
    const std::size_t produced = sizeof out - zs.avail_out;
    for (std::size_t i = 0; i < produced && status.is_ok(); ++i) {
      if (out[i] == '\n') {
        status = emit();
      } else if (pending.size() >= max_line) {
        status =
            Status::invalid("line " + std::to_string(number + 1) + " of the export file is over " +
                            std::to_string(max_line) + " bytes");
      } else {
        pending += out[i];
      }
    }
    if (!status.is_ok()) break;
    if (rc == Z_STREAM_END) {
      ended = true;
      continue;
    }
    if (rc == Z_BUF_ERROR && offset >= gz.size() && produced == 0) {
      status = Status::invalid("the export file is cut short (its gzip data does not end)");
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      status = Status::invalid(std::string("the export file's gzip data is corrupt (") +
                               (zs.msg != nullptr ? zs.msg : "inflate failed") + ")");
      break;
    }
  }
  inflateEnd(&zs);
  if (status.is_ok() && !pending.empty()) status = emit();  // no trailing newline
  return status;
}

}  // namespace concord::auth0
