// Writing the Mailchimp part of the state document, in the seed's format (seed.h), complete
// enough to reload exactly.
//
// Thread-safety: pure functions; the caller keeps the account from changing meanwhile.
#pragma once

#include <string>

#include "concord/time.h"
#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/account.h"

namespace concord::sandbox {

// The "mailchimp" part of the state document (an object).
void write_mailchimp_state(JsonOut& out, const Account& account);
// The whole document: {"mailchimp": {...}, "clock": "..."} ("clock" only when fixed).
std::string state_document(const Account& account, Micros fixed_clock);

}  // namespace concord::sandbox
