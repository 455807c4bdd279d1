// The "settings" object of the Mautic part's seed, state and POST /_sandbox/mautic/settings: one
// reader and one writer, so that both check a value the same way.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "sandbox/json_writer.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// Reads the keys of `j` over *out (absent keys are kept). Returns "" or the problem, its path
// relative to the object ("queue_mode: expected …").
std::string read_settings(const ojson& j, Settings* out);
// Every key.
ojson settings_json(const Settings& s);

}  // namespace concord::sandbox::mautic
