// Member pages are parsed with simdjson's DOM API, which picks the fastest kernel for the CPU at
// run time: this is the ingest hot path, and nlohmann::json's parse alone cost about 3 µs per
// member, a third of the budget.
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include <vector>

#include "concord/email.h"
#include "concord/mailchimp_members.h"
#include "concord/member.h"
#include "concord/record.h"

namespace concord {
namespace {

namespace dom = simdjson::dom;

// A parsed member before its status_changed_at is known.
struct Pending {
  MemberKey key;
  std::string email;
  MailchimpStatus status;
  UnsubscribeOrigin origin;
  Micros last_changed;
  Micros timestamp_opt;
  std::string body;
  std::uint64_t hash;
};

// The fields of one member as they appear in the page; the views point into the parser.
struct RawMember {
  std::string_view email, status, reason, last_changed, timestamp_opt;
  std::string merge_fields;  // minified JSON
  bool has_email = false, has_status = false, has_reason = false, has_merge_fields = false;
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
    } else if (key == "merge_fields" && field.value.is_object()) {
      m->merge_fields = simdjson::minify(field.value);
      m->has_merge_fields = true;
    }
  }
}

}  // namespace

Result<MembersPageResult> ingest_members_page(std::string_view body, Store& store,
                                              const PairHandle& pair, SnapshotWriter& writer) {
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

  std::vector<Pending> parsed;
  parsed.reserve(members.size());
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
    Pending p;
    p.email = normalise_email(m.email);
    if (EmailProblem problem = check_email(p.email); problem != EmailProblem::kOk) {
      reject(m.email, "email_address", std::string(describe(problem)));
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
    p.status = *st;
    p.origin = p.status == MailchimpStatus::kUnsubscribed && m.has_reason
                   ? unsubscribe_origin(m.reason)
                   : UnsubscribeOrigin::kUnknown;
    Result<Micros> lc = parse_iso8601(m.last_changed);
    if (!lc) {
      reject(m.email, "last_changed", lc.status().message());
      continue;
    }
    p.last_changed = *lc;
    Result<Micros> to = parse_iso8601(m.timestamp_opt);
    if (!to) {
      reject(m.email, "timestamp_opt", to.status().message());
      continue;
    }
    p.timestamp_opt = *to;

    // The stored record: what concord syncs of the member, compact. The times passed
    // parse_iso8601, so they hold no character that needs escaping.
    std::string_view fields = m.has_merge_fields ? std::string_view(m.merge_fields) : "{}";
    p.body.reserve(fields.size() + 100);
    p.body = "{\"merge_fields\":";
    p.body += fields;
    p.body += ",\"last_changed\":\"";
    p.body += m.last_changed;
    p.body += "\",\"timestamp_opt\":\"";
    p.body += m.timestamp_opt;
    p.body += "\"";
    if (m.has_reason && !m.reason.empty()) {
      p.body += ",\"unsubscribe_reason\":";
      p.body += nlohmann::json(std::string(m.reason))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    p.body += "}";
    p.hash = content_hash(fields, content_hash(p.email));
    p.key = member_key(p.email);
    if (p.last_changed != kNoTime &&
        (result.max_last_changed == kNoTime || p.last_changed > result.max_last_changed)) {
      result.max_last_changed = p.last_changed;
    }
    parsed.push_back(std::move(p));
  }
  // Only a page that parsed completely hands its rejects over.
  for (RejectedRow& r : rejects)
    writer.reject(std::move(r));

  // What is stored for these members decides their status_changed_at.
  std::vector<std::string_view> keys;
  keys.reserve(parsed.size());
  for (const Pending& p : parsed)
    keys.push_back(p.key.view());
  std::vector<std::optional<std::string>> stored;
  if (writer.started_empty()) {
    stored.resize(keys.size());  // a first fetch: nothing is stored yet
  } else {
    Status s = store.multi_get(pair, Family::kMailchimp, keys, &stored);
    if (!s) return s;
  }

  std::vector<SnapshotEntry> entries;
  entries.reserve(parsed.size());
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    Pending& p = parsed[i];
    std::optional<StoredMailchimpStatus> prev;
    if (stored[i]) {
      SnapshotHeader h;
      MailchimpState old;
      // An unreadable stored record is treated as first sight (and overwritten).
      if (decode_snapshot_header(*stored[i], &h) && mailchimp_state_of(h, &old)) {
        prev = StoredMailchimpStatus{old.status, old.changed_at};
      }
    }
    MailchimpState state;
    state.status = p.status;
    state.unsubscribe_origin = p.origin;
    state.changed_at = mailchimp_status_changed_at(prev, p.status, p.last_changed, p.timestamp_opt);
    SnapshotEntry e;
    e.key = p.key;
    encode_snapshot(mailchimp_header(state, p.hash), p.email, p.body, &e.value);
    entries.push_back(std::move(e));
  }
  result.written = entries.size();
  if (Status s = writer.write_page(entries); !s) return s;
  return result;
}

}  // namespace concord
