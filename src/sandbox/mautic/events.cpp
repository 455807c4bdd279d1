#include "sandbox/mautic/events.h"

namespace concord::sandbox::mautic {
namespace {

constexpr std::string_view kVerbs[] = {"contactable", "unsubscribed", "bounced", "manual"};

}  // namespace

std::optional<EventType> event_named(std::string_view key) {
  for (const EventInfo& e : kEvents) {
    if (e.key == key) return e.type;
  }
  return std::nullopt;
}

std::string_view dnc_verb(int reason) {
  if (reason < 0 || reason >= static_cast<int>(std::size(kVerbs))) return kVerbs[1];
  return kVerbs[reason];
}

}  // namespace concord::sandbox::mautic
