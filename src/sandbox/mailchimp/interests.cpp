// The Mailchimp part's interest categories and interests, the web app's "groups" (reference §15):
// GET and POST /lists/{id}/interest-categories, GET, PATCH and DELETE one category, and the same
// for a category's /interests. Members' `interests` maps are keyed by these interests' ids
// (member_body.cpp reads them, member_json.cpp writes them, webhooks.cpp sends their names).
#include <array>
#include <bit>
#include <mutex>
#include <shared_mutex>

#include "net/ascii.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox {
namespace {

using http::ascii::iequals;

std::string categories_path(const Ctx& c, const List& l) {
  return c.base() + "/lists/" + l.id + "/interest-categories";
}

ojson category_json(const Ctx& c, const List& l, const InterestCategory& cat) {
  ojson j = ojson::object();
  j["list_id"] = l.id;
  j["id"] = cat.id;
  j["title"] = cat.title;
  j["display_order"] = cat.display_order;
  j["type"] = category_type_name(cat.type);
  std::string coll = categories_path(c, l);
  std::string self = coll + "/" + cat.id;
  std::string def = c.schema() + "/Definitions/Lists/InterestCategories";
  j["_links"] = ojson::array(
      {link("self", self, "GET", def + "/Response.json"),
       link("parent", coll, "GET", def + "/CollectionResponse.json",
            c.schema() + "/Paths/Lists/InterestCategories/Collection.json"),
       link("delete", self, "DELETE"),
       link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"),
       link("interests", self + "/interests", "GET", def + "/Interests/CollectionResponse.json",
            c.schema() + "/Paths/Lists/InterestCategories/Interests/Collection.json")});
  return j;
}

ojson interest_json(const Ctx& c, const List& l, const Interest& i, std::int64_t subscribers) {
  ojson j = ojson::object();
  j["category_id"] = i.category_id;
  j["list_id"] = l.id;
  j["id"] = i.id;
  j["name"] = i.name;
  // A string in both spec versions, unlike every other count (reference §15.2).
  j["subscriber_count"] = std::to_string(subscribers);
  j["display_order"] = i.display_order;
  std::string coll = categories_path(c, l) + "/" + i.category_id + "/interests";
  std::string self = coll + "/" + i.id;
  std::string def = c.schema() + "/Definitions/Lists/InterestCategories/Interests";
  j["_links"] =
      ojson::array({link("self", self, "GET", def + "/Response.json"),
                    link("parent", coll, "GET", def + "/CollectionResponse.json",
                         c.schema() + "/Paths/Lists/InterestCategories/Interests/Collection.json"),
                    link("delete", self, "DELETE"),
                    link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json")});
  return j;
}

// Subscribed members in each group, by bit: what subscriber_count counts.
std::array<std::int64_t, 64> subscriber_counts(const List& l) {
  std::array<std::int64_t, 64> n{};
  for (const Member& m : l.members) {
    if (m.dead || m.status != MemberStatus::kSubscribed) continue;
    for (std::uint64_t bits = m.interests; bits != 0; bits &= bits - 1)
      ++n[static_cast<std::size_t>(std::countr_zero(bits))];
  }
  return n;
}

ojson collection_links(const std::string& coll, const std::string& parent,
                       const std::string& parent_schema, const std::string& def,
                       const std::string& paths) {
  return ojson::array({link("self", coll, "GET", def + "/CollectionResponse.json", paths),
                       link("parent", parent, "GET", parent_schema),
                       link("create", coll, "POST", def + "/Response.json", def + "/POST.json")});
}

// Reads `display_order` (an integer) into *out.
void read_display_order(const json& b, int* out, ojson* errors) {
  auto it = b.find("display_order");
  if (it == b.end() || it->is_null()) return;
  if (!it->is_number_integer()) {
    errors->push_back(type_error("display_order", "integer", *it));
    return;
  }
  *out = it->get<int>();
}

// Reads a category body. Both the POST and the PATCH schema require `title` and `type`.
ojson read_category(const json& b, InterestCategory* cat) {
  ojson errors = ojson::array();
  if (!b.is_object()) {
    errors.push_back(type_error("", "object", b));
    return errors;
  }
  std::vector<std::string> missing;
  for (const char* k : {"title", "type"}) {
    auto it = b.find(k);
    if (it == b.end() || it->is_null()) missing.push_back(k);
  }
  if (!missing.empty()) errors.push_back(missing_fields_error(missing));
  if (auto it = b.find("title"); it != b.end() && !it->is_null()) {
    if (!it->is_string()) {
      errors.push_back(type_error("title", "string", *it));
    } else {
      cat->title = trim(it->get<std::string>());
      if (cat->title.empty()) errors.push_back(blank_error("title"));
    }
  }
  if (auto it = b.find("type"); it != b.end() && !it->is_null()) {
    auto t = it->is_string() ? parse_category_type(it->get<std::string>()) : std::nullopt;
    if (!t) {
      errors.push_back(field_error(
          "type",
          "Data presented is not one of the accepted values: checkboxes, dropdown, radio, "
          "hidden."));
    } else {
      cat->type = *t;
    }
  }
  read_display_order(b, &cat->display_order, &errors);
  return errors;
}

// Reads an interest body. Both the POST and the PATCH schema require `name`.
ojson read_interest(const json& b, Interest* i) {
  ojson errors = ojson::array();
  if (!b.is_object()) {
    errors.push_back(type_error("", "object", b));
    return errors;
  }
  auto it = b.find("name");
  if (it == b.end() || it->is_null()) {
    errors.push_back(missing_fields_error({"name"}));
  } else if (!it->is_string()) {
    errors.push_back(type_error("name", "string", *it));
  } else {
    i->name = trim(it->get<std::string>());
    if (i->name.empty()) errors.push_back(blank_error("name"));
  }
  read_display_order(b, &i->display_order, &errors);
  return errors;
}

// The refusal of a second category title, or a second interest name in a category, on a list
// (the sandbox's wording: the reference records none).
Problem already_exists(const std::string& name) {
  return invalid_resource("Cannot add \"" + name + "\" because it already exists on the list.");
}

}  // namespace

http::Reply MailchimpSandbox::Impl::interest_categories(Ctx& c, const std::string& list_id,
                                                        const std::string* category_id) {
  const std::string& m = c.method;
  if (category_id == nullptr) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      const List& l = *account->find_list(list_id);
      std::vector<const InterestCategory*> match;
      for (const InterestCategory* cat : l.ordered_categories()) {
        if (c.has("type") && category_type_name(cat->type) != c.q("type")) continue;
        match.push_back(cat);
      }
      std::int64_t count = c.count(), offset = c.offset();
      ojson arr = ojson::array();
      for (std::int64_t i = offset;
           i < static_cast<std::int64_t>(match.size()) && i < offset + count; ++i) {
        arr.push_back(category_json(c, l, *match[static_cast<std::size_t>(i)]));
      }
      ojson j = ojson::object();
      j["list_id"] = l.id;
      j["categories"] = std::move(arr);
      j["total_items"] = match.size();
      j["_links"] =
          collection_links(categories_path(c, l), c.base() + "/lists/" + l.id,
                           c.schema() + "/Definitions/Lists/Response.json",
                           c.schema() + "/Definitions/Lists/InterestCategories",
                           c.schema() + "/Paths/Lists/InterestCategories/Collection.json");
      return ojson_reply(c, std::move(j), "Lists/InterestCategories/CollectionResponse.json");
    }
    if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    InterestCategory cat;
    ojson errors = read_category(body, &cat);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    for (const InterestCategory& other : l.categories) {
      if (iequals(other.title, cat.title)) return problem_reply(c, already_exists(cat.title));
    }
    cat.id = account->new_group_id(l);
    cat.grouping_id = account->next_grouping_id++;
    l.categories.push_back(cat);
    changed();
    return ojson_reply(c, category_json(c, l, l.categories.back()),
                       "Lists/InterestCategories/Response.json");
  }
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    const List& l = *account->find_list(list_id);
    const InterestCategory* cat = l.category(*category_id);
    if (cat == nullptr) return problem_reply(c, not_found());
    return ojson_reply(c, category_json(c, l, *cat), "Lists/InterestCategories/Response.json");
  }
  if (m == "PATCH") {
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    InterestCategory* cat = l.category(*category_id);
    if (cat == nullptr) return problem_reply(c, not_found());
    InterestCategory updated = *cat;
    ojson errors = read_category(body, &updated);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    for (const InterestCategory& other : l.categories) {
      if (other.id != cat->id && iequals(other.title, updated.title)) {
        return problem_reply(c, already_exists(updated.title));
      }
    }
    *cat = std::move(updated);
    changed();
    return ojson_reply(c, category_json(c, l, *cat), "Lists/InterestCategories/Response.json");
  }
  if (m == "DELETE") {
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    if (l.category(*category_id) == nullptr) return problem_reply(c, not_found());
    // The category's interests go with it, and so do the members' places in them.
    std::uint64_t bits = 0;
    std::erase_if(l.interests, [&](const Interest& i) {
      if (i.category_id != *category_id) return false;
      bits |= std::uint64_t{1} << i.bit;
      return true;
    });
    l.clear_interest_bits(bits);
    std::erase_if(l.categories,
                  [&](const InterestCategory& cat) { return cat.id == *category_id; });
    ++l.version;
    changed();
    return no_content(c);
  }
  return problem_reply(c, method_not_allowed("GET, PATCH, DELETE"));
}

http::Reply MailchimpSandbox::Impl::interests(Ctx& c, const std::string& list_id,
                                              const std::string& category_id,
                                              const std::string* interest_id) {
  const std::string& m = c.method;
  if (interest_id == nullptr) {
    if (m == "GET") {
      std::shared_lock<std::shared_mutex> lock(mu);
      const List& l = *account->find_list(list_id);
      if (l.category(category_id) == nullptr) return problem_reply(c, not_found());
      std::vector<const Interest*> all = l.ordered_interests(category_id);
      std::int64_t count = c.count(), offset = c.offset();
      std::array<std::int64_t, 64> subscribers{};
      if (offset < static_cast<std::int64_t>(all.size()) && count > 0) {
        subscribers = subscriber_counts(l);
      }
      ojson arr = ojson::array();
      for (std::int64_t i = offset; i < static_cast<std::int64_t>(all.size()) && i < offset + count;
           ++i) {
        const Interest& in = *all[static_cast<std::size_t>(i)];
        arr.push_back(interest_json(c, l, in, subscribers[in.bit]));
      }
      std::string cat_path = categories_path(c, l) + "/" + category_id;
      ojson j = ojson::object();
      j["interests"] = std::move(arr);
      j["list_id"] = l.id;
      j["category_id"] = category_id;
      j["total_items"] = all.size();
      j["_links"] = collection_links(
          cat_path + "/interests", cat_path,
          c.schema() + "/Definitions/Lists/InterestCategories/Response.json",
          c.schema() + "/Definitions/Lists/InterestCategories/Interests",
          c.schema() + "/Paths/Lists/InterestCategories/Interests/Collection.json");
      return ojson_reply(c, std::move(j),
                         "Lists/InterestCategories/Interests/CollectionResponse.json");
    }
    if (m != "POST") return problem_reply(c, method_not_allowed("GET, POST"));
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    {
      std::shared_lock<std::shared_mutex> lock(mu);
      if (account->find_list(list_id)->category(category_id) == nullptr) {
        return problem_reply(c, not_found());
      }
    }
    Interest in;
    ojson errors = read_interest(body, &in);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    if (l.category(category_id) == nullptr) return problem_reply(c, not_found());
    for (const Interest& other : l.interests) {
      if (other.category_id == category_id && iequals(other.name, in.name)) {
        return problem_reply(c, already_exists(in.name));
      }
    }
    int bit = l.free_interest_bit();
    if (bit < 0) {
      return problem_reply(
          c,
          invalid_resource("Cannot have more than 60 interests per list (Across all categories)"));
    }
    in.id = account->new_group_id(l);
    in.category_id = category_id;
    in.bit = static_cast<std::uint8_t>(bit);
    l.interests.push_back(in);
    changed();
    return ojson_reply(c, interest_json(c, l, l.interests.back(), 0),
                       "Lists/InterestCategories/Interests/Response.json");
  }
  auto find = [&](List& l) -> Interest* {
    Interest* i = l.interest(*interest_id);
    return i != nullptr && i->category_id == category_id ? i : nullptr;
  };
  if (m == "GET") {
    std::shared_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Interest* in = find(l);
    if (in == nullptr) return problem_reply(c, not_found());
    return ojson_reply(c, interest_json(c, l, *in, subscriber_counts(l)[in->bit]),
                       "Lists/InterestCategories/Interests/Response.json");
  }
  if (m == "PATCH") {
    json body = c.body();
    if (body.is_discarded()) return problem_reply(c, json_parse_problem());
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Interest* in = find(l);
    if (in == nullptr) return problem_reply(c, not_found());
    Interest updated = *in;
    ojson errors = read_interest(body, &updated);
    if (!errors.empty()) return problem_reply(c, schema_problem(std::move(errors)));
    for (const Interest& other : l.interests) {
      if (other.id != in->id && other.category_id == category_id &&
          iequals(other.name, updated.name)) {
        return problem_reply(c, already_exists(updated.name));
      }
    }
    *in = std::move(updated);
    changed();
    return ojson_reply(c, interest_json(c, l, *in, subscriber_counts(l)[in->bit]),
                       "Lists/InterestCategories/Interests/Response.json");
  }
  if (m == "DELETE") {
    std::unique_lock<std::shared_mutex> lock(mu);
    List& l = *account->find_list(list_id);
    Interest* in = find(l);
    if (in == nullptr) return problem_reply(c, not_found());
    l.clear_interest_bits(std::uint64_t{1} << in->bit);
    l.interests.erase(l.interests.begin() + (in - l.interests.data()));
    ++l.version;
    changed();
    return no_content(c);
  }
  return problem_reply(c, method_not_allowed("GET, PATCH, DELETE"));
}

}  // namespace concord::sandbox
