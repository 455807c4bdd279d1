// One batch-subscribe call (POST /lists/{list_id}, up to 500 members): its body, written as JSON
// text, and its answer, read with simdjson. A migration sends a member through here once, and the
// answer lists every member it added or updated in full: nlohmann::json's tree of each (built to
// read three fields) cost more than the rest of the write. Internal to src/sides/mailchimp/.
//
// Thread-safety: plain functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/mailchimp_client.h"

namespace concord::mailchimp {

// What an error text of Mailchimp's means for the member ("Member In Compliance State", "Forgotten
// Email Not Subscribed", …).
WriteOutcome::Code classify_error(std::string_view text);

// The body for writes[i] of each i in `part`, as pending when `as_pending`.
std::string batch_subscribe_body(const std::vector<MailchimpWrite>& writes,
                                 std::span<const std::size_t> part, bool as_pending);

// Puts the outcome of writes[i] of each i in `part` into out[i], from the call's answer (a
// failed call, one that is not 200, or an unreadable answer fails them all). Subscribes refused
// for compliance are also listed in *compliance when it is given.
void read_batch_subscribe(Result<http::Response>& r, const std::vector<MailchimpWrite>& writes,
                          std::span<const std::size_t> part, bool as_pending,
                          std::vector<WriteOutcome>& out, std::vector<std::size_t>* compliance);

}  // namespace concord::mailchimp
