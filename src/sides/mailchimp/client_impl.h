// The Mailchimp client's insides, shared by the files that carry out its parts (client.cpp: the
// connection, the audience and the reads; groups.cpp: tags and interests; writes.cpp: apply()).
// Internal to src/sides/mailchimp/.
//
// Thread-safety: MailchimpClient::Impl is shared by the client's calls; its transport is
// thread-safe, and it holds nothing else that changes.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "concord/email.h"
#include "concord/mailchimp_client.h"
#include "sides/json_answer.h"
#include "sides/mailchimp/members_page.h"

namespace concord {
namespace mailchimp {

using nlohmann::json;

inline constexpr std::size_t kPageSize = 1000;

// kMemberFields for GET of one member (no "members." prefix).
inline constexpr std::string_view kSingleMemberFields =
    "email_address,status,unsubscribe_reason,timestamp_opt,last_changed,merge_fields,contact_id,"
    "tags,interests";

// Tags and interests named in a "not found" error: enough to spot a typo, not a whole audience's.
inline constexpr std::size_t kNamesShown = 10;

// Members asked for by themselves are read this many at a time before their answers are written
// (one snapshot batch per group; bounds the bodies held).
inline constexpr std::size_t kSingleMemberGroup = 64;

inline std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A status for an API answer that is not a success.
inline Status api_status(const http::Response& r, std::string_view what) {
  ApiError e = parse_api_error(r);
  std::string msg = std::string(what) + ": " + e.describe();
  if (r.status == 404) return Status::not_found(std::move(msg));
  if (r.status == 429 || r.status >= 500 || r.status == 403) {
    return Status::unavailable(std::move(msg));
  }
  return Status::invalid(std::move(msg));
}

inline Result<json> parse_json(const http::Response& r, std::string_view what) {
  // Bounded depth: a value nested thousands of levels deep would overflow the stack when copied.
  json j = sides::parse_answer(r.body);
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

// A boolean member of an object; anything else (absent, another type) is false.
inline bool flag(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

inline std::string text(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An integer member of an object; anything else (absent, another type, out of range) is `or_else`.
inline std::int64_t integer(const json& object, const char* key, std::int64_t or_else = 0) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : or_else;
}

// "\"a\", \"b\" and 3 more" (at most kNamesShown names), or "none".
inline std::string some_names(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kNamesShown; ++i)
    out += (i ? ", \"" : "\"") + names[i] + "\"";
  if (names.size() > kNamesShown)
    out += " and " + std::to_string(names.size() - kNamesShown) + " more";
  return out;
}

// A static segment as the API answers it: static segments are what Mailchimp calls tags.
inline Tag parse_tag(const json& j) {
  return {integer(j, "id"), text(j, "name"), integer(j, "member_count")};
}

}  // namespace mailchimp

struct MailchimpClient::Impl {
  using json = nlohmann::json;

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
    if (r->status != 200) return mailchimp::api_status(*r, what);
    return mailchimp::parse_json(*r, what);
  }

  std::string members_target(std::string_view list_id, std::size_t offset,
                             const std::string& extra) const {
    return "/lists/" + http::url_encode(list_id) +
           "/members?count=" + std::to_string(mailchimp::kPageSize) +
           "&offset=" + std::to_string(offset) + "&fields=" + http::url_encode(kMemberFields) +
           extra;
  }

  // A page's body. `server_time`, when given, receives the answer's Date header (the server's
  // "now"), or kNoTime when it has none.
  Result<std::string> get_page(const std::string& target, Micros* server_time = nullptr) {
    Result<http::Response> r = call("GET", target);
    if (!r) return r.status().with_context("fetching a page of members");
    if (r->status != 200) return mailchimp::api_status(*r, "fetching a page of members");
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
    for (std::size_t start = 0; start < asked.size(); start += mailchimp::kSingleMemberGroup) {
      const std::size_t n = std::min(mailchimp::kSingleMemberGroup, asked.size() - start);
      std::vector<Result<http::Response>> answers(n, Status::internal("not asked"));
      std::atomic<std::size_t> next{0};
      auto work = [&] {
        for (std::size_t i; (i = next++) < n;) {
          answers[i] = call("GET", "/lists/" + http::url_encode(list_id) + "/members/" +
                                       subscriber_hash(asked[start + i]) + "?fields=" +
                                       http::url_encode(mailchimp::kSingleMemberFields));
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
        if (r->status != 200) return mailchimp::api_status(*r, what);
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
      if (r->members < mailchimp::kPageSize) return Status::ok();
      Micros next = r->max_last_changed == kNoTime ? since : r->max_last_changed - kMicrosPerSecond;
      if (next > since) {
        since = next;
        offset = 0;
      } else {
        offset += mailchimp::kPageSize;  // a second holding a whole page: page through it by offset
      }
    }
  }
};

}  // namespace concord
