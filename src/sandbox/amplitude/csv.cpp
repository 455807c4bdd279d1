#include "sandbox/amplitude/csv.h"

#include <set>

namespace concord::sandbox::amplitude {
namespace {

// A header name, quoted only when it holds a separator, a quote or a line break.
void append_header_field(std::string* out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(v);
  } else {
    append_csv_quoted(out, v);
  }
}

}  // namespace

void append_csv_quoted(std::string* out, std::string_view v) {
  out->push_back('"');
  for (char ch : v) {
    if (ch == '"') out->push_back('"');
    out->push_back(ch);
  }
  out->push_back('"');
}

std::string property_text(const ojson& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::vector<std::string> property_columns(const Project& project, const Cohort& cohort,
                                          const Columns& columns) {
  std::vector<std::string> out;
  if (!columns.props) return out;
  // amplitude_id and user_id are columns already; a property of either name would be a second
  // column of the same name, which a reader by header name cannot tell apart.
  auto fixed = [](std::string_view k) { return k == "amplitude_id" || k == "user_id"; };
  if (!columns.keys.empty()) {
    std::set<std::string> seen;
    for (const std::string& k : columns.keys) {
      if (!fixed(k) && seen.insert(k).second) out.push_back(k);
    }
    return out;
  }
  std::set<std::string> all;
  for (std::int64_t id : cohort.members) {
    auto it = project.users.find(id);
    if (it == project.users.end()) continue;
    for (auto p = it->second.properties.begin(); p != it->second.properties.end(); ++p) {
      if (!fixed(p.key())) all.insert(p.key());
    }
  }
  return {all.begin(), all.end()};
}

std::string cohort_csv(const Project& project, const Cohort& cohort, const Columns& columns,
                       bool crlf, std::int64_t* rows) {
  const std::string_view eol = crlf ? "\r\n" : "\n";
  const std::vector<std::string> props = property_columns(project, cohort, columns);
  std::string out = "amplitude_id,user_id";
  for (const std::string& p : props) {
    out.push_back(',');
    append_header_field(&out, p);
  }
  out.append(eol);
  std::int64_t n = 0;
  for (std::int64_t id : cohort.members) {
    auto it = project.users.find(id);
    if (it == project.users.end()) continue;
    const User& u = it->second;
    append_csv_quoted(&out, std::to_string(u.amplitude_id));
    out.push_back(',');
    append_csv_quoted(&out, u.user_id.value_or(""));
    for (const std::string& p : props) {
      out.push_back(',');
      auto v = u.properties.find(p);
      append_csv_quoted(&out, v == u.properties.end() ? "" : property_text(*v));
    }
    out.append(eol);
    ++n;
  }
  if (rows) *rows = n;
  return out;
}

}  // namespace concord::sandbox::amplitude
