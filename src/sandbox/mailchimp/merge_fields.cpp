// The Mailchimp part's merge-field routes: GET and POST /lists/{id}/merge-fields, and GET, PATCH
// and DELETE of one merge field (a deletion drops the field's values from every member).
#include <algorithm>
#include <cctype>
#include <mutex>
#include <shared_mutex>

#include "sandbox/mailchimp/merge_values.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox {
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
        errors.push_back(type_error(k, "string", *it));
      } else {
        *out = it->get<std::string>();
      }
    }
  };
  auto boolean = [&](const char* k, bool* out) {
    if (auto it = b.find(k); it != b.end()) {
      if (!it->is_boolean()) {
        errors.push_back(type_error(k, "boolean", *it));
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
      errors.push_back(type_error("options", "object", *it));
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
      errors.insert(errors.begin(), missing_fields_error(missing));
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
      std::int64_t count = c.count(), offset = c.offset();
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
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    if (!body.is_object()) {
      return problem_reply(c, schema_problem(ojson::array({type_error("", "object", body)})));
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
    json body = c.body();
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

}  // namespace concord::sandbox
