#include <nlohmann/json.hpp>

#include <vector>

#include "concord/email.h"
#include "concord/mailchimp_members.h"
#include "concord/member.h"
#include "concord/record.h"

namespace concord {
namespace {

using nlohmann::json;

const std::string* string_field(const json& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

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

}  // namespace

Result<MembersPageResult> ingest_members_page(std::string_view body, Store& store,
                                              const PairHandle& pair, SnapshotWriter& writer) {
  json page = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (page.is_discarded()) {
    return Status::invalid("Mailchimp members page is not valid JSON (" +
                           std::to_string(body.size()) + " bytes; truncated?)");
  }
  auto members_it = page.find("members");
  if (!page.is_object() || members_it == page.end() || !members_it->is_array()) {
    return Status::invalid("Mailchimp members page has no \"members\" array");
  }
  MembersPageResult result;
  if (auto t = page.find("total_items"); t != page.end() && t->is_number_integer()) {
    result.total_items = t->get<std::int64_t>();
  }

  std::vector<Pending> parsed;
  parsed.reserve(members_it->size());
  std::size_t index = 0;
  for (const json& m : *members_it) {
    ++result.members;
    ++index;
    auto reject = [&](std::string raw, std::string field, std::string message) {
      std::string source = raw.empty() ? "member #" + std::to_string(index) : raw;
      writer.reject({std::move(source), std::move(raw), std::move(field), std::move(message)});
      ++result.rejected;
    };
    if (!m.is_object()) {
      reject("", "members[]", "a member is not a JSON object");
      continue;
    }
    const std::string* raw_email = string_field(m, "email_address");
    if (raw_email == nullptr) {
      reject("", "email_address", "missing or not a string");
      continue;
    }
    Pending p;
    p.email = normalise_email(*raw_email);
    if (EmailProblem problem = check_email(p.email); problem != EmailProblem::kOk) {
      reject(*raw_email, "email_address", std::string(describe(problem)));
      continue;
    }
    const std::string* status = string_field(m, "status");
    std::optional<MailchimpStatus> st = status ? parse_mailchimp_status(*status) : std::nullopt;
    if (!st) {
      reject(*raw_email, "status",
             status ? "unknown status \"" + status->substr(0, 40) + "\"" : "missing");
      continue;
    }
    p.status = *st;
    const std::string* reason = string_field(m, "unsubscribe_reason");
    p.origin = p.status == MailchimpStatus::kUnsubscribed && reason != nullptr
                   ? unsubscribe_origin(*reason)
                   : UnsubscribeOrigin::kUnknown;
    const std::string* last_changed = string_field(m, "last_changed");
    Result<Micros> lc = parse_iso8601(last_changed ? *last_changed : std::string_view());
    if (!lc) {
      reject(*raw_email, "last_changed", lc.status().message());
      continue;
    }
    p.last_changed = *lc;
    const std::string* opt = string_field(m, "timestamp_opt");
    Result<Micros> to = parse_iso8601(opt ? *opt : std::string_view());
    if (!to) {
      reject(*raw_email, "timestamp_opt", to.status().message());
      continue;
    }
    p.timestamp_opt = *to;

    // The stored record: what concord syncs of the member, compact.
    auto mf = m.find("merge_fields");
    std::string fields = mf != m.end() && mf->is_object() ? mf->dump() : "{}";
    p.body.reserve(fields.size() + 120);
    p.body = "{\"merge_fields\":";
    p.body += fields;
    p.body += ",\"last_changed\":\"";
    p.body += last_changed ? *last_changed : "";
    p.body += "\",\"timestamp_opt\":\"";
    p.body += opt ? *opt : "";
    p.body += "\"";
    if (reason != nullptr && !reason->empty()) {
      p.body += ",\"unsubscribe_reason\":";
      p.body += json(*reason).dump(-1, ' ', false, json::error_handler_t::replace);
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

  // What is stored for these members decides their status_changed_at.
  std::vector<std::string_view> keys;
  keys.reserve(parsed.size());
  for (const Pending& p : parsed)
    keys.push_back(p.key.view());
  std::vector<std::optional<std::string>> stored;
  Status s = store.multi_get(pair, Family::kMailchimp, keys, &stored);
  if (!s) return s;

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
  s = writer.write_page(entries);
  if (!s) return s;
  return result;
}

}  // namespace concord
