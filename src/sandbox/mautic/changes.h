// What happens to a contact, whether the API or a person in Mautic's pages does it, with the
// webhook events each change fires (the reference's §5.2) and its effect on dateModified:
//   * a save with changes moves dateModified and modifiedBy, and fires lead_post_save_new when it
//     identifies the contact (created with a name, a company or an email, or an anonymous visitor
//     that got one), else lead_post_save_update; an anonymous contact fires neither;
//   * points that change on an existing contact fire lead_points_change (not when both the old
//     and the new value are <= 0);
//   * a do-not-contact entry added or removed fires lead_channel_subscription_changed and, being
//     saved through the contact, lead_post_save_update; it moves dateModified only under
//     Settings::dnc_updates_date_modified (Mautic before PR #13994);
//   * segment membership fires lead_list_change and does not touch the contact;
//   * a deletion fires lead_post_delete.
// Every function appends the events it fired to *fired, in the order Mautic dispatches them.
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "concord/time.h"
#include "sandbox/mautic/events.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// A change to a contact's data. REQUIRES: every alias is a field of the site, other than
// "points" (points go in `points`).
struct ContactEdit {
  std::map<std::string, ojson> fields;  // alias -> value; null or "" clears it
  std::optional<std::int64_t> points;
  std::optional<std::vector<std::string>> tags;  // the whole set
};

// A new contact (dateAdded and dateModified now). Returns it.
Contact& create_contact(Site& site, const ContactEdit& edit, Micros now, std::vector<Fired>* fired);
// Applies `edit` to `c`; an edit that changes nothing fires nothing and moves nothing.
void edit_contact(Site& site, Contact& c, const ContactEdit& edit, Micros now,
                  std::vector<Fired>* fired);
// Deletes the contact with its memberships. REQUIRES: it exists.
void delete_contact(Site& site, std::int64_t id, Micros now, std::vector<Fired>* fired);

struct DncAdd {
  std::string channel = "email";
  int reason = kReasonManual;  // REQUIRES: >= 1
  std::string comments;
  ojson channel_id;
};
// Adds the channel's entry, or changes the reason of the one there. Returns false (nothing fired)
// when an entry with that reason is there already.
bool add_dnc(Site& site, Contact& c, const DncAdd& add, Micros now, std::vector<Fired>* fired);
// Removes the channel's entry. Returns false (nothing fired) when there was none.
bool remove_dnc(Site& site, Contact& c, const std::string& channel, Micros now,
                std::vector<Fired>* fired);

// Adds or removes a member. Returns false (nothing fired) when the contact was already in (or
// already out of) the segment.
bool add_to_segment(Site& site, Segment& s, const Contact& c, Micros now,
                    std::vector<Fired>* fired);
bool remove_from_segment(Site& site, Segment& s, const Contact& c, Micros now,
                         std::vector<Fired>* fired);

}  // namespace concord::sandbox::mautic
