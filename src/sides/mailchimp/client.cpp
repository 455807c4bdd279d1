#include "concord/mailchimp_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "concord/email.h"
#include "concord/mailchimp_members.h"
#include "concord/snapshot.h"

namespace concord {
namespace {

using nlohmann::json;

constexpr std::size_t kPageSize = 1000;
// A full fetch steps its offsets by less than a page: consecutive pages overlap by 10 members,
// so up to 10 members leaving the audience while we page cannot push a member into a page we
// have already read (offset paging's blind spot). Members read twice are written twice.
constexpr std::size_t kFullStride = kPageSize - 10;
constexpr std::size_t kBatchSize = 500;  // batch-subscribe's limit
// kMemberFields for GET of one member (no "members." prefix).
constexpr std::string_view kSingleMemberFields =
    "email_address,status,unsubscribe_reason,timestamp_opt,last_changed,merge_fields";

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

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
  }
  return "subscribed";
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
        e.field_errors.emplace_back(fe.value("field", ""), fe.value("message", ""));
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

std::string mailchimp_watermark_key(std::string_view list_id) {
  return "mailchimp.watermark/" + std::string(list_id);
}

// ---- the client
// ------------------------------------------------------------------------------------

struct MailchimpClient::Impl {
  MailchimpOptions options;
  std::unique_ptr<http::Client> http;
  std::string base_path;  // e.g. "/3.0"
  std::string auth;       // "Basic …"; never logged

  Result<http::Response> call(std::string method, const std::string& target,
                              std::string body = {}) {
    http::Request req;
    req.method = std::move(method);
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

  Status store_watermark(Store& store, const PairHandle& pair, std::string_view list_id, Micros w) {
    return store.put(pair, Family::kMeta, mailchimp_watermark_key(list_id), std::to_string(w));
  }

  Result<Micros> load_watermark(Store& store, const PairHandle& pair, std::string_view list_id) {
    auto v = store.get(pair, Family::kMeta, mailchimp_watermark_key(list_id));
    if (!v) return v.status();
    if (!v->has_value()) return kNoTime;
    try {
      return static_cast<Micros>(std::stoll(**v));
    } catch (const std::exception&) {
      return Status::corruption("the stored Mailchimp watermark is not a number");
    }
  }

  // Incremental paging from `since`, through `writer`: keyset paging on last_changed (a member
  // that changes while we page moves past the cursor, where we meet it again), re-reading one
  // second at each step so that the API's inclusive-or-exclusive `since` does not matter.
  // Pages where every member has the same second fall back to offset paging.
  Status page_since(std::string_view list_id, Micros since, Store& store, const PairHandle& pair,
                    SnapshotWriter& writer, FetchStats& stats, Micros* max_seen,
                    bool store_watermarks, Micros* server_start = nullptr) {
    std::size_t offset = 0;
    for (bool first = true;; first = false) {
      std::string extra = "&since_last_changed=" + http::url_encode(format_iso8601(since)) +
                          "&sort_field=last_changed&sort_dir=ASC";
      Result<std::string> body =
          get_page(members_target(list_id, offset, extra), first ? server_start : nullptr);
      if (!body) return body.status();
      Result<MembersPageResult> r = ingest_members_page(*body, store, pair, writer);
      if (!r) return r.status().with_context("page at offset " + std::to_string(offset));
      ++stats.pages;
      stats.members += r->members;
      stats.written += r->written;
      stats.rejected += r->rejected;
      if (r->max_last_changed != kNoTime && r->max_last_changed > *max_seen) {
        *max_seen = r->max_last_changed;
        if (store_watermarks) {
          if (Status s = store_watermark(store, pair, list_id, *max_seen); !s) return s;
        }
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
  impl->auth = "Basic " + base64("concord:" + options.api_key);
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

Result<Audience> MailchimpClient::resolve_audience(std::string_view id_or_name) {
  // An id first: GET /lists/{id}.
  Result<http::Response> r = impl_->call(
      "GET", "/lists/" + http::url_encode(id_or_name) + "?fields=id,name,stats.member_count");
  if (!r) return r.status().with_context("looking up the audience");
  if (r->status == 200) {
    Result<json> j = parse_json(*r, "looking up the audience");
    if (!j) return j.status();
    Audience a;
    a.id = j->value("id", "");
    a.name = j->value("name", "");
    if (auto st = j->find("stats"); st != j->end() && st->is_object()) {
      a.member_count = st->value("member_count", std::int64_t{0});
    }
    if (!a.id.empty()) return a;
  } else if (r->status != 404) {
    return api_status(*r, "looking up the audience");
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
      a.id = l.value("id", "");
      a.name = l.value("name", "");
      if (auto st = l.find("stats"); st != l.end() && st->is_object()) {
        a.member_count = st->value("member_count", std::int64_t{0});
      }
      all.push_back(std::move(a));
    }
    if (lists.size() < kPageSize) break;
  }
  std::vector<Audience> named;
  for (const Audience& a : all) {
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
                                           "merge_fields.required,total_items"),
                      "reading the audience's merge fields");
  if (!j) return j.status();
  std::vector<MergeField> out;
  const json& mf = (*j)["merge_fields"];
  if (!mf.is_array()) return Status::unavailable("merge fields: no \"merge_fields\" array");
  for (const json& f : mf) {
    out.push_back(
        {f.value("tag", ""), f.value("name", ""), f.value("type", ""), f.value("required", false)});
  }
  return out;
}

Result<FetchStats> MailchimpClient::fetch_full(std::string_view list_id, Store& store,
                                               const PairHandle& pair) {
  Impl& im = *impl_;
  FetchStats stats;
  SnapshotWriter writer(store, pair, Side::kMailchimp, SnapshotWriter::Mode::kFull);
  const Micros started = system_clock().now();
  Micros max_seen = kNoTime;

  // The first page says how many pages there are; the rest are fetched a few at a time and
  // written as they arrive (a full fetch does not depend on page order).
  Micros server_start = kNoTime;
  Result<std::string> first = im.get_page(im.members_target(list_id, 0, ""), &server_start);
  if (!first) return first.status();
  std::int64_t total = 0;
  {
    Result<MembersPageResult> r = ingest_members_page(*first, store, pair, writer);
    if (!r) return r.status().with_context("page at offset 0");
    ++stats.pages;
    stats.members += r->members;
    stats.written += r->written;
    stats.rejected += r->rejected;
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
    Result<MembersPageResult> r = f.body ? ingest_members_page(*f.body, store, pair, writer)
                                         : Result<MembersPageResult>(f.body.status());
    if (!r) {
      failure = r.status().with_context("page at offset " + std::to_string(f.offset));
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
      cv.notify_all();
      continue;
    }
    ++stats.pages;
    stats.members += r->members;
    stats.written += r->written;
    stats.rejected += r->rejected;
    max_seen = std::max(max_seen, r->max_last_changed);
  }
  for (std::thread& t : threads)
    t.join();
  if (!failure) return failure;

  // Members that changed while we paged may have shifted between pages; they all changed after
  // we started, so one incremental pass from the start (less the overlap) finds them. It also
  // finds members added beyond the total we were first told.
  Micros since = started - im.options.incremental_overlap;
  if (max_seen != kNoTime) since = std::min(since, max_seen);
  if (Status s = im.page_since(list_id, since, store, pair, writer, stats, &max_seen, false); !s) {
    return s;
  }
  // Offset paging can also skip a member when another one before it leaves the audience while we
  // page. Before anything is deleted from the snapshot, each stored member this fetch did not see
  // is asked for by itself: only a 404 removes it.
  Result<std::vector<std::pair<MemberKey, std::string>>> unseen = writer.unseen_members();
  if (!unseen) return unseen.status();
  for (const auto& [key, email] : *unseen) {
    Result<http::Response> r =
        im.call("GET", "/lists/" + http::url_encode(list_id) + "/members/" + subscriber_hash(key) +
                           "?fields=" + http::url_encode(kSingleMemberFields));
    if (!r) return r.status().with_context("checking a member missing from the pages");
    if (r->status == 404) continue;  // gone: the sweep removes it
    if (r->status != 200) return api_status(*r, "checking a member missing from the pages");
    std::string page = "{\"members\":[" + r->body + "],\"total_items\":1}";
    Result<MembersPageResult> one = ingest_members_page(page, store, pair, writer);
    if (!one) return one.status().with_context("checking a member missing from the pages");
    ++stats.rechecked;
    stats.written += one->written;
    max_seen = std::max(max_seen, one->max_last_changed);
  }
  if (Status s = writer.finish(); !s) return s;
  stats.removed = writer.stats().removed;
  // The watermark is the server's time when the fetch began: everything changed before it was
  // read (a change recorded late is caught by the next fetch's overlap). Without a Date header,
  // the latest change seen.
  stats.watermark =
      server_start != kNoTime ? server_start : (max_seen == kNoTime ? started : max_seen);
  if (Status s = im.store_watermark(store, pair, list_id, stats.watermark); !s) return s;
  return stats;
}

Result<FetchStats> MailchimpClient::fetch_incremental(std::string_view list_id, Store& store,
                                                      const PairHandle& pair) {
  Impl& im = *impl_;
  Result<Micros> w = im.load_watermark(store, pair, list_id);
  if (!w) return w.status();
  if (*w == kNoTime) return fetch_full(list_id, store, pair);
  FetchStats stats;
  SnapshotWriter writer(store, pair, Side::kMailchimp, SnapshotWriter::Mode::kIncremental);
  Micros max_seen = *w, server_start = kNoTime;
  if (Status s = im.page_since(list_id, *w - im.options.incremental_overlap, store, pair, writer,
                               stats, &max_seen, true, &server_start);
      !s) {
    return s;
  }
  if (Status s = writer.finish(); !s) return s;
  // As for a full fetch: the server's time when this fetch began (never moving backwards), so
  // that the members changed long before it, concord's own writes included, are not read again.
  stats.watermark = server_start != kNoTime ? std::max(*w, server_start) : max_seen;
  if (Status s = im.store_watermark(store, pair, list_id, stats.watermark); !s) return s;
  return stats;
}

std::vector<WriteOutcome> MailchimpClient::apply(std::string_view list_id,
                                                 const std::vector<MailchimpWrite>& writes,
                                                 Resubscribe resubscribe) {
  Impl& im = *impl_;
  std::vector<WriteOutcome> out(writes.size());
  std::vector<std::size_t> batch_ops, archives;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    (writes[i].kind == MailchimpWrite::Kind::kArchive ? archives : batch_ops).push_back(i);
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
        json m = {{"email_address", w.email},
                  {"status", as_pending ? "pending" : status_word(w.kind)}};
        if (!w.merge_fields.empty()) {
          json mf = json::object();
          for (const auto& [tag, value] : w.merge_fields)
            mf[tag] = value;
          m["merge_fields"] = std::move(mf);
        }
        members.push_back(std::move(m));
        by_email[lower(w.email)] = ops[k];
      }
      json body = {{"members", std::move(members)}, {"update_existing", true}};
      Result<http::Response> r = im.call("POST", "/lists/" + http::url_encode(list_id),
                                         body.dump(-1, ' ', false, json::error_handler_t::replace));
      std::string failure;
      json j;
      if (!r) {
        failure = r.status().message();
      } else if (r->status != 200) {
        failure = parse_api_error(*r).describe();
      } else {
        j = json::parse(r->body, nullptr, false);
        if (!j.is_object()) failure = "Mailchimp's batch answer is not JSON";
      }
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
          auto found = by_email.find(lower(m.value("email_address", "")));
          if (found == by_email.end()) continue;
          WriteOutcome& o = out[found->second];
          o.code = as_pending ? WriteOutcome::Code::kPendingSent : WriteOutcome::Code::kDone;
          o.message.clear();
          o.status =
              parse_mailchimp_status(m.value("status", "")).value_or(MailchimpStatus::kAbsent);
          Result<Micros> lc = parse_iso8601(m.value("last_changed", ""));
          o.last_changed = lc.is_ok() ? lc.value() : kNoTime;
          answered[found->first] = true;
        }
      }
      if (auto errs = j.find("errors"); errs != j.end() && errs->is_array()) {
        for (const json& e : *errs) {
          auto found = by_email.find(lower(e.value("email_address", "")));
          if (found == by_email.end()) continue;
          std::size_t i = found->second;
          std::string text = e.value("error", "");
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
