#include "sandbox/auth0/export_file.h"

#include <zlib.h>

#include <algorithm>

#include "sandbox/auth0/dates.h"
#include "sandbox/auth0/user_paths.h"

namespace concord::sandbox::auth0 {
namespace {

// The times Auth0 itself writes: CSV leaves them unescaped.
bool auth0_time(std::string_view name) {
  static constexpr std::string_view kTimes[] = {"created_at", "updated_at", "last_login",
                                                "last_password_reset"};
  return std::find(std::begin(kTimes), std::end(kTimes), name) != std::end(kTimes);
}

std::string_view column(const ExportField& f) {
  return f.export_as ? std::string_view(*f.export_as) : std::string_view(f.name);
}

void append_csv_cell(std::string* out, const ExportField& f, const ojson* v) {
  if (!v) return;
  if (v->is_boolean() || v->is_number()) {
    *out += v->dump();
    return;
  }
  const std::string s = v->is_string() ? v->get<std::string>() : v->dump();
  if (v->is_string() && auth0_time(f.name) && parse_time(s)) {
    *out += s;
    return;
  }
  *out += "\"'";
  for (char c : s) {
    if (c == '"') *out += '"';
    *out += c;
  }
  *out += '"';
}

}  // namespace

std::vector<ExportField> default_export_fields() {
  std::vector<ExportField> fields;
  for (const char* name : {"user_id", "email", "email_verified", "name", "given_name",
                           "family_name", "nickname", "created_at", "updated_at"}) {
    fields.push_back(ExportField{name, std::nullopt});
  }
  return fields;
}

std::string export_text(const std::vector<const ojson*>& users,
                        const std::vector<ExportField>& fields, std::string_view format) {
  std::string out;
  if (format == "csv") {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out += ',';
      out += column(fields[i]);
    }
    out += '\n';
    for (const ojson* u : users) {
      for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out += ',';
        append_csv_cell(&out, fields[i], value_at(*u, fields[i].name));
      }
      out += '\n';
    }
    return out;
  }
  for (const ojson* u : users) {
    JsonOut o;
    o.begin_object();
    for (const ExportField& f : fields) {
      const ojson* v = value_at(*u, f.name);
      if (!v) continue;
      o.key(column(f));
      o.value(*v);
    }
    o.end_object();
    out += o.buf;
    out += '\n';
  }
  return out;
}

std::string gzip(std::string_view data) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper around the deflate stream.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return std::string();
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace concord::sandbox::auth0
