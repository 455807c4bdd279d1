#include "sandbox/mailchimp.h"
#include "net/ascii.h"
#include "sandbox/faults.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace concord::sandbox {
namespace {

using Headers = std::vector<http::Header>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kErrorType = "https://mailchimp.com/developer/marketing/docs/errors/";
constexpr std::string_view kSchemaInvalidDetail =
    "The resource submitted could not be validated. For field-specific details, see the 'errors' "
    "array.";

// ---- small helpers
// ---------------------------------------------------------------------------------

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

using http::ascii::iequals;
constexpr auto lower = http::ascii::to_lower;

std::string trim(std::string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a])))
    ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1])))
    --b;
  return std::string(s.substr(a, b - a));
}

bool base64_decode(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  out->clear();
  int buf = 0, bits = 0;
  for (char c : in) {
    if (c == '=' || c == ' ') break;
    int v = val(c);
    if (v < 0) return false;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return true;
}

bool parse_bool_param(std::string_view v) {
  return iequals(v, "true") || v == "1" || iequals(v, "yes");
}

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

std::string hash_hex(const MemberKey& k) {
  std::string s;
  s.reserve(32);
  append_hex(&s, k.bytes.data(), 16);
  return s;
}

std::string ueid_hex(std::uint64_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string form_encode(const Pairs& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += '&';
    out += http::url_encode(k);
    out += '=';
    out += http::url_encode(v);
  }
  return out;
}

// ---- fields / exclude_fields
// ---------------------------------------------------------------------

struct FieldTree {
  bool terminal = false;
  std::vector<std::pair<std::string, std::unique_ptr<FieldTree>>> kids;

  const FieldTree* child(std::string_view k) const {
    for (const auto& [name, t] : kids) {
      if (name == k) return t.get();
    }
    return nullptr;
  }
  FieldTree* add(std::string_view k) {
    for (auto& [name, t] : kids) {
      if (name == k) return t.get();
    }
    kids.emplace_back(std::string(k), std::make_unique<FieldTree>());
    return kids.back().second.get();
  }
};

// Returns false when no path was named.
bool parse_fields(std::string_view csv, FieldTree* root) {
  bool any = false;
  std::size_t pos = 0;
  while (pos <= csv.size()) {
    std::size_t comma = csv.find(',', pos);
    if (comma == std::string_view::npos) comma = csv.size();
    std::string path = trim(csv.substr(pos, comma - pos));
    pos = comma + 1;
    if (path.empty()) continue;
    FieldTree* node = root;
    std::size_t p = 0;
    bool named = false;
    while (p <= path.size()) {
      std::size_t dot = path.find('.', p);
      if (dot == std::string::npos) dot = path.size();
      std::string_view part(path.data() + p, dot - p);
      p = dot + 1;
      if (part.empty()) continue;
      node = node->add(part);
      named = true;
    }
    if (named) {
      node->terminal = true;
      any = true;
    }
  }
  return any;
}

// Which part of a JSON value to write: the `fields` tree (unless everything below is wanted) and
// the `exclude_fields` tree. Arrays pass their selection to their elements.
struct Sel {
  const FieldTree* inc = nullptr;
  bool all = true;
  const FieldTree* exc = nullptr;

  bool passthrough() const { return all && exc == nullptr; }
  bool child(std::string_view key, Sel* out) const {
    Sel c;
    if (exc != nullptr) {
      if (const FieldTree* e = exc->child(key)) {
        if (e->terminal) return false;
        c.exc = e;
      }
    }
    if (all) {
      c.all = true;
    } else {
      const FieldTree* i = inc->child(key);
      if (i == nullptr) return false;
      if (i->terminal) {
        c.all = true;
      } else {
        c.all = false;
        c.inc = i;
      }
    }
    *out = c;
    return true;
  }
};

void apply_sel(ojson& v, const Sel& s) {
  if (s.passthrough()) return;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      Sel c;
      if (!s.child(it.key(), &c)) {
        it = v.erase(it);
      } else {
        apply_sel(it.value(), c);
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (auto& e : v)
      apply_sel(e, s);
  }
}

// ---- problems and replies
// --------------------------------------------------------------------------

struct Problem {
  int status = 400;
  std::string title;
  std::string detail;
  bool with_type = true;
  ojson errors;  // null or an array of {field, message}
  Headers headers;
};

Problem not_found() {
  return {404, "Resource Not Found", "The requested resource could not be found.", true, nullptr,
          {}};
}
Problem invalid_resource(std::string detail, ojson errors = nullptr) {
  return {400, "Invalid Resource", std::move(detail), true, std::move(errors), {}};
}
ojson field_error(std::string_view field, std::string_view message) {
  ojson e = ojson::object();
  e["field"] = field;
  e["message"] = message;
  return e;
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

struct Ctx {
  const http::Request* req = nullptr;
  std::string request_id;
  std::string method;
  std::string path;               // raw, without the query
  std::vector<std::string> segs;  // decoded path segments
  Pairs query;
  std::string dc;  // of the account key, for links

  std::string_view q(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return {};
  }
  bool has(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return true;
    }
    return false;
  }
  std::string base() const { return "https://" + dc + ".api.mailchimp.com/3.0"; }
  std::string schema() const { return "https://" + dc + ".api.mailchimp.com/schema/3.0"; }
};

http::Reply reply(const Ctx& c, int status, std::string body, std::string_view content_type,
                  const Headers& extra = {}) {
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

constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr std::string_view kProblemJson = "application/problem+json; charset=utf-8";

http::Reply ok_json(const Ctx& c, std::string body, std::string_view schema_path = {}) {
  Headers h;
  if (!schema_path.empty() && !c.dc.empty()) {
    h.push_back(
        {"Link", "<" + c.schema() + "/" + std::string(schema_path) + ">; rel=\"describedBy\""});
  }
  return reply(c, 200, std::move(body), kJson, h);
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

http::Reply ojson_reply(const Ctx& c, ojson v, std::string_view schema_path = {}) {
  FieldTree inc, exc;
  Sel s;
  if (c.has("fields") && parse_fields(c.q("fields"), &inc)) {
    s.all = false;
    s.inc = &inc;
  }
  if (c.has("exclude_fields") && parse_fields(c.q("exclude_fields"), &exc)) s.exc = &exc;
  apply_sel(v, s);
  return ok_json(c, v.dump(), schema_path);
}

// ---- emails
// ------------------------------------------------------------------------------------------

// "" when the API accepts the address; else the detail of its 400 Invalid Resource.
std::string email_problem(std::string_view raw) {
  std::string norm = normalise_email(raw);
  if (check_email(norm) != EmailProblem::kOk) return "Please provide a valid email address.";
  std::string_view domain = std::string_view(norm).substr(norm.find('@') + 1);
  static constexpr std::string_view kFakeDomains[] = {"example.com", "example.net", "example.org"};
  static constexpr std::string_view kFakeTlds[] = {".example", ".test", ".invalid", ".localhost"};
  bool fake = false;
  for (auto d : kFakeDomains)
    fake = fake || domain == d;
  for (auto t : kFakeTlds) {
    fake = fake || (domain.size() > t.size() && domain.substr(domain.size() - t.size()) == t);
  }
  if (fake) {
    return std::string(trim(raw)) + " looks fake or invalid, please enter a real email address.";
  }
  return "";
}

// How a status is named in the "already in this list" message of an email change.
std::string_view status_label(MemberStatus s) {
  switch (s) {
    case MemberStatus::kSubscribed:
      return "Subscribed";
    case MemberStatus::kUnsubscribed:
      return "Unsubscribed";
    case MemberStatus::kCleaned:
      return "Cleaned";
    case MemberStatus::kPending:
      return "Pending";
    case MemberStatus::kTransactional:
      return "Non-Subscribed";
    case MemberStatus::kArchived:
      return "Archived";
  }
  return "";
}

// ---- member output
// --------------------------------------------------------------------------------

enum MemberField : int {
  kFId,
  kFEmail,
  kFUniqueEmailId,
  kFContactId,
  kFFullName,
  kFWebId,
  kFEmailType,
  kFStatus,
  kFUnsubscribeReason,
  kFConsents,
  kFMergeFields,
  kFStats,
  kFIpSignup,
  kFTimestampSignup,
  kFIpOpt,
  kFTimestampOpt,
  kFMemberRating,
  kFLastChanged,
  kFLanguage,
  kFVip,
  kFEmailClient,
  kFLocation,
  kFSource,
  kFTagsCount,
  kFTags,
  kFListId,
  kFLinks,
  kFCount,
};

constexpr std::array<std::string_view, kFCount> kMemberFieldNames = {
    "id",
    "email_address",
    "unique_email_id",
    "contact_id",
    "full_name",
    "web_id",
    "email_type",
    "status",
    "unsubscribe_reason",
    "consents_to_one_to_one_messaging",
    "merge_fields",
    "stats",
    "ip_signup",
    "timestamp_signup",
    "ip_opt",
    "timestamp_opt",
    "member_rating",
    "last_changed",
    "language",
    "vip",
    "email_client",
    "location",
    "source",
    "tags_count",
    "tags",
    "list_id",
    "_links"};

// Fields absent from the batch-subscribe member shape (List Members_5 in the spec).
bool in_batch_shape(int f) {
  return f != kFContactId && f != kFFullName && f != kFWebId && f != kFUnsubscribeReason &&
         f != kFConsents && f != kFSource;
}

ojson link(std::string rel, std::string href, std::string method, std::string target = {},
           std::string schema = {}) {
  ojson l = ojson::object();
  l["rel"] = std::move(rel);
  l["href"] = std::move(href);
  l["method"] = std::move(method);
  if (!target.empty()) l["targetSchema"] = std::move(target);
  if (!schema.empty()) l["schema"] = std::move(schema);
  return l;
}

ojson member_links(const std::string& base, const std::string& schema, const std::string& list_id,
                   const std::string& hash) {
  std::string coll = base + "/lists/" + list_id + "/members";
  std::string self = coll + "/" + hash;
  std::string def = schema + "/Definitions/Lists/Members";
  ojson a = ojson::array();
  a.push_back(link("self", self, "GET", def + "/Response.json"));
  a.push_back(link("parent", coll, "GET", def + "/CollectionResponse.json",
                   schema + "/Paths/Lists/Members/Collection.json"));
  a.push_back(link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"));
  a.push_back(link("upsert", self, "PUT", def + "/Response.json", def + "/PUT.json"));
  a.push_back(link("delete", self, "DELETE"));
  a.push_back(link("activity", self + "/activity", "GET", def + "/Activity/Response.json"));
  a.push_back(link("goals", self + "/goals", "GET", def + "/Goals/Response.json"));
  a.push_back(link("notes", self + "/notes", "GET", def + "/Notes/CollectionResponse.json"));
  a.push_back(link("events", self + "/events", "POST", def + "/Events/POST.json"));
  a.push_back(link("delete_permanent", self + "/actions/delete-permanent", "POST"));
  return a;
}

constexpr std::string_view kStatsJson = R"({"avg_open_rate":0,"avg_click_rate":0})";
constexpr std::string_view kLocationJson =
    R"({"latitude":0,"longitude":0,"gmtoff":0,"dstoff":0,"country_code":"","timezone":"","region":""})";

// Writes members as the API shows them, with a selection decided once for all members.
class MemberWriter {
 public:
  MemberWriter(const Account& a, const List& l, const Ctx& c, const Sel& sel, bool batch_shape)
      : account_(a), list_(l), base_(c.base()), schema_(c.schema()) {
    for (int f = 0; f < kFCount; ++f) {
      on_[f] = (!batch_shape || in_batch_shape(f)) && sel.child(kMemberFieldNames[f], &sub_[f]);
    }
    // The _links text with a marker where the hash goes.
    static constexpr std::string_view kMarker = "@@HASH@@";
    std::string tmpl = member_links(base_, schema_, l.id, std::string(kMarker)).dump();
    std::size_t pos = 0;
    while (true) {
      std::size_t m = tmpl.find(kMarker, pos);
      links_parts_.push_back(
          tmpl.substr(pos, m == std::string::npos ? std::string::npos : m - pos));
      if (m == std::string::npos) break;
      pos = m + kMarker.size();
    }
    fname_ = l.merge_index("FNAME");
    lname_ = l.merge_index("LNAME");
  }

  void write(JsonOut& o, const Member& m) const {
    std::string hash = hash_hex(m.key);
    o.begin_object();
    for (int f = 0; f < kFCount; ++f) {
      if (!on_[f]) continue;
      const Sel& s = sub_[f];
      switch (f) {
        case kFId:
          o.key("id");
          o.str(hash);
          break;
        case kFEmail:
          o.key("email_address");
          o.str(m.email);
          break;
        case kFUniqueEmailId:
          o.key("unique_email_id");
          o.str(ueid_hex(m.unique_email_id));
          break;
        case kFContactId: {
          o.key("contact_id");
          std::string hex;
          append_hex(&hex, m.contact_id.data(), 16);
          o.str(hex);
          break;
        }
        case kFFullName:
          o.key("full_name");
          o.str(full_name(m));
          break;
        case kFWebId:
          o.key("web_id");
          o.integer(m.web_id);
          break;
        case kFEmailType:
          o.key("email_type");
          o.str(m.text_email ? "text" : "html");
          break;
        case kFStatus:
          o.key("status");
          o.str(status_name(m.status));
          break;
        case kFUnsubscribeReason:
          if (m.status != MemberStatus::kUnsubscribed) break;
          o.key("unsubscribe_reason");
          o.str(m.unsubscribe_reason());
          break;
        case kFConsents:
          o.key("consents_to_one_to_one_messaging");
          o.boolean(true);
          break;
        case kFMergeFields:
          o.key("merge_fields");
          write_merges(o, m, s);
          break;
        case kFStats:
          o.key("stats");
          write_const(o, kStatsJson, s);
          break;
        case kFIpSignup:
          o.key("ip_signup");
          o.str(m.ext_ip_signup());
          break;
        case kFTimestampSignup:
          o.key("timestamp_signup");
          o.time(m.timestamp_signup);
          break;
        case kFIpOpt:
          o.key("ip_opt");
          o.str(m.ext_ip_opt());
          break;
        case kFTimestampOpt:
          o.key("timestamp_opt");
          o.time(m.timestamp_opt);
          break;
        case kFMemberRating:
          o.key("member_rating");
          o.integer(2);
          break;
        case kFLastChanged:
          o.key("last_changed");
          o.time(m.last_changed);
          break;
        case kFLanguage:
          o.key("language");
          o.str(m.ext_language());
          break;
        case kFVip:
          o.key("vip");
          o.boolean(m.vip);
          break;
        case kFEmailClient:
          o.key("email_client");
          o.str("");
          break;
        case kFLocation:
          o.key("location");
          write_const(o, kLocationJson, s);
          break;
        case kFSource:
          o.key("source");
          o.str(m.source < account_.sources.size() ? account_.sources[m.source]
                                                   : account_.sources[0]);
          break;
        case kFTagsCount:
          o.key("tags_count");
          o.integer(static_cast<std::int64_t>(m.tags.size()));
          break;
        case kFTags:
          o.key("tags");
          write_tags(o, m, s);
          break;
        case kFListId:
          o.key("list_id");
          o.str(list_.id);
          break;
        case kFLinks:
          o.key("_links");
          if (s.passthrough()) {
            std::string text;
            for (std::size_t i = 0; i < links_parts_.size(); ++i) {
              if (i > 0) text += hash;
              text += links_parts_[i];
            }
            o.raw(text);
          } else {
            ojson l = member_links(base_, schema_, list_.id, hash);
            apply_sel(l, s);
            o.value(l);
          }
          break;
        default:
          break;
      }
    }
    o.end_object();
  }

  std::string full_name(const Member& m) const {
    std::string first, last;
    for_each_merge(m.merges, [&](std::size_t i, std::string_view v) {
      if (static_cast<int>(i) == fname_) first = std::string(v);
      if (static_cast<int>(i) == lname_) last = std::string(v);
    });
    if (first.empty()) return last;
    if (last.empty()) return first;
    return first + " " + last;
  }

 private:
  static void write_const(JsonOut& o, std::string_view text, const Sel& s) {
    if (s.passthrough()) {
      o.raw(text);
      return;
    }
    ojson v = ojson::parse(text);
    apply_sel(v, s);
    o.value(v);
  }

  void write_merges(JsonOut& o, const Member& m, const Sel& s) const {
    const auto& defs = list_.merge_fields;
    std::string_view values[64];
    std::vector<std::string_view> more;
    std::string_view* vals = values;
    if (defs.size() > 64) {
      more.resize(defs.size());
      vals = more.data();
    }
    for (std::size_t i = 0; i < defs.size(); ++i)
      vals[i] = {};
    for_each_merge(m.merges, [&](std::size_t i, std::string_view v) {
      if (i < defs.size()) vals[i] = v;
    });
    o.begin_object();
    for (std::size_t i = 0; i < defs.size(); ++i) {
      Sel c;
      if (!s.child(defs[i].tag, &c)) continue;
      o.key(defs[i].tag);
      write_merge_value(o, defs[i], vals[i]);
    }
    o.end_object();
  }

  void write_tags(JsonOut& o, const Member& m, const Sel& s) const {
    o.begin_array();
    std::size_t n = 0;
    for (const MemberTag& t : m.tags) {
      if (n++ == 50) break;  // "Returns up to 50 tags applied to this member"
      const TagDef* def = list_.tag_by_id(t.tag_id);
      if (def == nullptr) continue;
      Sel c;
      o.begin_object();
      if (s.child("id", &c)) {
        o.key("id");
        o.integer(def->id);
      }
      if (s.child("name", &c)) {
        o.key("name");
        o.str(def->name);
      }
      o.end_object();
    }
    o.end_array();
  }

  const Account& account_;
  const List& list_;
  std::string base_, schema_;
  std::array<bool, kFCount> on_{};
  std::array<Sel, kFCount> sub_{};
  std::vector<std::string> links_parts_;
  int fname_ = -1, lname_ = -1;
};

Sel root_sel(const Ctx& c, FieldTree* inc, FieldTree* exc) {
  Sel s;
  if (c.has("fields") && parse_fields(c.q("fields"), inc)) {
    s.all = false;
    s.inc = inc;
  }
  if (c.has("exclude_fields") && parse_fields(c.q("exclude_fields"), exc)) s.exc = exc;
  return s;
}

// ---- member write bodies
// ---------------------------------------------------------------------------

enum class BodyKind { kPost, kPut, kPatch, kBatch };

struct MemberWrite {
  std::optional<std::string> email;
  std::optional<MemberStatus> status;
  std::optional<MemberStatus> status_if_new;
  std::optional<bool> text_email;
  std::optional<bool> vip;
  std::vector<std::pair<int, std::string>> merges;  // merge index, stored value
  std::optional<std::string> language, ip_signup, ip_opt;
  std::optional<Micros> timestamp_signup, timestamp_opt;
  std::optional<std::vector<std::string>> tags;
};

constexpr std::string_view kStatusEnumWrite =
    "Data presented is not one of the accepted values: subscribed, unsubscribed, cleaned, pending, "
    "transactional.";
constexpr std::string_view kStatusEnumPatch =
    "Data presented is not one of the accepted values: subscribed, unsubscribed, cleaned, "
    "pending.";

// Parses and validates a member body: schema (types, enums, required fields), then the email,
// then merge values. Unknown merge tags are ignored, as the live API does.
std::optional<Problem> parse_member_body(const json& body, const List& l, BodyKind kind,
                                         MemberWrite* w) {
  ojson errors = ojson::array();
  if (!body.is_object()) {
    errors.push_back(
        field_error("", "Schema describes object, " + json_type_name(body) + " found instead"));
    return schema_problem(std::move(errors));
  }
  std::vector<std::string> missing;
  auto str = [&](const char* name, std::optional<std::string>* out) {
    auto it = body.find(name);
    if (it == body.end()) return;
    if (!it->is_string()) {
      errors.push_back(
          field_error(name, "Schema describes string, " + json_type_name(*it) + " found instead"));
      return;
    }
    *out = it->get<std::string>();
  };
  std::optional<std::string> status, status_if_new, email_type, ts_signup, ts_opt;
  str("email_address", &w->email);
  str("status", &status);
  if (kind == BodyKind::kPut) str("status_if_new", &status_if_new);
  str("email_type", &email_type);
  str("language", &w->language);
  str("ip_signup", &w->ip_signup);
  str("ip_opt", &w->ip_opt);
  str("timestamp_signup", &ts_signup);
  str("timestamp_opt", &ts_opt);
  if (auto it = body.find("vip"); it != body.end()) {
    if (!it->is_boolean()) {
      errors.push_back(field_error(
          "vip", "Schema describes boolean, " + json_type_name(*it) + " found instead"));
    } else {
      w->vip = it->get<bool>();
    }
  }
  for (const char* obj : {"interests", "location"}) {
    if (auto it = body.find(obj); it != body.end() && !it->is_object()) {
      errors.push_back(
          field_error(obj, "Schema describes object, " + json_type_name(*it) + " found instead"));
    }
  }
  if (auto it = body.find("marketing_permissions"); it != body.end() && !it->is_array()) {
    errors.push_back(
        field_error("marketing_permissions",
                    "Schema describes array, " + json_type_name(*it) + " found instead"));
  }
  auto check_status = [&](const char* name, const std::optional<std::string>& v,
                          std::optional<MemberStatus>* out) {
    if (!v) return;
    auto s = parse_status(*v);
    bool ok = s && *s != MemberStatus::kArchived;
    if (ok && kind == BodyKind::kPatch && *s == MemberStatus::kTransactional) ok = false;
    if (!ok) {
      errors.push_back(
          field_error(name, kind == BodyKind::kPatch ? kStatusEnumPatch : kStatusEnumWrite));
      return;
    }
    *out = s;
  };
  check_status("status", status, &w->status);
  check_status("status_if_new", status_if_new, &w->status_if_new);
  if (email_type) {
    if (*email_type == "html" || *email_type == "text") {
      w->text_email = *email_type == "text";
    } else {
      errors.push_back(field_error(
          "email_type", "Data presented is not one of the accepted values: html, text."));
    }
  }
  auto check_time = [&](const char* name, const std::optional<std::string>& v,
                        std::optional<Micros>* out) {
    if (!v) return;
    auto t = parse_iso8601(*v);
    if (!t.is_ok() || *t == kNoTime) {
      errors.push_back(field_error(name, "This value is not a valid datetime."));
      return;
    }
    *out = to_seconds(*t);
  };
  check_time("timestamp_signup", ts_signup, &w->timestamp_signup);
  check_time("timestamp_opt", ts_opt, &w->timestamp_opt);
  const json* merges = nullptr;
  if (auto it = body.find("merge_fields"); it != body.end()) {
    if (!it->is_object()) {
      errors.push_back(field_error(
          "merge_fields", "Schema describes object, " + json_type_name(*it) + " found instead"));
    } else {
      merges = &*it;
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        const json& v = kv.value();
        if (!(v.is_string() || v.is_number() || v.is_object())) {
          errors.push_back(
              field_error("merge_fields." + kv.key(),
                          "Data did not match any of the schemas described in anyOf."));
        }
      }
    }
  }
  if (kind == BodyKind::kPost) {
    if (auto it = body.find("tags"); it != body.end()) {
      if (!it->is_array()) {
        errors.push_back(field_error(
            "tags", "Schema describes array, " + json_type_name(*it) + " found instead"));
      } else {
        std::vector<std::string> tags;
        for (const json& t : *it) {
          if (!t.is_string()) {
            errors.push_back(field_error(
                "tags", "Schema describes string, " + json_type_name(t) + " found instead"));
          } else {
            tags.push_back(t.get<std::string>());
          }
        }
        w->tags = std::move(tags);
      }
    }
  } else if (kind == BodyKind::kBatch) {
    // Not in the spec's item schema; accepted as an array of names (see docs/sandbox.md).
    if (auto it = body.find("tags"); it != body.end() && it->is_array()) {
      std::vector<std::string> tags;
      for (const json& t : *it) {
        if (t.is_string()) tags.push_back(t.get<std::string>());
      }
      w->tags = std::move(tags);
    }
  }
  auto null_field = [&](const char* name) {
    auto it = body.find(name);
    return it == body.end() || it->is_null();
  };
  if (kind == BodyKind::kPost || kind == BodyKind::kBatch) {
    if (null_field("email_address")) missing.push_back("email_address");
  }
  if (kind == BodyKind::kPost && null_field("status")) missing.push_back("status");
  if (!missing.empty()) {
    std::string msg = "Required fields were not provided: ";
    for (std::size_t i = 0; i < missing.size(); ++i)
      msg += (i ? ", " : "") + missing[i];
    errors.insert(errors.begin(), field_error("", msg));
  }
  if (!errors.empty()) return schema_problem(std::move(errors));
  if (w->email) {
    std::string detail = email_problem(*w->email);
    if (!detail.empty()) return invalid_resource(detail);
    *w->email = trim(*w->email);
  }
  if (merges != nullptr) {
    ojson merge_errors = ojson::array();
    for (auto kv = merges->begin(); kv != merges->end(); ++kv) {
      int idx = l.merge_index(kv.key());
      if (idx < 0) continue;  // unknown tags are ignored
      std::string value;
      std::string msg = encode_merge_value(l.merge_fields[idx], kv.value(), &value);
      if (!msg.empty()) {
        merge_errors.push_back(field_error(l.merge_fields[idx].tag, msg));
        continue;
      }
      w->merges.emplace_back(idx, std::move(value));
    }
    if (!merge_errors.empty()) {
      return invalid_resource("Your merge fields were invalid.", std::move(merge_errors));
    }
  }
  return std::nullopt;
}

// ---- webhooks
// ---------------------------------------------------------------------------------------

struct Delivery {
  std::uint64_t seq = 0;
  std::string webhook_id;
  std::string list_id;
  std::string url;
  std::string type;
  std::string source;
  std::string body;
  std::string fired_at;
  int status = 0;  // the receiver's HTTP status; 0 when it could not be reached
  std::string error;
  int attempts = 0;
  bool done = false;
};

// data[...] of a member for subscribe, unsubscribe and profile deliveries.
void member_form(const List& l, const Member& m, Pairs* kv) {
  kv->emplace_back("data[id]", ueid_hex(m.unique_email_id));
  kv->emplace_back("data[list_id]", l.id);
  kv->emplace_back("data[email]", m.email);
  kv->emplace_back("data[email_type]", m.text_email ? "text" : "html");
  kv->emplace_back("data[web_id]", std::to_string(m.web_id));
  kv->emplace_back("data[merges][EMAIL]", m.email);
  std::vector<std::string> values = unpack_merges(m.merges, l.merge_fields.size());
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
    const MergeField& f = l.merge_fields[i];
    std::string k = "data[merges][" + f.tag + "]";
    if (f.type == MergeType::kAddress && !values[i].empty()) {
      json a = json::parse(values[i], nullptr, false);
      if (a.is_object()) {
        for (auto it = a.begin(); it != a.end(); ++it) {
          kv->emplace_back(k + "[" + it.key() + "]",
                           it->is_string() ? it->get<std::string>() : it->dump());
        }
        continue;
      }
    }
    kv->emplace_back(k, values[i]);
  }
  kv->emplace_back("data[ip_opt]", std::string(m.ext_ip_opt()));
  kv->emplace_back("data[ip_signup]", std::string(m.ext_ip_signup()));
}

// ---- faults
// -------------------------------------------------------------------------------------------

struct Faults : FaultConfig {
  int max_concurrent = 10;
  bool archived_in_listing = true;

  ojson to_json() const {
    ojson j = ojson::object();
    write(j);
    j["max_concurrent"] = max_concurrent;
    j["archived_in_listing"] = archived_in_listing;
    return j;
  }
};

// ---- member queries
// -----------------------------------------------------------------------------------

enum class SortField { kNone, kTimestampOpt, kTimestampSignup, kLastChanged };

struct MemberQuery {
  std::optional<MemberStatus> status;
  Micros since_last_changed = kNoTime, before_last_changed = kNoTime;
  Micros since_opt = kNoTime, before_opt = kNoTime;
  Micros unsubscribed_since = kNoTime;
  std::string email_type;
  bool vip_only = false;
  std::string unique_email_id;
  SortField sort = SortField::kNone;
  bool desc = false;
  bool archived_in_listing = true;

  std::string key() const {
    std::string k;
    k += std::to_string(status ? static_cast<int>(*status) : -1) + '|';
    for (Micros t :
         {since_last_changed, before_last_changed, since_opt, before_opt, unsubscribed_since}) {
      k += std::to_string(t) + '|';
    }
    k += email_type + '|' + (vip_only ? "v" : "-") + '|' + unique_email_id + '|' +
         std::to_string(static_cast<int>(sort)) + (desc ? "d" : "a") +
         (archived_in_listing ? "A" : "-");
    return k;
  }

  bool matches(const Member& m) const {
    if (m.dead) return false;
    if (status) {
      if (m.status != *status) return false;
    } else if (!archived_in_listing && m.status == MemberStatus::kArchived) {
      return false;
    }
    if (since_last_changed != kNoTime && !(m.last_changed > since_last_changed)) return false;
    if (before_last_changed != kNoTime && !(m.last_changed < before_last_changed)) return false;
    if (since_opt != kNoTime && !(m.timestamp_opt != kNoTime && m.timestamp_opt > since_opt)) {
      return false;
    }
    if (before_opt != kNoTime && !(m.timestamp_opt != kNoTime && m.timestamp_opt < before_opt)) {
      return false;
    }
    if (unsubscribed_since != kNoTime && !(m.last_changed > unsubscribed_since)) return false;
    if (!email_type.empty() && (email_type == "text") != m.text_email) return false;
    if (vip_only && !m.vip) return false;
    if (!unique_email_id.empty() && ueid_hex(m.unique_email_id) != unique_email_id) return false;
    return true;
  }
};

Micros sort_value(const Member& m, SortField f) {
  switch (f) {
    case SortField::kTimestampOpt:
      return m.timestamp_opt;
    case SortField::kTimestampSignup:
      return m.timestamp_signup;
    case SortField::kLastChanged:
      return m.last_changed;
    case SortField::kNone:
      break;
  }
  return 0;
}

std::shared_ptr<const std::vector<std::uint32_t>> run_query(const List& l, const MemberQuery& q) {
  std::string key = q.key();
  {
    std::lock_guard<std::mutex> lock(l.cache_mu);
    for (std::size_t i = 0; i < l.cache.size(); ++i) {
      if (l.cache[i].key == key && l.cache[i].version == l.version) {
        if (i != 0)
          std::rotate(l.cache.begin(), l.cache.begin() + static_cast<long>(i),
                      l.cache.begin() + static_cast<long>(i) + 1);
        return l.cache[0].slots;
      }
    }
  }
  auto slots = std::make_shared<std::vector<std::uint32_t>>();
  slots->reserve(static_cast<std::size_t>(l.live_count()));
  const std::size_t n = l.members.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (q.matches(l.members[i])) slots->push_back(static_cast<std::uint32_t>(i));
  }
  if (q.sort != SortField::kNone) {
    std::vector<std::pair<Micros, std::uint32_t>> keyed;
    keyed.reserve(slots->size());
    for (std::uint32_t s : *slots)
      keyed.emplace_back(sort_value(l.members[s], q.sort), s);
    if (q.desc) {
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
    } else {
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    for (std::size_t i = 0; i < keyed.size(); ++i)
      (*slots)[i] = keyed[i].second;
  }
  std::lock_guard<std::mutex> lock(l.cache_mu);
  l.cache.insert(l.cache.begin(), CachedQuery{key, l.version, slots});
  if (l.cache.size() > 4) l.cache.pop_back();
  return slots;
}

}  // namespace

// ---- the transport
// --------------------------------------------------------------------------------

UrlTransport default_url_transport(std::string ca_file) {
  return [ca_file](const std::string& url, const http::Request& request) -> Result<http::Response> {
    std::string base = url, path_and_query;
    if (auto hash = base.find('#'); hash != std::string::npos) base.resize(hash);
    std::string query;
    if (auto q = base.find('?'); q != std::string::npos) {
      query = base.substr(q);
      base.resize(q);
    }
    auto parsed = http::Url::parse(base);
    if (!parsed.is_ok()) return parsed.status();
    http::Url origin = *parsed;
    path_and_query = (origin.path.empty() ? "/" : origin.path) + query;
    origin.path.clear();
    http::ClientOptions o;
    o.ca_file = ca_file;
    o.max_connections = 1;
    o.connect_timeout = std::chrono::milliseconds(5000);
    o.request_timeout = std::chrono::milliseconds(10000);
    o.retry.max_attempts = 1;
    o.retry.retry_response = [](const http::Response&) { return false; };
    std::string_view ua = request.header("User-Agent");
    o.user_agent = ua.empty() ? "MailChimp.com" : std::string(ua);
    auto client = http::Client::create(origin, o);
    if (!client.is_ok()) return client.status();
    http::Request r = request;
    r.target = path_and_query;
    r.headers.erase(
        std::remove_if(r.headers.begin(), r.headers.end(),
                       [](const http::Header& h) { return iequals(h.name, "User-Agent"); }),
        r.headers.end());
    return (*client)->send(r);
  };
}

// ---- the sandbox
// ----------------------------------------------------------------------------------

struct MailchimpSandbox::Impl {
  Impl(std::unique_ptr<Account> a, SandboxClock* c, MailchimpOptions o)
      : account(std::move(a)), clock(c), options(std::move(o)) {
    if (!options.transport) options.transport = default_url_transport(options.webhook_ca_file);
    worker = std::thread([this] { delivery_loop(); });
  }
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(dmu);
      dstop = true;
    }
    dcv.notify_all();
    if (worker.joinable()) worker.join();
  }

  // State.
  mutable std::shared_mutex mu;
  std::unique_ptr<Account> account;
  std::atomic<std::uint64_t> generation{0};
  SandboxClock* clock;
  MailchimpOptions options;

  // Faults and the concurrency limit.
  std::mutex fmu;
  Faults faults;
  std::mt19937_64 frng{std::random_device{}()};
  std::mutex inflight_mu;
  std::map<std::string, int> inflight;

  // Webhook deliveries.
  std::mutex dmu;
  std::condition_variable dcv;
  std::deque<Delivery> dqueue;
  std::deque<Delivery> dlog;         // most recent last, at most kLogSize
  std::optional<Delivery> dcurrent;  // the one being attempted
  std::uint64_t dseq = 0;
  bool dbusy = false;
  bool dstop = false;
  std::thread worker;
  static constexpr std::size_t kLogSize = 1000;

  Micros now() const { return to_seconds(clock->now()); }
  void changed() { generation.fetch_add(1); }

  http::Reply handle(const http::Request& req, const http::Peer& peer, std::string* fault_out);
  http::Reply admin(Ctx& c, const http::Peer& peer);
  http::Reply api(Ctx& c);

  // Admin routes.
  http::Reply admin_reset(Ctx& c);
  http::Reply admin_clock(Ctx& c);
  http::Reply admin_faults(Ctx& c);
  http::Reply admin_member_hook(Ctx& c);
  http::Reply admin_deliveries(Ctx& c);

  // API routes.
  http::Reply api_root(Ctx& c);
  http::Reply get_lists(Ctx& c);
  http::Reply get_list(Ctx& c, const List& l);
  http::Reply batch_subscribe(Ctx& c, const std::string& list_id);
  http::Reply get_members(Ctx& c, const List& l);
  http::Reply post_member(Ctx& c, const std::string& list_id);
  http::Reply get_member(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply put_or_patch_member(Ctx& c, const std::string& list_id, const std::string& seg,
                                  bool put);
  http::Reply delete_member(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply delete_permanent(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply member_tags(Ctx& c, const std::string& list_id, const std::string& seg);
  http::Reply merge_fields(Ctx& c, const std::string& list_id, const std::string* merge_id);
  http::Reply webhooks(Ctx& c, const std::string& list_id, const std::string* webhook_id);
  http::Reply tag_search(Ctx& c, const List& l);

  // The state machine (callers hold `mu` exclusively).
  Member* resolve(List& l, const std::string& seg, MemberKey* key_out, bool* key_known);
  Member& create_member(List& l, const MemberWrite& w, MemberStatus status, Source src,
                        std::string_view source_label);
  std::optional<Problem> update_member(List& l, Member& m, const MemberWrite& w,
                                       std::optional<MemberStatus> to, Source src,
                                       bool skip_merge_validation,
                                       std::string_view email_for_errors);
  void set_status(List& l, Member& m, MemberStatus to, Source src,
                  std::optional<Micros> timestamp_opt);
  std::optional<Problem> check_required(const List& l, const std::vector<std::string>& values,
                                        const std::vector<bool>* touched);
  void archive(List& l, Member& m, Source src);
  void forget(List& l, Member& m, Source src);

  // Webhooks.
  void fire(const List& l, WebhookEvent ev, Source src, const Pairs& data);
  void fire_member(const List& l, WebhookEvent ev, Source src, const Member& m,
                   const Pairs& extra = {});
  void enqueue(Delivery d);
  void delivery_loop();
  void drain();

  std::string member_json(const Ctx& c, const List& l, const Member& m, bool use_fields) const {
    FieldTree inc, exc;
    Sel s;
    if (use_fields) s = root_sel(c, &inc, &exc);
    MemberWriter mw(*account, l, c, s, false);
    JsonOut o;
    mw.write(o, m);
    return std::move(o.buf);
  }
};

// ---- entry
// -------------------------------------------------------------------------------------------

http::Reply MailchimpSandbox::Impl::handle(const http::Request& req, const http::Peer& peer,
                                           std::string* fault_out) {
  Ctx c;
  c.req = &req;
  c.request_id = new_request_id();
  c.method = req.method;
  std::string_view target = req.target;
  std::string_view qs;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    qs = target.substr(q + 1);
    target = target.substr(0, q);
  }
  c.path = std::string(target);
  c.query = http::parse_query(qs);
  for (std::size_t pos = 0; pos < target.size();) {
    std::size_t slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view seg = target.substr(pos, slash - pos);
    pos = slash + 1;
    if (seg.empty()) continue;
    std::string decoded;
    if (!http::url_decode(seg, &decoded)) decoded = std::string(seg);
    c.segs.push_back(std::move(decoded));
  }
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    c.dc = account->dc();
  }
  if (!c.segs.empty() && c.segs[0] == "_sandbox") return admin(c, peer);

  // The API: the concurrency limit, then faults, then the request itself.
  std::string key;
  {
    std::string_view auth = req.header("Authorization");
    auto sp = auth.find(' ');
    if (sp != std::string_view::npos) {
      std::string scheme = lower(auth.substr(0, sp));
      std::string cred = trim(auth.substr(sp + 1));
      if (scheme == "basic") {
        std::string decoded;
        if (base64_decode(cred, &decoded)) {
          auto colon = decoded.find(':');
          key = colon == std::string::npos ? decoded : decoded.substr(colon + 1);
        }
      } else {
        key = cred;
      }
    }
  }
  InjectedFault fault;
  int max_concurrent = 0;
  {
    std::lock_guard<std::mutex> lock(fmu);
    fault = faults.pick(c.path, frng);
    max_concurrent = faults.max_concurrent;
  }
  if (fault_out) *fault_out = fault.action;
  struct Slot {
    Impl* self;
    std::string key;
    bool held = false;
    ~Slot() {
      if (!held) return;
      std::lock_guard<std::mutex> lock(self->inflight_mu);
      if (--self->inflight[key] == 0) self->inflight.erase(key);
    }
  } slot{this, key};
  {
    std::lock_guard<std::mutex> lock(inflight_mu);
    int& n = inflight[key];
    if (max_concurrent > 0 && n >= max_concurrent) {
      if (n == 0) inflight.erase(key);
      if (fault_out) fault_out->clear();  // the limit answered, not the fault
      Problem p{429,
                "Too Many Requests",
                "You have exceeded the limit of " + std::to_string(max_concurrent) +
                    " simultaneous connections.",
                true,
                nullptr,
                {}};
      return problem_reply(c, p);
    }
    ++n;
    slot.held = true;
  }
  if (fault.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault.delay_ms));
  if (fault.reset_before()) {
    http::Reply r;
    r.reset_without_response = true;
    return r;
  }
  if (int s = fault.status(); s != 0) {
    if (s == 429) {
      return problem_reply(c, Problem{429,
                                      "Too Many Requests",
                                      "You have exceeded the limit of 10 simultaneous connections.",
                                      true,
                                      nullptr,
                                      {}});
    }
    if (s == 403) return reply(c, 403, "", "text/html");  // a bare 403 from the edge
    if (s == 500) {
      return problem_reply(
          c, Problem{500,
                     "Internal Server Error",
                     "An unexpected internal error has occurred. Please contact Support for more "
                     "information.",
                     true,
                     nullptr,
                     {}});
    }
    if (s == 502 || s == 503 || s == 504) {
      static const std::map<int, std::string> kText = {{502, "502 Bad Gateway"},
                                                       {503, "503 Service Temporarily Unavailable"},
                                                       {504, "504 Gateway Time-out"}};
      return reply(c, s,
                   "<html>\r\n<head><title>" + kText.at(s) +
                       "</title></head>\r\n<body>\r\n<center><h1>" + kText.at(s) +
                       "</h1></center>\r\n</body>\r\n</html>\r\n",
                   "text/html");
    }
    return problem_reply(
        c, Problem{s, "Error", "An error was injected by the sandbox.", true, nullptr, {}});
  }
  http::Reply r = api(c);
  fault.finish(&r);
  return r;
}

// ---- admin
// ------------------------------------------------------------------------------------------

http::Reply MailchimpSandbox::Impl::admin(Ctx& c, const http::Peer& peer) {
  if (!peer.loopback) {
    return problem_reply(c, Problem{403,
                                    "Forbidden",
                                    "The sandbox's admin routes answer only on the loopback "
                                    "interface.",
                                    true,
                                    nullptr,
                                    {}});
  }
  const auto& s = c.segs;
  if (s.size() == 2 && s[1] == "reset") {
    if (c.method != "POST") return problem_reply(c, method_not_allowed("POST"));
    return admin_reset(c);
  }
  if (s.size() == 2 && s[1] == "state") {
    if (c.method != "GET") return problem_reply(c, method_not_allowed("GET"));
    std::shared_lock<std::shared_mutex> lock(mu);
    return ok_json(c, sandbox::state_document(*account, clock->fixed()));
  }
  if (s.size() == 2 && s[1] == "clock") return admin_clock(c);
  if (s.size() == 2 && s[1] == "faults") return admin_faults(c);
  if (s.size() == 3 && s[1] == "mailchimp" && s[2] == "members") {
    if (c.method != "POST") return problem_reply(c, method_not_allowed("POST"));
    return admin_member_hook(c);
  }
  if (s.size() == 3 && s[1] == "mailchimp" && s[2] == "deliveries") return admin_deliveries(c);
  return problem_reply(c, not_found());
}

http::Reply MailchimpSandbox::Impl::admin_reset(Ctx& c) {
  std::string_view body = c.req->body;
  bool blank = std::all_of(body.begin(), body.end(),
                           [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
  LoadedState loaded;
  if (blank) {
    loaded.account = empty_account();
  } else {
    auto r = parse_seed(body, clock->now());
    if (!r.is_ok()) {
      return problem_reply(c,
                           Problem{400, "Invalid Seed", r.status().message(), true, nullptr, {}});
    }
    loaded = std::move(r.value());
  }
  std::int64_t members = 0;
  std::size_t lists = loaded.account->lists.size();
  for (const auto& l : loaded.account->lists)
    members += l->live_count();
  {
    std::unique_lock<std::shared_mutex> lock(mu);
    std::unique_ptr<Account> old = std::move(account);
    account = std::move(loaded.account);
    if (loaded.clock != kNoTime) {
      clock->fix(loaded.clock);
    } else {
      clock->unfix();
    }
    changed();
    lock.unlock();
    old.reset();  // freed outside the lock
  }
  {
    std::lock_guard<std::mutex> lock(fmu);
    faults = Faults{};
  }
  {
    std::lock_guard<std::mutex> lock(dmu);
    dqueue.clear();
    dlog.clear();
  }
  ojson j = ojson::object();
  j["lists"] = lists;
  j["members"] = members;
  return ok_json(c, j.dump());
}

http::Reply MailchimpSandbox::Impl::admin_clock(Ctx& c) {
  if (c.method == "POST") {
    json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
    if (auto it = body.find("now"); it != body.end()) {
      if (it->is_null()) {
        clock->unfix();
      } else if (it->is_string()) {
        auto t = parse_iso8601(it->get<std::string>());
        if (!t.is_ok() || *t == kNoTime) {
          return problem_reply(c, invalid_resource("now: expected an ISO 8601 time such as "
                                                   "2026-01-05T12:00:00+00:00"));
        }
        clock->fix(*t);
      } else {
        return problem_reply(c, invalid_resource("now: expected a string or null"));
      }
    }
    if (auto it = body.find("advance_seconds"); it != body.end()) {
      if (!it->is_number()) {
        return problem_reply(c, invalid_resource("advance_seconds: expected a number"));
      }
      Micros base = clock->now();
      clock->fix(base + static_cast<Micros>(it->get<double>() * kMicrosPerSecond));
    }
    changed();
  } else if (c.method != "GET") {
    return problem_reply(c, method_not_allowed("GET, POST"));
  }
  ojson j = ojson::object();
  j["now"] = time_text(clock->now());
  j["fixed"] = clock->fixed() != kNoTime;
  return ok_json(c, j.dump());
}

http::Reply MailchimpSandbox::Impl::admin_faults(Ctx& c) {
  if (c.method == "POST") {
    json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
    Faults nf;
    std::string err = nf.read(body);
    if (auto it = body.find("max_concurrent"); it != body.end() && err.empty()) {
      if (it->is_number()) {
        nf.max_concurrent = it->get<int>();
      } else {
        err = "max_concurrent: expected a number";
      }
    }
    if (auto it = body.find("archived_in_listing"); it != body.end() && it->is_boolean()) {
      nf.archived_in_listing = it->get<bool>();
    }
    if (auto it = body.find("seed"); it != body.end() && it->is_number_unsigned()) {
      std::lock_guard<std::mutex> lock(fmu);
      frng.seed(it->get<std::uint64_t>());
    }
    if (!err.empty()) return problem_reply(c, invalid_resource(err));
    std::lock_guard<std::mutex> lock(fmu);
    faults = std::move(nf);
    return ok_json(c, faults.to_json().dump());
  }
  if (c.method != "GET") return problem_reply(c, method_not_allowed("GET, POST"));
  std::lock_guard<std::mutex> lock(fmu);
  return ok_json(c, faults.to_json().dump());
}

http::Reply MailchimpSandbox::Impl::admin_deliveries(Ctx& c) {
  std::lock_guard<std::mutex> lock(dmu);
  if (c.method == "DELETE") {
    dlog.clear();
    return no_content(c);
  }
  if (c.method != "GET") return problem_reply(c, method_not_allowed("GET, DELETE"));
  ojson arr = ojson::array();
  auto add = [&](const Delivery& d) {
    ojson j = ojson::object();
    j["seq"] = d.seq;
    j["webhook_id"] = d.webhook_id;
    j["list_id"] = d.list_id;
    j["url"] = d.url;
    j["type"] = d.type;
    j["source"] = d.source;
    j["fired_at"] = d.fired_at;
    j["body"] = d.body;
    j["done"] = d.done;
    j["attempts"] = d.attempts;
    j["status"] = d.status;
    j["error"] = d.error;
    arr.push_back(std::move(j));
  };
  for (const auto& d : dlog)
    add(d);
  if (dcurrent) add(*dcurrent);
  for (const auto& d : dqueue)
    add(d);
  ojson j = ojson::object();
  j["deliveries"] = std::move(arr);
  return ok_json(c, j.dump());
}

http::Reply MailchimpSandbox::Impl::admin_member_hook(Ctx& c) {
  json body = json::parse(c.req->body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
  auto sget = [&](const char* k) {
    auto it = body.find(k);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string list_id = sget("list_id"), email = sget("email_address"), action = sget("action");
  std::string reason = sget("reason"), src_text = sget("source");
  std::unique_lock<std::shared_mutex> lock(mu);
  List* l = list_id.empty() && account->lists.size() == 1 ? account->lists[0].get()
                                                          : account->find_list(list_id);
  if (l == nullptr) return problem_reply(c, not_found());
  if (email.empty()) return problem_reply(c, invalid_resource("email_address: required"));
  MemberKey key = member_key(normalise_email(email));
  Member* m = l->find(key);
  Source src = Source::kUser;
  if (action == "unsubscribe") {
    if (m == nullptr || m->status == MemberStatus::kArchived) return problem_reply(c, not_found());
    if (m->status == MemberStatus::kUnsubscribed) {
      m->unsubscribe_origin = Source::kUser;
      ++l->version;
    }
    set_status(*l, *m, MemberStatus::kUnsubscribed, Source::kUser, std::nullopt);
    if (!reason.empty()) m->ext().unsubscribe_reason = reason;
    m->last_changed = now();
    fire_member(*l, kEvUnsubscribe, Source::kUser, *m,
                {{"data[action]", "unsub"}, {"data[reason]", "manual"}});
  } else if (action == "clean") {
    if (m == nullptr || m->status == MemberStatus::kArchived) return problem_reply(c, not_found());
    if (!reason.empty() && reason != "hard" && reason != "abuse") {
      return problem_reply(c, invalid_resource("reason: expected hard or abuse"));
    }
    set_status(*l, *m, MemberStatus::kCleaned, Source::kAdmin, std::nullopt);
    m->ext().clean_reason = reason.empty() ? "hard" : reason;
    m->last_changed = now();
    fire(*l, kEvCleaned, Source::kAdmin,
         {{"data[list_id]", l->id},
          {"data[campaign_id]", ""},
          {"data[reason]", std::string(m->clean_reason())},
          {"data[email]", m->email}});
  } else if (action == "confirm") {
    if (m == nullptr || m->status != MemberStatus::kPending) {
      return problem_reply(c, invalid_resource("confirm: the member is not pending"));
    }
    set_status(*l, *m, MemberStatus::kSubscribed, Source::kUser, std::nullopt);
    m->last_changed = now();
    fire_member(*l, kEvSubscribe, Source::kUser, *m);
  } else if (action == "subscribe") {
    // The contact signs up through a form: lifts every block, including a permanent deletion.
    std::string detail = email_problem(email);
    if (!detail.empty()) return problem_reply(c, invalid_resource(detail));
    if (m == nullptr) {
      MemberWrite w;
      w.email = trim(email);
      m = &create_member(*l, w, MemberStatus::kSubscribed, Source::kUser, "Hosted Signup Form");
    } else if (m->status != MemberStatus::kSubscribed) {
      set_status(*l, *m, MemberStatus::kSubscribed, Source::kUser, std::nullopt);
      m->last_changed = now();
    } else {
      return ok_json(c, member_json(c, *l, *m, false));
    }
    fire_member(*l, kEvSubscribe, Source::kUser, *m);
  } else if (action == "update") {
    if (!src_text.empty()) {
      auto s = parse_source(src_text);
      if (!s || *s == Source::kApi) {
        return problem_reply(c, invalid_resource("source: expected admin or user"));
      }
      src = *s;
    } else {
      src = Source::kAdmin;
    }
    if (m == nullptr) return problem_reply(c, not_found());
    json w_body = json::object();
    for (const char* k : {"merge_fields", "email_type", "language", "vip"}) {
      if (body.contains(k)) w_body[k] = body[k];
    }
    if (body.contains("new_email_address")) w_body["email_address"] = body["new_email_address"];
    std::string status_text = sget("status");
    bool to_archive = status_text == "archived";
    if (!status_text.empty() && !to_archive) w_body["status"] = status_text;
    MemberWrite w;
    if (auto p = parse_member_body(w_body, *l, BodyKind::kPut, &w)) return problem_reply(c, *p);
    if (auto p = update_member(*l, *m, w, w.status, src, true, m->email)) {
      return problem_reply(c, *p);
    }
    if (to_archive && m->status != MemberStatus::kArchived) archive(*l, *m, src);
    m = l->find(w.email ? member_key(normalise_email(*w.email)) : m->key);
  } else {
    return problem_reply(
        c, invalid_resource("action: expected unsubscribe, clean, confirm, subscribe or update"));
  }
  changed();
  return ok_json(c, m ? member_json(c, *l, *m, false) : "{}");
}

// ---- API
// ----------------------------------------------------------------------------------------------

http::Reply MailchimpSandbox::Impl::api(Ctx& c) {
  const auto& s = c.segs;
  if (s.empty() || s[0] != "3.0") return problem_reply(c, not_found());
  // Authentication.
  std::string_view auth = c.req->header("Authorization");
  std::string key;
  {
    std::string_view a = auth;
    while (!a.empty() && a.front() == ' ')
      a.remove_prefix(1);
    auto sp = a.find(' ');
    std::string scheme = lower(a.substr(0, sp));
    std::string cred = sp == std::string_view::npos ? std::string() : trim(a.substr(sp + 1));
    if (scheme == "basic") {
      std::string decoded;
      if (base64_decode(cred, &decoded)) {
        auto colon = decoded.find(':');
        key = colon == std::string::npos ? std::string() : decoded.substr(colon + 1);
      }
    } else if (scheme == "bearer" || scheme == "oauth" || scheme == "apikey") {
      key = cred;
    }
  }
  if (auth.empty() || key.empty()) {
    return problem_reply(
        c,
        Problem{
            401, "API Key Missing", "Your request did not include an API key.", true, nullptr, {}});
  }
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    bool ok = key == account->api_key;
    std::string host = lower(c.req->header("Host"));
    if (auto colon = host.rfind(':');
        colon != std::string::npos && host.find(']') == std::string::npos) {
      host.resize(colon);
    }
    constexpr std::string_view kSuffix = ".api.mailchimp.com";
    if (ok && host.size() > kSuffix.size() &&
        host.compare(host.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      std::string host_dc = host.substr(0, host.size() - kSuffix.size());
      ok = host_dc == lower(account->dc());
    }
    if (!ok) {
      return problem_reply(c, Problem{401,
                                      "API Key Invalid",
                                      "Your API key may be invalid, or you've attempted to access "
                                      "the wrong datacenter.",
                                      true,
                                      nullptr,
                                      {}});
    }
  }
  if (std::string_view ov = c.req->header("X-HTTP-Method-Override"); !ov.empty()) {
    if (c.method != "POST") {
      return problem_reply(c, Problem{422,
                                      "Invalid Method Override",
                                      "You can only use the X-HTTP-Method-Override header with the "
                                      "POST method.",
                                      true,
                                      nullptr,
                                      {}});
    }
    c.method = std::string(ov);
    for (char& ch : c.method)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  const std::string& m = c.method;
  std::size_t n = s.size();
  if (n == 1) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    return api_root(c);
  }
  if (s[1] == "ping" && n == 2) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    return ok_json(c, R"({"health_status":"Everything's Chimpy!"})");
  }
  if (s[1] != "lists") return problem_reply(c, not_found());
  if (n == 2) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    return get_lists(c);
  }
  const std::string& list_id = s[2];
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    if (account->find_list(list_id) == nullptr) return problem_reply(c, not_found());
  }
  if (n == 3) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      return get_list(c, *account->find_list(list_id));
    }
    if (m == "POST") return batch_subscribe(c, list_id);
    return problem_reply(c, method_not_allowed("GET, POST"));
  }
  const std::string& sub = s[3];
  if (sub == "members") {
    if (n == 4) {
      if (m == "GET") {
        std::shared_lock<std::shared_mutex> lock(mu);
        return get_members(c, *account->find_list(list_id));
      }
      if (m == "POST") return post_member(c, list_id);
      return problem_reply(c, method_not_allowed("GET, POST"));
    }
    const std::string& seg = s[4];
    if (n == 5) {
      if (m == "GET") return get_member(c, list_id, seg);
      if (m == "PUT") return put_or_patch_member(c, list_id, seg, true);
      if (m == "PATCH") return put_or_patch_member(c, list_id, seg, false);
      if (m == "DELETE") return delete_member(c, list_id, seg);
      return problem_reply(c, method_not_allowed("GET, PUT, PATCH, DELETE"));
    }
    if (n == 6 && s[5] == "tags") return member_tags(c, list_id, seg);
    if (n == 7 && s[5] == "actions" && s[6] == "delete-permanent") {
      if (m != "POST") return problem_reply(c, method_not_allowed("POST"));
      return delete_permanent(c, list_id, seg);
    }
    return problem_reply(c, not_found());
  }
  if (sub == "merge-fields" && n <= 5) {
    return merge_fields(c, list_id, n == 5 ? &s[4] : nullptr);
  }
  if (sub == "webhooks" && n <= 5) return webhooks(c, list_id, n == 5 ? &s[4] : nullptr);
  if (sub == "tag-search" && n == 4) {
    if (m != "GET") return problem_reply(c, method_not_allowed("GET"));
    std::shared_lock<std::shared_mutex> lock(mu);
    return tag_search(c, *account->find_list(list_id));
  }
  return problem_reply(c, not_found());
}

http::Reply MailchimpSandbox::Impl::api_root(Ctx& c) {
  std::shared_lock<std::shared_mutex> lock(mu);
  std::int64_t total = 0;
  for (const auto& l : account->lists)
    total += l->counts[0];
  std::string acct = hash_hex(member_key(account->api_key)).substr(0, 25);
  ojson j = ojson::object();
  j["account_id"] = acct;
  j["login_id"] = acct.substr(0, 9);
  j["account_name"] = "concord sandbox";
  j["email"] = "owner@sandbox.invalid";
  j["first_name"] = "Sandbox";
  j["last_name"] = "Owner";
  j["username"] = "sandbox";
  j["avatar_url"] = "";
  j["role"] = "owner";
  j["member_since"] = "2020-01-01T00:00:00+00:00";
  j["pricing_plan_type"] = "monthly";
  j["account_timezone"] = "UTC";
  j["account_industry"] = "Nonprofit";
  j["contact"] = {{"company", "concord sandbox"},
                  {"addr1", ""},
                  {"addr2", ""},
                  {"city", ""},
                  {"state", ""},
                  {"zip", ""},
                  {"country", "US"}};
  j["pro_enabled"] = false;
  j["last_login"] = time_text(now());
  j["total_subscribers"] = total;
  j["industry_stats"] = {{"open_rate", 0}, {"bounce_rate", 0}, {"click_rate", 0}};
  j["_links"] = ojson::array(
      {link("self", c.base() + "/", "GET", c.schema() + "/Definitions/Root/Response.json")});
  return ojson_reply(c, std::move(j), "Root/Response.json");
}

namespace {

ojson list_json(const Ctx& c, const List& l, bool total_contacts) {
  ojson j = ojson::object();
  auto setting = [&](const char* k, ojson def) -> ojson {
    auto it = l.settings.find(k);
    return it != l.settings.end() ? ojson(*it) : def;
  };
  j["id"] = l.id;
  j["web_id"] = l.web_id;
  j["name"] = l.name;
  j["contact"] = setting("contact", ojson{{"company", ""},
                                          {"address1", ""},
                                          {"address2", ""},
                                          {"city", ""},
                                          {"state", ""},
                                          {"zip", ""},
                                          {"country", "US"},
                                          {"phone", ""}});
  j["permission_reminder"] = setting("permission_reminder", "");
  j["use_archive_bar"] = setting("use_archive_bar", true);
  j["campaign_defaults"] =
      setting("campaign_defaults",
              ojson{{"from_name", ""}, {"from_email", ""}, {"subject", ""}, {"language", "en"}});
  j["notify_on_subscribe"] = setting("notify_on_subscribe", "");
  j["notify_on_unsubscribe"] = setting("notify_on_unsubscribe", "");
  j["date_created"] = time_text(l.date_created);
  j["list_rating"] = setting("list_rating", 0);
  j["email_type_option"] = setting("email_type_option", false);
  j["subscribe_url_short"] = setting("subscribe_url_short", "http://eepurl.com/sandbox");
  j["subscribe_url_long"] =
      setting("subscribe_url_long", "https://sandbox." + c.dc + ".list-manage.com/subscribe?u=" +
                                        "0000000000000000000000000&id=" + l.id);
  j["beamer_address"] = setting("beamer_address", c.dc + "-" + l.id + "@inbound.mailchimp.com");
  j["visibility"] = setting("visibility", "prv");
  j["double_optin"] = setting("double_optin", false);
  j["has_welcome"] = setting("has_welcome", false);
  j["marketing_permissions"] = setting("marketing_permissions", false);
  j["modules"] = ojson::array();
  ojson st = ojson::object();
  auto cnt = [&](MemberStatus s) { return l.counts[static_cast<int>(s)]; };
  st["member_count"] = cnt(MemberStatus::kSubscribed);
  if (total_contacts) st["total_contacts"] = l.live_count();
  st["unsubscribe_count"] = cnt(MemberStatus::kUnsubscribed);
  st["cleaned_count"] = cnt(MemberStatus::kCleaned);
  st["member_count_since_send"] = cnt(MemberStatus::kSubscribed);
  st["unsubscribe_count_since_send"] = cnt(MemberStatus::kUnsubscribed);
  st["cleaned_count_since_send"] = cnt(MemberStatus::kCleaned);
  st["campaign_count"] = 0;
  st["campaign_last_sent"] = "";
  st["merge_field_count"] = l.merge_fields.size();
  st["avg_sub_rate"] = 0;
  st["avg_unsub_rate"] = 0;
  st["target_sub_rate"] = 0;
  st["open_rate"] = 0;
  st["click_rate"] = 0;
  st["last_sub_date"] = time_text(l.last_sub);
  st["last_unsub_date"] = time_text(l.last_unsub);
  j["stats"] = std::move(st);
  std::string self = c.base() + "/lists/" + l.id;
  std::string def = c.schema() + "/Definitions/Lists";
  ojson links = ojson::array();
  links.push_back(link("self", self, "GET", def + "/Response.json"));
  links.push_back(link("parent", c.base() + "/lists", "GET", def + "/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Collection.json"));
  links.push_back(link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"));
  links.push_back(link("batch-sub-unsub-members", self, "POST", def + "/BatchPOST-Response.json",
                       def + "/BatchPOST.json"));
  links.push_back(link("delete", self, "DELETE"));
  links.push_back(link("members", self + "/members", "GET",
                       def + "/Members/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Members/Collection.json"));
  links.push_back(link("merge-fields", self + "/merge-fields", "GET",
                       def + "/MergeFields/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/MergeFields/Collection.json"));
  links.push_back(link("webhooks", self + "/webhooks", "GET",
                       def + "/Webhooks/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Webhooks/Collection.json"));
  j["_links"] = std::move(links);
  return j;
}

std::int64_t count_param(const Ctx& c, std::int64_t def = 10) {
  auto v = parse_int64(c.q("count"));
  std::int64_t n = v ? *v : def;
  return std::clamp<std::int64_t>(n, 0, 1000);
}
std::int64_t offset_param(const Ctx& c) {
  auto v = parse_int64(c.q("offset"));
  return v ? std::max<std::int64_t>(*v, 0) : 0;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::get_lists(Ctx& c) {
  std::shared_lock<std::shared_mutex> lock(mu);
  std::int64_t count = count_param(c), offset = offset_param(c);
  std::vector<const List*> match;
  std::string email(c.q("email"));
  for (const auto& l : account->lists) {
    if (!email.empty()) {
      const Member* m = l->find(member_key(normalise_email(email)));
      if (m == nullptr) continue;
    }
    match.push_back(l.get());
  }
  if (c.q("sort_field") == "date_created") {
    bool desc = c.q("sort_dir") == "DESC";
    std::stable_sort(match.begin(), match.end(), [desc](const List* a, const List* b) {
      return desc ? a->date_created > b->date_created : a->date_created < b->date_created;
    });
  }
  bool totals = parse_bool_param(c.q("include_total_contacts"));
  ojson arr = ojson::array();
  for (std::int64_t i = offset; i < static_cast<std::int64_t>(match.size()) && i < offset + count;
       ++i) {
    arr.push_back(list_json(c, *match[static_cast<std::size_t>(i)], totals));
  }
  ojson j = ojson::object();
  j["lists"] = std::move(arr);
  j["total_items"] = match.size();
  j["constraints"] = {{"may_create", true},
                      {"max_instances", 100},
                      {"current_total_instances", account->lists.size()}};
  std::string def = c.schema() + "/Definitions/Lists";
  j["_links"] = ojson::array(
      {link("self", c.base() + "/lists", "GET", def + "/CollectionResponse.json",
            c.schema() + "/Paths/Lists/Collection.json"),
       link("create", c.base() + "/lists", "POST", def + "/Response.json", def + "/POST.json")});
  return ojson_reply(c, std::move(j), "Lists/CollectionResponse.json");
}

http::Reply MailchimpSandbox::Impl::get_list(Ctx& c, const List& l) {
  return ojson_reply(c, list_json(c, l, parse_bool_param(c.q("include_total_contacts"))),
                     "Lists/Response.json");
}

http::Reply MailchimpSandbox::Impl::tag_search(Ctx& c, const List& l) {
  std::string prefix = lower(c.q("name"));
  ojson arr = ojson::array();
  std::size_t total = 0;
  for (const TagDef& t : l.tags) {
    if (lower(t.name).rfind(prefix, 0) != 0) continue;
    ++total;
    ojson j = ojson::object();
    j["id"] = t.id;
    j["name"] = t.name;
    arr.push_back(std::move(j));
  }
  ojson j = ojson::object();
  j["tags"] = std::move(arr);
  j["total_items"] = total;
  return ojson_reply(c, std::move(j));
}

// ---- members: reading
// ----------------------------------------------------------------------------

http::Reply MailchimpSandbox::Impl::get_members(Ctx& c, const List& l) {
  MemberQuery q;
  ojson errors = ojson::array();
  if (c.has("status")) {
    auto st = parse_status(c.q("status"));
    if (!st) {
      errors.push_back(
          field_error("status",
                      "Data presented is not one of the accepted values: subscribed, unsubscribed, "
                      "cleaned, pending, transactional, archived."));
    }
    q.status = st;
  }
  if (c.has("sort_field")) {
    std::string_view f = c.q("sort_field");
    if (f == "timestamp_opt") {
      q.sort = SortField::kTimestampOpt;
    } else if (f == "timestamp_signup") {
      q.sort = SortField::kTimestampSignup;
    } else if (f == "last_changed") {
      q.sort = SortField::kLastChanged;
    } else {
      errors.push_back(field_error("sort_field",
                                   "Data presented is not one of the accepted values: "
                                   "timestamp_opt, timestamp_signup, last_changed."));
    }
  }
  if (c.has("sort_dir")) {
    std::string_view d = c.q("sort_dir");
    if (d == "DESC") {
      q.desc = true;
    } else if (d != "ASC") {
      errors.push_back(
          field_error("sort_dir", "Data presented is not one of the accepted values: ASC, DESC."));
    }
  }
  if (c.has("email_type")) {
    std::string_view t = c.q("email_type");
    if (t != "html" && t != "text") {
      errors.push_back(field_error(
          "email_type", "Data presented is not one of the accepted values: html, text."));
    }
    q.email_type = std::string(t);
  }
  if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
  if (c.has("since_last_campaign") && !q.status) {
    return problem_reply(
        c, invalid_resource("Status is required when using since_last_campaign filter.",
                            ojson::array()));
  }
  if (c.has("unsubscribed_since") && q.status != MemberStatus::kUnsubscribed) {
    return problem_reply(
        c, invalid_resource("The unsubscribed_since filter can only be used with status "
                            "unsubscribed.",
                            ojson::array()));
  }
  // Times that cannot be read are ignored, as the live API does.
  auto t = [&](const char* name, Micros* out) {
    if (!c.has(name)) return;
    auto v = parse_iso8601(c.q(name));
    if (v.is_ok()) *out = *v;
  };
  t("since_last_changed", &q.since_last_changed);
  t("before_last_changed", &q.before_last_changed);
  t("since_timestamp_opt", &q.since_opt);
  t("before_timestamp_opt", &q.before_opt);
  t("unsubscribed_since", &q.unsubscribed_since);
  q.vip_only = parse_bool_param(c.q("vip_only"));
  q.unique_email_id = lower(c.q("unique_email_id"));
  {
    std::lock_guard<std::mutex> lock(fmu);
    q.archived_in_listing = faults.archived_in_listing;
  }
  std::int64_t count = count_param(c), offset = offset_param(c);
  auto slots = run_query(l, q);

  FieldTree inc, exc;
  Sel root = root_sel(c, &inc, &exc);
  JsonOut o;
  o.buf.reserve(static_cast<std::size_t>(std::min<std::int64_t>(count, 1000)) * 600 + 512);
  o.begin_object();
  Sel ms;
  if (root.child("members", &ms)) {
    o.key("members");
    o.begin_array();
    MemberWriter mw(*account, l, c, ms, false);
    auto end = std::min<std::int64_t>(offset + count, static_cast<std::int64_t>(slots->size()));
    for (std::int64_t i = offset; i < end; ++i) {
      mw.write(o, l.members[(*slots)[static_cast<std::size_t>(i)]]);
    }
    o.end_array();
  }
  Sel x;
  if (root.child("list_id", &x)) {
    o.key("list_id");
    o.str(l.id);
  }
  if (root.child("total_items", &x)) {
    o.key("total_items");
    o.integer(static_cast<std::int64_t>(slots->size()));
  }
  if (root.child("_links", &x)) {
    std::string coll = c.base() + "/lists/" + l.id + "/members";
    std::string def = c.schema() + "/Definitions/Lists/Members";
    ojson links =
        ojson::array({link("self", coll, "GET", def + "/CollectionResponse.json",
                           c.schema() + "/Paths/Lists/Members/Collection.json"),
                      link("parent", c.base() + "/lists/" + l.id, "GET",
                           c.schema() + "/Definitions/Lists/Response.json"),
                      link("create", coll, "POST", def + "/Response.json", def + "/POST.json")});
    apply_sel(links, x);
    o.key("_links");
    o.value(links);
  }
  o.end_object();
  return ok_json(c, std::move(o.buf), "Lists/Members/CollectionResponse.json");
}

Member* MailchimpSandbox::Impl::resolve(List& l, const std::string& seg, MemberKey* key_out,
                                        bool* key_known) {
  *key_known = false;
  if (seg.find('@') != std::string::npos) {
    *key_out = member_key(normalise_email(seg));
    *key_known = true;
    return l.find(*key_out);
  }
  Key16 bytes;
  if (!parse_hex16(seg, &bytes)) return nullptr;
  key_out->bytes = bytes;
  *key_known = true;
  if (Member* m = l.find(*key_out)) return m;
  return l.find_contact(bytes);
}

http::Reply MailchimpSandbox::Impl::get_member(Ctx& c, const std::string& list_id,
                                               const std::string& seg) {
  std::shared_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  MemberKey key;
  bool known;
  // resolve() does not modify the list.
  Member* m = resolve(l, seg, &key, &known);
  if (m == nullptr) return problem_reply(c, not_found());
  return ok_json(c, member_json(c, l, *m, true), "Lists/Members/Response.json");
}

// ---- members: the state machine
// ---------------------------------------------------------------------

void MailchimpSandbox::Impl::set_status(List& l, Member& m, MemberStatus to, Source src,
                                        std::optional<Micros> timestamp_opt) {
  MemberStatus from = m.status;
  if (from == to) return;
  Micros t = now();
  if (to == MemberStatus::kArchived) m.status_before_archive = from;
  l.count_status(from, -1);
  l.count_status(to, 1);
  m.status = to;
  if (to == MemberStatus::kSubscribed) {
    m.timestamp_opt = timestamp_opt ? *timestamp_opt : t;
    l.last_sub = t;
  } else if (to == MemberStatus::kUnsubscribed) {
    m.unsubscribe_origin = src;
    if (m.extra) m.extra->unsubscribe_reason.clear();
    l.last_unsub = t;
  } else if (to == MemberStatus::kCleaned) {
    if (m.extra) m.extra->clean_reason.clear();
  } else if (to == MemberStatus::kPending) {
    if (m.timestamp_signup == kNoTime) m.timestamp_signup = t;
  }
  ++l.version;
}

std::optional<Problem> MailchimpSandbox::Impl::check_required(
    const List& l, const std::vector<std::string>& values, const std::vector<bool>* touched) {
  ojson errors = ojson::array();
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
    const MergeField& f = l.merge_fields[i];
    if (!f.required) continue;
    if (touched != nullptr && !(*touched)[i]) continue;
    if (values[i].empty()) {
      errors.push_back(field_error(f.tag, f.type == MergeType::kAddress
                                              ? "Please enter a complete address"
                                              : "Please enter a value"));
    }
  }
  if (errors.empty()) return std::nullopt;
  return invalid_resource("Your merge fields were invalid.", std::move(errors));
}

Member& MailchimpSandbox::Impl::create_member(List& l, const MemberWrite& w, MemberStatus status,
                                              Source src, std::string_view source_label) {
  Member m;
  Micros t = now();
  m.email = *w.email;
  m.key = member_key(normalise_email(m.email));
  do {
    m.contact_id = account->random16();
  } while (l.find_contact(m.contact_id) != nullptr);
  m.unique_email_id = account->random_unique_email_id();
  m.web_id = account->next_web_id++;
  m.status = status;
  m.text_email = w.text_email.value_or(false);
  m.vip = w.vip.value_or(false);
  m.source = account->intern_source(source_label);
  m.timestamp_signup = w.timestamp_signup.value_or(kNoTime);
  if (status == MemberStatus::kSubscribed) {
    m.timestamp_opt = w.timestamp_opt.value_or(t);
    l.last_sub = t;
  } else {
    m.timestamp_opt = w.timestamp_opt.value_or(kNoTime);
    if (status == MemberStatus::kPending && m.timestamp_signup == kNoTime) m.timestamp_signup = t;
    if (status == MemberStatus::kUnsubscribed) {
      m.unsubscribe_origin = src;
      l.last_unsub = t;
    }
  }
  std::vector<std::string> values(l.merge_fields.size());
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i)
    values[i] = l.merge_fields[i].default_value;
  for (const auto& [i, v] : w.merges)
    values[static_cast<std::size_t>(i)] = v;
  m.merges = pack_merges(values);
  if (w.language || w.ip_signup || w.ip_opt) {
    MemberExtra& x = m.ext();
    x.language = w.language.value_or("");
    x.ip_signup = w.ip_signup.value_or("");
    x.ip_opt = w.ip_opt.value_or("");
  }
  if (w.tags) {
    for (const std::string& name : *w.tags) {
      std::string n = trim(name);
      if (n.empty()) continue;
      std::uint32_t id = l.tag_id(n, true, &account->next_tag_id);
      bool dup = false;
      for (const MemberTag& mt : m.tags)
        dup = dup || mt.tag_id == id;
      if (!dup) m.tags.push_back(MemberTag{id, t});
    }
  }
  m.last_changed = t;
  return l.add(std::move(m));
}

std::optional<Problem> MailchimpSandbox::Impl::update_member(List& l, Member& m,
                                                             const MemberWrite& w,
                                                             std::optional<MemberStatus> to,
                                                             Source src, bool skip_merge_validation,
                                                             std::string_view email_for_errors) {
  // Email change.
  std::optional<MemberKey> new_key;
  if (w.email) {
    MemberKey k = member_key(normalise_email(*w.email));
    if (k != m.key) {
      if (m.status != MemberStatus::kSubscribed) {
        return schema_problem(ojson::array(
            {field_error("email address",
                         "This member's status is \"" + std::string(status_name(m.status)) +
                             ".\" You can only update email addresses for members with a status "
                             "of \"subscribed.\"")}));
      }
      if (const Member* other = l.find(k)) {
        return schema_problem(ojson::array({field_error(
            "email address", "\"" + *w.email + "\" is already in this list with a status of \"" +
                                 std::string(status_label(other->status)) + "\".")}));
      }
      if (l.forgotten.count(k.bytes) != 0) return forgotten_email(*w.email);
      new_key = k;
    }
  }
  if (to && *to == MemberStatus::kSubscribed && m.status != MemberStatus::kSubscribed &&
      m.in_compliance_state()) {
    return compliance_state(email_for_errors);
  }
  // Merge values.
  std::vector<std::string> values = unpack_merges(m.merges, l.merge_fields.size());
  std::vector<bool> touched(l.merge_fields.size(), false);
  for (const auto& [i, v] : w.merges) {
    values[static_cast<std::size_t>(i)] = v;
    touched[static_cast<std::size_t>(i)] = true;
  }
  if (!skip_merge_validation) {
    if (auto p =
            check_required(l, values, m.status == MemberStatus::kArchived ? nullptr : &touched)) {
      return p;
    }
  }
  // Apply.
  bool changed_any = false, profile = false;
  MemberStatus before = m.status;
  std::string old_email = m.email;
  if (new_key) {
    l.rekey(m, *new_key);
    m.email = *w.email;
    m.unique_email_id = account->random_unique_email_id();
    changed_any = true;
  } else if (w.email && *w.email != m.email) {
    m.email = *w.email;  // the same address in another case
    changed_any = profile = true;
  }
  std::string packed = pack_merges(values);
  if (packed != m.merges) {
    m.merges = std::move(packed);
    changed_any = profile = true;
  }
  if (w.text_email && *w.text_email != m.text_email) {
    m.text_email = *w.text_email;
    changed_any = profile = true;
  }
  if (w.vip && *w.vip != m.vip) {
    m.vip = *w.vip;
    changed_any = profile = true;
  }
  auto set_extra = [&](const std::optional<std::string>& v, std::string MemberExtra::*field) {
    if (!v) return;
    std::string_view cur = m.extra ? std::string_view(m.extra.get()->*field) : std::string_view();
    if (cur == *v) return;
    m.ext().*field = *v;
    changed_any = profile = true;
  };
  set_extra(w.language, &MemberExtra::language);
  set_extra(w.ip_signup, &MemberExtra::ip_signup);
  set_extra(w.ip_opt, &MemberExtra::ip_opt);
  if (w.timestamp_signup && *w.timestamp_signup != m.timestamp_signup) {
    m.timestamp_signup = *w.timestamp_signup;
    changed_any = true;
  }
  if (to && *to != m.status) {
    set_status(l, m, *to, src, w.timestamp_opt);
    changed_any = true;
  } else if (w.timestamp_opt && *w.timestamp_opt != m.timestamp_opt) {
    m.timestamp_opt = *w.timestamp_opt;
    changed_any = true;
  }
  if (!changed_any) return std::nullopt;
  m.last_changed = now();
  ++l.version;
  // Webhooks.
  if (new_key) {
    fire(l, kEvUpemail, src,
         {{"data[list_id]", l.id},
          {"data[new_id]", ueid_hex(m.unique_email_id)},
          {"data[new_email]", m.email},
          {"data[old_email]", old_email}});
  }
  if (m.status != before) {
    if (m.status == MemberStatus::kSubscribed) {
      fire_member(l, kEvSubscribe, src, m);
    } else if (m.status == MemberStatus::kUnsubscribed && before != MemberStatus::kArchived) {
      fire_member(l, kEvUnsubscribe, src, m,
                  {{"data[action]", "unsub"}, {"data[reason]", "manual"}});
    } else if (m.status == MemberStatus::kCleaned) {
      fire(l, kEvCleaned, src,
           {{"data[list_id]", l.id},
            {"data[campaign_id]", ""},
            {"data[reason]", "hard"},
            {"data[email]", m.email}});
    }
  } else if (profile && m.status != MemberStatus::kArchived) {
    fire_member(l, kEvProfile, src, m);
  }
  return std::nullopt;
}

void MailchimpSandbox::Impl::archive(List& l, Member& m, Source src) {
  MemberStatus before = m.status;
  set_status(l, m, MemberStatus::kArchived, src, std::nullopt);
  m.last_changed = now();
  if (before != MemberStatus::kArchived) {
    fire_member(l, kEvUnsubscribe, src, m,
                {{"data[action]", "delete"}, {"data[reason]", "manual"}});
  }
}

void MailchimpSandbox::Impl::forget(List& l, Member& m, Source src) {
  if (m.status != MemberStatus::kArchived) {
    fire_member(l, kEvUnsubscribe, src, m,
                {{"data[action]", "delete"}, {"data[reason]", "manual"}});
  }
  l.forget(m);
}

// ---- members: writing
// ------------------------------------------------------------------------------

http::Reply MailchimpSandbox::Impl::post_member(Ctx& c, const std::string& list_id) {
  json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  bool skip = parse_bool_param(c.q("skip_merge_validation"));
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  MemberWrite w;
  if (auto p = parse_member_body(body, l, BodyKind::kPost, &w)) return problem_reply(c, *p);
  MemberKey key = member_key(normalise_email(*w.email));
  Member* m = l.find(key);
  if (m != nullptr && m->status != MemberStatus::kArchived) {
    return problem_reply(c, member_exists(*w.email));
  }
  if (l.forgotten.count(key.bytes) != 0) return problem_reply(c, forgotten_email(*w.email));
  if (m != nullptr) {
    // An archived contact comes back with the status asked for.
    if (auto p = update_member(l, *m, w, w.status, Source::kApi, skip, *w.email)) {
      return problem_reply(c, *p);
    }
    if (w.tags) {
      for (const std::string& name : *w.tags) {
        std::string n = trim(name);
        if (n.empty()) continue;
        std::uint32_t id = l.tag_id(n, true, &account->next_tag_id);
        bool dup = false;
        for (const MemberTag& mt : m->tags)
          dup = dup || mt.tag_id == id;
        if (!dup) m->tags.push_back(MemberTag{id, now()});
      }
    }
    changed();
    return ok_json(c, member_json(c, l, *m, false), "Lists/Members/Response.json");
  }
  if (!skip) {
    std::vector<std::string> values(l.merge_fields.size());
    for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
      values[i] = l.merge_fields[i].default_value;
    }
    for (const auto& [i, v] : w.merges)
      values[static_cast<std::size_t>(i)] = v;
    if (auto p = check_required(l, values, nullptr)) return problem_reply(c, *p);
  }
  Member& created = create_member(l, w, *w.status, Source::kApi, "API - Generic");
  if (created.status == MemberStatus::kSubscribed)
    fire_member(l, kEvSubscribe, Source::kApi, created);
  changed();
  return ok_json(c, member_json(c, l, created, false), "Lists/Members/Response.json");
}

http::Reply MailchimpSandbox::Impl::put_or_patch_member(Ctx& c, const std::string& list_id,
                                                        const std::string& seg, bool put) {
  json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  bool skip = parse_bool_param(c.q("skip_merge_validation"));
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  MemberWrite w;
  if (auto p = parse_member_body(body, l, put ? BodyKind::kPut : BodyKind::kPatch, &w)) {
    return problem_reply(c, *p);
  }
  MemberKey path_key;
  bool known;
  Member* m = resolve(l, seg, &path_key, &known);
  if (m != nullptr) {
    std::string email_for_errors = w.email ? *w.email : m->email;
    if (auto p = update_member(l, *m, w, w.status, Source::kApi, skip, email_for_errors)) {
      return problem_reply(c, *p);
    }
    changed();
    return ok_json(c, member_json(c, l, *m, false), "Lists/Members/Response.json");
  }
  if (!put || !known) return problem_reply(c, not_found());
  // PUT on an absent member creates it.
  ojson missing = ojson::array();
  if (!w.email) {
    missing.push_back(field_error("", "Required fields were not provided: email_address"));
  }
  std::optional<MemberStatus> status = w.status_if_new ? w.status_if_new : w.status;
  if (!status) {
    missing.push_back(field_error("", "Required fields were not provided: status_if_new"));
  }
  if (!missing.empty()) return problem_reply(c, schema_problem(std::move(missing)));
  MemberKey key = member_key(normalise_email(*w.email));
  if (Member* other = l.find(key)) {
    if (other->status != MemberStatus::kArchived) return problem_reply(c, member_exists(*w.email));
    if (auto p = update_member(l, *other, w, status, Source::kApi, skip, *w.email)) {
      return problem_reply(c, *p);
    }
    changed();
    return ok_json(c, member_json(c, l, *other, false), "Lists/Members/Response.json");
  }
  if (l.forgotten.count(key.bytes) != 0) {
    return problem_reply(c, forgotten_email(*w.email));
  }
  if (!skip) {
    std::vector<std::string> values(l.merge_fields.size());
    for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
      values[i] = l.merge_fields[i].default_value;
    }
    for (const auto& [i, v] : w.merges)
      values[static_cast<std::size_t>(i)] = v;
    if (auto p = check_required(l, values, nullptr)) return problem_reply(c, *p);
  }
  w.tags.reset();  // tags in a PUT body are ignored
  Member& created = create_member(l, w, *status, Source::kApi, "API - Generic");
  if (created.status == MemberStatus::kSubscribed)
    fire_member(l, kEvSubscribe, Source::kApi, created);
  changed();
  return ok_json(c, member_json(c, l, created, false), "Lists/Members/Response.json");
}

http::Reply MailchimpSandbox::Impl::delete_member(Ctx& c, const std::string& list_id,
                                                  const std::string& seg) {
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  MemberKey key;
  bool known;
  Member* m = resolve(l, seg, &key, &known);
  if (m == nullptr) return problem_reply(c, not_found());
  if (m->status == MemberStatus::kArchived || m->status == MemberStatus::kPending ||
      m->status == MemberStatus::kCleaned) {
    Problem p{405,
              "Method Not Allowed",
              "This list member cannot be removed. Can not archive a contact that is bounced, "
              "pending or archived",
              true,
              nullptr,
              {{"Allow", "GET, PUT"}}};
    return problem_reply(c, p);
  }
  archive(l, *m, Source::kApi);
  changed();
  return no_content(c);
}

http::Reply MailchimpSandbox::Impl::delete_permanent(Ctx& c, const std::string& list_id,
                                                     const std::string& seg) {
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  MemberKey key;
  bool known;
  Member* m = resolve(l, seg, &key, &known);
  if (m == nullptr) return problem_reply(c, not_found());
  forget(l, *m, Source::kApi);
  changed();
  return no_content(c);
}

http::Reply MailchimpSandbox::Impl::member_tags(Ctx& c, const std::string& list_id,
                                                const std::string& seg) {
  if (c.method == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    MemberKey key;
    bool known;
    Member* m = resolve(l, seg, &key, &known);
    if (m == nullptr) return problem_reply(c, not_found());
    std::int64_t count = count_param(c), offset = offset_param(c);
    ojson arr = ojson::array();
    for (std::int64_t i = offset;
         i < static_cast<std::int64_t>(m->tags.size()) && i < offset + count; ++i) {
      const MemberTag& t = m->tags[static_cast<std::size_t>(i)];
      const TagDef* def = l.tag_by_id(t.tag_id);
      if (def == nullptr) continue;
      ojson j = ojson::object();
      j["id"] = def->id;
      j["name"] = def->name;
      j["date_added"] = time_text(t.date_added);
      arr.push_back(std::move(j));
    }
    std::string self = c.base() + "/lists/" + l.id + "/members/" + hash_hex(m->key) + "/tags";
    ojson j = ojson::object();
    j["tags"] = std::move(arr);
    j["total_items"] = m->tags.size();
    j["_links"] = ojson::array(
        {link("self", self, "GET",
              c.schema() + "/Definitions/Lists/Members/Tags/CollectionResponse.json")});
    return ojson_reply(c, std::move(j));
  }
  if (c.method != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
  json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  ojson errors = ojson::array();
  std::vector<std::pair<std::string, bool>> ops;
  if (!body.is_object()) {
    errors.push_back(
        field_error("", "Schema describes object, " + json_type_name(body) + " found instead"));
  } else if (!body.contains("tags")) {
    errors.push_back(field_error("", "Required fields were not provided: tags"));
  } else if (!body["tags"].is_array()) {
    errors.push_back(field_error(
        "tags", "Schema describes array, " + json_type_name(body["tags"]) + " found instead"));
  } else {
    for (const json& t : body["tags"]) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
        errors.push_back(field_error("tags", "Required fields were not provided: name"));
        continue;
      }
      std::string status =
          t.contains("status") && t["status"].is_string() ? t["status"].get<std::string>() : "";
      if (status != "active" && status != "inactive") {
        errors.push_back(field_error(
            "tags", "Data presented is not one of the accepted values: inactive, active."));
        continue;
      }
      ops.emplace_back(trim(t["name"].get<std::string>()), status == "active");
    }
  }
  if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  MemberKey key;
  bool known;
  Member* m = resolve(l, seg, &key, &known);
  if (m == nullptr) return problem_reply(c, not_found());
  bool changed_any = false;
  Micros t = now();
  for (const auto& [name, active] : ops) {
    if (name.empty()) continue;
    std::uint32_t id = l.tag_id(name, active, &account->next_tag_id);
    if (id == 0) continue;
    auto it = std::find_if(m->tags.begin(), m->tags.end(),
                           [id](const MemberTag& mt) { return mt.tag_id == id; });
    if (active && it == m->tags.end()) {
      m->tags.push_back(MemberTag{id, t});
      changed_any = true;
    } else if (!active && it != m->tags.end()) {
      m->tags.erase(it);
      changed_any = true;
    }
  }
  if (changed_any) {
    m->last_changed = t;
    ++l.version;
    changed();
  }
  return no_content(c);
}

// ---- batch subscribe
// ------------------------------------------------------------------------------

http::Reply MailchimpSandbox::Impl::batch_subscribe(Ctx& c, const std::string& list_id) {
  json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  ojson errors = ojson::array();
  if (!body.is_object()) {
    errors.push_back(
        field_error("", "Schema describes object, " + json_type_name(body) + " found instead"));
  } else if (!body.contains("members") || body["members"].is_null()) {
    errors.push_back(field_error("", "Required fields were not provided: members"));
  } else if (!body["members"].is_array()) {
    errors.push_back(field_error(
        "members",
        "Schema describes array, " + json_type_name(body["members"]) + " found instead"));
  } else if (body["members"].size() > 500) {
    errors.push_back(field_error("members",
                                 "Up to 500 members may be added or updated with each "
                                 "API call; this request has " +
                                     std::to_string(body["members"].size()) + "."));
  }
  for (const char* k : {"update_existing", "sync_tags"}) {
    if (body.is_object() && body.contains(k) && !body[k].is_boolean()) {
      errors.push_back(field_error(
          k, "Schema describes boolean, " + json_type_name(body[k]) + " found instead"));
    }
  }
  if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
  bool update_existing = body.value("update_existing", false);
  bool sync_tags = body.value("sync_tags", false);
  bool skip = parse_bool_param(c.q("skip_merge_validation"));
  bool skip_dup = parse_bool_param(c.q("skip_duplicate_check"));

  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  std::vector<std::uint32_t> created_slots, updated_slots;
  ojson errs = ojson::array();
  std::unordered_set<Key16, Key16Hash> seen;
  auto add_error = [&](std::string email, std::string error, std::string code,
                       const ojson* field_errors = nullptr) {
    ojson e = ojson::object();
    e["email_address"] = std::move(email);
    e["error"] = std::move(error);
    e["error_code"] = std::move(code);
    if (field_errors != nullptr && field_errors->is_array() && !field_errors->empty()) {
      e["field"] = (*field_errors)[0]["field"];
      e["field_message"] = (*field_errors)[0]["message"];
    }
    errs.push_back(std::move(e));
  };
  for (const json& item : body["members"]) {
    std::string raw =
        item.is_object() && item.contains("email_address") && item["email_address"].is_string()
            ? item["email_address"].get<std::string>()
            : "";
    MemberWrite w;
    if (auto p = parse_member_body(item, l, BodyKind::kBatch, &w)) {
      std::string text = p->detail;
      if (p->detail == kSchemaInvalidDetail && p->errors.is_array() && !p->errors.empty()) {
        std::string f = p->errors[0]["field"].get<std::string>();
        text = (f.empty() ? "" : f + " : ") + p->errors[0]["message"].get<std::string>();
      }
      add_error(raw, text, "ERROR_GENERIC", &p->errors);
      continue;
    }
    MemberKey key = member_key(normalise_email(*w.email));
    if (!seen.insert(key.bytes).second) {
      if (!skip_dup) {
        add_error(*w.email, *w.email + " was found more than once in this request.",
                  "ERROR_GENERIC");
      }
      continue;
    }
    Member* m = l.find(key);
    bool is_new = false;
    if (m != nullptr && m->status != MemberStatus::kArchived) {
      if (!update_existing) {
        add_error(*w.email,
                  *w.email +
                      " is already a list member, do you want to update? please provide "
                      "update_existing:true in the request body",
                  "ERROR_CONTACT_EXISTS");
        continue;
      }
      if (auto p = update_member(l, *m, w, w.status, Source::kApi, skip, *w.email)) {
        add_error(*w.email, p->detail, "ERROR_GENERIC", &p->errors);
        continue;
      }
    } else if (l.forgotten.count(key.bytes) != 0) {
      add_error(*w.email, forgotten_email(*w.email).detail, "ERROR_GENERIC");
      continue;
    } else if (!w.status) {
      add_error(*w.email, "Required fields were not provided: status", "ERROR_GENERIC");
      continue;
    } else if (m != nullptr) {
      // An archived contact comes back as a new member.
      if (auto p = update_member(l, *m, w, w.status, Source::kApi, skip, *w.email)) {
        add_error(*w.email, p->detail, "ERROR_GENERIC", &p->errors);
        continue;
      }
      is_new = true;
    } else {
      if (!skip) {
        std::vector<std::string> values(l.merge_fields.size());
        for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
          values[i] = l.merge_fields[i].default_value;
        }
        for (const auto& [i, v] : w.merges)
          values[static_cast<std::size_t>(i)] = v;
        if (auto p = check_required(l, values, nullptr)) {
          add_error(*w.email, p->detail, "ERROR_GENERIC", &p->errors);
          continue;
        }
      }
      MemberWrite cw = w;
      cw.tags.reset();
      m = &create_member(l, cw, *w.status, Source::kApi, "API - Generic");
      if (m->status == MemberStatus::kSubscribed) fire_member(l, kEvSubscribe, Source::kApi, *m);
      is_new = true;
    }
    if (w.tags) {
      Micros t = now();
      bool tag_changed = false;
      if (sync_tags && !is_new) {
        tag_changed = !m->tags.empty();
        m->tags.clear();
      }
      for (const std::string& name : *w.tags) {
        std::string nm = trim(name);
        if (nm.empty()) continue;
        std::uint32_t id = l.tag_id(nm, true, &account->next_tag_id);
        bool dup = false;
        for (const MemberTag& mt : m->tags)
          dup = dup || mt.tag_id == id;
        if (!dup) {
          m->tags.push_back(MemberTag{id, t});
          tag_changed = true;
        }
      }
      if (tag_changed) {
        m->last_changed = t;
        ++l.version;
      }
    }
    (is_new ? created_slots : updated_slots).push_back(l.slot_of(*m));
  }
  if (!created_slots.empty() || !updated_slots.empty()) changed();
  JsonOut o;
  Sel all;
  MemberWriter mw(*account, l, c, all, true);
  o.begin_object();
  o.key("new_members");
  o.begin_array();
  for (std::uint32_t s : created_slots)
    mw.write(o, l.members[s]);
  o.end_array();
  o.key("updated_members");
  o.begin_array();
  for (std::uint32_t s : updated_slots)
    mw.write(o, l.members[s]);
  o.end_array();
  o.key("errors");
  o.value(errs);
  o.key("total_created");
  o.integer(static_cast<std::int64_t>(created_slots.size()));
  o.key("total_updated");
  o.integer(static_cast<std::int64_t>(updated_slots.size()));
  o.key("error_count");
  o.integer(static_cast<std::int64_t>(errs.size()));
  o.key("_links");
  std::string self = c.base() + "/lists/" + l.id;
  o.value(
      ojson::array({link("parent", self, "GET", c.schema() + "/Definitions/Lists/Response.json")}));
  o.end_object();
  return ok_json(c, std::move(o.buf), "Lists/BatchPOST-Response.json");
}

// ---- merge fields
// ----------------------------------------------------------------------------------

namespace {

ojson merge_field_json(const Ctx& c, const List& l, const MergeField& f) {
  ojson j = merge_field_definition(f);
  j["list_id"] = l.id;
  std::string self = c.base() + "/lists/" + l.id + "/merge-fields/" + std::to_string(f.merge_id);
  std::string def = c.schema() + "/Definitions/Lists/MergeFields";
  j["_links"] =
      ojson::array({link("self", self, "GET", def + "/Response.json"),
                    link("parent", c.base() + "/lists/" + l.id + "/merge-fields", "GET",
                         def + "/CollectionResponse.json",
                         c.schema() + "/Paths/Lists/MergeFields/Collection.json"),
                    link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"),
                    link("delete", self, "DELETE")});
  return j;
}

// Reads the writable fields of a merge field body into f. Returns errors.
ojson read_merge_field(const json& b, MergeField* f, bool create) {
  ojson errors = ojson::array();
  auto str = [&](const char* k, std::string* out) {
    if (auto it = b.find(k); it != b.end()) {
      if (!it->is_string()) {
        errors.push_back(
            field_error(k, "Schema describes string, " + json_type_name(*it) + " found instead"));
      } else {
        *out = it->get<std::string>();
      }
    }
  };
  auto boolean = [&](const char* k, bool* out) {
    if (auto it = b.find(k); it != b.end()) {
      if (!it->is_boolean()) {
        errors.push_back(
            field_error(k, "Schema describes boolean, " + json_type_name(*it) + " found instead"));
      } else {
        *out = it->get<bool>();
      }
    }
  };
  std::string type;
  str("tag", &f->tag);
  str("name", &f->name);
  if (create) str("type", &type);
  str("default_value", &f->default_value);
  str("help_text", &f->help_text);
  boolean("required", &f->required);
  boolean("public", &f->is_public);
  if (auto it = b.find("display_order"); it != b.end() && it->is_number_integer()) {
    f->display_order = it->get<int>();
  }
  if (auto it = b.find("options"); it != b.end()) {
    if (!it->is_object()) {
      errors.push_back(field_error(
          "options", "Schema describes object, " + json_type_name(*it) + " found instead"));
    } else {
      for (auto kv = it->begin(); kv != it->end(); ++kv)
        f->options[kv.key()] = kv.value();
    }
  }
  if (create) {
    std::vector<std::string> missing;
    if (!b.contains("name")) missing.push_back("name");
    if (!b.contains("type")) missing.push_back("type");
    if (!missing.empty()) {
      std::string msg = "Required fields were not provided: ";
      for (std::size_t i = 0; i < missing.size(); ++i)
        msg += (i ? ", " : "") + missing[i];
      errors.insert(errors.begin(), field_error("", msg));
    } else if (!type.empty()) {
      auto t = parse_merge_type(type);
      if (!t) {
        errors.push_back(
            field_error("type",
                        "Data presented is not one of the accepted values: text, number, address, "
                        "phone, date, url, imageurl, radio, dropdown, birthday, zip."));
      } else {
        f->type = *t;
      }
    }
  }
  return errors;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::merge_fields(Ctx& c, const std::string& list_id,
                                                 const std::string* merge_id) {
  const std::string& m = c.method;
  if (merge_id == nullptr) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      const List& l = *account->find_list(list_id);
      std::vector<const MergeField*> match;
      for (const MergeField& f : l.merge_fields) {
        if (c.has("type") && merge_type_name(f.type) != c.q("type")) continue;
        if (c.has("required") && f.required != parse_bool_param(c.q("required"))) continue;
        match.push_back(&f);
      }
      std::int64_t count = count_param(c), offset = offset_param(c);
      ojson arr = ojson::array();
      for (std::int64_t i = offset;
           i < static_cast<std::int64_t>(match.size()) && i < offset + count; ++i) {
        arr.push_back(merge_field_json(c, l, *match[static_cast<std::size_t>(i)]));
      }
      ojson j = ojson::object();
      j["merge_fields"] = std::move(arr);
      j["list_id"] = l.id;
      j["total_items"] = match.size();
      std::string coll = c.base() + "/lists/" + l.id + "/merge-fields";
      std::string def = c.schema() + "/Definitions/Lists/MergeFields";
      j["_links"] =
          ojson::array({link("self", coll, "GET", def + "/CollectionResponse.json",
                             c.schema() + "/Paths/Lists/MergeFields/Collection.json"),
                        link("parent", c.base() + "/lists/" + l.id, "GET",
                             c.schema() + "/Definitions/Lists/Response.json"),
                        link("create", coll, "POST", def + "/Response.json", def + "/POST.json")});
      return ojson_reply(c, std::move(j), "Lists/MergeFields/CollectionResponse.json");
    }
    if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
    json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    if (!body.is_object()) {
      return problem_reply(
          c, schema_problem(ojson::array({field_error(
                 "", "Schema describes object, " + json_type_name(body) + " found instead")})));
    }
    MergeField f;
    f.options = json::object();
    ojson errors = read_merge_field(body, &f, true);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    f.merge_id = l.next_merge_id++;
    for (char& ch : f.tag)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (f.tag.empty()) f.tag = "MMERGE" + std::to_string(f.merge_id);
    bool tag_ok = f.tag.size() <= 10 && std::all_of(f.tag.begin(), f.tag.end(), [](char ch) {
                    return std::isupper(static_cast<unsigned char>(ch)) ||
                           std::isdigit(static_cast<unsigned char>(ch)) || ch == '_';
                  });
    if (!tag_ok) {
      --l.next_merge_id;
      return problem_reply(
          c,
          schema_problem(ojson::array({field_error("tag",
                                                   "The tag must be at most 10 letters, digits or "
                                                   "underscores.")})));
    }
    if (l.merge_index(f.tag) >= 0 || f.tag == "EMAIL") {
      --l.next_merge_id;
      return problem_reply(c, invalid_resource("A Merge Field with the tag \"" + f.tag +
                                               "\" already exists for this list."));
    }
    if (f.display_order == 0) f.display_order = static_cast<int>(l.merge_fields.size()) + 2;
    l.merge_fields.push_back(f);
    ++l.version;
    changed();
    return ojson_reply(c, merge_field_json(c, l, l.merge_fields.back()),
                       "Lists/MergeFields/Response.json");
  }
  auto id = parse_int64(*merge_id);
  auto find = [&](const List& l) -> int {
    for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
      if (id && l.merge_fields[i].merge_id == *id) return static_cast<int>(i);
    }
    return -1;
  };
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    const List& l = *account->find_list(list_id);
    int i = find(l);
    if (i < 0) return problem_reply(c, not_found());
    return ojson_reply(c, merge_field_json(c, l, l.merge_fields[static_cast<std::size_t>(i)]),
                       "Lists/MergeFields/Response.json");
  }
  if (m == "PATCH") {
    json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    int i = find(l);
    if (i < 0) return problem_reply(c, not_found());
    MergeField f = l.merge_fields[static_cast<std::size_t>(i)];
    ojson errors = read_merge_field(body, &f, false);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    for (char& ch : f.tag)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    int other = l.merge_index(f.tag);
    if (other >= 0 && other != i) {
      return problem_reply(c, invalid_resource("A Merge Field with the tag \"" + f.tag +
                                               "\" already exists for this list."));
    }
    l.merge_fields[static_cast<std::size_t>(i)] = std::move(f);
    ++l.version;
    changed();
    return ojson_reply(c, merge_field_json(c, l, l.merge_fields[static_cast<std::size_t>(i)]),
                       "Lists/MergeFields/Response.json");
  }
  if (m == "DELETE") {
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    int i = find(l);
    if (i < 0) return problem_reply(c, not_found());
    std::size_t n = l.merge_fields.size();
    for (Member& mem : l.members) {
      if (mem.dead || mem.merges.empty()) continue;
      std::vector<std::string> values = unpack_merges(mem.merges, n);
      values.erase(values.begin() + i);
      mem.merges = pack_merges(values);
    }
    l.merge_fields.erase(l.merge_fields.begin() + i);
    ++l.version;
    changed();
    return no_content(c);
  }
  return problem_reply(c, method_not_allowed("GET, PATCH, DELETE"));
}

// ---- list webhooks
// ---------------------------------------------------------------------------------

namespace {

ojson webhook_json(const Ctx& c, const List& l, const Webhook& w) {
  ojson j = ojson::object();
  j["id"] = w.id;
  j["url"] = w.url;
  ojson ev = ojson::object();
  for (std::size_t e = 0; e < kWebhookEventNames.size(); ++e)
    ev[std::string(kWebhookEventNames[e])] = w.events[e];
  ojson src = ojson::object();
  for (std::size_t s = 0; s < 3; ++s) {
    // The spec's order: user, admin, api.
    static constexpr int kOrder[] = {2, 1, 0};
    src[std::string(kWebhookSourceNames[kOrder[s]])] = w.sources[kOrder[s]];
  }
  j["events"] = std::move(ev);
  j["sources"] = std::move(src);
  j["list_id"] = l.id;
  std::string self = c.base() + "/lists/" + l.id + "/webhooks/" + w.id;
  std::string def = c.schema() + "/Definitions/Lists/Webhooks";
  j["_links"] = ojson::array(
      {link("self", self, "GET", def + "/Response.json"),
       link("parent", c.base() + "/lists/" + l.id + "/webhooks", "GET",
            def + "/CollectionResponse.json", c.schema() + "/Paths/Lists/Webhooks/Collection.json"),
       link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"),
       link("delete", self, "DELETE")});
  return j;
}

bool plausible_url(const std::string& url) {
  std::string base = url.substr(0, url.find_first_of("?#"));
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) return false;
  return http::Url::parse(base).is_ok();
}

// Reads url/events/sources into w. Events and sources absent from the body keep w's values.
ojson read_webhook(const json& b, Webhook* w, bool create) {
  ojson errors = ojson::array();
  if (auto it = b.find("url"); it != b.end()) {
    if (!it->is_string() || !plausible_url(it->get<std::string>())) {
      errors.push_back(field_error("url", "Invalid URL"));
    } else {
      w->url = it->get<std::string>();
    }
  } else if (create) {
    errors.push_back(field_error("", "Required fields were not provided: url"));
  }
  auto flags = [&](const char* k, auto names, bool* out, std::size_t n) {
    auto it = b.find(k);
    if (it == b.end()) return;
    if (!it->is_object()) {
      errors.push_back(
          field_error(k, "Schema describes object, " + json_type_name(*it) + " found instead"));
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto f = it->find(std::string(names[i]));
      if (f == it->end()) continue;
      if (!f->is_boolean()) {
        errors.push_back(
            field_error(std::string(k) + "." + std::string(names[i]),
                        "Schema describes boolean, " + json_type_name(*f) + " found instead"));
        continue;
      }
      out[i] = f->template get<bool>();
    }
  };
  flags("events", kWebhookEventNames, w->events.data(), kWebhookEventNames.size());
  flags("sources", kWebhookSourceNames, w->sources.data(), kWebhookSourceNames.size());
  return errors;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::webhooks(Ctx& c, const std::string& list_id,
                                             const std::string* webhook_id) {
  const std::string& m = c.method;
  auto validate = [&](const std::string& url) -> std::optional<Problem> {
    http::Request get;
    get.method = "GET";
    get.headers.push_back({"User-Agent", "MailChimp.com WebHook Validator"});
    auto r = options.transport(url, get);
    int code = r.is_ok() ? r->status : 0;
    if (code >= 200 && code < 300) return std::nullopt;
    return invalid_resource(
        "We couldn't verify the URL is working. Please double check and try again. HTTP Code: " +
        std::to_string(code));
  };
  if (webhook_id == nullptr) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      const List& l = *account->find_list(list_id);
      ojson arr = ojson::array();
      for (const Webhook& w : l.webhooks)
        arr.push_back(webhook_json(c, l, w));
      ojson j = ojson::object();
      j["webhooks"] = std::move(arr);
      j["list_id"] = l.id;
      j["total_items"] = l.webhooks.size();
      std::string coll = c.base() + "/lists/" + l.id + "/webhooks";
      std::string def = c.schema() + "/Definitions/Lists/Webhooks";
      j["_links"] =
          ojson::array({link("self", coll, "GET", def + "/CollectionResponse.json",
                             c.schema() + "/Paths/Lists/Webhooks/Collection.json"),
                        link("parent", c.base() + "/lists/" + l.id, "GET",
                             c.schema() + "/Definitions/Lists/Response.json"),
                        link("create", coll, "POST", def + "/Response.json", def + "/POST.json")});
      return ojson_reply(c, std::move(j), "Lists/Webhooks/CollectionResponse.json");
    }
    if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
    json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    if (!body.is_object()) {
      return problem_reply(
          c, schema_problem(ojson::array({field_error(
                 "", "Schema describes object, " + json_type_name(body) + " found instead")})));
    }
    Webhook w;
    // The web app's defaults for a new webhook: every event but campaign, every source.
    w.events = {true, true, true, true, true, false};
    w.sources = {true, true, true};
    if (body.contains("events")) w.events.fill(false);
    if (body.contains("sources")) w.sources.fill(false);
    ojson errors = read_webhook(body, &w, true);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    {
      std::shared_lock<std::shared_mutex> lock(mu);
      for (const Webhook& other : account->find_list(list_id)->webhooks) {
        if (other.url == w.url) {
          return problem_reply(c, schema_problem(ojson::array({field_error(
                                      "url",
                                      "A webhook using this URL already exists for this "
                                      "list.")})));
        }
      }
    }
    if (auto p = validate(w.url)) return problem_reply(c, *p);  // outside the lock
    std::unique_lock<std::shared_mutex> lock(mu);
    List* l = account->find_list(list_id);
    if (l == nullptr) return problem_reply(c, not_found());
    w.id = account->random_hex(10);
    l->webhooks.push_back(w);
    changed();
    return ojson_reply(c, webhook_json(c, *l, l->webhooks.back()), "Lists/Webhooks/Response.json");
  }
  auto find = [&](List& l) -> Webhook* {
    for (Webhook& w : l.webhooks) {
      if (w.id == *webhook_id) return &w;
    }
    return nullptr;
  };
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Webhook* w = find(l);
    if (w == nullptr) return problem_reply(c, not_found());
    return ojson_reply(c, webhook_json(c, l, *w), "Lists/Webhooks/Response.json");
  }
  if (m == "DELETE") {
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Webhook* w = find(l);
    if (w == nullptr) return problem_reply(c, not_found());
    l.webhooks.erase(l.webhooks.begin() + (w - l.webhooks.data()));
    changed();
    return no_content(c);
  }
  if (m == "PATCH") {
    json body = c.req->body.empty() ? json::object() : json::parse(c.req->body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
    Webhook updated;
    {
      std::shared_lock<std::shared_mutex> lock(mu);
      Webhook* w = find(*account->find_list(list_id));
      if (w == nullptr) return problem_reply(c, not_found());
      updated = *w;
    }
    std::string old_url = updated.url;
    ojson errors = read_webhook(body, &updated, false);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    if (updated.url != old_url) {
      if (auto p = validate(updated.url)) return problem_reply(c, *p);
    }
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Webhook* w = find(l);
    if (w == nullptr) return problem_reply(c, not_found());
    *w = updated;
    changed();
    return ojson_reply(c, webhook_json(c, l, *w), "Lists/Webhooks/Response.json");
  }
  return problem_reply(c, method_not_allowed("GET, PATCH, DELETE"));
}

// ---- webhook deliveries
// ----------------------------------------------------------------------------

void MailchimpSandbox::Impl::fire_member(const List& l, WebhookEvent ev, Source src,
                                         const Member& m, const Pairs& extra) {
  bool any = false;
  for (const Webhook& w : l.webhooks)
    any = any || w.events[ev];
  if (!any) return;
  Pairs data;
  if (ev == kEvUnsubscribe) data = extra;
  member_form(l, m, &data);
  if (ev != kEvUnsubscribe) data.insert(data.end(), extra.begin(), extra.end());
  fire(l, ev, src, data);
}

void MailchimpSandbox::Impl::fire(const List& l, WebhookEvent ev, Source src, const Pairs& data) {
  std::string fired_at = civil_text(now());
  for (const Webhook& w : l.webhooks) {
    if (!w.events[ev]) continue;
    // A bounce comes from Mailchimp itself, not from a user, an admin or the API: it is delivered
    // whatever the webhook's sources say.
    if (ev != kEvCleaned && !w.sources[static_cast<int>(src)]) continue;
    Pairs kv;
    kv.emplace_back("type", std::string(kWebhookEventNames[ev]));
    kv.emplace_back("fired_at", fired_at);
    kv.insert(kv.end(), data.begin(), data.end());
    Delivery d;
    d.webhook_id = w.id;
    d.list_id = l.id;
    d.url = w.url;
    d.type = std::string(kWebhookEventNames[ev]);
    d.source = std::string(source_name(src));
    d.body = form_encode(kv);
    d.fired_at = fired_at;
    enqueue(std::move(d));
  }
}

void MailchimpSandbox::Impl::enqueue(Delivery d) {
  {
    std::lock_guard<std::mutex> lock(dmu);
    d.seq = ++dseq;
    dqueue.push_back(std::move(d));
  }
  dcv.notify_all();
}

void MailchimpSandbox::Impl::delivery_loop() {
  std::unique_lock<std::mutex> lock(dmu);
  while (true) {
    dcv.wait(lock, [this] { return dstop || !dqueue.empty(); });
    if (dstop) return;
    Delivery d = std::move(dqueue.front());
    dqueue.pop_front();
    dbusy = true;
    dcurrent = d;
    lock.unlock();
    http::Request req;
    req.method = "POST";
    req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    req.headers.push_back({"User-Agent", "MailChimp.com"});
    req.body = d.body;
    for (int attempt = 1; attempt <= std::max(1, options.delivery_attempts); ++attempt) {
      d.attempts = attempt;
      auto r = options.transport(d.url, req);
      if (r.is_ok()) {
        d.status = r->status;
        d.error.clear();
      } else {
        d.status = 0;
        d.error = r.status().message();
      }
      {
        std::lock_guard<std::mutex> current_lock(dmu);
        dcurrent = d;
      }
      if (d.status >= 200 && d.status < 300) break;
      if (attempt < options.delivery_attempts) {
        std::unique_lock<std::mutex> wait_lock(dmu);
        if (dcv.wait_for(wait_lock, options.delivery_retry_delay * attempt,
                         [this] { return dstop; })) {
          return;
        }
      }
    }
    d.done = true;
    lock.lock();
    dcurrent.reset();
    dlog.push_back(std::move(d));
    while (dlog.size() > kLogSize)
      dlog.pop_front();
    dbusy = false;
    dcv.notify_all();
  }
}

void MailchimpSandbox::Impl::drain() {
  std::unique_lock<std::mutex> lock(dmu);
  dcv.wait(lock, [this] { return dstop || (dqueue.empty() && !dbusy); });
}

// ---- public
// ----------------------------------------------------------------------------------------

MailchimpSandbox::MailchimpSandbox(std::unique_ptr<Account> account, SandboxClock* clock,
                                   MailchimpOptions options)
    : impl_(std::make_unique<Impl>(std::move(account), clock, std::move(options))) {}

MailchimpSandbox::~MailchimpSandbox() = default;

http::Reply MailchimpSandbox::handle(const http::Request& request, const http::Peer& peer,
                                     std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  try {
    return impl_->handle(request, peer, injected_fault);
  } catch (const std::exception& e) {
    // A bug: answer like the live API's 500 rather than dropping the connection.
    Ctx c;
    c.request_id = new_request_id();
    return problem_reply(c, Problem{500,
                                    "Internal Server Error",
                                    std::string("The sandbox failed: ") + e.what(),
                                    true,
                                    nullptr,
                                    {}});
  }
}

std::uint64_t MailchimpSandbox::generation() const {
  return impl_->generation.load();
}

std::string MailchimpSandbox::state_document() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return sandbox::state_document(*impl_->account, impl_->clock->fixed());
}

Status MailchimpSandbox::reset(std::string_view seed) {
  auto r = parse_seed(seed, impl_->clock->now());
  if (!r.is_ok()) return r.status();
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  impl_->account = std::move(r->account);
  if (r->clock != kNoTime) {
    impl_->clock->fix(r->clock);
  } else {
    impl_->clock->unfix();
  }
  impl_->changed();
  return Status::ok();
}

void MailchimpSandbox::drain_webhooks() {
  impl_->drain();
}

}  // namespace concord::sandbox
