#include "sandbox/http_helpers.h"

#include <algorithm>
#include <cctype>

namespace concord::sandbox {

Target split_target(std::string_view target) {
  Target t{target, {}};
  if (auto q = target.find('?'); q != std::string_view::npos) {
    t.query = target.substr(q + 1);
    t.path = target.substr(0, q);
  }
  return t;
}

std::vector<std::string> path_segments(std::string_view path) {
  std::vector<std::string> segs;
  for (std::size_t pos = 0; pos < path.size();) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (seg.empty()) continue;
    std::string decoded;
    if (!http::url_decode(seg, &decoded)) decoded = std::string(seg);
    segs.push_back(std::move(decoded));
  }
  return segs;
}

bool is_admin_path(std::string_view path) {
  return path == "/_sandbox" || path.rfind("/_sandbox/", 0) == 0;
}

std::string_view pair_value(const Pairs& pairs, std::string_view name, bool* found) {
  std::string_view v;
  bool f = false;
  for (const auto& [k, val] : pairs) {
    if (k == name) {
      v = val;
      f = true;
    }
  }
  if (found) *found = f;
  return v;
}

bool is_blank(std::string_view body) {
  return std::all_of(body.begin(), body.end(),
                     [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
}

http::Reply plain_reply(int status, std::string body, std::string_view content_type) {
  http::Reply r;
  r.response.status = status;
  r.response.headers.push_back({"Content-Type", std::string(content_type)});
  r.response.body = std::move(body);
  return r;
}

http::Reply admin_json(int status, const ojson& body) {
  return plain_reply(status, body.dump(), "application/json; charset=utf-8");
}

http::Reply admin_problem(int status, const std::string& title, const std::string& detail) {
  ojson j = {{"title", title}, {"status", status}, {"detail", detail}};
  return plain_reply(status, j.dump(), "application/problem+json; charset=utf-8");
}

http::Reply admin_forbidden() {
  return admin_problem(403, "Forbidden",
                       "The sandbox's admin routes answer only on the loopback interface.");
}

}  // namespace concord::sandbox
