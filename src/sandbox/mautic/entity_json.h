// How the Mautic part writes its entities: a contact in each of the shapes Mautic's serializer
// gives it (the API's, the API's `minimal` one, a webhook payload's), a segment, a webhook, a
// do-not-contact entry, and the text of a JSON value as PHP's json_encode() writes it.
//
// Bodies are built as ordered JSON values, in Mautic's key order, and written with php_text():
// an empty PHP array is written `[]`, so a builder says `ojson::array()` where Mautic has an
// empty array and `ojson::object()` where the reference shows `{}`.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "concord/time.h"
#include "sandbox/json_writer.h"
#include "sandbox/mautic/columns.h"
#include "sandbox/mautic/site.h"

namespace concord::sandbox::mautic {

// `v` as PHP's json_encode() writes it with its default flags: '/' as "\/", every non-ASCII
// character as \uXXXX (bad UTF-8 as U+FFFD). Never throws.
std::string php_text(const ojson& v);

// An ISO 8601 time with its offset ("2024-05-01T12:27:12+00:00"), or null for kNoTime.
ojson time_json(Micros t);

enum class ContactView : std::uint8_t {
  kFull,     // the API's: every key, and fields.all
  kMinimal,  // the API's `minimal`: id, points, color, fields and the publish keys
  kWebhook,  // a delivery's: fields by group only (no `all`), entries with object and is_fixed
  kDeleted,  // lead_post_delete's: as kWebhook, without tags, and with a null id
};
ojson contact_json(const Site& site, const Contact& c, ContactView view);
// A contact restricted to `columns` (select[]): its id, the selected columns that are not fields
// under their API names, and the selected fields in fields.all.
ojson selected_contact_json(const Contact& c, const std::vector<Column>& columns);

ojson dnc_json(const DoNotContact& d);
ojson segment_json(const Segment& s);
// A webhook as /api/hooks shows it; `deleted`: after its deletion (its id is null).
ojson hook_json(const Hook& h, bool deleted = false);

}  // namespace concord::sandbox::mautic
