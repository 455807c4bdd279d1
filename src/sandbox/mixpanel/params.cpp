#include "sandbox/mixpanel/params.h"

#include <cctype>

#include "sandbox/http_helpers.h"
#include "sandbox/text.h"

namespace concord::sandbox::mixpanel {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<Params> Params::read(const http::Request& request, std::string_view query) {
  Params p;
  for (auto& [k, v] : http::parse_query(query))
    p.values_[k] = v;
  std::string_view body = request.body;
  if (is_blank(body)) return p;
  const std::string type = lower(request.header("Content-Type"));
  bool json_body = false;
  if (type.rfind("application/json", 0) == 0) {
    json_body = true;
  } else if (type.rfind("application/x-www-form-urlencoded", 0) != 0) {
    json_body = trim_view(body).front() == '{';
  }
  if (!json_body) {
    for (auto& [k, v] : http::parse_query(body))
      p.values_[k] = v;
    return p;
  }
  ojson j = ojson::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::invalid("the request body is not a JSON object");
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    p.values_[it.key()] = it.value();
  return p;
}

const ojson* Params::find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

Result<std::optional<std::int64_t>> Params::integer(std::string_view name) const {
  const ojson* v = find(name);
  if (!v) return std::optional<std::int64_t>();
  if (v->is_number_integer()) return std::optional<std::int64_t>(v->get<std::int64_t>());
  if (v->is_string()) {
    if (auto n = parse_int64(v->get_ref<const std::string&>())) return std::optional(*n);
  }
  return Status::invalid(std::string(name) + " must be an integer");
}

Result<std::optional<bool>> Params::boolean(std::string_view name) const {
  const ojson* v = find(name);
  if (!v) return std::optional<bool>();
  if (v->is_boolean()) return std::optional<bool>(v->get<bool>());
  if (v->is_string()) {
    const std::string s = lower(v->get_ref<const std::string&>());
    if (s == "true" || s == "1") return std::optional<bool>(true);
    if (s == "false" || s == "0") return std::optional<bool>(false);
  }
  return Status::invalid(std::string(name) + " must be true or false");
}

Result<std::optional<ojson>> Params::json_value(std::string_view name) const {
  const ojson* v = find(name);
  if (!v) return std::optional<ojson>();
  if (!v->is_string()) return std::optional<ojson>(*v);
  ojson parsed = ojson::parse(v->get_ref<const std::string&>(), nullptr, false);
  if (parsed.is_discarded()) return Status::invalid(std::string(name) + " is not valid JSON");
  return std::optional<ojson>(std::move(parsed));
}

Result<std::optional<std::string>> Params::text(std::string_view name) const {
  const ojson* v = find(name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return Status::invalid(std::string(name) + " must be a string");
  return std::optional<std::string>(v->get<std::string>());
}

}  // namespace concord::sandbox::mixpanel
