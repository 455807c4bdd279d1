#include "sandbox/civicrm.h"
#include "net/ascii.h"
#include "sandbox/faults.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace concord::sandbox {
namespace {

// Requests are read keeping their objects' key order, as PHP's arrays do (orderBy, chain).
using pjson = nlohmann::ordered_json;

// ---- small helpers
// ---------------------------------------------------------------------------------

using http::ascii::iequals;
constexpr auto lower_ascii = http::ascii::lower;
constexpr auto lower = http::ascii::to_lower;

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

std::string_view rtrim_spaces(std::string_view s) {
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

// MySQL's reading of a string as a number: the longest numeric prefix after leading spaces, else 0.
double mysql_number(std::string_view s) {
  std::string tmp(trim_view(s));
  const char* b = tmp.c_str();
  char* end = nullptr;
  double d = std::strtod(b, &end);
  if (end == b || !std::isfinite(d)) return 0;
  // strtod also reads hex and inf/nan, which MySQL does not.
  for (const char* p = b; p < end; ++p) {
    if (*p == 'x' || *p == 'X' || *p == 'n' || *p == 'N' || *p == 'i' || *p == 'I') return 0;
  }
  return d;
}

// A string as PHP's json_encode() writes it by default: '/' escaped, non-ASCII as \uXXXX.
void put_str(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto u16 = [&](unsigned v) {
    char b[6] = {'\\',        'u', kHex[(v >> 12) & 15], kHex[(v >> 8) & 15], kHex[(v >> 4) & 15],
                 kHex[v & 15]};
    out->append(b, 6);
  };
  out->push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    // A run of characters that need no escape is copied at once.
    std::size_t run = i;
    while (run < s.size()) {
      auto r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\' || r == '/') break;
      ++run;
    }
    if (run > i) {
      out->append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '/':
          out->append("\\/");
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
        default:
          if (c < 0x20) {
            u16(c);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      continue;
    }
    // Decode one UTF-8 sequence; a malformed one becomes U+FFFD.
    unsigned cp = 0xfffd;
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (len > 1 && i + len <= s.size()) {
      unsigned v = c & (0xff >> (len + 1));
      bool ok = true;
      for (std::size_t k = 1; k < len; ++k) {
        auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80) ok = false;
        v = (v << 6) | (cc & 0x3f);
      }
      if (ok) {
        cp = v;
        i += len - 1;
      }
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u16(0xd800 + (cp >> 10));
      u16(0xdc00 + (cp & 0x3ff));
    } else {
      u16(cp);
    }
  }
  out->push_back('"');
}

std::string json_quote(std::string_view s) {
  std::string out;
  put_str(&out, s);
  return out;
}

// A JSON value as PHP re-encodes a decoded one (used for values echoed from a request).
void put_json(std::string* out, const pjson& v) {
  switch (v.type()) {
    case pjson::value_t::string:
      put_str(out, v.get_ref<const std::string&>());
      return;
    case pjson::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& x : v) {
        if (!first) out->push_back(',');
        first = false;
        put_json(out, x);
      }
      out->push_back(']');
      return;
    }
    case pjson::value_t::object: {
      if (v.empty()) {
        out->append("[]");  // PHP: an empty array
        return;
      }
      out->push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        put_str(out, it.key());
        out->push_back(':');
        put_json(out, it.value());
      }
      out->push_back('}');
      return;
    }
    default:
      out->append(v.dump());
  }
}

// A random error id as CiviCRM writes it: 12 letters and digits in groups of four.
std::string error_id() {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  for (int i = 0; i < 12; ++i) {
    if (i > 0 && i % 4 == 0) s.push_back('-');
    s.push_back(kChars[rng() % (sizeof kChars - 1)]);
  }
  return s;
}

// ---- times
// ----------------------------------------------------------------------------------------
// Times are kept as site-local civil times (microseconds, as parse_civil gives them), the way
// CiviCRM's MySQL session shows them.

constexpr std::int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool valid_ymd(int y, int m, int d) {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > kDays[m - 1]) return false;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
  return true;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "YYYY-MM-DD HH:MM:SS" of a civil time.
std::string civil_string(Micros t) {
  return civil_text(t);
}
std::string date_string(Micros t) {
  return civil_text(t).substr(0, 10);
}

// Reads a time as PHP's strtotime() reads the common forms, in the site's zone: "now", "today",
// "yesterday", "tomorrow", "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS[.frac]]" (also with 'T'), an
// optional zone suffix ("Z", "+01:00", "+0100"), "YYYYMMDD" and "YYYYMMDDHHMMSS". Returns the
// site-local civil time, or nullopt when the text is not one of these.
std::optional<Micros> parse_time_text(std::string_view text, Micros now_utc, const TimeZone& tz) {
  std::string_view s = trim_view(text);
  Micros local_now = tz.utc_to_local(now_utc);
  Micros midnight = local_now - (((local_now % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay);
  if (iequals(s, "now")) return local_now;
  if (iequals(s, "today")) return midnight;
  if (iequals(s, "yesterday")) return midnight - kMicrosPerDay;
  if (iequals(s, "tomorrow")) return midnight + kMicrosPerDay;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  std::size_t pos = 0;
  if (s.size() >= 8 && digits(s, 0, 8, &y) && (s.size() == 8 || s.size() == 14)) {
    int ymd = y;
    y = ymd / 10000;
    mo = ymd / 100 % 100;
    d = ymd % 100;
    if (s.size() == 14) {
      int hms = 0;
      if (!digits(s, 8, 6, &hms)) return std::nullopt;
      h = hms / 10000;
      mi = hms / 100 % 100;
      sec = hms % 100;
    }
    pos = s.size();
  } else {
    if (!(digits(s, 0, 4, &y) && s.size() >= 10 && s[4] == '-' && digits(s, 5, 2, &mo) &&
          s[7] == '-' && digits(s, 8, 2, &d))) {
      return std::nullopt;
    }
    pos = 10;
    if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
      if (!(digits(s, pos + 1, 2, &h) && pos + 3 < s.size() && s[pos + 3] == ':' &&
            digits(s, pos + 4, 2, &mi))) {
        return std::nullopt;
      }
      pos += 6;
      if (pos < s.size() && s[pos] == ':') {
        if (!digits(s, pos + 1, 2, &sec)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && s[pos] == '.') {
          ++pos;
          while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
            ++pos;
        }
      }
    }
  }
  if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  Micros civil = (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                  h * 3600 + mi * 60 + sec) *
                 kMicrosPerSecond;
  if (pos == s.size()) return civil;
  std::string_view zone = s.substr(pos);
  if (zone == "Z" || zone == "z" || iequals(zone, "UTC") || iequals(zone, " UTC")) {
    return tz.utc_to_local(civil);
  }
  if (zone.size() >= 5 && (zone[0] == '+' || zone[0] == '-')) {
    int zh = 0, zm = 0;
    bool ok = digits(zone, 1, 2, &zh) &&
              ((zone.size() == 6 && zone[3] == ':' && digits(zone, 4, 2, &zm)) ||
               (zone.size() == 5 && digits(zone, 3, 2, &zm)));
    if (!ok) return std::nullopt;
    Micros offset = (zh * 3600 + zm * 60) * kMicrosPerSecond;
    Micros utc = zone[0] == '+' ? civil - offset : civil + offset;
    return tz.utc_to_local(utc);
  }
  return std::nullopt;
}

// What PHP makes of a time it cannot read: date(format, strtotime(garbage)) is the epoch, shown
// in the site's zone.
Micros unreadable_time(const TimeZone& tz) {
  return tz.utc_to_local(0);
}

// ---- the model
// -------------------------------------------------------------------------------------

enum Ent : std::uint8_t {
  kContact = 0,
  kEmail,
  kGroup,
  kGroupContact,
  kHistory,
  kEntCount,
  kNoEnt = 255
};
constexpr std::array<std::string_view, kEntCount> kEntNames = {
    "Contact", "Email", "Group", "GroupContact", "SubscriptionHistory"};

enum class Ty : std::uint8_t { kInt, kBool, kStr, kTime, kDate };

// Option lists behind the ":name" / ":label" suffixes.
enum class Opt : std::uint8_t {
  kNone,
  kContactType,
  kLocationType,
  kOnHold,
  kGroupStatus,
  kHistoryStatus,
  kHistoryMethod,
  kGender,
  kPrefix,
  kSuffix,
  kVisibility,
  kGroupRef,  // an FK to Group: name / title
};

struct FieldDef {
  std::string_view name;
  Ty ty;
  Ent fk = kNoEnt;
  Opt opt = Opt::kNone;
  bool required = false;  // on create, with no default
  bool computed = false;  // derived; writes are ignored
};

// Contact.
enum : int {
  C_ID,
  C_CONTACT_TYPE,
  C_DO_NOT_EMAIL,
  C_DO_NOT_PHONE,
  C_DO_NOT_MAIL,
  C_DO_NOT_SMS,
  C_DO_NOT_TRADE,
  C_IS_OPT_OUT,
  C_EXTERNAL_IDENTIFIER,
  C_SORT_NAME,
  C_DISPLAY_NAME,
  C_NICK_NAME,
  C_LEGAL_NAME,
  C_PREFERRED_LANGUAGE,
  C_SOURCE,
  C_FIRST_NAME,
  C_MIDDLE_NAME,
  C_LAST_NAME,
  C_PREFIX_ID,
  C_SUFFIX_ID,
  C_FORMAL_TITLE,
  C_JOB_TITLE,
  C_GENDER_ID,
  C_BIRTH_DATE,
  C_IS_DECEASED,
  C_DECEASED_DATE,
  C_HOUSEHOLD_NAME,
  C_ORGANIZATION_NAME,
  C_EMPLOYER_ID,
  C_IS_DELETED,
  C_CREATED_DATE,
  C_MODIFIED_DATE,
  C_EMAIL_PRIMARY,
  C_COUNT
};
const std::array<FieldDef, C_COUNT> kContactFields = {{
    {"id", Ty::kInt},
    {"contact_type", Ty::kStr, kNoEnt, Opt::kContactType},
    {"do_not_email", Ty::kBool},
    {"do_not_phone", Ty::kBool},
    {"do_not_mail", Ty::kBool},
    {"do_not_sms", Ty::kBool},
    {"do_not_trade", Ty::kBool},
    {"is_opt_out", Ty::kBool},
    {"external_identifier", Ty::kStr},
    {"sort_name", Ty::kStr, kNoEnt, Opt::kNone, false, true},
    {"display_name", Ty::kStr, kNoEnt, Opt::kNone, false, true},
    {"nick_name", Ty::kStr},
    {"legal_name", Ty::kStr},
    {"preferred_language", Ty::kStr},
    {"source", Ty::kStr},
    {"first_name", Ty::kStr},
    {"middle_name", Ty::kStr},
    {"last_name", Ty::kStr},
    {"prefix_id", Ty::kInt, kNoEnt, Opt::kPrefix},
    {"suffix_id", Ty::kInt, kNoEnt, Opt::kSuffix},
    {"formal_title", Ty::kStr},
    {"job_title", Ty::kStr},
    {"gender_id", Ty::kInt, kNoEnt, Opt::kGender},
    {"birth_date", Ty::kDate},
    {"is_deceased", Ty::kBool},
    {"deceased_date", Ty::kDate},
    {"household_name", Ty::kStr},
    {"organization_name", Ty::kStr},
    {"employer_id", Ty::kInt, kContact},
    {"is_deleted", Ty::kBool},
    {"created_date", Ty::kTime, kNoEnt, Opt::kNone, false, true},
    {"modified_date", Ty::kTime, kNoEnt, Opt::kNone, false, true},
    {"email_primary", Ty::kInt, kEmail, Opt::kNone, false, true},
}};

// Email.
enum : int {
  E_ID,
  E_CONTACT_ID,
  E_LOCATION_TYPE_ID,
  E_EMAIL,
  E_IS_PRIMARY,
  E_IS_BILLING,
  E_ON_HOLD,
  E_IS_BULKMAIL,
  E_HOLD_DATE,
  E_RESET_DATE,
  E_COUNT
};
const std::array<FieldDef, E_COUNT> kEmailFields = {{
    {"id", Ty::kInt},
    {"contact_id", Ty::kInt, kContact},
    {"location_type_id", Ty::kInt, kNoEnt, Opt::kLocationType},
    {"email", Ty::kStr, kNoEnt, Opt::kNone, true},
    {"is_primary", Ty::kBool},
    {"is_billing", Ty::kBool},
    {"on_hold", Ty::kInt, kNoEnt, Opt::kOnHold},
    {"is_bulkmail", Ty::kBool},
    {"hold_date", Ty::kTime},
    {"reset_date", Ty::kTime},
}};

// Group.
enum : int {
  G_ID,
  G_NAME,
  G_TITLE,
  G_DESCRIPTION,
  G_SOURCE,
  G_SAVED_SEARCH_ID,
  G_IS_ACTIVE,
  G_VISIBILITY,
  G_IS_HIDDEN,
  G_IS_RESERVED,
  G_FRONTEND_TITLE,
  G_FRONTEND_DESCRIPTION,
  G_COUNT
};
const std::array<FieldDef, G_COUNT> kGroupFields = {{
    {"id", Ty::kInt},
    {"name", Ty::kStr},
    {"title", Ty::kStr, kNoEnt, Opt::kNone, true},
    {"description", Ty::kStr},
    {"source", Ty::kStr},
    {"saved_search_id", Ty::kInt, kNoEnt, Opt::kNone, false, true},
    {"is_active", Ty::kBool},
    {"visibility", Ty::kStr, kNoEnt, Opt::kVisibility},
    {"is_hidden", Ty::kBool},
    {"is_reserved", Ty::kBool},
    {"frontend_title", Ty::kStr},
    {"frontend_description", Ty::kStr},
}};

// GroupContact.
enum : int { GC_ID, GC_GROUP_ID, GC_CONTACT_ID, GC_STATUS, GC_LOCATION_ID, GC_EMAIL_ID, GC_COUNT };
const std::array<FieldDef, GC_COUNT> kGroupContactFields = {{
    {"id", Ty::kInt},
    {"group_id", Ty::kInt, kGroup, Opt::kGroupRef, true},
    {"contact_id", Ty::kInt, kContact, Opt::kNone, true},
    {"status", Ty::kStr, kNoEnt, Opt::kGroupStatus},
    {"location_id", Ty::kInt},
    {"email_id", Ty::kInt, kEmail},
}};

// SubscriptionHistory.
enum : int { H_ID, H_CONTACT_ID, H_GROUP_ID, H_DATE, H_METHOD, H_STATUS, H_TRACKING, H_COUNT };
const std::array<FieldDef, H_COUNT> kHistoryFields = {{
    {"id", Ty::kInt},
    {"contact_id", Ty::kInt, kContact, Opt::kNone, true},
    {"group_id", Ty::kInt, kGroup, Opt::kGroupRef},
    {"date", Ty::kTime},
    {"method", Ty::kStr, kNoEnt, Opt::kHistoryMethod},
    {"status", Ty::kStr, kNoEnt, Opt::kHistoryStatus},
    {"tracking", Ty::kStr},
}};

struct FieldList {
  const FieldDef* defs;
  int count;
};
FieldList fields_of(Ent e) {
  switch (e) {
    case kContact:
      return {kContactFields.data(), C_COUNT};
    case kEmail:
      return {kEmailFields.data(), E_COUNT};
    case kGroup:
      return {kGroupFields.data(), G_COUNT};
    case kGroupContact:
      return {kGroupContactFields.data(), GC_COUNT};
    default:
      return {kHistoryFields.data(), H_COUNT};
  }
}
const FieldDef& field_def(Ent e, int f) {
  return fields_of(e).defs[f];
}
int find_field(Ent e, std::string_view name) {
  FieldList fl = fields_of(e);
  for (int i = 0; i < fl.count; ++i) {
    if (fl.defs[i].name == name) return i;
  }
  return -1;
}

struct OptItem {
  std::int64_t id;         // for integer options
  std::string_view value;  // for string options (the stored value)
  std::string_view name;
  std::string_view label;
};
const std::vector<OptItem>& option_items(Opt o) {
  static const std::vector<OptItem> kNoItems;
  static const std::vector<OptItem> kContactTypes = {
      {0, "Individual", "Individual", "Individual"},
      {0, "Organization", "Organization", "Organization"},
      {0, "Household", "Household", "Household"}};
  static const std::vector<OptItem> kLocationTypes = {{1, "", "Home", "Home"},
                                                      {2, "", "Work", "Work"},
                                                      {3, "", "Main", "Main"},
                                                      {4, "", "Other", "Other"},
                                                      {5, "", "Billing", "Billing"}};
  static const std::vector<OptItem> kOnHold = {{0, "", "No", "No"},
                                               {1, "", "On Hold Bounce", "On Hold Bounce"},
                                               {2, "", "On Hold Opt Out", "On Hold Opt Out"}};
  static const std::vector<OptItem> kGroupStatus = {{0, "Added", "Added", "Added"},
                                                    {0, "Removed", "Removed", "Removed"},
                                                    {0, "Pending", "Pending", "Pending"}};
  static const std::vector<OptItem> kHistoryStatus = {{0, "Added", "Added", "Added"},
                                                      {0, "Removed", "Removed", "Removed"},
                                                      {0, "Pending", "Pending", "Pending"},
                                                      {0, "Deleted", "Deleted", "Deleted"}};
  static const std::vector<OptItem> kMethods = {{0, "Admin", "Admin", "Admin"},
                                                {0, "Email", "Email", "Email"},
                                                {0, "Web", "Web", "Web"},
                                                {0, "API", "API", "API"},
                                                {0, "Form", "Form", "Form"}};
  static const std::vector<OptItem> kGender = {
      {1, "", "Female", "Female"}, {2, "", "Male", "Male"}, {3, "", "Other", "Other"}};
  static const std::vector<OptItem> kPrefix = {
      {1, "", "Mrs.", "Mrs."}, {2, "", "Ms.", "Ms."}, {3, "", "Mr.", "Mr."}, {4, "", "Dr.", "Dr."}};
  static const std::vector<OptItem> kSuffix = {
      {1, "", "Jr.", "Jr."}, {2, "", "Sr.", "Sr."}, {3, "", "II", "II"}, {4, "", "III", "III"}};
  static const std::vector<OptItem> kVisibility = {
      {0, "User and User Admin Only", "User and User Admin Only", "User and User Admin Only"},
      {0, "Public Pages", "Public Pages", "Public Pages"}};
  switch (o) {
    case Opt::kContactType:
      return kContactTypes;
    case Opt::kLocationType:
      return kLocationTypes;
    case Opt::kOnHold:
      return kOnHold;
    case Opt::kGroupStatus:
      return kGroupStatus;
    case Opt::kHistoryStatus:
      return kHistoryStatus;
    case Opt::kHistoryMethod:
      return kMethods;
    case Opt::kGender:
      return kGender;
    case Opt::kPrefix:
      return kPrefix;
    case Opt::kSuffix:
      return kSuffix;
    case Opt::kVisibility:
      return kVisibility;
    default:
      return kNoItems;
  }
}

constexpr std::int64_t kNull = std::numeric_limits<std::int64_t>::min();
constexpr std::uint32_t kNoSlot = 0xffffffffu;

// A short string kept inline (varchar(8) columns: statuses and methods).
struct Str8 {
  std::array<char, 9> c{};
  bool null = true;
  std::string_view view() const { return std::string_view(c.data(), std::strlen(c.data())); }
  void set(std::string_view s) {
    c.fill(0);
    std::memcpy(c.data(), s.data(), std::min<std::size_t>(s.size(), 8));
    null = false;
  }
  void clear() {
    c.fill(0);
    null = true;
  }
};

// An owned value (stored, or converted from a request).
struct XVal {
  enum Kind : std::uint8_t { kNull, kInt, kBool, kStr, kTime, kDate, kFloat } k = kNull;
  std::int64_t i = 0;
  std::string s;

  static XVal null_value() { return XVal{}; }
  static XVal of_int(std::int64_t v) {
    XVal x;
    x.k = kInt;
    x.i = v;
    return x;
  }
  static XVal of_bool(bool v) {
    XVal x;
    x.k = kBool;
    x.i = v ? 1 : 0;
    return x;
  }
  static XVal of_str(std::string v) {
    XVal x;
    x.k = kStr;
    x.s = std::move(v);
    return x;
  }
  static XVal of_time(Micros t, Kind k = kTime) {
    XVal x;
    x.k = t == kNull ? kNull : k;
    x.i = t;
    return x;
  }
};

// A read value: strings point into the row (or a scratch buffer) and live as long as the lock.
struct V {
  XVal::Kind k = XVal::kNull;
  std::int64_t i = 0;
  std::string_view s;

  static V null_value() { return V{}; }
  static V of_int(std::int64_t v) { return v == kNull ? V{} : V{XVal::kInt, v, {}}; }
  static V of_bool(bool v) { return V{XVal::kBool, v ? 1 : 0, {}}; }
  static V of_str(std::string_view v) { return V{XVal::kStr, 0, v}; }
  static V of_time(Micros t) { return t == kNull ? V{} : V{XVal::kTime, t, {}}; }
  static V of_date(Micros t) { return t == kNull ? V{} : V{XVal::kDate, t, {}}; }
  bool is_null() const { return k == XVal::kNull; }
};

// Rarely set fields, kept out of line: (field, value) pairs.
using Extras = std::vector<std::pair<std::uint8_t, XVal>>;

enum ContactFlag : std::uint16_t {
  kDoNotEmail = 1,
  kDoNotPhone = 2,
  kDoNotMail = 4,
  kDoNotSms = 8,
  kDoNotTrade = 16,
  kIsOptOut = 32,
  kIsDeceased = 64,
  kIsDeleted = 128,
};

struct ContactRow {
  std::int64_t id = 0;
  std::string first_name;  // "" = NULL (CiviCRM stores NULL for empty names)
  std::string last_name;
  std::uint16_t flags = 0;
  std::uint8_t type = 0;  // index into the contact types
  bool dead = false;
  Micros created = kNull;
  Micros modified = kNull;
  std::unique_ptr<Extras> extra;

  bool flag(ContactFlag f) const { return (flags & f) != 0; }
  void set_flag(ContactFlag f, bool on) {
    flags = static_cast<std::uint16_t>(on ? (flags | f) : (flags & ~f));
  }
  const XVal* extra_value(int field) const {
    if (!extra) return nullptr;
    for (const auto& [f, v] : *extra) {
      if (f == field) return &v;
    }
    return nullptr;
  }
  void set_extra(int field, XVal v) {
    if (!extra) {
      if (v.k == XVal::kNull) return;
      extra = std::make_unique<Extras>();
    }
    for (auto& [f, x] : *extra) {
      if (f == field) {
        x = std::move(v);
        return;
      }
    }
    if (v.k != XVal::kNull) extra->emplace_back(static_cast<std::uint8_t>(field), std::move(v));
  }
};

struct EmailRow {
  std::int64_t id = 0;
  std::int64_t contact_id = kNull;
  std::int64_t location_type_id = kNull;
  std::string email;
  bool email_null = false;
  std::uint8_t on_hold = 0;
  bool is_primary = false;
  bool is_billing = false;
  bool is_bulkmail = false;
  bool dead = false;
  Micros hold_date = kNull;
  Micros reset_date = kNull;
};

struct GroupRow {
  std::int64_t id = 0;
  std::string name, title, description, source, visibility = "User and User Admin Only";
  std::string frontend_title, frontend_description;
  bool is_active = true;
  bool is_hidden = false;
  bool is_reserved = false;
  bool dead = false;
};

struct GroupContactRow {
  std::int64_t id = 0;
  std::int64_t group_id = kNull;
  std::int64_t contact_id = kNull;
  Str8 status;
  std::int64_t location_id = kNull;
  std::int64_t email_id = kNull;
  bool dead = false;
};

struct HistoryRow {
  std::int64_t id = 0;
  std::int64_t contact_id = kNull;
  std::int64_t group_id = kNull;
  Micros date = kNull;
  Str8 method;
  Str8 status;
  std::string tracking;
  bool tracking_null = true;
  bool dead = false;
};

// Rows of one entity in id order (ids only grow), with a lookup by id: a direct table while the ids
// are dense, else a binary search. Deleted rows stay as tombstones.
template <typename Row>
struct Table {
  std::vector<Row> rows;
  std::vector<std::uint32_t> dense;  // id -> slot + 1 (0: none); empty when ids are sparse
  bool dense_ok = true;
  std::int64_t next_id = 1;
  std::int64_t live = 0;

  std::uint32_t find(std::int64_t id) const {
    if (id <= 0) return kNoSlot;
    std::uint32_t slot = kNoSlot;
    if (dense_ok) {
      if (static_cast<std::uint64_t>(id) < dense.size() &&
          dense[static_cast<std::size_t>(id)] != 0) {
        slot = dense[static_cast<std::size_t>(id)] - 1;
      }
    } else {
      auto it = std::lower_bound(rows.begin(), rows.end(), id,
                                 [](const Row& r, std::int64_t v) { return r.id < v; });
      if (it != rows.end() && it->id == id) slot = static_cast<std::uint32_t>(it - rows.begin());
    }
    if (slot == kNoSlot || rows[slot].dead) return kNoSlot;
    return slot;
  }
  // The first slot whose id is >= id.
  std::uint32_t lower_slot(std::int64_t id) const {
    auto it = std::lower_bound(rows.begin(), rows.end(), id,
                               [](const Row& r, std::int64_t v) { return r.id < v; });
    return static_cast<std::uint32_t>(it - rows.begin());
  }
  void index_slot(std::uint32_t slot) {
    std::int64_t id = rows[slot].id;
    if (!dense_ok) return;
    if (id > static_cast<std::int64_t>(4 * rows.size() + 4096)) {
      dense_ok = false;
      dense.clear();
      dense.shrink_to_fit();
      return;
    }
    if (static_cast<std::uint64_t>(id) >= dense.size()) {
      dense.resize(std::max<std::size_t>(static_cast<std::size_t>(id) + 1, dense.size() * 3 / 2),
                   0);
    }
    dense[static_cast<std::size_t>(id)] = slot + 1;
  }
  // Appends a row with a new id. Returns its slot.
  std::uint32_t append(Row&& r) {
    if (r.id == 0) r.id = next_id;
    next_id = std::max(next_id, r.id + 1);
    rows.push_back(std::move(r));
    auto slot = static_cast<std::uint32_t>(rows.size() - 1);
    index_slot(slot);
    ++live;
    return slot;
  }
  void kill(std::uint32_t slot) {
    if (rows[slot].dead) return;
    rows[slot].dead = true;
    --live;
  }
  // After loading rows in any order: sorts them by id and rebuilds the lookup. Returns the first
  // duplicated id, or 0.
  std::int64_t finish_load() {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.id < b.id; });
    for (std::size_t i = 1; i < rows.size(); ++i) {
      if (rows[i].id == rows[i - 1].id) return rows[i].id;
    }
    dense.clear();
    dense_ok = true;
    live = 0;
    for (std::uint32_t s = 0; s < rows.size(); ++s) {
      index_slot(s);
      if (!rows[s].dead) ++live;
    }
    if (!rows.empty()) next_id = std::max(next_id, rows.back().id + 1);
    return 0;
  }
};

// A secondary index of int64 keys to slots: a large part sorted by (key, slot) and a small sorted
// tail of recent additions, merged when it grows. Entries are never removed: a row that changed
// its key or died leaves a stale entry, which readers skip by checking the row itself.
class KeyIndex {
 public:
  struct Entry {
    std::int64_t key;
    std::uint32_t slot;
    bool operator<(const Entry& o) const { return key != o.key ? key < o.key : slot < o.slot; }
    bool operator==(const Entry& o) const { return key == o.key && slot == o.slot; }
  };

  void clear() {
    main_.clear();
    tail_.clear();
  }
  void add(std::int64_t key, std::uint32_t slot) {
    Entry e{key, slot};
    tail_.insert(std::upper_bound(tail_.begin(), tail_.end(), e), e);
    if (tail_.size() > kTailMax) merge();
  }
  // Bulk load: entries in any order.
  void build(std::vector<Entry> entries) {
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    main_ = std::move(entries);
    tail_.clear();
  }
  // An upper bound of the number of slots with this key.
  std::size_t estimate(std::int64_t key) const {
    auto [a, b] = range(main_, key);
    return static_cast<std::size_t>(b - a) + count_tail(key);
  }
  // Calls fn(slot) for the slots with this key that are >= from, ascending, without duplicates,
  // until fn returns false.
  template <typename Fn>
  void scan(std::int64_t key, std::uint32_t from, Fn fn) const {
    auto [a, b] = range(main_, key);
    a = std::lower_bound(a, b, Entry{key, from});
    auto [ta, tb] = range(tail_, key);
    ta = std::lower_bound(ta, tb, Entry{key, from});
    std::uint32_t last = kNoSlot;
    while (a != b || ta != tb) {
      std::uint32_t s;
      if (ta == tb || (a != b && a->slot <= ta->slot)) {
        s = a->slot;
        ++a;
      } else {
        s = ta->slot;
        ++ta;
      }
      if (s == last) continue;
      last = s;
      if (!fn(s)) return;
    }
  }

 private:
  static constexpr std::size_t kTailMax = 2048;
  using It = std::vector<Entry>::const_iterator;
  static std::pair<It, It> range(const std::vector<Entry>& v, std::int64_t key) {
    auto a = std::lower_bound(v.begin(), v.end(), Entry{key, 0});
    auto b = std::lower_bound(a, v.end(), Entry{key, kNoSlot});
    if (b != v.end() && b->key == key) ++b;  // slot kNoSlot itself cannot occur
    return {a, b};
  }
  std::size_t count_tail(std::int64_t key) const {
    auto [a, b] = range(tail_, key);
    return static_cast<std::size_t>(b - a);
  }
  void merge() {
    std::vector<Entry> out;
    out.reserve(main_.size() + tail_.size());
    std::merge(main_.begin(), main_.end(), tail_.begin(), tail_.end(), std::back_inserter(out));
    out.erase(std::unique(out.begin(), out.end()), out.end());
    main_ = std::move(out);
    tail_.clear();
  }
  std::vector<Entry> main_;
  std::vector<Entry> tail_;
};

// The key of an address in the email index: a hash of its trimmed, lower-cased form (MySQL's
// comparison ignores case and trailing spaces).
std::int64_t email_key(std::string_view email) {
  std::string_view s = rtrim_spaces(email);
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(lower_ascii(c));
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(h);
}

}  // namespace

struct CiviSite {
  std::string api_key{kDefaultCivicrmApiKey};
  std::string site_key{kDefaultCivicrmSiteKey};
  std::string timezone = "UTC";
  std::shared_ptr<const TimeZone> tz;
  bool api_key_permission = false;  // the key's contact holds "authenticate with api key"
  bool view_debug_output = true;    // ... and "view debug output" (detailed error messages)
  std::vector<std::string> deny;    // "Entity.action" patterns answered 403

  Table<ContactRow> contacts;
  Table<EmailRow> emails;
  Table<GroupRow> groups;
  Table<GroupContactRow> group_contacts;
  Table<HistoryRow> history;

  KeyIndex email_by_contact, email_by_address;
  KeyIndex gc_by_contact, gc_by_group;
  KeyIndex hist_by_contact, hist_by_group;

  std::int64_t live(Ent e) const {
    switch (e) {
      case kContact:
        return contacts.live;
      case kEmail:
        return emails.live;
      case kGroup:
        return groups.live;
      case kGroupContact:
        return group_contacts.live;
      default:
        return history.live;
    }
  }
  std::size_t slots(Ent e) const {
    switch (e) {
      case kContact:
        return contacts.rows.size();
      case kEmail:
        return emails.rows.size();
      case kGroup:
        return groups.rows.size();
      case kGroupContact:
        return group_contacts.rows.size();
      default:
        return history.rows.size();
    }
  }
  std::uint32_t find(Ent e, std::int64_t id) const {
    switch (e) {
      case kContact:
        return contacts.find(id);
      case kEmail:
        return emails.find(id);
      case kGroup:
        return groups.find(id);
      case kGroupContact:
        return group_contacts.find(id);
      default:
        return history.find(id);
    }
  }
  bool dead(Ent e, std::uint32_t slot) const {
    switch (e) {
      case kContact:
        return contacts.rows[slot].dead;
      case kEmail:
        return emails.rows[slot].dead;
      case kGroup:
        return groups.rows[slot].dead;
      case kGroupContact:
        return group_contacts.rows[slot].dead;
      default:
        return history.rows[slot].dead;
    }
  }
  std::int64_t id_at(Ent e, std::uint32_t slot) const {
    switch (e) {
      case kContact:
        return contacts.rows[slot].id;
      case kEmail:
        return emails.rows[slot].id;
      case kGroup:
        return groups.rows[slot].id;
      case kGroupContact:
        return group_contacts.rows[slot].id;
      default:
        return history.rows[slot].id;
    }
  }
  std::uint32_t lower_slot(Ent e, std::int64_t id) const {
    switch (e) {
      case kContact:
        return contacts.lower_slot(id);
      case kEmail:
        return emails.lower_slot(id);
      case kGroup:
        return groups.lower_slot(id);
      case kGroupContact:
        return group_contacts.lower_slot(id);
      default:
        return history.lower_slot(id);
    }
  }
  // The primary email's slot of a contact (else kNoSlot).
  std::uint32_t primary_email(std::int64_t contact_id) const {
    std::uint32_t found = kNoSlot;
    email_by_contact.scan(contact_id, 0, [&](std::uint32_t s) {
      const EmailRow& e = emails.rows[s];
      if (!e.dead && e.contact_id == contact_id && e.is_primary) {
        found = s;
        return false;
      }
      return true;
    });
    return found;
  }
  template <typename Fn>
  void for_contact_emails(std::int64_t contact_id, Fn fn) const {
    email_by_contact.scan(contact_id, 0, [&](std::uint32_t s) {
      const EmailRow& e = emails.rows[s];
      if (!e.dead && e.contact_id == contact_id) fn(s);
      return true;
    });
  }
};

void CiviSiteDeleter::operator()(CiviSite* site) const {
  delete site;
}

CiviCounts civicrm_counts(const CiviSite& site) {
  CiviCounts c;
  c.contacts = site.contacts.live;
  c.emails = site.emails.live;
  c.groups = site.groups.live;
  c.group_contacts = site.group_contacts.live;
  c.subscription_history = site.history.live;
  return c;
}

namespace {

// ---- reading fields
// ---------------------------------------------------------------------------------

std::string_view contact_type_name(std::uint8_t t) {
  return option_items(Opt::kContactType)[t].value;
}

void append_name(std::string* out, std::string_view part, std::string_view sep) {
  if (part.empty()) return;
  if (!out->empty()) out->append(sep);
  out->append(part);
}

std::string_view extra_str(const ContactRow& c, int field) {
  const XVal* v = c.extra_value(field);
  return v && v->k == XVal::kStr ? std::string_view(v->s) : std::string_view();
}

std::string_view option_name_of(Opt o, std::int64_t id) {
  for (const OptItem& it : option_items(o)) {
    if (it.id == id) return it.name;
  }
  return {};
}

// display_name and sort_name as CiviCRM's default formats build them.
void contact_names(const CiviSite& site, const ContactRow& c, bool sort, std::string* out) {
  out->clear();
  std::string_view type = contact_type_name(c.type);
  if (type == "Organization") {
    out->assign(extra_str(c, C_ORGANIZATION_NAME));
  } else if (type == "Household") {
    out->assign(extra_str(c, C_HOUSEHOLD_NAME));
  } else if (sort) {
    append_name(out, c.last_name, ", ");
    append_name(out, c.first_name, ", ");
  } else {
    const XVal* p = c.extra_value(C_PREFIX_ID);
    const XVal* s = c.extra_value(C_SUFFIX_ID);
    if (p && p->k == XVal::kInt) append_name(out, option_name_of(Opt::kPrefix, p->i), " ");
    append_name(out, c.first_name, " ");
    append_name(out, c.last_name, " ");
    if (s && s->k == XVal::kInt) append_name(out, option_name_of(Opt::kSuffix, s->i), " ");
  }
  if (out->empty()) {
    std::uint32_t e = site.primary_email(c.id);
    if (e != kNoSlot) out->assign(site.emails.rows[e].email);
  }
}

V extra_v(const ContactRow& c, int field) {
  const XVal* x = c.extra_value(field);
  if (x == nullptr) return V{};
  V v;
  v.k = x->k;
  v.i = x->i;
  v.s = x->s;
  return v;
}

V get_contact(const CiviSite& site, const ContactRow& c, int f, std::string* scratch) {
  switch (f) {
    case C_ID:
      return V::of_int(c.id);
    case C_CONTACT_TYPE:
      return V::of_str(contact_type_name(c.type));
    case C_DO_NOT_EMAIL:
      return V::of_bool(c.flag(kDoNotEmail));
    case C_DO_NOT_PHONE:
      return V::of_bool(c.flag(kDoNotPhone));
    case C_DO_NOT_MAIL:
      return V::of_bool(c.flag(kDoNotMail));
    case C_DO_NOT_SMS:
      return V::of_bool(c.flag(kDoNotSms));
    case C_DO_NOT_TRADE:
      return V::of_bool(c.flag(kDoNotTrade));
    case C_IS_OPT_OUT:
      return V::of_bool(c.flag(kIsOptOut));
    case C_IS_DECEASED:
      return V::of_bool(c.flag(kIsDeceased));
    case C_IS_DELETED:
      return V::of_bool(c.flag(kIsDeleted));
    case C_FIRST_NAME:
      return c.first_name.empty() ? V{} : V::of_str(c.first_name);
    case C_LAST_NAME:
      return c.last_name.empty() ? V{} : V::of_str(c.last_name);
    case C_SORT_NAME:
    case C_DISPLAY_NAME:
      contact_names(site, c, f == C_SORT_NAME, scratch);
      return V::of_str(*scratch);
    case C_CREATED_DATE:
      return V::of_time(c.created);
    case C_MODIFIED_DATE:
      return V::of_time(c.modified);
    case C_EMAIL_PRIMARY: {
      std::uint32_t e = site.primary_email(c.id);
      return e == kNoSlot ? V{} : V::of_int(site.emails.rows[e].id);
    }
    default:
      return extra_v(c, f);
  }
}

V get_email(const EmailRow& e, int f) {
  switch (f) {
    case E_ID:
      return V::of_int(e.id);
    case E_CONTACT_ID:
      return V::of_int(e.contact_id);
    case E_LOCATION_TYPE_ID:
      return V::of_int(e.location_type_id);
    case E_EMAIL:
      return e.email_null ? V{} : V::of_str(e.email);
    case E_IS_PRIMARY:
      return V::of_bool(e.is_primary);
    case E_IS_BILLING:
      return V::of_bool(e.is_billing);
    case E_ON_HOLD:
      return V::of_int(e.on_hold);
    case E_IS_BULKMAIL:
      return V::of_bool(e.is_bulkmail);
    case E_HOLD_DATE:
      return V::of_time(e.hold_date);
    case E_RESET_DATE:
      return V::of_time(e.reset_date);
  }
  return V{};
}

V opt_str(const std::string& s) {
  return s.empty() ? V{} : V::of_str(s);
}

V get_group(const GroupRow& g, int f) {
  switch (f) {
    case G_ID:
      return V::of_int(g.id);
    case G_NAME:
      return opt_str(g.name);
    case G_TITLE:
      return opt_str(g.title);
    case G_DESCRIPTION:
      return opt_str(g.description);
    case G_SOURCE:
      return opt_str(g.source);
    case G_SAVED_SEARCH_ID:
      return V{};
    case G_IS_ACTIVE:
      return V::of_bool(g.is_active);
    case G_VISIBILITY:
      return opt_str(g.visibility);
    case G_IS_HIDDEN:
      return V::of_bool(g.is_hidden);
    case G_IS_RESERVED:
      return V::of_bool(g.is_reserved);
    case G_FRONTEND_TITLE:
      return opt_str(g.frontend_title);
    case G_FRONTEND_DESCRIPTION:
      return opt_str(g.frontend_description);
  }
  return V{};
}

V str8(const Str8& s) {
  return s.null ? V{} : V::of_str(s.view());
}

V get_group_contact(const GroupContactRow& r, int f) {
  switch (f) {
    case GC_ID:
      return V::of_int(r.id);
    case GC_GROUP_ID:
      return V::of_int(r.group_id);
    case GC_CONTACT_ID:
      return V::of_int(r.contact_id);
    case GC_STATUS:
      return str8(r.status);
    case GC_LOCATION_ID:
      return V::of_int(r.location_id);
    case GC_EMAIL_ID:
      return V::of_int(r.email_id);
  }
  return V{};
}

V get_history(const HistoryRow& r, int f) {
  switch (f) {
    case H_ID:
      return V::of_int(r.id);
    case H_CONTACT_ID:
      return V::of_int(r.contact_id);
    case H_GROUP_ID:
      return V::of_int(r.group_id);
    case H_DATE:
      return V::of_time(r.date);
    case H_METHOD:
      return str8(r.method);
    case H_STATUS:
      return str8(r.status);
    case H_TRACKING:
      return r.tracking_null ? V{} : V::of_str(r.tracking);
  }
  return V{};
}

V get_field(const CiviSite& site, Ent e, std::uint32_t slot, int f, std::string* scratch) {
  switch (e) {
    case kContact:
      return get_contact(site, site.contacts.rows[slot], f, scratch);
    case kEmail:
      return get_email(site.emails.rows[slot], f);
    case kGroup:
      return get_group(site.groups.rows[slot], f);
    case kGroupContact:
      return get_group_contact(site.group_contacts.rows[slot], f);
    default:
      return get_history(site.history.rows[slot], f);
  }
}

// ---- paths: fields, implicit joins and option suffixes
// ----------------------------------------------------------------------

enum class Suffix : std::uint8_t { kNone, kName, kLabel };

struct PathRef {
  Ent base = kNoEnt;
  std::vector<int> hops;  // FK fields followed from the base
  Ent target = kNoEnt;
  int field = -1;
  Suffix suffix = Suffix::kNone;
  std::string text;  // as written, e.g. "contact_id.is_deleted" or "group_id:name"

  bool is_base_id() const { return hops.empty() && field == 0 && suffix == Suffix::kNone; }
  bool simple() const { return hops.empty() && suffix == Suffix::kNone; }
};

// Resolves "a.b.c[:suffix]" from an entity. Returns nullopt for an unknown field or join.
std::optional<PathRef> resolve_path(Ent base, std::string_view expr) {
  PathRef p;
  p.base = base;
  p.text = std::string(expr);
  std::string_view rest = expr;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    std::string_view suf = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (suf == "name") {
      p.suffix = Suffix::kName;
    } else if (suf == "label") {
      p.suffix = Suffix::kLabel;
    } else {
      return std::nullopt;
    }
  }
  Ent cur = base;
  while (true) {
    auto dot = rest.find('.');
    std::string_view seg = rest.substr(0, dot);
    int f = find_field(cur, seg);
    if (f < 0) return std::nullopt;
    if (dot == std::string_view::npos) {
      p.target = cur;
      p.field = f;
      break;
    }
    const FieldDef& d = field_def(cur, f);
    if (d.fk == kNoEnt) return std::nullopt;
    p.hops.push_back(f);
    cur = d.fk;
    rest = rest.substr(dot + 1);
  }
  if (p.suffix != Suffix::kNone) {
    const FieldDef& d = field_def(p.target, p.field);
    if (d.opt == Opt::kNone) return std::nullopt;
  }
  return p;
}

// Follows the joins of a path from a base row. Returns the target slot, or kNoSlot when a link is
// NULL or points at no row (a LEFT JOIN gives NULLs then).
std::uint32_t follow(const CiviSite& site, const PathRef& p, std::uint32_t slot) {
  Ent cur = p.base;
  std::string scratch;
  for (int f : p.hops) {
    V v = get_field(site, cur, slot, f, &scratch);
    if (v.k != XVal::kInt) return kNoSlot;
    cur = field_def(cur, f).fk;
    slot = site.find(cur, v.i);
    if (slot == kNoSlot) return kNoSlot;
  }
  return slot;
}

// A value through its option list: the name or label of the stored value.
V apply_suffix(const CiviSite& site, const FieldDef& d, Suffix suffix, V v) {
  if (suffix == Suffix::kNone || v.is_null()) return v;
  if (d.opt == Opt::kGroupRef) {
    std::uint32_t g = site.groups.find(v.i);
    if (g == kNoSlot) return V{};
    const GroupRow& row = site.groups.rows[g];
    return V::of_str(suffix == Suffix::kName ? row.name : row.title);
  }
  for (const OptItem& it : option_items(d.opt)) {
    bool match = v.k == XVal::kStr ? it.value == v.s : it.id == v.i;
    if (match) return V::of_str(suffix == Suffix::kName ? it.name : it.label);
  }
  return V{};
}

V read_path(const CiviSite& site, const PathRef& p, std::uint32_t slot, std::string* scratch) {
  std::uint32_t t = p.hops.empty() ? slot : follow(site, p, slot);
  if (t == kNoSlot) return V{};
  V v = get_field(site, p.target, t, p.field, scratch);
  if (p.suffix != Suffix::kNone) v = apply_suffix(site, field_def(p.target, p.field), p.suffix, v);
  return v;
}

// Reverse lookup for input: a name or label to the stored value. nullopt when unknown.
std::optional<XVal> unsuffix(const CiviSite& site, const FieldDef& d, Suffix suffix,
                             std::string_view text) {
  if (d.opt == Opt::kGroupRef) {
    for (const GroupRow& g : site.groups.rows) {
      if (!g.dead && (suffix == Suffix::kName ? g.name : g.title) == text) {
        return XVal::of_int(g.id);
      }
    }
    return std::nullopt;
  }
  for (const OptItem& it : option_items(d.opt)) {
    if ((suffix == Suffix::kName ? it.name : it.label) == text) {
      return it.value.empty() ? XVal::of_int(it.id) : XVal::of_str(std::string(it.value));
    }
  }
  return std::nullopt;
}

// ---- API errors
// ------------------------------------------------------------------------------------

// An API call's failure: the exception CiviCRM would throw, and the HTTP status it maps to.
struct ApiError {
  int status = 500;
  std::string message;
};

[[noreturn]] void fail(std::string message, int status = 500) {
  throw ApiError{status, std::move(message)};
}

}  // namespace
}  // namespace concord::sandbox

namespace concord::sandbox {
namespace {

// ---- conditions
// ------------------------------------------------------------------------------------
// MySQL's comparisons: numbers against numbers (a string read as a number), strings against
// strings ignoring case and trailing spaces (utf8mb4_unicode_ci, approximated for ASCII), times
// against times. A comparison with NULL is unknown, and unknown rows do not match.

enum class Tri : std::uint8_t { kFalse, kTrue, kUnknown };

Tri tri_not(Tri t) {
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}

int compare_ci(std::string_view a, std::string_view b) {
  a = rtrim_spaces(a);
  b = rtrim_spaces(b);
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    char x = lower_ascii(a[i]), y = lower_ascii(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y) ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

// An operand of a condition, converted for the field it is compared with.
struct Operand {
  XVal::Kind k = XVal::kNull;  // kInt, kFloat, kStr, kTime (also for date fields), kNull
  std::int64_t i = 0;
  double d = 0;
  std::string s;
};

double as_double(const V& v) {
  return v.k == XVal::kStr ? mysql_number(v.s) : static_cast<double>(v.i);
}
double as_double(const Operand& o) {
  if (o.k == XVal::kFloat) return o.d;
  if (o.k == XVal::kStr) return mysql_number(o.s);
  return static_cast<double>(o.i);
}

// <0, 0, >0; `unknown` when either side is NULL.
int compare(const V& a, const Operand& b, bool* unknown) {
  *unknown = false;
  if (a.is_null() || b.k == XVal::kNull) {
    *unknown = true;
    return 0;
  }
  if (a.k == XVal::kTime || a.k == XVal::kDate) {
    if (b.k == XVal::kTime) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    // Compared with a number: MySQL reads the time as YYYYMMDD[HHMMSS].
    std::string t = a.k == XVal::kDate ? date_string(a.i) : civil_string(a.i);
    std::string dgt;
    for (char c : t) {
      if (c >= '0' && c <= '9') dgt.push_back(c);
    }
    double x = std::strtod(dgt.c_str(), nullptr);
    double y = as_double(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.k == XVal::kStr && b.k == XVal::kStr) return compare_ci(a.s, b.s);
  if ((a.k == XVal::kInt || a.k == XVal::kBool) && (b.k == XVal::kInt)) {
    return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  }
  double x = as_double(a), y = as_double(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

// A value as text, for LIKE.
std::string text_of(const V& v) {
  switch (v.k) {
    case XVal::kStr:
      return std::string(v.s);
    case XVal::kInt:
    case XVal::kBool:
      return std::to_string(v.i);
    case XVal::kTime:
      return civil_string(v.i);
    case XVal::kDate:
      return date_string(v.i);
    default:
      return "";
  }
}

// SQL LIKE, case-insensitive: % any run, _ one character, backslash escapes.
bool like(std::string_view s, std::string_view p) {
  std::size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      char pc = p[pi];
      std::size_t adv = 1;
      bool any = false;
      if (pc == '\\' && pi + 1 < p.size()) {
        pc = p[pi + 1];
        adv = 2;
      } else if (pc == '_') {
        any = true;
      }
      if (any || lower_ascii(pc) == lower_ascii(s[si])) {
        ++si;
        pi += adv;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '%')
    ++pi;
  return pi == p.size();
}

enum class Op : std::uint8_t {
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLike,
  kNotLike,
  kIn,
  kNotIn,
  kBetween,
  kNotBetween,
  kIsNull,
  kIsNotNull,
  kIsEmpty,
  kIsNotEmpty,
  kContains,
  kNotContains,
};

std::optional<Op> parse_op(std::string_view s) {
  static const std::pair<std::string_view, Op> kOps[] = {
      {"=", Op::kEq},
      {"!=", Op::kNe},
      {"<>", Op::kNe},
      {"<", Op::kLt},
      {"<=", Op::kLe},
      {">", Op::kGt},
      {">=", Op::kGe},
      {"LIKE", Op::kLike},
      {"NOT LIKE", Op::kNotLike},
      {"IN", Op::kIn},
      {"NOT IN", Op::kNotIn},
      {"BETWEEN", Op::kBetween},
      {"NOT BETWEEN", Op::kNotBetween},
      {"IS NULL", Op::kIsNull},
      {"IS NOT NULL", Op::kIsNotNull},
      {"IS EMPTY", Op::kIsEmpty},
      {"IS NOT EMPTY", Op::kIsNotEmpty},
      {"CONTAINS", Op::kContains},
      {"NOT CONTAINS", Op::kNotContains},
  };
  for (const auto& [name, op] : kOps) {
    if (name == s) return op;
  }
  return std::nullopt;
}

// Operators CiviCRM knows that the sandbox does not evaluate.
bool known_unemulated_op(std::string_view s) {
  return s == "REGEXP" || s == "NOT REGEXP" || s == "REGEXP BINARY" || s == "NOT REGEXP BINARY" ||
         s == "CONTAINS ONE OF" || s == "NOT CONTAINS ONE OF";
}

struct Node {
  enum Kind : std::uint8_t { kLeaf, kAnd, kOr, kNot } kind = kLeaf;
  std::vector<Node> kids;
  // Leaf.
  PathRef path;
  Op op = Op::kEq;
  std::vector<Operand> vals;
  // For IN / NOT IN with only integer operands: the operands sorted, looked up by bisection
  // (a page of contact ids is a thousand of them).
  std::vector<std::int64_t> in_ints;
};

Tri eval_leaf(const CiviSite& site, const Node& n, std::uint32_t slot, std::string* scratch) {
  V v = read_path(site, n.path, slot, scratch);
  bool unknown = false;
  auto cmp0 = [&]() { return compare(v, n.vals[0], &unknown); };
  auto res = [&](bool b) { return unknown ? Tri::kUnknown : (b ? Tri::kTrue : Tri::kFalse); };
  switch (n.op) {
    case Op::kEq:
      return res(cmp0() == 0);
    case Op::kNe:
      return res(cmp0() != 0);
    case Op::kLt:
      return res(cmp0() < 0);
    case Op::kLe:
      return res(cmp0() <= 0);
    case Op::kGt:
      return res(cmp0() > 0);
    case Op::kGe:
      return res(cmp0() >= 0);
    case Op::kLike:
    case Op::kNotLike:
    case Op::kContains:
    case Op::kNotContains: {
      if (v.is_null() || n.vals[0].k == XVal::kNull) return Tri::kUnknown;
      std::string pat = n.vals[0].k == XVal::kStr     ? n.vals[0].s
                        : n.vals[0].k == XVal::kTime  ? civil_string(n.vals[0].i)
                        : n.vals[0].k == XVal::kFloat ? pjson(n.vals[0].d).dump()
                                                      : std::to_string(n.vals[0].i);
      if (n.op == Op::kContains || n.op == Op::kNotContains) pat = "%" + pat + "%";
      bool m = like(v.k == XVal::kStr ? std::string(v.s) : text_of(v), pat);
      return (n.op == Op::kLike || n.op == Op::kContains) == m ? Tri::kTrue : Tri::kFalse;
    }
    case Op::kIn:
    case Op::kNotIn: {
      if (v.is_null()) return Tri::kUnknown;
      if (!n.in_ints.empty() && (v.k == XVal::kInt || v.k == XVal::kBool)) {
        bool in = std::binary_search(n.in_ints.begin(), n.in_ints.end(), v.i);
        return (n.op == Op::kIn) == in ? Tri::kTrue : Tri::kFalse;
      }
      bool any_unknown = false;
      for (const Operand& o : n.vals) {
        bool u = false;
        if (compare(v, o, &u) == 0 && !u) return n.op == Op::kIn ? Tri::kTrue : Tri::kFalse;
        any_unknown = any_unknown || u;
      }
      if (any_unknown) return Tri::kUnknown;
      return n.op == Op::kIn ? Tri::kFalse : Tri::kTrue;
    }
    case Op::kBetween:
    case Op::kNotBetween: {
      bool u1 = false, u2 = false;
      int lo = compare(v, n.vals[0], &u1);
      int hi = compare(v, n.vals[1], &u2);
      if (u1 || u2) return Tri::kUnknown;
      bool in = lo >= 0 && hi <= 0;
      return (n.op == Op::kBetween) == in ? Tri::kTrue : Tri::kFalse;
    }
    case Op::kIsNull:
      return v.is_null() ? Tri::kTrue : Tri::kFalse;
    case Op::kIsNotNull:
      return v.is_null() ? Tri::kFalse : Tri::kTrue;
    case Op::kIsEmpty:
    case Op::kIsNotEmpty: {
      bool empty = v.is_null() || (v.k == XVal::kStr && v.s.empty()) ||
                   ((v.k == XVal::kInt || v.k == XVal::kBool) && v.i == 0);
      return (n.op == Op::kIsEmpty) == empty ? Tri::kTrue : Tri::kFalse;
    }
  }
  return Tri::kUnknown;
}

Tri eval(const CiviSite& site, const Node& n, std::uint32_t slot, std::string* scratch) {
  switch (n.kind) {
    case Node::kLeaf:
      return eval_leaf(site, n, slot, scratch);
    case Node::kNot:
      return tri_not(eval(site, n.kids[0], slot, scratch));
    case Node::kAnd: {
      Tri r = Tri::kTrue;
      for (const Node& k : n.kids) {
        Tri t = eval(site, k, slot, scratch);
        if (t == Tri::kFalse) return t;
        if (t == Tri::kUnknown) r = t;
      }
      return r;
    }
    case Node::kOr: {
      Tri r = Tri::kFalse;
      for (const Node& k : n.kids) {
        Tri t = eval(site, k, slot, scratch);
        if (t == Tri::kTrue) return t;
        if (t == Tri::kUnknown) r = t;
      }
      return r;
    }
  }
  return Tri::kUnknown;
}

// ---- compiling where clauses
// -----------------------------------------------------------------------

struct Env {
  const CiviSite* site;
  Micros now_utc;
};

// A request value for a condition on `d`, as FormattingUtil::formatInputValue and MySQL see it.
Operand operand_for(const Env& env, const FieldDef& d, const pjson& v) {
  Operand o;
  if (v.is_null()) return o;
  if (d.ty == Ty::kTime || d.ty == Ty::kDate) {
    o.k = XVal::kTime;
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    auto t = parse_time_text(text, env.now_utc, *env.site->tz);
    Micros m = t ? *t : unreadable_time(*env.site->tz);
    if (d.ty == Ty::kDate) m -= ((m % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
    o.i = m;
    return o;
  }
  if (v.is_boolean()) {
    o.k = XVal::kInt;
    o.i = v.get<bool>() ? 1 : 0;
  } else if (v.is_number_integer()) {
    o.k = XVal::kInt;
    o.i = v.get<std::int64_t>();
  } else if (v.is_number_unsigned()) {
    o.k = XVal::kInt;
    o.i = static_cast<std::int64_t>(v.get<std::uint64_t>());
  } else if (v.is_number_float()) {
    o.k = XVal::kFloat;
    o.d = v.get<double>();
  } else if (v.is_string()) {
    o.k = XVal::kStr;
    o.s = v.get<std::string>();
  } else {
    fail("Invalid value");
  }
  return o;
}

// Whether a where clause mentions a field (AbstractGetAction::_whereContains).
bool where_contains(const pjson& clauses, std::string_view field) {
  if (!clauses.is_array()) return false;
  for (const pjson& c : clauses) {
    if (!c.is_array() || c.empty() || !c[0].is_string()) continue;
    const std::string& head = c[0].get_ref<const std::string&>();
    if (head == field) return true;
    if ((head == "AND" || head == "OR" || head == "NOT") && c.size() > 1 &&
        where_contains(c[1], field)) {
      return true;
    }
  }
  return false;
}

// Whether the where clause fetches records by id (AbstractGetAction::_itemsToGet('id')).
bool fetches_by_id(const pjson& where) {
  for (const pjson& c : where) {
    if (!c.is_array() || c.size() < 2 || c[0] != "id" || !c[1].is_string()) continue;
    const std::string& op = c[1].get_ref<const std::string&>();
    if (op == "=" || op == "IN") return true;
    if (op == "LIKE" && c.size() > 2 &&
        !(c[2].is_string() && c[2].get<std::string>().find('%') != std::string::npos)) {
      return true;
    }
  }
  return false;
}

Node compile_clause(const Env& env, Ent ent, const pjson& c);

Node compile_group(const Env& env, Ent ent, Node::Kind kind, const pjson& list) {
  Node n;
  n.kind = kind;
  if (!list.is_array()) fail("Invalid where clause");
  for (const pjson& c : list)
    n.kids.push_back(compile_clause(env, ent, c));
  return n;
}

Node compile_clause(const Env& env, Ent ent, const pjson& c) {
  if (!c.is_array() || c.empty() || !c[0].is_string()) fail("Invalid where clause");
  const std::string& head = c[0].get_ref<const std::string&>();
  if (head == "AND" || head == "OR") {
    if (c.size() < 2 || (c[1].is_array() && c[1].empty())) {
      Node n;
      n.kind = Node::kAnd;  // an empty branch is skipped
      return n;
    }
    return compile_group(env, ent, head == "AND" ? Node::kAnd : Node::kOr, c[1]);
  }
  if (head == "NOT") {
    if (c.size() < 2 || (c[1].is_array() && c[1].empty())) {
      Node n;
      n.kind = Node::kAnd;
      return n;
    }
    Node n;
    n.kind = Node::kNot;
    // A list of clauses without an operator means AND.
    if (c[1].is_array() && !c[1].empty() && !c[1][0].is_string()) {
      n.kids.push_back(compile_group(env, ent, Node::kAnd, c[1]));
    } else {
      n.kids.push_back(compile_clause(env, ent, c[1]));
    }
    return n;
  }
  Node n;
  n.kind = Node::kLeaf;
  std::string op_text = c.size() > 1 && c[1].is_string() ? c[1].get<std::string>() : "";
  auto op = parse_op(op_text);
  if (!op) {
    if (known_unemulated_op(op_text)) {
      fail("concord-sandbox does not emulate the " + op_text + " operator");
    }
    fail("Illegal operator");
  }
  if (c.size() > 3 && c[3].is_boolean() && c[3].get<bool>()) {
    fail("concord-sandbox does not emulate comparing two fields (isExpression)");
  }
  if (head.find('(') != std::string::npos) {
    fail("concord-sandbox does not emulate SQL functions in where: " + head);
  }
  auto path = resolve_path(ent, head);
  if (!path) {
    std::string base = head.substr(0, head.find(':'));
    fail("Invalid field '" + base + "'");
  }
  n.path = std::move(*path);
  n.op = *op;
  const FieldDef& d = field_def(n.path.target, n.path.field);
  const pjson null_value;
  const pjson& value = c.size() > 2 ? c[2] : null_value;
  const Suffix suffix = n.path.suffix;
  auto convert = [&](const pjson& v) -> Operand {
    if (suffix != Suffix::kNone && v.is_string()) {
      auto x = unsuffix(*env.site, d, suffix, v.get<std::string>());
      Operand o;
      if (!x) return o;  // an unknown option matches nothing
      o.k = x->k == XVal::kStr ? XVal::kStr : XVal::kInt;
      o.i = x->i;
      o.s = x->s;
      return o;
    }
    return operand_for(env, d, v);
  };
  // A name or label was converted to the stored value: compare stored values.
  n.path.suffix = Suffix::kNone;
  switch (n.op) {
    case Op::kIsNull:
    case Op::kIsNotNull:
    case Op::kIsEmpty:
    case Op::kIsNotEmpty:
      break;
    case Op::kIn:
    case Op::kNotIn:
      if (!value.is_array()) fail("Invalid value in WHERE clause for '" + head + "'");
      if (value.empty()) {
        // CiviCRM compares with IN (FALSE) then.
        Operand o;
        o.k = XVal::kInt;
        o.i = 0;
        n.vals.push_back(o);
      }
      for (const pjson& v : value)
        n.vals.push_back(convert(v));
      if (std::all_of(n.vals.begin(), n.vals.end(),
                      [](const Operand& o) { return o.k == XVal::kInt; })) {
        for (const Operand& o : n.vals)
          n.in_ints.push_back(o.i);
        std::sort(n.in_ints.begin(), n.in_ints.end());
      }
      break;
    case Op::kBetween:
    case Op::kNotBetween:
      if (!value.is_array() || value.size() != 2) {
        fail("Invalid value in WHERE clause for '" + head + "'");
      }
      n.vals.push_back(convert(value[0]));
      n.vals.push_back(convert(value[1]));
      break;
    default: {
      if (value.is_array() || value.is_object()) {
        fail("Invalid value in WHERE clause for '" + head + "'");
      }
      // A timestamp compared with "=" to a bare date means the whole day.
      if (d.ty == Ty::kTime && value.is_string() && (n.op == Op::kEq || n.op == Op::kNe)) {
        std::string t(trim_view(value.get<std::string>()));
        int y, m, dd;
        if (t.size() == 10 && digits(t, 0, 4, &y) && t[4] == '-' && digits(t, 5, 2, &m) &&
            t[7] == '-' && digits(t, 8, 2, &dd)) {
          n.op = n.op == Op::kEq ? Op::kBetween : Op::kNotBetween;
          n.vals.push_back(convert(pjson(t + " 00:00:00")));
          n.vals.push_back(convert(pjson(t + " 23:59:59")));
          break;
        }
      }
      n.vals.push_back(convert(value));
    }
  }
  return n;
}

// ---- get: planning and running
// -----------------------------------------------------------------------------

struct OrderKey {
  PathRef path;
  bool desc = false;
};

struct Query {
  Ent ent = kContact;
  Node where;  // kAnd of the top-level clauses
  std::vector<OrderKey> order;
  std::int64_t limit = 0;
  std::int64_t offset = 0;
  std::string cache_key;  // entity + where + orderBy, as given
};

// Candidate rows: a slot range, optionally narrowed to the slots of an index's keys.
struct Plan {
  std::uint32_t lo = 0, hi = 0;  // slot range
  const KeyIndex* index = nullptr;
  std::vector<std::int64_t> keys;    // for `index`; empty keys with an index: nothing matches
  std::vector<std::uint32_t> slots;  // explicit slots (id = / IN); used when by_slots
  bool by_slots = false;
};

// An operand as an exact integer key for an index (MySQL would compare numerically).
std::optional<std::int64_t> int_key(const Operand& o) {
  if (o.k == XVal::kInt) return o.i;
  double d = as_double(o);
  if (o.k == XVal::kNull || d != std::floor(d) || std::fabs(d) > 9e15) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

const KeyIndex* index_for(const CiviSite& site, Ent e, int field) {
  switch (e) {
    case kEmail:
      if (field == E_CONTACT_ID) return &site.email_by_contact;
      if (field == E_EMAIL) return &site.email_by_address;
      return nullptr;
    case kGroupContact:
      if (field == GC_CONTACT_ID) return &site.gc_by_contact;
      if (field == GC_GROUP_ID) return &site.gc_by_group;
      return nullptr;
    case kHistory:
      if (field == H_CONTACT_ID) return &site.hist_by_contact;
      if (field == H_GROUP_ID) return &site.hist_by_group;
      return nullptr;
    default:
      return nullptr;
  }
}

Plan make_plan(const CiviSite& site, const Query& q) {
  Plan p;
  p.lo = 0;
  p.hi = static_cast<std::uint32_t>(site.slots(q.ent));
  std::size_t best = p.hi;
  for (const Node& n : q.where.kids) {
    if (n.kind != Node::kLeaf || !n.path.simple()) continue;
    bool eq = n.op == Op::kEq || n.op == Op::kIn;
    if (n.path.field == 0) {  // id
      if (eq) {
        std::vector<std::uint32_t> slots;
        for (const Operand& o : n.vals) {
          auto k = int_key(o);
          if (!k) continue;
          std::uint32_t s = site.find(q.ent, *k);
          if (s != kNoSlot) slots.push_back(s);
        }
        std::sort(slots.begin(), slots.end());
        slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
        if (slots.size() < best) {
          best = slots.size();
          p.by_slots = true;
          p.slots = std::move(slots);
          p.index = nullptr;
        }
        continue;
      }
      if (n.vals.size() == 1 && n.vals[0].k != XVal::kNull) {
        double d = as_double(n.vals[0]);
        if (n.op == Op::kGt || n.op == Op::kGe) {
          auto id = static_cast<std::int64_t>(n.op == Op::kGt ? std::floor(d) + 1 : std::ceil(d));
          p.lo = std::max(p.lo, site.lower_slot(q.ent, id));
        } else if (n.op == Op::kLt || n.op == Op::kLe) {
          auto id = static_cast<std::int64_t>(n.op == Op::kLt ? std::ceil(d) : std::floor(d) + 1);
          p.hi = std::min(p.hi, site.lower_slot(q.ent, id));
        }
      }
      continue;
    }
    if (!eq) continue;
    const KeyIndex* idx = index_for(site, q.ent, n.path.field);
    if (idx == nullptr) continue;
    std::vector<std::int64_t> keys;
    std::size_t est = 0;
    bool is_email = q.ent == kEmail && n.path.field == E_EMAIL;
    // A number compared with an address is compared as a number: no index for that.
    bool usable = true;
    for (const Operand& o : n.vals) {
      if (is_email) {
        if (o.k == XVal::kNull) continue;
        if (o.k != XVal::kStr) usable = false;
        keys.push_back(email_key(o.s));
      } else {
        auto k = int_key(o);
        if (!k) continue;
        keys.push_back(*k);
      }
      est += idx->estimate(keys.back());
    }
    if (usable && est < best) {
      best = est;
      p.by_slots = false;
      p.index = idx;
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      p.keys = std::move(keys);
    }
  }
  if (p.lo > p.hi) p.lo = p.hi;
  return p;
}

// Calls fn(slot) for the plan's live candidate slots in ascending order, until it returns false.
template <typename Fn>
void for_candidates(const CiviSite& site, Ent ent, const Plan& p, Fn fn) {
  if (p.by_slots) {
    for (std::uint32_t s : p.slots) {
      if (s < p.lo || s >= p.hi || site.dead(ent, s)) continue;
      if (!fn(s)) return;
    }
    return;
  }
  if (p.index != nullptr) {
    if (p.keys.size() == 1) {
      p.index->scan(p.keys[0], p.lo, [&](std::uint32_t s) {
        if (s >= p.hi) return false;
        if (site.dead(ent, s)) return true;
        return fn(s);
      });
      return;
    }
    std::vector<std::uint32_t> all;
    for (std::int64_t k : p.keys) {
      p.index->scan(k, p.lo, [&](std::uint32_t s) {
        if (s >= p.hi) return false;
        all.push_back(s);
        return true;
      });
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    for (std::uint32_t s : all) {
      if (site.dead(ent, s)) continue;
      if (!fn(s)) return;
    }
    return;
  }
  for (std::uint32_t s = p.lo; s < p.hi; ++s) {
    if (site.dead(ent, s)) continue;
    if (!fn(s)) return;
  }
}

// A sort key of one row for one orderBy item: NULLs first (MySQL), then numbers, then strings.
struct SortVal {
  std::uint8_t cls = 0;  // 0 NULL, 1 number, 2 string
  std::int64_t i = 0;
  std::string s;  // lower-cased, trailing spaces dropped
};

SortVal sort_val(const V& v) {
  SortVal k;
  switch (v.k) {
    case XVal::kNull:
      break;
    case XVal::kStr:
      k.cls = 2;
      k.s = lower(rtrim_spaces(v.s));
      break;
    default:
      k.cls = 1;
      k.i = v.i;
  }
  return k;
}

int cmp_sort(const SortVal& a, const SortVal& b) {
  if (a.cls != b.cls) return a.cls < b.cls ? -1 : 1;
  if (a.cls == 1) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (a.cls == 2) return a.s.compare(b.s) < 0 ? -1 : (a.s == b.s ? 0 : 1);
  return 0;
}

// Orders matched slots by the orderBy keys, ties by id (the slot order).
void sort_slots(const CiviSite& site, const Query& q, std::vector<std::uint32_t>* slots) {
  if (q.order.empty()) return;
  if (q.order.size() == 1 && q.order[0].path.is_base_id()) {
    if (q.order[0].desc) std::reverse(slots->begin(), slots->end());
    return;
  }
  const std::size_t n = slots->size();
  const std::size_t k = q.order.size();
  // Integer-only keys (the common case: contact_id, date, ...) sort as plain integers.
  bool ints = true;
  std::vector<SortVal> keys(n * k);
  std::string scratch;
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t j = 0; j < k; ++j) {
      SortVal sv = sort_val(read_path(site, q.order[j].path, (*slots)[r], &scratch));
      if (sv.cls == 2) ints = false;
      keys[r * k + j] = std::move(sv);
    }
  }
  std::vector<std::uint32_t> perm(n);
  for (std::size_t r = 0; r < n; ++r)
    perm[r] = static_cast<std::uint32_t>(r);
  auto less = [&](std::uint32_t a, std::uint32_t b) {
    for (std::size_t j = 0; j < k; ++j) {
      const SortVal& x = keys[a * k + j];
      const SortVal& y = keys[b * k + j];
      int c;
      if (ints) {
        c = x.cls != y.cls ? (x.cls < y.cls ? -1 : 1) : (x.i < y.i ? -1 : (x.i > y.i ? 1 : 0));
      } else {
        c = cmp_sort(x, y);
      }
      if (c != 0) return q.order[j].desc ? c > 0 : c < 0;
    }
    return a < b;
  };
  if (!std::is_sorted(perm.begin(), perm.end(), less)) std::sort(perm.begin(), perm.end(), less);
  std::vector<std::uint32_t> out(n);
  for (std::size_t r = 0; r < n; ++r)
    out[r] = (*slots)[perm[r]];
  *slots = std::move(out);
}

// The matches of a query in result order, cached until the site changes.
struct QueryCache {
  struct Entry {
    std::string key;
    std::uint64_t version = 0;
    std::shared_ptr<const std::vector<std::uint32_t>> slots;
  };
  std::mutex mu;
  std::deque<Entry> entries;  // most recent first
  static constexpr std::size_t kMax = 8;

  std::shared_ptr<const std::vector<std::uint32_t>> find(const std::string& key,
                                                         std::uint64_t version) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->key == key && it->version == version) {
        Entry e = *it;
        entries.erase(it);
        entries.push_front(e);
        return e.slots;
      }
    }
    return nullptr;
  }
  void put(std::string key, std::uint64_t version,
           std::shared_ptr<const std::vector<std::uint32_t>> slots) {
    std::lock_guard<std::mutex> lock(mu);
    std::erase_if(entries, [&](const Entry& e) { return e.version != version || e.key == key; });
    entries.push_front(Entry{std::move(key), version, std::move(slots)});
    if (entries.size() > kMax) entries.pop_back();
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu);
    entries.clear();
  }
};

struct Matches {
  std::vector<std::uint32_t> page;  // the rows of this page, in order
  std::int64_t total = -1;          // all matches, when computed
};

// Runs a query: the page's slots, and the total when `need_total` (or when it came for free).
Matches run_query(const CiviSite& site, const Query& q, bool need_total, QueryCache* cache,
                  std::uint64_t version) {
  Matches m;
  const std::int64_t offset = std::max<std::int64_t>(0, q.offset);
  const std::int64_t limit = q.limit;
  bool natural =
      q.order.empty() || (q.order.size() == 1 && q.order[0].path.is_base_id() && !q.order[0].desc);
  Plan plan = make_plan(site, q);
  std::string scratch;
  auto matches = [&](std::uint32_t s) {
    return q.where.kids.empty() || eval(site, q.where, s, &scratch) == Tri::kTrue;
  };
  // A page near the start in id order is read directly, stopping once it is full.
  if (natural && !need_total && limit > 0 && offset + limit <= 20000) {
    std::int64_t seen = 0;
    for_candidates(site, q.ent, plan, [&](std::uint32_t s) {
      if (!matches(s)) return true;
      if (seen++ >= offset) m.page.push_back(s);
      return static_cast<std::int64_t>(m.page.size()) < limit;
    });
    return m;
  }
  std::shared_ptr<const std::vector<std::uint32_t>> all =
      cache ? cache->find(q.cache_key, version) : nullptr;
  if (!all) {
    auto v = std::make_shared<std::vector<std::uint32_t>>();
    for_candidates(site, q.ent, plan, [&](std::uint32_t s) {
      if (matches(s)) v->push_back(s);
      return true;
    });
    sort_slots(site, q, v.get());
    all = v;
    if (cache) cache->put(q.cache_key, version, all);
  }
  m.total = static_cast<std::int64_t>(all->size());
  std::int64_t begin = std::min<std::int64_t>(offset, m.total);
  std::int64_t end = limit > 0 ? std::min<std::int64_t>(m.total, begin + limit) : m.total;
  m.page.assign(all->begin() + begin, all->begin() + end);
  return m;
}

}  // namespace
}  // namespace concord::sandbox

namespace concord::sandbox {
namespace {

// ---- output
// ---------------------------------------------------------------------------------------

void put_v(std::string* out, const V& v) {
  switch (v.k) {
    case XVal::kNull:
      out->append("null");
      break;
    case XVal::kInt:
    case XVal::kFloat:
      out->append(std::to_string(v.i));
      break;
    case XVal::kBool:
      out->append(v.i ? "true" : "false");
      break;
    case XVal::kStr:
      put_str(out, v.s);
      break;
    case XVal::kTime:
      put_str(out, civil_string(v.i));
      break;
    case XVal::kDate:
      put_str(out, date_string(v.i));
      break;
  }
}

// '*' matches any run of characters (SelectUtil::getMatchingFields).
bool glob(std::string_view pattern, std::string_view name) {
  std::size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == name;
  std::string_view head = pattern.substr(0, star);
  std::string_view tail = pattern.substr(star + 1);
  if (name.substr(0, head.size()) != head) return false;
  name.remove_prefix(head.size());
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (glob(tail, name.substr(i))) return true;
  }
  return false;
}

struct SelectItem {
  std::string key;
  PathRef path;
};

// The select clause as DAOGetAction and Api4SelectQuery read it: wildcards expanded, "id" first,
// unknown fields dropped silently. `row_count` is noted, not selected.
std::vector<SelectItem> parse_select(Ent ent, const pjson& select, bool* get_count,
                                     bool* only_count) {
  std::vector<std::string> items;
  for (const pjson& s : select) {
    if (!s.is_string()) fail("Invalid field in select");
    items.push_back(s.get<std::string>());
  }
  *get_count = std::find(items.begin(), items.end(), "row_count") != items.end();
  *only_count = items.size() == 1 && items[0] == "row_count";
  FieldList fl = fields_of(ent);
  // Wildcards without a join: replaced by the matching fields, which go last.
  std::vector<std::string> expanded;
  std::vector<std::string> matched;
  for (const std::string& it : items) {
    if (it.find('*') != std::string::npos && it.find('.') == std::string::npos) {
      for (int f = 0; f < fl.count; ++f) {
        if (glob(it, fl.defs[f].name)) matched.emplace_back(fl.defs[f].name);
      }
    } else if (it != "row_count") {
      expanded.push_back(it);
    }
  }
  for (auto& m : matched) {
    if (std::find(expanded.begin(), expanded.end(), m) == expanded.end()) expanded.push_back(m);
  }
  std::vector<std::string> final_items;
  if (expanded.empty()) {
    for (int f = 0; f < fl.count; ++f)
      final_items.emplace_back(fl.defs[f].name);
  } else {
    final_items.push_back("id");
    for (const std::string& it : expanded) {
      auto star = it.find('*');
      if (star != std::string::npos && it.find('.') != std::string::npos &&
          it.find('(') == std::string::npos && it.find(' ') == std::string::npos) {
        // A join wildcard: "contact_id.*", "contact_id.is_*".
        auto dot = it.rfind('.');
        auto base = resolve_path(ent, it.substr(0, dot) + ".id");
        if (!base) continue;
        std::string prefix = it.substr(0, dot + 1);
        std::string pattern = it.substr(dot + 1);
        FieldList tl = fields_of(base->target);
        for (int f = 0; f < tl.count; ++f) {
          if (glob(pattern, tl.defs[f].name))
            final_items.push_back(prefix + std::string(tl.defs[f].name));
        }
        continue;
      }
      final_items.push_back(it);
    }
  }
  std::vector<SelectItem> out;
  for (const std::string& it : final_items) {
    bool dup = false;
    for (const SelectItem& o : out) {
      if (o.key == it) dup = true;
    }
    if (dup) continue;
    if (it.find('(') != std::string::npos || it.find(' ') != std::string::npos) {
      fail("concord-sandbox does not emulate SQL expressions in select: " + it);
    }
    auto p = resolve_path(ent, it);
    if (!p) continue;  // unknown fields are dropped without an error
    out.push_back(SelectItem{it, std::move(*p)});
  }
  return out;
}

// Fields that do not apply to a contact type (FormattingUtil::contactFieldsToRemove).
bool inapplicable(std::string_view contact_type, int field) {
  static constexpr int kIndividualOnly[] = {
      C_FIRST_NAME, C_MIDDLE_NAME, C_LAST_NAME,   C_PREFIX_ID,     C_SUFFIX_ID, C_FORMAL_TITLE,
      C_GENDER_ID,  C_BIRTH_DATE,  C_IS_DECEASED, C_DECEASED_DATE, C_JOB_TITLE, C_EMPLOYER_ID};
  if (contact_type == "Individual") {
    return field == C_HOUSEHOLD_NAME || field == C_ORGANIZATION_NAME || field == C_LEGAL_NAME;
  }
  for (int f : kIndividualOnly) {
    if (f == field) return true;
  }
  if (contact_type == "Organization") return field == C_HOUSEHOLD_NAME;
  if (contact_type == "Household") return field == C_ORGANIZATION_NAME || field == C_LEGAL_NAME;
  return false;
}

// Renders one row of a get.
void render_row(const CiviSite& site, const std::vector<SelectItem>& sel, std::uint32_t slot,
                std::string* out, std::string* scratch) {
  // The contact type of each contact reached (the base, or through joins), when selected.
  std::vector<std::pair<std::vector<int>, std::string>> types;
  for (const SelectItem& it : sel) {
    if (it.path.target == kContact && it.path.field == C_CONTACT_TYPE &&
        it.path.suffix == Suffix::kNone) {
      V v = read_path(site, it.path, slot, scratch);
      if (v.k == XVal::kStr) types.emplace_back(it.path.hops, std::string(v.s));
    }
  }
  out->push_back('{');
  bool first = true;
  for (const SelectItem& it : sel) {
    if (it.path.target == kContact && !types.empty()) {
      bool skip = false;
      for (const auto& [hops, type] : types) {
        if (hops == it.path.hops && inapplicable(type, it.path.field)) skip = true;
      }
      if (skip) continue;
    }
    if (!first) out->push_back(',');
    first = false;
    put_str(out, it.key);
    out->push_back(':');
    put_v(out, read_path(site, it.path, slot, scratch));
  }
  out->push_back('}');
}

// ---- the engine: one API call against the site (the caller holds the lock)
// ------------------------------------------------------------

struct CallOutput {
  Ent ent = kContact;
  std::string action;
  std::vector<std::string> rows;  // each a JSON object
  std::int64_t count = 0;
  std::int64_t fetched = 0;
  std::optional<std::int64_t> matched;
  bool debug = false;
};

std::string action_class(Ent e, const std::string& action) {
  if (e == kGroupContact && (action == "create" || action == "save" || action == "update")) {
    std::string a = action;
    a[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(a[0])));
    return "Civi\\Api4\\Action\\GroupContact\\" + a;
  }
  if (e == kContact && action == "delete") return "Civi\\Api4\\Action\\Contact\\Delete";
  static const std::map<std::string, std::string> kClasses = {{"get", "DAOGetAction"},
                                                              {"create", "DAOCreateAction"},
                                                              {"update", "DAOUpdateAction"},
                                                              {"save", "DAOSaveAction"},
                                                              {"delete", "DAODeleteAction"}};
  return "Civi\\Api4\\Generic\\" + kClasses.at(action);
}

struct FieldVal {
  int field;
  XVal val;
};
using Values = std::vector<FieldVal>;

// Output of a write: which fields of a row to show.
struct OutRow {
  Ent ent;
  std::uint32_t slot = kNoSlot;
  std::uint64_t fields = 0;  // bit per field
  bool all = false;
  std::int64_t deleted_id = 0;  // a deleted row shows {"id": …}
  // A contact written with `email_primary.*` values: the primary email saved with it, and the
  // Email fields named in those values (each shown as "email_primary.<field>").
  std::uint32_t email_slot = kNoSlot;
  std::uint32_t email_fields = 0;  // bit per Email field
};

// The prefix of a contact's primary-email values in writes (ContactSaveTrait::saveLocations).
constexpr std::string_view kEmailPrimaryPrefix = "email_primary.";

class Engine {
 public:
  Engine(CiviSite& site, Micros now_utc, QueryCache* cache, std::atomic<std::uint64_t>* version)
      : site_(site), env_{&site, now_utc}, cache_(cache), version_(version) {
    now_local_ = site.tz->utc_to_local(now_utc);
  }

  bool changed() const { return changed_; }

  // Runs Entity.action(params), then its chains, then applies `index`.
  CallOutput call(const std::string& entity, const std::string& action, const pjson& params,
                  const pjson& index) {
    Ent ent = kNoEnt;
    for (int e = 0; e < kEntCount; ++e) {
      if (kEntNames[e] == entity) ent = static_cast<Ent>(e);
    }
    std::string act = lower(action);
    static const std::array<std::string_view, 5> kActions = {"get", "create", "update", "save",
                                                             "delete"};
    bool known_action = std::find(kActions.begin(), kActions.end(), act) != kActions.end();
    if (ent == kNoEnt || !known_action) {
      fail("API (" + entity + ", " + action +
           ") does not exist (join the API team and implement it!)");
    }
    if (!params.is_object() && !(params.is_array() && params.empty())) {
      // A JSON list: its keys are 0, 1, …
      fail("Unknown method: " + action_class(ent, act) + "::set0()");
    }
    pjson p = params.is_object() ? params : pjson::object();
    std::string with_index_field;
    check_params(ent, act, p);
    if (denied(entity, act)) fail("Authorization failed", 403);
    validate_params(act, p);
    // A string index names a field to key the results by; it is selected if need be.
    bool remove_index_field = false;
    if (index.is_string() && !parse_int64(index.get<std::string>()) && act == "get") {
      with_index_field = index.get<std::string>();
      if (p.contains("select") && p["select"].is_array() && !p["select"].empty()) {
        bool has = false;
        for (const pjson& s : p["select"]) {
          if (s == with_index_field) has = true;
        }
        if (!has) {
          p["select"].push_back(with_index_field);
          remove_index_field = true;
        }
      }
    } else if (index.is_string() && !parse_int64(index.get<std::string>())) {
      with_index_field = index.get<std::string>();
    }
    CallOutput out;
    out.ent = ent;
    out.action = act;
    out.debug = flag(p, "debug");
    if (act == "get") {
      do_get(ent, p, &out);
    } else {
      std::vector<OutRow> rows;
      if (act == "create") {
        do_create(ent, p, &rows);
      } else if (act == "update") {
        do_update(ent, p, &rows);
      } else if (act == "save") {
        do_save(ent, p, &rows, &out.matched);
      } else {
        do_delete(ent, p, &rows);
      }
      for (const OutRow& r : rows)
        out.rows.push_back(render_out(r));
      out.fetched = static_cast<std::int64_t>(out.rows.size());
      out.count = out.fetched;
    }
    if (auto it = p.find("chain"); it != p.end() && it->is_object() && !it->empty()) {
      run_chains(*it, &out);
    }
    if (!with_index_field.empty()) index_by(with_index_field, remove_index_field, &out);
    return out;
  }

  // The values of a call as JSON, with an integer index applied (itemAt).
  static std::string values_json(const CallOutput& out, const pjson& index,
                                 const std::string* keyed) {
    if (keyed != nullptr) return *keyed;
    std::optional<std::int64_t> at;
    if (index.is_number_integer()) at = index.get<std::int64_t>();
    if (index.is_string()) at = parse_int64(index.get<std::string>());
    if (at) {
      auto n = static_cast<std::int64_t>(out.rows.size());
      std::int64_t i = *at < 0 ? n + *at : *at;
      if ((*at < 0 ? -*at : *at + 1) > n || i < 0 || i >= n) return "null";
      return out.rows[static_cast<std::size_t>(i)];
    }
    std::string s = "[";
    for (std::size_t i = 0; i < out.rows.size(); ++i) {
      if (i) s.push_back(',');
      s += out.rows[i];
    }
    s.push_back(']');
    return s;
  }

  // Rows keyed by a field, when a string index was given (set by call()).
  std::optional<std::string> keyed_values;

 private:
  // ---- parameters

  static bool has_param(Ent e, const std::string& act, const std::string& name) {
    static const std::vector<std::string> kCommon = {"version", "checkPermissions", "debug",
                                                     "chain"};
    if (std::find(kCommon.begin(), kCommon.end(), name) != kCommon.end()) return true;
    std::vector<std::string> names;
    if (act == "get") {
      names = {"select", "where", "orderBy", "limit", "offset", "join", "groupBy", "having"};
    } else if (act == "create") {
      names = {"values"};
    } else if (act == "update") {
      names = {"values", "where", "reload", "orderBy", "limit", "offset"};
    } else if (act == "save") {
      names = {"records", "defaults", "reload", "match"};
    } else {
      names = {"where", "orderBy", "limit", "offset"};
      if (e == kContact) names.push_back("useTrash");
    }
    if (e == kGroupContact && act != "get" && act != "delete") {
      names.push_back("method");
      names.push_back("tracking");
    }
    return std::find(names.begin(), names.end(), name) != names.end();
  }

  // Request::create() sets each param through its setter: an unknown one is an unknown method.
  void check_params(Ent e, const std::string& act, const pjson& p) {
    for (auto it = p.begin(); it != p.end(); ++it) {
      const std::string& k = it.key();
      if (!has_param(e, act, k)) {
        std::string setter = k;
        if (!setter.empty()) {
          setter[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(setter[0])));
        }
        fail("Unknown method: " + action_class(e, act) + "::set" + setter + "()");
      }
      if (k == "version" && !(it.value() == 4 || it.value() == "4")) {
        fail("Cannot modify api version");
      }
    }
  }

  bool denied(const std::string& entity, const std::string& act) const {
    for (const std::string& d : site_.deny) {
      auto dot = d.find('.');
      if (dot == std::string::npos) continue;
      std::string de = d.substr(0, dot), da = lower(d.substr(dot + 1));
      if ((de == "*" || de == entity) && (da == "*" || da == act)) return true;
    }
    return false;
  }

  // ValidateFieldsSubscriber: required params and types.
  static void validate_params(const std::string& act, const pjson& p) {
    auto required = [&](const char* name) {
      auto it = p.find(name);
      bool empty = it == p.end() || it->is_null() ||
                   (it->is_string() && it->get<std::string>().empty()) ||
                   ((it->is_array() || it->is_object()) && it->empty()) ||
                   (it->is_boolean() && !it->get<bool>());
      if (empty) fail(std::string("Parameter \"") + name + "\" is required.");
    };
    if (act == "update") required("values");
    if (act == "delete") required("where");
    if (act == "save") required("records");
    static const std::map<std::string, std::string> kTypes = {
        {"select", "array"},         {"where", "array"},   {"orderBy", "array"},
        {"join", "array"},           {"groupBy", "array"}, {"having", "array"},
        {"values", "array"},         {"records", "array"}, {"defaults", "array"},
        {"match", "array"},          {"chain", "array"},   {"limit", "int"},
        {"offset", "int"},           {"reload", "bool"},   {"debug", "bool"},
        {"useTrash", "bool"},        {"method", "string"}, {"tracking", "string"},
        {"checkPermissions", "bool"}};
    for (auto it = p.begin(); it != p.end(); ++it) {
      auto t = kTypes.find(it.key());
      if (t == kTypes.end() || it->is_null()) continue;
      const pjson& v = it.value();
      bool ok = true;
      if (t->second == "array") ok = v.is_array() || v.is_object();
      if (t->second == "bool") ok = v.is_boolean();
      if (t->second == "string") ok = v.is_string();
      if (t->second == "int") {
        ok = v.is_number_integer() || v.is_number_unsigned() ||
             (v.is_string() && parse_int64(v.get<std::string>()).has_value());
      }
      if (!ok) {
        fail("Parameter \"" + it.key() + "\" is not of the correct type. Expecting " + t->second +
             ".");
      }
    }
  }

  // A boolean param (validated as one when given).
  static bool flag(const pjson& p, const char* name) {
    auto it = p.find(name);
    return it != p.end() && it->is_boolean() && it->get<bool>();
  }

  static std::int64_t int_param(const pjson& p, const char* name) {
    auto it = p.find(name);
    if (it == p.end() || it->is_null()) return 0;
    if (it->is_string()) return parse_int64(it->get<std::string>()).value_or(0);
    return it->get<std::int64_t>();
  }

  // ---- get

  void not_emulated_params(const pjson& p) {
    for (const char* k : {"join", "groupBy", "having"}) {
      auto it = p.find(k);
      if (it != p.end() && !it->is_null() && !it->empty()) {
        fail(std::string("concord-sandbox does not emulate the \"") + k + "\" parameter");
      }
    }
  }

  Query build_query(Ent ent, const pjson& p) {
    Query q;
    q.ent = ent;
    pjson where = p.contains("where") && !p["where"].is_null() ? p["where"] : pjson::array();
    if (where.is_object()) {
      pjson list = pjson::array();
      for (auto& [k, v] : where.items())
        list.push_back(v);
      where = list;
    }
    // Contact::get leaves out deleted contacts unless the where clause asks about them.
    if (ent == kContact && !fetches_by_id(where) && !where_contains(where, "is_deleted")) {
      where.push_back(pjson::array({"is_deleted", "=", false}));
    }
    q.where.kind = Node::kAnd;
    for (const pjson& c : where)
      q.where.kids.push_back(compile_clause(env_, ent, c));
    pjson order = p.contains("orderBy") && !p["orderBy"].is_null() ? p["orderBy"] : pjson::object();
    auto add_order = [&](const std::string& item, const pjson& dir) {
      std::string d = dir.is_string()  ? dir.get<std::string>()
                      : dir.is_array() ? "Array"
                                       : dir.dump();
      if (d != "ASC" && d != "DESC") {
        fail("Invalid sort direction. Cannot order by " + item + " " + d);
      }
      auto path = resolve_path(ent, item);
      if (!path) fail("Invalid field '" + item + "'");
      q.order.push_back(OrderKey{std::move(*path), d == "DESC"});
    };
    if (order.is_object()) {
      for (auto it = order.begin(); it != order.end(); ++it)
        add_order(it.key(), it.value());
    } else {
      for (std::size_t i = 0; i < order.size(); ++i)
        add_order(std::to_string(i), order[i]);
    }
    q.limit = int_param(p, "limit");
    q.offset = int_param(p, "offset");
    q.cache_key = std::string(kEntNames[ent]) + "\n" + where.dump() + "\n" + order.dump();
    return q;
  }

  void do_get(Ent ent, const pjson& p, CallOutput* out) {
    not_emulated_params(p);
    bool get_count = false, only_count = false;
    pjson select = p.contains("select") && !p["select"].is_null() ? p["select"] : pjson::array();
    std::vector<SelectItem> sel = parse_select(ent, select, &get_count, &only_count);
    Query q = build_query(ent, p);
    Matches m = run_query(site_, q, get_count || only_count, cache_, version_->load());
    std::optional<std::int64_t> row_count;
    if (!only_count) {
      std::string scratch;
      out->rows.reserve(m.page.size());
      for (std::uint32_t s : m.page) {
        std::string row;
        render_row(site_, sel, s, &row, &scratch);
        out->rows.push_back(std::move(row));
      }
      auto n = static_cast<std::int64_t>(m.page.size());
      if (q.limit == 0 || n < q.limit) {
        row_count = n + q.offset;
        if (get_count) {
          out->matched = *row_count;
          get_count = false;
        }
      }
    }
    if (get_count || only_count) {
      out->matched = m.total;
      row_count = m.total;
    }
    out->fetched = static_cast<std::int64_t>(out->rows.size());
    out->count = row_count.value_or(out->fetched);
  }

  // The slots a batch action (update, delete) works on: a get with the same where, orderBy,
  // limit and offset.
  std::vector<std::uint32_t> batch_slots(Ent ent, const pjson& p) {
    Query q = build_query(ent, p);
    Matches m = run_query(site_, q, false, cache_, version_->load());
    return m.page;
  }

  // ---- writing

  void bump() {
    changed_ = true;
    version_->fetch_add(1);
  }

  XVal to_xval(const FieldDef& d, const pjson& v, const std::string& key) {
    if (v.is_null()) return XVal{};
    auto bad = [&]() -> XVal { fail("Invalid value for " + key + ": " + v.dump()); };
    switch (d.ty) {
      case Ty::kInt: {
        if (v.is_boolean()) return XVal::of_int(v.get<bool>() ? 1 : 0);
        if (v.is_number_integer()) return XVal::of_int(v.get<std::int64_t>());
        if (v.is_number_unsigned())
          return XVal::of_int(static_cast<std::int64_t>(v.get<std::uint64_t>()));
        if (v.is_number_float()) {
          double x = v.get<double>();
          if (x == std::floor(x)) return XVal::of_int(static_cast<std::int64_t>(x));
          return bad();
        }
        if (v.is_string()) {
          std::string_view t = trim_view(v.get_ref<const std::string&>());
          if (t.empty()) return XVal{};
          if (auto n = parse_int64(t)) return XVal::of_int(*n);
        }
        return bad();
      }
      case Ty::kBool: {
        if (v.is_boolean()) return XVal::of_bool(v.get<bool>());
        if (v.is_number()) return XVal::of_bool(v.get<double>() != 0);
        if (v.is_string()) {
          std::string t = lower(trim_view(v.get_ref<const std::string&>()));
          if (t == "1" || t == "true") return XVal::of_bool(true);
          if (t == "0" || t == "false" || t.empty()) return XVal::of_bool(false);
        }
        return bad();
      }
      case Ty::kStr: {
        if (v.is_string()) return XVal::of_str(v.get<std::string>());
        if (v.is_boolean()) return XVal::of_str(v.get<bool>() ? "1" : "");
        if (v.is_number()) return XVal::of_str(v.dump());
        return bad();
      }
      case Ty::kTime:
      case Ty::kDate: {
        if (!v.is_string() && !v.is_number()) return bad();
        std::string text = v.is_string() ? v.get<std::string>() : v.dump();
        if (trim_view(text).empty()) return XVal{};
        auto t = parse_time_text(text, env_.now_utc, *site_.tz);
        Micros m = t ? *t : unreadable_time(*site_.tz);
        if (d.ty == Ty::kDate) {
          m -= ((m % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
          return XVal::of_time(m, XVal::kDate);
        }
        return XVal::of_time(m);
      }
    }
    return XVal{};
  }

  // Reads the values of one record; unknown fields are ignored as CiviCRM's copyValues does.
  Values parse_values(Ent ent, const pjson& obj, std::int64_t* id) {
    Values vals;
    *id = 0;
    if (!obj.is_object()) return vals;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string& key = it.key();
      if (key.find('.') != std::string::npos) continue;  // FK lookups are not emulated
      std::string base = key.substr(0, key.find(':'));
      Suffix suffix = Suffix::kNone;
      if (base.size() != key.size()) {
        std::string suf = key.substr(base.size() + 1);
        if (suf == "name") {
          suffix = Suffix::kName;
        } else if (suf == "label") {
          suffix = Suffix::kLabel;
        } else {
          fail("Illegal expression");
        }
      }
      int f = find_field(ent, base);
      if (f < 0) continue;
      const FieldDef& d = field_def(ent, f);
      if (f == 0) {
        XVal x = to_xval(d, it.value(), key);
        *id = x.k == XVal::kInt ? x.i : 0;
        continue;
      }
      if (d.computed) continue;
      XVal x;
      if (suffix != Suffix::kNone) {
        if (d.opt == Opt::kNone) fail("No option list found for '" + base + "'");
        if (it->is_string()) {
          x = unsuffix(site_, d, suffix, it->get<std::string>()).value_or(XVal{});
        }
      } else {
        x = to_xval(d, it.value(), key);
      }
      std::erase_if(vals, [&](const FieldVal& fv) { return fv.field == f; });
      vals.push_back(FieldVal{f, std::move(x)});
    }
    return vals;
  }

  static const XVal* value_of(const Values& vals, int f) {
    for (const FieldVal& fv : vals) {
      if (fv.field == f) return &fv.val;
    }
    return nullptr;
  }
  static bool given(const Values& vals, int f) { return value_of(vals, f) != nullptr; }
  static std::uint64_t mask_of(const Values& vals) {
    std::uint64_t m = 1;  // id
    for (const FieldVal& fv : vals)
      m |= std::uint64_t{1} << fv.field;
    return m;
  }

  // Mandatory fields of a new record (AbstractAction::checkRequiredFields), after defaults.
  static void check_required(Ent ent, const std::string& act, const std::vector<Values>& records) {
    std::vector<std::string> missing;
    FieldList fl = fields_of(ent);
    for (const Values& vals : records) {
      for (int f = 0; f < fl.count; ++f) {
        if (!fl.defs[f].required) continue;
        const XVal* v = value_of(vals, f);
        if (v == nullptr || v->k == XVal::kNull || (v->k == XVal::kStr && v->s.empty())) {
          std::string n(fl.defs[f].name);
          if (std::find(missing.begin(), missing.end(), n) == missing.end()) missing.push_back(n);
        }
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (const std::string& m : missing)
        list += (list.empty() ? "" : ", ") + m;
      fail("Mandatory values missing from Api4 " + std::string(kEntNames[ent]) + "::" + act + ": " +
           list);
    }
  }

  // Defaults the API fills for new records (fillDefaults and the spec providers).
  static void fill_defaults(Ent ent, Values* vals) {
    if (ent == kContact && !given(*vals, C_CONTACT_TYPE)) {
      vals->push_back(FieldVal{C_CONTACT_TYPE, XVal::of_str("Individual")});
    }
    if (ent == kEmail && !given(*vals, E_LOCATION_TYPE_ID)) {
      vals->push_back(FieldVal{E_LOCATION_TYPE_ID, XVal::of_int(1)});
    }
  }

  static std::string_view varchar(const XVal& v, std::size_t max) {
    if (v.k != XVal::kStr) return {};
    if (v.s.size() > max) fail("DB Error: unknown error");
    return v.s;
  }

  void need_row(Ent e, const XVal& id) {
    if (id.k == XVal::kNull) return;
    if (id.k != XVal::kInt || site_.find(e, id.i) == kNoSlot) {
      fail("DB Error: constraint violation");
    }
  }

  // A history row, as the GroupContact post hook writes it. A row MySQL would refuse (a method
  // over 8 characters) is not written; CiviCRM only logs the failure.
  void add_history(std::int64_t contact, std::int64_t group, std::string_view status,
                   std::string_view method, std::string_view tracking) {
    if (status.size() > 8 || method.size() > 8 || tracking.size() > 255) return;
    HistoryRow h;
    h.contact_id = contact;
    h.group_id = group;
    h.date = now_local_;
    h.status.set(status);
    h.method.set(method);
    h.tracking = std::string(tracking);
    h.tracking_null = false;
    std::uint32_t slot = site_.history.append(std::move(h));
    site_.hist_by_contact.add(contact, slot);
    if (group != kNull) site_.hist_by_group.add(group, slot);
  }

  // -- Contact

  void set_contact(ContactRow& c, int f, const XVal& v) {
    switch (f) {
      case C_CONTACT_TYPE: {
        const auto& types = option_items(Opt::kContactType);
        bool ok = false;
        for (std::size_t i = 0; i < types.size(); ++i) {
          if (v.k == XVal::kStr && types[i].value == v.s) {
            c.type = static_cast<std::uint8_t>(i);
            ok = true;
          }
        }
        if (!ok) fail("DB Error: constraint violation");
        return;
      }
      case C_DO_NOT_EMAIL:
        return c.set_flag(kDoNotEmail, v.i != 0 && v.k != XVal::kNull);
      case C_DO_NOT_PHONE:
        return c.set_flag(kDoNotPhone, v.i != 0 && v.k != XVal::kNull);
      case C_DO_NOT_MAIL:
        return c.set_flag(kDoNotMail, v.i != 0 && v.k != XVal::kNull);
      case C_DO_NOT_SMS:
        return c.set_flag(kDoNotSms, v.i != 0 && v.k != XVal::kNull);
      case C_DO_NOT_TRADE:
        return c.set_flag(kDoNotTrade, v.i != 0 && v.k != XVal::kNull);
      case C_IS_OPT_OUT:
        return c.set_flag(kIsOptOut, v.i != 0 && v.k != XVal::kNull);
      case C_IS_DECEASED:
        return c.set_flag(kIsDeceased, v.i != 0 && v.k != XVal::kNull);
      case C_IS_DELETED:
        return c.set_flag(kIsDeleted, v.i != 0 && v.k != XVal::kNull);
      case C_FIRST_NAME:
        c.first_name = v.k == XVal::kStr ? v.s : std::string();
        return;
      case C_LAST_NAME:
        c.last_name = v.k == XVal::kStr ? v.s : std::string();
        return;
      case C_EMPLOYER_ID:
        need_row(kContact, v);
        c.set_extra(f, v);
        return;
      default:
        if (v.k == XVal::kStr && v.s.empty()) {
          c.set_extra(f, XVal{});
        } else {
          c.set_extra(f, v);
        }
    }
  }

  std::uint32_t insert_contact(const Values& vals) {
    ContactRow c;
    c.created = c.modified = now_local_;
    for (const FieldVal& fv : vals)
      set_contact(c, fv.field, fv.val);
    return site_.contacts.append(std::move(c));
  }

  void update_contact(std::uint32_t slot, const Values& vals) {
    ContactRow& c = site_.contacts.rows[slot];
    for (const FieldVal& fv : vals)
      set_contact(c, fv.field, fv.val);
    c.modified = now_local_;
  }

  void delete_contact(std::uint32_t slot, bool use_trash) {
    ContactRow& c = site_.contacts.rows[slot];
    if (use_trash) {
      c.set_flag(kIsDeleted, true);
      c.modified = now_local_;
      return;
    }
    std::int64_t id = c.id;
    site_.contacts.kill(slot);
    // ON DELETE CASCADE: emails, memberships and their history.
    site_.email_by_contact.scan(id, 0, [&](std::uint32_t s) {
      if (site_.emails.rows[s].contact_id == id) site_.emails.kill(s);
      return true;
    });
    site_.gc_by_contact.scan(id, 0, [&](std::uint32_t s) {
      if (site_.group_contacts.rows[s].contact_id == id) site_.group_contacts.kill(s);
      return true;
    });
    site_.hist_by_contact.scan(id, 0, [&](std::uint32_t s) {
      if (site_.history.rows[s].contact_id == id) site_.history.kill(s);
      return true;
    });
  }

  // -- Email

  // Makes the lowest-id email of a contact primary when none is.
  void ensure_primary(std::int64_t contact) {
    if (contact == kNull || site_.primary_email(contact) != kNoSlot) return;
    std::uint32_t first = kNoSlot;
    site_.for_contact_emails(contact, [&](std::uint32_t s) {
      if (first == kNoSlot || site_.emails.rows[s].id < site_.emails.rows[first].id) first = s;
    });
    if (first != kNoSlot) site_.emails.rows[first].is_primary = true;
  }

  // Sets the fields of an email; the caller handles indexes and the primary/bulk rules.
  void set_email(EmailRow& e, int f, const XVal& v) {
    switch (f) {
      case E_CONTACT_ID:
        need_row(kContact, v);
        e.contact_id = v.k == XVal::kInt ? v.i : kNull;
        return;
      case E_LOCATION_TYPE_ID:
        e.location_type_id = v.k == XVal::kInt ? v.i : kNull;
        return;
      case E_EMAIL:
        e.email = std::string(varchar(v, 254));
        e.email_null = v.k == XVal::kNull;
        return;
      case E_IS_PRIMARY:
        e.is_primary = v.k != XVal::kNull && v.i != 0;
        return;
      case E_IS_BILLING:
        e.is_billing = v.k != XVal::kNull && v.i != 0;
        return;
      case E_ON_HOLD:
        e.on_hold = static_cast<std::uint8_t>(
            v.k == XVal::kInt ? std::clamp<std::int64_t>(v.i, 0, 255) : 0);
        return;
      case E_IS_BULKMAIL:
        e.is_bulkmail = v.k != XVal::kNull && v.i != 0;
        return;
      case E_HOLD_DATE:
        e.hold_date = v.k == XVal::kNull ? kNull : v.i;
        return;
      case E_RESET_DATE:
        e.reset_date = v.k == XVal::kNull ? kNull : v.i;
        return;
    }
  }

  // The rules of CRM_Core_BAO_Block::handlePrimary and of bulk mail after a write.
  void email_rules(std::uint32_t slot, const Values& vals, bool created, std::uint64_t* shown) {
    EmailRow& e = site_.emails.rows[slot];
    std::int64_t contact = e.contact_id;
    if (contact != kNull) {
      const XVal* prim = value_of(vals, E_IS_PRIMARY);
      if (e.is_primary) {
        site_.for_contact_emails(contact, [&](std::uint32_t s) {
          if (s != slot) site_.emails.rows[s].is_primary = false;
        });
      } else if (created && prim == nullptr) {
        bool other = false;
        site_.for_contact_emails(contact, [&](std::uint32_t s) {
          if (s != slot && site_.emails.rows[s].is_primary) other = true;
        });
        if (!other) e.is_primary = true;
        *shown |= std::uint64_t{1} << E_IS_PRIMARY;
      } else if (!created && prim != nullptr) {
        // Un-setting the primary: another email takes it; the only email stays primary.
        bool other = false;
        site_.for_contact_emails(contact, [&](std::uint32_t s) {
          if (s != slot && site_.emails.rows[s].is_primary) other = true;
        });
        if (!other) {
          std::uint32_t next = kNoSlot;
          site_.for_contact_emails(contact, [&](std::uint32_t s) {
            if (s != slot &&
                (next == kNoSlot || site_.emails.rows[s].id < site_.emails.rows[next].id)) {
              next = s;
            }
          });
          if (next == kNoSlot) {
            site_.emails.rows[slot].is_primary = true;
          } else {
            site_.emails.rows[next].is_primary = true;
          }
        }
      }
      if (site_.emails.rows[slot].is_bulkmail && given(vals, E_IS_BULKMAIL)) {
        site_.for_contact_emails(contact, [&](std::uint32_t s) {
          if (s != slot) site_.emails.rows[s].is_bulkmail = false;
        });
      }
    }
  }

  std::uint32_t insert_email(const Values& vals, std::uint64_t* shown) {
    EmailRow e;
    for (const FieldVal& fv : vals)
      set_email(e, fv.field, fv.val);
    if (e.on_hold != 0) {
      e.hold_date = now_local_;
      *shown |= std::uint64_t{1} << E_HOLD_DATE;
    }
    std::uint32_t slot = site_.emails.append(std::move(e));
    const EmailRow& row = site_.emails.rows[slot];
    if (row.contact_id != kNull) site_.email_by_contact.add(row.contact_id, slot);
    if (!row.email_null) site_.email_by_address.add(email_key(row.email), slot);
    email_rules(slot, vals, true, shown);
    return slot;
  }

  void update_email(std::uint32_t slot, const Values& vals, std::uint64_t* shown) {
    EmailRow before = site_.emails.rows[slot];
    EmailRow& e = site_.emails.rows[slot];
    for (const FieldVal& fv : vals)
      set_email(e, fv.field, fv.val);
    // CRM_Core_BAO_Email::holdEmail.
    if (given(vals, E_ON_HOLD)) {
      if (e.on_hold != 0 && before.hold_date == kNull) {
        e.hold_date = now_local_;
        e.reset_date = kNull;
        *shown |= (std::uint64_t{1} << E_HOLD_DATE) | (std::uint64_t{1} << E_RESET_DATE);
      } else if (e.on_hold == 0 && before.hold_date != kNull && before.reset_date == kNull) {
        e.hold_date = kNull;
        e.reset_date = now_local_;
        *shown |= (std::uint64_t{1} << E_HOLD_DATE) | (std::uint64_t{1} << E_RESET_DATE);
      }
    }
    if (e.contact_id != before.contact_id && e.contact_id != kNull) {
      site_.email_by_contact.add(e.contact_id, slot);
    }
    if (!e.email_null && email_key(e.email) != email_key(before.email)) {
      site_.email_by_address.add(email_key(e.email), slot);
    }
    email_rules(slot, vals, false, shown);
    if (before.contact_id != e.contact_id) ensure_primary(before.contact_id);
  }

  void delete_email(std::uint32_t slot) {
    std::int64_t contact = site_.emails.rows[slot].contact_id;
    site_.emails.kill(slot);
    ensure_primary(contact);
  }

  // -- Group

  void set_group(GroupRow& g, int f, const XVal& v) {
    auto str = [&](std::size_t max) { return std::string(varchar(v, max)); };
    switch (f) {
      case G_NAME:
        g.name = str(64);
        return;
      case G_TITLE:
        g.title = str(255);
        return;
      case G_DESCRIPTION:
        g.description = v.k == XVal::kStr ? v.s : "";
        return;
      case G_SOURCE:
        g.source = str(64);
        return;
      case G_IS_ACTIVE:
        g.is_active = v.k != XVal::kNull && v.i != 0;
        return;
      case G_VISIBILITY:
        g.visibility = str(24);
        return;
      case G_IS_HIDDEN:
        g.is_hidden = v.k != XVal::kNull && v.i != 0;
        return;
      case G_IS_RESERVED:
        g.is_reserved = v.k != XVal::kNull && v.i != 0;
        return;
      case G_FRONTEND_TITLE:
        g.frontend_title = str(255);
        return;
      case G_FRONTEND_DESCRIPTION:
        g.frontend_description = v.k == XVal::kStr ? v.s : "";
        return;
    }
  }

  void check_group_unique(const GroupRow& g, std::int64_t self) {
    for (const GroupRow& o : site_.groups.rows) {
      if (o.dead || o.id == self) continue;
      if (o.name == g.name || o.title == g.title) fail("DB Error: already exists");
    }
  }

  std::uint32_t insert_group(const Values& vals, std::uint64_t* shown) {
    GroupRow g;
    for (const FieldVal& fv : vals)
      set_group(g, fv.field, fv.val);
    if (g.name.empty()) {
      // CRM_Utils_String::titleToVar.
      for (char c : g.title.substr(0, 64)) {
        g.name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
      }
      bool taken = false;
      for (const GroupRow& o : site_.groups.rows) {
        if (!o.dead && o.name == g.name) taken = true;
      }
      if (taken) g.name += "_" + std::to_string(site_.groups.next_id);
      *shown |= std::uint64_t{1} << G_NAME;
    }
    check_group_unique(g, 0);
    return site_.groups.append(std::move(g));
  }

  void update_group(std::uint32_t slot, const Values& vals) {
    GroupRow g = site_.groups.rows[slot];
    for (const FieldVal& fv : vals)
      set_group(g, fv.field, fv.val);
    check_group_unique(g, g.id);
    site_.groups.rows[slot] = std::move(g);
  }

  void delete_group(std::uint32_t slot) {
    std::int64_t id = site_.groups.rows[slot].id;
    site_.groups.kill(slot);
    site_.gc_by_group.scan(id, 0, [&](std::uint32_t s) {
      if (site_.group_contacts.rows[s].group_id == id) site_.group_contacts.kill(s);
      return true;
    });
    site_.hist_by_group.scan(id, 0, [&](std::uint32_t s) {
      if (site_.history.rows[s].group_id == id) site_.history.kill(s);
      return true;
    });
  }

  // -- GroupContact

  std::uint32_t find_membership(std::int64_t contact, std::int64_t group) const {
    std::uint32_t found = kNoSlot;
    site_.gc_by_contact.scan(contact, 0, [&](std::uint32_t s) {
      const GroupContactRow& r = site_.group_contacts.rows[s];
      if (!r.dead && r.contact_id == contact && r.group_id == group) {
        found = s;
        return false;
      }
      return true;
    });
    return found;
  }

  void set_group_contact(GroupContactRow& r, int f, const XVal& v) {
    switch (f) {
      case GC_GROUP_ID:
        if (v.k == XVal::kNull) fail("DB Error: constraint violation");
        need_row(kGroup, v);
        r.group_id = v.i;
        return;
      case GC_CONTACT_ID:
        if (v.k == XVal::kNull) fail("DB Error: constraint violation");
        need_row(kContact, v);
        r.contact_id = v.i;
        return;
      case GC_STATUS:
        if (v.k == XVal::kNull) {
          r.status.clear();
        } else {
          r.status.set(varchar(v, 8));
        }
        return;
      case GC_LOCATION_ID:
        r.location_id = v.k == XVal::kInt ? v.i : kNull;
        return;
      case GC_EMAIL_ID:
        need_row(kEmail, v);
        r.email_id = v.k == XVal::kInt ? v.i : kNull;
        return;
    }
  }

  std::uint32_t insert_group_contact(const Values& vals, std::uint64_t* shown) {
    GroupContactRow r;
    for (const FieldVal& fv : vals)
      set_group_contact(r, fv.field, fv.val);
    if (!given(vals, GC_STATUS)) {
      r.status.set("Added");
      *shown |= std::uint64_t{1} << GC_STATUS;
    }
    if (find_membership(r.contact_id, r.group_id) != kNoSlot) fail("DB Error: already exists");
    std::int64_t contact = r.contact_id, group = r.group_id;
    std::string status(r.status.view());
    std::uint32_t slot = site_.group_contacts.append(std::move(r));
    site_.gc_by_contact.add(contact, slot);
    site_.gc_by_group.add(group, slot);
    add_history(contact, group, status, method_, tracking_);
    return slot;
  }

  void update_group_contact(std::uint32_t slot, const Values& vals) {
    GroupContactRow r = site_.group_contacts.rows[slot];
    for (const FieldVal& fv : vals)
      set_group_contact(r, fv.field, fv.val);
    const GroupContactRow& before = site_.group_contacts.rows[slot];
    if (r.contact_id != before.contact_id || r.group_id != before.group_id) {
      if (find_membership(r.contact_id, r.group_id) != kNoSlot) fail("DB Error: already exists");
      if (r.contact_id != before.contact_id) site_.gc_by_contact.add(r.contact_id, slot);
      if (r.group_id != before.group_id) site_.gc_by_group.add(r.group_id, slot);
    }
    site_.group_contacts.rows[slot] = r;
    // The post hook writes a history row on every edit, with the status after it.
    add_history(r.contact_id, r.group_id, r.status.view(), method_, tracking_);
  }

  void delete_group_contact(std::uint32_t slot) {
    const GroupContactRow r = site_.group_contacts.rows[slot];
    site_.group_contacts.kill(slot);
    add_history(r.contact_id, r.group_id, "Deleted", method_, tracking_);
  }

  // -- SubscriptionHistory

  void set_history(HistoryRow& h, int f, const XVal& v) {
    switch (f) {
      case H_CONTACT_ID:
        if (v.k == XVal::kNull) fail("DB Error: constraint violation");
        need_row(kContact, v);
        h.contact_id = v.i;
        return;
      case H_GROUP_ID:
        need_row(kGroup, v);
        h.group_id = v.k == XVal::kInt ? v.i : kNull;
        return;
      case H_DATE:
        return;  // always "now": the BAO's pre hook sets it
      case H_METHOD:
        if (v.k == XVal::kNull) {
          h.method.clear();
        } else {
          h.method.set(varchar(v, 8));
        }
        return;
      case H_STATUS:
        if (v.k == XVal::kNull) {
          h.status.clear();
        } else {
          h.status.set(varchar(v, 8));
        }
        return;
      case H_TRACKING:
        h.tracking = std::string(varchar(v, 255));
        h.tracking_null = v.k == XVal::kNull;
        return;
    }
  }

  std::uint32_t insert_history(const Values& vals, std::uint64_t* shown) {
    HistoryRow h;
    for (const FieldVal& fv : vals)
      set_history(h, fv.field, fv.val);
    h.date = now_local_;
    *shown |= std::uint64_t{1} << H_DATE;
    std::int64_t contact = h.contact_id, group = h.group_id;
    std::uint32_t slot = site_.history.append(std::move(h));
    site_.hist_by_contact.add(contact, slot);
    if (group != kNull) site_.hist_by_group.add(group, slot);
    return slot;
  }

  void update_history(std::uint32_t slot, const Values& vals, std::uint64_t* shown) {
    HistoryRow h = site_.history.rows[slot];
    for (const FieldVal& fv : vals)
      set_history(h, fv.field, fv.val);
    h.date = now_local_;
    *shown |= std::uint64_t{1} << H_DATE;
    const HistoryRow& before = site_.history.rows[slot];
    if (h.contact_id != before.contact_id) site_.hist_by_contact.add(h.contact_id, slot);
    if (h.group_id != before.group_id && h.group_id != kNull)
      site_.hist_by_group.add(h.group_id, slot);
    site_.history.rows[slot] = std::move(h);
  }

  // -- dispatch

  std::uint32_t insert(Ent ent, const Values& vals, std::uint64_t* shown) {
    bump();
    switch (ent) {
      case kContact: {
        *shown |= (std::uint64_t{1} << C_DISPLAY_NAME) | (std::uint64_t{1} << C_SORT_NAME);
        return insert_contact(vals);
      }
      case kEmail:
        return insert_email(vals, shown);
      case kGroup:
        return insert_group(vals, shown);
      case kGroupContact:
        return insert_group_contact(vals, shown);
      default:
        return insert_history(vals, shown);
    }
  }

  void update(Ent ent, std::uint32_t slot, const Values& vals, std::uint64_t* shown) {
    bump();
    switch (ent) {
      case kContact:
        return update_contact(slot, vals);
      case kEmail:
        return update_email(slot, vals, shown);
      case kGroup:
        return update_group(slot, vals);
      case kGroupContact:
        return update_group_contact(slot, vals);
      default:
        return update_history(slot, vals, shown);
    }
  }

  void remove(Ent ent, std::uint32_t slot, bool use_trash) {
    bump();
    switch (ent) {
      case kContact:
        return delete_contact(slot, use_trash);
      case kEmail:
        return delete_email(slot);
      case kGroup:
        return delete_group(slot);
      case kGroupContact:
        return delete_group_contact(slot);
      default:
        site_.history.kill(slot);
    }
  }

  void read_method_params(Ent ent, const pjson& p) {
    method_ = "API";
    tracking_.clear();
    if (ent != kGroupContact) return;
    if (auto it = p.find("method"); it != p.end() && it->is_string())
      method_ = it->get<std::string>();
    if (auto it = p.find("tracking"); it != p.end() && it->is_string()) {
      tracking_ = it->get<std::string>();
    }
  }

  // ---- a contact's primary email in its writes (ContactSaveTrait)

  // The `email_primary.*` values of a contact's record, without the prefix, as
  // CRM_Utils_Array::filterByPrefix gives them. Empty for other entities.
  static pjson primary_email_item(Ent ent, const pjson& rec) {
    pjson item = pjson::object();
    if (ent != kContact || !rec.is_object()) return item;
    for (auto it = rec.begin(); it != rec.end(); ++it) {
      const std::string& key = it.key();
      if (key.compare(0, kEmailPrimaryPrefix.size(), kEmailPrimaryPrefix) == 0) {
        item[key.substr(kEmailPrimaryPrefix.size())] = it.value();
      }
    }
    return item;
  }

  // ContactSaveTrait::saveLocations for the primary email, after the contact row `out` is
  // written: an internal Email.save (permissions unchecked) of the given values with contact_id
  // and is_primary set, matched on (contact_id, is_primary): the contact's one primary email is
  // updated, else an email is created. A NULL `email` deletes the primary email instead. `id`,
  // `is_primary` and `is_billing` may not be set this way; when nothing else is given, nothing
  // is written.
  void save_primary_email(const pjson& given, OutRow* out) {
    if (given.empty()) return;
    for (auto it = given.begin(); it != given.end(); ++it) {
      const std::string& key = it.key();
      int f = find_field(kEmail, std::string_view(key).substr(0, key.find(':')));
      if (f >= 0) out->email_fields |= std::uint32_t{1} << f;
    }
    pjson item = given;
    for (const char* k : {"id", "is_primary", "is_billing"})
      item.erase(k);
    if (item.empty()) return;
    std::int64_t contact = site_.contacts.rows[out->slot].id;
    out->fields |= std::uint64_t{1} << C_EMAIL_PRIMARY;
    std::vector<std::uint32_t> primaries;
    site_.for_contact_emails(contact, [&](std::uint32_t s) {
      if (site_.emails.rows[s].is_primary) primaries.push_back(s);
    });
    if (auto e = item.find("email"); e != item.end() && e->is_null()) {
      // Email.delete where contact_id = the contact and is_primary.
      for (std::uint32_t s : primaries)
        remove(kEmail, s, false);
      return;
    }
    item["contact_id"] = contact;
    item["is_primary"] = true;
    std::int64_t id = 0;
    Values vals = parse_values(kEmail, item, &id);
    std::uint64_t shown = 0;
    if (primaries.size() == 1) {
      out->email_slot = primaries[0];
      update(kEmail, primaries[0], vals, &shown);
    } else {
      fill_defaults(kEmail, &vals);
      check_required(kEmail, "save", {vals});
      out->email_slot = insert(kEmail, vals, &shown);
    }
  }

  void do_create(Ent ent, const pjson& p, std::vector<OutRow>* rows) {
    read_method_params(ent, p);
    std::int64_t id = 0;
    pjson values = p.contains("values") && !p["values"].is_null() ? p["values"] : pjson::object();
    Values vals = parse_values(ent, values, &id);
    if (id != 0) fail("Cannot pass id to Create action. Use Update action instead.");
    fill_defaults(ent, &vals);
    check_required(ent, "create", {vals});
    OutRow r;
    r.ent = ent;
    r.fields = mask_of(vals);
    r.slot = insert(ent, vals, &r.fields);
    save_primary_email(primary_email_item(ent, values), &r);
    rows->push_back(r);
  }

  void do_update(Ent ent, const pjson& p, std::vector<OutRow>* rows) {
    read_method_params(ent, p);
    std::int64_t id = 0;
    Values vals = parse_values(ent, p.at("values"), &id);
    pjson q = p;
    if (!q.contains("where") || q["where"].is_null()) q["where"] = pjson::array();
    if (id != 0) {
      bool has_id = false;
      for (const pjson& c : q["where"]) {
        if (c.is_array() && !c.empty() && c[0] == "id") {
          has_id = true;
          bool same =
              c.size() > 2 && c[1] == "=" &&
              (c[2] == id || (c[2].is_string() && parse_int64(c[2].get<std::string>()) == id));
          if (!same)
            fail("Cannot update the id of an existing " + std::string(kEntNames[ent]) + ".");
        }
      }
      if (!has_id) q["where"].push_back(pjson::array({"id", "=", id}));
    }
    if (q["where"].empty()) {
      fail("Parameter \"where\" is required unless an id is supplied in values.");
    }
    const std::size_t first = rows->size();
    for (std::uint32_t slot : batch_slots(ent, q)) {
      OutRow r;
      r.ent = ent;
      r.slot = slot;
      r.fields = mask_of(vals);
      r.all = flag(p, "reload");
      update(ent, slot, vals, &r.fields);
      rows->push_back(r);
    }
    // The contacts are all written first, then their emails.
    pjson email = primary_email_item(ent, p.at("values"));
    for (std::size_t i = first; i < rows->size(); ++i)
      save_primary_email(email, &(*rows)[i]);
  }

  void do_save(Ent ent, const pjson& p, std::vector<OutRow>* rows,
               std::optional<std::int64_t>* matched) {
    read_method_params(ent, p);
    pjson defaults =
        p.contains("defaults") && p["defaults"].is_object() ? p["defaults"] : pjson::object();
    std::vector<std::string> match;
    if (auto it = p.find("match"); it != p.end() && it->is_array()) {
      for (const pjson& m : *it) {
        if (m.is_string()) match.push_back(m.get<std::string>());
      }
    }
    struct Rec {
      Values vals;
      std::int64_t id = 0;
      pjson email;  // email_primary.* values
    };
    std::vector<Rec> recs;
    std::int64_t n_matched = 0;
    const pjson& records = p.at("records");
    for (const pjson& rec_in : records) {
      pjson rec = rec_in.is_object() ? rec_in : pjson::object();
      for (auto it = defaults.begin(); it != defaults.end(); ++it) {
        if (!rec.contains(it.key())) rec[it.key()] = it.value();
      }
      Rec r;
      r.vals = parse_values(ent, rec, &r.id);
      r.email = primary_email_item(ent, rec);
      // MatchParamTrait::matchExisting.
      if (r.id == 0 && !match.empty()) {
        pjson where = pjson::array();
        for (auto it = rec.begin(); it != rec.end(); ++it) {
          if (std::find(match.begin(), match.end(), it.key()) == match.end()) continue;
          const pjson& v = it.value();
          if (v.is_null() || (v.is_string() && v.get<std::string>().empty())) {
            where.push_back(pjson::array({it.key(), "IS EMPTY"}));
          } else {
            where.push_back(pjson::array({it.key(), "=", v}));
          }
        }
        if (where.size() == match.size()) {
          pjson q = {{"where", where}, {"limit", 2}};
          auto found = batch_slots(ent, q);
          if (found.size() == 1) r.id = site_.id_at(ent, found[0]);
        }
      }
      if (r.id != 0) {
        ++n_matched;
      } else {
        fill_defaults(ent, &r.vals);
      }
      recs.push_back(std::move(r));
    }
    std::vector<Values> creates;
    for (const Rec& r : recs) {
      if (r.id == 0) creates.push_back(r.vals);
    }
    check_required(ent, "save", creates);
    const std::size_t first = rows->size();
    for (const Rec& r : recs) {
      OutRow o;
      o.ent = ent;
      o.fields = mask_of(r.vals);
      o.all = flag(p, "reload");
      if (r.id == 0) {
        o.slot = insert(ent, r.vals, &o.fields);
      } else {
        std::uint32_t slot = site_.find(ent, r.id);
        if (slot == kNoSlot) {
          fail(std::string(kEntNames[ent]) + " id " + std::to_string(r.id) + " not found");
        }
        o.slot = slot;
        update(ent, slot, r.vals, &o.fields);
      }
      rows->push_back(o);
    }
    *matched = n_matched;
    // The records are all written first, then their emails.
    for (std::size_t i = 0; i < recs.size(); ++i)
      save_primary_email(recs[i].email, &(*rows)[first + i]);
  }

  void do_delete(Ent ent, const pjson& p, std::vector<OutRow>* rows) {
    read_method_params(ent, p);
    bool use_trash = !p.contains("useTrash") || p["useTrash"].is_null() || flag(p, "useTrash");
    for (std::uint32_t slot : batch_slots(ent, p)) {
      OutRow r;
      r.ent = ent;
      r.deleted_id = site_.id_at(ent, slot);
      remove(ent, slot, use_trash);
      rows->push_back(r);
    }
  }

  std::string render_out(const OutRow& r) {
    std::string out = "{";
    if (r.deleted_id != 0) {
      out += "\"id\":" + std::to_string(r.deleted_id) + "}";
      return out;
    }
    FieldList fl = fields_of(r.ent);
    std::string scratch;
    bool first = true;
    std::string type;
    if (r.ent == kContact) type = contact_type_name(site_.contacts.rows[r.slot].type);
    for (int f = 0; f < fl.count; ++f) {
      if (!r.all && !(r.fields & (std::uint64_t{1} << f))) continue;
      if (r.all && r.ent == kContact && inapplicable(type, f)) continue;
      if (!first) out.push_back(',');
      first = false;
      put_str(&out, fl.defs[f].name);
      out.push_back(':');
      put_v(&out, get_field(site_, r.ent, r.slot, f, &scratch));
    }
    if (r.email_slot != kNoSlot) {
      const EmailRow& e = site_.emails.rows[r.email_slot];
      for (int f = 0; f < E_COUNT; ++f) {
        if (!(r.email_fields & (std::uint32_t{1} << f))) continue;
        if (!first) out.push_back(',');
        first = false;
        put_str(&out, std::string(kEmailPrimaryPrefix) + std::string(kEmailFields[f].name));
        out.push_back(':');
        put_v(&out, get_email(e, f));
      }
    }
    out.push_back('}');
    return out;
  }

  // ---- chains and index

  // ChainSubscriber::resolveChainLinks: "$field" (or "$a.b") becomes the row's value.
  static void resolve_links(pjson* v, const pjson& row) {
    if (v->is_array() || v->is_object()) {
      for (auto& x : *v)
        resolve_links(&x, row);
      return;
    }
    if (!v->is_string()) return;
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() < 2 || s[0] != '$') return;
    std::string key = s.substr(1);
    if (row.contains(key) && !row[key].is_null()) {
      *v = row[key];
      return;
    }
    const pjson* cur = &row;
    std::size_t pos = 0;
    while (cur != nullptr) {
      auto dot = key.find('.', pos);
      std::string part = key.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      if (!cur->is_object() || !cur->contains(part)) {
        cur = nullptr;
        break;
      }
      cur = &(*cur)[part];
      if (dot == std::string::npos) break;
      pos = dot + 1;
    }
    if (cur != nullptr && !cur->is_null()) *v = *cur;
  }

  void run_chains(const pjson& chain, CallOutput* out) {
    for (auto& row_text : out->rows) {
      pjson row = pjson::parse(row_text);
      std::string extra;
      for (auto it = chain.begin(); it != chain.end(); ++it) {
        pjson req = it.value();
        if (!req.is_array()) fail("Invalid chain");
        while (req.size() < 4)
          req.push_back(req.size() == 2 ? pjson::object() : pjson());
        resolve_links(&req, row);
        std::string entity = req[0].is_string() ? req[0].get<std::string>() : "";
        std::string action = req[1].is_string() ? req[1].get<std::string>() : "";
        pjson params = req[2].is_null() ? pjson::object() : req[2];
        CallOutput sub = call(entity, action, params, req[3]);
        std::optional<std::string> keyed = std::move(keyed_values);
        keyed_values.reset();
        extra.push_back(',');
        put_str(&extra, it.key());
        extra.push_back(':');
        extra += values_json(sub, req[3], keyed ? &*keyed : nullptr);
      }
      if (row_text == "{}" || row_text.size() < 2) {
        row_text = "{" + extra.substr(1) + "}";
      } else {
        row_text.insert(row_text.size() - 1, extra);
      }
    }
  }

  // civicrm_api4()'s string $index: the rows keyed by a field's value.
  void index_by(const std::string& field, bool remove_field, CallOutput* out) {
    if (out->rows.empty()) return;
    std::string s = "{";
    bool any = false;
    std::vector<std::pair<std::string, std::string>> keyed;
    for (const std::string& row_text : out->rows) {
      pjson row = pjson::parse(row_text);
      if (!row.contains(field) || row[field].is_null()) continue;
      std::string key = row[field].is_string() ? row[field].get<std::string>() : row[field].dump();
      if (remove_field) row.erase(field);
      std::string txt;
      put_json(&txt, row);
      if (row.empty()) txt = "[]";
      std::erase_if(keyed, [&](const auto& kv) { return kv.first == key; });
      keyed.emplace_back(key, txt);
      any = true;
    }
    if (!any) fail("Key " + field + " not found in api results");
    for (std::size_t i = 0; i < keyed.size(); ++i) {
      if (i) s.push_back(',');
      put_str(&s, keyed[i].first);
      s.push_back(':');
      s += keyed[i].second;
    }
    s.push_back('}');
    keyed_values = s;
  }

  CiviSite& site_;
  Env env_;
  QueryCache* cache_;
  std::atomic<std::uint64_t>* version_;
  Micros now_local_ = 0;
  bool changed_ = false;
  std::string method_ = "API";
  std::string tracking_;
};

// Whether a call may write (so needs the site alone): any action but get*, here or in a chain.
bool writes(const std::string& action, const pjson& params) {
  if (lower(action).rfind("get", 0) != 0) return true;
  if (!params.is_object()) return false;
  auto it = params.find("chain");
  if (it == params.end() || !it->is_object()) return false;
  for (const pjson& c : *it) {
    if (!c.is_array() || c.size() < 2 || !c[1].is_string()) return true;
    pjson sub = c.size() > 2 ? c[2] : pjson::object();
    if (writes(c[1].get<std::string>(), sub)) return true;
  }
  return false;
}

}  // namespace
}  // namespace concord::sandbox

namespace concord::sandbox {
namespace {

// ---- seed / state
// -----------------------------------------------------------------------------------

// A site-local time in a seed: "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD", "YYYY-MM-DD HH:MM", 'T'
// for the space). No zone: CiviCRM shows site-local times.
std::optional<Micros> parse_seed_time(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!(s.size() >= 10 && digits(s, 0, 4, &y) && s[4] == '-' && digits(s, 5, 2, &mo) &&
        s[7] == '-' && digits(s, 8, 2, &d))) {
    return std::nullopt;
  }
  if (s.size() > 10) {
    if (!((s[10] == ' ' || s[10] == 'T') && digits(s, 11, 2, &h) && s.size() >= 16 &&
          s[13] == ':' && digits(s, 14, 2, &mi))) {
      return std::nullopt;
    }
    if (s.size() == 19) {
      if (!(s[16] == ':' && digits(s, 17, 2, &sec))) return std::nullopt;
    } else if (s.size() != 16) {
      return std::nullopt;
    }
  }
  if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  return (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
          h * 3600 + mi * 60 + sec) *
         kMicrosPerSecond;
}

constexpr Micros kFillNow = kNull + 1;  // "now", filled in once the site's zone is known

struct SeedError {
  std::string message;
};

[[noreturn]] void seed_fail(const std::string& path, const std::string& what) {
  throw SeedError{"seed: " + path + ": " + what};
}

// Where a value is in the document, e.g. civicrm.contacts[3].emails[0].email: built only for an
// error message (a million rows would otherwise build millions of strings).
struct Where {
  const Where* parent = nullptr;
  std::string_view key;  // ".key" after the parent (the root text without a parent)
  long index = -1;       // then "[index]"
  std::string str() const {
    std::string s = parent ? parent->str() : std::string();
    if (!key.empty()) {
      if (!s.empty()) s += '.';
      s += key;
    }
    if (index >= 0) s += "[" + std::to_string(index) + "]";
    return s;
  }
};

[[noreturn]] void seed_fail(const Where& where, const std::string& what) {
  seed_fail(where.str(), what);
}

// Contact fields by name, for the loader.
int contact_field(std::string_view name) {
  static const std::unordered_map<std::string_view, int> kByName = [] {
    std::unordered_map<std::string_view, int> m;
    for (int f = 0; f < C_COUNT; ++f)
      m.emplace(kContactFields[f].name, f);
    return m;
  }();
  auto it = kByName.find(name);
  return it == kByName.end() ? -1 : it->second;
}

// Converts the streamed rows of the "civicrm" part into a site.
class CiviLoader {
 public:
  explicit CiviLoader(CiviSite* site) : site_(site) {}

  void item(const std::string& array, std::size_t index, pjson&& v) {
    static const std::array<std::string_view, 4> kRoots = {"civicrm.contacts", "civicrm.emails",
                                                           "civicrm.subscription_history",
                                                           "civicrm.group_contacts"};
    std::string_view root = array == "contacts"               ? kRoots[0]
                            : array == "emails"               ? kRoots[1]
                            : array == "subscription_history" ? kRoots[2]
                                                              : kRoots[3];
    Where path{nullptr, root, static_cast<long>(index)};
    if (!v.is_object()) seed_fail(path, "expected an object");
    if (array == "contacts") {
      contact(path, v);
    } else if (array == "emails") {
      email(path, v, kNull, false);
    } else if (array == "subscription_history") {
      history(path, v);
    } else {
      group_contact(path, v);
    }
  }

  // After the whole document: settings, groups, ordering, references, derived memberships.
  void finish(const pjson& part, Micros now) {
    CiviSite& s = *site_;
    std::vector<std::string> known = {"api_key",
                                      "site_key",
                                      "timezone",
                                      "api_key_permission",
                                      "view_debug_output",
                                      "deny",
                                      "next_ids",
                                      "groups",
                                      "contacts",
                                      "emails",
                                      "group_contacts",
                                      "subscription_history",
                                      "comment"};
    for (auto it = part.begin(); it != part.end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
        seed_fail("civicrm." + it.key(), "unknown key");
      }
    }
    auto str = [&](const char* k, std::string* out) {
      if (auto it = part.find(k); it != part.end() && !it->is_null()) {
        if (!it->is_string()) seed_fail(std::string("civicrm.") + k, "expected a string");
        *out = it->get<std::string>();
      }
    };
    auto flag = [&](const char* k, bool* out) {
      if (auto it = part.find(k); it != part.end() && !it->is_null()) {
        if (!it->is_boolean()) seed_fail(std::string("civicrm.") + k, "expected true or false");
        *out = it->get<bool>();
      }
    };
    str("api_key", &s.api_key);
    str("site_key", &s.site_key);
    str("timezone", &s.timezone);
    flag("api_key_permission", &s.api_key_permission);
    flag("view_debug_output", &s.view_debug_output);
    auto tz = TimeZone::load(s.timezone);
    if (!tz.is_ok()) seed_fail("civicrm.timezone", "unknown time zone \"" + s.timezone + "\"");
    s.tz = *tz;
    if (auto it = part.find("deny"); it != part.end() && !it->is_null()) {
      if (!it->is_array()) seed_fail("civicrm.deny", "expected an array of \"Entity.action\"");
      for (const pjson& d : *it) {
        if (!d.is_string() || d.get<std::string>().find('.') == std::string::npos) {
          seed_fail("civicrm.deny", "expected an array of \"Entity.action\"");
        }
        s.deny.push_back(d.get<std::string>());
      }
    }
    if (auto it = part.find("groups"); it != part.end() && !it->is_null()) {
      if (!it->is_array()) seed_fail("civicrm.groups", "expected an array");
      for (std::size_t i = 0; i < it->size(); ++i)
        group(Where{nullptr, "civicrm.groups", static_cast<long>(i)}, (*it)[i]);
    }
    const Micros local_now = s.tz->utc_to_local(now);
    for (ContactRow& c : s.contacts.rows) {
      if (c.created == kFillNow) c.created = local_now;
      if (c.modified == kFillNow) c.modified = c.created;
    }
    for (HistoryRow& h : s.history.rows) {
      if (h.date == kFillNow) h.date = local_now;
    }
    auto dup = [&](const char* what, std::int64_t id) {
      if (id != 0) seed_fail(std::string("civicrm.") + what, "duplicate id " + std::to_string(id));
    };
    dup("contacts", s.contacts.finish_load());
    dup("contacts[].emails", s.emails.finish_load());
    dup("groups", s.groups.finish_load());
    dup("subscription_history", s.history.finish_load());
    dup("group_contacts", s.group_contacts.finish_load());
    for (const GroupRow& g : s.groups.rows) {
      for (const GroupRow& o : s.groups.rows) {
        if (&o != &g && (o.name == g.name || o.title == g.title)) {
          seed_fail("civicrm.groups",
                    "two groups named \"" + g.name + "\" or titled \"" + g.title + "\"");
        }
      }
    }
    // References.
    for (const EmailRow& e : s.emails.rows) {
      if (e.contact_id != kNull && s.contacts.find(e.contact_id) == kNoSlot) {
        seed_fail("civicrm.emails",
                  "email " + std::to_string(e.id) + ": no contact " + std::to_string(e.contact_id));
      }
    }
    for (const HistoryRow& h : s.history.rows) {
      std::string path = "civicrm.subscription_history (id " + std::to_string(h.id) + ")";
      if (s.contacts.find(h.contact_id) == kNoSlot) {
        seed_fail(path, "no contact " + std::to_string(h.contact_id));
      }
      if (h.group_id != kNull && s.groups.find(h.group_id) == kNoSlot) {
        seed_fail(path, "no group " + std::to_string(h.group_id));
      }
    }
    for (const GroupContactRow& r : s.group_contacts.rows) {
      std::string path = "civicrm.group_contacts (id " + std::to_string(r.id) + ")";
      if (s.contacts.find(r.contact_id) == kNoSlot) {
        seed_fail(path, "no contact " + std::to_string(r.contact_id));
      }
      if (s.groups.find(r.group_id) == kNoSlot) {
        seed_fail(path, "no group " + std::to_string(r.group_id));
      }
    }
    // Memberships follow from each contact's latest history row unless given.
    if (!part.contains("group_contacts")) derive_memberships();
    // Indexes.
    std::vector<KeyIndex::Entry> a, b;
    a.reserve(s.emails.rows.size());
    b.reserve(s.emails.rows.size());
    for (std::uint32_t i = 0; i < s.emails.rows.size(); ++i) {
      const EmailRow& e = s.emails.rows[i];
      if (e.contact_id != kNull) a.push_back({e.contact_id, i});
      if (!e.email_null) b.push_back({email_key(e.email), i});
    }
    s.email_by_contact.build(std::move(a));
    s.email_by_address.build(std::move(b));
    a.clear();
    b.clear();
    for (std::uint32_t i = 0; i < s.group_contacts.rows.size(); ++i) {
      const GroupContactRow& r = s.group_contacts.rows[i];
      a.push_back({r.contact_id, i});
      b.push_back({r.group_id, i});
    }
    // Unique (contact, group).
    {
      std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
      for (const GroupContactRow& r : s.group_contacts.rows)
        pairs.emplace_back(r.contact_id, r.group_id);
      std::sort(pairs.begin(), pairs.end());
      for (std::size_t i = 1; i < pairs.size(); ++i) {
        if (pairs[i] == pairs[i - 1]) {
          seed_fail("civicrm.group_contacts", "contact " + std::to_string(pairs[i].first) +
                                                  " is in group " +
                                                  std::to_string(pairs[i].second) + " twice");
        }
      }
    }
    s.gc_by_contact.build(std::move(a));
    s.gc_by_group.build(std::move(b));
    a.clear();
    b.clear();
    for (std::uint32_t i = 0; i < s.history.rows.size(); ++i) {
      const HistoryRow& h = s.history.rows[i];
      a.push_back({h.contact_id, i});
      if (h.group_id != kNull) b.push_back({h.group_id, i});
    }
    s.hist_by_contact.build(std::move(a));
    s.hist_by_group.build(std::move(b));
    // One primary email per contact that has emails.
    std::int64_t prev = kNull;
    std::uint32_t first = kNoSlot;
    int primaries = 0;
    std::vector<std::uint32_t> by_contact(s.emails.rows.size());
    for (std::uint32_t i = 0; i < by_contact.size(); ++i)
      by_contact[i] = i;
    std::stable_sort(by_contact.begin(), by_contact.end(), [&](std::uint32_t x, std::uint32_t y) {
      return s.emails.rows[x].contact_id < s.emails.rows[y].contact_id;
    });
    auto close = [&]() {
      if (prev == kNull) return;
      if (primaries == 0) s.emails.rows[first].is_primary = true;
      if (primaries > 1) {
        seed_fail("civicrm.contacts (id " + std::to_string(prev) + ")",
                  "more than one primary email");
      }
    };
    for (std::uint32_t i : by_contact) {
      const EmailRow& e = s.emails.rows[i];
      if (e.contact_id != prev) {
        close();
        prev = e.contact_id;
        first = i;
        primaries = 0;
      }
      if (e.contact_id != kNull && e.is_primary) ++primaries;
    }
    close();
    if (auto it = part.find("next_ids"); it != part.end() && it->is_object()) {
      auto next = [&](const char* k, std::int64_t* out) {
        if (auto n = it->find(k); n != it->end() && n->is_number_integer()) {
          *out = std::max(*out, n->get<std::int64_t>());
        }
      };
      next("contact", &s.contacts.next_id);
      next("email", &s.emails.next_id);
      next("group", &s.groups.next_id);
      next("group_contact", &s.group_contacts.next_id);
      next("subscription_history", &s.history.next_id);
    }
  }

 private:
  std::int64_t id_of(const Where& path, const pjson& o, std::int64_t* next) {
    auto it = o.find("id");
    if (it == o.end() || it->is_null()) return (*next)++;
    if (!it->is_number_integer() || it->get<std::int64_t>() <= 0) {
      seed_fail(Where{&path, "id"}, "expected a positive integer");
    }
    std::int64_t id = it->get<std::int64_t>();
    *next = std::max(*next, id + 1);
    return id;
  }

  static std::int64_t int_of(const Where& path, const pjson& v, bool nullable) {
    if (v.is_null() && nullable) return kNull;
    if (!v.is_number_integer()) seed_fail(path, "expected an integer");
    return v.get<std::int64_t>();
  }
  static bool bool_of(const Where& path, const pjson& v) {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer() && (v == 0 || v == 1)) return v == 1;
    seed_fail(path, "expected true or false");
  }
  static std::string str_of(const Where& path, const pjson& v, std::size_t max = 0) {
    if (!v.is_string()) seed_fail(path, "expected a string");
    std::string s = v.get<std::string>();
    if (max > 0 && s.size() > max) seed_fail(path, "longer than " + std::to_string(max));
    return s;
  }
  static Micros time_of(const Where& path, const pjson& v) {
    if (v.is_null()) return kNull;
    if (!v.is_string()) seed_fail(path, "expected \"YYYY-MM-DD HH:MM:SS\" (site-local)");
    auto t = parse_seed_time(v.get<std::string>());
    if (!t) seed_fail(path, "expected \"YYYY-MM-DD HH:MM:SS\" (site-local, no zone)");
    return *t;
  }

  void contact(const Where& path, const pjson& o) {
    ContactRow c;
    c.id = id_of(path, o, &next_contact_);
    c.created = c.modified = kFillNow;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id" || k == "emails") continue;
      if (k == "created_date") {
        c.created = time_of(p, v);
        continue;
      }
      if (k == "modified_date") {
        c.modified = time_of(p, v);
        continue;
      }
      int f = contact_field(k);
      if (f < 0 || kContactFields[f].computed) seed_fail(p, "unknown field");
      const FieldDef& d = kContactFields[f];
      switch (f) {
        case C_CONTACT_TYPE: {
          std::string t = str_of(p, v);
          bool ok = false;
          const auto& types = option_items(Opt::kContactType);
          for (std::size_t i = 0; i < types.size(); ++i) {
            if (types[i].value == t) {
              c.type = static_cast<std::uint8_t>(i);
              ok = true;
            }
          }
          if (!ok) seed_fail(p, "expected Individual, Organization or Household");
          continue;
        }
        case C_FIRST_NAME:
          c.first_name = v.is_null() ? "" : str_of(p, v);
          continue;
        case C_LAST_NAME:
          c.last_name = v.is_null() ? "" : str_of(p, v);
          continue;
        default:
          break;
      }
      switch (d.ty) {
        case Ty::kBool: {
          bool b = bool_of(p, v);
          static const std::pair<int, ContactFlag> kFlags[] = {
              {C_DO_NOT_EMAIL, kDoNotEmail}, {C_DO_NOT_PHONE, kDoNotPhone},
              {C_DO_NOT_MAIL, kDoNotMail},   {C_DO_NOT_SMS, kDoNotSms},
              {C_DO_NOT_TRADE, kDoNotTrade}, {C_IS_OPT_OUT, kIsOptOut},
              {C_IS_DECEASED, kIsDeceased},  {C_IS_DELETED, kIsDeleted}};
          for (const auto& [ff, fl] : kFlags) {
            if (ff == f) c.set_flag(fl, b);
          }
          break;
        }
        case Ty::kInt:
          if (!v.is_null()) c.set_extra(f, XVal::of_int(int_of(p, v, false)));
          break;
        case Ty::kStr:
          if (!v.is_null()) c.set_extra(f, XVal::of_str(str_of(p, v)));
          break;
        case Ty::kDate:
        case Ty::kTime: {
          Micros t = time_of(p, v);
          if (t != kNull) {
            t -= ((t % kMicrosPerDay) + kMicrosPerDay) % kMicrosPerDay;
            c.set_extra(f, XVal::of_time(t, XVal::kDate));
          }
          break;
        }
      }
    }
    std::int64_t id = c.id;
    site_->contacts.rows.push_back(std::move(c));
    if (auto it = o.find("emails"); it != o.end() && !it->is_null()) {
      if (!it->is_array()) seed_fail(Where{&path, "emails"}, "expected an array");
      for (std::size_t i = 0; i < it->size(); ++i) {
        Where p{&path, "emails", static_cast<long>(i)};
        if (!(*it)[i].is_object()) seed_fail(p, "expected an object");
        email(p, (*it)[i], id, true);
      }
    }
  }

  void email(const Where& path, const pjson& o, std::int64_t contact, bool nested) {
    EmailRow e;
    e.id = id_of(path, o, &next_email_);
    e.contact_id = contact;
    e.location_type_id = 1;
    bool has_email = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "email") {
        e.email = v.is_null() ? "" : str_of(p, v, 254);
        e.email_null = v.is_null();
        has_email = true;
      } else if (k == "contact_id" && !nested) {
        e.contact_id = int_of(p, v, true);
      } else if (k == "location_type_id") {
        e.location_type_id = int_of(p, v, true);
      } else if (k == "is_primary") {
        e.is_primary = bool_of(p, v);
      } else if (k == "is_billing") {
        e.is_billing = bool_of(p, v);
      } else if (k == "is_bulkmail") {
        e.is_bulkmail = bool_of(p, v);
      } else if (k == "on_hold") {
        std::int64_t h = int_of(p, v, false);
        if (h < 0 || h > 2) seed_fail(p, "expected 0, 1 or 2");
        e.on_hold = static_cast<std::uint8_t>(h);
      } else if (k == "hold_date") {
        e.hold_date = time_of(p, v);
      } else if (k == "reset_date") {
        e.reset_date = time_of(p, v);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_email) seed_fail(Where{&path, "email"}, "required");
    site_->emails.rows.push_back(std::move(e));
  }

  void history(const Where& path, const pjson& o) {
    HistoryRow h;
    h.id = id_of(path, o, &next_history_);
    h.date = kFillNow;
    bool has_contact = false, has_status = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "contact_id") {
        h.contact_id = int_of(p, v, false);
        has_contact = true;
      } else if (k == "group_id") {
        h.group_id = int_of(p, v, true);
      } else if (k == "status") {
        std::string st = str_of(p, v);
        if (st != "Added" && st != "Removed" && st != "Pending" && st != "Deleted") {
          seed_fail(p, "expected Added, Removed, Pending or Deleted");
        }
        h.status.set(st);
        has_status = true;
      } else if (k == "date") {
        h.date = time_of(p, v);
        if (h.date == kNull) seed_fail(p, "required");
      } else if (k == "method") {
        if (!v.is_null()) h.method.set(str_of(p, v, 8));
      } else if (k == "tracking") {
        h.tracking_null = v.is_null();
        if (!v.is_null()) h.tracking = str_of(p, v, 255);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_contact) seed_fail(Where{&path, "contact_id"}, "required");
    if (!has_status) seed_fail(Where{&path, "status"}, "required");
    site_->history.rows.push_back(std::move(h));
  }

  void group_contact(const Where& path, const pjson& o) {
    GroupContactRow r;
    r.id = id_of(path, o, &next_group_contact_);
    bool has_contact = false, has_group = false;
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "contact_id") {
        r.contact_id = int_of(p, v, false);
        has_contact = true;
      } else if (k == "group_id") {
        r.group_id = int_of(p, v, false);
        has_group = true;
      } else if (k == "status") {
        if (v.is_null()) continue;
        std::string st = str_of(p, v);
        if (st != "Added" && st != "Removed" && st != "Pending") {
          seed_fail(p, "expected Added, Removed or Pending");
        }
        r.status.set(st);
      } else if (k == "location_id") {
        r.location_id = int_of(p, v, true);
      } else if (k == "email_id") {
        r.email_id = int_of(p, v, true);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (!has_contact) seed_fail(Where{&path, "contact_id"}, "required");
    if (!has_group) seed_fail(Where{&path, "group_id"}, "required");
    site_->group_contacts.rows.push_back(std::move(r));
  }

  void group(const Where& path, const pjson& o) {
    if (!o.is_object()) seed_fail(path, "expected an object");
    GroupRow g;
    g.id = id_of(path, o, &next_group_);
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const pjson& v = it.value();
      Where p{&path, k};
      if (k == "id") continue;
      if (k == "name") {
        g.name = str_of(p, v, 64);
      } else if (k == "title") {
        g.title = str_of(p, v, 255);
      } else if (k == "description") {
        g.description = v.is_null() ? "" : str_of(p, v);
      } else if (k == "source") {
        g.source = v.is_null() ? "" : str_of(p, v, 64);
      } else if (k == "visibility") {
        g.visibility = str_of(p, v, 24);
      } else if (k == "frontend_title") {
        g.frontend_title = v.is_null() ? "" : str_of(p, v, 255);
      } else if (k == "frontend_description") {
        g.frontend_description = v.is_null() ? "" : str_of(p, v);
      } else if (k == "is_active") {
        g.is_active = bool_of(p, v);
      } else if (k == "is_hidden") {
        g.is_hidden = bool_of(p, v);
      } else if (k == "is_reserved") {
        g.is_reserved = bool_of(p, v);
      } else {
        seed_fail(p, "unknown field");
      }
    }
    if (g.name.empty() && g.title.empty()) seed_fail(path, "a group needs a name or a title");
    if (g.name.empty()) g.name = g.title;
    if (g.title.empty()) g.title = g.name;
    site_->groups.rows.push_back(std::move(g));
  }

  // A membership for each (contact, group) whose latest history row (highest id) is not
  // "Deleted", with that row's status; ids in (contact, group) order.
  void derive_memberships() {
    CiviSite& s = *site_;
    struct Latest {
      std::int64_t contact, group, id;
      std::string_view status;
    };
    std::vector<Latest> v;
    v.reserve(s.history.rows.size());
    for (const HistoryRow& h : s.history.rows) {
      if (h.group_id == kNull) continue;
      v.push_back({h.contact_id, h.group_id, h.id, h.status.view()});
    }
    std::sort(v.begin(), v.end(), [](const Latest& a, const Latest& b) {
      if (a.contact != b.contact) return a.contact < b.contact;
      if (a.group != b.group) return a.group < b.group;
      return a.id < b.id;
    });
    s.group_contacts.rows.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i + 1 < v.size() && v[i + 1].contact == v[i].contact && v[i + 1].group == v[i].group) {
        continue;
      }
      if (v[i].status == "Deleted") continue;
      GroupContactRow r;
      r.id = s.group_contacts.next_id++;
      r.contact_id = v[i].contact;
      r.group_id = v[i].group;
      r.status.set(v[i].status);
      s.group_contacts.rows.push_back(std::move(r));
    }
    s.group_contacts.finish_load();
  }

  CiviSite* site_;
  std::int64_t next_contact_ = 1, next_email_ = 1, next_history_ = 1, next_group_contact_ = 1,
               next_group_ = 1;
};

// A SAX handler that skips everything but the "civicrm" part, builds a DOM of its small pieces
// and hands the rows of its large arrays to the loader as each is complete.
class CiviSax final : public nlohmann::json_sax<pjson> {
 public:
  explicit CiviSax(CiviLoader* loader) : loader_(loader) {}

  bool null() override { return add(pjson(nullptr)); }
  bool boolean(bool v) override { return add(pjson(v)); }
  bool number_integer(number_integer_t v) override { return add(pjson(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(pjson(v)); }
  bool number_float(number_float_t v, const string_t&) override { return add(pjson(v)); }
  bool string(string_t& v) override { return add(pjson(std::move(v))); }
  bool binary(binary_t&) override { return add(pjson()); }
  bool start_object(std::size_t) override { return start(pjson::object()); }
  bool start_array(std::size_t) override { return start(pjson::array()); }
  bool key(string_t& k) override {
    if (skip_ > 0) return true;
    stack_.back().pending_key = std::move(k);
    return true;
  }
  bool end_object() override { return end(); }
  bool end_array() override { return end(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error = "seed: not valid JSON at byte " + std::to_string(position) + ": " + ex.what();
    return false;
  }

  pjson part;  // the "civicrm" object without its streamed arrays
  bool present = false;
  std::string clock;  // the document's fixed clock, if any
  bool root_is_object = true;
  std::string error;

 private:
  struct Frame {
    pjson value;
    std::string key;
    std::string pending_key;
    bool streamed = false;
    std::size_t count = 0;
  };

  static bool is_streamed(const std::string& k) {
    return k == "contacts" || k == "emails" || k == "subscription_history" || k == "group_contacts";
  }

  bool deliver(Frame& array, pjson&& v) {
    try {
      loader_->item(array.key, array.count++, std::move(v));
    } catch (const SeedError& e) {
      error = e.message;
      return false;
    }
    return true;
  }

  bool add(pjson&& v) {
    if (skip_ > 0) return true;
    if (stack_.empty()) {
      root_is_object = false;
      return true;
    }
    Frame& top = stack_.back();
    if (stack_.size() == 1) {  // a scalar at the root
      if (top.pending_key == "civicrm") {
        part = std::move(v);
        present = true;
      } else if (top.pending_key == "clock" && v.is_string()) {
        clock = v.get<std::string>();
      }
      return true;
    }
    if (top.streamed) return deliver(top, std::move(v));
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
    } else {
      top.value[top.pending_key] = std::move(v);
    }
    return true;
  }

  bool start(pjson v) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (stack_.empty()) {
      if (!v.is_object()) root_is_object = false;
      stack_.push_back(Frame{std::move(v), "", "", false, 0});
      return true;
    }
    Frame& top = stack_.back();
    if (stack_.size() == 1 && top.pending_key != "civicrm") {
      skip_ = 1;
      return true;
    }
    Frame f;
    f.key = top.value.is_object() ? top.pending_key : "";
    f.streamed = stack_.size() == 2 && v.is_array() && is_streamed(f.key);
    f.value = std::move(v);
    stack_.push_back(std::move(f));
    return true;
  }

  bool end() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (stack_.empty()) return true;  // the root
    if (stack_.size() == 1) {
      part = std::move(f.value);
      present = true;
      return true;
    }
    Frame& top = stack_.back();
    if (f.streamed) {
      top.value[f.key] = pjson::array();  // present, rows already delivered
      return true;
    }
    if (top.streamed) return deliver(top, std::move(f.value));
    if (top.value.is_array()) {
      top.value.push_back(std::move(f.value));
    } else {
      top.value[top.pending_key] = std::move(f.value);
    }
    return true;
  }

  CiviLoader* loader_;
  std::vector<Frame> stack_;
  int skip_ = 0;
};

// The "civicrm" part of the state document.
void write_site(JsonOut& o, const CiviSite& s) {
  o.begin_object();
  o.key("api_key");
  o.str(s.api_key);
  o.key("site_key");
  o.str(s.site_key);
  o.key("timezone");
  o.str(s.timezone);
  o.key("api_key_permission");
  o.boolean(s.api_key_permission);
  o.key("view_debug_output");
  o.boolean(s.view_debug_output);
  o.key("deny");
  o.begin_array();
  for (const std::string& d : s.deny)
    o.str(d);
  o.end_array();
  o.key("next_ids");
  o.begin_object();
  o.key("contact");
  o.integer(s.contacts.next_id);
  o.key("email");
  o.integer(s.emails.next_id);
  o.key("group");
  o.integer(s.groups.next_id);
  o.key("group_contact");
  o.integer(s.group_contacts.next_id);
  o.key("subscription_history");
  o.integer(s.history.next_id);
  o.end_object();
  o.key("groups");
  o.begin_array();
  for (const GroupRow& g : s.groups.rows) {
    if (g.dead) continue;
    o.begin_object();
    o.key("id");
    o.integer(g.id);
    o.key("name");
    o.str(g.name);
    o.key("title");
    o.str(g.title);
    if (!g.description.empty()) {
      o.key("description");
      o.str(g.description);
    }
    if (!g.source.empty()) {
      o.key("source");
      o.str(g.source);
    }
    o.key("visibility");
    o.str(g.visibility);
    if (!g.frontend_title.empty()) {
      o.key("frontend_title");
      o.str(g.frontend_title);
    }
    if (!g.frontend_description.empty()) {
      o.key("frontend_description");
      o.str(g.frontend_description);
    }
    o.key("is_active");
    o.boolean(g.is_active);
    o.key("is_hidden");
    o.boolean(g.is_hidden);
    o.key("is_reserved");
    o.boolean(g.is_reserved);
    o.end_object();
  }
  o.end_array();
  auto write_email = [&](const EmailRow& e, bool with_contact) {
    o.begin_object();
    o.key("id");
    o.integer(e.id);
    if (with_contact) {
      o.key("contact_id");
      o.null();
    }
    o.key("email");
    if (e.email_null) {
      o.null();
    } else {
      o.str(e.email);
    }
    // Values that are the seed's defaults are left out (a million rows add up).
    if (e.location_type_id != 1) {
      o.key("location_type_id");
      if (e.location_type_id == kNull) {
        o.null();
      } else {
        o.integer(e.location_type_id);
      }
    }
    if (e.is_primary) {
      o.key("is_primary");
      o.boolean(true);
    }
    if (e.is_billing) {
      o.key("is_billing");
      o.boolean(true);
    }
    if (e.is_bulkmail) {
      o.key("is_bulkmail");
      o.boolean(true);
    }
    if (e.on_hold != 0) {
      o.key("on_hold");
      o.integer(e.on_hold);
    }
    if (e.hold_date != kNull) {
      o.key("hold_date");
      o.str(civil_string(e.hold_date));
    }
    if (e.reset_date != kNull) {
      o.key("reset_date");
      o.str(civil_string(e.reset_date));
    }
    o.end_object();
  };
  o.key("contacts");
  o.begin_array();
  for (const ContactRow& c : s.contacts.rows) {
    if (c.dead) continue;
    o.buf += '\n';
    o.begin_object();
    o.key("id");
    o.integer(c.id);
    if (c.type != 0) {
      o.key("contact_type");
      o.str(contact_type_name(c.type));
    }
    if (!c.first_name.empty()) {
      o.key("first_name");
      o.str(c.first_name);
    }
    if (!c.last_name.empty()) {
      o.key("last_name");
      o.str(c.last_name);
    }
    static const std::pair<int, ContactFlag> kFlags[] = {
        {C_DO_NOT_EMAIL, kDoNotEmail}, {C_DO_NOT_PHONE, kDoNotPhone}, {C_DO_NOT_MAIL, kDoNotMail},
        {C_DO_NOT_SMS, kDoNotSms},     {C_DO_NOT_TRADE, kDoNotTrade}, {C_IS_OPT_OUT, kIsOptOut},
        {C_IS_DECEASED, kIsDeceased},  {C_IS_DELETED, kIsDeleted}};
    for (const auto& [f, fl] : kFlags) {
      if (c.flag(fl)) {
        o.key(kContactFields[f].name);
        o.boolean(true);
      }
    }
    if (c.extra) {
      for (const auto& [f, v] : *c.extra) {
        o.key(kContactFields[f].name);
        if (v.k == XVal::kInt) {
          o.integer(v.i);
        } else if (v.k == XVal::kDate) {
          o.str(date_string(v.i));
        } else {
          o.str(v.s);
        }
      }
    }
    o.key("created_date");
    o.str(civil_string(c.created));
    if (c.modified != c.created) {
      o.key("modified_date");
      o.str(civil_string(c.modified));
    }
    bool any = false;
    s.for_contact_emails(c.id, [&](std::uint32_t) { any = true; });
    if (any) {
      o.key("emails");
      o.begin_array();
      std::vector<std::uint32_t> slots;
      s.for_contact_emails(c.id, [&](std::uint32_t e) { slots.push_back(e); });
      for (std::uint32_t e : slots)
        write_email(s.emails.rows[e], false);
      o.end_array();
    }
    o.end_object();
  }
  o.end_array();
  o.key("emails");
  o.begin_array();
  for (const EmailRow& e : s.emails.rows) {
    if (!e.dead && e.contact_id == kNull) write_email(e, true);
  }
  o.end_array();
  o.key("group_contacts");
  o.begin_array();
  for (const GroupContactRow& r : s.group_contacts.rows) {
    if (r.dead) continue;
    o.buf += '\n';
    o.begin_object();
    o.key("id");
    o.integer(r.id);
    o.key("group_id");
    o.integer(r.group_id);
    o.key("contact_id");
    o.integer(r.contact_id);
    o.key("status");
    if (r.status.null) {
      o.null();
    } else {
      o.str(r.status.view());
    }
    if (r.location_id != kNull) {
      o.key("location_id");
      o.integer(r.location_id);
    }
    if (r.email_id != kNull) {
      o.key("email_id");
      o.integer(r.email_id);
    }
    o.end_object();
  }
  o.end_array();
  o.key("subscription_history");
  o.begin_array();
  for (const HistoryRow& h : s.history.rows) {
    if (h.dead) continue;
    o.buf += '\n';
    o.begin_object();
    o.key("id");
    o.integer(h.id);
    o.key("contact_id");
    o.integer(h.contact_id);
    o.key("group_id");
    if (h.group_id == kNull) {
      o.null();
    } else {
      o.integer(h.group_id);
    }
    o.key("date");
    o.str(civil_string(h.date));
    o.key("method");
    if (h.method.null) {
      o.null();
    } else {
      o.str(h.method.view());
    }
    o.key("status");
    o.str(h.status.view());
    if (!h.tracking_null) {
      o.key("tracking");
      o.str(h.tracking);
    }
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

}  // namespace

Result<CiviSitePtr> parse_civicrm_seed(std::string_view document, Micros now) {
  CiviSitePtr site(new CiviSite());
  CiviLoader loader(site.get());
  CiviSax sax(&loader);
  // Rows read before "clock" (or without one) get `now`; the document's clock wins when given.
  bool ok = false;
  try {
    ok = pjson::sax_parse(document.begin(), document.end(), &sax);
  } catch (const std::exception& e) {
    return Status::invalid(std::string("seed: ") + e.what());
  }
  if (!ok) return Status::invalid(sax.error.empty() ? "seed: cannot parse" : sax.error);
  if (!sax.root_is_object) return Status::invalid("seed: expected a JSON object");
  pjson part = sax.present ? sax.part : pjson::object();
  if (part.is_null()) part = pjson::object();
  if (!part.is_object()) return Status::invalid("seed: civicrm: expected an object");
  if (!sax.clock.empty()) {
    auto t = parse_iso8601(sax.clock);
    if (t.is_ok() && *t != kNoTime) now = *t;
  }
  try {
    loader.finish(part, now);
  } catch (const SeedError& e) {
    return Status::invalid(e.message);
  }
  return site;
}

CiviSitePtr empty_civicrm_site() {
  auto r = parse_civicrm_seed("{}", system_clock().now());
  return std::move(r).value();
}

}  // namespace concord::sandbox

namespace concord::sandbox {
namespace {

// ---- faults
// ----------------------------------------------------------------------------------------

struct CiviFaults : FaultConfig {
  pjson to_json() const {
    pjson j = pjson::object();
    write(j);
    j["part"] = "civicrm";
    return j;
  }
};

// ---- HTTP helpers
// ----------------------------------------------------------------------------------

using Pairs = std::vector<std::pair<std::string, std::string>>;

http::Reply reply(int status, std::string body, std::string_view content_type) {
  http::Reply r;
  r.response.status = status;
  r.response.headers.push_back({"Content-Type", std::string(content_type)});
  r.response.body = std::move(body);
  return r;
}

constexpr std::string_view kJson = "application/json";

// The admin routes' answers, in the Mailchimp part's style.
http::Reply admin_json(int status, const pjson& body) {
  return reply(status, body.dump(), "application/json; charset=utf-8");
}
http::Reply admin_problem(int status, const std::string& title, const std::string& detail) {
  pjson j = {{"title", title}, {"status", status}, {"detail", detail}};
  return reply(status, j.dump(), "application/problem+json; charset=utf-8");
}

std::string_view pair_value(const Pairs& pairs, std::string_view name, bool* found = nullptr) {
  std::string_view v;
  bool f = false;
  for (const auto& [k, val] : pairs) {
    if (k == name) {
      v = val;  // PHP: the last one wins
      f = true;
    }
  }
  if (found) *found = f;
  return v;
}

// The page a CMS shows an anonymous visitor of a page that needs "access CiviCRM".
http::Reply access_denied() {
  return reply(403,
               "<!DOCTYPE html>\n<html><head><title>Access denied</title></head><body><h1>Access "
               "denied</h1><p>You are not authorized to access this page.</p></body></html>\n",
               "text/html; charset=utf-8");
}

http::Reply page_not_found() {
  return reply(404,
               "<!DOCTYPE html>\n<html><head><title>Page not found</title></head><body><h1>Page "
               "not found</h1><p>The requested page could not be found.</p></body></html>\n",
               "text/html; charset=utf-8");
}

// What PHP answers when the API dies on a TypeError (e.g. `params` that is not a JSON object).
http::Reply fatal_error() {
  return reply(500,
               "<!DOCTYPE html>\n<html><head><title>Error</title></head><body><p>The website "
               "encountered an unexpected error. Please try again later.</p></body></html>\n",
               "text/html; charset=utf-8");
}

}  // namespace

// ---- the sandbox
// -----------------------------------------------------------------------------------

struct CivicrmSandbox::Impl {
  Impl(CiviSitePtr s, SandboxClock* c) : site(std::move(s)), clock(c) {}

  mutable std::shared_mutex mu;
  CiviSitePtr site;
  SandboxClock* clock;
  std::atomic<std::uint64_t> version{0};  // moves on every data change (query cache)
  std::atomic<std::uint64_t> generation{0};
  QueryCache cache;

  std::mutex fmu;
  CiviFaults faults;
  std::mt19937_64 frng{std::random_device{}()};

  Micros now() const { return to_seconds(clock->now()); }

  http::Reply handle(const http::Request& req, const http::Peer& peer, std::string* fault_out);
  http::Reply admin(const http::Request& req, const std::string& path, const Pairs& query,
                    const http::Peer& peer);
  http::Reply admin_faults(const http::Request& req);
  http::Reply api(const http::Request& req, const std::string& path, const Pairs& query);
  http::Reply injected(int status);

  // One API call: the JSON answer (success envelope or error) and its HTTP status.
  std::pair<int, std::string> execute(const std::string& entity, const std::string& action,
                                      const pjson& params, const pjson& index, bool view_debug);
};

http::Reply CivicrmSandbox::Impl::handle(const http::Request& req, const http::Peer& peer,
                                         std::string* fault_out) {
  std::string_view target = req.target;
  std::string_view qs;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    qs = target.substr(q + 1);
    target = target.substr(0, q);
  }
  std::string path(target);
  Pairs query = http::parse_query(qs);
  if (path == "/_sandbox" || path.rfind("/_sandbox/", 0) == 0) {
    return admin(req, path, query, peer);
  }

  // Faults, before the request is handled.
  InjectedFault fault;
  {
    std::lock_guard<std::mutex> lock(fmu);
    fault = faults.pick(path, frng);
  }
  if (fault_out) *fault_out = fault.action;
  if (fault.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault.delay_ms));
  if (fault.reset_before()) {
    http::Reply r;
    r.reset_without_response = true;
    return r;
  }
  if (int status = fault.status(); status != 0) return injected(status);
  http::Reply r = api(req, path, query);
  fault.finish(&r);
  return r;
}

http::Reply CivicrmSandbox::Impl::injected(int status) {
  std::string generic =
      "Sorry an error occurred and your request was not completed. (Error ID: " + error_id() + ")";
  switch (status) {
    case 401:
      return reply(401, "HTTP 401 Invalid credential", "text/plain");
    case 403:
      return reply(403,
                   "{\"error_code\":0,\"error_message\":\"Authorization failed\",\"status\":403}",
                   kJson);
    case 500:
      return reply(
          500,
          "{\"error_code\":\"1\",\"error_message\":" + json_quote(generic) + ",\"status\":500}",
          kJson);
    case 503:
      // CiviCRM in maintenance mode.
      return reply(503,
                   "{\"status_code\":503,\"status_message\":\"Temporarily unavailable for "
                   "maintenance.\"}",
                   kJson);
    case 502:
    case 504: {
      std::string t = status == 502 ? "502 Bad Gateway" : "504 Gateway Time-out";
      return reply(status,
                   "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" + t +
                       "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                   "text/html");
    }
    case 429:
      return reply(429, "<html><body><h1>429 Too Many Requests</h1></body></html>\n", "text/html");
    default:
      return reply(status,
                   "{\"error_code\":\"1\",\"error_message\":" + json_quote(generic) +
                       ",\"status\":" + std::to_string(status) + "}",
                   kJson);
  }
}

// ---- admin
// ------------------------------------------------------------------------------------------

http::Reply CivicrmSandbox::Impl::admin(const http::Request& req, const std::string& path,
                                        const Pairs& query, const http::Peer& peer) {
  (void)query;
  if (!peer.loopback) {
    return admin_problem(403, "Forbidden",
                         "The sandbox's admin routes answer only on the loopback interface.");
  }
  if (path == "/_sandbox/faults") return admin_faults(req);
  if (path == "/_sandbox/state") {
    if (req.method != "GET") return admin_problem(405, "Method Not Allowed", "Use GET.");
    std::shared_lock<std::shared_mutex> lock(mu);
    JsonOut o;
    o.begin_object();
    o.key("civicrm");
    write_site(o, *site);
    o.end_object();
    return reply(200, std::move(o.buf), "application/json; charset=utf-8");
  }
  if (path == "/_sandbox/reset") {
    if (req.method != "POST") return admin_problem(405, "Method Not Allowed", "Use POST.");
    std::string_view body = req.body;
    bool blank = std::all_of(body.begin(), body.end(),
                             [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
    auto parsed = parse_civicrm_seed(blank ? std::string_view("{}") : body, clock->now());
    if (!parsed.is_ok()) return admin_problem(400, "Invalid Seed", parsed.status().message());
    CiviSitePtr fresh = std::move(parsed).value();
    CiviCounts c = civicrm_counts(*fresh);
    {
      std::unique_lock<std::shared_mutex> lock(mu);
      site.swap(fresh);
      version.fetch_add(1);
      generation.fetch_add(1);
    }
    cache.clear();
    {
      std::lock_guard<std::mutex> lock(fmu);
      faults = CiviFaults{};
    }
    fresh.reset();
    return admin_json(200, {{"civicrm",
                             {{"contacts", c.contacts},
                              {"emails", c.emails},
                              {"groups", c.groups},
                              {"group_contacts", c.group_contacts},
                              {"subscription_history", c.subscription_history}}}});
  }
  return admin_problem(404, "Resource Not Found",
                       "The requested resource could not be found: " + path);
}

http::Reply CivicrmSandbox::Impl::admin_faults(const http::Request& req) {
  if (req.method == "POST") {
    pjson body = req.body.empty() ? pjson::object() : pjson::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return admin_problem(400, "JSON Parse Exception",
                           "We encountered an unspecified JSON parsing error.");
    }
    CiviFaults nf;
    std::string err = nf.read(body);
    if (!err.empty()) return admin_problem(400, "Invalid Resource", err);
    std::lock_guard<std::mutex> lock(fmu);
    if (auto it = body.find("seed"); it != body.end() && it->is_number_unsigned()) {
      frng.seed(it->get<std::uint64_t>());
    }
    faults = std::move(nf);
    return admin_json(200, faults.to_json());
  }
  if (req.method != "GET") return admin_problem(405, "Method Not Allowed", "Use GET or POST.");
  std::lock_guard<std::mutex> lock(fmu);
  return admin_json(200, faults.to_json());
}

// ---- the API
// ------------------------------------------------------------------------------------------

std::pair<int, std::string> CivicrmSandbox::Impl::execute(const std::string& entity,
                                                          const std::string& action,
                                                          const pjson& params, const pjson& index,
                                                          bool view_debug) {
  const Micros t = now();
  bool write = writes(action, params);
  std::unique_lock<std::shared_mutex> wlock(mu, std::defer_lock);
  std::shared_lock<std::shared_mutex> rlock(mu, std::defer_lock);
  if (write) {
    wlock.lock();
  } else {
    rlock.lock();
  }
  Engine engine(*site, t, &cache, &version);
  try {
    CallOutput out = engine.call(entity, action, params, index);
    std::optional<std::string> keyed = std::move(engine.keyed_values);
    if (engine.changed()) generation.fetch_add(1);
    std::string s = "{\"values\":";
    s += Engine::values_json(out, keyed ? pjson() : index, keyed ? &*keyed : nullptr);
    s += ",\"entity\":";
    put_str(&s, kEntNames[out.ent]);
    s += ",\"action\":";
    put_str(&s, out.action);
    s += ",\"debug\":";
    if (out.debug && view_debug) {
      s += "{\"actionClass\":";
      put_str(&s, action_class(out.ent, out.action));
      s += "}";
    } else {
      s += "null";
    }
    s += ",\"version\":4,\"count\":" + std::to_string(out.count) +
         ",\"countFetched\":" + std::to_string(out.fetched);
    if (out.matched) s += ",\"countMatched\":" + std::to_string(*out.matched);
    s += "}";
    return {200, std::move(s)};
  } catch (const std::exception& ex) {
    // A value of an unexpected type deep in the params: PHP would die on a TypeError.
    if (engine.changed()) generation.fetch_add(1);
    std::string s = view_debug ? "{\"error_code\":0,\"error_message\":" +
                                     json_quote(std::string("Invalid parameters: ") + ex.what())
                               : "{\"error_code\":\"1\",\"error_message\":" +
                                     json_quote(
                                         "Sorry an error occurred and your request was not "
                                         "completed. (Error ID: " +
                                         error_id() + ")");
    s += ",\"status\":500}";
    return {500, std::move(s)};
  } catch (const ApiError& e) {
    if (engine.changed()) generation.fetch_add(1);
    std::string s;
    if (view_debug) {
      s = "{\"error_code\":0,\"error_message\":" + json_quote(e.message);
    } else {
      s = "{\"error_code\":\"1\",\"error_message\":" +
          json_quote("Sorry an error occurred and your request was not completed. (Error ID: " +
                     error_id() + ")");
    }
    s += ",\"status\":" + std::to_string(e.status) + "}";
    return {e.status, std::move(s)};
  }
}

http::Reply CivicrmSandbox::Impl::api(const http::Request& req, const std::string& raw_path,
                                      const Pairs& query) {
  // The route: /civicrm/ajax/api4[/Entity/action], or the same in ?q= (CMS paths without clean
  // URLs).
  std::string route = raw_path;
  if ((raw_path == "/" || raw_path == "/index.php") && !pair_value(query, "q").empty()) {
    route = "/" + std::string(pair_value(query, "q"));
  }
  std::vector<std::string> segs;
  for (std::size_t pos = 0; pos < route.size();) {
    std::size_t slash = route.find('/', pos);
    if (slash == std::string::npos) slash = route.size();
    std::string seg = route.substr(pos, slash - pos);
    pos = slash + 1;
    if (seg.empty()) continue;
    std::string decoded;
    if (!http::url_decode(seg, &decoded)) decoded = seg;
    segs.push_back(std::move(decoded));
  }
  if (segs.size() < 3 || segs[0] != "civicrm" || segs[1] != "ajax" || segs[2] != "api4") {
    return page_not_found();
  }
  const bool multi = segs.size() == 3;
  const std::string entity = segs.size() > 3 ? segs[3] : "";
  const std::string action = segs.size() > 4 ? segs[4] : "";
  const bool is_get = req.method == "GET" || req.method == "HEAD";

  // $_POST: only a form-encoded POST body is read; a JSON body is ignored.
  Pairs post;
  if (req.method == "POST" &&
      lower(req.header("Content-Type")).rfind("application/x-www-form-urlencoded", 0) == 0) {
    post = http::parse_query(req.body);
  }
  // $_REQUEST: the query, then the body's fields over it.
  auto request_param = [&](std::string_view name, bool* found) -> std::string {
    bool in_post = false, in_query = false;
    std::string_view p = pair_value(post, name, &in_post);
    std::string_view q = pair_value(query, name, &in_query);
    *found = in_post || in_query;
    return std::string(in_post ? p : q);
  };

  // Authentication (authx), before the page runs.
  std::string api_key, site_key;
  bool key_perm = false, view_debug = true;
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    api_key = site->api_key;
    site_key = site->site_key;
    key_perm = site->api_key_permission;
    view_debug = site->view_debug_output;
  }
  const Pairs& authx_params = is_get ? query : post;
  std::string given_site_key(req.header("X-Civi-Key"));
  if (given_site_key.empty())
    given_site_key = std::string(pair_value(authx_params, "_authxSiteKey"));
  std::string flow, cred;
  if (!req.header("X-Civi-Auth").empty()) {
    flow = "xheader";
    cred = std::string(req.header("X-Civi-Auth"));
  } else if (std::string_view a = req.header("Authorization");
             !a.empty() && (a.rfind("Bearer ", 0) == 0 || a.rfind("Basic ", 0) == 0)) {
    flow = "header";
    cred = std::string(a);
  } else if (!pair_value(authx_params, "_authx").empty()) {
    flow = "param";
    cred = std::string(pair_value(authx_params, "_authx"));
  }
  if (!flow.empty()) {
    auto reject = [](const std::string& why) {
      return reply(401, "HTTP 401 " + why, "text/plain");
    };
    auto sp = cred.find(' ');
    std::string format = sp == std::string::npos ? cred : cred.substr(0, sp);
    std::string value = sp == std::string::npos ? "" : cred.substr(sp + 1);
    bool valid = format == "Bearer" && !value.empty() && value == api_key;
    if (!valid) return reject("Invalid credential");
    bool site_key_ok = !site_key.empty() && given_site_key == site_key;
    if (!site_key_ok && !key_perm) {
      return reject("Login not permitted. Must satisfy guard (site_key, perm).");
    }
  } else {
    return access_denied();  // anonymous: no "access CiviCRM"
  }

  // CRM_Api4_Page_AJAX::checkRequestMethod().
  bool web_service = req.header("X-Requested-With") == "XMLHttpRequest" || flow == "xheader" ||
                     flow == "param" || req.method == "OPTIONS";
  if (!web_service) {
    return reply(400,
                 "{\"error_code\":400,\"error_message\":\"SECURITY ALERT: Ajax requests can only "
                 "be issued by javascript clients, eg. CRM.api4().\"}",
                 kJson);
  }
  if (is_get && action != "autocomplete" && lower(action.substr(0, 3)) != "get") {
    return reply(405,
                 "{\"error_code\":405,\"error_message\":\"SECURITY: All requests that modify the "
                 "database must be http POST, not GET.\"}",
                 kJson);
  }

  if (multi) {
    std::string_view calls_text = pair_value(post, "calls");
    pjson calls = calls_text.empty() ? pjson() : pjson::parse(calls_text, nullptr, false);
    if (calls.is_discarded() || !(calls.is_object() || calls.is_array())) {
      return reply(200, "[]", kJson);
    }
    int status = 0;
    std::string body = calls.is_array() ? "[" : "{";
    bool first = true;
    for (auto it = calls.begin(); it != calls.end(); ++it) {
      const pjson& c = it.value();
      std::string e =
          c.is_array() && c.size() > 0 && c[0].is_string() ? c[0].get<std::string>() : "";
      std::string a =
          c.is_array() && c.size() > 1 && c[1].is_string() ? c[1].get<std::string>() : "";
      pjson p = c.is_array() && c.size() > 2 ? c[2] : pjson::object();
      pjson idx = c.is_array() && c.size() > 3 ? c[3] : pjson();
      if (p.is_null()) p = pjson::object();
      auto [st, out] = execute(e, a, p, idx, view_debug);
      if (st == 200) {
        status = 200;
      } else if (status == 0) {
        status = st;
      }
      if (!first) body.push_back(',');
      first = false;
      if (calls.is_object()) {
        put_str(&body, it.key());
        body.push_back(':');
      }
      body += out;
    }
    body.push_back(calls.is_array() ? ']' : '}');
    return reply(status == 0 ? 200 : status, std::move(body), kJson);
  }

  bool found = false;
  std::string params_text = request_param("params", &found);
  pjson params = pjson::object();
  if (!params_text.empty() && params_text != "0") {
    params = pjson::parse(params_text, nullptr, false);
    if (params.is_discarded() || !(params.is_object() || params.is_array())) return fatal_error();
  }
  bool has_index = false;
  std::string index_text = request_param("index", &has_index);
  pjson index;
  if (has_index && !index_text.empty()) index = index_text;
  auto [status, body] = execute(entity, action, params, index, view_debug);
  return reply(status, std::move(body), kJson);
}

// ---- public
// ---------------------------------------------------------------------------------------

CivicrmSandbox::CivicrmSandbox(CiviSitePtr site, SandboxClock* clock)
    : impl_(std::make_unique<Impl>(std::move(site), clock)) {}

CivicrmSandbox::~CivicrmSandbox() = default;

http::Reply CivicrmSandbox::handle(const http::Request& request, const http::Peer& peer,
                                   std::string* injected_fault) {
  if (injected_fault) injected_fault->clear();
  return impl_->handle(request, peer, injected_fault);
}

std::uint64_t CivicrmSandbox::generation() const {
  return impl_->generation.load();
}

std::string CivicrmSandbox::state_part() const {
  std::string out;
  append_state_part(&out);
  return out;
}

void CivicrmSandbox::append_state_part(std::string* out) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  JsonOut o;
  o.buf = std::move(*out);
  write_site(o, *impl_->site);
  *out = std::move(o.buf);
}

CiviCounts CivicrmSandbox::install(CiviSitePtr site) {
  CiviCounts c = civicrm_counts(*site);
  {
    std::unique_lock<std::shared_mutex> lock(impl_->mu);
    impl_->site.swap(site);
    impl_->version.fetch_add(1);
    impl_->generation.fetch_add(1);
  }
  impl_->cache.clear();
  {
    std::lock_guard<std::mutex> lock(impl_->fmu);
    impl_->faults = CiviFaults{};
  }
  site.reset();  // the old site, freed outside the lock
  return c;
}

// ---- the router
// -----------------------------------------------------------------------------------

http::Reply SandboxRouter::mailchimp_port(const http::Request& request, const http::Peer& peer) {
  return route(Port::kMailchimp, request, peer);
}

http::Reply SandboxRouter::civicrm_port(const http::Request& request, const http::Peer& peer) {
  return route(Port::kCivicrm, request, peer);
}

std::string SandboxRouter::state_document() const {
  std::string doc = mailchimp_->state_document();
  auto end = doc.rfind('}');
  if (end == std::string::npos) return doc;
  bool empty = doc.find_first_not_of(" \n\r\t{", 0) == end;
  // The CiviCRM part is written straight after the Mailchimp part: a million-row state is
  // hundreds of MB, and is not copied again.
  std::string out = doc.substr(0, end);
  out += empty ? "\"civicrm\":" : ",\"civicrm\":";
  civicrm_->append_state_part(&out);
  out.append(doc, end, std::string::npos);
  return out;
}

http::Reply SandboxRouter::route(Port port, const http::Request& request, const http::Peer& peer) {
  std::string_view target = request.target;
  std::string_view qs;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    qs = target.substr(q + 1);
    target = target.substr(0, q);
  }
  if (!(target == "/_sandbox" || target.rfind("/_sandbox/", 0) == 0)) {
    return api(port, request, peer);
  }
  if (!peer.loopback) {
    return admin_problem(403, "Forbidden",
                         "The sandbox's admin routes answer only on the loopback interface.");
  }
  if (target == "/_sandbox/state") {
    if (request.method != "GET") return admin_problem(405, "Method Not Allowed", "Use GET.");
    return reply(200, state_document(), "application/json; charset=utf-8");
  }
  if (target == "/_sandbox/reset") {
    if (request.method != "POST") return admin_problem(405, "Method Not Allowed", "Use POST.");
    return reset(request, peer);
  }
  if (target == "/_sandbox/requests") return requests(request, qs);
  if (target == "/_sandbox/faults") {
    std::string part = std::string(pair_value(http::parse_query(qs), "part"));
    if (part.empty() && request.method == "POST") {
      pjson body = pjson::parse(request.body, nullptr, false);
      if (body.is_object() && body.contains("part") && body["part"].is_string()) {
        part = body["part"].get<std::string>();
      }
    }
    if (part.empty()) part = port == Port::kMailchimp ? "mailchimp" : "civicrm";
    if (part == "mailchimp") return mailchimp_->handle(request, peer);
    if (part == "civicrm") return civicrm_->handle(request, peer);
    return admin_problem(400, "Invalid Resource", "part: expected \"mailchimp\" or \"civicrm\"");
  }
  if (target == "/_sandbox/clock" || target.rfind("/_sandbox/mailchimp/", 0) == 0) {
    return mailchimp_->handle(request, peer);
  }
  if (target.rfind("/_sandbox/civicrm/", 0) == 0) return civicrm_->handle(request, peer);
  return port == Port::kMailchimp ? mailchimp_->handle(request, peer)
                                  : civicrm_->handle(request, peer);
}

http::Reply SandboxRouter::api(Port port, const http::Request& request, const http::Peer& peer) {
  Micros at = clock_->now();
  auto start = std::chrono::steady_clock::now();
  std::string fault;
  http::Reply r = port == Port::kMailchimp ? mailchimp_->handle(request, peer, &fault)
                                           : civicrm_->handle(request, peer, &fault);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  // Like any HTTP server, both APIs say what time it is (by the sandbox clock); clients may use it
  // as the server's "now".
  if (r.response.header("Date").empty()) r.response.headers.push_back({"Date", http_date_text(at)});
  log_.record(port == Port::kMailchimp ? ApiPart::kMailchimp : ApiPart::kCivicrm, request, r,
              std::move(fault), at, took.count());
  return r;
}

http::Reply SandboxRouter::requests(const http::Request& request, std::string_view query) {
  if (request.method == "DELETE") {
    log_.clear();
    http::Reply r;
    r.response.status = 204;
    r.response.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
    return r;
  }
  if (request.method != "GET")
    return admin_problem(405, "Method Not Allowed", "Use GET or DELETE.");
  auto answer = log_.answer(query);
  if (!answer.is_ok()) return admin_problem(400, "Invalid Resource", answer.status().message());
  return reply(200, std::move(answer).value(), "application/json; charset=utf-8");
}

http::Reply SandboxRouter::reset(const http::Request& request, const http::Peer& peer) {
  std::string_view body = request.body;
  bool blank = std::all_of(body.begin(), body.end(),
                           [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
  auto parsed = parse_civicrm_seed(blank ? std::string_view("{}") : body, system_clock().now());
  if (!parsed.is_ok()) return admin_problem(400, "Invalid Seed", parsed.status().message());
  // The Mailchimp part validates and installs its own part; a bad one changes nothing.
  http::Reply mc = mailchimp_->handle(request, peer);
  if (mc.response.status != 200) return mc;
  CiviCounts c = civicrm_->install(std::move(parsed).value());
  log_.clear();
  pjson answer = pjson::parse(mc.response.body, nullptr, false);
  if (!answer.is_object()) answer = pjson::object();
  answer["civicrm"] = {{"contacts", c.contacts},
                       {"emails", c.emails},
                       {"groups", c.groups},
                       {"group_contacts", c.group_contacts},
                       {"subscription_history", c.subscription_history}};
  mc.response.body = answer.dump();
  return mc;
}

}  // namespace concord::sandbox
