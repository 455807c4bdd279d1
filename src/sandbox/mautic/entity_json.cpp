#include "sandbox/mautic/entity_json.h"

#include "sandbox/times.h"

namespace concord::sandbox::mautic {
namespace {

// The keys of the publish details, in Mautic's order.
void put_publish_details(ojson& j, const PublishDetails& p) {
  j["isPublished"] = p.is_published;
  j["dateAdded"] = time_json(p.date_added);
  j["dateModified"] = time_json(p.date_modified);
  j["createdBy"] = p.created_by;
  j["createdByUser"] = p.created_by_user;
  j["modifiedBy"] = p.modified_by;
  j["modifiedByUser"] = p.modified_by_user;
}

// fields: {"core":{alias:{…}},…} (an empty group is PHP's empty array), and for the API the flat
// `all` map.
ojson fields_json(const Site& site, const Contact& c, bool webhook) {
  ojson fields = ojson::object();
  for (std::string_view group : kFieldGroups) {
    ojson entries = ojson::object();
    for (const Field& f : site.fields) {
      if (f.group != group) continue;
      ojson e = ojson::object();
      e["id"] = f.id;
      e["label"] = f.label;
      e["alias"] = f.alias;
      e["type"] = f.type;
      e["group"] = f.group;
      if (webhook) {
        e["object"] = "lead";
        e["is_fixed"] = f.is_fixed ? "1" : "0";
      }
      e["value"] = field_value(c, f.alias);
      entries[f.alias] = std::move(e);
    }
    fields[std::string(group)] = entries.empty() ? ojson::array() : std::move(entries);
  }
  if (!webhook) {
    ojson all = ojson::object();
    all["id"] = c.id;
    for (const Field& f : site.fields)
      all[f.alias] = field_value(c, f.alias);
    fields["all"] = std::move(all);
  }
  return fields;
}

ojson tags_json(const Site& site, const Contact& c) {
  ojson tags = ojson::array();
  for (const std::string& t : c.tags) {
    auto id = site.tag_ids.find(t);
    tags.push_back({{"id", id == site.tag_ids.end() ? ojson() : ojson(id->second)},
                    {"tag", t},
                    {"description", nullptr}});
  }
  return tags;
}

ojson dnc_list_json(const Contact& c) {
  ojson list = ojson::array();
  for (const DoNotContact& d : c.dnc)
    list.push_back(dnc_json(d));
  return list;
}

}  // namespace

std::string php_text(const ojson& v) {
  const std::string text = v.dump(-1, ' ', true, ojson::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  // '/' appears in JSON text only inside strings, so every one is escaped as PHP does.
  for (char ch : text) {
    if (ch == '/') out += '\\';
    out += ch;
  }
  return out;
}

ojson time_json(Micros t) {
  return t == kNoTime ? ojson() : ojson(time_text(t));
}

ojson contact_json(const Site& site, const Contact& c, ContactView view) {
  ojson j = ojson::object();
  switch (view) {
    case ContactView::kFull:
      j["id"] = c.id;
      put_publish_details(j, c);
      j["owner"] = c.owner;
      j["points"] = c.points;
      j["color"] = c.color;
      j["lastActive"] = time_json(c.last_active);
      j["dateIdentified"] = time_json(c.date_identified);
      j["preferredProfileImage"] = "gravatar";
      j["ipAddresses"] = ojson::object();
      j["stage"] = nullptr;
      j["frequencyRules"] = ojson::array();
      j["tags"] = tags_json(site, c);
      j["utmtags"] = ojson::array();
      j["doNotContact"] = dnc_list_json(c);
      j["fields"] = fields_json(site, c, false);
      return j;
    case ContactView::kMinimal:
      j["id"] = c.id;
      put_publish_details(j, c);
      j["points"] = c.points;
      j["color"] = c.color;
      j["fields"] = fields_json(site, c, false);
      return j;
    case ContactView::kWebhook:
    case ContactView::kDeleted:
      break;
  }
  // The order of the shipped webhook samples.
  put_publish_details(j, c);
  j["id"] = view == ContactView::kDeleted ? ojson() : ojson(c.id);
  j["points"] = c.points;
  j["color"] = c.color;
  j["fields"] = fields_json(site, c, true);
  j["lastActive"] = time_json(c.last_active);
  j["owner"] = c.owner;
  j["ipAddresses"] = ojson::array();
  if (view == ContactView::kWebhook) j["tags"] = tags_json(site, c);
  j["utmtags"] = ojson::array();
  j["stage"] = nullptr;
  j["dateIdentified"] = time_json(c.date_identified);
  j["preferredProfileImage"] = "gravatar";
  j["doNotContact"] = dnc_list_json(c);
  j["frequencyRules"] = ojson::array();
  return j;
}

ojson selected_contact_json(const Contact& c, const std::vector<Column>& columns) {
  ojson j = ojson::object();
  j["id"] = c.id;
  ojson all = ojson::object();
  for (const Column& col : columns) {
    if (col.kind == ColumnKind::kField) {
      if (all.empty()) all["id"] = c.id;
      all[col.alias] = field_value(c, col.alias);
    } else if (col.kind != ColumnKind::kId) {
      const ojson v = column_value(c, col);
      j[std::string(col.json_key)] = v.is_null() ? ojson() : time_json(v.get<Micros>());
    }
  }
  if (!all.empty()) j["fields"] = {{"all", std::move(all)}};
  return j;
}

ojson dnc_json(const DoNotContact& d) {
  ojson j = ojson::object();
  j["id"] = d.id;
  j["dateAdded"] = time_json(d.date_added);
  j["reason"] = d.reason;
  j["comments"] = d.comments;
  j["channel"] = d.channel;
  j["channelId"] = d.channel_id;
  return j;
}

ojson segment_json(const Segment& s) {
  ojson j = ojson::object();
  j["id"] = s.id;
  j["isPublished"] = s.is_published;
  j["dateAdded"] = time_json(s.date_added);
  j["createdBy"] = s.created_by;
  j["createdByUser"] = s.created_by_user;
  j["dateModified"] = time_json(s.date_modified);
  j["modifiedBy"] = s.modified_by;
  j["modifiedByUser"] = s.modified_by_user;
  j["category"] = nullptr;
  j["name"] = s.name;
  j["alias"] = s.alias;
  j["description"] = s.description;
  j["filters"] = s.filters;
  j["isGlobal"] = s.is_global;
  j["isPreferenceCenter"] = s.is_preference_center;
  j["publicName"] = s.public_name;
  return j;
}

ojson hook_json(const Hook& h, bool deleted) {
  ojson j = ojson::object();
  put_publish_details(j, h);
  j["id"] = deleted ? ojson() : ojson(h.id);
  j["name"] = h.name;
  j["description"] = h.description;
  j["webhookUrl"] = h.webhook_url;
  j["secret"] = h.secret;
  j["eventsOrderbyDir"] = h.events_orderby_dir.empty() ? ojson() : ojson(h.events_orderby_dir);
  j["category"] = nullptr;
  j["triggers"] = h.triggers;
  return j;
}

}  // namespace concord::sandbox::mautic
