#include "sandbox/mailchimp/account.h"

#include <cctype>
#include <cstdio>
#include <utility>

#include "net/ascii.h"
#include "sandbox/text.h"

namespace concord::sandbox {

// Names.

namespace {
constexpr std::array<std::string_view, kStatusCount> kStatusNames = {
    "subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived"};
constexpr std::array<std::string_view, 3> kSourceNames = {"api", "admin", "user"};
constexpr std::array<std::string_view, 11> kMergeTypeNames = {
    "text",     "number", "address",  "phone",    "date", "url",
    "imageurl", "radio",  "dropdown", "birthday", "zip"};
}  // namespace

std::string_view status_name(MemberStatus s) {
  return kStatusNames[static_cast<int>(s)];
}
std::optional<MemberStatus> parse_status(std::string_view s) {
  for (int i = 0; i < kStatusCount; ++i) {
    if (kStatusNames[i] == s) return static_cast<MemberStatus>(i);
  }
  return std::nullopt;
}
std::string_view source_name(Source s) {
  return kSourceNames[static_cast<int>(s)];
}
std::optional<Source> parse_source(std::string_view s) {
  for (int i = 0; i < 3; ++i) {
    if (kSourceNames[i] == s) return static_cast<Source>(i);
  }
  return std::nullopt;
}
std::string_view merge_type_name(MergeType t) {
  return kMergeTypeNames[static_cast<int>(t)];
}
std::optional<MergeType> parse_merge_type(std::string_view s) {
  for (std::size_t i = 0; i < kMergeTypeNames.size(); ++i) {
    if (kMergeTypeNames[i] == s) return static_cast<MergeType>(i);
  }
  return std::nullopt;
}
std::string_view category_type_name(CategoryType t) {
  return kCategoryTypeNames[static_cast<int>(t)];
}
std::optional<CategoryType> parse_category_type(std::string_view s) {
  for (std::size_t i = 0; i < kCategoryTypeNames.size(); ++i) {
    if (kCategoryTypeNames[i] == s) return static_cast<CategoryType>(i);
  }
  return std::nullopt;
}

std::string hash_hex(const MemberKey& k) {
  std::string s;
  s.reserve(32);
  append_hex(&s, k.bytes.data(), 16);
  return s;
}

std::string key_hex(const Key16& k) {
  std::string s;
  append_hex(&s, k.data(), 16);
  return s;
}

std::string ueid_hex(std::uint64_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010llx", static_cast<unsigned long long>(v));
  return buf;
}

// Packed merge values.

std::string pack_merges(const std::vector<std::string>& values) {
  // Trailing empty values are dropped: a shorter pack reads them as "".
  std::size_t n = values.size();
  while (n > 0 && values[n - 1].empty())
    --n;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t len = values[i].size();
    do {
      auto b = static_cast<unsigned char>(len & 0x7f);
      len >>= 7;
      if (len != 0) b |= 0x80;
      out.push_back(static_cast<char>(b));
    } while (len != 0);
    out += values[i];
  }
  return out;
}

std::vector<std::string> unpack_merges(std::string_view packed, std::size_t n) {
  std::vector<std::string> v(n);
  for_each_merge(packed, [&](std::size_t i, std::string_view s) {
    if (i < n) v[i] = std::string(s);
  });
  return v;
}

std::vector<MergeField> default_merge_fields() {
  std::vector<MergeField> v(4);
  v[0].merge_id = 1, v[0].tag = "FNAME", v[0].name = "First Name", v[0].display_order = 2;
  v[0].options = {{"size", 25}};
  v[1].merge_id = 2, v[1].tag = "LNAME", v[1].name = "Last Name", v[1].display_order = 3;
  v[1].options = {{"size", 25}};
  v[2].merge_id = 3, v[2].tag = "ADDRESS", v[2].name = "Address", v[2].display_order = 4;
  v[2].type = MergeType::kAddress;
  v[2].options = {{"default_country", 164}};
  v[3].merge_id = 4, v[3].tag = "PHONE", v[3].name = "Phone Number", v[3].display_order = 5;
  v[3].type = MergeType::kPhone;
  v[3].options = {{"phone_format", "none"}};
  return v;
}

// Members, lists, the account.

std::string Member::unsubscribe_reason() const {
  if (extra && !extra->unsubscribe_reason.empty()) return extra->unsubscribe_reason;
  if (unsubscribe_origin == Source::kUser) return "N/A (Unsubscribed by subscriber)";
  return "N/A (Unsubscribed by admin)";
}

bool Member::in_compliance_state() const {
  MemberStatus s = effective_status();
  return s == MemberStatus::kCleaned ||
         (s == MemberStatus::kUnsubscribed && unsubscribe_origin == Source::kUser);
}

Member* List::find(const MemberKey& key) {
  std::uint32_t s = by_key.find(key.bytes.data(),
                                [this](std::uint32_t i) { return members[i].key.bytes.data(); });
  return s == SlotIndex::kNone ? nullptr : &members[s];
}

const Member* List::find(const MemberKey& key) const {
  return const_cast<List*>(this)->find(key);
}

Member* List::find_contact(const Key16& contact_id) {
  std::uint32_t s = by_contact.find(
      contact_id.data(), [this](std::uint32_t i) { return members[i].contact_id.data(); });
  return s == SlotIndex::kNone ? nullptr : &members[s];
}

std::uint32_t List::slot_of(const Member& m) const {
  std::uint32_t s = by_key.find(m.key.bytes.data(),
                                [this](std::uint32_t i) { return members[i].key.bytes.data(); });
  return s;
}

int List::merge_index(std::string_view tag) const {
  for (std::size_t i = 0; i < merge_fields.size(); ++i) {
    const std::string& t = merge_fields[i].tag;
    if (t.size() != tag.size()) continue;
    bool eq = true;
    for (std::size_t k = 0; k < t.size() && eq; ++k) {
      eq = std::toupper(static_cast<unsigned char>(t[k])) ==
           std::toupper(static_cast<unsigned char>(tag[k]));
    }
    if (eq) return static_cast<int>(i);
  }
  return -1;
}

using http::ascii::iequals;

std::uint32_t List::tag_id(std::string_view name, bool create, std::uint32_t* next_tag_id) {
  for (const TagDef& t : tags) {
    if (iequals(t.name, name)) return t.id;
  }
  if (!create) return 0;
  tags.push_back(TagDef{(*next_tag_id)++, std::string(name)});
  return tags.back().id;
}

const TagDef* List::tag_by_id(std::uint32_t id) const {
  for (const TagDef& t : tags) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

TagDef* List::tag_by_id(std::uint32_t id) {
  return const_cast<TagDef*>(std::as_const(*this).tag_by_id(id));
}

const InterestCategory* List::category(std::string_view id) const {
  for (const InterestCategory& c : categories) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

InterestCategory* List::category(std::string_view id) {
  return const_cast<InterestCategory*>(std::as_const(*this).category(id));
}

const Interest* List::interest(std::string_view id) const {
  for (const Interest& i : interests) {
    if (i.id == id) return &i;
  }
  return nullptr;
}

Interest* List::interest(std::string_view id) {
  return const_cast<Interest*>(std::as_const(*this).interest(id));
}

bool List::group_id_taken(std::string_view id) const {
  return category(id) != nullptr || interest(id) != nullptr;
}

int List::free_interest_bit() const {
  std::uint64_t used = 0;
  for (const Interest& i : interests)
    used |= std::uint64_t{1} << i.bit;
  for (std::size_t b = 0; b < kMaxInterests; ++b) {
    if ((used & (std::uint64_t{1} << b)) == 0) return static_cast<int>(b);
  }
  return -1;
}

void List::clear_interest_bits(std::uint64_t mask) {
  bool any = false;
  for (Member& m : members) {
    if ((m.interests & mask) == 0) continue;
    m.interests &= ~mask;
    any = true;
  }
  if (any) ++version;
}

std::vector<const InterestCategory*> List::ordered_categories() const {
  std::vector<const InterestCategory*> v;
  for (const InterestCategory& c : categories)
    v.push_back(&c);
  std::stable_sort(v.begin(), v.end(), [](const auto* a, const auto* b) {
    return a->display_order < b->display_order;
  });
  return v;
}

std::vector<const Interest*> List::ordered_interests(std::string_view category_id) const {
  std::vector<const Interest*> v;
  for (const Interest& i : interests) {
    if (i.category_id == category_id) v.push_back(&i);
  }
  std::stable_sort(v.begin(), v.end(), [](const auto* a, const auto* b) {
    return a->display_order < b->display_order;
  });
  return v;
}

Member& List::add(Member&& m) {
  auto slot = static_cast<std::uint32_t>(members.size());
  members.push_back(std::move(m));
  Member& added = members.back();
  by_key.insert(added.key.bytes.data(), slot,
                [this](std::uint32_t i) { return members[i].key.bytes.data(); });
  by_contact.insert(added.contact_id.data(), slot,
                    [this](std::uint32_t i) { return members[i].contact_id.data(); });
  forgotten.erase(added.key.bytes);
  count_status(added.status, 1);
  ++version;
  return added;
}

void List::rekey(Member& m, const MemberKey& new_key) {
  auto key_of = [this](std::uint32_t i) { return members[i].key.bytes.data(); };
  std::uint32_t slot = by_key.find(m.key.bytes.data(), key_of);
  by_key.erase(m.key.bytes.data(), key_of);
  m.key = new_key;
  if (slot != SlotIndex::kNone) by_key.insert(new_key.bytes.data(), slot, key_of);
  forgotten.erase(new_key.bytes);
  ++version;
}

void List::forget(Member& m) {
  by_key.erase(m.key.bytes.data(), [this](std::uint32_t i) { return members[i].key.bytes.data(); });
  by_contact.erase(m.contact_id.data(),
                   [this](std::uint32_t i) { return members[i].contact_id.data(); });
  count_status(m.status, -1);
  forgotten.insert(m.key.bytes);
  m.dead = true;
  m.email.clear();
  m.email.shrink_to_fit();
  m.merges.clear();
  m.merges.shrink_to_fit();
  m.tags.clear();
  m.interests = 0;
  m.extra.reset();
  ++version;
}

std::string Account::dc() const {
  auto pos = api_key.rfind('-');
  return pos == std::string::npos ? std::string() : api_key.substr(pos + 1);
}

List* Account::find_list(std::string_view id) {
  for (auto& l : lists) {
    if (l->id == id) return l.get();
  }
  return nullptr;
}

std::uint16_t Account::intern_source(std::string_view s) {
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i] == s) return static_cast<std::uint16_t>(i);
  }
  if (sources.size() >= 0xffff) return 0;
  sources.emplace_back(s);
  return static_cast<std::uint16_t>(sources.size() - 1);
}

Key16 Account::random16() {
  Key16 k;
  std::uint64_t a = rng(), b = rng();
  std::memcpy(k.data(), &a, 8);
  std::memcpy(k.data() + 8, &b, 8);
  return k;
}

std::string Account::new_group_id(const List& l) {
  std::string id;
  do {
    id = random_hex(10);
  } while (l.group_id_taken(id));
  return id;
}

std::string Account::random_hex(std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  while (s.size() < digits) {
    std::uint64_t r = rng();
    for (int i = 0; i < 16 && s.size() < digits; ++i, r >>= 4)
      s.push_back(kHex[r & 15]);
  }
  return s;
}

}  // namespace concord::sandbox
