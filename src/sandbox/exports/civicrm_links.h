// Linking CiviCRM's downloads into one site (docs/sandbox.md "Starting from exports"): the
// contacts get their ids, the groups theirs, each history row its contact and group, and each
// (contact, group) its membership.
//
// * Group ids are numbered from 1 in the order the titles are first seen: the contact export's
//   Group(s) cells, then the history's Group cells. A Group(s) cell joins titles with ", ", and
//   a title may hold ", " itself: the titles the history names are matched first (longest
//   first), the rest is split at ", ".
// * A history row names its contact by id, by address or by display name (whatever the download
//   shows); a name or address that fits no contact, or several, makes the row unreadable.
// * A membership follows the pair's latest history row (the latest date; at equal dates the
//   later row in the file), none when that is Deleted; a pair without history rows is Added when
//   Group(s) lists the group, and has no date anywhere (SubscriptionHistory has no row for it).
//   Where Group(s) and the latest history row disagree, the history wins (it keeps the site
//   self-consistent, as CiviCRM's own GroupContact/SubscriptionHistory pair is) and the
//   contact's row is listed, so the disagreement is seen.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "concord/time.h"
#include "sandbox/exports/civicrm_export.h"
#include "sandbox/exports/problems.h"

namespace concord::sandbox::exports {

struct LinkedGroup {
  std::int64_t id = 0;
  std::string title;
  std::int64_t added = 0;         // memberships with status Added
  std::int64_t history_rows = 0;  // history rows naming it
};

struct LinkedHistory {
  std::int64_t contact_id = 0, group_id = 0;
  Micros date = kNoTime;
  std::string status, method;
};

struct LinkedMembership {
  std::int64_t contact_id = 0, group_id = 0;
  std::string status;
};

struct LinkedSite {
  std::vector<CrmContact> contacts;       // every one with its id, in id order
  std::vector<LinkedGroup> groups;        // in id order
  std::vector<LinkedHistory> history;     // in the order the rows happened
  std::vector<LinkedMembership> members;  // in (contact, group) order
  // The group the downloads are about: the one with most history rows, else most members
  // (the lowest id on a tie); 0 when there is no group.
  std::int64_t main_group = 0;
};

// Links what read_contact_file() and read_history_file() read. History rows that name no
// contact, and disagreements between Group(s) and the history, are added to `problems`.
LinkedSite link_civicrm(CrmExport crm, ExportProblems* problems);

}  // namespace concord::sandbox::exports
