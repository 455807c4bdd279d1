// The Mailchimp part's list routes: GET /lists, GET /lists/{id} (with stats counted from the
// members) and GET /lists/{id}/tag-search.
#include <algorithm>
#include <shared_mutex>

#include "net/ascii.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

ojson list_json(const Ctx& c, const List& l, bool total_contacts) {
  ojson j = ojson::object();
  auto setting = [&](const char* k, ojson def) -> ojson {
    auto it = l.settings.find(k);
    return it != l.settings.end() ? ojson(*it) : def;
  };
  j["id"] = l.id;
  j["web_id"] = l.web_id;
  j["name"] = l.name;
  j["contact"] = setting("contact", ojson{{"company", ""},
                                          {"address1", ""},
                                          {"address2", ""},
                                          {"city", ""},
                                          {"state", ""},
                                          {"zip", ""},
                                          {"country", "US"},
                                          {"phone", ""}});
  j["permission_reminder"] = setting("permission_reminder", "");
  j["use_archive_bar"] = setting("use_archive_bar", true);
  j["campaign_defaults"] =
      setting("campaign_defaults",
              ojson{{"from_name", ""}, {"from_email", ""}, {"subject", ""}, {"language", "en"}});
  j["notify_on_subscribe"] = setting("notify_on_subscribe", "");
  j["notify_on_unsubscribe"] = setting("notify_on_unsubscribe", "");
  j["date_created"] = time_text(l.date_created);
  j["list_rating"] = setting("list_rating", 0);
  j["email_type_option"] = setting("email_type_option", false);
  j["subscribe_url_short"] = setting("subscribe_url_short", "http://eepurl.com/sandbox");
  j["subscribe_url_long"] =
      setting("subscribe_url_long", "https://sandbox." + c.dc + ".list-manage.com/subscribe?u=" +
                                        "0000000000000000000000000&id=" + l.id);
  j["beamer_address"] = setting("beamer_address", c.dc + "-" + l.id + "@inbound.mailchimp.com");
  j["visibility"] = setting("visibility", "prv");
  j["double_optin"] = setting("double_optin", false);
  j["has_welcome"] = setting("has_welcome", false);
  j["marketing_permissions"] = setting("marketing_permissions", false);
  j["modules"] = ojson::array();
  ojson st = ojson::object();
  auto cnt = [&](MemberStatus s) { return l.counts[static_cast<int>(s)]; };
  st["member_count"] = cnt(MemberStatus::kSubscribed);
  if (total_contacts) st["total_contacts"] = l.live_count();
  st["unsubscribe_count"] = cnt(MemberStatus::kUnsubscribed);
  st["cleaned_count"] = cnt(MemberStatus::kCleaned);
  st["member_count_since_send"] = cnt(MemberStatus::kSubscribed);
  st["unsubscribe_count_since_send"] = cnt(MemberStatus::kUnsubscribed);
  st["cleaned_count_since_send"] = cnt(MemberStatus::kCleaned);
  st["campaign_count"] = 0;
  st["campaign_last_sent"] = "";
  st["merge_field_count"] = l.merge_fields.size();
  st["avg_sub_rate"] = 0;
  st["avg_unsub_rate"] = 0;
  st["target_sub_rate"] = 0;
  st["open_rate"] = 0;
  st["click_rate"] = 0;
  st["last_sub_date"] = time_text(l.last_sub);
  st["last_unsub_date"] = time_text(l.last_unsub);
  j["stats"] = std::move(st);
  std::string self = c.base() + "/lists/" + l.id;
  std::string def = c.schema() + "/Definitions/Lists";
  ojson links = ojson::array();
  links.push_back(link("self", self, "GET", def + "/Response.json"));
  links.push_back(link("parent", c.base() + "/lists", "GET", def + "/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Collection.json"));
  links.push_back(link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"));
  links.push_back(link("batch-sub-unsub-members", self, "POST", def + "/BatchPOST-Response.json",
                       def + "/BatchPOST.json"));
  links.push_back(link("delete", self, "DELETE"));
  links.push_back(link("interest-categories", self + "/interest-categories", "GET",
                       def + "/InterestCategories/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/InterestCategories/Collection.json"));
  links.push_back(link("members", self + "/members", "GET",
                       def + "/Members/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Members/Collection.json"));
  links.push_back(link("merge-fields", self + "/merge-fields", "GET",
                       def + "/MergeFields/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/MergeFields/Collection.json"));
  links.push_back(link("segments", self + "/segments", "GET",
                       def + "/Segments/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Segments/Collection.json"));
  links.push_back(link("webhooks", self + "/webhooks", "GET",
                       def + "/Webhooks/CollectionResponse.json",
                       c.schema() + "/Paths/Lists/Webhooks/Collection.json"));
  j["_links"] = std::move(links);
  return j;
}

}  // namespace

http::Reply MailchimpSandbox::Impl::get_lists(Ctx& c) {
  std::shared_lock<std::shared_mutex> lock(mu);
  std::int64_t count = c.count(), offset = c.offset();
  std::vector<const List*> match;
  std::string email(c.q("email"));
  for (const auto& l : account->lists) {
    if (!email.empty()) {
      const Member* m = l->find(member_key(normalise_email(email)));
      if (m == nullptr) continue;
    }
    match.push_back(l.get());
  }
  if (c.q("sort_field") == "date_created") {
    bool desc = c.q("sort_dir") == "DESC";
    std::stable_sort(match.begin(), match.end(), [desc](const List* a, const List* b) {
      return desc ? a->date_created > b->date_created : a->date_created < b->date_created;
    });
  }
  bool totals = parse_bool_param(c.q("include_total_contacts"));
  ojson arr = ojson::array();
  for (std::int64_t i = offset; i < static_cast<std::int64_t>(match.size()) && i < offset + count;
       ++i) {
    arr.push_back(list_json(c, *match[static_cast<std::size_t>(i)], totals));
  }
  ojson j = ojson::object();
  j["lists"] = std::move(arr);
  j["total_items"] = match.size();
  j["constraints"] = {{"may_create", true},
                      {"max_instances", 100},
                      {"current_total_instances", account->lists.size()}};
  std::string def = c.schema() + "/Definitions/Lists";
  j["_links"] = ojson::array(
      {link("self", c.base() + "/lists", "GET", def + "/CollectionResponse.json",
            c.schema() + "/Paths/Lists/Collection.json"),
       link("create", c.base() + "/lists", "POST", def + "/Response.json", def + "/POST.json")});
  return ojson_reply(c, std::move(j), "Lists/CollectionResponse.json");
}

http::Reply MailchimpSandbox::Impl::get_list(Ctx& c, const List& l) {
  return ojson_reply(c, list_json(c, l, parse_bool_param(c.q("include_total_contacts"))),
                     "Lists/Response.json");
}

http::Reply MailchimpSandbox::Impl::tag_search(Ctx& c, const List& l) {
  // The spec lists no paging parameters, but the endpoint pages like the others: 10 by default,
  // `count` and `offset` honoured (reference §16.2).
  std::string prefix = http::ascii::to_lower(c.q("name"));
  std::int64_t count = c.count(), offset = c.offset();
  ojson arr = ojson::array();
  std::int64_t total = 0;
  for (const TagDef& t : l.tags) {
    if (http::ascii::to_lower(t.name).rfind(prefix, 0) != 0) continue;
    if (total++ < offset || total > offset + count) continue;
    ojson j = ojson::object();
    j["id"] = t.id;
    j["name"] = t.name;
    arr.push_back(std::move(j));
  }
  ojson j = ojson::object();
  j["tags"] = std::move(arr);
  j["total_items"] = total;
  return ojson_reply(c, std::move(j));
}

}  // namespace concord::sandbox
