// The fields of a webhook as /api/hooks takes them (the reference's §5.1): name, description,
// webhookUrl, secret, eventsOrderbyDir, triggers and isPublished, read from a request's parameters
// or a seed's hook, with Mautic's form checks.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>

#include "sandbox/json_writer.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// A form error: the field and Mautic's message for it.
struct FieldError {
  std::string field;
  std::string message;
};

// Reads the fields of `body` (an object) into *h. `full` (POST new, PUT, a seed): name and
// webhookUrl are required, absent optional fields go back to their defaults and `triggers`
// replaces the hook's; otherwise (PATCH) absent fields are kept and `triggers` are added to the
// hook's. Other keys are ignored. Triggers must be event names of /api/hooks/triggers. *h is
// changed only when it succeeds.
std::optional<FieldError> read_hook_body(const ojson& body, bool full, Hook* h);

}  // namespace concord::sandbox::mautic
