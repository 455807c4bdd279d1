// The Mailchimp side: the Marketing API v3 client.
//
// Reads an audience into the Mailchimp snapshot (full or incremental fetch) and writes membership
// changes (batch-subscribe, archive). All HTTP goes through an http::Client (HTTPS with
// verification; keep-alive; retries with backoff), injected so that tests can substitute a fake.
// The API key is used only in the Authorization header; it never appears in a Status message.
//
// Thread-safety: a MailchimpClient may be used from several threads; fetches of one pair must not
// run concurrently (they share the pair's watermark).
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
#include "concord/status.h"
#include "concord/store.h"
#include "concord/time.h"

namespace concord {

struct MailchimpOptions {
  std::string api_key;  // "<32 hex>-<dc>"; secret
  // Overrides the base URL derived from the key's datacenter
  // ("https://<dc>.api.mailchimp.com/3.0").
  std::string base_url;
  http::ClientOptions http;  // ca_file, max_connections (default 8), timeouts, retries
  // An incremental fetch starts this long before the stored watermark, to catch members whose
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
};

struct FetchStats {
  std::uint64_t pages = 0;
  std::uint64_t members = 0;  // member records received (written or rejected)
  std::uint64_t written = 0;
  std::uint64_t rejected = 0;
  std::uint64_t removed = 0;    // full fetch: members no longer in the audience
  std::uint64_t rechecked = 0;  // full fetch: members missing from the pages but still there
  Micros watermark = kNoTime;   // the watermark stored at the end
};

// One membership write.
struct MailchimpWrite {
  enum class Kind : std::uint8_t { kSubscribe, kPending, kUnsubscribe, kArchive };
  std::string email;  // normalised
  Kind kind = Kind::kSubscribe;
  std::vector<std::pair<std::string, std::string>> merge_fields;  // tag → value (strings)
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

class MailchimpClient {
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
  Result<std::vector<MergeField>> merge_fields(std::string_view list_id);

  // Every member of the audience into `pair`'s Mailchimp snapshot, then a short incremental pass
  // to catch changes made while paging; a stored member the pages did not return is asked for by
  // itself and removed only when Mailchimp answers 404. Stores the watermark (meta
  // "mailchimp.watermark/<list>") at the end.
  Result<FetchStats> fetch_full(std::string_view list_id, Store& store, const PairHandle& pair);
  // Members changed since the stored watermark (minus the overlap); falls back to a full fetch
  // when there is no watermark. The watermark advances after each stored page.
  Result<FetchStats> fetch_incremental(std::string_view list_id, Store& store,
                                       const PairHandle& pair);

  // Applies writes; outcomes[i] belongs to writes[i]. Subscribe/pending/unsubscribe go in
  // batch-subscribe calls of up to 500 members (update_existing); a subscribe refused for
  // compliance is retried as pending when resubscribe == kPending; archives are DELETEs.
  std::vector<WriteOutcome> apply(std::string_view list_id,
                                  const std::vector<MailchimpWrite>& writes,
                                  Resubscribe resubscribe);

  // HTTP requests sent so far (retries included): for tests and the API-economy benchmark.
  std::uint64_t requests() const;

 private:
  struct Impl;
  explicit MailchimpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The meta key of a list's watermark in a pair.
std::string mailchimp_watermark_key(std::string_view list_id);

}  // namespace concord
