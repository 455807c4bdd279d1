// Reading the body of a member write (POST, PUT, PATCH, and each item of a batch subscribe): the
// API's schema checks with its messages, the email checks, then the merge values.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/account.h"
#include "sandbox/mailchimp/replies.h"

namespace concord::sandbox {

// Which write a body is for: they differ in the fields they require and accept.
enum class BodyKind { kPost, kPut, kPatch, kBatch };

// What a body asks to change; absent fields are nullopt.
struct MemberWrite {
  std::optional<std::string> email;  // trimmed
  std::optional<MemberStatus> status;
  std::optional<MemberStatus> status_if_new;
  std::optional<bool> text_email;
  std::optional<bool> vip;
  std::vector<std::pair<int, std::string>> merges;  // merge index, stored value
  std::optional<std::string> language, ip_signup, ip_opt;
  std::optional<Micros> timestamp_signup, timestamp_opt;
  std::optional<std::vector<std::string>> tags;
  // `interests`: the groups to join and to leave (bits of Interest::bit). Groups the body does
  // not name are left as they are.
  std::uint64_t interests_on = 0, interests_off = 0;
};

// "" when the API accepts the address; else the detail of its 400 Invalid Resource.
std::string email_problem(std::string_view raw);

// Parses and validates a member body: schema (types, enums, required fields), then the email,
// then merge values, then interests. Unknown merge tags are ignored, as the live API does; an
// unknown interest id is 400 "Invalid interest ID: '<id>'.". Returns the problem, or nullopt
// with *w filled.
std::optional<Problem> parse_member_body(const json& body, const List& l, BodyKind kind,
                                         MemberWrite* w);

}  // namespace concord::sandbox
