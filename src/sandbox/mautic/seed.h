// The "mautic" object of a seed or state document (docs/sandbox.md "Seed format: the \"mautic\"
// object"): reading it into a Site, checking every field, and writing a Site back in the same
// format, complete enough to reload exactly. Contacts, segments and webhooks are in the shape the
// API returns them (plus segments' members and webhooks' recent answers).
//
// Thread-safety: pure functions; write_site's caller keeps the site from changing meanwhile.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "concord/status.h"
#include "concord/time.h"
#include "sandbox/json_writer.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// Reads the object's JSON text (nullopt: the document has none, which gives default_site()).
// `now` dates what does not say when it was added. Returns kInvalid naming the field, e.g.
// "contacts[2].fields.all.emial: not a contact field".
Result<Site> parse_site(std::optional<std::string_view> object, Micros now);

// Reads a segment's own fields (name, alias, description, isPublished, isGlobal, …) into *s; an
// absent alias is made from the name, unique among `site`'s segments. Returns "" or the problem,
// its path relative to the segment.
std::string read_segment(const ojson& j, const Site& site, Segment* s);

// The object, in the seed's format.
ojson site_json(const Site& s);

// The counts a reset answers with: {"contacts":n,"segments":n,"hooks":n}.
std::string site_counts(const Site& s);

}  // namespace concord::sandbox::mautic
