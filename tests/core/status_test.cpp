// Status: codes, context and origin.
#include "concord/status.h"

#include <catch2/catch.hpp>

#include <utility>

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

TEST_CASE("every origin has its name") {
  const std::pair<Origin, const char*> rows[] = {
      {Origin::kMailchimp, "mailchimp"},
      {Origin::kCivicrm, "civicrm"},
      {Origin::kStore, "store"},
      {Origin::kConfig, "config"},
      {Origin::kAuth0, "auth0"},
      {Origin::kMixpanel, "mixpanel"},
      {Origin::kAmplitude, "amplitude"},
      {Origin::kMautic, "mautic"},
      {Origin::kNone, ""},
  };
  for (const auto& [origin, name] : rows)
    CHECK(origin_name(origin) == name);
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
