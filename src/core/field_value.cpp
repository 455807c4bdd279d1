#include "concord/field_value.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace concord {
namespace {

using json = nlohmann::json;

constexpr std::string_view kSpace = " \t\r\n";

std::string_view trim(std::string_view s) {
  const std::size_t a = s.find_first_not_of(kSpace);
  if (a == std::string_view::npos) return {};
  const std::size_t b = s.find_last_not_of(kSpace);
  return s.substr(a, b - a + 1);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int to_int(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool valid_date(int y, int m, int d) {
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  if (m == 2 && d == 29) return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[static_cast<std::size_t>(m - 1)];
}

bool day_first(const MergeFieldSpec& spec) {
  return spec.date_format.rfind("DD", 0) == 0;
}

// "YYYY-MM-DD" (a CRM date; a time after it, as a CRM timestamp has, is dropped), or the field's
// format "MM/DD/YYYY" / "DD/MM/YYYY".
bool parse_date(std::string_view s, bool dmy, int* y, int* m, int* d) {
  s = trim(s);
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-' &&
      (s.size() == 10 || s[10] == ' ' || s[10] == 'T')) {
    if (!all_digits(s.substr(0, 4)) || !all_digits(s.substr(5, 2)) || !all_digits(s.substr(8, 2)))
      return false;
    *y = to_int(s.substr(0, 4));
    *m = to_int(s.substr(5, 2));
    *d = to_int(s.substr(8, 2));
    return valid_date(*y, *m, *d);
  }
  if (s.size() == 10 && s[2] == '/' && s[5] == '/' && all_digits(s.substr(0, 2)) &&
      all_digits(s.substr(3, 2)) && all_digits(s.substr(6, 4))) {
    const int a = to_int(s.substr(0, 2)), b = to_int(s.substr(3, 2));
    *y = to_int(s.substr(6, 4));
    *m = dmy ? b : a;
    *d = dmy ? a : b;
    return valid_date(*y, *m, *d);
  }
  return false;
}

std::string ymd(int y, int m, int d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}

// The shortest decimal that reads back as `v`; integers without a fraction.
std::string number_text(double v) {
  if (v == 0) return "0";  // also -0
  if (std::fabs(v) < 1e15 && v == std::trunc(v)) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::vector<std::string_view> split_parts(std::string_view s) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = s.find("  ");
    parts.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 2);
    while (!s.empty() && s.front() == ' ')
      s.remove_prefix(1);  // a run of spaces separates as two do
  }
  return parts;
}

std::string json_text(const json& v, std::string_view key) {
  auto it = v.find(std::string(key));
  if (it == v.end()) return {};
  if (it->is_string()) return std::string(trim(it->get_ref<const std::string&>()));
  if (it->is_number()) return it->dump();
  return {};
}

Status refuse(const char* message) {
  return Status::invalid(message);
}

}  // namespace

std::optional<MergeType> parse_merge_type(std::string_view s) {
  for (std::uint8_t i = 0; i <= static_cast<std::uint8_t>(MergeType::kZip); ++i) {
    if (merge_type_name(static_cast<MergeType>(i)) == s) return static_cast<MergeType>(i);
  }
  return std::nullopt;
}

std::string_view merge_type_name(MergeType t) {
  switch (t) {
    case MergeType::kText:
      return "text";
    case MergeType::kNumber:
      return "number";
    case MergeType::kAddress:
      return "address";
    case MergeType::kPhone:
      return "phone";
    case MergeType::kDate:
      return "date";
    case MergeType::kBirthday:
      return "birthday";
    case MergeType::kUrl:
      return "url";
    case MergeType::kImageUrl:
      return "imageurl";
    case MergeType::kRadio:
      return "radio";
    case MergeType::kDropdown:
      return "dropdown";
    case MergeType::kZip:
      return "zip";
  }
  return "text";
}

std::string encode_field_specs(const std::vector<FieldSpec>& specs) {
  json list = json::array();
  for (const FieldSpec& f : specs) {
    list.push_back({{"tag", f.tag},
                    {"crm", f.crm_field},
                    {"direction", static_cast<int>(f.direction)},
                    {"type", merge_type_name(f.merge.type)},
                    {"required", f.merge.required},
                    {"date_format", f.merge.date_format},
                    {"choices", f.merge.choices}});
  }
  return list.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::vector<FieldSpec>> decode_field_specs(std::string_view text) {
  json list = json::parse(text, nullptr, false);
  if (!list.is_array()) return Status::corruption("the stored field specs are not a JSON list");
  std::vector<FieldSpec> out;
  for (const json& f : list) {
    if (!f.is_object()) return Status::corruption("a stored field spec is not an object");
    FieldSpec spec;
    auto text = [&](const char* k) {
      auto it = f.find(k);
      return it != f.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto number = [&](const char* k) {
      auto it = f.find(k);
      return it != f.end() && it->is_number_integer() ? it->get<int>() : 0;
    };
    spec.tag = text("tag");
    spec.crm_field = text("crm");
    const int dir = number("direction");
    spec.direction = dir == 1   ? FieldDirection::kToMailchimp
                     : dir == 2 ? FieldDirection::kToCrm
                                : FieldDirection::kBoth;
    spec.merge.tag = spec.tag;
    spec.merge.type = parse_merge_type(text("type")).value_or(MergeType::kText);
    auto req = f.find("required");
    spec.merge.required = req != f.end() && req->is_boolean() && req->get<bool>();
    spec.merge.date_format = text("date_format");
    if (auto c = f.find("choices"); c != f.end() && c->is_array()) {
      for (const json& choice : *c) {
        if (choice.is_string()) spec.merge.choices.push_back(choice.get<std::string>());
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::optional<AddressParts> parse_address(std::string_view canonical) {
  std::vector<std::string_view> p = split_parts(trim(canonical));
  AddressParts a;
  switch (p.size()) {
    case 4:  // addr1 city state zip
      a = {std::string(p[0]), "", std::string(p[1]), std::string(p[2]), std::string(p[3]), ""};
      break;
    case 5:  // addr1 city state zip country
      a = {std::string(p[0]), "", std::string(p[1]), std::string(p[2]), std::string(p[3]),
           std::string(p[4])};
      break;
    case 6:
      a = {std::string(p[0]), std::string(p[1]), std::string(p[2]),
           std::string(p[3]), std::string(p[4]), std::string(p[5])};
      break;
    default:
      return std::nullopt;
  }
  if (a.addr1.empty() || a.city.empty() || a.state.empty() || a.zip.empty()) return std::nullopt;
  return a;
}

std::string format_address(const AddressParts& a) {
  std::string out = a.addr1;
  if (!a.addr2.empty()) out += "  " + a.addr2;
  out += "  " + a.city + "  " + a.state + "  " + a.zip;
  if (!a.country.empty() || !a.addr2.empty()) out += "  " + a.country;
  return out;
}

namespace {

// A merge field's value Mailchimp gave as a string.
std::string canonical_from_mailchimp_text(const MergeFieldSpec& spec, std::string_view s) {
  if (trim(s).empty()) return {};
  if (spec.type == MergeType::kNumber) {
    if (std::optional<double> n = parse_number(s)) return number_text(*n);
  }
  if (spec.type == MergeType::kDate) {
    int y, m, d;
    if (parse_date(s, day_first(spec), &y, &m, &d)) return ymd(y, m, d);
  }
  if (spec.type == MergeType::kAddress) {
    if (std::optional<AddressParts> a = parse_address(s)) return format_address(*a);
  }
  return std::string(s);
}

}  // namespace

std::string canonical_from_mailchimp(const MergeFieldSpec& spec, std::string_view json_value) {
  // Most values are strings without escapes: their text is what is between the quotes, and the
  // diff reads one per mapped field of every member.
  if (json_value.size() >= 2 && json_value.front() == '"' && json_value.back() == '"' &&
      json_value.find('\\') == std::string_view::npos) {
    return canonical_from_mailchimp_text(spec, json_value.substr(1, json_value.size() - 2));
  }
  json v = json::parse(json_value, nullptr, false);
  if (v.is_discarded() || v.is_null()) return {};
  if (v.is_string()) return canonical_from_mailchimp_text(spec, v.get_ref<const std::string&>());
  if (v.is_number()) return number_text(v.get<double>());
  if (v.is_object() && spec.type == MergeType::kAddress) {
    AddressParts a{json_text(v, "addr1"), json_text(v, "addr2"), json_text(v, "city"),
                   json_text(v, "state"), json_text(v, "zip"),   json_text(v, "country")};
    if (a.addr1.empty() && a.city.empty() && a.state.empty() && a.zip.empty()) return {};
    return format_address(a);
  }
  return v.dump();
}

Result<std::string> to_mailchimp_value(const MergeFieldSpec& spec, std::string_view crm_value) {
  const std::string_view s = trim(crm_value);
  if (s.empty()) return std::string();
  switch (spec.type) {
    case MergeType::kNumber: {
      std::optional<double> n = parse_number(s);
      if (!n) return refuse("Please enter a number");
      return number_text(*n);
    }
    case MergeType::kAddress: {
      std::optional<AddressParts> a = parse_address(s);
      if (!a) return refuse("Please enter a complete address");
      return format_address(*a);
    }
    case MergeType::kDate: {
      int y, m, d;
      if (!parse_date(s, day_first(spec), &y, &m, &d)) return refuse("Please enter the date");
      return ymd(y, m, d);
    }
    case MergeType::kBirthday: {
      // A CRM date (its year dropped), or the field's own MM/DD or DD/MM.
      int y, m, d;
      if (parse_date(s, day_first(spec), &y, &m, &d)) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02d/%02d", day_first(spec) ? d : m,
                      day_first(spec) ? m : d);
        return std::string(buf);
      }
      if (s.size() == 5 && s[2] == '/' && all_digits(s.substr(0, 2)) &&
          all_digits(s.substr(3, 2))) {
        const int a = to_int(s.substr(0, 2)), b = to_int(s.substr(3, 2));
        if (valid_date(2000, day_first(spec) ? b : a, day_first(spec) ? a : b)) {
          return std::string(s);
        }
      }
      return refuse("Please enter the date");
    }
    case MergeType::kZip: {
      const bool ok =
          (s.size() == 5 && all_digits(s)) ||
          (s.size() == 10 && s[5] == '-' && all_digits(s.substr(0, 5)) && all_digits(s.substr(6)));
      if (!ok) return refuse("Please enter a valid zip code");
      return std::string(s);
    }
    case MergeType::kUrl:
    case MergeType::kImageUrl:
      if (s.find(' ') != std::string_view::npos || s.find('.') == std::string_view::npos) {
        return refuse("Please enter a valid URL");
      }
      return std::string(s);
    case MergeType::kRadio:
    case MergeType::kDropdown:
      for (const std::string& c : spec.choices) {
        if (c == crm_value) return std::string(crm_value);
      }
      return refuse("Please choose one of the allowed values");
    case MergeType::kText:
      if (crm_value.size() > 255) return refuse("Please enter a value less than 255 characters");
      return std::string(crm_value);
    case MergeType::kPhone:
      return std::string(crm_value);
  }
  return std::string(crm_value);
}

}  // namespace concord
