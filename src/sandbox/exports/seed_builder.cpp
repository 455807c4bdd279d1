#include "sandbox/exports/seed_builder.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <set>

#include "sandbox/json_writer.h"
#include "sandbox/times.h"

namespace concord::sandbox::exports {

namespace {

// Mailchimp's own tags for the fields a new audience has.
struct KnownField {
  std::string_view name, tag;
};
constexpr std::array<KnownField, 5> kKnownFields = {{{"First Name", "FNAME"},
                                                     {"Last Name", "LNAME"},
                                                     {"Address", "ADDRESS"},
                                                     {"Phone Number", "PHONE"},
                                                     {"Birthday", "BIRTHDAY"}}};

// The text Mailchimp gives an unsubscribe made by an admin or through the API.
constexpr std::string_view kAdminReason = "N/A (Unsubscribed by admin)";

std::string hex10(std::uint64_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010" PRIx64, v);
  return buf;
}

// Ids of interest categories and interests: deterministic, so that the same exports give the
// same seed, and in ranges that cannot meet (c… categories, a… interests; a list apiece).
std::string category_id(std::size_t list, std::size_t k) {
  return hex10(0xc000000000ull + (std::uint64_t{list} << 20) + k + 1);
}
std::string interest_id(std::size_t list, std::size_t n) {
  return hex10(0xa000000000ull + (std::uint64_t{list} << 20) + n + 1);
}

// CiviCRM names a group after its title: other characters than letters and digits become "_".
std::string group_name(const std::string& title) {
  std::string out;
  for (char c : title.substr(0, 64))
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

// The member's last_changed. The export has LAST_CHANGED for subscribed members and
// UNSUB_TIME / CLEAN_TIME (often empty) for the others. When it is missing:
// * subscribed: the later of the opt-in times: nothing changed after them that the file shows;
// * any other status: the export's own time (the latest time in its files, the closest known
//   bound for when it was made). The change happened after the opt-in and by the export;
//   dating it late keeps a plan from overriding an unsubscribe or a bounce on a guess.
// kNoTime when no time is known at all (the seed then uses the sandbox's "now").
Micros last_changed(const McMember& m, const AudienceExport& a) {
  if (m.changed != kNoTime) return m.changed;
  if (m.status == "subscribed") {
    Micros t = std::max(m.opt, m.signup);
    if (t != kNoTime) return t;
  }
  return a.latest;
}

void write_member(JsonOut& o, const McMember& m, const AudienceExport& a,
                  const std::vector<std::string>& tags,
                  const std::vector<std::vector<std::string>>& interest_ids) {
  o.begin_object();
  o.key("email_address");
  o.str(m.email);
  o.key("status");
  o.str(m.status);
  if (m.status == "unsubscribed") {
    // The export does not say who unsubscribed. "user" (the person did) is the one the API
    // cannot undo, so a plan against the sandbox never promises a resubscription that the
    // real audience would refuse; Mailchimp's own text for an admin's unsubscribe says admin.
    o.key("unsubscribe_origin");
    o.str(m.unsubscribe_reason == kAdminReason ? "admin" : "user");
    if (!m.unsubscribe_reason.empty()) {
      o.key("unsubscribe_reason");
      o.str(m.unsubscribe_reason);
    }
  }
  if (m.signup != kNoTime) {
    o.key("timestamp_signup");
    o.time(m.signup);
  }
  if (m.opt != kNoTime) {
    o.key("timestamp_opt");
    o.time(m.opt);
  }
  if (Micros t = last_changed(m, a); t != kNoTime) {
    o.key("last_changed");
    o.time(t);
  }
  if (!m.ip_signup.empty()) {
    o.key("ip_signup");
    o.str(m.ip_signup);
  }
  if (!m.ip_opt.empty()) {
    o.key("ip_opt");
    o.str(m.ip_opt);
  }
  if (!m.email_type.empty()) {
    o.key("email_type");
    o.str(m.email_type);
  }
  if (m.web_id > 0) {
    o.key("web_id");
    o.integer(m.web_id);
  }
  if (!m.unique_email_id.empty()) {
    o.key("unique_email_id");
    o.str(m.unique_email_id);
  }
  o.key("merge_fields");
  o.begin_object();
  for (std::size_t k = 0; k < m.merges.size() && k < tags.size(); ++k) {
    if (m.merges[k].empty()) continue;
    o.key(tags[k]);
    o.str(m.merges[k]);
  }
  o.end_object();
  if (!m.tags.empty()) {
    o.key("tags");
    o.begin_array();
    for (const std::string& t : m.tags)
      o.str(t);
    o.end_array();
  }
  if (!a.categories.empty()) {
    o.key("interests");
    o.begin_object();
    for (std::size_t k = 0; k < m.interests.size(); ++k) {
      const auto& names = a.interest_names[k];
      for (const std::string& name : m.interests[k]) {
        auto at = std::find(names.begin(), names.end(), name);
        o.key(interest_ids[k][static_cast<std::size_t>(at - names.begin())]);
        o.boolean(true);
      }
    }
    o.end_object();
  }
  o.end_object();
}

void write_list(JsonOut& o, const AudienceExport& a, std::size_t list) {
  AudienceName an = audience_name(a);
  std::vector<std::string> tags = merge_tags(a.merge_names);
  o.begin_object();
  o.key("id");
  o.str(an.id);
  o.key("name");
  o.str(an.name);
  o.key("merge_fields");
  o.begin_array();
  for (std::size_t k = 0; k < tags.size(); ++k) {
    // The export carries values, not types: every field is text, which holds any of them.
    o.begin_object();
    o.key("merge_id");
    o.integer(static_cast<std::int64_t>(k) + 1);
    o.key("tag");
    o.str(tags[k]);
    o.key("name");
    o.str(a.merge_names[k]);
    o.key("type");
    o.str("text");
    o.key("display_order");
    o.integer(static_cast<std::int64_t>(k) + 2);
    o.end_object();
  }
  o.end_array();
  std::vector<std::vector<std::string>> interest_ids(a.categories.size());
  if (!a.categories.empty()) {
    o.key("interest_categories");
    o.begin_array();
    std::size_t n = 0;
    for (std::size_t k = 0; k < a.categories.size(); ++k) {
      o.begin_object();
      o.key("id");
      o.str(category_id(list, k));
      o.key("title");
      o.str(a.categories[k]);
      o.key("type");
      o.str("checkboxes");  // the export shows names only; checkboxes allow any number of them
      o.key("interests");
      o.begin_array();
      for (const std::string& name : a.interest_names[k]) {
        interest_ids[k].push_back(interest_id(list, n++));
        o.begin_object();
        o.key("id");
        o.str(interest_ids[k].back());
        o.key("name");
        o.str(name);
        o.end_object();
      }
      o.end_array();
      o.end_object();
    }
    o.end_array();
  }
  o.key("members");
  o.begin_array();
  for (const McMember& m : a.members) {
    o.buf += '\n';
    write_member(o, m, a, tags, interest_ids);
  }
  o.end_array();
  o.end_object();
}

void write_contact(JsonOut& o, const CrmContact& c) {
  o.begin_object();
  o.key("id");
  o.integer(c.id);
  if (!c.contact_type.empty()) {
    o.key("contact_type");
    o.str(c.contact_type);
  }
  for (const auto& [k, v] : c.fields) {
    o.key(k);
    o.str(v);
  }
  for (auto [name, flag] :
       {std::pair{"do_not_email", &c.do_not_email}, std::pair{"is_opt_out", &c.is_opt_out},
        std::pair{"is_deceased", &c.is_deceased}, std::pair{"is_deleted", &c.is_deleted}}) {
    if (!flag->has_value()) continue;
    o.key(name);
    o.boolean(**flag);
  }
  if (c.created != kNoTime) {
    o.key("created_date");
    o.str(civil_text(c.created));
  }
  if (c.modified != kNoTime) {
    o.key("modified_date");
    o.str(civil_text(c.modified));
  }
  o.key("emails");
  o.begin_array();
  for (const CrmEmail& e : c.emails) {
    o.begin_object();
    o.key("email");
    o.str(e.email);
    o.key("is_primary");
    o.boolean(e.is_primary);
    o.key("location_type_id");
    o.integer(e.location_type_id);
    o.key("on_hold");
    o.integer(e.on_hold);
    o.key("is_bulkmail");
    o.boolean(e.is_bulkmail);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

void write_site(JsonOut& o, const LinkedSite& site) {
  o.begin_object();
  o.key("groups");
  o.begin_array();
  std::set<std::string> names;
  for (const LinkedGroup& g : site.groups) {
    std::string name = group_name(g.title);
    if (!names.insert(name).second) name += "_" + std::to_string(g.id);
    o.begin_object();
    o.key("id");
    o.integer(g.id);
    o.key("name");
    o.str(name);
    o.key("title");
    o.str(g.title);
    o.end_object();
  }
  o.end_array();
  o.key("contacts");
  o.begin_array();
  for (const CrmContact& c : site.contacts) {
    o.buf += '\n';
    write_contact(o, c);
  }
  o.end_array();
  o.key("subscription_history");
  o.begin_array();
  for (const LinkedHistory& h : site.history) {
    o.buf += '\n';
    o.begin_object();
    o.key("contact_id");
    o.integer(h.contact_id);
    o.key("group_id");
    o.integer(h.group_id);
    o.key("status");
    o.str(h.status);
    o.key("date");
    o.str(civil_text(h.date));
    if (!h.method.empty()) {
      o.key("method");
      o.str(h.method);
    }
    o.end_object();
  }
  o.end_array();
  // Given rather than derived from the history: a pair that Group(s) lists but the history
  // does not has a membership and no history row.
  o.key("group_contacts");
  o.begin_array();
  for (const LinkedMembership& m : site.members) {
    o.buf += '\n';
    o.begin_object();
    o.key("contact_id");
    o.integer(m.contact_id);
    o.key("group_id");
    o.integer(m.group_id);
    o.key("status");
    o.str(m.status);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

}  // namespace

AudienceName audience_name(const AudienceExport& audience) {
  AudienceName n;
  n.id = audience.export_id.empty() ? std::string(kDefaultListId) : audience.export_id;
  // The export does not carry the audience's name. The archive's name is the export's
  // ("audience_export_<id>" as downloaded), so renaming the archive names the audience.
  if (!audience.zip_stem.empty()) {
    n.name = audience.zip_stem;
  } else if (!audience.export_id.empty()) {
    n.name = "audience_export_" + audience.export_id;
  } else {
    n.name = "Audience export";
  }
  return n;
}

std::vector<std::string> merge_tags(const std::vector<std::string>& names) {
  std::vector<std::string> tags;
  std::set<std::string> taken = {"EMAIL"};  // the address's own tag
  for (std::size_t k = 0; k < names.size(); ++k) {
    std::string tag;
    for (const KnownField& f : kKnownFields) {
      if (names[k] == f.name) tag = std::string(f.tag);
    }
    if (tag.empty()) {
      for (char c : names[k]) {
        if (std::isalnum(static_cast<unsigned char>(c)) && tag.size() < 10) {
          tag.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
      }
    }
    if (tag.empty() || taken.count(tag) > 0) tag = "MMERGE" + std::to_string(k + 1);
    taken.insert(tag);
    tags.push_back(std::move(tag));
  }
  return tags;
}

std::string build_seed(const std::vector<AudienceExport>& audiences, const LinkedSite& site) {
  JsonOut o;
  o.begin_object();
  o.key("comment");
  o.str("Built by concord-sandbox --from-exports (docs/sandbox.md \"Starting from exports\")");
  o.key("mailchimp");
  o.begin_object();
  o.key("lists");
  o.begin_array();
  for (std::size_t i = 0; i < audiences.size(); ++i)
    write_list(o, audiences[i], i);
  o.end_array();
  o.end_object();
  if (!site.contacts.empty()) {
    o.key("civicrm");
    write_site(o, site);
  }
  o.end_object();
  o.buf += '\n';
  return std::move(o.buf);
}

}  // namespace concord::sandbox::exports
