// The Mailchimp client's calls for streams: member events (post, list) and one member at a time
// (read its merge fields, upsert with status_if_new). Paths always carry the subscriber hash
// (the reference's §16.6: it works on every path).
#include <algorithm>

#include "sides/mailchimp/client_impl.h"

namespace concord {

using namespace mailchimp;

namespace {

std::string member_path(std::string_view list_id, const std::string& email) {
  return "/lists/" + http::url_encode(list_id) + "/members/" +
         subscriber_hash(normalise_email(email));
}

// A merge field's value read back as text: strings as they are, numbers as written, an address
// object as its JSON.
std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

}  // namespace

Status MailchimpClient::post_member_event(std::string_view list_id, const std::string& email,
                                          const std::string& body) {
  const std::string what = "posting a member event";
  Result<http::Response> r =
      impl_->call("POST", member_path(list_id, email) + "/events", body, /*idempotent=*/false);
  if (!r) return Status::unavailable(what + ": " + r.status().message());
  if (r->status == 204 || r->status == 200) return Status::ok();
  // 404 (no such member) is kNotFound, a 4xx refusal kInvalid; a 5xx or 429 may come after the
  // event was recorded: kUnavailable, to be looked for before it is sent again.
  return api_status(*r, what);
}

Result<std::vector<MemberEventRecord>> MailchimpClient::member_events(std::string_view list_id,
                                                                      const std::string& email,
                                                                      Micros oldest) {
  std::vector<MemberEventRecord> out;
  const std::string base = member_path(list_id, email) +
                           "/events?count=" + std::to_string(kPageSize) +
                           "&fields=events.name,events.occurred_at,events.properties,total_items";
  for (std::size_t offset = 0;; offset += kPageSize) {
    Result<json> j =
        impl_->get_json(base + "&offset=" + std::to_string(offset), "reading a member's events");
    if (!j) return j.status();
    auto events = j->find("events");
    if (events == j->end() || !events->is_array()) {
      return Status::unavailable("reading a member's events: the answer has no \"events\" list");
    }
    bool older = false;
    for (const json& e : *events) {
      if (!e.is_object()) continue;
      MemberEventRecord rec;
      rec.name = text(e, "name");
      Result<Micros> at = parse_iso8601(text(e, "occurred_at"));
      rec.occurred_at = at ? *at : kNoTime;
      if (auto p = e.find("properties"); p != e.end() && p->is_object()) {
        for (auto it = p->begin(); it != p->end(); ++it)
          rec.properties.emplace_back(it.key(), value_text(it.value()));
        std::sort(rec.properties.begin(), rec.properties.end());
      }
      older |= oldest != kNoTime && rec.occurred_at != kNoTime && rec.occurred_at < oldest;
      out.push_back(std::move(rec));
    }
    const std::int64_t total = integer(*j, "total_items", -1);
    if (older || events->size() < kPageSize ||
        (total >= 0 && offset + events->size() >= static_cast<std::uint64_t>(total))) {
      break;
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> MailchimpClient::member_merge_fields(
    std::string_view list_id, const std::string& email) {
  Result<json> j = impl_->get_json(member_path(list_id, email) + "?fields=merge_fields",
                                   "reading a member's merge fields");
  if (!j) return j.status();
  std::vector<std::pair<std::string, std::string>> out;
  if (auto mf = j->find("merge_fields"); mf != j->end() && mf->is_object()) {
    for (auto it = mf->begin(); it != mf->end(); ++it)
      out.emplace_back(it.key(), value_text(it.value()));
  }
  return out;
}

Result<MemberUpsert> MailchimpClient::upsert_member(
    std::string_view list_id, const std::string& email, MailchimpStatus status_if_new,
    const std::vector<std::pair<std::string, std::string>>& merge_fields) {
  const std::string what = "adding or updating a member";
  const std::string address = normalise_email(email);
  const std::string path = member_path(list_id, address);
  // Whether the member exists decides `created`; PUT does not say.
  Result<http::Response> before = impl_->call("GET", path + "?fields=status");
  if (!before) return before.status().with_context(what);
  if (before->status != 200 && before->status != 404) return api_status(*before, what);
  MemberUpsert out;
  out.created = before->status == 404;
  std::vector<std::pair<std::string, std::string>> fields = merge_fields;
  for (int attempt = 0; attempt < 2; ++attempt) {
    json body = {{"email_address", address},
                 {"status_if_new", std::string(mailchimp_status_name(status_if_new))}};
    if (!fields.empty()) {
      json mf = json::object();
      for (const auto& [tag, value] : fields)
        mf[tag] = value;
      body["merge_fields"] = std::move(mf);
    }
    // PUT is an upsert: sending it twice leaves the member as once.
    Result<http::Response> r = impl_->call("PUT", path, body.dump());
    if (!r) return r.status().with_context(what);
    if (r->status == 200) {
      Result<json> j = parse_json(*r, what);
      if (!j) return j.status();
      std::optional<MailchimpStatus> st = parse_mailchimp_status(text(*j, "status"));
      out.status = st ? *st : MailchimpStatus::kAbsent;
      return out;
    }
    ApiError e = parse_api_error(*r);
    // Merge fields Mailchimp refused ("Your merge fields were invalid.", each named): the member
    // is written without them, and they are reported.
    std::vector<std::pair<std::string, std::string>> refused;
    for (const auto& [field, message] : e.field_errors) {
      std::string tag = field.rfind("merge_fields.", 0) == 0 ? field.substr(13) : field;
      auto sent =
          std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == tag; });
      if (sent != fields.end()) refused.emplace_back(tag, message);
    }
    if (r->status != 400 || refused.empty() || attempt > 0) return api_status(*r, what);
    for (const auto& refused_field : refused) {
      const std::string& tag = refused_field.first;
      fields.erase(std::remove_if(fields.begin(), fields.end(),
                                  [&](const auto& f) { return f.first == tag; }),
                   fields.end());
    }
    out.refused_fields = std::move(refused);
  }
  return Status::internal(what + ": no answer");
}

}  // namespace concord
