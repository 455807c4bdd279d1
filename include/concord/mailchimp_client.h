// The Mailchimp side: the Marketing API v3 client.
//
// Reads an audience's members as typed records (all, changed since a watermark, or named
// addresses: the MailchimpReader of side.h) and writes membership changes (batch-subscribe,
// archive). It never sees the store: the snapshot stage (snapshot.h) drives its reads. All HTTP
// goes through an http::Client (HTTPS with verification; keep-alive; retries with backoff),
// injected so that tests can substitute a fake. The API key is used only in the Authorization
// header; it never appears in a Status message.
//
// Thread-safety: a MailchimpClient may be used from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "concord/decide.h"
#include "concord/http.h"
#include "concord/member.h"
#include "concord/side.h"
#include "concord/status.h"
#include "concord/time.h"

namespace concord {

struct MailchimpOptions {
  std::string api_key;  // "<32 hex>-<dc>"; secret
  // Overrides the base URL derived from the key's datacenter
  // ("https://<dc>.api.mailchimp.com/3.0").
  std::string base_url;
  http::ClientOptions http;  // ca_file, max_connections (default 8), timeouts, retries
  // An incremental read starts this long before the watermark it is handed, to catch members whose
  // change was recorded late. Default: 5 minutes.
  Micros incremental_overlap = 300 * kMicrosPerSecond;
  // Pages of a full fetch requested at once (bounded by http.max_connections). Default 4.
  int parallel_pages = 4;
};

// The datacenter of an API key ("us6" for "...-us6"). Returns kInvalid, without quoting the key,
// when the key does not look like a Mailchimp key.
Result<std::string> mailchimp_datacenter(std::string_view api_key);

// An error answer of the Marketing API (RFC 7807 problem details; `type` is optional).
struct ApiError {
  int status = 0;
  std::string title;
  std::string detail;
  std::string instance;                                           // the request id
  std::vector<std::pair<std::string, std::string>> field_errors;  // field, message

  // "Mailchimp answered 400 Member Exists: <detail> (field: message; …) [request <id>]"
  std::string describe() const;
};
// Parses an error body; a body that is not problem+json gives a title from the status line and a
// detail from the first 200 bytes of the body.
ApiError parse_api_error(const http::Response& r);

struct Audience {
  std::string id;
  std::string name;
  std::int64_t member_count = 0;
};

struct MergeField {
  std::string tag;
  std::string name;
  std::string type;
  bool required = false;
  std::string date_format;           // options.date_format (date, birthday)
  std::vector<std::string> choices;  // options.choices (radio, dropdown)
};

// A webhook of a list: Mailchimp POSTs (form-encoded) the events named here, for changes from the
// sources set, to `url`.
struct Webhook {
  std::string id, url;
  // The events that are on, in this order: subscribe, unsubscribe, profile, cleaned, upemail,
  // campaign.
  std::vector<std::string> events;
  bool source_user = false;   // the contact (sign-up form, unsubscribe link, preference centre)
  bool source_admin = false;  // an admin in Mailchimp's web app
  bool source_api = false;    // API calls, concord's own writes among them
};

// A tag of an audience: a static segment (§8, §16.3 of the reference).
struct Tag {
  std::int64_t id = 0;
  std::string name;
  std::int64_t member_count = 0;
};

// An interest ("group" in the web app) of an interest category (§15).
struct Interest {
  std::string category_id;
  std::string category_title;
  std::string id;
  std::string name;
};

// One membership write.
struct MailchimpWrite {
  // kUpdateFields: the member's merge fields only; its status is sent as it is (batch-subscribe
  // needs one), never retried as pending.
  // kChangeEmail: the member at from_email gets `email` as its address (PATCH; it keeps its
  // history, status, tags and fields).
  // kAddTag / kRemoveTag: the tag `tag_id` put on or taken off an existing member, in the static
  // segment's batch calls (members_to_add / members_to_remove, at most 500 each); the status
  // stays. Removing a tag never unsubscribes.
  enum class Kind : std::uint8_t {
    kSubscribe,
    kPending,
    kUnsubscribe,
    kArchive,
    kUpdateFields,
    kChangeEmail,
    kAddTag,
    kRemoveTag,
  };
  std::string email;  // normalised
  Kind kind = Kind::kSubscribe;
  std::vector<std::pair<std::string, std::string>> merge_fields;  // tag → canonical value
  // The tags among merge_fields whose value is a canonical address (field_value.h): sent as an
  // address object.
  std::vector<std::string> address_tags{};
  MailchimpStatus status = MailchimpStatus::kSubscribed;  // kUpdateFields: subscribed or pending
  std::string from_email{};                               // kChangeEmail
  // kSubscribe / kPending: tags (names) put on the member by the same batch-subscribe item
  // (members[].tags: added, never replaced).
  std::vector<std::string> tags{};
  // kSubscribe / kPending / kUpdateFields: interests (id → on) set by the same item
  // (members[].interests); the member's other interests stay.
  std::vector<std::pair<std::string, bool>> interests{};
  std::int64_t tag_id = 0;  // kAddTag / kRemoveTag
};

struct WriteOutcome {
  enum class Code : std::uint8_t {
    kDone,         // the member now has the asked status
    kPendingSent,  // subscribe refused (compliance state); a confirmation (pending) was sent
    kCompliance,   // subscribe refused: the person unsubscribed themself (resubscribe = never)
    kCleaned,      // refused: the address is cleaned
    kForgotten,    // refused: the address was permanently deleted
    kInvalid,      // refused as invalid (bad email, merge fields); retrying will not help
    kFailed,       // could not be written now (network, 5xx after retries, no answer): retry later
  };
  Code code = Code::kFailed;
  std::string message;                                // Mailchimp's words, for the report
  MailchimpStatus status = MailchimpStatus::kAbsent;  // the member's status after the write
  Micros last_changed = kNoTime;                      // as Mailchimp reported it, when it did
};

// A member event as Mailchimp lists it (GET …/members/{hash}/events). Events have no id.
struct MemberEventRecord {
  std::string name;
  Micros occurred_at = kNoTime;  // kNoTime when the answer's time does not read
  std::vector<std::pair<std::string, std::string>> properties;  // sorted by key
};

// A member as one write left it (upsert_member).
struct MemberUpsert {
  MailchimpStatus status = MailchimpStatus::kAbsent;
  bool created = false;  // there was no member with this address before
  // Merge fields refused as invalid (tag → Mailchimp's words); the rest were written.
  std::vector<std::pair<std::string, std::string>> refused_fields;
};

class MailchimpClient final : public MailchimpReader {
 public:
  // `transport` may be given (tests); otherwise an http::Client for the base URL is created.
  static Result<std::unique_ptr<MailchimpClient>> create(
      MailchimpOptions options, std::unique_ptr<http::Client> transport = nullptr);
  ~MailchimpClient();

  // GET /ping.
  Status ping();
  // An audience by id, or by name (paging through /lists). Unknown or ambiguous names are kInvalid
  // / kNotFound naming the candidates' ids.
  Result<Audience> resolve_audience(std::string_view id_or_name);
  // GET /lists/{id}?fields=stats.member_count,stats.unsubscribe_count,stats.cleaned_count.
  Result<AudienceCounts> audience_counts(std::string_view list_id) override;
  Result<std::vector<MergeField>> merge_fields(std::string_view list_id);
  // The audience's tag named `name` (compared without regard to case), from its static segments
  // (GET /lists/{id}/segments?type=static, paged). kNotFound when there is none, naming a few
  // tags the audience has.
  Result<Tag> find_tag(std::string_view list_id, std::string_view name);
  // Creates an empty tag (POST /lists/{id}/segments {"name", "static_segment": []}).
  Result<Tag> create_tag(std::string_view list_id, std::string_view name);
  // The interest `interest` of the category titled `category` (both compared without regard to
  // case; interest categories and interests read with count=1000). kNotFound naming the
  // categories, or the category's interests, that exist.
  Result<Interest> find_interest(std::string_view list_id, std::string_view category,
                                 std::string_view interest);

  // Reads (side.h). read_all pages the audience with `count=1000` and `fields=` kMemberFields:
  // the first page gives total_items, the others are fetched a few at a time (parallel_pages) at
  // offsets 990 apart, so that consecutive pages overlap and a member leaving while we page cannot
  // push another into a page already read; a pass from the read's start less the overlap then
  // catches members changed while we paged. read_since pages with since_last_changed, ascending
  // by last_changed, by key set (each page starts one second before the last last_changed seen; a
  // second holding a whole page is paged by offset). read_members asks GET
  // /lists/{id}/members/{subscriber_hash} for each address, a few at once, and hands the answers
  // over in groups of 64.
  Result<SideRead> read_all(std::string_view list_id, MailchimpSink& sink) override;
  Result<SideRead> read_since(std::string_view list_id, Micros watermark,
                              MailchimpSink& sink) override;
  Result<SideRead> read_members(std::string_view list_id, const std::vector<std::string>& emails,
                                MailchimpSink& sink) override;

  // The list's webhooks (GET /lists/{id}/webhooks).
  Result<std::vector<Webhook>> webhooks(std::string_view list_id);
  // Registers a webhook (POST /lists/{id}/webhooks) for `events` (names from Webhook::events; an
  // unknown one is kInvalid, and nothing is sent) from the sources set. Mailchimp first checks
  // that `url` answers a GET with 2xx; its refusals come back as other API errors do, with its
  // title and detail (e.g. 400 Invalid Resource "We couldn't verify the URL is working. Please
  // double check and try again. HTTP Code: 404"; a URL already registered for the list is
  // refused too). The POST creates, so the transport never resends it once it may have arrived;
  // when its answer is lost (or a 5xx comes back) the list's webhooks are read, and the one with
  // this URL, events and sources is returned if the POST made it. The URL (which may hold a
  // secret) is not quoted in errors of concord's.
  Result<Webhook> create_webhook(std::string_view list_id, const std::string& url,
                                 const std::vector<std::string>& events, bool user, bool admin,
                                 bool api);
  // Removes a webhook (DELETE /lists/{id}/webhooks/{webhook_id}); one already gone (404) is done.
  Status delete_webhook(std::string_view list_id, std::string_view webhook_id);

  // Applies writes; outcomes[i] belongs to writes[i]. Subscribe/pending/unsubscribe go in
  // batch-subscribe calls of up to 500 members (update_existing); a subscribe refused for
  // compliance is retried as pending when resubscribe == kPending; archives are DELETEs.
  // Tag writes go in POST /lists/{id}/segments/{tag_id} calls (members_to_add and
  // members_to_remove, at most 500 each): an address the answer neither lists as added or removed
  // nor names in its errors is kFailed (not a member any more: the next run adds it first), one
  // named in errors is kInvalid with Mailchimp's words; their last_changed is the answer's Date.
  std::vector<WriteOutcome> apply(std::string_view list_id,
                                  const std::vector<MailchimpWrite>& writes,
                                  Resubscribe resubscribe);

  // Member events and single members (events.cpp), for streams.
  //
  // Posts a member event (POST /lists/{id}/members/{hash}/events; `body` as
  // amplitude::member_event_body writes it). The request creates, so the transport never sends it
  // twice. OK: Mailchimp took it (204). kNotFound: no member has this address. kInvalid: refused
  // (Mailchimp's words). kUnavailable: it may or may not have arrived (the caller looks with
  // member_events before sending it again).
  Status post_member_event(std::string_view list_id, const std::string& email,
                           const std::string& body);
  // The member's events, newest first, down to the first one that occurred before `oldest`
  // (kNoTime: all of them), paged by 1000 (GET …/events?count=1000&offset=…). kNotFound when no
  // member has this address.
  Result<std::vector<MemberEventRecord>> member_events(std::string_view list_id,
                                                       const std::string& email,
                                                       Micros oldest = kNoTime);
  // The member's merge fields as text (tag → value; an address as "addr1, city…" is given as its
  // JSON text). kNotFound when there is no such member.
  Result<std::vector<std::pair<std::string, std::string>>> member_merge_fields(
      std::string_view list_id, const std::string& email);
  // Adds or updates a member (PUT /lists/{id}/members/{hash} with status_if_new): a new member
  // gets `status_if_new` (subscribed or pending), an existing one keeps its status and gets
  // `merge_fields` (tag → text). When Mailchimp refuses merge fields as invalid, they are left
  // out and the write is tried once more without them (listed in refused_fields). kInvalid:
  // refused (a forgotten or invalid address: Mailchimp's words); kUnavailable: not written now.
  Result<MemberUpsert> upsert_member(
      std::string_view list_id, const std::string& email, MailchimpStatus status_if_new,
      const std::vector<std::pair<std::string, std::string>>& merge_fields);

  // HTTP requests sent so far (retries included): for tests and the API-economy benchmark.
  std::uint64_t requests() const;

 private:
  struct Impl;
  explicit MailchimpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord
