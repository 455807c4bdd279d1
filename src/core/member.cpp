#include "concord/member.h"

namespace concord {

std::string_view side_name(Side side) {
  return side == Side::kMailchimp ? "mailchimp" : "crm";
}

std::optional<MailchimpStatus> parse_mailchimp_status(std::string_view s) {
  if (s == "subscribed") return MailchimpStatus::kSubscribed;
  if (s == "unsubscribed") return MailchimpStatus::kUnsubscribed;
  if (s == "cleaned") return MailchimpStatus::kCleaned;
  if (s == "pending") return MailchimpStatus::kPending;
  if (s == "transactional") return MailchimpStatus::kTransactional;
  if (s == "archived") return MailchimpStatus::kArchived;
  return std::nullopt;
}

std::string_view mailchimp_status_name(MailchimpStatus s) {
  switch (s) {
    case MailchimpStatus::kAbsent:
      return "absent";
    case MailchimpStatus::kSubscribed:
      return "subscribed";
    case MailchimpStatus::kPending:
      return "pending";
    case MailchimpStatus::kUnsubscribed:
      return "unsubscribed";
    case MailchimpStatus::kCleaned:
      return "cleaned";
    case MailchimpStatus::kArchived:
      return "archived";
    case MailchimpStatus::kTransactional:
      return "transactional";
    case MailchimpStatus::kForgotten:
      return "forgotten";
  }
  return "unknown";
}

Membership membership_of(MailchimpStatus s) {
  return s == MailchimpStatus::kSubscribed || s == MailchimpStatus::kPending ? Membership::kIn
                                                                             : Membership::kOut;
}

UnsubscribeOrigin unsubscribe_origin(std::string_view reason) {
  if (reason.empty()) return UnsubscribeOrigin::kUnknown;
  if (reason.find("Unsubscribed by admin") != std::string_view::npos) {
    return UnsubscribeOrigin::kAdmin;
  }
  return UnsubscribeOrigin::kSelf;
}

Micros mailchimp_status_changed_at(const std::optional<StoredMailchimpStatus>& stored,
                                   MailchimpStatus fetched, Micros last_changed,
                                   Micros timestamp_opt) {
  if (!stored || stored->status == MailchimpStatus::kAbsent) {
    bool opted_in = fetched == MailchimpStatus::kSubscribed || fetched == MailchimpStatus::kPending;
    if (opted_in && timestamp_opt != kNoTime) return timestamp_opt;
    return last_changed;
  }
  if (stored->status != fetched) return last_changed;
  return stored->changed_at;
}

Micros crm_consent_changed_at(const std::optional<StoredConsent>& stored, bool withheld,
                              Micros modified_at) {
  if (!stored) return withheld ? modified_at : kNoTime;
  if (stored->withheld != withheld) return modified_at;
  return stored->changed_at;
}

std::optional<CrmStatus> parse_crm_status(std::string_view s) {
  if (s == "Added") return CrmStatus::kAdded;
  if (s == "Removed") return CrmStatus::kRemoved;
  if (s == "Pending") return CrmStatus::kPending;
  if (s == "Deleted") return CrmStatus::kDeleted;
  return std::nullopt;
}

std::string_view crm_status_name(CrmStatus s) {
  switch (s) {
    case CrmStatus::kNone:
      return "none";
    case CrmStatus::kAdded:
      return "Added";
    case CrmStatus::kRemoved:
      return "Removed";
    case CrmStatus::kPending:
      return "Pending";
    case CrmStatus::kDeleted:
      return "Deleted";
  }
  return "unknown";
}

}  // namespace concord
