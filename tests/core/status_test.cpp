// Status: codes, context and origin.
#include "concord/status.h"

#include <catch2/catch.hpp>

namespace concord {
namespace {

TEST_CASE("an error says where it came from, through any context added later") {
  Status s = Status::unavailable("503 Service Unavailable").with_origin(Origin::kCivicrm);
  s = s.with_context("fetching the group").with_context("sync \"newsletter\"");
  CHECK(s.origin() == Origin::kCivicrm);
  CHECK(s.retryable());
  CHECK(s.message() == "sync \"newsletter\": fetching the group: 503 Service Unavailable");
  CHECK(origin_name(s.origin()) == "civicrm");
}

TEST_CASE("the innermost origin is kept; OK stays OK") {
  const Status store_error = Status::io_error("disk full").with_origin(Origin::kStore);
  CHECK(store_error.with_origin(Origin::kMailchimp).origin() == Origin::kStore);
  CHECK(Status::ok().with_origin(Origin::kMailchimp).is_ok());
  CHECK(Status::ok().with_origin(Origin::kMailchimp).origin() == Origin::kNone);
  CHECK(Status::invalid("x").origin() == Origin::kNone);
}

}  // namespace
}  // namespace concord
