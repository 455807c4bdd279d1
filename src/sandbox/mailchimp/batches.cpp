// The Mailchimp part's batch subscribe: POST /lists/{id} with up to 500 members, each created or
// updated through the member state machine, with per-member errors in the answer.
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "concord/email.h"
#include "sandbox/mailchimp/member_json.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox {

http::Reply MailchimpSandbox::Impl::batch_subscribe(Ctx& c, const std::string& list_id) {
  json body = c.body();
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  ojson errors = ojson::array();
  if (!body.is_object()) {
    errors.push_back(type_error("", "object", body));
  } else if (!body.contains("members") || body["members"].is_null()) {
    errors.push_back(missing_fields_error({"members"}));
  } else if (!body["members"].is_array()) {
    errors.push_back(type_error("members", "array", body["members"]));
  } else if (body["members"].size() > 500) {
    errors.push_back(field_error("members",
                                 "Up to 500 members may be added or updated with each "
                                 "API call; this request has " +
                                     std::to_string(body["members"].size()) + "."));
  }
  for (const char* k : {"update_existing", "sync_tags"}) {
    if (body.is_object() && body.contains(k) && !body[k].is_boolean()) {
      errors.push_back(type_error(k, "boolean", body[k]));
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
        if (auto p = check_required_new(l, w)) {
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
      if (sync_tags && !is_new) {
        // The item's tags replace the member's: take off those it does not name.
        std::vector<std::uint32_t> keep, current;
        for (const std::string& name : *w.tags)
          keep.push_back(tag_for_name(l, trim(name), false, t));
        for (const MemberTag& mt : m->tags)
          current.push_back(mt.tag_id);
        for (std::uint32_t id : current) {
          if (std::find(keep.begin(), keep.end(), id) == keep.end()) {
            set_member_tag(l, *m, id, false, t);
          }
        }
      }
      add_tags(l, *m, *w.tags, t);
    }
    (is_new ? created_slots : updated_slots).push_back(l.slot_of(*m));
  }
  if (!created_slots.empty() || !updated_slots.empty()) changed();
  // `fields` and `exclude_fields` shape this answer as any other (a partial response).
  const std::size_t error_count = errs.size();
  FieldTree inc, exc;
  const Sel root = root_sel(c, &inc, &exc);
  JsonOut o;
  o.begin_object();
  Sel x;
  for (const auto& [name, slots] :
       {std::pair{"new_members", &created_slots}, std::pair{"updated_members", &updated_slots}}) {
    if (!root.child(name, &x)) continue;
    MemberWriter mw(*account, l, c, x, MemberShape::kBatch);
    o.key(name);
    o.begin_array();
    for (std::uint32_t s : *slots)
      mw.write(o, l.members[s]);
    o.end_array();
  }
  if (root.child("errors", &x)) {
    apply_sel(errs, x);
    o.key("errors");
    o.value(errs);
  }
  for (const auto& [name, n] :
       {std::pair{"total_created", created_slots.size()},
        std::pair{"total_updated", updated_slots.size()}, std::pair{"error_count", error_count}}) {
    if (!root.child(name, &x)) continue;
    o.key(name);
    o.integer(static_cast<std::int64_t>(n));
  }
  if (root.child("_links", &x)) {
    std::string self = c.base() + "/lists/" + l.id;
    ojson links = ojson::array(
        {link("parent", self, "GET", c.schema() + "/Definitions/Lists/Response.json")});
    apply_sel(links, x);
    o.key("_links");
    o.value(links);
  }
  o.end_object();
  return ok_json(c, std::move(o.buf), "Lists/BatchPOST-Response.json");
}

}  // namespace concord::sandbox
