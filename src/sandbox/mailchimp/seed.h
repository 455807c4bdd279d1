// Reading the Mailchimp part of a seed or state document (docs/sandbox.md "Seed format"):
//   {"mailchimp": {"api_key": "...-us6", "lists": [ {..., "merge_fields": [...],
//                  "members": [...]} ]},
//    "clock": "2026-03-01T00:00:00+00:00"}
// The "civicrm" part is skipped without being built (civicrm/seed.h reads it); other unknown
// top-level keys are ignored. parse_seed() reads the document with a SAX parser that converts
// each member as soon as it is complete, so seeding a million members takes seconds and does not
// build a DOM of the whole document.
//
// Thread-safety: pure functions.
#pragma once

#include <memory>
#include <string_view>

#include "concord/status.h"
#include "concord/time.h"
#include "sandbox/mailchimp/account.h"

namespace concord::sandbox {

// The API key of an account started without a seed or state.
inline constexpr std::string_view kDefaultApiKey = "0123456789abcdef0123456789abcdef-us6";

struct LoadedState {
  std::unique_ptr<Account> account;
  Micros clock = kNoTime;  // the fixed clock, when the document has "clock"
};

// Parses a seed or state document. `now` stands in for missing member times. Returns kInvalid
// naming the path of the first problem (e.g. "mailchimp.lists[0].members[3].status: ...").
Result<LoadedState> parse_seed(std::string_view text, Micros now);
// An account with the default key and no lists.
std::unique_ptr<Account> empty_account();

}  // namespace concord::sandbox
