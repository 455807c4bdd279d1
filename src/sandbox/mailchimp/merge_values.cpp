#include "sandbox/mailchimp/merge_values.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

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
