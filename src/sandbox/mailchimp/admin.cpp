// The Mailchimp part's admin routes under /_sandbox/: reset, state, clock, faults, the member
// hooks the API cannot do, and the webhook delivery log (docs/sandbox.md "Admin routes").
#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "sandbox/http_helpers.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/mailchimp/seed.h"
#include "sandbox/mailchimp/state.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {

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
  LoadedState loaded;
  if (is_blank(body)) {
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
  faults.clear();
  deliveries.clear();
  ojson j = ojson::object();
  j["lists"] = lists;
  j["members"] = members;
  return ok_json(c, j.dump());
}

http::Reply MailchimpSandbox::Impl::admin_clock(Ctx& c) {
  if (c.method == "POST") {
    json body = c.body();
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
    json body = c.body();
    if (body.is_discarded() || !body.is_object()) return problem_reply(c, json_parse_problem());
    std::string err = faults.configure(body);
    if (!err.empty()) return problem_reply(c, invalid_resource(err));
  } else if (c.method != "GET") {
    return problem_reply(c, method_not_allowed("GET, POST"));
  }
  return ok_json(c, faults.to_json().dump());
}

http::Reply MailchimpSandbox::Impl::admin_deliveries(Ctx& c) {
  if (c.method == "DELETE") {
    deliveries.clear_log();
    return no_content(c);
  }
  if (c.method != "GET") return problem_reply(c, method_not_allowed("GET, DELETE"));
  return ok_json(c, deliveries.to_json().dump());
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
    for (const char* k : {"merge_fields", "email_type", "language", "vip", "interests"}) {
      if (body.contains(k)) w_body[k] = body[k];
    }
    // Tags as the web app sets them: [{"name": "vip", "status": "active"|"inactive"}].
    std::vector<std::pair<std::string, bool>> tag_ops;
    if (auto it = body.find("tags"); it != body.end()) {
      if (!it->is_array()) return problem_reply(c, invalid_resource("tags: expected an array"));
      for (const json& t : *it) {
        std::string name = t.is_object() ? t.value("name", "") : "";
        std::string status = t.is_object() ? t.value("status", "") : "";
        if (trim(name).empty() || (status != "active" && status != "inactive")) {
          return problem_reply(c, invalid_resource("tags: expected [{\"name\": …, \"status\": "
                                                   "\"active\" or \"inactive\"}]"));
        }
        tag_ops.emplace_back(trim(name), status == "active");
      }
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
    Micros t = now();
    for (const auto& [name, active] : tag_ops)
      set_member_tag(*l, *m, tag_for_name(*l, name, active, t), active, t);
    if (to_archive && m->status != MemberStatus::kArchived) archive(*l, *m, src);
    m = l->find(w.email ? member_key(normalise_email(*w.email)) : m->key);
  } else {
    return problem_reply(
        c, invalid_resource("action: expected unsubscribe, clean, confirm, subscribe or update"));
  }
  changed();
  return ok_json(c, m ? member_json(c, *l, *m, false) : "{}");
}

}  // namespace concord::sandbox
