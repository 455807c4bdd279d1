#include "sandbox/mailchimp/member_body.h"

#include "concord/email.h"
#include "sandbox/mailchimp/merge_values.h"
#include "sandbox/text.h"
#include "sandbox/times.h"

namespace concord::sandbox {
namespace {

constexpr std::string_view kStatusEnumWrite =
    "Data presented is not one of the accepted values: subscribed, unsubscribed, cleaned, pending, "
    "transactional.";
constexpr std::string_view kStatusEnumPatch =
    "Data presented is not one of the accepted values: subscribed, unsubscribed, cleaned, "
    "pending.";

}  // namespace

// "" when the API accepts the address; else the detail of its 400 Invalid Resource.
std::string email_problem(std::string_view raw) {
  std::string norm = normalise_email(raw);
  if (check_email(norm) != EmailProblem::kOk) return "Please provide a valid email address.";
  std::string_view domain = std::string_view(norm).substr(norm.find('@') + 1);
  static constexpr std::string_view kFakeDomains[] = {"example.com", "example.net", "example.org"};
  static constexpr std::string_view kFakeTlds[] = {".example", ".test", ".invalid", ".localhost"};
  bool fake = false;
  for (auto d : kFakeDomains)
    fake = fake || domain == d;
  for (auto t : kFakeTlds) {
    fake = fake || (domain.size() > t.size() && domain.substr(domain.size() - t.size()) == t);
  }
  if (fake) {
    return std::string(trim(raw)) + " looks fake or invalid, please enter a real email address.";
  }
  return "";
}

// Parses and validates a member body: schema (types, enums, required fields), then the email,
// then merge values, then interests. Unknown merge tags are ignored, as the live API does.
std::optional<Problem> parse_member_body(const json& body, const List& l, BodyKind kind,
                                         MemberWrite* w) {
  ojson errors = ojson::array();
  if (!body.is_object()) {
    errors.push_back(type_error("", "object", body));
    return schema_problem(std::move(errors));
  }
  std::vector<std::string> missing;
  auto str = [&](const char* name, std::optional<std::string>* out) {
    auto it = body.find(name);
    if (it == body.end()) return;
    if (!it->is_string()) {
      errors.push_back(type_error(name, "string", *it));
      return;
    }
    *out = it->get<std::string>();
  };
  std::optional<std::string> status, status_if_new, email_type, ts_signup, ts_opt;
  str("email_address", &w->email);
  str("status", &status);
  if (kind == BodyKind::kPut) str("status_if_new", &status_if_new);
  str("email_type", &email_type);
  str("language", &w->language);
  str("ip_signup", &w->ip_signup);
  str("ip_opt", &w->ip_opt);
  str("timestamp_signup", &ts_signup);
  str("timestamp_opt", &ts_opt);
  if (auto it = body.find("vip"); it != body.end()) {
    if (!it->is_boolean()) {
      errors.push_back(type_error("vip", "boolean", *it));
    } else {
      w->vip = it->get<bool>();
    }
  }
  if (auto it = body.find("location"); it != body.end() && !it->is_object()) {
    errors.push_back(type_error("location", "object", *it));
  }
  const json* interests = nullptr;
  if (auto it = body.find("interests"); it != body.end()) {
    if (!it->is_object()) {
      errors.push_back(type_error("interests", "object", *it));
    } else {
      interests = &*it;
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        if (!kv->is_boolean())
          errors.push_back(type_error("interests." + kv.key(), "boolean", *kv));
      }
    }
  }
  if (auto it = body.find("marketing_permissions"); it != body.end() && !it->is_array()) {
    errors.push_back(type_error("marketing_permissions", "array", *it));
  }
  auto check_status = [&](const char* name, const std::optional<std::string>& v,
                          std::optional<MemberStatus>* out) {
    if (!v) return;
    auto s = parse_status(*v);
    bool ok = s && *s != MemberStatus::kArchived;
    if (ok && kind == BodyKind::kPatch && *s == MemberStatus::kTransactional) ok = false;
    if (!ok) {
      errors.push_back(
          field_error(name, kind == BodyKind::kPatch ? kStatusEnumPatch : kStatusEnumWrite));
      return;
    }
    *out = s;
  };
  check_status("status", status, &w->status);
  check_status("status_if_new", status_if_new, &w->status_if_new);
  if (email_type) {
    if (*email_type == "html" || *email_type == "text") {
      w->text_email = *email_type == "text";
    } else {
      errors.push_back(field_error(
          "email_type", "Data presented is not one of the accepted values: html, text."));
    }
  }
  auto check_time = [&](const char* name, const std::optional<std::string>& v,
                        std::optional<Micros>* out) {
    if (!v) return;
    auto t = parse_iso8601(*v);
    if (!t.is_ok() || *t == kNoTime) {
      errors.push_back(field_error(name, "This value is not a valid datetime."));
      return;
    }
    *out = to_seconds(*t);
  };
  check_time("timestamp_signup", ts_signup, &w->timestamp_signup);
  check_time("timestamp_opt", ts_opt, &w->timestamp_opt);
  const json* merges = nullptr;
  if (auto it = body.find("merge_fields"); it != body.end()) {
    if (!it->is_object()) {
      errors.push_back(type_error("merge_fields", "object", *it));
    } else {
      merges = &*it;
      for (auto kv = it->begin(); kv != it->end(); ++kv) {
        const json& v = kv.value();
        if (!(v.is_string() || v.is_number() || v.is_object())) {
          errors.push_back(
              field_error("merge_fields." + kv.key(),
                          "Data did not match any of the schemas described in anyOf."));
        }
      }
    }
  }
  if (kind == BodyKind::kPost) {
    if (auto it = body.find("tags"); it != body.end()) {
      if (!it->is_array()) {
        errors.push_back(type_error("tags", "array", *it));
      } else {
        std::vector<std::string> tags;
        for (const json& t : *it) {
          if (!t.is_string()) {
            errors.push_back(type_error("tags", "string", t));
          } else {
            tags.push_back(t.get<std::string>());
          }
        }
        w->tags = std::move(tags);
      }
    }
  } else if (kind == BodyKind::kBatch) {
    // Not in the spec's item schema; accepted as an array of names (see docs/sandbox.md).
    if (auto it = body.find("tags"); it != body.end() && it->is_array()) {
      std::vector<std::string> tags;
      for (const json& t : *it) {
        if (t.is_string()) tags.push_back(t.get<std::string>());
      }
      w->tags = std::move(tags);
    }
  }
  auto null_field = [&](const char* name) {
    auto it = body.find(name);
    return it == body.end() || it->is_null();
  };
  if (kind == BodyKind::kPost || kind == BodyKind::kBatch) {
    if (null_field("email_address")) missing.push_back("email_address");
  }
  if (kind == BodyKind::kPost && null_field("status")) missing.push_back("status");
  if (!missing.empty()) {
    errors.insert(errors.begin(), missing_fields_error(missing));
  }
  if (!errors.empty()) return schema_problem(std::move(errors));
  if (w->email) {
    std::string detail = email_problem(*w->email);
    if (!detail.empty()) return invalid_resource(detail);
    *w->email = trim(*w->email);
  }
  if (merges != nullptr) {
    ojson merge_errors = ojson::array();
    for (auto kv = merges->begin(); kv != merges->end(); ++kv) {
      int idx = l.merge_index(kv.key());
      if (idx < 0) continue;  // unknown tags are ignored
      std::string value;
      std::string msg = encode_merge_value(l.merge_fields[idx], kv.value(), &value);
      if (!msg.empty()) {
        merge_errors.push_back(field_error(l.merge_fields[idx].tag, msg));
        continue;
      }
      w->merges.emplace_back(idx, std::move(value));
    }
    if (!merge_errors.empty()) {
      return invalid_resource("Your merge fields were invalid.", std::move(merge_errors));
    }
  }
  if (interests != nullptr) {
    for (auto kv = interests->begin(); kv != interests->end(); ++kv) {
      const Interest* i = l.interest(kv.key());
      // The live API's words, without an `errors` array (docs/sandbox.md).
      if (i == nullptr) return invalid_resource("Invalid interest ID: '" + kv.key() + "'.");
      std::uint64_t bit = std::uint64_t{1} << i->bit;
      if (kv->get<bool>()) {
        w->interests_on |= bit;
        w->interests_off &= ~bit;
      } else {
        w->interests_off |= bit;
        w->interests_on &= ~bit;
      }
    }
  }
  return std::nullopt;
}

}  // namespace concord::sandbox
