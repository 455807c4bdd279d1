#include "concord/config.h"
#include "config/schedule.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace concord {
namespace {

// True when `url` is plain http:// to a host that is not this machine: the API key would cross the
// network in clear. Loopback (127.0.0.0/8, ::1, localhost) is allowed: a local proxy or sandbox.
bool clear_text_off_machine(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.size() < kHttp.size()) return false;
  for (std::size_t i = 0; i < kHttp.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != kHttp[i]) return false;
  }
  std::string_view rest = url.substr(kHttp.size());
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos)
    rest.remove_prefix(at + 1);
  std::string_view host;
  if (!rest.empty() && rest.front() == '[') {
    host =
        rest.substr(0, rest.find(']') == std::string_view::npos ? rest.size() : rest.find(']') + 1);
  } else {
    host = rest.substr(0, rest.find_first_of(":/?#"));
  }
  return !(host.starts_with("127.") || host == "localhost" || host == "[::1]");
}

// Why a CRM field name cannot be mapped ("" when it can): a core contact field or a custom one as
// Group_Name.Field_Name; the contact's addresses are concord's to manage, never a field's.
std::string bad_crm_field(const std::string& name) {
  if (name.rfind("email_primary", 0) == 0 || name.rfind("email", 0) == 0) {
    return "the contact's email is the member's address, not a field to map";
  }
  int dots = 0;
  for (char c : name) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (c == '.') {
      ++dots;
    } else if (!word) {
      return "not a contact field name (letters, digits and _, custom fields as Group.Field)";
    }
  }
  if (dots > 1 || name.front() == '.' || name.back() == '.') {
    return "not a contact field name (custom fields are Group.Field)";
  }
  return "";
}

// Errors carry "file:line: " so a person can go straight to the place.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  Status error(const toml::node* at, const std::string& msg) const {
    std::string where = origin_;
    if (at != nullptr && at->source().begin.line > 0) {
      where += ":" + std::to_string(at->source().begin.line);
    }
    return Status::invalid(where + ": " + msg);
  }

  // Every key of `t` must be one of `allowed`.
  Status only(const toml::table& t, std::initializer_list<std::string_view> allowed,
              const std::string& section) const {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (std::string_view a : allowed)
        ok |= k.str() == a;
      if (!ok) {
        return error(&v, "unknown key '" + std::string(k.str()) + "' in " + section);
      }
    }
    return Status::ok();
  }

  Status str(const toml::table& t, std::string_view key, std::string* out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::ok();
    if (!n->is_string()) return error(n, std::string(key) + " must be a string");
    *out = **n->as_string();
    return Status::ok();
  }

  Status boolean(const toml::table& t, std::string_view key, bool* out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::ok();
    if (!n->is_boolean()) return error(n, std::string(key) + " must be true or false");
    *out = **n->as_boolean();
    return Status::ok();
  }

  // An array of strings, each non-empty and free of control characters; duplicates dropped.
  Status strings(const toml::table& t, std::string_view key, const std::string& where,
                 std::vector<std::string>* out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::ok();
    const toml::array* a = n->as_array();
    if (a == nullptr) return error(n, where + std::string(key) + " must be a list of strings");
    for (const toml::node& e : *a) {
      if (!e.is_string() || (*e.as_string())->empty()) {
        return error(&e, where + std::string(key) + " must be a list of non-empty strings");
      }
      const std::string& v = **e.as_string();
      for (char c : v) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          return error(&e, where + std::string(key) + " holds a control character");
        }
      }
      if (std::find(out->begin(), out->end(), v) == out->end()) out->push_back(v);
    }
    return Status::ok();
  }

  Status choice(const toml::table& t, std::string_view key,
                std::initializer_list<std::string_view> values, std::string* out) const {
    std::string v;
    if (Status s = str(t, key, &v); !s) return s;
    if (v.empty()) return Status::ok();
    for (std::string_view c : values) {
      if (v == c) {
        *out = v;
        return Status::ok();
      }
    }
    std::string list;
    for (std::string_view c : values)
      list += (list.empty() ? "" : ", ") + std::string(c);
    return error(t.get(key), std::string(key) + " must be one of " + list + " (not \"" + v + "\")");
  }

 private:
  std::string origin_;
};

#define CONCORD_TRY(expr)          \
  do {                             \
    if (Status _s = (expr); !_s) { \
      return _s;                   \
    }                              \
  } while (0)

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// The kind of a [[sync]]'s people side: the one of civicrm, auth0, mixpanel, amplitude, mautic it
// names
// (none of them: CiviCRM, whose section may be left out when there is one).
Status read_people(const Reader& r, const toml::table& t, const toml::node* at, SyncConfig* s) {
  const std::string where = "sync \"" + s->name + "\": ";
  int named = 0;
  for (PeopleKind kind : {PeopleKind::kCivicrm, PeopleKind::kAuth0, PeopleKind::kMixpanel,
                          PeopleKind::kAmplitude, PeopleKind::kMautic}) {
    const std::string_view key = people_kind_name(kind);
    if (t.get(key) == nullptr) continue;
    ++named;
    s->people = kind;
    CONCORD_TRY(r.str(t, key, kind == PeopleKind::kCivicrm ? &s->civicrm : &s->source));
  }
  if (named > 1) {
    return r.error(at, where +
                           "name exactly one people side: civicrm, auth0, mixpanel, "
                           "amplitude or mautic");
  }
  // The keys that belong to one kind only.
  const std::pair<std::string_view, PeopleKind> only_for[] = {
      {"group", PeopleKind::kCivicrm},        {"tie", PeopleKind::kCivicrm},
      {"skew_margin", PeopleKind::kCivicrm},  {"double_opt_in", PeopleKind::kCivicrm},
      {"hold_cleaned", PeopleKind::kCivicrm}, {"respect_crm_opt_out", PeopleKind::kCivicrm},
      {"connection", PeopleKind::kAuth0},     {"verified_only", PeopleKind::kAuth0},
      {"segment", PeopleKind::kMautic},
  };
  for (const auto& [key, kind] : only_for) {
    if (t.get(key) != nullptr && s->people != kind) {
      return r.error(t.get(key), where + std::string(key) + " is for " +
                                     std::string(people_kind_name(kind)) + " syncs only");
    }
  }
  const bool cohort = s->people == PeopleKind::kMixpanel || s->people == PeopleKind::kAmplitude;
  for (std::string_view key : {"cohort", "mode"}) {
    if (t.get(key) != nullptr && !cohort) {
      return r.error(t.get(key), where + std::string(key) + " is for mixpanel and amplitude syncs");
    }
  }
  switch (s->people) {
    case PeopleKind::kCivicrm:
      CONCORD_TRY(r.str(t, "group", &s->group));
      if (s->group.empty()) return r.error(at, where + "group is required (an id, name or title)");
      break;
    case PeopleKind::kAuth0:
      CONCORD_TRY(r.str(t, "connection", &s->connection));
      CONCORD_TRY(r.boolean(t, "verified_only", &s->verified_only));
      if (s->connection.empty()) {
        return r.error(at, where + "connection is required (the Auth0 connection's name)");
      }
      break;
    case PeopleKind::kMautic:
      if (const toml::node* n = t.get("segment")) {
        // A segment id written bare is the same as quoted.
        if (std::optional<std::int64_t> id = n->value<std::int64_t>()) {
          s->segment = std::to_string(*id);
        } else {
          CONCORD_TRY(r.str(t, "segment", &s->segment));
        }
      }
      if (s->segment.empty()) {
        return r.error(at, where + "segment is required (an id, alias or name)");
      }
      break;
    case PeopleKind::kMixpanel:
    case PeopleKind::kAmplitude: {
      if (const toml::node* n = t.get("cohort")) {
        // A cohort id is a number in both systems; written bare or quoted, it is the same.
        if (std::optional<std::int64_t> id = n->value<std::int64_t>()) {
          s->cohort = std::to_string(*id);
        } else {
          CONCORD_TRY(r.str(t, "cohort", &s->cohort));
        }
      }
      if (s->cohort.empty()) return r.error(at, where + "cohort is required (an id or a name)");
      std::string mode;
      CONCORD_TRY(r.choice(t, "mode", {"dynamic", "one-time"}, &mode));
      if (mode == "one-time") s->mode = CohortMode::kOneTime;
      // Mixpanel's dynamic export runs every two hours; so does concord's, unless told.
      if (t.get("schedule") == nullptr) s->schedule = "every 2h";
      break;
    }
  }
  if (s->one_way()) s->options.direction = Direction::kToMailchimp;
  return Status::ok();
}

// The pair's Mailchimp target: `target`, `tag`, `interest` (cohorts default to a tag).
Status read_target(const Reader& r, const toml::table& t, const toml::node* at, SyncConfig* s) {
  const std::string where = "sync \"" + s->name + "\": ";
  CONCORD_TRY(r.str(t, "tag", &s->tag));
  CONCORD_TRY(r.str(t, "interest", &s->interest));
  std::string target;
  CONCORD_TRY(r.choice(t, "target", {"audience", "tag", "interest"}, &target));
  if (t.get("tag") != nullptr && t.get("interest") != nullptr) {
    return r.error(at, where + "tag and interest: a sync has one target");
  }
  if (t.get("tag") != nullptr && s->tag.empty())
    return r.error(t.get("tag"), where + "tag is empty");
  if (t.get("interest") != nullptr) {
    const std::size_t colon = s->interest.find(':');
    if (colon == std::string::npos || colon == 0 ||
        s->interest.find_first_not_of(' ', colon + 1) == std::string::npos) {
      return r.error(t.get("interest"),
                     where +
                         "interest must be written \"Category: Interest\" (the interest "
                         "category's title, a colon, the interest's name)");
    }
  }
  const bool cohort = s->people == PeopleKind::kMixpanel || s->people == PeopleKind::kAmplitude;
  if (target.empty()) {
    target = t.get("tag") != nullptr        ? "tag"
             : t.get("interest") != nullptr ? "interest"
             : cohort                       ? "tag"
                                            : "audience";
  }
  if ((target == "audience" && (t.get("tag") || t.get("interest"))) ||
      (target == "tag" && t.get("interest")) || (target == "interest" && t.get("tag"))) {
    return r.error(t.get("target"), where + "target = \"" + target + "\" does not go with " +
                                        (t.get("tag") ? "tag" : "interest"));
  }
  if (target == "interest" && s->interest.empty()) {
    return r.error(at, where + "target = \"interest\" needs interest = \"Category: Interest\"");
  }
  if (target == "tag" && s->tag.empty() && !cohort) {
    return r.error(at, where + "target = \"tag\" needs tag = \"…\"");
  }
  s->target = target == "tag"        ? TargetKind::kTag
              : target == "interest" ? TargetKind::kInterest
                                     : TargetKind::kAudience;
  s->options.target = s->target;
  return Status::ok();
}

// A one-way pair's field mapping: TAG = "source attribute", always towards Mailchimp.
Status read_one_way_field(const Reader& r, const toml::node& val, const std::string& where,
                          PeopleKind kind, FieldMapping* m) {
  if (!val.is_string()) {
    return r.error(&val, where + "fields." + m->tag + " must name a " +
                             std::string(people_kind_name(kind)) +
                             " attribute (fields of a one-way sync go to Mailchimp only)");
  }
  m->crm_field = **val.as_string();
  m->direction = FieldMapping::Direction::kToMailchimp;
  if (m->crm_field.empty()) return r.error(&val, where + "fields." + m->tag + " names nothing");
  for (char c : m->crm_field) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return r.error(&val, where + "fields." + m->tag + " holds a control character");
    }
  }
  if (m->crm_field == "email" || m->crm_field == "$email") {
    return r.error(&val, where + "fields." + m->tag + " = \"" + m->crm_field +
                             "\": the address is the member's identity, not a field to map");
  }
  return Status::ok();
}

Status read_sync(const Reader& r, const toml::table& t, const toml::node* at, SyncConfig* s) {
  CONCORD_TRY(r.only(t,
                     {"name",
                      "mailchimp",
                      "civicrm",
                      "auth0",
                      "mixpanel",
                      "amplitude",
                      "mautic",
                      "audience",
                      "group",
                      "connection",
                      "verified_only",
                      "cohort",
                      "segment",
                      "mode",
                      "target",
                      "tag",
                      "interest",
                      "status_if_new",
                      "tie",
                      "skew_margin",
                      "resubscribe",
                      "double_opt_in",
                      "removal",
                      "hold_cleaned",
                      "respect_crm_opt_out",
                      "max_removal_fraction",
                      "max_addition_fraction",
                      "fields",
                      "schedule",
                      "keep_runs",
                      "keep_days"},
                     "[[sync]]"));
  CONCORD_TRY(r.str(t, "name", &s->name));
  if (!valid_name(s->name)) {
    return r.error(at, "every [[sync]] needs a name of 1-64 letters, digits, '_', '-' or '.'");
  }
  if (s->name.rfind("stream.", 0) == 0) {
    // The store keeps each [[stream]]'s state under "stream.NAME".
    return r.error(at, "sync \"" + s->name + "\": names starting \"stream.\" are kept for streams");
  }
  const std::string where = "sync \"" + s->name + "\": ";
  CONCORD_TRY(r.str(t, "mailchimp", &s->mailchimp));
  CONCORD_TRY(r.str(t, "audience", &s->audience));
  CONCORD_TRY(r.str(t, "schedule", &s->schedule));
  CONCORD_TRY(read_people(r, t, at, s));
  CONCORD_TRY(read_target(r, t, at, s));
  if (s->audience.empty()) return r.error(at, where + "audience is required (an id or a name)");
  SyncOptions& o = s->options;
  std::string v;
  CONCORD_TRY(r.choice(t, "tie", {"crm", "mailchimp", "out"}, &v));
  if (v == "mailchimp") o.tie = TieRule::kMailchimp;
  if (v == "out") o.tie = TieRule::kOut;
  v.clear();
  CONCORD_TRY(r.choice(t, "resubscribe", {"pending", "never"}, &v));
  if (v == "never") o.resubscribe = Resubscribe::kNever;
  // A mirror does not ask people who unsubscribed themselves to confirm again because they are
  // still in the source's set (the integrations it replaces never do); a CRM pair does, unless
  // told (docs/decision-rules.md).
  if (s->one_way() && v.empty()) o.resubscribe = Resubscribe::kNever;
  // A cohort export replaces the previous one: the target holds exactly the cohort.
  o.exact_mirror = s->people == PeopleKind::kMixpanel || s->people == PeopleKind::kAmplitude;
  v.clear();
  // Auth0's extension never removes anyone; concord does the same unless told.
  if (s->people == PeopleKind::kAuth0) o.removal = RemovalMode::kNone;
  CONCORD_TRY(r.choice(t, "removal", {"none", "unsubscribe", "archive"}, &v));
  if (v == "archive") o.removal = RemovalMode::kArchive;
  if (v == "unsubscribe") o.removal = RemovalMode::kUnsubscribe;
  if (v == "none") o.removal = RemovalMode::kNone;
  if (s->target != TargetKind::kAudience && (v == "unsubscribe" || v == "archive")) {
    return r.error(t.get("removal"),
                   where + "removal = \"" + v +
                       "\": a tag or interest target takes the tag or "
                       "interest away and never unsubscribes; write removal = \"none\" to "
                       "keep it, or leave removal out");
  }
  CONCORD_TRY(r.boolean(t, "double_opt_in", &o.double_opt_in));
  v.clear();
  CONCORD_TRY(r.choice(t, "status_if_new", {"subscribed", "pending"}, &v));
  if (!v.empty()) {
    if (t.get("double_opt_in") != nullptr && o.double_opt_in != (v == "pending")) {
      return r.error(t.get("status_if_new"),
                     where + "status_if_new and double_opt_in say different things");
    }
    o.double_opt_in = v == "pending";
  }
  CONCORD_TRY(r.boolean(t, "hold_cleaned", &o.hold_cleaned));
  CONCORD_TRY(r.boolean(t, "respect_crm_opt_out", &o.respect_crm_opt_out));
  std::string skew;
  CONCORD_TRY(r.str(t, "skew_margin", &skew));
  if (!skew.empty()) {
    Result<Micros> d = parse_duration(skew);
    if (!d) return r.error(t.get("skew_margin"), where + "skew_margin: " + d.status().message());
    o.skew_margin = *d;
  }
  if (const toml::node* n = t.get("max_removal_fraction")) {
    std::optional<double> f = n->value<double>();
    if (!f || !(*f >= 0 && *f <= 1)) {  // written so that nan is refused too
      return r.error(n, where + "max_removal_fraction must be a number from 0 to 1");
    }
    o.max_removal_fraction = *f;
  }
  if (const toml::node* n = t.get("max_addition_fraction")) {
    // Unlike removals, additions may outnumber the members a side has (2: a list may triple).
    std::optional<double> f = n->value<double>();
    if (!f || !(*f >= 0 && *f <= 1000000)) {  // nan and inf are refused too
      return r.error(n, where + "max_addition_fraction must be a number from 0 to 1000000");
    }
    o.max_addition_fraction = *f;
  }
  for (auto [key, out] :
       {std::pair{"keep_runs", &s->keep_runs}, std::pair{"keep_days", &s->keep_days}}) {
    const toml::node* n = t.get(key);
    if (n == nullptr) continue;
    std::optional<std::int64_t> k = n->value<std::int64_t>();
    if (!k || *k < 1 || *k > 1000000) {
      return r.error(n, where + key + " must be a whole number from 1 to 1000000");
    }
    *out = *k;
  }
  if (const toml::node* n = t.get("fields")) {
    const toml::table* ft = n->as_table();
    if (ft == nullptr) return r.error(n, where + "fields must be a table { TAG = \"crm_field\" }");
    for (const auto& [tag, val] : *ft) {
      FieldMapping m;
      m.tag = std::string(tag.str());
      if (s->one_way()) {
        CONCORD_TRY(read_one_way_field(r, val, where, s->people, &m));
      } else if (val.is_string()) {
        m.crm_field = **val.as_string();
      } else if (const toml::table* vt = val.as_table()) {
        CONCORD_TRY(r.only(*vt, {"crm", "direction"}, "fields." + m.tag));
        CONCORD_TRY(r.str(*vt, "crm", &m.crm_field));
        std::string dir;
        CONCORD_TRY(r.choice(*vt, "direction", {"both", "to_mailchimp", "to_crm"}, &dir));
        if (dir == "to_mailchimp") m.direction = FieldMapping::Direction::kToMailchimp;
        if (dir == "to_crm") m.direction = FieldMapping::Direction::kToCrm;
      } else {
        return r.error(&val, where + "fields." + m.tag +
                                 " must be a CRM field name or { crm = …, direction = … }");
      }
      if (m.crm_field.empty())
        return r.error(&val, where + "fields." + m.tag + " names no CRM field");
      if (std::string why = s->one_way() ? "" : bad_crm_field(m.crm_field); !why.empty()) {
        return r.error(&val, where + "fields." + m.tag + " = \"" + m.crm_field + "\": " + why);
      }
      for (const FieldMapping& other : s->fields) {
        if (other.crm_field == m.crm_field) {
          return r.error(&val, where + "fields." + m.tag + " maps " + m.crm_field +
                                   ", which fields." + other.tag + " maps already");
        }
      }
      s->fields.push_back(std::move(m));
    }
  }
  return Status::ok();
}

Status read_stream(const Reader& r, const toml::table& t, const toml::node* at, StreamConfig* s) {
  CONCORD_TRY(r.only(t,
                     {"name", "kind", "api_key_env", "mailchimp", "audience", "send_events",
                      "send_users", "events", "event_properties", "user_properties",
                      "status_if_new", "email_property", "max_events_per_second"},
                     "[[stream]]"));
  CONCORD_TRY(r.str(t, "name", &s->name));
  if (!valid_name(s->name)) {
    return r.error(at, "every [[stream]] needs a name of 1-64 letters, digits, '_', '-' or '.'");
  }
  const std::string where = "stream \"" + s->name + "\": ";
  std::string kind;
  CONCORD_TRY(r.choice(t, "kind", {"amplitude"}, &kind));
  if (kind.empty()) return r.error(at, where + "kind is required (kind = \"amplitude\")");
  CONCORD_TRY(r.str(t, "api_key_env", &s->api_key_env));
  if (s->api_key_env.empty()) {
    return r.error(at, where +
                           "api_key_env is required: the environment variable holding the key "
                           "senders must send");
  }
  CONCORD_TRY(r.str(t, "mailchimp", &s->mailchimp));
  CONCORD_TRY(r.str(t, "audience", &s->audience));
  if (s->audience.empty()) return r.error(at, where + "audience is required (an id or a name)");
  CONCORD_TRY(r.boolean(t, "send_events", &s->send_events));
  CONCORD_TRY(r.boolean(t, "send_users", &s->send_users));
  if (!s->send_events && !s->send_users) {
    return r.error(at, where + "send_events and send_users are both false: nothing would be sent");
  }
  CONCORD_TRY(r.strings(t, "events", where, &s->events));
  CONCORD_TRY(r.strings(t, "event_properties", where, &s->event_properties));
  CONCORD_TRY(r.strings(t, "user_properties", where, &s->user_properties));
  std::string status;
  CONCORD_TRY(r.choice(t, "status_if_new", {"subscribed", "pending"}, &status));
  s->status_if_new_pending = status == "pending";
  if (const toml::node* n = t.get("email_property")) {
    CONCORD_TRY(r.str(t, "email_property", &s->email_property));
    if (s->email_property.empty()) return r.error(n, where + "email_property names nothing");
  }
  if (const toml::node* n = t.get("max_events_per_second")) {
    std::optional<double> v = n->value<double>();
    if (!v || !(*v >= 1 && *v <= 1000000)) {  // nan and inf are refused too
      return r.error(n, where + "max_events_per_second must be a number from 1 to 1000000");
    }
    s->max_events_per_second = *v;
  }
  return Status::ok();
}

// Each section of a kind ([auth0.NAME], …) as a table, or an error naming it.
template <typename Fn>
Status each_section(const Reader& r, const toml::table& root, std::string_view kind, Fn fn) {
  const toml::node* n = root.get(kind);
  if (n == nullptr) return Status::ok();
  const toml::table* all = n->as_table();
  if (all == nullptr) return r.error(n, "[" + std::string(kind) + ".NAME] sections expected");
  for (const auto& [name, v] : *all) {
    const toml::table* t = v.as_table();
    const std::string section = "[" + std::string(kind) + "." + std::string(name.str()) + "]";
    if (t == nullptr) return r.error(&v, section + " must be a section");
    if (!valid_name(name.str())) {
      return r.error(&v, section + ": names are 1-64 letters, digits, '_', '-' or '.'");
    }
    CONCORD_TRY(fn(std::string(name.str()), *t, section));
  }
  return Status::ok();
}

// base_url (optional): https, or http to this machine only.
Status read_base_url(const Reader& r, const toml::table& t, const std::string& section,
                     std::string* out) {
  CONCORD_TRY(r.str(t, "base_url", out));
  if (clear_text_off_machine(*out)) {
    return r.error(t.get("base_url"), section +
                                          " base_url: http:// is refused for a host that is not "
                                          "this machine (the credentials would cross the network "
                                          "in clear); use https://");
  }
  return Status::ok();
}

// The one-way sources: [auth0.NAME], [mixpanel.NAME], [amplitude.NAME], [mautic.NAME].
template <typename BesideConfig>
Status read_sources(const Reader& r, const toml::table& root, BesideConfig beside_config,
                    Config* c) {
  CONCORD_TRY(each_section(
      r, root, "auth0",
      [&](std::string name, const toml::table& t, const std::string& section) -> Status {
        Auth0Config a;
        a.name = std::move(name);
        CONCORD_TRY(r.only(t, {"domain", "client_id", "client_secret_env", "base_url", "ca_file"},
                           section));
        CONCORD_TRY(r.str(t, "domain", &a.domain));
        CONCORD_TRY(r.str(t, "client_id", &a.client_id));
        CONCORD_TRY(r.str(t, "client_secret_env", &a.client_secret_env));
        CONCORD_TRY(read_base_url(r, t, section, &a.base_url));
        CONCORD_TRY(r.str(t, "ca_file", &a.ca_file));
        beside_config(&a.ca_file);
        if (a.domain.empty())
          return r.error(&t, section + " domain is required (acme.eu.auth0.com)");
        if (a.domain.find_first_of("/:@ ") != std::string::npos) {
          return r.error(t.get("domain"), section +
                                              " domain is a host name (acme.eu.auth0.com), "
                                              "not a URL");
        }
        if (a.client_id.empty()) return r.error(&t, section + " client_id is required");
        c->auth0[a.name] = std::move(a);
        return Status::ok();
      }));
  CONCORD_TRY(each_section(
      r, root, "mixpanel",
      [&](std::string name, const toml::table& t, const std::string& section) -> Status {
        MixpanelConfig m;
        m.name = std::move(name);
        CONCORD_TRY(r.only(
            t, {"project_id", "service_account", "secret_env", "region", "base_url", "ca_file"},
            section));
        const toml::node* id = t.get("project_id");
        std::optional<std::int64_t> project = id ? id->value<std::int64_t>() : std::nullopt;
        if (!project || *project < 1) {
          return r.error(id ? id : &t, section + " project_id is required: the project's number");
        }
        m.project_id = *project;
        CONCORD_TRY(r.str(t, "service_account", &m.service_account));
        CONCORD_TRY(r.str(t, "secret_env", &m.secret_env));
        CONCORD_TRY(r.choice(t, "region", {"us", "eu", "in"}, &m.region));
        CONCORD_TRY(read_base_url(r, t, section, &m.base_url));
        CONCORD_TRY(r.str(t, "ca_file", &m.ca_file));
        beside_config(&m.ca_file);
        if (m.service_account.empty()) {
          return r.error(&t, section +
                                 " service_account is required (the service account's user "
                                 "name)");
        }
        c->mixpanel[m.name] = std::move(m);
        return Status::ok();
      }));
  CONCORD_TRY(each_section(
      r, root, "mautic",
      [&](std::string name, const toml::table& t, const std::string& section) -> Status {
        MauticConfig m;
        m.name = std::move(name);
        CONCORD_TRY(r.only(
            t, {"url", "username", "password_env", "client_id", "client_secret_env", "ca_file"},
            section));
        CONCORD_TRY(r.str(t, "url", &m.url));
        CONCORD_TRY(r.str(t, "username", &m.username));
        CONCORD_TRY(r.str(t, "password_env", &m.password_env));
        CONCORD_TRY(r.str(t, "client_id", &m.client_id));
        CONCORD_TRY(r.str(t, "client_secret_env", &m.client_secret_env));
        CONCORD_TRY(r.str(t, "ca_file", &m.ca_file));
        beside_config(&m.ca_file);
        if (m.url.empty()) {
          return r.error(&t, section + " url is required (the site, https://mautic.example.com)");
        }
        if (clear_text_off_machine(m.url)) {
          return r.error(t.get("url"), section +
                                           " url: http:// is refused for a host that is not "
                                           "this machine (the credentials would cross the "
                                           "network in clear); use https://");
        }
        const bool basic = t.get("username") != nullptr || t.get("password_env") != nullptr;
        const bool oauth = t.get("client_id") != nullptr || t.get("client_secret_env") != nullptr;
        if (basic == oauth) {
          return r.error(&t, section +
                                 " needs one way to sign in: username (with password_env) for "
                                 "Basic auth, or client_id (with client_secret_env) for OAuth2");
        }
        if (basic && m.username.empty()) return r.error(&t, section + " username is empty");
        if (oauth && m.client_id.empty()) return r.error(&t, section + " client_id is empty");
        c->mautic[m.name] = std::move(m);
        return Status::ok();
      }));
  return each_section(
      r, root, "amplitude",
      [&](std::string name, const toml::table& t, const std::string& section) -> Status {
        AmplitudeConfig a;
        a.name = std::move(name);
        CONCORD_TRY(
            r.only(t, {"api_key_env", "secret_key_env", "region", "base_url", "ca_file"}, section));
        CONCORD_TRY(r.str(t, "api_key_env", &a.api_key_env));
        CONCORD_TRY(r.str(t, "secret_key_env", &a.secret_key_env));
        CONCORD_TRY(r.choice(t, "region", {"us", "eu"}, &a.region));
        CONCORD_TRY(read_base_url(r, t, section, &a.base_url));
        CONCORD_TRY(r.str(t, "ca_file", &a.ca_file));
        beside_config(&a.ca_file);
        c->amplitude[a.name] = std::move(a);
        return Status::ok();
      });
}

}  // namespace

std::pair<std::string, std::string> split_interest(std::string_view written) {
  auto trimmed = [](std::string_view t) {
    const std::size_t first = t.find_first_not_of(' ');
    if (first == std::string_view::npos) return std::string();
    return std::string(t.substr(first, t.find_last_not_of(' ') - first + 1));
  };
  const std::size_t colon = written.find(':');
  if (colon == std::string_view::npos) return {trimmed(written), ""};
  return {trimmed(written.substr(0, colon)), trimmed(written.substr(colon + 1))};
}

std::string_view people_kind_name(PeopleKind kind) {
  switch (kind) {
    case PeopleKind::kCivicrm:
      return "civicrm";
    case PeopleKind::kAuth0:
      return "auth0";
    case PeopleKind::kMixpanel:
      return "mixpanel";
    case PeopleKind::kAmplitude:
      return "amplitude";
    case PeopleKind::kMautic:
      return "mautic";
  }
  return "civicrm";
}

Result<Micros> parse_duration(std::string_view text) {
  if (text.empty()) return Status::invalid("empty duration");
  std::size_t i = 0;
  std::int64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    n = n * 10 + (text[i] - '0');
    if (n > 1'000'000'000)
      return Status::invalid("duration \"" + std::string(text) + "\" is too long");
    ++i;
  }
  if (i == 0)
    return Status::invalid("\"" + std::string(text) + "\" is not a duration like 30s, 5m or 1h");
  std::string_view unit = text.substr(i);
  std::int64_t mult;
  if (unit.empty() && n == 0) {
    mult = 0;
  } else if (unit == "s") {
    mult = 1;
  } else if (unit == "m") {
    mult = 60;
  } else if (unit == "h") {
    mult = 3600;
  } else if (unit == "d") {
    mult = 86400;
  } else {
    return Status::invalid("\"" + std::string(text) + "\" is not a duration like 30s, 5m or 1h");
  }
  // At most ten years: anything longer is a typo, and would overflow µs in an int64.
  constexpr std::int64_t kMaxSeconds = 10LL * 366 * 86400;
  if (mult != 0 && n > kMaxSeconds / mult) {
    return Status::invalid("duration \"" + std::string(text) +
                           "\" is too long (at most ten years)");
  }
  return n * mult * kMicrosPerSecond;
}

Result<const SyncConfig*> Config::sync(std::string_view name) const {
  if (name.empty()) {
    if (syncs.size() == 1) return &syncs[0];
    return Status::invalid("the configuration has " + std::to_string(syncs.size()) +
                           " syncs; name one with --sync");
  }
  for (const SyncConfig& s : syncs) {
    if (s.name == name) return &s;
  }
  return Status::invalid("no sync named \"" + std::string(name) + "\" in " + path.string());
}

Result<Config> parse_config(std::string_view text, const std::filesystem::path& origin) {
  Reader r(origin.string());
  toml::table root;
  try {
    root = toml::parse(text, origin.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << origin.string() << ":" << e.source().begin.line << ": " << e.description();
    return Status::invalid(msg.str());
  }
  Config c;
  c.path = origin;
  CONCORD_TRY(r.only(root,
                     {"state_dir", "mailchimp", "civicrm", "auth0", "mixpanel", "amplitude",
                      "mautic", "sync", "stream", "serve"},
                     "the top level"));
  std::string state_dir = "state";
  CONCORD_TRY(r.str(root, "state_dir", &state_dir));
  c.state_dir = state_dir;
  if (c.state_dir.is_relative()) c.state_dir = origin.parent_path() / c.state_dir;
  // Relative file names in the configuration are relative to the file's directory.
  auto beside_config = [&](std::string* file) {
    if (!file->empty() && std::filesystem::path(*file).is_relative()) {
      *file = (origin.parent_path() / *file).string();
    }
  };

  if (const toml::node* n = root.get("mailchimp")) {
    const toml::table* accounts = n->as_table();
    if (accounts == nullptr) return r.error(n, "[mailchimp.NAME] sections expected");
    for (const auto& [name, v] : *accounts) {
      const toml::table* t = v.as_table();
      if (t == nullptr)
        return r.error(&v, "mailchimp." + std::string(name.str()) + " must be a section");
      MailchimpAccountConfig a;
      a.name = std::string(name.str());
      const std::string section = "[mailchimp." + a.name + "]";
      CONCORD_TRY(r.only(*t, {"api_key_env", "base_url", "ca_file", "max_connections"}, section));
      CONCORD_TRY(r.str(*t, "api_key_env", &a.api_key_env));
      CONCORD_TRY(r.str(*t, "base_url", &a.base_url));
      if (clear_text_off_machine(a.base_url)) {
        return r.error(t->get("base_url"), section +
                                               " base_url: http:// is refused for a host that is "
                                               "not this machine (the API key would cross the "
                                               "network in clear); use https://");
      }
      CONCORD_TRY(r.str(*t, "ca_file", &a.ca_file));
      beside_config(&a.ca_file);
      if (const toml::node* m = t->get("max_connections")) {
        std::optional<std::int64_t> k = m->value<std::int64_t>();
        if (!k || *k < 1 || *k > 10) {
          return r.error(m, section + " max_connections must be 1 to 10 (Mailchimp refuses more)");
        }
        a.max_connections = static_cast<int>(*k);
      }
      c.mailchimp[a.name] = std::move(a);
    }
  }
  if (const toml::node* n = root.get("civicrm")) {
    const toml::table* conns = n->as_table();
    if (conns == nullptr) return r.error(n, "[civicrm.NAME] sections expected");
    for (const auto& [name, v] : *conns) {
      const toml::table* t = v.as_table();
      if (t == nullptr)
        return r.error(&v, "civicrm." + std::string(name.str()) + " must be a section");
      CiviCrmConfig cc;
      cc.name = std::string(name.str());
      const std::string section = "[civicrm." + cc.name + "]";
      CONCORD_TRY(r.only(
          *t, {"url", "api_key_env", "site_key_env", "timezone", "ca_file", "max_connections"},
          section));
      CONCORD_TRY(r.str(*t, "url", &cc.url));
      CONCORD_TRY(r.str(*t, "api_key_env", &cc.api_key_env));
      CONCORD_TRY(r.str(*t, "site_key_env", &cc.site_key_env));
      CONCORD_TRY(r.str(*t, "timezone", &cc.timezone));
      CONCORD_TRY(r.str(*t, "ca_file", &cc.ca_file));
      beside_config(&cc.ca_file);
      if (const toml::node* m = t->get("max_connections")) {
        std::optional<std::int64_t> k = m->value<std::int64_t>();
        if (!k || *k < 1 || *k > 32)
          return r.error(m, section + " max_connections must be 1 to 32");
        cc.max_connections = static_cast<int>(*k);
      }
      if (cc.url.empty()) return r.error(&v, section + " url is required");
      if (clear_text_off_machine(cc.url)) {
        return r.error(t->get("url"), section +
                                          " url: http:// is refused for a host that is not "
                                          "this machine (the API and site keys would cross the "
                                          "network in clear); use https://");
      }
      c.civicrm[cc.name] = std::move(cc);
    }
  }
  CONCORD_TRY(read_sources(r, root, beside_config, &c));
  if (const toml::node* n = root.get("serve")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return r.error(n, "[serve] must be a section");
    CONCORD_TRY(r.only(*t,
                       {"listen", "token_env", "signature_header", "signature_secret_env",
                        "public_url", "timezone"},
                       "[serve]"));
    CONCORD_TRY(r.str(*t, "listen", &c.serve.listen));
    CONCORD_TRY(r.str(*t, "token_env", &c.serve.token_env));
    CONCORD_TRY(r.str(*t, "signature_header", &c.serve.signature_header));
    CONCORD_TRY(r.str(*t, "signature_secret_env", &c.serve.signature_secret_env));
    CONCORD_TRY(r.str(*t, "public_url", &c.serve.public_url));
    CONCORD_TRY(r.str(*t, "timezone", &c.serve.timezone));
    if (Result<std::shared_ptr<const TimeZone>> z = TimeZone::load(c.serve.timezone); !z) {
      return r.error(t->get("timezone"), "[serve] timezone: " + z.status().message());
    }
    if (c.serve.signature_header.empty() != c.serve.signature_secret_env.empty()) {
      return r.error(n, "[serve] signature_header and signature_secret_env go together");
    }
  }
  if (const toml::node* n = root.get("sync")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return r.error(n, "syncs are written [[sync]]");
    std::set<std::string> names;
    for (const toml::node& e : *arr) {
      const toml::table* t = e.as_table();
      if (t == nullptr) return r.error(&e, "syncs are written [[sync]]");
      SyncConfig s;
      CONCORD_TRY(read_sync(r, *t, &e, &s));
      if (Result<Schedule> sch = schedule_of(c, s); !sch) {
        return r.error(t->get("schedule") != nullptr ? t->get("schedule") : &e,
                       "sync \"" + s.name + "\": " + sch.status().message());
      }
      if (!names.insert(s.name).second)
        return r.error(&e, "two syncs are named \"" + s.name + "\"");
      auto pick = [&](std::string& ref, const auto& all, const char* kind) -> Status {
        if (ref.empty()) {
          if (all.size() == 1) {
            ref = all.begin()->first;
            return Status::ok();
          }
          return r.error(&e, "sync \"" + s.name + "\": name its " + kind + " (there are " +
                                 std::to_string(all.size()) + ")");
        }
        if (!all.count(ref)) {
          return r.error(&e, "sync \"" + s.name + "\": no [" + kind + "." + ref + "] section");
        }
        return Status::ok();
      };
      CONCORD_TRY(pick(s.mailchimp, c.mailchimp, "mailchimp"));
      switch (s.people) {
        case PeopleKind::kCivicrm:
          CONCORD_TRY(pick(s.civicrm, c.civicrm, "civicrm"));
          break;
        case PeopleKind::kAuth0:
          CONCORD_TRY(pick(s.source, c.auth0, "auth0"));
          break;
        case PeopleKind::kMixpanel:
          CONCORD_TRY(pick(s.source, c.mixpanel, "mixpanel"));
          break;
        case PeopleKind::kAmplitude:
          CONCORD_TRY(pick(s.source, c.amplitude, "amplitude"));
          break;
        case PeopleKind::kMautic:
          CONCORD_TRY(pick(s.source, c.mautic, "mautic"));
          break;
      }
      c.syncs.push_back(std::move(s));
    }
  }
  if (const toml::node* n = root.get("stream")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return r.error(n, "streams are written [[stream]]");
    for (const toml::node& e : *arr) {
      const toml::table* t = e.as_table();
      if (t == nullptr) return r.error(&e, "streams are written [[stream]]");
      StreamConfig s;
      CONCORD_TRY(read_stream(r, *t, &e, &s));
      for (const StreamConfig& other : c.streams) {
        if (other.name == s.name) return r.error(&e, "two streams are named \"" + s.name + "\"");
      }
      if (s.mailchimp.empty()) {
        if (c.mailchimp.size() != 1) {
          return r.error(&e, "stream \"" + s.name + "\": name its mailchimp (there are " +
                                 std::to_string(c.mailchimp.size()) + ")");
        }
        s.mailchimp = c.mailchimp.begin()->first;
      } else if (!c.mailchimp.count(s.mailchimp)) {
        return r.error(&e, "stream \"" + s.name + "\": no [mailchimp." + s.mailchimp + "] section");
      }
      c.streams.push_back(std::move(s));
    }
  }
  return c;
}

Result<Config> load_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::invalid("cannot read the configuration file " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

Result<Schedule> schedule_of(const Config& config, const SyncConfig& sync) {
  Result<std::shared_ptr<const TimeZone>> zone = TimeZone::load(config.serve.timezone);
  if (!zone) return zone.status();
  return Schedule::parse(sync.schedule, *zone);
}

Result<std::string> read_secret(std::string_view env, std::string_view what) {
  if (env.empty()) return Status::invalid(std::string(what) + ": no environment variable is named");
  const char* v = std::getenv(std::string(env).c_str());
  if (v == nullptr || *v == '\0') {
    return Status::invalid(std::string(what) + ": the environment variable " + std::string(env) +
                           " is not set");
  }
  return std::string(v);
}

std::string example_config() {
  return R"(# concord configuration. Secrets come from environment variables named here.
state_dir = "state"                       # the store, backups and reports

[mailchimp.main]
api_key_env = "MAILCHIMP_API_KEY"         # the variable holding "<key>-<dc>"
# base_url = "https://us6.api.mailchimp.com/3.0"   # default: from the key's datacenter
# ca_file = "sandbox/ca.pem"              # default: the system's certificate store
max_connections = 8                       # Mailchimp refuses more than 10 at once

[civicrm.main]
url = "https://crm.example.org"
api_key_env = "CIVICRM_API_KEY"
site_key_env = "CIVICRM_SITE_KEY"
timezone = "Europe/London"                # the site's time zone (CiviCRM reports local times)
# ca_file = "…"
# max_connections = 4                     # requests sent to the site at once (1-32)

[[sync]]
name = "newsletter"
# mailchimp = "main"                      # may be left out when there is one account
# civicrm = "main"                        # likewise
audience = "Newsletter"                   # id or name
group = "Newsletter"                      # id, name or title
tie = "crm"                               # crm | mailchimp | out: who wins equal change times
skew_margin = "0s"                        # times this close count as equal
resubscribe = "pending"                   # pending | never: a person who unsubscribed themself
double_opt_in = false                     # add new members as pending
removal = "unsubscribe"                   # unsubscribe | archive (never a permanent delete)
hold_cleaned = true                       # a bounced address is put on hold in the CRM
respect_crm_opt_out = true                # opted-out, do-not-email, deceased: OUT for Mailchimp
max_removal_fraction = 0.10               # stop before removing more than this share of a side
max_addition_fraction = 0.25              # likewise for subscribes and new CRM contacts (not a first run)
fields = { FNAME = "first_name", LNAME = "last_name" }   # Mailchimp tag = CRM field, both ways
schedule = "every 1h"                     # concord serve: every 5m|30m|1h|2h|1d, or cron
keep_runs = 100                           # journals and reports of older runs are pruned …
keep_days = 90                            # … unless they ended within this many days

# [serve]                                 # concord serve
# listen = "127.0.0.1:8080"               # the status page, API, metrics and webhooks
# token_env = "CONCORD_TOKEN"             # the page's and API's token (default: state/serve.token)
# public_url = "https://concord.example.org"   # where Mailchimp reaches the webhooks
# timezone = "UTC"                        # the zone cron schedules are read in
)";
}

}  // namespace concord
