// Reading the CiviCRM part of a seed or state document (docs/sandbox.md "Seed format": the
// "civicrm" object; the other parts are skipped without being built). Contacts, emails and
// history rows are converted as they are read, so a million-contact seed takes seconds.
//
// Thread-safety: pure functions.
#pragma once

#include <memory>
#include <string_view>

#include "concord/status.h"
#include "concord/time.h"

namespace concord::sandbox {

// The credentials of a site started without a "civicrm" part in its seed.
inline constexpr std::string_view kDefaultCivicrmApiKey = "sandbox-civicrm-api-key";
inline constexpr std::string_view kDefaultCivicrmSiteKey = "sandbox-civicrm-site-key";

// The CiviCRM site's data and settings (opaque outside the part; see site.h).
struct CiviSite;
struct CiviSiteDeleter {
  void operator()(CiviSite* site) const;
};
using CiviSitePtr = std::unique_ptr<CiviSite, CiviSiteDeleter>;

// Parses the "civicrm" part of a seed or state document (the whole document). A document without
// that part gives an empty site with the default credentials, in UTC. `now` (UTC) stands in for
// missing creation times. Returns kInvalid naming the path of the first problem, e.g. "seed:
// civicrm.contacts[3].emails[0].email: expected a string".
Result<CiviSitePtr> parse_civicrm_seed(std::string_view document, Micros now);

// An empty site with the default credentials, in UTC.
CiviSitePtr empty_civicrm_site();

}  // namespace concord::sandbox
