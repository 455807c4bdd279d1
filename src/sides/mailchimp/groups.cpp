// Tags (static segments) and interests: finding and creating them by name.
#include "concord/mailchimp_client.h"

#include <nlohmann/json.hpp>

#include "sides/mailchimp/client_impl.h"

namespace concord {
namespace {

// The client's insides (client_impl.h): its helpers and constants.
using namespace mailchimp;  // NOLINT(google-build-using-namespace)

}  // namespace

Result<Tag> MailchimpClient::find_tag(std::string_view list_id, std::string_view name) {
  const std::string wanted = lower(std::string(name));
  std::vector<std::string> names;  // the audience's tags, for the error
  for (std::size_t offset = 0;; offset += kPageSize) {
    Result<json> j = impl_->get_json(
        "/lists/" + http::url_encode(list_id) +
            "/segments?type=static&count=1000&offset=" + std::to_string(offset) + "&fields=" +
            http::url_encode("segments.id,segments.name,segments.member_count,total_items"),
        "listing the audience's tags");
    if (!j) return j.status();
    auto segments = j->find("segments");
    if (segments == j->end() || !segments->is_array()) {
      return Status::unavailable("listing the audience's tags: no \"segments\" array");
    }
    for (const json& s : *segments) {
      if (!s.is_object()) continue;
      Tag t = parse_tag(s);
      if (t.id <= 0) continue;  // not a segment Mailchimp could take members into
      if (lower(t.name) == wanted) return t;
      names.push_back(std::move(t.name));
    }
    // Paged until the total is reached; a short page ends it too, should the total be wrong
    // or missing.
    const std::int64_t total = integer(*j, "total_items", -1);
    const std::size_t seen = offset + segments->size();
    if (segments->size() < kPageSize || (total >= 0 && seen >= static_cast<std::size_t>(total))) {
      break;
    }
  }
  return Status::not_found("the Mailchimp audience has no tag named \"" + std::string(name) +
                           "\" (its tags: " + some_names(names) + ")");
}

Result<Tag> MailchimpClient::create_tag(std::string_view list_id, std::string_view name) {
  constexpr std::string_view what = "creating a tag";
  json body = {{"name", std::string(name)}, {"static_segment", json::array()}};
  Result<http::Response> r =
      impl_->call("POST", "/lists/" + http::url_encode(list_id) + "/segments",
                  body.dump(-1, ' ', false, json::error_handler_t::replace), /*idempotent=*/false);
  if (!r || r->status >= 500) {
    // The POST creates, so it is not sent again; it may have been carried out without our
    // hearing of it. The audience's tags say whether it was.
    if (Result<Tag> made = find_tag(list_id, name)) return made;
    if (!r) return r.status().with_context(what);
  }
  if (r->status != 200) return api_status(*r, what);
  Result<json> j = parse_json(*r, what);
  if (!j) return j.status();
  Tag t = parse_tag(*j);
  if (t.id <= 0) return Status::unavailable(std::string(what) + ": the answer has no id");
  return t;
}

Result<Interest> MailchimpClient::find_interest(std::string_view list_id, std::string_view category,
                                                std::string_view interest) {
  // count=1000 everywhere: the default of 10 hides the rest, and an audience has at
  // most 60 interests.
  const std::string list = "/lists/" + http::url_encode(list_id) + "/interest-categories";
  Result<json> cats = impl_->get_json(
      list + "?count=1000&fields=" + http::url_encode("categories.id,categories.title,total_items"),
      "listing the audience's interest categories");
  if (!cats) return cats.status();
  auto all = cats->find("categories");
  if (all == cats->end() || !all->is_array()) {
    return Status::unavailable(
        "listing the audience's interest categories: no \"categories\" array");
  }
  const std::string wanted_category = lower(std::string(category));
  Interest found;
  std::vector<std::string> titles;
  for (const json& c : *all) {
    if (!c.is_object()) continue;
    std::string id = text(c, "id"), title = text(c, "title");
    if (id.empty()) continue;
    if (lower(title) == wanted_category) {
      found.category_id = std::move(id);
      found.category_title = std::move(title);
      break;
    }
    titles.push_back(std::move(title));
  }
  if (found.category_id.empty()) {
    return Status::not_found("the Mailchimp audience has no interest category titled \"" +
                             std::string(category) + "\" (its categories: " + some_names(titles) +
                             ")");
  }
  Result<json> ints = impl_->get_json(
      list + "/" + http::url_encode(found.category_id) + "/interests?count=1000&fields=" +
          http::url_encode("interests.id,interests.name,total_items"),
      "listing the interests of a category");
  if (!ints) return ints.status();
  auto interests = ints->find("interests");
  if (interests == ints->end() || !interests->is_array()) {
    return Status::unavailable("listing the interests of a category: no \"interests\" array");
  }
  const std::string wanted = lower(std::string(interest));
  std::vector<std::string> names;
  for (const json& i : *interests) {
    if (!i.is_object()) continue;
    std::string id = text(i, "id"), name = text(i, "name");
    if (id.empty()) continue;
    if (lower(name) == wanted) {
      found.id = std::move(id);
      found.name = std::move(name);
      return found;
    }
    names.push_back(std::move(name));
  }
  return Status::not_found("the Mailchimp interest category \"" + found.category_title +
                           "\" has no interest named \"" + std::string(interest) +
                           "\" (its interests: " + some_names(names) + ")");
}

}  // namespace concord
