// The Mailchimp part's member routes: reading (GET /lists/{id}/members with its filters, paging
// and `fields`; GET one member), writing (POST, PUT, PATCH, DELETE, delete-permanent) and member
// tags. The writes go through the state machine of member_states.cpp.
#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "concord/email.h"
#include "net/ascii.h"
#include "sandbox/mailchimp/member_json.h"
#include "sandbox/mailchimp/member_query.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

// The group filter of GET members: the spec says interest_category_id, interest_ids (a
// comma-separated list of the category's interests) and interest_match go together.
std::optional<Problem> read_interest_filter(const Ctx& c, const List& l, MemberQuery* q) {
  bool any = c.has("interest_category_id") || c.has("interest_ids") || c.has("interest_match");
  if (!any) return std::nullopt;
  if (!c.has("interest_category_id") || !c.has("interest_ids") || !q->interest_match) {
    return invalid_resource(
        "interest_category_id, interest_ids and interest_match must be used together.");
  }
  std::string category(c.q("interest_category_id"));
  if (l.category(category) == nullptr) {
    return invalid_resource("Invalid interest category ID: '" + category + "'.");
  }
  std::string_view ids = c.q("interest_ids");
  while (!ids.empty()) {
    std::size_t comma = ids.find(',');
    std::string id = trim(ids.substr(0, comma));
    ids = comma == std::string_view::npos ? std::string_view() : ids.substr(comma + 1);
    if (id.empty()) continue;
    const Interest* i = l.interest(id);
    if (i == nullptr || i->category_id != category) {
      return invalid_resource("Invalid interest ID: '" + id + "'.");
    }
    q->interest_mask |= std::uint64_t{1} << i->bit;
  }
  return std::nullopt;
}

}  // namespace

std::string MailchimpSandbox::Impl::member_json(const Ctx& c, const List& l, const Member& m,
                                                bool use_fields) const {
  FieldTree inc, exc;
  Sel s;
  if (use_fields) s = root_sel(c, &inc, &exc);
  MemberWriter mw(*account, l, c, s, MemberShape::kFull);
  JsonOut o;
  mw.write(o, m);
  return std::move(o.buf);
}

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
  if (c.has("interest_match")) {
    std::string_view im = c.q("interest_match");
    if (im == "any") {
      q.interest_match = InterestMatch::kAny;
    } else if (im == "all") {
      q.interest_match = InterestMatch::kAll;
    } else if (im == "none") {
      q.interest_match = InterestMatch::kNone;
    } else {
      errors.push_back(field_error("interest_match",
                                   "Data presented is not one of the accepted values: any, all, "
                                   "none."));
    }
  }
  if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
  if (auto p = read_interest_filter(c, l, &q)) return problem_reply(c, *p);
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
  q.unique_email_id = http::ascii::to_lower(c.q("unique_email_id"));
  q.archived_in_listing =
      faults.read([](const MailchimpFaults& f) { return f.archived_in_listing; });
  std::int64_t count = c.count(), offset = c.offset();
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
    MemberWriter mw(*account, l, c, ms, MemberShape::kFull);
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

Member* MailchimpSandbox::Impl::resolve_hash(List& l, const std::string& seg) {
  MemberKey key;
  if (!parse_hex16(seg, &key.bytes)) return nullptr;
  return l.find(key);
}

http::Reply MailchimpSandbox::Impl::get_member(Ctx& c, const std::string& list_id,
                                               const std::string& seg) {
  std::shared_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  Member* m = resolve(l, seg);
  if (m == nullptr) return problem_reply(c, not_found());
  return ok_json(c, member_json(c, l, *m, true), "Lists/Members/Response.json");
}

http::Reply MailchimpSandbox::Impl::post_member(Ctx& c, const std::string& list_id) {
  json body = c.body();
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
    if (w.tags) add_tags(l, *m, *w.tags, now());
    changed();
    return ok_json(c, member_json(c, l, *m, false), "Lists/Members/Response.json");
  }
  if (!skip) {
    if (auto p = check_required_new(l, w)) return problem_reply(c, *p);
  }
  Member& created = create_member(l, w, *w.status, Source::kApi, "API - Generic");
  if (created.status == MemberStatus::kSubscribed)
    fire_member(l, kEvSubscribe, Source::kApi, created);
  changed();
  return ok_json(c, member_json(c, l, created, false), "Lists/Members/Response.json");
}

http::Reply MailchimpSandbox::Impl::put_or_patch_member(Ctx& c, const std::string& list_id,
                                                        const std::string& seg, bool put) {
  json body = c.body();
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
    if (auto p = check_required_new(l, w)) return problem_reply(c, *p);
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
  Member* m = resolve(l, seg);
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
  Member* m = resolve_hash(l, seg);  // hash only (§16.6)
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
    Member* m = resolve(l, seg);
    if (m == nullptr) return problem_reply(c, not_found());
    std::int64_t count = c.count(), offset = c.offset();
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
  json body = c.body();
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  ojson errors = ojson::array();
  std::vector<std::pair<std::string, bool>> ops;
  if (!body.is_object()) {
    errors.push_back(type_error("", "object", body));
  } else if (!body.contains("tags")) {
    errors.push_back(field_error("", "Required fields were not provided: tags"));
  } else if (!body["tags"].is_array()) {
    errors.push_back(type_error("tags", "array", body["tags"]));
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
  // Hash only: the spec does not let this operation take an email or a contact_id (§16.6).
  Member* m = resolve_hash(l, seg);
  if (m == nullptr) return problem_reply(c, not_found());
  bool changed_any = false;
  Micros t = now();
  for (const auto& [name, active] : ops) {
    if (name.empty()) continue;
    changed_any = set_member_tag(l, *m, tag_for_name(l, name, active, t), active, t) || changed_any;
  }
  if (changed_any) changed();
  return no_content(c);
}

}  // namespace concord::sandbox
