// Mautic's contact lists as concord reads them: an answer of GET /api/contacts into its contacts
// (each with its id, in id order) and its total, and one contact into a SourcePerson or the row to
// reject naming the field. Internal to src/sides/mautic/.
//
// The answer is {"total":"N","contacts":{"<id>":{…},…}}: an object keyed by id (an empty result is
// {}; [] and a list of contacts are read too) and a string total (an integer too).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "concord/record.h"
#include "concord/side.h"
#include "concord/status.h"

namespace concord::mautic {

// One contact of a page.
struct PageContact {
  std::int64_t id = 0;  // 0 when it cannot be read
  std::string label;    // the key or position it came under, for messages
  std::string problem;  // why the contact cannot be read at all (its id, its type); "" when fine
  const nlohmann::json* contact = nullptr;  // into the page's body
};

struct ContactsPage {
  std::vector<PageContact> contacts;   // ascending by id; those without a readable id first
  std::optional<std::uint64_t> total;  // the answer's total; nullopt when it sends none
};

// Reads a contacts answer. kUnavailable naming `what` when it is not one: not an object,
// `contacts` missing or neither an object nor a list, a total that is not a count. The page
// points into `body`, which must outlive it.
Result<ContactsPage> parse_contacts_page(const nlohmann::json& body, std::string_view what);

// One contact (REQUIRES: entry.problem is empty) as a person, or the row to reject naming the field
// (see MauticSegmentReader::read_all for what is read from where).
std::variant<SourcePerson, RejectedRow> read_contact(const PageContact& entry,
                                                     const std::vector<std::string>& fields);

}  // namespace concord::mautic
