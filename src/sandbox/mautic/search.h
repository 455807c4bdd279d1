// The `search` parameter of GET /api/contacts: Mautic's search string (docs/sandbox.md "The
// Mautic API", Reading contacts). Terms are separated by spaces and must all hold; a term is
// free text or `command:value`, `!` before it negates it, and a value in double quotes is matched
// whole ("strict") instead of as a prefix.
//
//   segment:<alias>       members of the segment with that alias (none when there is no such one)
//   ids:1,2,3             those ids
//   email:<x>, name:<x>, <field alias>:<x>   the field LIKE 'x%' (name: first or last name)
//   tag:<x>               a tag LIKE 'x%'
//   dnc:<channel>, dnc:any   a do-not-contact entry on the channel, or on any
//   is:anonymous, is:unowned, is:mine, is:published, is:unpublished
//   free text             LIKE '%text%' on first and last name, email, company, city, state,
//                         zip code, country and the social fields
// Other commands of Mautic's (owner:, company:, stage:, common:, …) are refused, not ignored.
//
// Thread-safety: pure functions; a Match reads the site it was made with, under the caller's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// A term of a search string: `!command:"value"`.
struct SearchTerm {
  bool negate = false;
  std::string command;  // lower-cased; "" for free text
  std::string value;
  bool strict = false;  // quoted: matched whole
};
// The terms of a search string, split at spaces outside double quotes.
std::vector<SearchTerm> search_terms(std::string_view search);

// The integers of a comma-separated list ("1, 2,x,3" gives 1, 2, 3: what is not one is skipped).
std::set<std::int64_t> id_list(std::string_view text);

// Whether a contact is selected.
using Match = std::function<bool(const Contact&)>;

// The search string as a Match (REQUIRES: `site` outlives it); kInvalid with the 400's detail
// for a command the sandbox does not know.
Result<Match> parse_search(const Site& site, std::string_view search);

}  // namespace concord::sandbox::mautic
