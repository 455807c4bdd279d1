#include "concord/mailchimp_client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <thread>

#include "concord/email.h"
#include "concord/field_value.h"
#include "sides/mailchimp/members_page.h"

namespace concord {
namespace {

using nlohmann::json;

constexpr std::size_t kPageSize = 1000;
// A full fetch steps its offsets by less than a page: consecutive pages overlap by 10 members,
// so up to 10 members leaving the audience while we page cannot push a member into a page we
// have already read (offset paging's blind spot). Members read twice are written twice.
constexpr std::size_t kFullStride = kPageSize - 10;
constexpr std::size_t kBatchSize = 500;  // batch-subscribe's limit
// A static segment's batch call takes at most this many addresses in each of members_to_add and
// members_to_remove.
constexpr std::size_t kSegmentBatchSize = 500;
// kMemberFields for GET of one member (no "members." prefix).
constexpr std::string_view kSingleMemberFields =
    "email_address,status,unsubscribe_reason,timestamp_opt,last_changed,merge_fields,contact_id,"
    "tags,interests";
// Tags and interests named in a "not found" error: enough to spot a typo, not a whole audience's.
constexpr std::size_t kNamesShown = 10;
// Members asked for by themselves are read this many at a time before their answers are written
// (one snapshot batch per group; bounds the bodies held).
constexpr std::size_t kSingleMemberGroup = 64;
// A webhook's events, in the API's order.
constexpr std::array<std::string_view, 6> kWebhookEvents = {"subscribe", "unsubscribe", "profile",
                                                            "cleaned",   "upemail",     "campaign"};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A status for an API answer that is not a success.
Status api_status(const http::Response& r, std::string_view what) {
  ApiError e = parse_api_error(r);
  std::string msg = std::string(what) + ": " + e.describe();
  if (r.status == 404) return Status::not_found(std::move(msg));
  if (r.status == 429 || r.status >= 500 || r.status == 403) {
    return Status::unavailable(std::move(msg));
  }
  return Status::invalid(std::move(msg));
}

Result<json> parse_json(const http::Response& r, std::string_view what) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::unavailable(std::string(what) + ": Mailchimp's answer is not valid JSON (" +
                               std::to_string(r.body.size()) + " bytes)");
  }
  // Every answer concord reads is an object; anything else is malformed, never indexed into.
  if (!j.is_object()) {
    return Status::unavailable(std::string(what) + ": Mailchimp's answer is not a JSON object");
  }
  return j;
}

// "Member In Compliance State", "Forgotten Email Not Subscribed", … in an error text.
WriteOutcome::Code classify_error(std::string_view text) {
  std::string t = lower(std::string(text));
  if (t.find("compliance state") != std::string::npos) return WriteOutcome::Code::kCompliance;
  if (t.find("permanently deleted") != std::string::npos ||
      t.find("forgotten") != std::string::npos) {
    return WriteOutcome::Code::kForgotten;
  }
  if (t.find("cleaned") != std::string::npos || t.find("bounced") != std::string::npos) {
    return WriteOutcome::Code::kCleaned;
  }
  if (t.find("valid email") != std::string::npos ||
      t.find("fake or invalid") != std::string::npos ||
      t.find("merge fields") != std::string::npos ||
      t.find("invalid resource") != std::string::npos) {
    return WriteOutcome::Code::kInvalid;
  }
  return WriteOutcome::Code::kFailed;
}

// A boolean member of an object; anything else (absent, another type) is false.
bool flag(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::string text(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An integer member of an object; anything else (absent, another type, out of range) is `or_else`.
std::int64_t integer(const json& object, const char* key, std::int64_t or_else = 0) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : or_else;
}

Webhook parse_webhook(const json& j) {
  Webhook w;
  w.id = text(j, "id");
  w.url = text(j, "url");
  if (auto ev = j.find("events"); ev != j.end() && ev->is_object()) {
    for (std::string_view name : kWebhookEvents) {
      if (flag(*ev, std::string(name).c_str())) w.events.emplace_back(name);
    }
  }
  if (auto src = j.find("sources"); src != j.end() && src->is_object()) {
    w.source_user = flag(*src, "user");
    w.source_admin = flag(*src, "admin");
    w.source_api = flag(*src, "api");
  }
  return w;
}

const char* status_word(MailchimpWrite::Kind k) {
  switch (k) {
    case MailchimpWrite::Kind::kSubscribe:
      return "subscribed";
    case MailchimpWrite::Kind::kPending:
      return "pending";
    case MailchimpWrite::Kind::kUnsubscribe:
      return "unsubscribed";
    case MailchimpWrite::Kind::kArchive:
      return "archived";
    case MailchimpWrite::Kind::kUpdateFields:
    case MailchimpWrite::Kind::kChangeEmail:
    case MailchimpWrite::Kind::kAddTag:
    case MailchimpWrite::Kind::kRemoveTag:
      break;
  }
  return "subscribed";
}

// "\"a\", \"b\" and 3 more" (at most kNamesShown names), or "none".
std::string some_names(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kNamesShown; ++i)
    out += (i ? ", \"" : "\"") + names[i] + "\"";
  if (names.size() > kNamesShown)
    out += " and " + std::to_string(names.size() - kNamesShown) + " more";
  return out;
}

// A static segment as the API answers it: static segments are what Mailchimp calls tags.
Tag parse_tag(const json& j) {
  return {integer(j, "id"), text(j, "name"), integer(j, "member_count")};
}

// A batch call's answer (batch subscribe, a segment's batch): always 200 with a result per
// member. Returns what failed the whole call (then every member of it failed), or "" with the
// answer in *j.
std::string batch_failure(Result<http::Response>& r, json* j) {
  if (!r) return r.status().message();
  if (r->status != 200) return parse_api_error(*r).describe();
  *j = json::parse(r->body, nullptr, false);
  if (!j->is_object()) return "Mailchimp's batch answer is not JSON";
  return "";
}

// A merge field's value as batch-subscribe takes it: an address as its object, else the text.
json merge_value(const MailchimpWrite& w, const std::string& tag, const std::string& value) {
  if (std::find(w.address_tags.begin(), w.address_tags.end(), tag) != w.address_tags.end()) {
    if (std::optional<AddressParts> a = parse_address(value)) {
      json o = {{"addr1", a->addr1}, {"city", a->city}, {"state", a->state}, {"zip", a->zip}};
      if (!a->addr2.empty()) o["addr2"] = a->addr2;
      if (!a->country.empty()) o["country"] = a->country;
      return o;
    }
  }
  return value;
}

}  // namespace

Result<std::string> mailchimp_datacenter(std::string_view key) {
  auto dash = key.rfind('-');
  bool ok = dash != std::string_view::npos && dash >= 16 && key.size() - dash - 1 >= 2 &&
            key.size() - dash - 1 <= 6;
  if (ok) {
    for (std::size_t i = 0; i < key.size(); ++i) {
      if (i != dash && !is_alnum(key[i])) ok = false;
    }
  }
  if (!ok) {
    return Status::invalid(
        "the Mailchimp API key does not look like one (expected 32 characters, '-', and a "
        "datacenter such as us6)");
  }
  return std::string(key.substr(dash + 1));
}

std::string ApiError::describe() const {
  std::string s = "Mailchimp answered " + std::to_string(status);
  if (!title.empty()) s += " " + title;
  if (!detail.empty()) s += ": " + detail;
  if (!field_errors.empty()) {
    s += " (";
    for (std::size_t i = 0; i < field_errors.size(); ++i) {
      if (i) s += "; ";
      s += field_errors[i].first + ": " + field_errors[i].second;
    }
    s += ")";
  }
  if (!instance.empty()) s += " [request " + instance + "]";
  return s;
}

ApiError parse_api_error(const http::Response& r) {
  ApiError e;
  e.status = r.status;
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (auto t = j.find("title"); t != j.end() && t->is_string()) e.title = *t;
    if (auto d = j.find("detail"); d != j.end() && d->is_string()) e.detail = *d;
    if (auto i = j.find("instance"); i != j.end() && i->is_string()) e.instance = *i;
    if (auto s = j.find("status"); s != j.end() && s->is_number_integer()) e.status = *s;
    if (auto errs = j.find("errors"); errs != j.end() && errs->is_array()) {
      for (const json& fe : *errs) {
        if (!fe.is_object()) continue;
        e.field_errors.emplace_back(text(fe, "field"), text(fe, "message"));
      }
    }
  }
  if (e.title.empty() && e.detail.empty()) {
    e.detail = r.body.substr(0, 200);
    if (e.detail.empty()) e.detail = "(empty body)";
  }
  if (e.instance.empty()) e.instance = std::string(r.header("X-Request-Id"));
  return e;
}

// ---- the client ---------------------------------------------------------------------------------

struct MailchimpClient::Impl {
  MailchimpOptions options;
  std::unique_ptr<http::Client> http;
  std::string base_path;  // e.g. "/3.0"
  std::string auth;       // "Basic …"; never logged

  // `idempotent` false: a request that creates something, which the transport must not resend
  // once it may have arrived.
  Result<http::Response> call(std::string method, const std::string& target, std::string body = {},
                              bool idempotent = true) {
    http::Request req;
    req.method = std::move(method);
    req.idempotent = idempotent;
    req.target = base_path + target;
    req.headers.push_back({"Authorization", auth});
    req.headers.push_back({"Accept", "application/json"});
    if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
    req.body = std::move(body);
    return http->send(req);
  }

  Result<json> get_json(const std::string& target, std::string_view what) {
    Result<http::Response> r = call("GET", target);
    if (!r) return r.status().with_context(what);
    if (r->status != 200) return api_status(*r, what);
    return parse_json(*r, what);
  }

  std::string members_target(std::string_view list_id, std::size_t offset,
                             const std::string& extra) const {
    return "/lists/" + http::url_encode(list_id) + "/members?count=" + std::to_string(kPageSize) +
           "&offset=" + std::to_string(offset) + "&fields=" + http::url_encode(kMemberFields) +
           extra;
  }

  // A page's body. `server_time`, when given, receives the answer's Date header (the server's
  // "now"), or kNoTime when it has none.
  Result<std::string> get_page(const std::string& target, Micros* server_time = nullptr) {
    Result<http::Response> r = call("GET", target);
    if (!r) return r.status().with_context("fetching a page of members");
    if (r->status != 200) return api_status(*r, "fetching a page of members");
    if (server_time != nullptr) {
      Result<Micros> t = parse_http_date(r->header("Date"));
      *server_time = t ? *t : kNoTime;
    }
    return std::move(r->body);
  }

  // Asks for each of these members by itself (GET …/members/{hash}, a few at once) and hands the
  // answers to `sink` a group at a time, as a page. A 404 is sink.gone(); any other failure stops
  // the read (groups already handed over stay so).
  Result<SideRead> read_members(std::string_view list_id, const std::vector<std::string>& emails,
                                MailchimpSink& sink, std::string_view what) {
    // Each address once, in the order given.
    std::vector<std::string> asked;
    std::set<std::string> seen;
    for (const std::string& e : emails) {
      std::string n = normalise_email(e);
      if (!n.empty() && seen.insert(n).second) asked.push_back(std::move(n));
    }
    SideRead out;
    out.pages = asked.size();
    const std::size_t parallel = static_cast<std::size_t>(
        std::max(1, std::min(options.parallel_pages, options.http.max_connections)));
    for (std::size_t start = 0; start < asked.size(); start += kSingleMemberGroup) {
      const std::size_t n = std::min(kSingleMemberGroup, asked.size() - start);
      std::vector<Result<http::Response>> answers(n, Status::internal("not asked"));
      std::atomic<std::size_t> next{0};
      auto work = [&] {
        for (std::size_t i; (i = next++) < n;) {
          answers[i] = call("GET", "/lists/" + http::url_encode(list_id) + "/members/" +
                                       subscriber_hash(asked[start + i]) +
                                       "?fields=" + http::url_encode(kSingleMemberFields));
        }
      };
      std::vector<std::thread> threads;
      for (std::size_t t = 1; t < std::min(parallel, n); ++t)
        threads.emplace_back(work);
      work();
      for (std::thread& t : threads)
        t.join();
      // The group's members as one page, handed over in one call.
      std::string page = "{\"members\":[";
      std::uint64_t in_page = 0;
      std::vector<std::string> gone;
      for (std::size_t i = 0; i < n; ++i) {
        Result<http::Response>& r = answers[i];
        if (!r) return r.status().with_context(what);
        if (r->status == 404) {
          gone.push_back(asked[start + i]);
          continue;
        }
        if (r->status != 200) return api_status(*r, what);
        if (in_page++ > 0) page += ',';
        page += r->body;
      }
      for (const std::string& g : gone)
        sink.gone(g);
      if (in_page == 0) continue;
      page += "],\"total_items\":" + std::to_string(in_page) + "}";
      Result<MembersPageResult> one = parse_members_page(page, sink);
      if (!one) return one.status().with_context(what);
    }
    return out;
  }

  // Incremental paging from `since` into `sink`: keyset paging on last_changed (a member that
  // changes while we page moves past the cursor, where we meet it again), re-reading one second at
  // each step so that the API's inclusive-or-exclusive `since` does not matter. Pages where every
  // member has the same second fall back to offset paging. *max_seen grows to the latest
  // last_changed read.
  Status page_since(std::string_view list_id, Micros since, MailchimpSink& sink, SideRead& read,
                    Micros* max_seen, Micros* server_start = nullptr) {
    std::size_t offset = 0;
    for (bool first = true;; first = false) {
      std::string extra = "&since_last_changed=" + http::url_encode(format_iso8601(since)) +
                          "&sort_field=last_changed&sort_dir=ASC";
      Result<std::string> body =
          get_page(members_target(list_id, offset, extra), first ? server_start : nullptr);
      if (!body) return body.status();
      Result<MembersPageResult> r = parse_members_page(*body, sink);
      if (!r) return r.status().with_context("page at offset " + std::to_string(offset));
      ++read.pages;
      if (r->max_last_changed != kNoTime && r->max_last_changed > *max_seen) {
        *max_seen = r->max_last_changed;
      }
      if (r->members < kPageSize) return Status::ok();
      Micros next = r->max_last_changed == kNoTime ? since : r->max_last_changed - kMicrosPerSecond;
      if (next > since) {
        since = next;
        offset = 0;
      } else {
        offset += kPageSize;  // a second holding a whole page: page through it by offset
      }
    }
  }
};

MailchimpClient::MailchimpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MailchimpClient::~MailchimpClient() = default;

Result<std::unique_ptr<MailchimpClient>> MailchimpClient::create(
    MailchimpOptions options, std::unique_ptr<http::Client> transport) {
  Result<std::string> dc = mailchimp_datacenter(options.api_key);
  if (!dc) return dc.status();
  std::string base =
      options.base_url.empty() ? "https://" + *dc + ".api.mailchimp.com/3.0" : options.base_url;
  Result<http::Url> url = http::Url::parse(base);
  if (!url) return url.status().with_context("Mailchimp base_url");
  auto impl = std::make_unique<Impl>();
  impl->base_path = url->path;
  impl->auth = http::basic_authorization("concord", options.api_key);
  if (!transport) {
    Result<std::unique_ptr<http::Client>> c = http::Client::create(*url, options.http);
    if (!c) return c.status().with_context("Mailchimp connection");
    transport = std::move(*c);
  }
  impl->http = std::move(transport);
  impl->options = std::move(options);
  return std::unique_ptr<MailchimpClient>(new MailchimpClient(std::move(impl)));
}

std::uint64_t MailchimpClient::requests() const {
  return impl_->http->attempts();
}

Status MailchimpClient::ping() {
  Result<json> j = impl_->get_json("/ping", "Mailchimp /ping");
  return j.status();
}

Result<AudienceCounts> MailchimpClient::audience_counts(std::string_view list_id) {
  const std::string what = "counting the audience's members";
  Result<json> j =
      impl_->get_json("/lists/" + http::url_encode(list_id) +
                          "?fields=stats.member_count,stats.unsubscribe_count,stats.cleaned_count",
                      what);
  if (!j) return j.status();
  const auto st = j->find("stats");
  if (st == j->end() || !st->is_object()) {
    return Status::unavailable(what + ": the answer has no stats object");
  }
  AudienceCounts c;
  for (auto [name, out] :
       {std::pair{"member_count", &c.subscribed}, std::pair{"unsubscribe_count", &c.unsubscribed},
        std::pair{"cleaned_count", &c.cleaned}}) {
    const auto v = st->find(name);
    if (v == st->end() || !v->is_number_integer()) {
      return Status::unavailable(what + ": stats." + name + " is not a number");
    }
    *out = v->get<std::int64_t>();
  }
  return c;
}

Result<Audience> MailchimpClient::resolve_audience(std::string_view id_or_name) {
  // An id first: GET /lists/{id}. List ids are short runs of lower-case letters and digits
  // ("a36b032126"); a name that cannot be one ("Newsletter") goes straight to the listing.
  const bool may_be_id = !id_or_name.empty() && id_or_name.size() <= 32 &&
                         std::all_of(id_or_name.begin(), id_or_name.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                         });
  if (may_be_id) {
    Result<http::Response> r = impl_->call(
        "GET", "/lists/" + http::url_encode(id_or_name) + "?fields=id,name,stats.member_count");
    if (!r) return r.status().with_context("looking up the audience");
    if (r->status == 200) {
      Result<json> j = parse_json(*r, "looking up the audience");
      if (!j) return j.status();
      Audience a;
      a.id = text(*j, "id");
      a.name = text(*j, "name");
      if (auto st = j->find("stats"); st != j->end() && st->is_object()) {
        a.member_count = integer(*st, "member_count");
      }
      if (!a.id.empty()) return a;
    } else if (r->status != 404) {
      return api_status(*r, "looking up the audience");
    }
  }
  // Then by name: page through /lists.
  std::vector<Audience> all;
  for (std::size_t offset = 0;; offset += kPageSize) {
    Result<json> j = impl_->get_json(
        "/lists?count=1000&offset=" + std::to_string(offset) + "&fields=" +
            http::url_encode("lists.id,lists.name,lists.stats.member_count,total_items"),
        "listing audiences");
    if (!j) return j.status();
    const json& lists = (*j)["lists"];
    if (!lists.is_array()) return Status::unavailable("listing audiences: no \"lists\" array");
    for (const json& l : lists) {
      Audience a;
      a.id = text(l, "id");
      a.name = text(l, "name");
      if (a.id.empty()) continue;  // not an audience
      if (auto st = l.find("stats"); st != l.end() && st->is_object()) {
        a.member_count = integer(*st, "member_count");
      }
      all.push_back(std::move(a));
    }
    if (lists.size() < kPageSize) break;
  }
  std::vector<Audience> named;
  for (const Audience& a : all) {
    if (a.id == id_or_name) return a;  // an id of another shape than the GET was tried for
    if (a.name == id_or_name) named.push_back(a);
  }
  if (named.size() == 1) return named[0];
  if (named.size() > 1) {
    std::string ids;
    for (const Audience& a : named)
      ids += (ids.empty() ? "" : ", ") + a.id;
    return Status::invalid("several Mailchimp audiences are named \"" + std::string(id_or_name) +
                           "\" (ids " + ids + "); give the id instead");
  }
  std::string names;
  for (const Audience& a : all)
    names += (names.empty() ? "" : ", ") + ("\"" + a.name + "\"");
  return Status::not_found("no Mailchimp audience has the id or name \"" + std::string(id_or_name) +
                           "\" (the account has " + (names.empty() ? std::string("none") : names) +
                           ")");
}

Result<std::vector<MergeField>> MailchimpClient::merge_fields(std::string_view list_id) {
  Result<json> j =
      impl_->get_json("/lists/" + http::url_encode(list_id) + "/merge-fields?count=1000&fields=" +
                          http::url_encode("merge_fields.tag,merge_fields.name,merge_fields.type,"
                                           "merge_fields.required,merge_fields.options,"
                                           "total_items"),
                      "reading the audience's merge fields");
  if (!j) return j.status();
  std::vector<MergeField> out;
  const json& mf = (*j)["merge_fields"];
  if (!mf.is_array()) return Status::unavailable("merge fields: no \"merge_fields\" array");
  for (const json& f : mf) {
    if (!f.is_object()) continue;
    MergeField m{text(f, "tag"), text(f, "name"), text(f, "type"), flag(f, "required"), "", {}};
    if (auto o = f.find("options"); o != f.end() && o->is_object()) {
      m.date_format = text(*o, "date_format");
      if (auto c = o->find("choices"); c != o->end() && c->is_array()) {
        for (const json& choice : *c) {
          if (choice.is_string()) m.choices.push_back(choice.get<std::string>());
        }
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<Tag> MailchimpClient::find_tag(std::string_view list_id, std::string_view name) {
  const std::string wanted = lower(std::string(name));
  std::vector<std::string> names;  // the audience's tags, for the error
  for (std::size_t offset = 0;; offset += kPageSize) {
    Result<json> j = impl_->get_json(
        "/lists/" + http::url_encode(list_id) +
            "/segments?type=static&count=1000&offset=" + std::to_string(offset) + "&fields=" +
            http::url_encode("segments.id,segments.name,segments.member_count,total_items"),
        "listing the audience's tags");
    if (!j) return j.status();
    auto segments = j->find("segments");
    if (segments == j->end() || !segments->is_array()) {
      return Status::unavailable("listing the audience's tags: no \"segments\" array");
    }
    for (const json& s : *segments) {
      if (!s.is_object()) continue;
      Tag t = parse_tag(s);
      if (t.id <= 0) continue;  // not a segment Mailchimp could take members into
      if (lower(t.name) == wanted) return t;
      names.push_back(std::move(t.name));
    }
    // Paged until the total is reached; a short page ends it too, should the total be wrong
    // or missing.
    const std::int64_t total = integer(*j, "total_items", -1);
    const std::size_t seen = offset + segments->size();
    if (segments->size() < kPageSize || (total >= 0 && seen >= static_cast<std::size_t>(total))) {
      break;
    }
  }
  return Status::not_found("the Mailchimp audience has no tag named \"" + std::string(name) +
                           "\" (its tags: " + some_names(names) + ")");
}

Result<Tag> MailchimpClient::create_tag(std::string_view list_id, std::string_view name) {
  constexpr std::string_view what = "creating a tag";
  json body = {{"name", std::string(name)}, {"static_segment", json::array()}};
  Result<http::Response> r =
      impl_->call("POST", "/lists/" + http::url_encode(list_id) + "/segments",
                  body.dump(-1, ' ', false, json::error_handler_t::replace), /*idempotent=*/false);
  if (!r || r->status >= 500) {
    // The POST creates, so it is not sent again; it may have been carried out without our
    // hearing of it. The audience's tags say whether it was.
    if (Result<Tag> made = find_tag(list_id, name)) return made;
    if (!r) return r.status().with_context(what);
  }
  if (r->status != 200) return api_status(*r, what);
  Result<json> j = parse_json(*r, what);
  if (!j) return j.status();
  Tag t = parse_tag(*j);
  if (t.id <= 0) return Status::unavailable(std::string(what) + ": the answer has no id");
  return t;
}

Result<Interest> MailchimpClient::find_interest(std::string_view list_id, std::string_view category,
                                                std::string_view interest) {
  // count=1000 everywhere: the default of 10 hides the rest, and an audience has at
  // most 60 interests.
  const std::string list = "/lists/" + http::url_encode(list_id) + "/interest-categories";
  Result<json> cats = impl_->get_json(
      list + "?count=1000&fields=" + http::url_encode("categories.id,categories.title,total_items"),
      "listing the audience's interest categories");
  if (!cats) return cats.status();
  auto all = cats->find("categories");
  if (all == cats->end() || !all->is_array()) {
    return Status::unavailable(
        "listing the audience's interest categories: no \"categories\" array");
  }
  const std::string wanted_category = lower(std::string(category));
  Interest found;
  std::vector<std::string> titles;
  for (const json& c : *all) {
    if (!c.is_object()) continue;
    std::string id = text(c, "id"), title = text(c, "title");
    if (id.empty()) continue;
    if (lower(title) == wanted_category) {
      found.category_id = std::move(id);
      found.category_title = std::move(title);
      break;
    }
    titles.push_back(std::move(title));
  }
  if (found.category_id.empty()) {
    return Status::not_found("the Mailchimp audience has no interest category titled \"" +
                             std::string(category) + "\" (its categories: " + some_names(titles) +
                             ")");
  }
  Result<json> ints = impl_->get_json(
      list + "/" + http::url_encode(found.category_id) + "/interests?count=1000&fields=" +
          http::url_encode("interests.id,interests.name,total_items"),
      "listing the interests of a category");
  if (!ints) return ints.status();
  auto interests = ints->find("interests");
  if (interests == ints->end() || !interests->is_array()) {
    return Status::unavailable("listing the interests of a category: no \"interests\" array");
  }
  const std::string wanted = lower(std::string(interest));
  std::vector<std::string> names;
  for (const json& i : *interests) {
    if (!i.is_object()) continue;
    std::string id = text(i, "id"), name = text(i, "name");
    if (id.empty()) continue;
    if (lower(name) == wanted) {
      found.id = std::move(id);
      found.name = std::move(name);
      return found;
    }
    names.push_back(std::move(name));
  }
  return Status::not_found("the Mailchimp interest category \"" + found.category_title +
                           "\" has no interest named \"" + std::string(interest) +
                           "\" (its interests: " + some_names(names) + ")");
}

Result<SideRead> MailchimpClient::read_all(std::string_view list_id, MailchimpSink& sink) {
  Impl& im = *impl_;
  SideRead read;
  const Micros started = system_clock().now();
  Micros max_seen = kNoTime;

  // The first page says how many pages there are; the rest are fetched a few at a time and
  // handed over as they arrive (a full read does not depend on page order).
  Micros server_start = kNoTime;
  Result<std::string> first = im.get_page(im.members_target(list_id, 0, ""), &server_start);
  if (!first) return first.status();
  std::int64_t total = 0;
  {
    Result<MembersPageResult> r = parse_members_page(*first, sink);
    if (!r) return r.status().with_context("page at offset 0");
    ++read.pages;
    max_seen = std::max(max_seen, r->max_last_changed);
    total = r->total_items;
    if (r->members < kPageSize) total = static_cast<std::int64_t>(r->members);
  }

  struct Fetched {
    std::size_t offset;
    Result<std::string> body;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Fetched> ready;
  std::size_t next_offset = kFullStride;
  bool stop = false;
  const std::size_t limit = total > 0 ? static_cast<std::size_t>(total) : 0;
  const int workers = std::max(
      1, std::min(im.options.parallel_pages, std::max(1, im.options.http.max_connections)));
  int running = 0;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers && limit > kPageSize; ++w) {  // more than the first page
    ++running;
    threads.emplace_back([&] {
      while (true) {
        std::size_t off;
        {
          // Claim the next page, keeping at most a few pages waiting in memory.
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock,
                  [&] { return stop || ready.size() < static_cast<std::size_t>(2 * workers); });
          if (stop || next_offset >= limit) break;
          off = next_offset;
          next_offset += kFullStride;
        }
        Result<std::string> body = im.get_page(im.members_target(list_id, off, ""));
        std::lock_guard<std::mutex> lock(mu);
        ready.push_back({off, std::move(body)});
        cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_all();
    });
  }
  Status failure;
  while (true) {
    Fetched f{0, Status::internal("no page")};
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !ready.empty() || running == 0; });
      if (ready.empty()) break;
      f = std::move(ready.front());
      ready.pop_front();
      cv.notify_all();
    }
    if (!failure) continue;  // after a failure, only drain
    Result<MembersPageResult> r =
        f.body ? parse_members_page(*f.body, sink) : Result<MembersPageResult>(f.body.status());
    if (!r) {
      failure = r.status().with_context("page at offset " + std::to_string(f.offset));
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
      cv.notify_all();
      continue;
    }
    ++read.pages;
    max_seen = std::max(max_seen, r->max_last_changed);
  }
  for (std::thread& t : threads)
    t.join();
  if (!failure) return failure;

  // Members that changed while we paged may have shifted between pages; they all changed after
  // we started, so one incremental pass from the start (less the overlap) finds them. It also
  // finds members added beyond the total we were first told. (A member skipped because another
  // left while we paged is the snapshot stage's to find: it asks for each stored member this read
  // did not return.)
  Micros since = started - im.options.incremental_overlap;
  if (max_seen != kNoTime) since = std::min(since, max_seen);
  if (Status s = im.page_since(list_id, since, sink, read, &max_seen); !s) return s;
  // The watermark is the server's time when the read began: everything changed before it was
  // read (a change recorded late is caught by the next read's overlap). Without a Date header,
  // the latest change seen.
  read.watermark =
      server_start != kNoTime ? server_start : (max_seen == kNoTime ? started : max_seen);
  return read;
}

Result<SideRead> MailchimpClient::read_since(std::string_view list_id, Micros watermark,
                                             MailchimpSink& sink) {
  Impl& im = *impl_;
  SideRead read;
  Micros max_seen = watermark, server_start = kNoTime;
  if (Status s = im.page_since(list_id, watermark - im.options.incremental_overlap, sink, read,
                               &max_seen, &server_start);
      !s) {
    return s;
  }
  // As for a full read: the server's time when this read began (never moving backwards), so that
  // the members changed long before it, concord's own writes included, are not read again.
  read.watermark = server_start != kNoTime ? std::max(watermark, server_start) : max_seen;
  return read;
}

Result<SideRead> MailchimpClient::read_members(std::string_view list_id,
                                               const std::vector<std::string>& emails,
                                               MailchimpSink& sink) {
  return impl_->read_members(list_id, emails, sink, "reading a member");
}

Result<std::vector<Webhook>> MailchimpClient::webhooks(std::string_view list_id) {
  Result<json> j =
      impl_->get_json("/lists/" + http::url_encode(list_id) + "/webhooks", "listing webhooks");
  if (!j) return j.status();
  auto list = j->find("webhooks");
  if (list == j->end() || !list->is_array()) {
    return Status::unavailable("listing webhooks: no \"webhooks\" array");
  }
  std::vector<Webhook> out;
  for (const json& w : *list) {
    if (w.is_object()) out.push_back(parse_webhook(w));
  }
  return out;
}

Result<Webhook> MailchimpClient::create_webhook(std::string_view list_id, const std::string& url,
                                                const std::vector<std::string>& events, bool user,
                                                bool admin, bool api) {
  constexpr std::string_view what = "registering a webhook";
  json ev = json::object();
  for (std::string_view name : kWebhookEvents)
    ev[std::string(name)] = false;
  for (const std::string& e : events) {
    if (!ev.contains(e)) {
      return Status::invalid(std::string(what) + ": unknown event \"" + e +
                             "\" (known: subscribe, unsubscribe, profile, cleaned, upemail, "
                             "campaign)");
    }
    ev[e] = true;
  }
  Webhook asked;  // what Mailchimp will show for it
  asked.url = url;
  for (std::string_view name : kWebhookEvents) {
    if (ev[std::string(name)].get<bool>()) asked.events.emplace_back(name);
  }
  asked.source_user = user;
  asked.source_admin = admin;
  asked.source_api = api;
  json body = {{"url", url},
               {"events", std::move(ev)},
               {"sources", {{"user", user}, {"admin", admin}, {"api", api}}}};
  Result<http::Response> r =
      impl_->call("POST", "/lists/" + http::url_encode(list_id) + "/webhooks",
                  body.dump(-1, ' ', false, json::error_handler_t::replace), /*idempotent=*/false);
  if (!r || r->status >= 500) {
    // The POST may have been carried out without our hearing of it; it is not sent again. The
    // list's webhooks say whether it was (Mailchimp refuses a second webhook with one URL).
    Result<std::vector<Webhook>> all = webhooks(list_id);
    if (all) {
      for (Webhook& w : *all) {
        if (w.url == asked.url && w.events == asked.events && w.source_user == asked.source_user &&
            w.source_admin == asked.source_admin && w.source_api == asked.source_api) {
          return std::move(w);
        }
      }
    }
    if (!r) return r.status().with_context(what);
  }
  if (r->status != 200) return api_status(*r, what);
  Result<json> j = parse_json(*r, what);
  if (!j) return j.status();
  if (!j->is_object()) return Status::unavailable(std::string(what) + ": the answer is no object");
  Webhook w = parse_webhook(*j);
  if (w.id.empty()) return Status::unavailable(std::string(what) + ": the answer has no id");
  return w;
}

Status MailchimpClient::delete_webhook(std::string_view list_id, std::string_view webhook_id) {
  Result<http::Response> r = impl_->call("DELETE", "/lists/" + http::url_encode(list_id) +
                                                       "/webhooks/" + http::url_encode(webhook_id));
  if (!r) return r.status().with_context("removing a webhook");
  if (r->status == 204 || r->status == 200 || r->status == 404) return Status::ok();
  return api_status(*r, "removing a webhook");
}

namespace {

// Whether the member at `email` carries the tag `tag_id` as a tag write asked (`add`), read by
// itself: done when it does (or, for a removal, when there is no such member), else failed.
// `get` sends a GET for a target.
template <typename Get>
WriteOutcome tag_as_asked(Get&& get, std::string_view list_id, const std::string& email,
                          std::int64_t tag_id, bool add, Micros at) {
  Result<http::Response> r = get("/lists/" + http::url_encode(list_id) + "/members/" +
                                 subscriber_hash(email) + "?fields=tags");
  if (!r) return {WriteOutcome::Code::kFailed, r.status().message()};
  if (r->status == 404) {
    if (!add) return {WriteOutcome::Code::kDone, "", MailchimpStatus::kAbsent, at};
    return {WriteOutcome::Code::kFailed, "not a member of the audience"};
  }
  if (r->status != 200) return {WriteOutcome::Code::kFailed, parse_api_error(*r).describe()};
  json j = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("tags") || !j["tags"].is_array()) {
    return {WriteOutcome::Code::kFailed,
            "Mailchimp's answer about the member's tags is unreadable"};
  }
  bool carries = false;
  for (const json& t : j["tags"]) {
    if (t.is_object() && t.contains("id") && t["id"].is_number_integer() &&
        t["id"].get<std::int64_t>() == tag_id) {
      carries = true;
    }
  }
  if (carries == add) return {WriteOutcome::Code::kDone, "", MailchimpStatus::kAbsent, at};
  return {WriteOutcome::Code::kFailed,
          add ? "Mailchimp did not put the tag on the member" : "the member still has the tag"};
}

}  // namespace

std::vector<WriteOutcome> MailchimpClient::apply(std::string_view list_id,
                                                 const std::vector<MailchimpWrite>& writes,
                                                 Resubscribe resubscribe) {
  Impl& im = *impl_;
  std::vector<WriteOutcome> out(writes.size());
  std::vector<std::size_t> batch_ops, archives, renames, tag_ops;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const MailchimpWrite::Kind k = writes[i].kind;
    (k == MailchimpWrite::Kind::kArchive                                           ? archives
     : k == MailchimpWrite::Kind::kChangeEmail                                     ? renames
     : k == MailchimpWrite::Kind::kAddTag || k == MailchimpWrite::Kind::kRemoveTag ? tag_ops
                                                                                   : batch_ops)
        .push_back(i);
  }

  // Batch-subscribe in chunks of 500; subscribes refused for compliance come back as pending.
  auto run_batches = [&](const std::vector<std::size_t>& ops, bool as_pending,
                         std::vector<std::size_t>* compliance) {
    for (std::size_t start = 0; start < ops.size(); start += kBatchSize) {
      std::size_t end = std::min(ops.size(), start + kBatchSize);
      json members = json::array();
      std::map<std::string, std::size_t> by_email;
      for (std::size_t k = start; k < end; ++k) {
        const MailchimpWrite& w = writes[ops[k]];
        const std::string status = as_pending ? "pending"
                                   : w.kind == MailchimpWrite::Kind::kUpdateFields
                                       ? std::string(mailchimp_status_name(w.status))
                                       : status_word(w.kind);
        json m = {{"email_address", w.email}, {"status", status}};
        if (!w.merge_fields.empty()) {
          json mf = json::object();
          for (const auto& [tag, value] : w.merge_fields)
            mf[tag] = merge_value(w, tag, value);
          m["merge_fields"] = std::move(mf);
        }
        // Tags are added to the member's (without sync_tags nothing is taken off), and
        // interests not named stay as they are.
        if (!w.tags.empty()) m["tags"] = w.tags;
        if (!w.interests.empty()) {
          json in = json::object();
          for (const auto& [id, on] : w.interests)
            in[id] = on;
          m["interests"] = std::move(in);
        }
        members.push_back(std::move(m));
        by_email[lower(w.email)] = ops[k];
      }
      json body = {{"members", std::move(members)}, {"update_existing", true}};
      Result<http::Response> r = im.call("POST", "/lists/" + http::url_encode(list_id),
                                         body.dump(-1, ' ', false, json::error_handler_t::replace));
      json j;
      const std::string failure = batch_failure(r, &j);
      if (!failure.empty()) {
        for (auto& [email, i] : by_email)
          out[i] = {WriteOutcome::Code::kFailed, failure};
        continue;
      }
      std::map<std::string, bool> answered;
      for (const char* list : {"new_members", "updated_members"}) {
        auto it = j.find(list);
        if (it == j.end() || !it->is_array()) continue;
        for (const json& m : *it) {
          auto found = by_email.find(lower(text(m, "email_address")));
          if (found == by_email.end()) continue;
          WriteOutcome& o = out[found->second];
          o.code = as_pending ? WriteOutcome::Code::kPendingSent : WriteOutcome::Code::kDone;
          o.message.clear();
          o.status = parse_mailchimp_status(text(m, "status")).value_or(MailchimpStatus::kAbsent);
          Result<Micros> lc = parse_iso8601(text(m, "last_changed"));
          o.last_changed = lc.is_ok() ? lc.value() : kNoTime;
          answered[found->first] = true;
        }
      }
      if (auto errs = j.find("errors"); errs != j.end() && errs->is_array()) {
        for (const json& e : *errs) {
          auto found = by_email.find(lower(text(e, "email_address")));
          if (found == by_email.end()) continue;
          std::size_t i = found->second;
          std::string text = concord::text(e, "error");
          WriteOutcome::Code code = classify_error(text);
          answered[found->first] = true;
          if (code == WriteOutcome::Code::kCompliance && !as_pending &&
              writes[i].kind == MailchimpWrite::Kind::kSubscribe &&
              resubscribe == Resubscribe::kPending && compliance != nullptr) {
            compliance->push_back(i);
          }
          out[i] = {code, text};
        }
      }
      for (auto& [email, i] : by_email) {
        if (!answered.count(email)) {
          out[i] = {WriteOutcome::Code::kFailed,
                    "Mailchimp's batch answer did not mention this member"};
        }
      }
    }
  };
  std::vector<std::size_t> compliance;
  run_batches(batch_ops, false, &compliance);
  if (!compliance.empty()) run_batches(compliance, true, nullptr);

  // Address changes: PATCH of the member at the old address (Mailchimp keeps its contact_id,
  // history and status; only a subscribed member's address may change, and not to an address the
  // audience has: both refusals are for good).
  for (std::size_t i : renames) {
    const std::string target =
        "/lists/" + http::url_encode(list_id) + "/members/" + subscriber_hash(writes[i].from_email);
    json body = {{"email_address", writes[i].email}};
    Result<http::Response> r =
        im.call("PATCH", target, body.dump(-1, ' ', false, json::error_handler_t::replace));
    WriteOutcome& o = out[i];
    if (!r) {
      o = {WriteOutcome::Code::kFailed, r.status().message()};
    } else if (r->status == 200) {
      json m = json::parse(r->body, nullptr, false);
      o = {WriteOutcome::Code::kDone, ""};
      if (m.is_object()) {
        o.status = parse_mailchimp_status(text(m, "status")).value_or(MailchimpStatus::kAbsent);
        Result<Micros> lc = parse_iso8601(text(m, "last_changed"));
        o.last_changed = lc.is_ok() ? lc.value() : kNoTime;
      }
    } else {
      ApiError e = parse_api_error(*r);
      o = {r->status >= 500 || r->status == 429 ? WriteOutcome::Code::kFailed
                                                : WriteOutcome::Code::kInvalid,
           e.describe()};
    }
  }

  // Tags: each tag's adds and removes go in its static segment's batch calls, up to 500 of each
  // per call, after the batch subscribes (a member those added can be tagged by now). Putting a tag
  // on twice or taking it off twice changes nothing, so these calls are left idempotent: the
  // transport may send one again.
  std::map<std::int64_t, std::array<std::vector<std::size_t>, 2>> by_tag;  // adds, removes
  for (std::size_t i : tag_ops)
    by_tag[writes[i].tag_id][writes[i].kind == MailchimpWrite::Kind::kAddTag ? 0 : 1].push_back(i);
  for (const auto& [tag_id, ops] : by_tag) {
    const std::string target =
        "/lists/" + http::url_encode(list_id) + "/segments/" + std::to_string(tag_id);
    const std::size_t calls =
        (std::max(ops[0].size(), ops[1].size()) + kSegmentBatchSize - 1) / kSegmentBatchSize;
    for (std::size_t call = 0; call < calls; ++call) {
      // This call's share of the adds and of the removes.
      std::array<std::span<const std::size_t>, 2> part;
      json body = json::object();
      for (int side = 0; side < 2; ++side) {
        const std::size_t begin = std::min(ops[side].size(), call * kSegmentBatchSize);
        part[side] = std::span(ops[side]).subspan(
            begin, std::min(kSegmentBatchSize, ops[side].size() - begin));
        if (part[side].empty()) continue;
        json emails = json::array();
        for (std::size_t i : part[side])
          emails.push_back(writes[i].email);
        body[side == 0 ? "members_to_add" : "members_to_remove"] = std::move(emails);
      }
      Result<http::Response> r =
          im.call("POST", target, body.dump(-1, ' ', false, json::error_handler_t::replace));
      json j;
      const std::string failure = batch_failure(r, &j);
      if (!failure.empty()) {
        for (const auto& p : part) {
          for (std::size_t i : p)
            out[i] = {WriteOutcome::Code::kFailed, failure};
        }
        continue;
      }
      // The answer lists the members whose tag changed; it carries no time of the change, so
      // the server's time of the answer stands for it.
      Result<Micros> date = parse_http_date(r->header("Date"));
      const Micros at = date ? *date : kNoTime;
      std::array<std::set<std::string>, 2> changed;
      for (int side = 0; side < 2; ++side) {
        auto list = j.find(side == 0 ? "members_added" : "members_removed");
        if (list == j.end() || !list->is_array()) continue;
        for (const json& m : *list) {
          if (m.is_object()) changed[side].insert(lower(text(m, "email_address")));
        }
      }
      // Unlike batch subscribe's, an error here names an array of addresses.
      std::map<std::string, std::string> refused;
      if (auto errs = j.find("errors"); errs != j.end() && errs->is_array()) {
        for (const json& e : *errs) {
          if (!e.is_object()) continue;
          auto emails = e.find("email_addresses");
          if (emails == e.end() || !emails->is_array()) continue;
          std::string why = text(e, "error");
          if (why.empty()) why = "Mailchimp refused it without saying why";
          for (const json& a : *emails) {
            if (a.is_string()) refused.emplace(lower(a.get<std::string>()), why);
          }
        }
      }
      for (int side = 0; side < 2; ++side) {
        for (std::size_t i : part[side]) {
          const std::string email = lower(writes[i].email);
          if (changed[side].count(email)) {
            out[i] = {WriteOutcome::Code::kDone, "", MailchimpStatus::kAbsent, at};
          } else if (auto it = refused.find(email); it != refused.end()) {
            out[i] = {WriteOutcome::Code::kInvalid, it->second};
          } else {
            // Neither listed nor refused: Mailchimp lists only the members whose tag changed.
            // The member already had it as asked (a person tagged it since our read, or the
            // transport sent the call again), or is no member (it left since it was read, and
            // the next run adds it first). Its tags say which: a tag change may not move
            // last_changed, so no later incremental read would tell.
            out[i] = tag_as_asked([&](const std::string& t) { return im.call("GET", t); }, list_id,
                                  writes[i].email, tag_id, side == 0, at);
          }
        }
      }
    }
  }

  for (std::size_t i : archives) {
    const std::string target =
        "/lists/" + http::url_encode(list_id) + "/members/" + subscriber_hash(writes[i].email);
    Result<http::Response> r = im.call("DELETE", target);
    WriteOutcome& o = out[i];
    if (!r) {
      o = {WriteOutcome::Code::kFailed, r.status().message()};
    } else if (r->status == 204 || r->status == 200) {
      o = {WriteOutcome::Code::kDone, "", MailchimpStatus::kArchived};
    } else if (r->status == 404) {
      o = {WriteOutcome::Code::kDone, "not in the audience", MailchimpStatus::kAbsent};
    } else if (r->status == 405) {
      o = {WriteOutcome::Code::kInvalid, parse_api_error(*r).describe()};
    } else {
      ApiError e = parse_api_error(*r);
      o = {r->status >= 500 || r->status == 429 ? WriteOutcome::Code::kFailed
                                                : classify_error(e.title + " " + e.detail),
           e.describe()};
    }
  }
  return out;
}

}  // namespace concord
