// Reading what reference §15–16 adds to a seed's lists (docs/sandbox.md "Seed format"): interest
// categories with their interests, segments (the list's tags), and members' interests and events.
// seed.cpp calls these while it builds a list; state.cpp writes the same keys.
//
// Each function returns false with *err naming the path of the problem
// (e.g. "mailchimp.lists[0].interest_categories[1].type: ...").
//
// Thread-safety: pure functions over the account being built.
#pragma once

#include <string>
#include <vector>

#include "concord/time.h"
#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/account.h"

namespace concord::sandbox {

// "interest_categories": [{"id", "title", "type", "display_order", "grouping_id",
//                          "interests": [{"id", "name", "display_order"}]}]
// (read-only keys of the API's shapes, such as list_id or subscriber_count, are ignored).
bool read_interest_categories(const json& arr, Account* a, List* l, std::string* err,
                              const std::string& path);

// "segments" (or the older "tags"): [{"id", "name", "type": "static", "created_at",
// "updated_at"}]. A name the list already has because a member read earlier carries that tag
// takes the declared id and times; a name or an id declared twice is an error. `declared` holds
// the ids declared so far for the list.
bool read_segments(const json& arr, Account* a, List* l, std::vector<std::uint32_t>* declared,
                   std::string* err, const std::string& path);

// A member's "interests": {"<interest id>": true|false}. REQUIRES: the list's categories are read.
bool read_member_interests(const json& obj, const List& l, std::uint64_t* out, std::string* err,
                           const std::string& path);

// A member's "events": [{"name", "properties": {…strings}, "occurred_at"}], oldest first.
bool read_member_events(const json& arr, std::vector<MemberEvent>* out, std::string* err,
                        const std::string& path);

}  // namespace concord::sandbox
