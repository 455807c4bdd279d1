#include "sandbox/mailchimp/state.h"

#include "sandbox/mailchimp/merge_values.h"

namespace concord::sandbox {

namespace {

void write_member_state(JsonOut& o, const Account& a, const List& l, const Member& m) {
  o.begin_object();
  o.key("email_address");
  o.str(m.email);
  o.key("status");
  o.str(status_name(m.status));
  if (m.status == MemberStatus::kArchived) {
    o.key("status_before_archive");
    o.str(status_name(m.status_before_archive));
  }
  MemberStatus eff = m.effective_status();
  if (eff == MemberStatus::kUnsubscribed) {
    o.key("unsubscribe_origin");
    o.str(source_name(m.unsubscribe_origin));
    if (m.extra && !m.extra->unsubscribe_reason.empty()) {
      o.key("unsubscribe_reason");
      o.str(m.extra->unsubscribe_reason);
    }
  }
  if (eff == MemberStatus::kCleaned) {
    o.key("clean_reason");
    o.str(m.clean_reason());
  }
  o.key("last_changed");
  o.time(m.last_changed);
  o.key("timestamp_opt");
  o.time(m.timestamp_opt);
  o.key("timestamp_signup");
  o.time(m.timestamp_signup);
  if (!m.merges.empty()) {
    o.key("merge_fields");
    o.begin_object();
    for_each_merge(m.merges, [&](std::size_t i, std::string_view v) {
      if (v.empty() || i >= l.merge_fields.size()) return;
      o.key(l.merge_fields[i].tag);
      write_merge_value(o, l.merge_fields[i], v);
    });
    o.end_object();
  }
  if (!m.tags.empty()) {
    o.key("tags");
    o.begin_array();
    for (const MemberTag& t : m.tags) {
      const TagDef* def = l.tag_by_id(t.tag_id);
      if (def == nullptr) continue;
      o.begin_object();
      o.key("name");
      o.str(def->name);
      o.key("date_added");
      o.time(t.date_added);
      o.end_object();
    }
    o.end_array();
  }
  if (m.interests != 0) {
    // Only the groups the member is in: an interest left out is false.
    o.key("interests");
    o.begin_object();
    for (const Interest& i : l.interests) {
      if (((m.interests >> i.bit) & 1) == 0) continue;
      o.key(i.id);
      o.boolean(true);
    }
    o.end_object();
  }
  if (m.extra && !m.extra->events.empty()) {
    o.key("events");
    o.begin_array();
    for (const MemberEvent& e : m.extra->events) {
      o.begin_object();
      o.key("name");
      o.str(e.name);
      o.key("properties");
      o.begin_object();
      for (const auto& [k, v] : e.properties) {
        o.key(k);
        o.str(v);
      }
      o.end_object();
      o.key("occurred_at");
      o.time(e.occurred_at);
      o.end_object();
    }
    o.end_array();
  }
  o.key("contact_id");
  o.str(key_hex(m.contact_id));
  o.key("unique_email_id");
  o.str(ueid_hex(m.unique_email_id));
  o.key("web_id");
  o.integer(m.web_id);
  if (m.text_email) {
    o.key("email_type");
    o.str("text");
  }
  if (m.vip) {
    o.key("vip");
    o.boolean(true);
  }
  if (m.extra) {
    if (!m.extra->language.empty()) {
      o.key("language");
      o.str(m.extra->language);
    }
    if (!m.extra->ip_signup.empty()) {
      o.key("ip_signup");
      o.str(m.extra->ip_signup);
    }
    if (!m.extra->ip_opt.empty()) {
      o.key("ip_opt");
      o.str(m.extra->ip_opt);
    }
  }
  o.key("source");
  o.str(m.source < a.sources.size() ? a.sources[m.source] : a.sources[0]);
  o.end_object();
}

// The list's segments (its tags) and interest categories, in the API's shapes (without the
// read-only keys), plus what reloading needs: each category's legacy grouping_id.
void write_groups_state(JsonOut& o, const List& l) {
  o.key("segments");
  o.begin_array();
  for (const TagDef& t : l.tags) {
    o.begin_object();
    o.key("id");
    o.integer(t.id);
    o.key("name");
    o.str(t.name);
    o.key("type");
    o.str("static");
    o.key("created_at");
    o.time(t.created_at);
    o.key("updated_at");
    o.time(t.updated_at);
    o.end_object();
  }
  o.end_array();
  o.key("interest_categories");
  o.begin_array();
  for (const InterestCategory& cat : l.categories) {
    o.begin_object();
    o.key("id");
    o.str(cat.id);
    o.key("title");
    o.str(cat.title);
    o.key("display_order");
    o.integer(cat.display_order);
    o.key("type");
    o.str(category_type_name(cat.type));
    o.key("grouping_id");
    o.integer(cat.grouping_id);
    o.key("interests");
    o.begin_array();
    for (const Interest& i : l.interests) {
      if (i.category_id != cat.id) continue;
      o.begin_object();
      o.key("id");
      o.str(i.id);
      o.key("name");
      o.str(i.name);
      o.key("display_order");
      o.integer(i.display_order);
      o.end_object();
    }
    o.end_array();
    o.end_object();
  }
  o.end_array();
}

}  // namespace

void write_mailchimp_state(JsonOut& o, const Account& a) {
  o.begin_object();
  o.key("api_key");
  o.str(a.api_key);
  o.key("lists");
  o.begin_array();
  for (const auto& lp : a.lists) {
    const List& l = *lp;
    o.begin_object();
    o.key("id");
    o.str(l.id);
    o.key("name");
    o.str(l.name);
    o.key("web_id");
    o.integer(l.web_id);
    o.key("date_created");
    o.time(l.date_created);
    for (auto it = l.settings.begin(); it != l.settings.end(); ++it) {
      o.key(it.key());
      o.value(it.value());
    }
    o.key("merge_fields");
    o.begin_array();
    for (const MergeField& f : l.merge_fields) {
      o.value(merge_field_definition(f));
    }
    o.end_array();
    write_groups_state(o, l);
    o.key("webhooks");
    o.begin_array();
    for (const Webhook& w : l.webhooks) {
      o.begin_object();
      o.key("id");
      o.str(w.id);
      o.key("url");
      o.str(w.url);
      o.key("events");
      o.begin_object();
      for (std::size_t e = 0; e < kWebhookEventNames.size(); ++e) {
        o.key(kWebhookEventNames[e]);
        o.boolean(w.events[e]);
      }
      o.end_object();
      o.key("sources");
      o.begin_object();
      for (std::size_t s = 0; s < kWebhookSourceNames.size(); ++s) {
        o.key(kWebhookSourceNames[s]);
        o.boolean(w.sources[s]);
      }
      o.end_object();
      o.end_object();
    }
    o.end_array();
    o.key("forgotten");
    o.begin_array();
    for (const Key16& k : l.forgotten)
      o.str(key_hex(k));
    o.end_array();
    o.key("members");
    o.begin_array();
    for (const Member& m : l.members) {
      if (m.dead) continue;
      write_member_state(o, a, l, m);
      o.buf += '\n';
    }
    o.end_array();
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

std::string state_document(const Account& account, Micros fixed_clock) {
  JsonOut o;
  o.begin_object();
  o.key("mailchimp");
  write_mailchimp_state(o, account);
  if (fixed_clock != kNoTime) {
    o.key("clock");
    o.time(fixed_clock);
  }
  o.end_object();
  o.buf += '\n';
  return std::move(o.buf);
}
}  // namespace concord::sandbox
