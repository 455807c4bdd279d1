// A side of a sync pair, as the engine sees it (DESIGN §3): fetch the members of one audience or
// group into the pair's snapshot, and apply a batch of membership writes with one outcome each.
//
// The Mailchimp and CiviCRM clients are adapted to it in src/apply/sides.cpp; tests substitute
// fakes (to inject failures, or a kill between a write and its journal mark).
//
// Thread-safety: one run uses a side at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "concord/decide.h"
#include "concord/mailchimp_client.h"  // FetchStats
#include "concord/member.h"
#include "concord/plan.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

// One write, as the engine hands it to a side.
struct SideWrite {
  OpKind kind;
  std::string email;            // normalised
  std::int64_t contact_id = 0;  // CRM writes on an existing contact
  // Fields to set along with the write: Mailchimp merge tags (subscribe) or CRM fields
  // (create contact): name → value. Never blank values.
  std::vector<std::pair<std::string, std::string>> fields;
};

struct SideOutcome {
  enum class Code : std::uint8_t {
    kDone,     // done (for Mailchimp subscribes: possibly as `pending`, see status)
    kRefused,  // refused for good; `conflict` says why; the member is reported, not retried
    kFailed,   // not done now; retry in a later run
  };
  Code code = Code::kFailed;
  Conflict conflict = Conflict::kNone;  // kRefused: compliance, cleaned, forgotten, invalid-email
  std::string message;                  // the side's words
  Micros changed_at = kNoTime;          // the side's time of the change, when it says
  // Mailchimp: the member's status after the write as far as the answer shows (kAbsent: unknown).
  MailchimpStatus status = MailchimpStatus::kAbsent;
};

class SyncSide {
 public:
  virtual ~SyncSide() = default;
  virtual Side side() const = 0;
  // Resolves the audience/group named in the config (once; later calls are free). A name that
  // does not resolve is kInvalid/kNotFound saying so.
  virtual Status resolve() = 0;
  // Fetches into the pair's snapshot of this side: every member (full) or the changes since
  // the stored watermark.
  virtual Result<FetchStats> fetch(bool full, Store& store, const PairHandle& pair) = 0;
  // Reads these members (normalised emails) again into the pair's snapshot of this side: each
  // one's current record, or its removal when the side no longer has it. Watermarks stay.
  virtual Result<FetchStats> refresh(const std::vector<std::string>& emails, Store& store,
                                     const PairHandle& pair) = 0;
  // Applies writes (the engine hands at most batch_size() at a time); outcomes[i] belongs to
  // writes[i].
  virtual std::vector<SideOutcome> apply(const std::vector<SideWrite>& writes) = 0;
  virtual std::size_t batch_size() const = 0;
  // HTTP requests sent so far.
  virtual std::uint64_t requests() const = 0;
};

class MailchimpClient;
class CiviCrmClient;

// Adapters over the real clients. The clients are shared (one per account) and must outlive the
// adapters. `audience`/`group` are what the config names (id or name).
std::unique_ptr<SyncSide> mailchimp_side(MailchimpClient& client, std::string audience,
                                         Resubscribe resubscribe);
std::unique_ptr<SyncSide> civicrm_side(CiviCrmClient& client, std::string group);

}  // namespace concord
