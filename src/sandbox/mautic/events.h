// The webhook events (the reference's §5.2): their keys, what GET /api/hooks/triggers says of
// them, the do-not-contact verbs their payloads use, and an event as a change fires it.
//
// Thread-safety: constant tables and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "concord/time.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::mautic {

enum class EventType : std::uint8_t {
  kSaveNew,              // a contact was just identified
  kSaveUpdate,           // any other save of an identified contact with changes
  kPointsChange,         // points changed on an existing contact
  kDelete,               // a contact deleted
  kChannelSubscription,  // a do-not-contact entry added or removed
  kListChange,           // segment membership added or removed
  // Listed by /api/hooks/triggers, never fired: the sandbox has no companies.
  kCompanyChange,
  kCompanySave,
  kCompanyDelete,
};

struct EventInfo {
  EventType type;
  std::string_view key;  // the JSON key of a delivery's body, and the trigger's name
  std::string_view label;
  std::string_view description;
};
inline constexpr EventInfo kEvents[] = {
    {EventType::kSaveNew, "mautic.lead_post_save_new", "Contact Identified Event",
     "Triggered when a contact is identified."},
    {EventType::kSaveUpdate, "mautic.lead_post_save_update", "Contact Updated Event",
     "Triggered when a contact is updated."},
    {EventType::kPointsChange, "mautic.lead_points_change", "Contact Points Changed Event",
     "Triggered when a contact's points change."},
    {EventType::kDelete, "mautic.lead_post_delete", "Contact Deleted Event",
     "Triggered when a contact is deleted."},
    {EventType::kChannelSubscription, "mautic.lead_channel_subscription_changed",
     "Contact Channel Subscription Change Event",
     "Triggered when a contact's do-not-contact status on a channel changes."},
    {EventType::kListChange, "mautic.lead_list_change", "Contact Segment Membership Change Event",
     "Triggered when a contact is added to or removed from a segment."},
    {EventType::kCompanyChange, "mautic.lead_company_change",
     "Contact Company Subscription Change Event",
     "Triggered when a contact is added to or removed from a company."},
    {EventType::kCompanySave, "mautic.company_post_save", "Company Create/Update Event",
     "Triggered when a company is created or updated."},
    {EventType::kCompanyDelete, "mautic.company_post_delete", "Company Delete Event",
     "Triggered when a company is deleted."},
};

inline std::string_view event_key(EventType t) {
  return kEvents[static_cast<int>(t)].key;
}
// The event of that key; nullopt for another name.
std::optional<EventType> event_named(std::string_view key);

// The status a do-not-contact reason gives in a channel-subscription payload: contactable (0),
// unsubscribed (1, and any unknown reason), bounced (2), manual (3).
std::string_view dnc_verb(int reason);

// An event a change fired: its payload item without its timestamp, and when it happened (the
// timestamp every delivery of it carries).
struct Fired {
  EventType type = EventType::kSaveUpdate;
  ojson payload;
  Micros at = kNoTime;
};

}  // namespace concord::sandbox::mautic
