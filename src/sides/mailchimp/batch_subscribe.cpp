#include "sides/mailchimp/batch_subscribe.h"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "concord/field_value.h"
#include "concord/json_text.h"
#include "concord/time.h"

namespace concord::mailchimp {
namespace {

namespace dom = simdjson::dom;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const char* status_word(MailchimpWrite::Kind k) {
  switch (k) {
    case MailchimpWrite::Kind::kSubscribe:
      return "subscribed";
    case MailchimpWrite::Kind::kPending:
      return "pending";
    case MailchimpWrite::Kind::kUnsubscribe:
      return "unsubscribed";
    case MailchimpWrite::Kind::kArchive:
      return "archived";
    case MailchimpWrite::Kind::kUpdateFields:
    case MailchimpWrite::Kind::kChangeEmail:
    case MailchimpWrite::Kind::kAddTag:
    case MailchimpWrite::Kind::kRemoveTag:
      break;
  }
  return "subscribed";
}

// A merge field's value as batch-subscribe takes it: an address as its object, else the text.
void merge_value(const MailchimpWrite& w, const std::string& tag, const std::string& value,
                 JsonText& j) {
  if (std::find(w.address_tags.begin(), w.address_tags.end(), tag) != w.address_tags.end()) {
    if (std::optional<AddressParts> a = parse_address(value)) {
      j.begin_object().key("addr1").string(a->addr1);
      if (!a->addr2.empty()) j.key("addr2").string(a->addr2);
      j.key("city").string(a->city).key("state").string(a->state).key("zip").string(a->zip);
      if (!a->country.empty()) j.key("country").string(a->country);
      j.end_object();
      return;
    }
  }
  j.string(value);
}

std::string_view string_of(dom::object o, std::string_view key) {
  std::string_view v;
  if (o[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

}  // namespace

WriteOutcome::Code classify_error(std::string_view text) {
  const std::string t = lower(text);
  if (t.find("compliance state") != std::string::npos) return WriteOutcome::Code::kCompliance;
  if (t.find("permanently deleted") != std::string::npos ||
      t.find("forgotten") != std::string::npos) {
    return WriteOutcome::Code::kForgotten;
  }
  if (t.find("cleaned") != std::string::npos || t.find("bounced") != std::string::npos) {
    return WriteOutcome::Code::kCleaned;
  }
  if (t.find("valid email") != std::string::npos ||
      t.find("fake or invalid") != std::string::npos ||
      t.find("merge fields") != std::string::npos ||
      t.find("invalid resource") != std::string::npos) {
    return WriteOutcome::Code::kInvalid;
  }
  return WriteOutcome::Code::kFailed;
}

std::string batch_subscribe_body(const std::vector<MailchimpWrite>& writes,
                                 std::span<const std::size_t> part, bool as_pending) {
  JsonText j;
  j.begin_object().key("members").begin_array();
  for (std::size_t i : part) {
    const MailchimpWrite& w = writes[i];
    const std::string_view status = as_pending ? "pending"
                                    : w.kind == MailchimpWrite::Kind::kUpdateFields
                                        ? mailchimp_status_name(w.status)
                                        : status_word(w.kind);
    j.begin_object().key("email_address").string(w.email).key("status").string(status);
    if (!w.merge_fields.empty()) {
      j.key("merge_fields").begin_object();
      for (const auto& [tag, value] : w.merge_fields) {
        j.key(tag);
        merge_value(w, tag, value, j);
      }
      j.end_object();
    }
    // Tags are added to the member's (without sync_tags nothing is taken off), and interests not
    // named stay as they are.
    if (!w.tags.empty()) {
      j.key("tags").begin_array();
      for (const std::string& t : w.tags)
        j.string(t);
      j.end_array();
    }
    if (!w.interests.empty()) {
      j.key("interests").begin_object();
      for (const auto& [id, on] : w.interests)
        j.key(id).boolean(on);
      j.end_object();
    }
    j.end_object();
  }
  j.end_array().key("update_existing").boolean(true).end_object();
  return j.take();
}

void read_batch_subscribe(Result<http::Response>& r, const std::vector<MailchimpWrite>& writes,
                          std::span<const std::size_t> part, bool as_pending,
                          std::vector<WriteOutcome>& out, std::vector<std::size_t>* compliance) {
  // Each member's place in the call, by address as Mailchimp writes it back (lower case).
  std::unordered_map<std::string, std::size_t> by_email;
  by_email.reserve(part.size());
  for (std::size_t k = 0; k < part.size(); ++k)
    by_email[lower(writes[part[k]].email)] = part[k];
  auto fail_all = [&](const std::string& why) {
    for (const auto& [email, i] : by_email)
      out[i] = {WriteOutcome::Code::kFailed, why};
  };
  if (!r) return fail_all(r.status().message());
  if (r->status != 200) return fail_all(parse_api_error(*r).describe());
  thread_local dom::parser parser;
  dom::object answer;
  if (parser.parse(r->body.data(), r->body.size()).get_object().get(answer) != simdjson::SUCCESS) {
    return fail_all("Mailchimp's batch answer is not JSON");
  }
  std::vector<bool> answered(writes.size());
  auto find = [&](dom::object m) -> std::optional<std::size_t> {
    auto found = by_email.find(lower(string_of(m, "email_address")));
    if (found == by_email.end()) return std::nullopt;
    answered[found->second] = true;
    return found->second;
  };
  for (std::string_view list : {"new_members", "updated_members"}) {
    dom::array members;
    if (answer[list].get_array().get(members) != simdjson::SUCCESS) continue;
    for (dom::element e : members) {
      dom::object m;
      if (e.get_object().get(m) != simdjson::SUCCESS) continue;
      std::optional<std::size_t> i = find(m);
      if (!i) continue;
      WriteOutcome& o = out[*i];
      o.code = as_pending ? WriteOutcome::Code::kPendingSent : WriteOutcome::Code::kDone;
      o.message.clear();
      o.status = parse_mailchimp_status(string_of(m, "status")).value_or(MailchimpStatus::kAbsent);
      Result<Micros> lc = parse_iso8601(string_of(m, "last_changed"));
      o.last_changed = lc.is_ok() ? lc.value() : kNoTime;
    }
  }
  dom::array errors;
  if (answer["errors"].get_array().get(errors) == simdjson::SUCCESS) {
    for (dom::element e : errors) {
      dom::object m;
      if (e.get_object().get(m) != simdjson::SUCCESS) continue;
      std::optional<std::size_t> i = find(m);
      if (!i) continue;
      std::string text(string_of(m, "error"));
      const WriteOutcome::Code code = classify_error(text);
      if (code == WriteOutcome::Code::kCompliance && !as_pending && compliance != nullptr &&
          writes[*i].kind == MailchimpWrite::Kind::kSubscribe) {
        compliance->push_back(*i);
      }
      out[*i] = {code, std::move(text)};
    }
  }
  for (const auto& [email, i] : by_email) {
    if (!answered[i]) {
      out[i] = {WriteOutcome::Code::kFailed,
                "Mailchimp's batch answer did not mention this member"};
    }
  }
}

}  // namespace concord::mailchimp
