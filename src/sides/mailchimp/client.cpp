#include "concord/mailchimp_client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>

#include "concord/email.h"
#include "concord/field_value.h"
#include "concord/parallel.h"
#include "sides/mailchimp/client_impl.h"
#include "sides/mailchimp/members_page.h"

namespace concord {
namespace {

// The client's insides (client_impl.h): its helpers and constants.
using namespace mailchimp;  // NOLINT(google-build-using-namespace)

// A full fetch steps its offsets by less than a page: consecutive pages overlap by 10 members,
// so up to 10 members leaving the audience while we page cannot push a member into a page we
// have already read (offset paging's blind spot). Members read twice are written twice.
constexpr std::size_t kFullStride = kPageSize - 10;

// A webhook's events, in the API's order.
constexpr std::array<std::string_view, 6> kWebhookEvents = {"subscribe", "unsubscribe", "profile",
                                                            "cleaned",   "upemail",     "campaign"};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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
  json j = sides::parse_answer(r.body);
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

Result<SideRead> MailchimpClient::read_all(std::string_view list_id, MailchimpSink& sink) {
  Impl& im = *impl_;
  SideRead read;
  const Micros started = system_clock().now();
  Micros max_seen = kNoTime;

  // The first page says how many pages there are; the rest are fetched a few at a time and
  // handed over in order.
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

  // The other pages, a few at once (a few waiting at most), parsed in order.
  const std::size_t limit = total > 0 ? static_cast<std::size_t>(total) : 0;
  // (Offsets a stride apart from kFullStride below `limit`; none when the first page held all.)
  const std::size_t pages = limit > kPageSize ? (limit - 1) / kFullStride : 0;
  const auto workers = static_cast<std::size_t>(std::max(
      1, std::min(im.options.parallel_pages, std::max(1, im.options.http.max_connections))));
  Status failure;
  produce_in_order<Result<std::string>>(
      pages, workers, 2 * workers,
      [&](std::size_t i) {
        return im.get_page(im.members_target(list_id, (i + 1) * kFullStride, ""));
      },
      [&](std::size_t i, Result<std::string>& body) {
        Result<MembersPageResult> r =
            body ? parse_members_page(*body, sink) : Result<MembersPageResult>(body.status());
        if (!r) {
          failure =
              r.status().with_context("page at offset " + std::to_string((i + 1) * kFullStride));
          return false;
        }
        ++read.pages;
        max_seen = std::max(max_seen, r->max_last_changed);
        return true;
      });
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

}  // namespace concord
