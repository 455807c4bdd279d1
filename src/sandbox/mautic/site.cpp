#include "sandbox/mautic/site.h"

#include <random>

#include "sandbox/text.h"

namespace concord::sandbox::mautic {
namespace {

// A fresh install's contact fields, with the ids Mautic's installer gives them (email is "6").
struct DefaultField {
  std::string_view id, alias, label, type, group;
};
constexpr DefaultField kDefaultFields[] = {
    {"1", "title", "Title", "lookup", "core"},
    {"2", "firstname", "First Name", "text", "core"},
    {"3", "lastname", "Last Name", "text", "core"},
    {"4", "company", "Primary company", "text", "core"},
    {"5", "position", "Position", "text", "core"},
    {"6", "email", "Email", "email", "core"},
    {"7", "mobile", "Mobile", "tel", "core"},
    {"8", "phone", "Phone", "tel", "core"},
    {"9", "points", "Points", "number", "core"},
    {"10", "fax", "Fax", "tel", "core"},
    {"11", "address1", "Address Line 1", "text", "core"},
    {"12", "address2", "Address Line 2", "text", "core"},
    {"13", "city", "City", "text", "core"},
    {"14", "state", "State", "region", "core"},
    {"15", "zipcode", "Zip Code", "text", "core"},
    {"16", "country", "Country", "country", "core"},
    {"17", "preferred_locale", "Preferred Locale", "locale", "core"},
    {"18", "timezone", "Preferred Timezone", "timezone", "core"},
    {"22", "website", "Website", "url", "core"},
    {"23", "facebook", "Facebook", "text", "social"},
    {"24", "foursquare", "Foursquare", "text", "social"},
    {"26", "instagram", "Instagram", "text", "social"},
    {"27", "linkedin", "LinkedIn", "text", "social"},
    {"28", "skype", "Skype", "text", "social"},
    {"29", "twitter", "Twitter", "text", "social"},
};

constexpr std::string_view kQueueModes[] = {"immediate_process", "command_process"};

// The fields whose value makes a contact identified (Mautic's Lead::isAnonymous reads these).
constexpr std::string_view kIdentifying[] = {"firstname", "lastname", "company", "email"};

}  // namespace

std::string_view queue_mode_name(QueueMode m) {
  return kQueueModes[static_cast<int>(m)];
}

std::optional<QueueMode> queue_mode_named(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kQueueModes); ++i) {
    if (kQueueModes[i] == name) return static_cast<QueueMode>(i);
  }
  return std::nullopt;
}

std::vector<Field> default_fields() {
  std::vector<Field> fields;
  for (const DefaultField& f : kDefaultFields) {
    fields.push_back({std::string(f.id), std::string(f.alias), std::string(f.label),
                      std::string(f.type), std::string(f.group), true});
  }
  return fields;
}

void PublishDetails::created_at(Micros now) {
  date_added = now;
  created_by = kActingUserId;
  created_by_user = kActingUserName;
  modified_at(now);
}

void PublishDetails::modified_at(Micros now) {
  date_modified = now;
  modified_by = kActingUserId;
  modified_by_user = kActingUserName;
}

const Field* Site::field(std::string_view alias) const {
  for (const Field& f : fields) {
    if (f.alias == alias) return &f;
  }
  return nullptr;
}

const Segment* Site::segment_by_alias(std::string_view alias) const {
  for (const auto& [id, s] : segments) {
    if (s.alias == alias) return &s;
  }
  return nullptr;
}

std::int64_t Site::tag_id(const std::string& tag) {
  auto [it, added] = tag_ids.emplace(tag, next.tags);
  if (added) ++next.tags;
  return it->second;
}

Site default_site() {
  Site s;
  s.oauth_clients.push_back({std::string(kDefaultClientId), std::string(kDefaultClientSecret)});
  return s;
}

ojson field_value(const Contact& c, std::string_view alias) {
  if (alias == "points") return c.points;
  auto it = c.values.find(std::string(alias));
  return it == c.values.end() ? ojson() : it->second;
}

std::string random_hex(std::size_t n) {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  std::string bytes;
  while (bytes.size() < n) {
    std::uint64_t v = gen();
    for (int i = 0; i < 8 && bytes.size() < n; ++i, v >>= 8)
      bytes.push_back(static_cast<char>(v & 0xff));
  }
  std::string out;
  append_hex(&out, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return out;
}

bool identifiable(const Contact& c) {
  for (std::string_view alias : kIdentifying) {
    const ojson v = field_value(c, alias);
    if (!v.is_null() && !(v.is_string() && v.get_ref<const std::string&>().empty())) return true;
  }
  return false;
}

}  // namespace concord::sandbox::mautic
