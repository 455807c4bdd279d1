// The keys of a pair's meta family, named in one place (docs/store-format.md lists them).
//
// Thread-safety: constants and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/email.h"

namespace concord::meta {

// When the last full fetch of both sides ended: decimal µs since the epoch.
inline constexpr std::string_view kLastFullFetch = "fetch.last_full";
// The directory of the backup made before the pair's first apply.
inline constexpr std::string_view kFirstBackup = "backup.first";
// The field mapping the bases were last settled under (tag=crm_field/direction/type;…): a run
// under another mapping reads the CRM in full and decides every member's fields.
inline constexpr std::string_view kFieldMapping = "fields.mapping";
// The mapped fields as the last run resolved them against the audience (JSON; what `explain`
// decides fields with, offline): [{"tag","crm","direction","type","date_format","choices"}].
inline constexpr std::string_view kFieldSpecs = "fields.specs";
// The last run id given out: decimal.
inline constexpr std::string_view kLastRunId = "runs.last_id";
// The lowest run id whose journal may still hold open (kPlanned) entries: every entry of an
// earlier run is resolved, so finding open entries never reads the whole journal history.
inline constexpr std::string_view kJournalOpenFrom = "journal.open_from";
// A run that both reported and journaled in one pass of the diff (its pair's base was empty): its
// id, decimal, from before the pass until the run goes on to apply. Found at the start of a run,
// that run's journal entries and the bases it wrote are removed (the run died before sending
// anything, or a guard was about to stop it).
inline constexpr std::string_view kSinglePassRun = "journal.single_pass_run";
// Runs below this id were pruned (RunLog::prune) or kept for good reason and looked at: decimal.
inline constexpr std::string_view kPrunedBefore = "runs.pruned_before";

// The watermark of an incremental read: decimal µs. Per audience and per group, so that a pair
// pointed at another audience or group starts afresh.
inline constexpr std::string_view kMailchimpWatermarkPrefix = "mailchimp.watermark/";
inline constexpr std::string_view kCivicrmWatermarkPrefix = "civicrm.watermark/";
std::string mailchimp_watermark(std::string_view list_id);
std::string civicrm_watermark(std::int64_t group_id);
// A one-way source's: per kind ("auth0") and set (the connection's name).
inline constexpr std::string_view kSourceWatermarkPrefix = "source.watermark/";
std::string source_watermark(std::string_view kind, std::string_view set);
// A one-time mirror's: the run that mirrored it (decimal); the pair stays disabled after it.
inline constexpr std::string_view kOneTimeDone = "mirror.one_time_done";

// The daemon's: when it first served the pair (decimal µs), whether the pair's schedule is on
// ("1"/"0", absent = on), and the webhook deliveries stored and not yet reconciled
// ("webhook.event/" + a 20-digit number, so they sort in arrival order).
inline constexpr std::string_view kServeCreated = "serve.created";
inline constexpr std::string_view kServeEnabled = "serve.enabled";
inline constexpr std::string_view kWebhookEventPrefix = "webhook.event/";

// Addresses Mailchimp refused for good: "refused/" + the subscriber hash (32 hex digits). Hex
// keeps the members' key order, so the diff reads them with a forward cursor beside the
// snapshots. The value is encode_refusal()'s (refusal.h).
inline constexpr std::string_view kRefusalPrefix = "refused/";
std::string refusal_key(const MemberKey& key);
// The member a refusal key names; false for a key of another shape.
bool member_of_refusal_key(std::string_view key, MemberKey* out);

}  // namespace concord::meta
