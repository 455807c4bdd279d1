#include "sandbox/state.h"
#include "net/ascii.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace concord::sandbox {

// ---- times
// ----------------------------------------------------------------------------------------

namespace {

// Howard Hinnant's civil_from_days: days since 1970-01-01 to y/m/d.
void civil_from_days(std::int64_t z, int* y, unsigned* m, unsigned* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Days since 1970-01-01 and seconds into that day (UTC), rounding down.
std::int64_t days_and_seconds(Micros t, unsigned* rem) {
  const std::int64_t secs =
      t >= 0 ? t / kMicrosPerSecond : -((-t + kMicrosPerSecond - 1) / kMicrosPerSecond);
  const std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  *rem = static_cast<unsigned>(secs - days * 86400);
  return days;
}

// Writes "YYYY-MM-DD?HH:MM:SS" (19 chars) into p.
void format_civil_into(char* p, Micros t, char sep) {
  unsigned rem;
  const std::int64_t days = days_and_seconds(t, &rem);
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) y = 0;
  put2(p, static_cast<unsigned>(y / 100));
  put2(p + 2, static_cast<unsigned>(y % 100));
  p[4] = '-';
  put2(p + 5, m);
  p[7] = '-';
  put2(p + 8, d);
  p[10] = sep;
  put2(p + 11, rem / 3600);
  p[13] = ':';
  put2(p + 14, rem / 60 % 60);
  p[16] = ':';
  put2(p + 17, rem % 60);
}

}  // namespace

void append_time(std::string* out, Micros t) {
  if (t == kNoTime) return;
  char buf[25];
  format_civil_into(buf, t, 'T');
  std::memcpy(buf + 19, "+00:00", 6);
  out->append(buf, 25);
}

std::string time_text(Micros t) {
  std::string s;
  append_time(&s, t);
  return s;
}

std::string civil_text(Micros t) {
  if (t == kNoTime) return "";
  char buf[19];
  format_civil_into(buf, t, ' ');
  return std::string(buf, 19);
}

std::string http_date_text(Micros t) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned rem;
  const std::int64_t days = days_and_seconds(t, &rem);
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02u:%02u:%02u GMT", kDays[((days % 7) + 7) % 7],
                d, kMonths[m - 1], y, rem / 3600, rem / 60 % 60, rem % 60);
  return buf;
}

// ---- JSON text helpers
// ---------------------------------------------------------------------------

std::optional<std::int64_t> parse_int64(std::string_view v) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  std::size_t i = 0;
  bool neg = false;
  if (v[0] == '-' || v[0] == '+') {
    neg = v[0] == '-';
    i = 1;
    if (v.size() == 1) return std::nullopt;
  }
  std::int64_t n = 0;
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return std::nullopt;
    n = n * 10 + (v[i] - '0');
  }
  return neg ? -n : n;
}

void append_json_string(std::string* out, std::string_view s) {
  out->push_back('"');
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + start, i - start);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out->append(buf);
      }
    }
    start = i + 1;
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

void append_hex(std::string* out, const std::uint8_t* bytes, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out->push_back(kHex[bytes[i] >> 4]);
    out->push_back(kHex[bytes[i] & 15]);
  }
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool parse_hex16(std::string_view hex, std::array<std::uint8_t, 16>* out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

// ---- enums
// ----------------------------------------------------------------------------------------

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

// ---- merge values
// ---------------------------------------------------------------------------------

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

namespace {

std::string trim(std::string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a])))
    ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1])))
    --b;
  return std::string(s.substr(a, b - a));
}

// Canonical text of a number given as JSON or as a numeric string. Returns false if not numeric.
bool canonical_number(const json& v, std::string* out) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    *out = v.dump();
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d)) return false;
    if (d == std::floor(d) && std::fabs(d) < 1e15) {
      *out = std::to_string(static_cast<long long>(d));
    } else {
      *out = v.dump();
    }
    return true;
  }
  if (!v.is_string()) return false;
  std::string s = trim(v.get_ref<const std::string&>());
  if (s.empty()) return false;
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(b, &end);
  if (end != b + s.size() || errno != 0 || !std::isfinite(d)) return false;
  // Reject hex and inf/nan spellings strtod accepts.
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ||
          c == 'e' || c == 'E')) {
      return false;
    }
  }
  return canonical_number(json(d), out);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool valid_ymd(int y, int m, int d) {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > kDays[m - 1]) return false;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
  return true;
}

// Reads a date in the field's date_format ("MM/DD/YYYY" or "DD/MM/YYYY"), or as YYYY-MM-DD.
bool parse_date(std::string_view s, bool day_first, int* y, int* m, int* d) {
  if (s.size() == 10 && s[4] == '-' && s[7] == '-' && all_digits(s.substr(0, 4)) &&
      all_digits(s.substr(5, 2)) && all_digits(s.substr(8, 2))) {
    *y = std::stoi(std::string(s.substr(0, 4)));
    *m = std::stoi(std::string(s.substr(5, 2)));
    *d = std::stoi(std::string(s.substr(8, 2)));
    return valid_ymd(*y, *m, *d);
  }
  if (s.size() == 10 && s[2] == '/' && s[5] == '/' && all_digits(s.substr(0, 2)) &&
      all_digits(s.substr(3, 2)) && all_digits(s.substr(6, 4))) {
    int a = std::stoi(std::string(s.substr(0, 2)));
    int b = std::stoi(std::string(s.substr(3, 2)));
    *y = std::stoi(std::string(s.substr(6, 4)));
    *m = day_first ? b : a;
    *d = day_first ? a : b;
    return valid_ymd(*y, *m, *d);
  }
  return false;
}

std::string option_string(const MergeField& f, const char* key) {
  auto it = f.options.find(key);
  if (it != f.options.end() && it->is_string()) return it->get<std::string>();
  return "";
}

}  // namespace

std::string encode_merge_value(const MergeField& f, const json& v, std::string* out) {
  out->clear();
  if (v.is_string() && v.get_ref<const std::string&>().empty()) return "";  // "" clears
  switch (f.type) {
    case MergeType::kNumber:
      if (!canonical_number(v, out)) return "Please enter a number";
      return "";
    case MergeType::kAddress: {
      if (!v.is_object()) return "Please enter a complete address";
      auto field = [&](const char* k) -> std::string {
        auto it = v.find(k);
        if (it == v.end()) return "";
        if (it->is_string()) return trim(it->get<std::string>());
        if (it->is_number()) return it->dump();
        return "";
      };
      std::string addr1 = field("addr1"), city = field("city"), state = field("state"),
                  zip = field("zip");
      if (addr1.empty() || city.empty() || state.empty() || zip.empty()) {
        return "Please enter a complete address";
      }
      ojson a = ojson::object();
      a["addr1"] = addr1;
      a["addr2"] = field("addr2");
      a["city"] = city;
      a["state"] = state;
      a["zip"] = zip;
      std::string country = field("country");
      a["country"] = country.empty() ? "US" : country;
      *out = a.dump();
      return "";
    }
    case MergeType::kDate: {
      if (!v.is_string()) return "Please enter the date";
      std::string s = trim(v.get<std::string>());
      int y, m, d;
      bool day_first = option_string(f, "date_format").rfind("DD", 0) == 0;
      if (!parse_date(s, day_first, &y, &m, &d)) return "Please enter the date";
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
      *out = buf;
      return "";
    }
    case MergeType::kBirthday: {
      if (!v.is_string()) return "Please enter the date";
      std::string s = trim(v.get<std::string>());
      if (s.size() != 5 || s[2] != '/' || !all_digits(s.substr(0, 2)) ||
          !all_digits(s.substr(3, 2))) {
        return "Please enter the date";
      }
      bool day_first = option_string(f, "date_format").rfind("DD", 0) == 0;
      int a = std::stoi(s.substr(0, 2)), b = std::stoi(s.substr(3, 2));
      int m = day_first ? b : a, d = day_first ? a : b;
      if (!valid_ymd(2000, m, d)) return "Please enter the date";
      char buf[24];
      std::snprintf(buf, sizeof buf, "%02d/%02d", day_first ? d : m, day_first ? m : d);
      *out = buf;
      return "";
    }
    case MergeType::kZip: {
      std::string s = v.is_string() ? trim(v.get<std::string>()) : v.is_number() ? v.dump() : "";
      bool ok =
          (s.size() == 5 && all_digits(s)) ||
          (s.size() == 10 && s[5] == '-' && all_digits(s.substr(0, 5)) && all_digits(s.substr(6)));
      if (!ok) return "Please enter a valid zip code";
      *out = s;
      return "";
    }
    case MergeType::kUrl:
    case MergeType::kImageUrl: {
      if (!v.is_string()) return "Please enter a valid URL";
      std::string s = trim(v.get<std::string>());
      if (s.find(' ') != std::string::npos || s.find('.') == std::string::npos) {
        return "Please enter a valid URL";
      }
      *out = s;
      return "";
    }
    case MergeType::kRadio:
    case MergeType::kDropdown: {
      std::string s = v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : "";
      auto it = f.options.find("choices");
      bool ok = false;
      if (it != f.options.end() && it->is_array()) {
        for (const auto& c : *it) {
          if (c.is_string() && c.get<std::string>() == s) ok = true;
        }
      }
      if (!ok) return "Please choose one of the allowed values";
      *out = s;
      return "";
    }
    case MergeType::kText:
    case MergeType::kPhone:
      if (v.is_string()) {
        *out = v.get<std::string>();
      } else if (v.is_number()) {
        if (!canonical_number(v, out)) return "Please enter a value";
      } else {
        return "Please enter a value";
      }
      if (f.type == MergeType::kText && out->size() > 255) {
        return "Please enter a value less than 255 characters";
      }
      return "";
  }
  return "Please enter a value";
}

void write_merge_value(JsonOut& out, const MergeField& f, std::string_view stored) {
  if (!stored.empty() && (f.type == MergeType::kNumber || f.type == MergeType::kAddress)) {
    out.raw(stored);
  } else {
    out.str(stored);
  }
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

// ---- members, lists, account
// ---------------------------------------------------------------------

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

std::unique_ptr<Account> empty_account() {
  auto a = std::make_unique<Account>();
  a->api_key = std::string(kDefaultApiKey);
  return a;
}

// ---- seed parsing
// -----------------------------------------------------------------------------------

namespace {

std::string path_of_member(std::size_t list, std::size_t member) {
  return "mailchimp.lists[" + std::to_string(list) + "].members[" + std::to_string(member) + "]";
}

bool get_string(const json& o, const char* key, std::string* out, std::string* err,
                const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *err = path + "." + key + ": expected a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool get_time(const json& o, const char* key, Micros* out, std::string* err,
              const std::string& path) {
  std::string s;
  if (!get_string(o, key, &s, err, path)) return false;
  if (s.empty()) return true;
  auto t = parse_iso8601(s);
  if (!t.is_ok()) {
    *err = path + "." + key + ": " + t.status().message();
    return false;
  }
  *out = to_seconds(*t);
  return true;
}

bool get_bool(const json& o, const char* key, bool* out, std::string* err,
              const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return true;
  if (!it->is_boolean()) {
    *err = path + "." + key + ": expected true or false";
    return false;
  }
  *out = it->get<bool>();
  return true;
}

bool parse_merge_defs(const json& arr, std::vector<MergeField>* out, int* next_id, std::string* err,
                      const std::string& path) {
  out->clear();
  if (!arr.is_array()) {
    *err = path + ": expected an array";
    return false;
  }
  int max_id = 0;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!o.is_object()) {
      *err = p + ": expected an object";
      return false;
    }
    MergeField f;
    std::string type = "text";
    if (!get_string(o, "tag", &f.tag, err, p) || !get_string(o, "name", &f.name, err, p) ||
        !get_string(o, "type", &type, err, p) ||
        !get_string(o, "default_value", &f.default_value, err, p) ||
        !get_string(o, "help_text", &f.help_text, err, p) ||
        !get_bool(o, "required", &f.required, err, p) ||
        !get_bool(o, "public", &f.is_public, err, p)) {
      return false;
    }
    if (f.tag.empty()) {
      *err = p + ".tag: required";
      return false;
    }
    for (char& c : f.tag)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const MergeField& other : *out) {
      if (other.tag == f.tag) {
        *err = p + ".tag: \"" + f.tag + "\" appears twice";
        return false;
      }
    }
    if (f.name.empty()) f.name = f.tag;
    auto t = parse_merge_type(type);
    if (!t) {
      *err = p + ".type: \"" + type + "\" is not a merge field type";
      return false;
    }
    f.type = *t;
    f.merge_id = o.value("merge_id", 0);
    f.display_order = o.value("display_order", static_cast<int>(i) + 2);
    if (auto it = o.find("options"); it != o.end() && it->is_object()) f.options = *it;
    out->push_back(std::move(f));
  }
  for (auto& f : *out)
    max_id = std::max(max_id, f.merge_id);
  for (auto& f : *out) {
    if (f.merge_id <= 0) f.merge_id = ++max_id;
  }
  *next_id = max_id + 1;
  return true;
}

const char* const kListSettingKeys[] = {
    "contact",
    "permission_reminder",
    "use_archive_bar",
    "campaign_defaults",
    "notify_on_subscribe",
    "notify_on_unsubscribe",
    "email_type_option",
    "visibility",
    "double_optin",
    "has_welcome",
    "marketing_permissions",
    "list_rating",
    "subscribe_url_short",
    "subscribe_url_long",
    "beamer_address",
};

// Builds the lists of a seed while the SAX parser delivers members one by one.
class Loader {
 public:
  Loader(Account* account, Micros now) : account_(account), now_(now) {}

  // A complete member object of list `li`; `partial_list` is the list object read so far.
  bool member(std::size_t li, const json& partial_list, json&& m) {
    Build& b = build(li);
    std::size_t mi = b.count++;
    if (!b.defs_ready) {
      auto it = partial_list.find("merge_fields");
      if (it != partial_list.end()) {
        if (!setup_defs(b, li, partial_list)) return false;
      } else {
        b.buffered.push_back(std::move(m));
        return true;
      }
    }
    return convert(b, li, mi, m);
  }

  bool list_done(std::size_t li, json&& l) {
    Build& b = build(li);
    std::string path = "mailchimp.lists[" + std::to_string(li) + "]";
    if (!l.is_object()) {
      error = path + ": expected an object";
      return false;
    }
    if (!b.defs_ready && !setup_defs(b, li, l)) return false;
    for (std::size_t i = 0; i < b.buffered.size(); ++i) {
      if (!convert(b, li, i, b.buffered[i])) return false;
    }
    b.buffered.clear();
    b.buffered.shrink_to_fit();
    List& list = *b.list;
    if (!get_string(l, "id", &list.id, &error, path) ||
        !get_string(l, "name", &list.name, &error, path) ||
        !get_time(l, "date_created", &list.date_created, &error, path)) {
      return false;
    }
    if (list.id.empty()) list.id = account_->random_hex(10);
    if (list.name.empty()) list.name = "Audience";
    if (list.date_created == kNoTime) list.date_created = to_seconds(now_);
    if (auto it = l.find("web_id"); it != l.end() && it->is_number_integer()) {
      list.web_id = it->get<std::uint32_t>();
    } else {
      list.web_id = account_->next_web_id++;
    }
    for (const char* k : kListSettingKeys) {
      if (auto it = l.find(k); it != l.end()) list.settings[k] = *it;
    }
    if (auto it = l.find("webhooks"); it != l.end()) {
      if (!it->is_array()) {
        error = path + ".webhooks: expected an array";
        return false;
      }
      for (std::size_t i = 0; i < it->size(); ++i) {
        const json& w = (*it)[i];
        std::string p = path + ".webhooks[" + std::to_string(i) + "]";
        Webhook hook;
        if (!w.is_object() || !get_string(w, "url", &hook.url, &error, p) ||
            !get_string(w, "id", &hook.id, &error, p)) {
          if (error.empty()) error = p + ": expected an object";
          return false;
        }
        if (hook.url.empty()) {
          error = p + ".url: required";
          return false;
        }
        if (hook.id.empty()) hook.id = account_->random_hex(10);
        for (std::size_t e = 0; e < kWebhookEventNames.size(); ++e) {
          hook.events[e] = w.contains("events") && w["events"].is_object() &&
                           w["events"].value(std::string(kWebhookEventNames[e]), false);
        }
        for (std::size_t s = 0; s < kWebhookSourceNames.size(); ++s) {
          hook.sources[s] = w.contains("sources") && w["sources"].is_object() &&
                            w["sources"].value(std::string(kWebhookSourceNames[s]), false);
        }
        list.webhooks.push_back(std::move(hook));
      }
    }
    if (auto it = l.find("forgotten"); it != l.end()) {
      if (!it->is_array()) {
        error = path + ".forgotten: expected an array";
        return false;
      }
      for (const json& f : *it) {
        Key16 k;
        std::string s = f.is_string() ? f.get<std::string>() : "";
        if (s.find('@') != std::string::npos) {
          k = member_key(normalise_email(s)).bytes;
        } else if (!parse_hex16(s, &k)) {
          error = path + ".forgotten: \"" + s + "\" is neither a subscriber hash nor an email";
          return false;
        }
        MemberKey mk;
        mk.bytes = k;
        if (list.find(mk) == nullptr) list.forgotten.insert(k);
      }
    }
    for (const auto& other : lists_done_) {
      if (other == list.id) {
        error = path + ".id: \"" + list.id + "\" appears twice";
        return false;
      }
    }
    lists_done_.push_back(list.id);
    return true;
  }

  // Collects the lists in document order.
  std::vector<std::unique_ptr<List>> take_lists() {
    std::vector<std::unique_ptr<List>> out;
    for (auto& b : builds_) {
      if (b.list) out.push_back(std::move(b.list));
    }
    return out;
  }

  std::string error;

 private:
  struct Build {
    std::unique_ptr<List> list;
    bool defs_ready = false;
    std::size_t count = 0;
    std::vector<json> buffered;
  };

  Build& build(std::size_t li) {
    if (builds_.size() <= li) builds_.resize(li + 1);
    Build& b = builds_[li];
    if (!b.list) b.list = std::make_unique<List>();
    return b;
  }

  bool setup_defs(Build& b, std::size_t li, const json& l) {
    std::string path = "mailchimp.lists[" + std::to_string(li) + "]";
    List& list = *b.list;
    if (auto it = l.find("merge_fields"); it != l.end()) {
      if (!parse_merge_defs(*it, &list.merge_fields, &list.next_merge_id, &error,
                            path + ".merge_fields")) {
        return false;
      }
    } else {
      list.merge_fields = default_merge_fields();
      list.next_merge_id = 5;
    }
    if (auto it = l.find("tags"); it != l.end() && it->is_array()) {
      for (const json& t : *it) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) continue;
        TagDef def;
        def.name = t["name"].get<std::string>();
        def.id = t.value("id", 0u);
        if (def.id == 0) def.id = account_->next_tag_id++;
        account_->next_tag_id = std::max(account_->next_tag_id, def.id + 1);
        list.tags.push_back(std::move(def));
      }
    }
    b.defs_ready = true;
    return true;
  }

  bool convert(Build& b, std::size_t li, std::size_t mi, const json& o) {
    List& list = *b.list;
    std::string path = path_of_member(li, mi);
    if (!o.is_object()) {
      error = path + ": expected an object";
      return false;
    }
    Member m;
    std::string email, status = "subscribed", origin = "user", email_type = "html", source;
    std::string contact, ueid, before_archive = "subscribed";
    if (!get_string(o, "email_address", &email, &error, path) ||
        !get_string(o, "status", &status, &error, path) ||
        !get_string(o, "unsubscribe_origin", &origin, &error, path) ||
        !get_string(o, "email_type", &email_type, &error, path) ||
        !get_string(o, "source", &source, &error, path) ||
        !get_string(o, "contact_id", &contact, &error, path) ||
        !get_string(o, "unique_email_id", &ueid, &error, path) ||
        !get_string(o, "status_before_archive", &before_archive, &error, path) ||
        !get_time(o, "last_changed", &m.last_changed, &error, path) ||
        !get_time(o, "timestamp_opt", &m.timestamp_opt, &error, path) ||
        !get_time(o, "timestamp_signup", &m.timestamp_signup, &error, path) ||
        !get_bool(o, "vip", &m.vip, &error, path)) {
      return false;
    }
    m.email = trim(email);
    std::string norm = normalise_email(m.email);
    if (EmailProblem p = check_email(norm); p != EmailProblem::kOk) {
      error = path + ".email_address: \"" + m.email + "\": " + std::string(describe(p));
      return false;
    }
    m.key = member_key(norm);
    if (list.find(m.key) != nullptr) {
      error = path + ".email_address: \"" + m.email + "\" appears twice in this list";
      return false;
    }
    auto st = parse_status(status);
    if (!st) {
      error = path + ".status: \"" + status +
              "\" is not one of subscribed, unsubscribed, "
              "cleaned, pending, transactional, archived";
      return false;
    }
    m.status = *st;
    auto before = parse_status(before_archive);
    if (!before || *before == MemberStatus::kArchived) {
      error = path + ".status_before_archive: \"" + before_archive + "\" is not a status";
      return false;
    }
    m.status_before_archive = *before;
    auto org = parse_source(origin);
    if (!org) {
      error = path + ".unsubscribe_origin: \"" + origin + "\" is not one of user, admin, api";
      return false;
    }
    m.unsubscribe_origin = *org;
    if (email_type != "html" && email_type != "text") {
      error = path + ".email_type: \"" + email_type + "\" is not html or text";
      return false;
    }
    m.text_email = email_type == "text";
    m.source = account_->intern_source(source.empty() ? "Import" : source);
    std::string reason, clean_reason, ip_signup, ip_opt, language;
    if (!get_string(o, "unsubscribe_reason", &reason, &error, path) ||
        !get_string(o, "clean_reason", &clean_reason, &error, path) ||
        !get_string(o, "ip_signup", &ip_signup, &error, path) ||
        !get_string(o, "ip_opt", &ip_opt, &error, path) ||
        !get_string(o, "language", &language, &error, path)) {
      return false;
    }
    if (!clean_reason.empty() && clean_reason != "hard" && clean_reason != "abuse") {
      error = path + ".clean_reason: \"" + clean_reason + "\" is not hard or abuse";
      return false;
    }
    if (!reason.empty() || !clean_reason.empty() || !ip_signup.empty() || !ip_opt.empty() ||
        !language.empty()) {
      MemberExtra& x = m.ext();
      x.unsubscribe_reason = reason;
      x.clean_reason = clean_reason;
      x.ip_signup = ip_signup;
      x.ip_opt = ip_opt;
      x.language = language;
    }
    if (!contact.empty()) {
      if (!parse_hex16(contact, &m.contact_id)) {
        error = path + ".contact_id: expected 32 hex digits";
        return false;
      }
      if (list.find_contact(m.contact_id) != nullptr) {
        error = path + ".contact_id: appears twice in this list";
        return false;
      }
    } else {
      do {
        m.contact_id = account_->random16();
      } while (list.find_contact(m.contact_id) != nullptr);
    }
    if (!ueid.empty()) {
      char* end = nullptr;
      m.unique_email_id = std::strtoull(ueid.c_str(), &end, 16);
      if (ueid.size() != 10 || *end != '\0') {
        error = path + ".unique_email_id: expected 10 hex digits";
        return false;
      }
    } else {
      m.unique_email_id = account_->random_unique_email_id();
    }
    if (auto it = o.find("web_id"); it != o.end() && it->is_number_integer()) {
      m.web_id = it->get<std::uint32_t>();
      account_->next_web_id = std::max(account_->next_web_id, m.web_id + 1);
    } else {
      m.web_id = account_->next_web_id++;
    }
    if (auto it = o.find("merge_fields"); it != o.end() && !it->is_null()) {
      if (!it->is_object()) {
        error = path + ".merge_fields: expected an object";
        return false;
      }
      std::vector<std::string> values(list.merge_fields.size());
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        int idx = list.merge_index(kv.key());
        if (idx < 0) {
          error = path + ".merge_fields." + kv.key() +
                  ": no such merge field in this list (declare it in the list's merge_fields)";
          return false;
        }
        std::string msg = encode_merge_value(list.merge_fields[idx], kv.value(), &values[idx]);
        if (!msg.empty()) {
          error = path + ".merge_fields." + kv.key() + ": " + msg;
          return false;
        }
      }
      m.merges = pack_merges(values);
    }
    if (auto it = o.find("tags"); it != o.end() && !it->is_null()) {
      if (!it->is_array()) {
        error = path + ".tags: expected an array";
        return false;
      }
      for (const json& t : *it) {
        std::string name;
        Micros added = kNoTime;
        if (t.is_string()) {
          name = t.get<std::string>();
        } else if (t.is_object() && t.contains("name") && t["name"].is_string()) {
          name = t["name"].get<std::string>();
          if (!get_time(t, "date_added", &added, &error, path + ".tags")) return false;
        } else {
          error = path + ".tags: expected names or {\"name\": ...} objects";
          return false;
        }
        if (name.empty()) continue;
        std::uint32_t id = list.tag_id(name, true, &account_->next_tag_id);
        bool dup = false;
        for (const MemberTag& mt : m.tags)
          dup = dup || mt.tag_id == id;
        if (!dup) m.tags.push_back(MemberTag{id, added});
      }
    }
    if (m.last_changed == kNoTime) {
      m.last_changed = std::max(m.timestamp_opt, m.timestamp_signup);
      if (m.last_changed == kNoTime) m.last_changed = to_seconds(now_);
    }
    for (MemberTag& t : m.tags) {
      if (t.date_added == kNoTime) t.date_added = m.last_changed;
    }
    if (m.status == MemberStatus::kSubscribed || m.status == MemberStatus::kPending) {
      list.last_sub = std::max(list.last_sub, m.last_changed);
    } else if (m.status == MemberStatus::kUnsubscribed) {
      list.last_unsub = std::max(list.last_unsub, m.last_changed);
    }
    list.add(std::move(m));
    return true;
  }

  Account* account_;
  Micros now_;
  std::vector<Build> builds_;
  std::vector<std::string> lists_done_;
};

// A SAX handler that builds a DOM of everything except members, which it hands to the Loader as
// soon as each is complete.
class SeedSax final : public nlohmann::json_sax<json> {
 public:
  explicit SeedSax(Loader* loader) : loader_(loader) {}

  // The "civicrm" part (sandbox/civicrm.h reads it) is skipped without building anything: with a
  // million contacts it is most of the document.
  bool null() override { return skipping() || add(json(nullptr)); }
  bool boolean(bool v) override { return skipping() || add(json(v)); }
  bool number_integer(number_integer_t v) override { return skipping() || add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return skipping() || add(json(v)); }
  bool number_float(number_float_t v, const string_t&) override {
    return skipping() || add(json(v));
  }
  bool string(string_t& v) override { return skipping() || add(json(std::move(v))); }
  bool binary(binary_t& v) override { return skipping() || add(json::binary(std::move(v))); }
  bool start_object(std::size_t) override {
    if (enter_skip()) return true;
    push(json::object());
    return true;
  }
  bool key(string_t& k) override {
    if (skip_depth_ > 0) return true;
    stack_.back().pending_key = std::move(k);
    return true;
  }
  bool end_object() override { return leave_skip() || pop(); }
  bool start_array(std::size_t) override {
    if (enter_skip()) return true;
    push(json::array());
    return true;
  }
  bool end_array() override { return leave_skip() || pop(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error = "not valid JSON at byte " + std::to_string(position) + ": " + ex.what();
    return false;
  }

  json root;
  std::string error;

 private:
  struct Frame {
    json value;
    std::string key;  // this container's key in its parent object ("" in an array)
    std::string pending_key;
  };

  // Whether the value being read lies inside root["civicrm"] (a scalar there is dropped).
  bool skipping() const {
    return skip_depth_ > 0 || (stack_.size() == 1 && stack_[0].value.is_object() &&
                               stack_[0].pending_key == "civicrm");
  }
  // A container starts: inside the skipped part, or as root["civicrm"] itself.
  bool enter_skip() {
    if (!skipping()) return false;
    ++skip_depth_;
    return true;
  }
  // A container ends inside the skipped part. Returns true when it was skipped.
  bool leave_skip() {
    if (skip_depth_ == 0) return false;
    if (--skip_depth_ == 0) stack_.back().pending_key.clear();
    return true;
  }
  int skip_depth_ = 0;

  void push(json v) {
    Frame f;
    f.value = std::move(v);
    if (!stack_.empty() && stack_.back().value.is_object()) f.key = stack_.back().pending_key;
    stack_.push_back(std::move(f));
  }

  bool add(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return true;
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
    } else {
      top.value[top.pending_key] = std::move(v);
    }
    return true;
  }

  // Whether stack_[0..2] is root{"mailchimp":{"lists":[ .
  bool in_lists() const {
    return stack_.size() >= 3 && stack_[0].value.is_object() && stack_[1].key == "mailchimp" &&
           stack_[1].value.is_object() && stack_[2].key == "lists" && stack_[2].value.is_array();
  }

  bool pop() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (stack_.size() == 5 && f.value.is_object() && in_lists() && stack_[3].value.is_object() &&
        stack_[4].key == "members" && stack_[4].value.is_array()) {
      if (!loader_->member(stack_[2].value.size(), stack_[3].value, std::move(f.value))) {
        error = loader_->error;
        return false;
      }
      return true;
    }
    if (stack_.size() == 3 && in_lists()) {
      std::size_t index = stack_[2].value.size();
      if (!loader_->list_done(index, std::move(f.value))) {
        error = loader_->error;
        return false;
      }
      stack_[2].value.push_back(nullptr);  // keeps the count of lists
      return true;
    }
    return add(std::move(f.value));
  }

  Loader* loader_;
  std::vector<Frame> stack_;
};

}  // namespace

Result<LoadedState> parse_seed(std::string_view text, Micros now) {
  LoadedState out;
  out.account = std::make_unique<Account>();
  Loader loader(out.account.get(), now);
  SeedSax sax(&loader);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const std::exception& e) {
    return Status::invalid(std::string("seed: ") + e.what());
  }
  if (!ok) return Status::invalid("seed: " + (sax.error.empty() ? "cannot parse" : sax.error));
  const json& root = sax.root;
  if (!root.is_object()) return Status::invalid("seed: expected a JSON object");
  Account& a = *out.account;
  a.api_key = std::string(kDefaultApiKey);
  if (auto mc = root.find("mailchimp"); mc != root.end()) {
    if (!mc->is_object()) return Status::invalid("seed: mailchimp: expected an object");
    if (auto k = mc->find("api_key"); k != mc->end()) {
      if (!k->is_string()) return Status::invalid("seed: mailchimp.api_key: expected a string");
      a.api_key = k->get<std::string>();
      auto dash = a.api_key.rfind('-');
      if (dash == std::string::npos || dash == 0 || dash + 1 == a.api_key.size()) {
        return Status::invalid(
            "seed: mailchimp.api_key: expected \"<key>-<dc>\", e.g. "
            "\"0123456789abcdef0123456789abcdef-us6\"");
      }
    }
    if (auto l = mc->find("lists"); l != mc->end() && !l->is_array()) {
      return Status::invalid("seed: mailchimp.lists: expected an array");
    }
  }
  a.lists = loader.take_lists();
  if (auto c = root.find("clock"); c != root.end() && !c->is_null()) {
    if (!c->is_string()) return Status::invalid("seed: clock: expected an ISO 8601 time");
    auto t = parse_iso8601(c->get<std::string>());
    if (!t.is_ok() || *t == kNoTime) {
      return Status::invalid("seed: clock: " +
                             (t.is_ok() ? std::string("empty") : t.status().message()));
    }
    out.clock = *t;
  }
  return out;
}

// ---- state writing
// ----------------------------------------------------------------------------------

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
  o.key("contact_id");
  std::string hex;
  append_hex(&hex, m.contact_id.data(), 16);
  o.str(hex);
  char ueid[16];
  std::snprintf(ueid, sizeof ueid, "%010llx", static_cast<unsigned long long>(m.unique_email_id));
  o.key("unique_email_id");
  o.str(ueid);
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
    o.key("tags");
    o.begin_array();
    for (const TagDef& t : l.tags) {
      o.begin_object();
      o.key("id");
      o.integer(t.id);
      o.key("name");
      o.str(t.name);
      o.end_object();
    }
    o.end_array();
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
    for (const Key16& k : l.forgotten) {
      std::string hex;
      append_hex(&hex, k.data(), 16);
      o.str(hex);
    }
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

// ---- files
// ------------------------------------------------------------------------------------------

Status write_file_atomically(const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::io_error("cannot write " + tmp + ": " + std::strerror(e));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::io_error("cannot sync " + tmp + ": " + std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::io_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return Status::not_found(path + " does not exist");
    return Status::io_error("cannot open " + path);
  }
  std::string s;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size > 0) {
    s.resize(static_cast<std::size_t>(size));
    in.seekg(0);
    in.read(s.data(), size);
  }
  if (!in) return Status::io_error("cannot read " + path);
  return s;
}

// ---- clock
// ----------------------------------------------------------------------------------------

Micros SandboxClock::now() const {
  Micros f = fixed_.load();
  return f != kNoTime ? f : system_clock().now();
}

// ---- persister ----------------------------------------------------------------------------------

Persister::Persister(std::string path, std::function<std::uint64_t()> generation,
                     std::function<std::string()> snapshot, std::chrono::milliseconds interval)
    : path_(std::move(path)),
      generation_(std::move(generation)),
      snapshot_(std::move(snapshot)),
      interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

Persister::~Persister() {
  stop();
}

Status Persister::flush() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  std::uint64_t g = generation_();
  if (g == saved_.load()) return Status::ok();
  std::string doc = snapshot_();
  Status s = write_file_atomically(path_, doc);
  if (s.is_ok()) saved_.store(g);
  return s;
}

void Persister::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    Status s = flush();
    if (!s.is_ok())
      std::fprintf(stderr, "concord-sandbox: saving state: %s\n", s.to_string().c_str());
    lock.lock();
  }
}

void Persister::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    Status s = flush();
    if (!s.is_ok())
      std::fprintf(stderr, "concord-sandbox: saving state: %s\n", s.to_string().c_str());
  }
}

ojson merge_field_definition(const MergeField& f) {
  ojson j = ojson::object();
  j["merge_id"] = f.merge_id;
  j["tag"] = f.tag;
  j["name"] = f.name;
  j["type"] = merge_type_name(f.type);
  j["required"] = f.required;
  j["default_value"] = f.default_value;
  j["public"] = f.is_public;
  j["display_order"] = f.display_order;
  j["options"] = f.options;
  j["help_text"] = f.help_text;
  return j;
}

}  // namespace concord::sandbox
