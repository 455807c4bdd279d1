// Generates sandbox seeds with two populated, overlapping lists: a Mailchimp audience and a
// CiviCRM group that already hold (about) N people each, for the quickstart and the end-to-end
// benchmark (`concord-sandbox --generate-seed FILE`, docs/sandbox.md "Generated seeds").
//
// The generated people cover every case the decision rules name (docs/decision-rules.md): on the
// Mailchimp side subscribed, pending, unsubscribed by the person (with their reason), by an admin
// or through the API, cleaned, archived and transactional members, and permanently deleted
// (forgotten) addresses; on the CiviCRM side multi-row Added/Removed/Pending/Deleted histories,
// trashed contacts, duplicates sharing an address, do-not-email, opt-out and on-hold contacts,
// contacts with several emails (bulk-mail apart from primary), contacts in no group, and invalid
// or fake-looking addresses. Times spread over a year (2025-03-01 to 2026-03-01): Mailchimp's in
// UTC, CiviCRM's site-local, across both daylight-saving periods of the site's zone, with two
// history rows in the hour that is repeated when the clocks go back.
//
// The output depends only on the options (and the zone database): the same options give the same
// bytes. It is compact JSON, one member, contact or history row per line.
#pragma once

#include <cstdint>
#include <string>

#include "concord/status.h"

namespace concord::sandbox {

struct SeedOptions {
  // About this many members in the Mailchimp list, and as many contacts in the CiviCRM group.
  std::int64_t members = 10000;
  // The fraction of them on both sides (0..1).
  double overlap = 0.5;
  // The fraction of those on both sides whose membership (IN/OUT) differs between the sides (0..1).
  double disagree = 0.1;
  // Seeds the generator.
  std::uint64_t random_seed = 1;
  // A seed document to start from ("" for none): its first list and first group receive the
  // generated people, everything else (keys, other lists and groups, its own members, contacts
  // and history) is kept. Without one: the default Mailchimp key, list b3d1c0ffee "Newsletter",
  // CiviCRM group 42 "newsletter", the default CiviCRM keys, site zone Europe/London.
  std::string base;
};

// Returns the seed document, or kInvalid for options out of range or a base that is not a seed
// document (naming what is wrong).
Result<std::string> generate_seed(const SeedOptions& options);

}  // namespace concord::sandbox
