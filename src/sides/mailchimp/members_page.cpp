// Member pages are parsed with simdjson's DOM API, which picks the fastest kernel for the CPU at
// run time: this is the ingest hot path, and nlohmann::json's parse alone cost about 3 µs per
// member, a third of the budget.
#include <simdjson.h>

#include <vector>

#include "concord/member.h"
#include "sides/mailchimp/members_page.h"

namespace concord {
namespace {

namespace dom = simdjson::dom;

// The fields of one member as they appear in the page; the views point into the parser.
struct RawMember {
  std::string_view email, status, reason, last_changed, timestamp_opt, contact_id;
  std::string merge_fields;  // minified JSON
  bool has_email = false, has_status = false, has_reason = false, has_merge_fields = false;
  // Read only once the member is known to be kept (most members have neither).
  dom::array tags;
  dom::object interests;
  bool has_tags = false, has_interests = false;
};

// A value that is not a string leaves *has false (the caller rejects the row by field).
void read_string(dom::element v, std::string_view* out, bool* has) {
  *has = v.get_string().get(*out) == simdjson::SUCCESS;
}

void read_member(dom::object o, RawMember* m) {
  bool unused = false;
  for (dom::key_value_pair field : o) {
    const std::string_view key = field.key;
    if (key == "email_address") {
      read_string(field.value, &m->email, &m->has_email);
    } else if (key == "status") {
      read_string(field.value, &m->status, &m->has_status);
    } else if (key == "unsubscribe_reason") {
      read_string(field.value, &m->reason, &m->has_reason);
    } else if (key == "last_changed") {
      read_string(field.value, &m->last_changed, &unused);
    } else if (key == "timestamp_opt") {
      read_string(field.value, &m->timestamp_opt, &unused);
    } else if (key == "contact_id") {
      read_string(field.value, &m->contact_id, &unused);
    } else if (key == "merge_fields" && field.value.is_object()) {
      m->merge_fields = simdjson::minify(field.value);
      m->has_merge_fields = true;
    } else if (key == "tags") {
      m->has_tags = field.value.get_array().get(m->tags) == simdjson::SUCCESS;
    } else if (key == "interests") {
      m->has_interests = field.value.get_object().get(m->interests) == simdjson::SUCCESS;
    }
  }
}

// Tags and interests are what tag and interest targets read, not what makes a member: a
// malformed part of them (`tags` not an array, an item without a string name, `interests` not
// an object, a value that is not a boolean) is left out, and the member is kept with the rest.
// Nothing is allocated for a member with no tags and no interest on.
void read_tags(dom::array tags, std::vector<std::string>* out) {
  for (dom::element t : tags) {
    dom::object o;
    std::string_view name;
    if (t.get_object().get(o) != simdjson::SUCCESS ||
        o["name"].get_string().get(name) != simdjson::SUCCESS || name.empty()) {
      continue;
    }
    out->emplace_back(name);
  }
}

void read_interests(dom::object interests, std::vector<std::string>* out) {
  for (dom::key_value_pair i : interests) {
    bool on = false;
    if (i.value.get_bool().get(on) == simdjson::SUCCESS && on && !i.key.empty()) {
      out->emplace_back(i.key);
    }
  }
}

// Mailchimp's contact_id: 32 lower-case hex digits. Anything else is not kept (it would be stored
// and compared as an identity).
bool is_contact_id(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<MembersPageResult> parse_members_page(std::string_view body, MailchimpSink& sink) {
  thread_local dom::parser parser;
  dom::element doc;
  if (auto e = parser.parse(body.data(), body.size()).get(doc); e) {
    return Status::invalid("Mailchimp members page is not valid JSON (" +
                           std::string(simdjson::error_message(e)) + "; " +
                           std::to_string(body.size()) + " bytes; truncated?)");
  }
  dom::object page_obj;
  dom::array members;
  if (doc.get_object().get(page_obj) != simdjson::SUCCESS ||
      page_obj["members"].get_array().get(members) != simdjson::SUCCESS) {
    return Status::invalid("Mailchimp members page has no \"members\" array");
  }
  MembersPageResult result;
  std::int64_t total = 0;
  if (page_obj["total_items"].get_int64().get(total) == simdjson::SUCCESS) {
    result.total_items = total;
  }

  std::vector<MailchimpRecord> records;
  records.reserve(members.size());
  std::vector<RejectedRow> rejects;
  std::size_t index = 0;
  for (dom::element element : members) {
    ++result.members;
    ++index;
    auto reject = [&](std::string_view raw, std::string field_name, std::string message) {
      std::string source = raw.empty() ? "member #" + std::to_string(index) : std::string(raw);
      rejects.push_back(
          {std::move(source), std::string(raw), std::move(field_name), std::move(message)});
      ++result.rejected;
    };
    dom::object o;
    if (element.get_object().get(o) != simdjson::SUCCESS) {
      reject("", "members[]", "a member is not a JSON object");
      continue;
    }
    RawMember m;
    read_member(o, &m);
    if (!m.has_email) {
      reject("", "email_address", "missing or not a string");
      continue;
    }
    std::optional<MailchimpStatus> st =
        m.has_status ? parse_mailchimp_status(m.status) : std::nullopt;
    if (!st) {
      reject(m.email, "status",
             m.has_status ? "unknown status \"" + std::string(m.status.substr(0, 40)) + "\""
                          : "missing");
      continue;
    }
    Result<Micros> lc = parse_iso8601(m.last_changed);
    if (!lc) {
      reject(m.email, "last_changed", lc.status().message());
      continue;
    }
    Result<Micros> to = parse_iso8601(m.timestamp_opt);
    if (!to) {
      reject(m.email, "timestamp_opt", to.status().message());
      continue;
    }
    MailchimpRecord& r = records.emplace_back();
    r.email.assign(m.email);
    r.status = *st;
    r.unsubscribe_origin = r.status == MailchimpStatus::kUnsubscribed && m.has_reason
                               ? unsubscribe_origin(m.reason)
                               : UnsubscribeOrigin::kUnknown;
    r.last_changed = *lc;
    r.timestamp_opt = *to;
    if (m.has_merge_fields) r.merge_fields = std::move(m.merge_fields);
    r.last_changed_text.assign(m.last_changed);
    r.timestamp_opt_text.assign(m.timestamp_opt);
    if (m.has_reason) r.unsubscribe_reason.assign(m.reason);
    if (is_contact_id(m.contact_id)) r.contact_id.assign(m.contact_id);
    if (m.has_tags) read_tags(m.tags, &r.tags);
    if (m.has_interests) read_interests(m.interests, &r.interests);
    if (r.last_changed != kNoTime &&
        (result.max_last_changed == kNoTime || r.last_changed > result.max_last_changed)) {
      result.max_last_changed = r.last_changed;
    }
  }
  // Only a page that parsed completely hands anything over.
  for (RejectedRow& r : rejects)
    sink.reject(std::move(r));
  if (Status s = sink.records(records); !s) return s;
  return result;
}

}  // namespace concord
