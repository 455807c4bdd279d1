// Writing the CiviCRM part of the state document, in the seed's format (seed.h), complete enough
// to reload exactly. Values that are the seed's defaults are left out: a million rows add up.
//
// Thread-safety: the caller keeps the site from changing meanwhile.
#pragma once

#include "sandbox/json_writer.h"

namespace concord::sandbox {

struct CiviSite;

// The "civicrm" object of the state document.
void write_site(JsonOut& o, const CiviSite& s);

}  // namespace concord::sandbox
