// The webhook inbox alone: deliveries stored, taken oldest first, removed, numbered, and kept
// across a restart.
#include <catch2/catch.hpp>

#include "serve/inbox.h"
#include "temp_store.h"

using namespace concord;
using namespace concord::serve;
using concord::testing::TempStore;

namespace {

WebhookEvent event(WebhookType type, const std::string& email, Micros received_at) {
  WebhookEvent e;
  e.type = type;
  e.list_id = "L";
  e.email = email;
  e.received_at = received_at;
  return e;
}

std::vector<std::uint64_t> numbers_of(const std::vector<Inbox::Delivery>& ds) {
  std::vector<std::uint64_t> out;
  for (const Inbox::Delivery& d : ds)
    out.push_back(d.number);
  return out;
}

std::unique_ptr<Inbox> open_inbox(TempStore& t) {
  return std::move(Inbox::open(*t.store, {t.pair}).value());
}

}  // namespace

TEST_CASE("inbox: deliveries are numbered as they are stored and taken oldest first") {
  TempStore t("inbox");
  std::unique_ptr<Inbox> inbox = open_inbox(t);
  CHECK(inbox->count(*t.pair).value() == 0);
  CHECK(inbox->add(*t.pair, event(WebhookType::kSubscribe, "a@b.org", 10)).value() == 1);
  CHECK(inbox->add(*t.pair, event(WebhookType::kUnsubscribe, "c@d.org", 20)).value() == 2);
  CHECK(inbox->add(*t.pair, event(WebhookType::kCleaned, "e@f.org", 30)).value() == 3);
  CHECK(inbox->count(*t.pair).value() == 3);

  std::vector<Inbox::Delivery> two = inbox->take(*t.pair, 2).value();
  REQUIRE(two.size() == 2);
  CHECK(numbers_of(two) == std::vector<std::uint64_t>{1, 2});
  REQUIRE(two[0].event.has_value());
  CHECK(two[0].event->type == WebhookType::kSubscribe);
  CHECK(two[0].event->email == "a@b.org");
  CHECK(two[1].event->type == WebhookType::kUnsubscribe);
  CHECK(two[1].event->received_at == 20);
  // Taking leaves them stored.
  CHECK(inbox->count(*t.pair).value() == 3);
}

TEST_CASE("inbox: remove deletes only the deliveries named") {
  TempStore t("inbox");
  std::unique_ptr<Inbox> inbox = open_inbox(t);
  for (int i = 0; i < 4; ++i)
    REQUIRE(inbox->add(*t.pair, event(WebhookType::kProfile, "p@b.org", i)).is_ok());
  REQUIRE(inbox->remove(*t.pair, {1, 3, 99}).is_ok());
  CHECK(numbers_of(inbox->take(*t.pair, 10).value()) == std::vector<std::uint64_t>{2, 4});
  REQUIRE(inbox->remove(*t.pair, {}).is_ok());
  CHECK(inbox->count(*t.pair).value() == 2);
}

TEST_CASE("inbox: an unreadable delivery is taken with no event, and can be removed") {
  TempStore t("inbox");
  std::unique_ptr<Inbox> inbox = open_inbox(t);
  REQUIRE(inbox->add(*t.pair, event(WebhookType::kSubscribe, "old@b.org", 100)).is_ok());
  // A delivery whose stored form cannot be read (written by hand: the inbox never writes one).
  REQUIRE(
      t.store->put(*t.pair, Family::kMeta, "webhook.event/00000000000000000002", "{nope").is_ok());
  std::vector<Inbox::Delivery> all = inbox->take(*t.pair, 10).value();
  REQUIRE(all.size() == 2);
  CHECK(all[1].number == 2);
  CHECK_FALSE(all[1].event.has_value());
  REQUIRE(inbox->remove(*t.pair, {2}).is_ok());
  CHECK(inbox->count(*t.pair).value() == 1);
}

TEST_CASE("inbox: deliveries and their numbering survive reopening the store") {
  TempStore t("inbox");
  {
    std::unique_ptr<Inbox> inbox = open_inbox(t);
    for (int i = 0; i < 3; ++i)
      REQUIRE(inbox->add(*t.pair, event(WebhookType::kSubscribe, "a@b.org", i)).is_ok());
    REQUIRE(inbox->remove(*t.pair, {1}).is_ok());
  }
  t.store.reset();
  t.store = std::move(Store::open(t.dir).value());
  t.pair = t.store->pair("newsletter").value();
  std::unique_ptr<Inbox> inbox = open_inbox(t);
  CHECK(numbers_of(inbox->take(*t.pair, 10).value()) == std::vector<std::uint64_t>{2, 3});
  // New deliveries are numbered after the highest kept, so they sort after the old ones.
  CHECK(inbox->add(*t.pair, event(WebhookType::kCleaned, "z@b.org", 9)).value() == 4);
  std::vector<Inbox::Delivery> all = inbox->take(*t.pair, 10).value();
  REQUIRE(all.size() == 3);
  CHECK(all.back().event->email == "z@b.org");
}

TEST_CASE("inbox: each pair keeps its own deliveries, numbered in one sequence") {
  TempStore t("inbox");
  const PairHandle* other = t.store->pair("volunteers").value();
  {
    std::unique_ptr<Inbox> inbox = Inbox::open(*t.store, {t.pair, other}).value();
    CHECK(inbox->add(*t.pair, event(WebhookType::kSubscribe, "a@b.org", 1)).value() == 1);
    CHECK(inbox->add(*other, event(WebhookType::kSubscribe, "v@b.org", 2)).value() == 2);
    CHECK(inbox->add(*t.pair, event(WebhookType::kSubscribe, "c@b.org", 3)).value() == 3);
    CHECK(numbers_of(inbox->take(*t.pair, 10).value()) == std::vector<std::uint64_t>{1, 3});
    std::vector<Inbox::Delivery> theirs = inbox->take(*other, 10).value();
    REQUIRE(theirs.size() == 1);
    CHECK(theirs[0].event->email == "v@b.org");
    REQUIRE(inbox->remove(*other, {2}).is_ok());
    CHECK(inbox->count(*t.pair).value() == 2);
  }
  // Reopened over both pairs, numbering continues after the highest of either.
  std::unique_ptr<Inbox> inbox = Inbox::open(*t.store, {other, t.pair}).value();
  CHECK(inbox->add(*other, event(WebhookType::kSubscribe, "w@b.org", 4)).value() == 4);
}
