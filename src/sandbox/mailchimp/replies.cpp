#include "sandbox/mailchimp/replies.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

#include "net/ascii.h"
#include "sandbox/text.h"

namespace concord::sandbox {
namespace {

constexpr std::string_view kErrorType = "https://mailchimp.com/developer/marketing/docs/errors/";
constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr std::string_view kProblemJson = "application/problem+json; charset=utf-8";

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "NULL";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return "unknown";
  }
}

}  // namespace

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   std::hash<std::thread::id>{}(std::this_thread::get_id())};
  std::uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

bool parse_bool_param(std::string_view v) {
  using http::ascii::iequals;
  return iequals(v, "true") || v == "1" || iequals(v, "yes");
}

std::string_view Ctx::q(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return {};
}

bool Ctx::has(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return true;
  }
  return false;
}

json Ctx::body() const {
  return req->body.empty() ? json::object() : json::parse(req->body, nullptr, false);
}

std::int64_t Ctx::count(std::int64_t def) const {
  auto v = parse_int64(q("count"));
  std::int64_t n = v ? *v : def;
  return std::clamp<std::int64_t>(n, 0, 1000);
}

std::int64_t Ctx::offset() const {
  auto v = parse_int64(q("offset"));
  return v ? std::max<std::int64_t>(*v, 0) : 0;
}

Problem not_found() {
  return {404, "Resource Not Found", "The requested resource could not be found.", true, nullptr,
          {}};
}

Problem invalid_resource(std::string detail, ojson errors) {
  return {400, "Invalid Resource", std::move(detail), true, std::move(errors), {}};
}

Problem schema_problem(ojson errors) {
  return invalid_resource(std::string(kSchemaInvalidDetail), std::move(errors));
}

Problem member_exists(std::string_view email) {
  return {
      400,
      "Member Exists",
      std::string(email) + " is already a list member. Use PUT to insert or update list members.",
      false,
      nullptr,
      {}};
}

Problem compliance_state(std::string_view email) {
  return {400,
          "Member In Compliance State",
          std::string(email) +
              " is in a compliance state due to unsubscribe, bounce, or compliance review and "
              "cannot be subscribed.",
          false,
          nullptr,
          {}};
}

Problem forgotten_email(std::string_view email) {
  return {400,
          "Forgotten Email Not Subscribed",
          std::string(email) +
              " was permanently deleted and cannot be re-imported. The contact must re-subscribe "
              "to get back on the list.",
          false,
          nullptr,
          {}};
}

Problem method_not_allowed(std::string allow) {
  Problem p{405,
            "Method Not Allowed",
            "The requested method and resource are not compatible. See the Allow header for this "
            "resource's available methods.",
            true,
            nullptr,
            {}};
  p.headers.push_back({"Allow", std::move(allow)});
  return p;
}

Problem json_parse_problem() {
  return {400,
          "JSON Parse Exception",
          "We encountered an unspecified JSON parsing error.",
          true,
          nullptr,
          {}};
}

Problem too_many_requests(int limit) {
  return {429,
          "Too Many Requests",
          "You have exceeded the limit of " + std::to_string(limit) + " simultaneous connections.",
          true,
          nullptr,
          {}};
}

ojson field_error(std::string_view field, std::string_view message) {
  ojson e = ojson::object();
  e["field"] = field;
  e["message"] = message;
  return e;
}

ojson type_error(std::string_view field, std::string_view expected, const json& v) {
  return field_error(field, "Schema describes " + std::string(expected) + ", " + json_type_name(v) +
                                " found instead");
}

ojson blank_error(std::string_view field) {
  return field_error(field, "This value should not be blank.");
}

ojson missing_fields_error(const std::vector<std::string>& names) {
  std::string msg = "Required fields were not provided: ";
  for (std::size_t i = 0; i < names.size(); ++i)
    msg += (i ? ", " : "") + names[i];
  return field_error("", msg);
}

ojson link(std::string rel, std::string href, std::string method, std::string target,
           std::string schema) {
  ojson l = ojson::object();
  l["rel"] = std::move(rel);
  l["href"] = std::move(href);
  l["method"] = std::move(method);
  if (!target.empty()) l["targetSchema"] = std::move(target);
  if (!schema.empty()) l["schema"] = std::move(schema);
  return l;
}

http::Reply reply(const Ctx& c, int status, std::string body, std::string_view content_type,
                  const Headers& extra) {
  http::Reply r;
  r.response.status = status;
  r.response.headers.push_back({"Content-Type", std::string(content_type)});
  r.response.headers.push_back({"X-Request-Id", c.request_id});
  r.response.headers.push_back({"Vary", "Accept-Encoding"});
  for (const auto& h : extra)
    r.response.headers.push_back(h);
  r.response.body = std::move(body);
  return r;
}

http::Reply ok_json(const Ctx& c, std::string body, std::string_view schema_path) {
  Headers h;
  if (!schema_path.empty() && !c.dc.empty()) {
    h.push_back(
        {"Link", "<" + c.schema() + "/" + std::string(schema_path) + ">; rel=\"describedBy\""});
  }
  return reply(c, 200, std::move(body), kJson, h);
}

http::Reply ojson_reply(const Ctx& c, ojson v, std::string_view schema_path) {
  FieldTree inc, exc;
  apply_sel(v, root_sel(c, &inc, &exc));
  return ok_json(c, v.dump(), schema_path);
}

http::Reply no_content(const Ctx& c) {
  return reply(c, 204, "", kJson);
}

http::Reply problem_reply(const Ctx& c, const Problem& p) {
  JsonOut o;
  o.begin_object();
  if (p.with_type) {
    o.key("type");
    o.str(kErrorType);
  }
  o.key("title");
  o.str(p.title);
  o.key("status");
  o.integer(p.status);
  o.key("detail");
  o.str(p.detail);
  o.key("instance");
  o.str(c.request_id);
  if (p.errors.is_array()) {
    o.key("errors");
    o.value(p.errors);
  }
  o.end_object();
  Headers h = p.headers;
  if (!c.dc.empty()) {
    h.push_back({"Link", "<" + c.schema() +
                             "/Definitions/ProblemDetailDocument.json>; rel=\"describedBy\""});
  }
  return reply(c, p.status, std::move(o.buf), kProblemJson, h);
}

Sel root_sel(const Ctx& c, FieldTree* inc, FieldTree* exc) {
  Sel s;
  if (c.has("fields") && parse_fields(c.q("fields"), inc)) {
    s.all = false;
    s.inc = inc;
  }
  if (c.has("exclude_fields") && parse_fields(c.q("exclude_fields"), exc)) s.exc = exc;
  return s;
}

}  // namespace concord::sandbox
