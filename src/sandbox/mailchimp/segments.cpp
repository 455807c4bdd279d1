// The Mailchimp part's static segments, which are its tags (reference §8, §16.3): GET and POST
// /lists/{id}/segments, GET, PATCH and DELETE one segment, POST /segments/{id} (members_to_add
// and members_to_remove), and the segment's members (GET and POST /segments/{id}/members,
// DELETE /segments/{id}/members/{hash}). A segment is a TagDef of the list and its members are
// the members carrying that tag, so a tag put on a member through /members/{hash}/tags shows
// here, and the other way round. Saved segments (`options` with conditions) are not emulated.
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "concord/email.h"
#include "net/ascii.h"
#include "sandbox/mailchimp/member_json.h"
#include "sandbox/mailchimp/member_query.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

using http::ascii::iequals;

// "A maximum of 500 members can be sent" in each of members_to_add and members_to_remove.
constexpr std::size_t kMaxSegmentBatch = 500;

constexpr std::uint8_t status_bit(MemberStatus s) {
  return static_cast<std::uint8_t>(1u << static_cast<int>(s));
}

// The statuses a segment takes in. member_count counts "active subscribers"; the member listing
// leaves out cleaned, transactional and unsubscribed members. The include_* flags add those
// back to both. Archived contacts are in neither.
std::uint8_t segment_statuses(const Ctx& c, bool listing) {
  std::uint8_t b = status_bit(MemberStatus::kSubscribed);
  if (listing) b |= status_bit(MemberStatus::kPending);
  if (parse_bool_param(c.q("include_cleaned"))) b |= status_bit(MemberStatus::kCleaned);
  if (parse_bool_param(c.q("include_transactional"))) {
    b |= status_bit(MemberStatus::kTransactional);
  }
  if (parse_bool_param(c.q("include_unsubscribed"))) b |= status_bit(MemberStatus::kUnsubscribed);
  return b;
}

// The number of members carrying each tag, counting only `statuses`.
std::unordered_map<std::uint32_t, std::int64_t> member_counts(const List& l,
                                                              std::uint8_t statuses) {
  std::unordered_map<std::uint32_t, std::int64_t> n;
  for (const Member& m : l.members) {
    if (m.dead || m.tags.empty() || ((statuses >> static_cast<int>(m.status)) & 1) == 0) continue;
    for (const MemberTag& t : m.tags)
      ++n[t.tag_id];
  }
  return n;
}

std::string segments_path(const Ctx& c, const List& l) {
  return c.base() + "/lists/" + l.id + "/segments";
}

ojson segment_json(const Ctx& c, const List& l, const TagDef& t, std::int64_t member_count) {
  ojson j = ojson::object();
  j["id"] = t.id;
  j["name"] = t.name;
  j["member_count"] = member_count;
  j["type"] = "static";  // "Static segments are now known as tags"
  j["created_at"] = time_text(t.created_at);
  j["updated_at"] = time_text(t.updated_at);
  j["options"] = ojson{{"match", "any"}, {"conditions", ojson::array()}};
  j["list_id"] = l.id;
  std::string coll = segments_path(c, l);
  std::string self = coll + "/" + std::to_string(t.id);
  std::string def = c.schema() + "/Definitions/Lists/Segments";
  j["_links"] = ojson::array(
      {link("self", self, "GET", def + "/Response.json"),
       link("parent", coll, "GET", def + "/CollectionResponse.json",
            c.schema() + "/Paths/Lists/Segments/Collection.json"),
       link("delete", self, "DELETE"),
       link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"),
       link("members", self + "/members", "GET", def + "/Members/CollectionResponse.json",
            c.schema() + "/Paths/Lists/Segments/Members/Collection.json")});
  return j;
}

// An array of email addresses (static_segment, members_to_add, members_to_remove).
void read_emails(const json& b, const char* key, std::optional<std::vector<std::string>>* out,
                 ojson* errors) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return;
  if (!it->is_array()) {
    errors->push_back(type_error(key, "array", *it));
    return;
  }
  std::vector<std::string> emails;
  for (const json& e : *it) {
    if (!e.is_string()) {
      errors->push_back(type_error(key, "string", e));
      continue;
    }
    emails.push_back(e.get<std::string>());
  }
  *out = std::move(emails);
}

// The body of POST and PATCH /segments: `name` (required by both schemas), and `static_segment`
// or `options`, never both.
struct SegmentBody {
  std::string name;
  std::optional<std::vector<std::string>> emails;  // static_segment
  bool options = false;
};

std::optional<Problem> read_segment(const json& b, bool create, SegmentBody* out) {
  ojson errors = ojson::array();
  if (!b.is_object()) return schema_problem(ojson::array({type_error("", "object", b)}));
  auto it = b.find("name");
  if (it == b.end() || it->is_null()) {
    errors.push_back(missing_fields_error({"name"}));
  } else if (!it->is_string()) {
    errors.push_back(type_error("name", "string", *it));
  } else {
    out->name = trim(it->get<std::string>());
    if (out->name.empty()) errors.push_back(blank_error("name"));
  }
  read_emails(b, "static_segment", &out->emails, &errors);
  if (auto o = b.find("options"); o != b.end() && !o->is_null()) {
    if (!o->is_object()) {
      errors.push_back(type_error("options", "object", *o));
    } else {
      out->options = true;
    }
  }
  if (!errors.empty()) return schema_problem(std::move(errors));
  if (out->options && out->emails) {
    return invalid_resource("The static_segment field cannot be provided with the options field.");
  }
  if (out->options) {
    return invalid_resource(
        "concord-sandbox does not emulate saved segments (\"options\" with conditions); only "
        "static segments (tags) are.");
  }
  if (create && !out->emails) {
    return invalid_resource(
        "Must provide either an \"options\" field or a \"static_segment\" field");
  }
  return std::nullopt;
}

// The member an address names, when it is on the list. Archived contacts are not: a segment
// takes in only contacts of the audience (see segment_statuses).
Member* on_list(List& l, std::string_view email) {
  Member* m = l.find(member_key(normalise_email(email)));
  return m != nullptr && m->status != MemberStatus::kArchived ? m : nullptr;
}

bool has_tag(const Member& m, std::uint32_t id) {
  return std::any_of(m.tags.begin(), m.tags.end(),
                     [id](const MemberTag& t) { return t.tag_id == id; });
}

// The segment a path segment names by its integer id; null when there is none.
TagDef* find_segment(List& l, const std::string& seg) {
  auto id = parse_int64(seg);
  if (!id || *id <= 0 || *id > 0xffffffffLL) return nullptr;
  return l.tag_by_id(static_cast<std::uint32_t>(*id));
}

bool name_taken(const List& l, const std::string& name, std::uint32_t except) {
  return std::any_of(l.tags.begin(), l.tags.end(),
                     [&](const TagDef& t) { return t.id != except && iequals(t.name, name); });
}

// The sandbox's wording: the reference records no answer for a second tag of the same name.
Problem name_exists(const std::string& name) {
  return invalid_resource("A tag or segment named \"" + name + "\" already exists for this list.");
}

// Reads a time filter; a time that cannot be read is ignored, as for members.
Micros time_param(const Ctx& c, const char* name) {
  if (!c.has(name)) return kNoTime;
  auto t = parse_iso8601(c.q(name));
  return t.is_ok() ? *t : kNoTime;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::segments(Ctx& c, const std::string& list_id,
                                             const std::string* segment_id) {
  const std::string& m = c.method;
  if (segment_id == nullptr) {
    if (m == "GET") return list_segments(c, list_id);
    if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    SegmentBody sb;
    if (auto p = read_segment(body, true, &sb)) return problem_reply(c, *p);
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    if (name_taken(l, sb.name, 0)) return problem_reply(c, name_exists(sb.name));
    Micros t = now();
    std::uint32_t id = tag_for_name(l, sb.name, true, t);
    // "Any emails provided that are not present on the list will be ignored."
    for (const std::string& e : *sb.emails) {
      if (Member* mem = on_list(l, e)) set_member_tag(l, *mem, id, true, t);
    }
    changed();
    return ojson_reply(
        c, segment_json(c, l, *l.tag_by_id(id), member_counts(l, segment_statuses(c, false))[id]),
        "Lists/Segments/Response.json");
  }
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    TagDef* t = find_segment(l, *segment_id);
    if (t == nullptr) return problem_reply(c, not_found());
    return ojson_reply(c,
                       segment_json(c, l, *t, member_counts(l, segment_statuses(c, false))[t->id]),
                       "Lists/Segments/Response.json");
  }
  if (m == "POST") return segment_batch(c, list_id, *segment_id);
  if (m == "PATCH") {
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    SegmentBody sb;
    if (auto p = read_segment(body, false, &sb)) return problem_reply(c, *p);
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    TagDef* t = find_segment(l, *segment_id);
    if (t == nullptr) return problem_reply(c, not_found());
    if (name_taken(l, sb.name, t->id)) return problem_reply(c, name_exists(sb.name));
    Micros now_t = now();
    if (sb.name != t->name) {
      t->name = sb.name;
      t->updated_at = now_t;
    }
    if (sb.emails) {
      // The array replaces the segment's members; an empty one empties it.
      std::vector<Member*> wanted;
      for (const std::string& e : *sb.emails) {
        if (Member* mem = on_list(l, e)) wanted.push_back(mem);
      }
      for (Member& mem : l.members) {
        if (mem.dead || !has_tag(mem, t->id)) continue;
        if (std::find(wanted.begin(), wanted.end(), &mem) == wanted.end()) {
          set_member_tag(l, mem, t->id, false, now_t);
        }
      }
      for (Member* mem : wanted)
        set_member_tag(l, *mem, t->id, true, now_t);
    }
    changed();
    return ojson_reply(c,
                       segment_json(c, l, *t, member_counts(l, segment_statuses(c, false))[t->id]),
                       "Lists/Segments/Response.json");
  }
  if (m == "DELETE") {
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    TagDef* t = find_segment(l, *segment_id);
    if (t == nullptr) return problem_reply(c, not_found());
    std::uint32_t id = t->id;
    Micros now_t = now();
    for (Member& mem : l.members) {
      if (!mem.dead) set_member_tag(l, mem, id, false, now_t);
    }
    std::erase_if(l.tags, [id](const TagDef& d) { return d.id == id; });
    ++l.version;
    changed();
    return no_content(c);
  }
  return problem_reply(c, method_not_allowed("GET, POST, PATCH, DELETE"));
}

http::Reply MailchimpSandbox::Impl::list_segments(Ctx& c, const std::string& list_id) {
  std::shared_lock<std::shared_mutex> lock(mu);
  const List& l = *account->find_list(list_id);
  // Every segment is static: type=static lists them all, saved and fuzzy none.
  bool none = false;
  if (c.has("type")) {
    std::string_view type = c.q("type");
    if (type != "saved" && type != "static" && type != "fuzzy") {
      return problem_reply(
          c, schema_problem(ojson::array(
                 {field_error("type",
                              "Data presented is not one of the accepted values: saved, static, "
                              "fuzzy.")})));
    }
    none = type != "static";
  }
  // Both bounds are exclusive ("created after the set time"), as for members.
  Micros since_created = time_param(c, "since_created_at");
  Micros before_created = time_param(c, "before_created_at");
  Micros since_updated = time_param(c, "since_updated_at");
  Micros before_updated = time_param(c, "before_updated_at");
  std::vector<const TagDef*> match;
  for (const TagDef& t : l.tags) {
    if (none) break;
    if (since_created != kNoTime && !(t.created_at > since_created)) continue;
    if (before_created != kNoTime && !(t.created_at < before_created)) continue;
    if (since_updated != kNoTime && !(t.updated_at > since_updated)) continue;
    if (before_updated != kNoTime && !(t.updated_at < before_updated)) continue;
    match.push_back(&t);
  }
  std::int64_t count = c.count(), offset = c.offset();
  std::unordered_map<std::uint32_t, std::int64_t> counts;
  if (offset < static_cast<std::int64_t>(match.size()) && count > 0) {
    counts = member_counts(l, segment_statuses(c, false));
  }
  ojson arr = ojson::array();
  for (std::int64_t i = offset; i < static_cast<std::int64_t>(match.size()) && i < offset + count;
       ++i) {
    const TagDef& t = *match[static_cast<std::size_t>(i)];
    arr.push_back(segment_json(c, l, t, counts[t.id]));
  }
  ojson j = ojson::object();
  j["segments"] = std::move(arr);
  j["list_id"] = l.id;
  j["total_items"] = match.size();
  std::string coll = segments_path(c, l);
  std::string def = c.schema() + "/Definitions/Lists/Segments";
  j["_links"] =
      ojson::array({link("self", coll, "GET", def + "/CollectionResponse.json",
                         c.schema() + "/Paths/Lists/Segments/Collection.json"),
                    link("parent", c.base() + "/lists/" + l.id, "GET",
                         c.schema() + "/Definitions/Lists/Response.json"),
                    link("create", coll, "POST", def + "/Response.json", def + "/POST.json")});
  return ojson_reply(c, std::move(j), "Lists/Segments/CollectionResponse.json");
}

http::Reply MailchimpSandbox::Impl::segment_batch(Ctx& c, const std::string& list_id,
                                                  const std::string& segment_id) {
  json body = c.body();
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  if (!body.is_object()) {
    return problem_reply(c, schema_problem(ojson::array({type_error("", "object", body)})));
  }
  ojson errors = ojson::array();
  std::optional<std::vector<std::string>> to_add, to_remove;
  read_emails(body, "members_to_add", &to_add, &errors);
  read_emails(body, "members_to_remove", &to_remove, &errors);
  for (const auto* v : {&to_add, &to_remove}) {
    if (*v && (*v)->size() > kMaxSegmentBatch) {
      errors.push_back(field_error(v == &to_add ? "members_to_add" : "members_to_remove",
                                   "A maximum of 500 members can be sent."));
    }
  }
  if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
  bool report_non_members =
      faults.read([](const MailchimpFaults& f) { return f.segment_non_member_errors; });

  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  TagDef* t = find_segment(l, segment_id);
  if (t == nullptr) return problem_reply(c, not_found());
  std::uint32_t id = t->id;
  Micros now_t = now();
  std::vector<std::uint32_t> added, removed;
  std::vector<std::string> not_on_list;
  // Adds first, then removes. Only real changes are listed: "each representing a new member that
  // was added", "an existing list member that got deleted from the static segment".
  auto apply = [&](const std::optional<std::vector<std::string>>& emails, bool on,
                   std::vector<std::uint32_t>* out) {
    if (!emails) return;
    for (const std::string& e : *emails) {
      Member* mem = on_list(l, e);
      if (mem == nullptr) {
        not_on_list.push_back(e);
        continue;
      }
      if (set_member_tag(l, *mem, id, on, now_t)) out->push_back(l.slot_of(*mem));
    }
  };
  apply(to_add, true, &added);
  apply(to_remove, false, &removed);
  if (!added.empty() || !removed.empty()) changed();

  ojson errs = ojson::array();
  // "Any emails provided that are not present on the list will be ignored" (the spec); whether
  // they are also reported in `errors` is not recorded, so it is a switch (docs/sandbox.md).
  if (report_non_members && !not_on_list.empty()) {
    ojson e = ojson::object();
    e["email_addresses"] = not_on_list;
    e["error"] = "Email addresses not found on this list.";
    errs.push_back(std::move(e));
  }
  Sel all;
  MemberWriter mw(*account, l, c, all, MemberShape::kBatch);
  JsonOut o;
  o.begin_object();
  for (const auto& [key, slots] :
       {std::pair<const char*, const std::vector<std::uint32_t>*>{"members_added", &added},
        {"members_removed", &removed}}) {
    o.key(key);
    o.begin_array();
    for (std::uint32_t s : *slots)
      mw.write(o, l.members[s]);
    o.end_array();
  }
  o.key("errors");
  o.value(errs);
  o.key("total_added");
  o.integer(static_cast<std::int64_t>(added.size()));
  o.key("total_removed");
  o.integer(static_cast<std::int64_t>(removed.size()));
  o.key("error_count");
  o.integer(static_cast<std::int64_t>(errs.size()));
  o.key("_links");
  std::string self = segments_path(c, l) + "/" + std::to_string(id);
  o.value(ojson::array(
      {link("parent", self, "GET", c.schema() + "/Definitions/Lists/Segments/Response.json")}));
  o.end_object();
  return ok_json(c, std::move(o.buf), "Lists/Segments/BatchPOST-Response.json");
}

http::Reply MailchimpSandbox::Impl::segment_members(Ctx& c, const std::string& list_id,
                                                    const std::string& segment_id,
                                                    const std::string* seg) {
  const std::string& m = c.method;
  if (seg != nullptr) {
    if (m != "DELETE") return problem_reply(c, method_not_allowed("DELETE"));
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    TagDef* t = find_segment(l, segment_id);
    // Hash only (§16.6); a member not in the segment is not a resource of it.
    Member* mem = t != nullptr ? resolve_hash(l, *seg) : nullptr;
    if (mem == nullptr || !set_member_tag(l, *mem, t->id, false, now())) {
      return problem_reply(c, not_found());
    }
    changed();
    return no_content(c);
  }
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    TagDef* t = find_segment(l, segment_id);
    if (t == nullptr) return problem_reply(c, not_found());
    MemberQuery q;
    q.tag_id = t->id;
    q.statuses = segment_statuses(c, true);
    auto slots = run_query(l, q);
    std::int64_t count = c.count(), offset = c.offset();
    FieldTree inc, exc;
    Sel root = root_sel(c, &inc, &exc);
    JsonOut o;
    o.begin_object();
    Sel ms, x;
    if (root.child("members", &ms)) {
      o.key("members");
      o.begin_array();
      MemberWriter mw(*account, l, c, ms, MemberShape::kSegment);
      auto end = std::min<std::int64_t>(offset + count, static_cast<std::int64_t>(slots->size()));
      for (std::int64_t i = offset; i < end; ++i)
        mw.write(o, l.members[(*slots)[static_cast<std::size_t>(i)]]);
      o.end_array();
    }
    if (root.child("total_items", &x)) {
      o.key("total_items");
      o.integer(static_cast<std::int64_t>(slots->size()));
    }
    if (root.child("_links", &x)) {
      std::string self = segments_path(c, l) + "/" + std::to_string(t->id);
      std::string def = c.schema() + "/Definitions/Lists/Segments";
      ojson links = ojson::array(
          {link("self", self + "/members", "GET", def + "/Members/CollectionResponse.json",
                c.schema() + "/Paths/Lists/Segments/Members/Collection.json"),
           link("parent", self, "GET", def + "/Response.json"),
           link("create", self + "/members", "POST",
                c.schema() + "/Definitions/Lists/Members/"
                             "Response.json",
                def + "/Members/POST.json")});
      apply_sel(links, x);
      o.key("_links");
      o.value(links);
    }
    o.end_object();
    return ok_json(c, std::move(o.buf), "Lists/Segments/Members/CollectionResponse.json");
  }
  if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
  json body = c.body();
  if (body.is_discarded()) return problem_reply(c, json_parse_problem());
  ojson errors = ojson::array();
  std::string email;
  if (!body.is_object()) {
    errors.push_back(type_error("", "object", body));
  } else if (auto it = body.find("email_address"); it == body.end() || it->is_null()) {
    errors.push_back(missing_fields_error({"email_address"}));
  } else if (!it->is_string()) {
    errors.push_back(type_error("email_address", "string", *it));
  } else {
    email = it->get<std::string>();
  }
  if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
  std::unique_lock<std::shared_mutex> lock(mu);
  List& l = *account->find_list(list_id);
  TagDef* t = find_segment(l, segment_id);
  if (t == nullptr) return problem_reply(c, not_found());
  // Only contacts of the audience can join a segment, as only they can be tagged (§16.1).
  Member* mem = on_list(l, email);
  if (mem == nullptr) return problem_reply(c, not_found());
  if (set_member_tag(l, *mem, t->id, true, now())) changed();
  return ok_json(c, member_json(c, l, *mem, false), "Lists/Members/Response.json");
}

}  // namespace concord::sandbox
