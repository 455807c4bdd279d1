// Who is who on the CRM side (src/core/crm_identity.h), as tables: which address represents a
// contact, and which contact represents an address several contacts share. Each row runs in its own
// DYNAMIC_SECTION named after it, so a failure names the rule that broke.
#include "core/crm_identity.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace concord {
namespace {

// One address, written as a few letters: "b" bulk-mail, "p" primary, "h" on hold, "m" Mailchimp
// has it (preferred), "-" no address at all; "" a plain address.
AddressFacts address(std::string_view code) {
  AddressFacts f;
  f.usable = code.find('-') == std::string_view::npos;
  f.is_bulkmail = code.find('b') != std::string_view::npos;
  f.is_primary = code.find('p') != std::string_view::npos;
  f.on_hold = code.find('h') != std::string_view::npos;
  f.preferred = code.find('m') != std::string_view::npos;
  return f;
}

struct AddressRow {
  const char* rule;
  std::vector<std::string_view> addresses;
  std::size_t chosen;  // kNoAddress: none represents the contact
};

const std::vector<AddressRow> kAddressRows = {
    {"one address represents its contact", {""}, 0},
    {"one address on hold still represents its contact", {"h"}, 0},
    {"the bulk-mail address before the primary", {"p", "b"}, 1},
    {"the primary before any other", {"", "p"}, 1},
    {"else the first", {"", ""}, 0},
    {"an address on hold only when there is no other", {"hb", "p"}, 1},
    {"on hold all: the rule among them", {"h", "hp"}, 1},
    {"an empty row never represents", {"-b", ""}, 1},
    {"no usable address: none", {"-", "-p"}, kNoAddress},
    {"no address at all: none", {}, kNoAddress},
    {"the address Mailchimp has before the bulk-mail one", {"b", "m"}, 1},
    {"among those Mailchimp has: the bulk-mail one", {"m", "mb", "p"}, 1},
    {"among those Mailchimp has: the primary", {"mp", "b", "m"}, 0},
    {"among those Mailchimp has: the first", {"p", "m", "m"}, 1},
    {"Mailchimp's address even on hold (it is the member Mailchimp has)", {"b", "mh"}, 1},
    {"an empty row is never preferred", {"-m", "p"}, 1},
};

TEST_CASE("the address that represents a contact") {
  for (const AddressRow& row : kAddressRows) {
    DYNAMIC_SECTION(row.rule) {
      std::vector<AddressFacts> facts;
      for (std::string_view code : row.addresses)
        facts.push_back(address(code));
      CHECK(representative_address(facts) == row.chosen);
    }
  }
}

CrmMember contact(std::int64_t id, CrmStatus status, bool trashed = false) {
  CrmMember m;
  m.contact_id = id;
  m.state.status = status;
  m.state.trashed = trashed;
  m.state.contact_known = true;
  return m;
}

struct DuplicateRow {
  const char* rule;
  CrmMember a, b;
  std::int64_t winner;
};

const std::vector<DuplicateRow> kDuplicateRows = {
    {"in the group before out of it", contact(7, CrmStatus::kRemoved),
     contact(9, CrmStatus::kAdded), 9},
    {"in the group before never in it", contact(9, CrmStatus::kAdded), contact(3, CrmStatus::kNone),
     9},
    {"a trashed contact is not in the group", contact(3, CrmStatus::kAdded, true),
     contact(9, CrmStatus::kRemoved), 9},
    {"both in the group: the lowest id", contact(9, CrmStatus::kAdded),
     contact(3, CrmStatus::kAdded), 3},
    {"neither in the group: not trashed first", contact(3, CrmStatus::kRemoved, true),
     contact(9, CrmStatus::kPending), 9},
    {"neither in the group nor trashed: the lowest id", contact(9, CrmStatus::kDeleted),
     contact(3, CrmStatus::kNone), 3},
    {"both trashed: the lowest id", contact(9, CrmStatus::kAdded, true),
     contact(3, CrmStatus::kRemoved, true), 3},
};

TEST_CASE("the contact that represents a shared address") {
  for (const DuplicateRow& row : kDuplicateRows) {
    DYNAMIC_SECTION(row.rule) {
      CHECK(represents_before(row.a, row.b) == (row.a.contact_id == row.winner));
      CHECK(represents_before(row.b, row.a) == (row.b.contact_id == row.winner));
      // Merged either way round: the same member.
      for (bool swap : {false, true}) {
        CrmMember m = swap ? merge_duplicates(row.b, row.a) : merge_duplicates(row.a, row.b);
        CHECK(m.contact_id == row.winner);
        CHECK(m.state.duplicate);
        const std::int64_t loser =
            row.a.contact_id == row.winner ? row.b.contact_id : row.a.contact_id;
        CHECK(m.duplicates == std::vector<std::int64_t>{loser});
      }
    }
  }
}

TEST_CASE("merged duplicates keep every other contact once, ascending, and the winner's state") {
  CrmMember a = contact(5, CrmStatus::kAdded);
  a.duplicates = {8, 12};
  a.first_name = "Betty";
  a.state.email_on_hold = true;
  a.addresses = {{"betty@bedrock.org", true, false, 1}, {"b@rubble.org", false, false, 0}};
  CrmMember b = contact(12, CrmStatus::kRemoved);
  b.duplicates = {2, 8};
  b.first_name = "Other";
  CrmMember m = merge_duplicates(b, a);
  CHECK(m.contact_id == 5);
  CHECK(m.duplicates == std::vector<std::int64_t>{2, 8, 12});
  CHECK(m.first_name == "Betty");
  CHECK(m.state.email_on_hold);
  CHECK(m.state.status == CrmStatus::kAdded);
  CHECK(m.addresses.size() == 2);
}

}  // namespace
}  // namespace concord
