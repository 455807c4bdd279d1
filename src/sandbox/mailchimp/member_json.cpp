#include "sandbox/mailchimp/member_json.h"

#include "sandbox/mailchimp/merge_values.h"

namespace concord::sandbox {
namespace {

constexpr std::array<std::string_view, kFCount> kMemberFieldNames = {
    "id",
    "email_address",
    "unique_email_id",
    "contact_id",
    "full_name",
    "web_id",
    "email_type",
    "status",
    "unsubscribe_reason",
    "consents_to_one_to_one_messaging",
    "merge_fields",
    "interests",
    "stats",
    "ip_signup",
    "timestamp_signup",
    "ip_opt",
    "timestamp_opt",
    "member_rating",
    "last_changed",
    "language",
    "vip",
    "email_client",
    "location",
    "source",
    "tags_count",
    "tags",
    "list_id",
    "_links"};

// Whether a field is in a shape: List Members_5 (batch) lacks the identity and consent fields of
// the full member; List Members_3 (segment members) also lacks the tags.
bool in_shape(int f, MemberShape shape) {
  if (shape == MemberShape::kFull) return true;
  if (f == kFContactId || f == kFFullName || f == kFWebId || f == kFUnsubscribeReason ||
      f == kFConsents || f == kFSource) {
    return false;
  }
  return shape == MemberShape::kBatch || (f != kFTagsCount && f != kFTags);
}

ojson member_links(const std::string& base, const std::string& schema, const std::string& list_id,
                   const std::string& hash) {
  std::string coll = base + "/lists/" + list_id + "/members";
  std::string self = coll + "/" + hash;
  std::string def = schema + "/Definitions/Lists/Members";
  ojson a = ojson::array();
  a.push_back(link("self", self, "GET", def + "/Response.json"));
  a.push_back(link("parent", coll, "GET", def + "/CollectionResponse.json",
                   schema + "/Paths/Lists/Members/Collection.json"));
  a.push_back(link("update", self, "PATCH", def + "/Response.json", def + "/PATCH.json"));
  a.push_back(link("upsert", self, "PUT", def + "/Response.json", def + "/PUT.json"));
  a.push_back(link("delete", self, "DELETE"));
  a.push_back(link("activity", self + "/activity", "GET", def + "/Activity/Response.json"));
  a.push_back(link("goals", self + "/goals", "GET", def + "/Goals/Response.json"));
  a.push_back(link("notes", self + "/notes", "GET", def + "/Notes/CollectionResponse.json"));
  a.push_back(link("events", self + "/events", "POST", def + "/Events/POST.json"));
  a.push_back(link("delete_permanent", self + "/actions/delete-permanent", "POST"));
  return a;
}

constexpr std::string_view kStatsJson = R"({"avg_open_rate":0,"avg_click_rate":0})";
constexpr std::string_view kLocationJson =
    R"({"latitude":0,"longitude":0,"gmtoff":0,"dstoff":0,"country_code":"","timezone":"","region":""})";

// Writes members as the API shows them, with a selection decided once for all members.

void write_const(JsonOut& o, std::string_view text, const Sel& s) {
  if (s.passthrough()) {
    o.raw(text);
    return;
  }
  ojson v = ojson::parse(text);
  apply_sel(v, s);
  o.value(v);
}

}  // namespace

MemberWriter::MemberWriter(const Account& a, const List& l, const Ctx& c, const Sel& sel,
                           MemberShape shape)
    : account_(a), list_(l), base_(c.base()), schema_(c.schema()) {
  for (int f = 0; f < kFCount; ++f) {
    on_[f] = in_shape(f, shape) && sel.child(kMemberFieldNames[f], &sub_[f]);
  }
  // "Present only if the list has groups" (reference §4.2).
  if (l.interests.empty()) on_[kFInterests] = false;
  // The _links text with a marker where the hash goes.
  static constexpr std::string_view kMarker = "@@HASH@@";
  std::string tmpl = member_links(base_, schema_, l.id, std::string(kMarker)).dump();
  std::size_t pos = 0;
  while (true) {
    std::size_t m = tmpl.find(kMarker, pos);
    links_parts_.push_back(tmpl.substr(pos, m == std::string::npos ? std::string::npos : m - pos));
    if (m == std::string::npos) break;
    pos = m + kMarker.size();
  }
  fname_ = l.merge_index("FNAME");
  lname_ = l.merge_index("LNAME");
}

void MemberWriter::write(JsonOut& o, const Member& m) const {
  std::string hash = hash_hex(m.key);
  o.begin_object();
  for (int f = 0; f < kFCount; ++f) {
    if (!on_[f]) continue;
    const Sel& s = sub_[f];
    switch (f) {
      case kFId:
        o.key("id");
        o.str(hash);
        break;
      case kFEmail:
        o.key("email_address");
        o.str(m.email);
        break;
      case kFUniqueEmailId:
        o.key("unique_email_id");
        o.str(ueid_hex(m.unique_email_id));
        break;
      case kFContactId:
        o.key("contact_id");
        o.str(key_hex(m.contact_id));
        break;
      case kFFullName:
        o.key("full_name");
        o.str(full_name(m));
        break;
      case kFWebId:
        o.key("web_id");
        o.integer(m.web_id);
        break;
      case kFEmailType:
        o.key("email_type");
        o.str(m.text_email ? "text" : "html");
        break;
      case kFStatus:
        o.key("status");
        o.str(status_name(m.status));
        break;
      case kFUnsubscribeReason:
        if (m.status != MemberStatus::kUnsubscribed) break;
        o.key("unsubscribe_reason");
        o.str(m.unsubscribe_reason());
        break;
      case kFConsents:
        o.key("consents_to_one_to_one_messaging");
        o.boolean(true);
        break;
      case kFMergeFields:
        o.key("merge_fields");
        write_merges(o, m, s);
        break;
      case kFInterests:
        o.key("interests");
        write_interests(o, m, s);
        break;
      case kFStats:
        o.key("stats");
        write_const(o, kStatsJson, s);
        break;
      case kFIpSignup:
        o.key("ip_signup");
        o.str(m.ext_ip_signup());
        break;
      case kFTimestampSignup:
        o.key("timestamp_signup");
        o.time(m.timestamp_signup);
        break;
      case kFIpOpt:
        o.key("ip_opt");
        o.str(m.ext_ip_opt());
        break;
      case kFTimestampOpt:
        o.key("timestamp_opt");
        o.time(m.timestamp_opt);
        break;
      case kFMemberRating:
        o.key("member_rating");
        o.integer(2);
        break;
      case kFLastChanged:
        o.key("last_changed");
        o.time(m.last_changed);
        break;
      case kFLanguage:
        o.key("language");
        o.str(m.ext_language());
        break;
      case kFVip:
        o.key("vip");
        o.boolean(m.vip);
        break;
      case kFEmailClient:
        o.key("email_client");
        o.str("");
        break;
      case kFLocation:
        o.key("location");
        write_const(o, kLocationJson, s);
        break;
      case kFSource:
        o.key("source");
        o.str(m.source < account_.sources.size() ? account_.sources[m.source]
                                                 : account_.sources[0]);
        break;
      case kFTagsCount:
        o.key("tags_count");
        o.integer(static_cast<std::int64_t>(m.tags.size()));
        break;
      case kFTags:
        o.key("tags");
        write_tags(o, m, s);
        break;
      case kFListId:
        o.key("list_id");
        o.str(list_.id);
        break;
      case kFLinks:
        o.key("_links");
        if (s.passthrough()) {
          std::string text;
          for (std::size_t i = 0; i < links_parts_.size(); ++i) {
            if (i > 0) text += hash;
            text += links_parts_[i];
          }
          o.raw(text);
        } else {
          ojson l = member_links(base_, schema_, list_.id, hash);
          apply_sel(l, s);
          o.value(l);
        }
        break;
      default:
        break;
    }
  }
  o.end_object();
}

std::string MemberWriter::full_name(const Member& m) const {
  std::string first, last;
  for_each_merge(m.merges, [&](std::size_t i, std::string_view v) {
    if (static_cast<int>(i) == fname_) first = std::string(v);
    if (static_cast<int>(i) == lname_) last = std::string(v);
  });
  if (first.empty()) return last;
  if (last.empty()) return first;
  return first + " " + last;
}

void MemberWriter::write_merges(JsonOut& o, const Member& m, const Sel& s) const {
  const auto& defs = list_.merge_fields;
  std::string_view values[64];
  std::vector<std::string_view> more;
  std::string_view* vals = values;
  if (defs.size() > 64) {
    more.resize(defs.size());
    vals = more.data();
  }
  for (std::size_t i = 0; i < defs.size(); ++i)
    vals[i] = {};
  for_each_merge(m.merges, [&](std::size_t i, std::string_view v) {
    if (i < defs.size()) vals[i] = v;
  });
  o.begin_object();
  for (std::size_t i = 0; i < defs.size(); ++i) {
    Sel c;
    if (!s.child(defs[i].tag, &c)) continue;
    o.key(defs[i].tag);
    write_merge_value(o, defs[i], vals[i]);
  }
  o.end_object();
}

void MemberWriter::write_tags(JsonOut& o, const Member& m, const Sel& s) const {
  o.begin_array();
  std::size_t n = 0;
  for (const MemberTag& t : m.tags) {
    if (n++ == 50) break;  // "Returns up to 50 tags applied to this member"
    const TagDef* def = list_.tag_by_id(t.tag_id);
    if (def == nullptr) continue;
    Sel c;
    o.begin_object();
    if (s.child("id", &c)) {
      o.key("id");
      o.integer(def->id);
    }
    if (s.child("name", &c)) {
      o.key("name");
      o.str(def->name);
    }
    o.end_object();
  }
  o.end_array();
}

void MemberWriter::write_interests(JsonOut& o, const Member& m, const Sel& s) const {
  // Every interest of the list, true or false, keyed by interest id.
  o.begin_object();
  for (const Interest& i : list_.interests) {
    Sel c;
    if (!s.child(i.id, &c)) continue;
    o.key(i.id);
    o.boolean((m.interests >> i.bit) & 1);
  }
  o.end_object();
}

}  // namespace concord::sandbox
