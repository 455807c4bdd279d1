// apply(): the writes, batched as the API allows (batch subscribe, a tag's segment batch, one
// call per archive or address change), each with its outcome.
#include "concord/mailchimp_client.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "concord/email.h"
#include "concord/parallel.h"
#include "sides/mailchimp/batch_subscribe.h"
#include "sides/mailchimp/client_impl.h"

namespace concord {
namespace {

// The client's insides (client_impl.h): its helpers and constants.
using namespace mailchimp;  // NOLINT(google-build-using-namespace)

constexpr std::size_t kBatchSize = 500;  // batch-subscribe's limit

// What concord reads of a batch-subscribe answer (a partial response): without it, the answer
// lists each added or updated member in full, about 2 KB each.
constexpr char kBatchAnswerFields[] =
    "?fields=new_members.email_address,new_members.status,new_members.last_changed,"
    "updated_members.email_address,updated_members.status,updated_members.last_changed,errors";

// A static segment's batch call takes at most this many addresses in each of members_to_add and
// members_to_remove.
constexpr std::size_t kSegmentBatchSize = 500;

// A batch call's answer (batch subscribe, a segment's batch): always 200 with a result per
// member. Returns what failed the whole call (then every member of it failed), or "" with the
// answer in *j.
std::string batch_failure(Result<http::Response>& r, json* j) {
  if (!r) return r.status().message();
  if (r->status != 200) return parse_api_error(*r).describe();
  *j = sides::parse_answer(r->body);
  if (!j->is_object()) return "Mailchimp's batch answer is not JSON";
  return "";
}

// Whether the member at `email` carries the tag `tag_id` as a tag write asked (`add`), read by
// itself: done when it does (or, for a removal, when there is no such member), else failed.
// `get` sends a GET for a target.
template <typename Get>
WriteOutcome tag_as_asked(Get&& get, std::string_view list_id, const std::string& email,
                          std::int64_t tag_id, bool add, Micros at) {
  Result<http::Response> r = get("/lists/" + http::url_encode(list_id) + "/members/" +
                                 subscriber_hash(email) + "?fields=tags");
  if (!r) return {WriteOutcome::Code::kFailed, r.status().message()};
  if (r->status == 404) {
    if (!add) return {WriteOutcome::Code::kDone, "", MailchimpStatus::kAbsent, at};
    return {WriteOutcome::Code::kFailed, "not a member of the audience"};
  }
  if (r->status != 200) return {WriteOutcome::Code::kFailed, parse_api_error(*r).describe()};
  json j = sides::parse_answer(r->body);
  if (!j.is_object() || !j.contains("tags") || !j["tags"].is_array()) {
    return {WriteOutcome::Code::kFailed,
            "Mailchimp's answer about the member's tags is unreadable"};
  }
  bool carries = false;
  for (const json& t : j["tags"]) {
    if (t.is_object() && t.contains("id") && t["id"].is_number_integer() &&
        t["id"].get<std::int64_t>() == tag_id) {
      carries = true;
    }
  }
  if (carries == add) return {WriteOutcome::Code::kDone, "", MailchimpStatus::kAbsent, at};
  return {WriteOutcome::Code::kFailed,
          add ? "Mailchimp did not put the tag on the member" : "the member still has the tag"};
}

}  // namespace

std::vector<WriteOutcome> MailchimpClient::apply(std::string_view list_id,
                                                 const std::vector<MailchimpWrite>& writes,
                                                 Resubscribe resubscribe) {
  Impl& im = *impl_;
  std::vector<WriteOutcome> out(writes.size());
  std::vector<std::size_t> batch_ops, archives, renames, tag_ops;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const MailchimpWrite::Kind k = writes[i].kind;
    (k == MailchimpWrite::Kind::kArchive                                           ? archives
     : k == MailchimpWrite::Kind::kChangeEmail                                     ? renames
     : k == MailchimpWrite::Kind::kAddTag || k == MailchimpWrite::Kind::kRemoveTag ? tag_ops
                                                                                   : batch_ops)
        .push_back(i);
  }

  // Batch-subscribe in chunks of 500, sent at once over the account's connections; subscribes
  // refused for compliance come back as pending.
  const std::size_t workers =
      static_cast<std::size_t>(std::max(1, im.options.http.max_connections));
  auto run_batches = [&](const std::vector<std::size_t>& ops, bool as_pending,
                         std::vector<std::size_t>* compliance) {
    const std::size_t calls = (ops.size() + kBatchSize - 1) / kBatchSize;
    auto part = [&](std::size_t call) {
      const std::size_t start = call * kBatchSize;
      return std::span(ops).subspan(start, std::min(kBatchSize, ops.size() - start));
    };
    std::vector<std::optional<Result<http::Response>>> answers(calls);
    run_in_parallel(calls, workers, [&](std::size_t call) {
      answers[call] = im.call("POST", "/lists/" + http::url_encode(list_id) + kBatchAnswerFields,
                              batch_subscribe_body(writes, part(call), as_pending));
    });
    // The answers are read here, on one thread: reading is quick, and one parser's memory is all
    // it takes (each answer lists its members in full).
    for (std::size_t call = 0; call < calls; ++call) {
      read_batch_subscribe(
          *answers[call], writes, part(call), as_pending, out,
          resubscribe == Resubscribe::kPending && compliance != nullptr ? compliance : nullptr);
      answers[call].reset();
    }
  };
  std::vector<std::size_t> compliance;
  run_batches(batch_ops, false, &compliance);
  if (!compliance.empty()) run_batches(compliance, true, nullptr);

  // Address changes: PATCH of the member at the old address (Mailchimp keeps its contact_id,
  // history and status; only a subscribed member's address may change, and not to an address the
  // audience has: both refusals are for good).
  for (std::size_t i : renames) {
    const std::string target =
        "/lists/" + http::url_encode(list_id) + "/members/" + subscriber_hash(writes[i].from_email);
    json body = {{"email_address", writes[i].email}};
    Result<http::Response> r =
        im.call("PATCH", target, body.dump(-1, ' ', false, json::error_handler_t::replace));
    WriteOutcome& o = out[i];
    if (!r) {
      o = {WriteOutcome::Code::kFailed, r.status().message()};
    } else if (r->status == 200) {
      json m = sides::parse_answer(r->body);
      o = {WriteOutcome::Code::kDone, ""};
      if (m.is_object()) {
        o.status = parse_mailchimp_status(text(m, "status")).value_or(MailchimpStatus::kAbsent);
        Result<Micros> lc = parse_iso8601(text(m, "last_changed"));
        o.last_changed = lc.is_ok() ? lc.value() : kNoTime;
      }
    } else {
      ApiError e = parse_api_error(*r);
      o = {r->status >= 500 || r->status == 429 ? WriteOutcome::Code::kFailed
                                                : WriteOutcome::Code::kInvalid,
           e.describe()};
    }
  }

  // Tags: each tag's adds and removes go in its static segment's batch calls, up to 500 of each
  // per call, after the batch subscribes (a member those added can be tagged by now). Putting a tag
  // on twice or taking it off twice changes nothing, so these calls are left idempotent: the
  // transport may send one again.
  std::map<std::int64_t, std::array<std::vector<std::size_t>, 2>> by_tag;  // adds, removes
  for (std::size_t i : tag_ops)
    by_tag[writes[i].tag_id][writes[i].kind == MailchimpWrite::Kind::kAddTag ? 0 : 1].push_back(i);
  for (const auto& [tag_id, ops] : by_tag) {
    const std::string target =
        "/lists/" + http::url_encode(list_id) + "/segments/" + std::to_string(tag_id);
    const std::size_t calls =
        (std::max(ops[0].size(), ops[1].size()) + kSegmentBatchSize - 1) / kSegmentBatchSize;
    for (std::size_t call = 0; call < calls; ++call) {
      // This call's share of the adds and of the removes.
      std::array<std::span<const std::size_t>, 2> part;
      json body = json::object();
      for (int side = 0; side < 2; ++side) {
        const std::size_t begin = std::min(ops[side].size(), call * kSegmentBatchSize);
        part[side] = std::span(ops[side]).subspan(
            begin, std::min(kSegmentBatchSize, ops[side].size() - begin));
        if (part[side].empty()) continue;
        json emails = json::array();
        for (std::size_t i : part[side])
          emails.push_back(writes[i].email);
        body[side == 0 ? "members_to_add" : "members_to_remove"] = std::move(emails);
      }
      Result<http::Response> r =
          im.call("POST", target, body.dump(-1, ' ', false, json::error_handler_t::replace));
      json j;
      const std::string failure = batch_failure(r, &j);
      if (!failure.empty()) {
        for (const auto& p : part) {
          for (std::size_t i : p)
            out[i] = {WriteOutcome::Code::kFailed, failure};
        }
        continue;
      }
      // The answer lists the members whose tag changed; it carries no time of the change, so
      // the server's time of the answer stands for it.
      Result<Micros> date = parse_http_date(r->header("Date"));
      const Micros at = date ? *date : kNoTime;
      std::array<std::set<std::string>, 2> changed;
      for (int side = 0; side < 2; ++side) {
        auto list = j.find(side == 0 ? "members_added" : "members_removed");
        if (list == j.end() || !list->is_array()) continue;
        for (const json& m : *list) {
          if (m.is_object()) changed[side].insert(lower(text(m, "email_address")));
        }
      }
      // Unlike batch subscribe's, an error here names an array of addresses.
      std::map<std::string, std::string> refused;
      if (auto errs = j.find("errors"); errs != j.end() && errs->is_array()) {
        for (const json& e : *errs) {
          if (!e.is_object()) continue;
          auto emails = e.find("email_addresses");
          if (emails == e.end() || !emails->is_array()) continue;
          std::string why = text(e, "error");
          if (why.empty()) why = "Mailchimp refused it without saying why";
          for (const json& a : *emails) {
            if (a.is_string()) refused.emplace(lower(a.get<std::string>()), why);
          }
        }
      }
      for (int side = 0; side < 2; ++side) {
        for (std::size_t i : part[side]) {
          const std::string email = lower(writes[i].email);
          if (changed[side].count(email)) {
            out[i] = {WriteOutcome::Code::kDone, "", MailchimpStatus::kAbsent, at};
          } else if (auto it = refused.find(email); it != refused.end()) {
            out[i] = {WriteOutcome::Code::kInvalid, it->second};
          } else {
            // Neither listed nor refused: Mailchimp lists only the members whose tag changed.
            // The member already had it as asked (a person tagged it since our read, or the
            // transport sent the call again), or is no member (it left since it was read, and
            // the next run adds it first). Its tags say which: a tag change may not move
            // last_changed, so no later incremental read would tell.
            out[i] = tag_as_asked([&](const std::string& t) { return im.call("GET", t); }, list_id,
                                  writes[i].email, tag_id, side == 0, at);
          }
        }
      }
    }
  }

  for (std::size_t i : archives) {
    const std::string target =
        "/lists/" + http::url_encode(list_id) + "/members/" + subscriber_hash(writes[i].email);
    Result<http::Response> r = im.call("DELETE", target);
    WriteOutcome& o = out[i];
    if (!r) {
      o = {WriteOutcome::Code::kFailed, r.status().message()};
    } else if (r->status == 204 || r->status == 200) {
      o = {WriteOutcome::Code::kDone, "", MailchimpStatus::kArchived};
    } else if (r->status == 404) {
      o = {WriteOutcome::Code::kDone, "not in the audience", MailchimpStatus::kAbsent};
    } else if (r->status == 405) {
      o = {WriteOutcome::Code::kInvalid, parse_api_error(*r).describe()};
    } else {
      ApiError e = parse_api_error(*r);
      o = {r->status >= 500 || r->status == 429 ? WriteOutcome::Code::kFailed
                                                : classify_error(e.title + " " + e.detail),
           e.describe()};
    }
  }
  return out;
}

}  // namespace concord
