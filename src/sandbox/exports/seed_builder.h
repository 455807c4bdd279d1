// Writes what the export readers read as a sandbox seed (docs/sandbox.md "Seed format"), which
// the sandbox then loads as it loads any seed: one reader of the state, whatever it came from.
// The choices that fill in what an export does not carry are documented in docs/sandbox.md
// "Starting from exports" and said again where they are made.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sandbox/exports/civicrm_links.h"
#include "sandbox/exports/mailchimp_export.h"

namespace concord::sandbox::exports {

// The list id of an audience whose files carry no export id.
inline constexpr std::string_view kDefaultListId = "a0d1e2c3b4";

// What an audience becomes: its list id and name.
struct AudienceName {
  std::string id;
  std::string name;
};
AudienceName audience_name(const AudienceExport& audience);

// The merge tags of an audience's merge columns, in the same order: the tags of a new audience's
// fields for their names (First Name FNAME, Last Name LNAME, Address ADDRESS, Phone Number PHONE,
// Birthday BIRTHDAY), else the name's ASCII letters and digits upper-cased and cut to 10
// characters, else (nothing left, or taken) MMERGE<n> as Mailchimp names a field given no tag.
std::vector<std::string> merge_tags(const std::vector<std::string>& names);

// The seed document: a "mailchimp" part with a list per audience, and a "civicrm" part with the
// linked site (left out when `site` has no contacts, which gives the empty site).
std::string build_seed(const std::vector<AudienceExport>& audiences, const LinkedSite& site);

}  // namespace concord::sandbox::exports
