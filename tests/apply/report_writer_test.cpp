// ReportWriter alone: rows reach the store in order, in batches, and a member's row can be
// amended after it was written.
#include "apply/report_writer.h"

#include <catch2/catch.hpp>

#include <string>

#include "concord/journal.h"
#include "temp_store.h"

namespace concord {
namespace {

using testing::TempStore;

ReportEntry row(const std::string& email, const std::string& conflict) {
  ReportEntry e;
  e.email = email;
  e.conflict = conflict;
  e.reason = "planned";
  return e;
}

std::vector<ReportEntry> stored(TempStore& t, std::uint64_t run) {
  Result<std::vector<ReportEntry>> rows = RunLog(*t.store, *t.pair).report_rows(run);
  REQUIRE(rows.is_ok());
  return *rows;
}

TEST_CASE("rows are stored in the order added, past several batches") {
  TempStore t;
  ReportWriter w(*t.store, *t.pair, 7);
  for (int i = 0; i < 2500; ++i) {
    const std::string email = "m" + std::to_string(i) + "@example.org";
    const MemberKey k = member_key(email);
    REQUIRE(w.add(&k, row(email, "both-changed")).is_ok());
  }
  // Some are on disk before the end (memory does not grow with the report).
  CHECK(stored(t, 7).size() >= 2000);
  REQUIRE(w.flush().is_ok());
  const std::vector<ReportEntry> rows = stored(t, 7);
  REQUIRE(rows.size() == 2500);
  CHECK(w.rows() == 2500);
  CHECK(rows.front().email == "m0@example.org");
  CHECK(rows.back().email == "m2499@example.org");
  CHECK(stored(t, 8).empty());  // another run's rows are apart
}

TEST_CASE("a member's row is amended in place, written or not") {
  TempStore t;
  ReportWriter w(*t.store, *t.pair, 1);
  const MemberKey early = member_key("early@example.org");
  REQUIRE(w.add(&early, row("early@example.org", "both-changed")).is_ok());
  for (int i = 0; i < 1200; ++i)  // pushes the first row to disk
    REQUIRE(w.add(nullptr, row("x" + std::to_string(i) + "@example.org", "invalid-email")).is_ok());
  const MemberKey late = member_key("late@example.org");
  REQUIRE(w.add(&late, row("late@example.org", "opt-out")).is_ok());
  CHECK(w.has(early));
  CHECK(w.has(late));
  CHECK_FALSE(w.has(member_key("x1@example.org")));  // added without a key

  auto fail = [](ReportEntry& e) {
    e.conflict = "failed-write";
    e.reason += "; mailchimp failed add_to_mailchimp";
  };
  REQUIRE(w.amend(early, fail).is_ok());
  REQUIRE(w.amend(late, fail).is_ok());
  REQUIRE(w.flush().is_ok());
  const std::vector<ReportEntry> rows = stored(t, 1);
  REQUIRE(rows.size() == 1202);
  CHECK(rows.front().email == "early@example.org");
  CHECK(rows.front().conflict == "failed-write");
  CHECK(rows.front().reason == "planned; mailchimp failed add_to_mailchimp");
  CHECK(rows.back().email == "late@example.org");
  CHECK(rows.back().conflict == "failed-write");
}

}  // namespace
}  // namespace concord
