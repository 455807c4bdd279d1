// A stream's durable state over a real store: what an accepted request leaves queued and
// counted, duplicates by insert_id, events in flight found again after a restart, settling,
// the 7-day window, and the per-member history `concord explain` reads.
#include <catch2/catch.hpp>

#include "serve/stream_queue.h"
#include "temp_store.h"

using namespace concord;
using namespace concord::serve;
using concord::testing::TempStore;

namespace {

constexpr Micros kDay = 24 * 3600 * kMicrosPerSecond;
constexpr Micros kNow = 1790000000 * kMicrosPerSecond;

Intake queued(const std::string& email, const std::string& insert_id, const std::string& type) {
  Intake in;
  in.event.user_id = email;
  in.event.device_id = "device-1";
  in.event.event_type = type;
  in.event.insert_id = insert_id;
  in.event.time_ms = 1790000000123;
  in.event.event_properties = R"({"plan":"pro"})";
  in.email = email;
  return in;
}

Intake dropped(DropReason why, const std::string& insert_id = "") {
  Intake in;
  in.event.device_id = "device-2";
  in.event.event_type = "Page Viewed";
  in.event.insert_id = insert_id;
  in.dropped = why;
  return in;
}

std::uint64_t drops(const StreamCounts& c, DropReason r) {
  return c.dropped[static_cast<int>(r)];
}

}  // namespace

TEST_CASE("a request's events are queued, dropped or refused as duplicates, and counted") {
  TempStore t("stream-queue");
  auto q = StreamQueue::open(*t.store, "product").value();
  std::vector<Intake> first = {queued("ann@quarry.org", "a1", "Signed Up"),
                               queued("bob@quarry.org", "", "Signed Up"),
                               dropped(DropReason::kAnonymous, "a2"),
                               queued("ann@quarry.org", "a1", "Signed Up")};  // same insert_id
  REQUIRE(q->accept(first, kNow).value() == 2);
  StreamCounts c = q->counts();
  CHECK(c.accepted == 4);
  CHECK(c.queued == 2);
  CHECK(drops(c, DropReason::kAnonymous) == 1);
  CHECK(drops(c, DropReason::kDuplicate) == 1);

  // A retry of the same request: the events with an insert_id are duplicates (the anonymous one
  // included); the one without an insert_id cannot be told apart and is taken again.
  REQUIRE(q->accept(first, kNow + kMicrosPerSecond).value() == 1);
  c = q->counts();
  CHECK(c.accepted == 8);
  CHECK(c.queued == 3);
  CHECK(drops(c, DropReason::kDuplicate) == 4);

  std::vector<QueuedEvent> all = q->read(0, 100).value();
  REQUIRE(all.size() == 3);
  CHECK(all[0].email == "ann@quarry.org");
  CHECK(all[0].event.event_type == "Signed Up");
  CHECK(all[0].event.event_properties == R"({"plan":"pro"})");
  CHECK(all[0].event.time_ms == 1790000000123);
  CHECK(all[0].accepted_at == kNow);
  CHECK(all[0].seq < all[1].seq);
  CHECK(q->read(all[0].seq, 100).value().size() == 2);
  CHECK(q->read(0, 1).value().size() == 1);
}

TEST_CASE("events in flight are found again after a restart; settled ones leave the queue") {
  TempStore t("stream-flight");
  std::uint64_t s1 = 0, s2 = 0;
  {
    auto q = StreamQueue::open(*t.store, "product").value();
    REQUIRE(q->accept({queued("ann@quarry.org", "a1", "Signed Up"),
                       queued("bob@quarry.org", "b1", "Order Completed")},
                      kNow)
                .value() == 2);
    std::vector<QueuedEvent> all = q->read(0, 10).value();
    s1 = all[0].seq;
    s2 = all[1].seq;
    REQUIRE(q->mark_in_flight({s1, s2}));
    Settled done;
    done.seq = s1;
    done.email = "ann@quarry.org";
    done.record.name = "signed_up";
    done.record.occurred_at = 1790000000 * kMicrosPerSecond;
    done.record.properties = {{"plan", "pro"}};
    done.record.forwarded_at = kNow;
    REQUIRE(q->settle({done}));
    CHECK(q->counts().forwarded == 1);
    CHECK(q->counts().queued == 1);
  }
  // The process was stopped (killed) with bob's event marked: the next open says so.
  auto q = StreamQueue::open(*t.store, "product").value();
  CHECK(q->in_flight_at_open() == std::set<std::uint64_t>{s2});
  CHECK(q->counts().queued == 1);
  CHECK(q->counts().forwarded == 1);
  CHECK(q->counts().accepted == 2);
  std::vector<QueuedEvent> left = q->read(0, 10).value();
  REQUIRE(left.size() == 1);
  CHECK(left[0].seq == s2);
  // New events keep counting up from the last one queued.
  REQUIRE(q->accept({queued("cat@quarry.org", "c1", "Signed Up")}, kNow).value() == 1);
  CHECK(q->read(s2, 10).value().at(0).seq > s2);

  Settled gone;
  gone.seq = s2;
  gone.email = "bob@quarry.org";
  gone.dropped = DropReason::kNotMember;
  REQUIRE(q->settle({gone}));
  CHECK(drops(q->counts(), DropReason::kNotMember) == 1);
  CHECK(q->counts().forwarded == 1);
  // Only forwarded events join the member's history.
  std::vector<ForwardedRecord> ann = q->history("ann@quarry.org").value();
  REQUIRE(ann.size() == 1);
  CHECK(ann[0].name == "signed_up");
  CHECK(ann[0].properties == std::vector<std::pair<std::string, std::string>>{{"plan", "pro"}});
  CHECK(q->history("bob@quarry.org").value().empty());
  CHECK(forwarded_history(*t.store, "product", "ann@quarry.org").value().size() == 1);
}

TEST_CASE("insert_ids are remembered for 7 days, then forgotten") {
  TempStore t("stream-dedup");
  auto q = StreamQueue::open(*t.store, "product").value();
  REQUIRE(q->accept({queued("ann@quarry.org", "old", "A1")}, kNow - 8 * kDay).value() == 1);
  REQUIRE(q->accept({queued("ann@quarry.org", "new", "A1")}, kNow - 2 * kDay).value() == 1);
  CHECK(q->purge_dedup(kNow - 7 * kDay).value() == 1);
  // "old" is taken again, "new" is still a duplicate.
  CHECK(q->accept({queued("ann@quarry.org", "old", "A1")}, kNow).value() == 1);
  CHECK(q->accept({queued("ann@quarry.org", "new", "A1")}, kNow).value() == 0);
}

TEST_CASE("unknown properties and the last error are kept across a restart") {
  TempStore t("stream-notes");
  {
    auto q = StreamQueue::open(*t.store, "product").value();
    CHECK(q->first_unknown_property("favourite_colour"));
    CHECK_FALSE(q->first_unknown_property("favourite_colour"));
    q->set_last_error("sending member events: unavailable", kNow);
  }
  auto q = StreamQueue::open(*t.store, "product").value();
  CHECK_FALSE(q->first_unknown_property("favourite_colour"));
  CHECK(q->unknown_properties() == std::vector<std::string>{"favourite_colour"});
  CHECK(q->last_error().first == "sending member events: unavailable");
  CHECK(q->last_error().second == kNow);
}

TEST_CASE("a write that fails takes nothing and counts nothing") {
  DiskFaults faults;
  TempStore t("stream-full", &faults);
  auto q = StreamQueue::open(*t.store, "product").value();
  faults.full = true;
  CHECK_FALSE(q->accept({queued("ann@quarry.org", "a1", "A1")}, kNow).is_ok());
  CHECK(q->counts().accepted == 0);
  CHECK(q->counts().queued == 0);
  faults.full = false;
  REQUIRE(t.store->check_writable());
  // The insert_id was not remembered: the retry is taken.
  CHECK(q->accept({queued("ann@quarry.org", "a1", "A1")}, kNow).value() == 1);
}
