// A small in-process fake of Mautic's REST API (no sockets), for the Mautic client's tests:
// segments, contacts with `search=segment:`, `where[]` (gt, gte, in), orderBy id, start/limit;
// hooks; Basic or OAuth2 client-credentials auth; and a script of answers that replace the next
// ones, for faults.
#pragma once

#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "concord/http.h"
#include "concord/mautic_client.h"
#include "concord/time.h"
#include "sides/cohorts/cohort_sandbox.h"  // Collect

namespace concord::testing {

using nlohmann::json;

inline constexpr const char* kPassword = "pw-DO-NOT-LEAK-1234";
inline constexpr const char* kClientSecret = "cs-DO-NOT-LEAK-5678";
inline constexpr const char* kHookSecret = "hook-secret-DO-NOT-LEAK";

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros t) : t_(t) {}
  Micros now() const override { return t_; }
  void advance(Micros d) { t_ += d; }

 private:
  Micros t_;
};

struct FakeContact {
  json body;                       // what the API serialises (fields.all, doNotContact, …)
  std::set<std::string> segments;  // aliases
  std::string date_modified;       // "YYYY-MM-DD HH:MM:SS", UTC
};

struct FakeMautic {
  bool oauth = false;
  std::string date = "Sun, 06 Dec 2026 12:00:00 GMT";  // "" sends no Date
  json segments = json::array();
  std::map<std::int64_t, FakeContact> contacts;
  std::map<std::int64_t, json> hooks;
  std::int64_t next_hook = 1;
  std::vector<std::string> issued;  // tokens
  std::int64_t expires_in = 3600;
  std::set<std::string> revoked;
  // Replaces the answers to the next requests (whatever they are), in order.
  std::deque<http::Response> script;
  // When set, answers instead of the fake's own logic when it returns a status.
  std::function<std::optional<http::Response>(const http::Request&)> intercept;
  bool total_as_int = false;  // contacts' total as an integer rather than a string
  std::string prefix;         // the site's path, which every target must begin with
  std::vector<http::Request> log;

  static std::map<std::string, std::string> query_of(const std::string& target) {
    std::map<std::string, std::string> q;
    const auto at = target.find('?');
    if (at != std::string::npos) {
      for (auto& [k, v] : http::parse_query(target.substr(at + 1)))
        q[k] = v;
    }
    return q;
  }

  http::Response answer(int status, const json& body) const {
    http::Response r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json"}, {"Mautic-Version", "5.1.1"}};
    if (!date.empty()) r.headers.push_back({"Date", date});
    r.body = body.dump();
    return r;
  }
  http::Response error(int status, const std::string& message, const json& type = nullptr) const {
    return answer(status, {{"errors", json::array({{{"code", status},
                                                    {"message", message},
                                                    {"details", json::array()},
                                                    {"type", type}}})}});
  }

  void add_segment(std::int64_t id, const std::string& name, const std::string& alias) {
    segments.push_back({{"id", id}, {"name", name}, {"alias", alias}, {"isPublished", true}});
  }

  // A contact in `segments`, modified at `modified` (UTC "YYYY-MM-DD HH:MM:SS").
  void add_contact(std::int64_t id, const std::string& email, std::set<std::string> in,
                   const std::string& modified = "2026-12-01 10:00:00", json dnc = json::array(),
                   json extra = json::object()) {
    json all = {{"id", id}, {"email", email}, {"firstname", "First" + std::to_string(id)}};
    for (auto& [k, v] : extra.items())
      all[k] = v;
    std::string iso = modified;
    iso[10] = 'T';
    iso += "+00:00";
    json body = {{"id", id},
                 {"isPublished", true},
                 {"dateModified", iso},
                 {"doNotContact", dnc},
                 {"tags", json::array()},
                 {"fields",
                  {{"core", {{"email", {{"alias", "email"}, {"value", email}}}}},
                   {"social", json::array()},
                   {"all", all}}}};
    contacts[id] = FakeContact{body, std::move(in), modified};
  }

  http::Response contacts_page(const std::map<std::string, std::string>& q) {
    const std::string search = q.count("search") ? q.at("search") : "";
    REQUIRE(search.rfind("segment:", 0) == 0);
    const std::string alias = search.substr(8);
    CHECK(q.count("minimal") == 0);
    CHECK(q.at("orderBy") == "id");
    CHECK(q.at("orderByDir") == "ASC");
    CHECK(q.at("start") == "0");
    const std::size_t limit = std::stoul(q.at("limit"));
    std::vector<std::int64_t> match;
    for (auto& [id, c] : contacts) {
      if (!c.segments.count(alias)) continue;
      bool ok = true;
      for (int n = 0; q.count("where[" + std::to_string(n) + "][col]"); ++n) {
        const std::string p = "where[" + std::to_string(n) + "]";
        const std::string col = q.at(p + "[col]"), expr = q.at(p + "[expr]"),
                          val = q.at(p + "[val]");
        if (col == "id" && expr == "gt") {
          ok = ok && id > std::stoll(val);
        } else if (col == "id" && expr == "in") {
          bool found = false;
          std::size_t from = 0;
          while (from <= val.size()) {
            const std::size_t comma = std::min(val.find(',', from), val.size());
            found = found || std::to_string(id) == val.substr(from, comma - from);
            from = comma + 1;
          }
          ok = ok && found;
        } else if (col == "date_modified" && expr == "gte") {
          ok = ok && c.date_modified >= val;
        } else {
          FAIL("unexpected where " << col << " " << expr);
        }
      }
      if (ok) match.push_back(id);
    }
    json page = json::object();
    for (std::size_t i = 0; i < match.size() && i < limit; ++i) {
      json body = contacts.at(match[i]).body;
      if (q.count("select[]")) body = {{"id", match[i]}};
      page[std::to_string(match[i])] = body;
    }
    json total = total_as_int ? json(match.size()) : json(std::to_string(match.size()));
    return answer(200, {{"total", total}, {"contacts", page}});
  }

  http::Response hooks_api(const http::Request& req, const std::string& path) {
    if (req.method == "GET" && path == "/api/hooks") {
      auto q = query_of(req.target);
      json list = json::array();
      const std::size_t start = std::stoul(q["start"]), limit = std::stoul(q["limit"]);
      std::size_t i = 0;
      for (auto& [id, h] : hooks) {
        if (i >= start && i < start + limit) list.push_back(h);
        ++i;
      }
      return answer(200, {{"total", hooks.size()}, {"hooks", list}});
    }
    if (req.method == "POST" && path == "/api/hooks/new") {
      CHECK_FALSE(req.idempotent);
      json b = json::parse(req.body);
      const std::int64_t id = next_hook++;
      b["id"] = id;
      hooks[id] = b;
      return answer(201, {{"hook", b}});
    }
    const std::string rest = path.substr(std::string("/api/hooks/").size());
    const std::int64_t id = std::stoll(rest.substr(0, rest.find('/')));
    if (!hooks.count(id)) return error(404, "Item was not found.");
    if (req.method == "GET") return answer(200, {{"hook", hooks.at(id)}});
    if (req.method == "DELETE" && rest.find("/delete") != std::string::npos) {
      json h = hooks.at(id);
      hooks.erase(id);
      return answer(200, {{"hook", h}});
    }
    FAIL("unexpected hook request " << req.method << " " << path);
    return {};
  }

  http::Response handle(const http::Request& sent) {
    log.push_back(sent);
    REQUIRE(sent.target.rfind(prefix, 0) == 0);
    http::Request req = sent;
    req.target = sent.target.substr(prefix.size());
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (intercept) {
      if (auto r = intercept(req)) return *r;
    }
    if (!script.empty()) {
      http::Response r = script.front();
      script.pop_front();
      return r;
    }
    if (path == "/oauth/v2/token") {
      REQUIRE(oauth);
      std::map<std::string, std::string> form;
      for (auto& [k, v] : http::parse_query(req.body))
        form[k] = v;
      CHECK(form["grant_type"] == "client_credentials");
      if (form["client_id"] != "1_client" || form["client_secret"] != kClientSecret) {
        return answer(400, {{"error", "invalid_client"},
                            {"error_description", "The client credentials are invalid"}});
      }
      issued.push_back("tok-" + std::to_string(issued.size() + 1) + "-secretish");
      return answer(200, {{"access_token", issued.back()},
                          {"expires_in", expires_in},
                          {"token_type", "bearer"},
                          {"scope", ""}});
    }
    const std::string auth(req.header("Authorization"));
    if (oauth) {
      if (issued.empty() || auth != "Bearer " + issued.back() || revoked.count(auth.substr(7))) {
        return error(401, "The access token provided has expired.", "invalid_grant");
      }
    } else if (auth != http::basic_authorization("admin", kPassword)) {
      return error(401, "Authorization denied, invalid credentials.", "access_denied");
    }
    if (path == "/api/segments") {
      auto q = query_of(req.target);
      const std::size_t start = std::stoul(q["start"]), limit = std::stoul(q["limit"]);
      json list = json::array();
      for (std::size_t i = start; i < segments.size() && i < start + limit; ++i)
        list.push_back(segments[i]);
      return answer(200, {{"total", segments.size()}, {"lists", list}});
    }
    if (path == "/api/contacts") return contacts_page(query_of(req.target));
    if (path.rfind("/api/hooks", 0) == 0) return hooks_api(req, path);
    return error(404, "Item was not found.");
  }
};

// The fake as the client's transport.
class FakeTransport final : public http::Client {
 public:
  explicit FakeTransport(FakeMautic& fake) : fake_(fake) {}
  Result<http::Response> send(const http::Request& req) override {
    ++attempts_;
    return fake_.handle(req);
  }
  std::uint64_t attempts() const override { return attempts_; }
  std::uint64_t connections_opened() const override { return 1; }

 private:
  FakeMautic& fake_;
  std::uint64_t attempts_ = 0;
};

// The ids of the people a sink was handed, in order.
inline std::vector<std::string> ids_of(const Collect& sink) {
  std::vector<std::string> out;
  for (const SourcePerson& p : sink.people)
    out.push_back(p.id);
  return out;
}

inline void check_no_secret(const Status& s, const FakeMautic* fake = nullptr) {
  INFO(s.message());
  for (const char* secret : {kPassword, kClientSecret, kHookSecret})
    CHECK(s.message().find(secret) == std::string::npos);
  if (fake != nullptr) {
    for (const std::string& t : fake->issued)
      CHECK(s.message().find(t) == std::string::npos);
  }
}

// Options for the fake: Basic as admin, or OAuth2 as client 1_client; sleeps recorded.
struct Setup {
  FakeMautic fake;
  ManualClock clock{1'796'558'400 * kMicrosPerSecond};  // 2026-12-06 12:00:00 UTC
  std::vector<std::chrono::milliseconds> slept;

  MauticOptions options(bool oauth = false) {
    fake.oauth = oauth;
    MauticOptions o;
    o.base_url = "https://mautic.example";
    if (oauth) {
      o.client_id = "1_client";
      o.client_secret = kClientSecret;
    } else {
      o.username = "admin";
      o.password = kPassword;
    }
    o.clock = &clock;
    o.sleep = [this](std::chrono::milliseconds d) {
      slept.push_back(d);
      clock.advance(d.count() * 1000);
    };
    return o;
  }
  std::unique_ptr<MauticClient> client(MauticOptions o) {
    auto c = MauticClient::create(std::move(o), std::make_unique<FakeTransport>(fake));
    REQUIRE(c.is_ok());
    return std::move(*c);
  }
  std::unique_ptr<MauticClient> client(bool oauth = false) { return client(options(oauth)); }
};

}  // namespace concord::testing
